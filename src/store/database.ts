import fs from 'node:fs';
import path from 'node:path';
import knex, { Knex } from 'knex';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  knex: Knex;
  dialect: Dialect;
}

export interface OpenOptions {
  /** PostgreSQL schema to use (tests use a throw-away schema per run). */
  pgSchema?: string;
}

/**
 * Opens the database named by a `DATABASE_URL`: `sqlite:PATH`, `sqlite::memory:` or `postgres://…`.
 * Both dialects run the very same knex code above this module.
 */
export function openDatabase(url: string, options: OpenOptions = {}): Database {
  if (url.startsWith('sqlite:')) {
    return { knex: knex(sqliteConfig(url.slice('sqlite:'.length))), dialect: 'sqlite' };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return { knex: knex(postgresConfig(url, options.pgSchema)), dialect: 'postgres' };
  }
  throw new Error(`DATABASE_URL must start with sqlite: or postgres:// (got '${url.split(':')[0]}:')`);
}

function sqliteConfig(file: string): Knex.Config {
  if (file === '') {
    throw new Error('DATABASE_URL sqlite: needs a path, e.g. sqlite:data/fhir.sqlite or sqlite::memory:');
  }
  if (file !== ':memory:') {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }
  return {
    client: 'sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    // One connection: SQLite has one writer anyway, and a single connection keeps `:memory:`
    // databases whole and makes transactions strictly serial inside this process.
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
        // WAL lets readers in other processes proceed during writes; FULL sync keeps every
        // acknowledged commit across power loss; busy_timeout waits for other processes' locks.
        conn.exec(
          'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;',
          (err) => done(err, conn),
        );
      },
    },
  };
}

interface SqliteConnection {
  exec(sql: string, cb: (err: Error | null) => void): void;
}

function postgresConfig(url: string, schema?: string): Knex.Config {
  return {
    client: 'pg',
    connection: url,
    searchPath: schema ? [schema] : undefined,
    pool: { min: 0, max: 10 },
  };
}
