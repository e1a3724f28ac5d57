import fs from 'node:fs';
import path from 'node:path';
import knex, { Knex } from 'knex';
import { BufferingPgClient } from './pg-client';
import { CachingBetterSqlite3Client } from './sqlite-client';
import { ReaderThreadClient } from './sqlite-reader-client';

/** Reads outside transactions run on up to this many threads (one SQLite connection each). */
const READER_THREADS = 2;

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  knex: Knex;
  dialect: Dialect;
  /** Closes every connection of this database (the writer and, on SQLite, its readers). */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL schema to use (tests use a throw-away schema per run). */
  pgSchema?: string;
}

/** True for a knex instance on SQLite (whatever the driver). */
export function isSqlite(knex: Knex): boolean {
  return (knex.client as { dialect?: string }).dialect === 'sqlite3';
}

/** True for a knex instance (or transaction) on PostgreSQL. */
export function isPostgres(knex: Knex): boolean {
  return (knex.client as { dialect?: string }).dialect === 'postgresql';
}

/**
 * Opens the database named by a `DATABASE_URL`: `sqlite:PATH`, `sqlite::memory:` or `postgres://…`.
 * Both dialects run the very same knex code above this module.
 */
export function openDatabase(url: string, options: OpenOptions = {}): Database {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    const writer = knex(sqliteConfig(file));
    const reader = file === ':memory:' ? undefined : knex(sqliteReaderConfig(file));
    const lookup = file === ':memory:' ? undefined : knex(sqliteLookupConfig(file));
    if (reader && lookup) {
      readers.set(writer, reader);
      lookups.set(writer, lookup);
    }
    return {
      knex: writer,
      dialect: 'sqlite',
      close: async () => {
        await reader?.destroy();
        await lookup?.destroy();
        await writer.destroy();
      },
    };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pg = knex(postgresConfig(url, options.pgSchema));
    return { knex: pg, dialect: 'postgres', close: () => pg.destroy() };
  }
  throw new Error(`DATABASE_URL must start with sqlite: or postgres:// (got '${url.split(':')[0]}:')`);
}

const readers = new WeakMap<Knex, Knex>();
const lookups = new WeakMap<Knex, Knex>();

/**
 * Where reads outside a transaction go. SQLite: reader threads, each with its own connection: in WAL
 * mode readers never wait behind the one writer's open group-commit transaction (which holds the
 * writer connection between its statements), and a slow search runs beside the main thread instead
 * of stalling it. Elsewhere (PostgreSQL's pool, `:memory:`): the database itself.
 */
export function readerFor(db: Knex): Knex {
  return readers.get(db) ?? db;
}

/**
 * Where primary-key reads outside a transaction go (read, vread, reads by id list): bounded index
 * lookups of microseconds. SQLite runs them on a connection of the main thread — a round trip to a
 * reader thread costs more than the lookup (reads by id: 5.3k/s here, 3.2k/s through a thread).
 */
export function lookupReaderFor(db: Knex): Knex {
  return lookups.get(db) ?? db;
}

/**
 * SQLite runs through knex's `better-sqlite3` client (with prepared statements reused): the same
 * knex code as PostgreSQL, but each statement is a synchronous call of a few microseconds instead
 * of a round trip through libuv's thread pool (~0.2 ms with `sqlite3`), and a write is ~14
 * statements (docs/PERFORMANCE.md).
 */
const SQLITE_CLIENT = CachingBetterSqlite3Client as unknown as typeof Knex.Client;

function sqliteReaderConfig(file: string): Knex.Config {
  return {
    // Each reader is a thread with its own read-only connection (src/store/sqlite-reader-client.ts).
    client: ReaderThreadClient as unknown as typeof Knex.Client,
    connection: { filename: file },
    useNullAsDefault: true,
    pool: { min: 0, max: READER_THREADS },
  };
}

function sqliteLookupConfig(file: string): Knex.Config {
  return mainThreadConfig(file, { min: 0, max: 1 }, 'PRAGMA busy_timeout = 5000; PRAGMA query_only = 1;');
}

function sqliteConfig(file: string): Knex.Config {
  if (file === '') {
    throw new Error('DATABASE_URL sqlite: needs a path, e.g. sqlite:data/fhir.sqlite or sqlite::memory:');
  }
  if (file !== ':memory:') {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }
  // One connection: SQLite has one writer anyway, and a single connection keeps `:memory:`
  // databases whole and makes transactions strictly serial inside this process. WAL lets readers
  // proceed during writes; FULL sync keeps every acknowledged commit across power loss;
  // busy_timeout waits for other processes' locks.
  return mainThreadConfig(
    file,
    { min: 1, max: 1 },
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;',
  );
}

/** Connections on the main thread (better-sqlite3, statements cached), each set up by `pragmas`. */
function mainThreadConfig(file: string, size: { min: number; max: number }, pragmas: string): Knex.Config {
  return {
    client: SQLITE_CLIENT,
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      ...size,
      afterCreate: (conn: ExecConnection, done: (err: Error | null, conn: unknown) => void) => {
        try {
          conn.exec(pragmas);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  };
}

interface ExecConnection {
  exec(sql: string): unknown;
}

function postgresConfig(url: string, schema?: string): Knex.Config {
  return {
    // knex's pg client, with a transaction's INSERTs written together (./pg-client.ts).
    client: BufferingPgClient as unknown as typeof Knex.Client,
    // Pipeline mode lets ./pg-client.ts send a transaction's BEGIN with its first statement, its
    // held INSERTs with the statement that flushes them, and statements issued together (a unit's
    // reads, or the units of a shared transaction) in one write.
    connection: { connectionString: url, pipeline: true } as Knex.PgConnectionConfig,
    searchPath: schema ? [schema] : undefined,
    pool: { min: 0, max: 10 },
  };
}
