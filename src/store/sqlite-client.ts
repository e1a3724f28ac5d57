import type { Knex } from 'knex';

// knex's own better-sqlite3 client (no type declarations are published for dialect modules).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const BetterSqlite3Client = require('knex/lib/dialects/better-sqlite3') as new (config: Knex.Config) => Knex.Client;

interface Statement {
  reader: boolean;
  all(bindings: unknown[]): unknown[];
  run(bindings: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}

interface Connection {
  prepare(sql: string): Statement;
}

interface QueryObject {
  sql: string;
  bindings?: unknown[];
  options?: unknown;
  response?: unknown;
  context?: unknown;
}

/** Prepared statements kept per connection; the write path and searches repeat a few hundred shapes. */
const CACHE_SIZE = 500;

/** Per connection, not per client: knex runs transactions on copies of the client object. */
const statementsOf = new WeakMap<Connection, Map<string, Statement>>();

/**
 * knex's better-sqlite3 client, with each connection's prepared statements reused: knex prepares
 * every query anew, and preparing (parsing and planning the SQL) costs about as much as running one
 * of the write path's small INSERTs. SQLite re-prepares a cached statement by itself if the schema
 * changes under it.
 */
export class CachingBetterSqlite3Client extends BetterSqlite3Client {

  async _query(connection: Connection, obj: QueryObject): Promise<QueryObject> {
    if (!obj.sql) {
      throw new Error('The query is empty');
    }
    const statement = this.prepared(connection, obj.sql);
    const bindings = (this as unknown as { _formatBindings(b: unknown[] | undefined): unknown[] })._formatBindings(obj.bindings);
    if (statement.reader) {
      obj.response = statement.all(bindings);
      return obj;
    }
    const response = statement.run(bindings);
    obj.response = response;
    obj.context = { lastID: response.lastInsertRowid, changes: response.changes };
    return obj;
  }

  private prepared(connection: Connection, sql: string): Statement {
    let cache = statementsOf.get(connection);
    if (!cache) {
      cache = new Map();
      statementsOf.set(connection, cache);
    }
    let statement = cache.get(sql);
    if (statement) {
      // Re-inserted: the Map's order is then least recently used first.
      cache.delete(sql);
    } else {
      statement = connection.prepare(sql);
      if (cache.size >= CACHE_SIZE) {
        cache.delete(cache.keys().next().value!);
      }
    }
    cache.set(sql, statement);
    return statement;
  }
}
