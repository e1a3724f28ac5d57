import type { Knex } from 'knex';
import { insertShape } from './insert-buffer';
import { SqliteInsertBuffer } from './sqlite-insert-buffer';
import { StatementCache, toKnexResponse, type QueryObject, type SqliteConnection } from './sqlite-statements';

/** A better-sqlite3 connection as this client uses it. */
type Connection = SqliteConnection & { readonly inTransaction: boolean };

/** knex's own better-sqlite3 client (no type declarations are published for dialect modules). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const KnexBetterSqlite3Client = require('knex/lib/dialects/better-sqlite3') as new (config: Knex.Config) => object;

/** The client's binding conversion (Dates to numbers, booleans to 0/1), before a statement runs. */
export function formatBindings(client: object, bindings: unknown[] | undefined): unknown[] {
  return (client as { _formatBindings(b: unknown[] | undefined): unknown[] })._formatBindings(bindings);
}

/** Per connection, not per client: knex runs transactions on copies of the client object. */
const runnerOf = new WeakMap<Connection, SqliteInsertBuffer>();

/**
 * knex's better-sqlite3 client, with each connection's prepared statements reused
 * (./sqlite-statements.ts) and a transaction's INSERTs written together (./insert-buffer.ts).
 */
export class CachingBetterSqlite3Client extends KnexBetterSqlite3Client {
  async _query(connection: Connection, obj: QueryObject): Promise<QueryObject> {
    if (!obj.sql) {
      throw new Error('The query is empty');
    }
    return toKnexResponse(obj, bufferOf(connection).run(obj.sql, formatBindings(this, obj.bindings)));
  }

  /** ./row-insert.ts: rows for the connection's held INSERTs, without a knex query. */
  holdRows(connection: Connection, table: string, columns: readonly string[], bindings: unknown[]): boolean {
    return bufferOf(connection).holdRows(insertShape('`', table, columns), formatBindings(this, bindings));
  }
}

function bufferOf(connection: Connection): SqliteInsertBuffer {
  let runner = runnerOf.get(connection);
  if (!runner) {
    runner = new SqliteInsertBuffer(new StatementCache(connection), connection);
    runnerOf.set(connection, runner);
  }
  return runner;
}
