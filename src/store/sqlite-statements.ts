/**
 * Running SQL on a better-sqlite3 connection with its prepared statements reused, and handing the
 * result to knex: shared by the main-thread client (./sqlite-client.ts) and the reader threads
 * (./sqlite-reader-thread.ts, ./sqlite-reader-client.ts). No knex here: the threads load only this.
 */

interface Statement {
  reader: boolean;
  all(bindings: unknown[]): unknown[];
  run(bindings: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}

export interface SqliteConnection {
  prepare(sql: string): Statement;
}

/** What one statement gave: its rows (a query) or what it changed. */
export type StatementResult = { rows: unknown[] } | { changes: number; lastInsertRowid: number | bigint };

/** Prepared statements kept per connection; the write path and searches repeat a few hundred shapes. */
const CACHE_SIZE = 500;

/**
 * A connection's prepared statements, least recently used evicted first. knex prepares every query
 * anew, and preparing (parsing and planning the SQL) costs about as much as running one of the write
 * path's small INSERTs. SQLite re-prepares a cached statement by itself if the schema changes.
 */
export class StatementCache {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly connection: SqliteConnection) {}

  execute(sql: string, bindings: unknown[]): StatementResult {
    const statement = this.prepared(sql);
    if (statement.reader) {
      return { rows: statement.all(bindings) };
    }
    const { changes, lastInsertRowid } = statement.run(bindings);
    return { changes, lastInsertRowid };
  }

  private prepared(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement) {
      // Re-inserted below: the Map's order is then least recently used first.
      this.statements.delete(sql);
    } else {
      statement = this.connection.prepare(sql);
      if (this.statements.size >= CACHE_SIZE) {
        this.statements.delete(this.statements.keys().next().value!);
      }
    }
    this.statements.set(sql, statement);
    return statement;
  }
}

/** A knex query object, as a client's `_query` receives and returns it. */
export interface QueryObject {
  sql: string;
  bindings?: unknown[];
  response?: unknown;
  context?: unknown;
}

/** Puts a statement's result where knex's SQLite dialect reads it (as its better-sqlite3 client does). */
export function toKnexResponse(obj: QueryObject, result: StatementResult): QueryObject {
  if ('rows' in result) {
    obj.response = result.rows;
  } else {
    obj.response = result;
    obj.context = { lastID: result.lastInsertRowid, changes: result.changes };
  }
  return obj;
}
