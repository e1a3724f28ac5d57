import type { Knex } from 'knex';

/**
 * A knex client whose connections hold a transaction's plain INSERTs (./insert-buffer.ts) and take
 * rows for them directly: ./sqlite-client.ts, ./pg-client.ts. A method, not a field: knex runs a
 * transaction on an object made from the client's prototype alone.
 */
interface RowHoldingClient {
  /** Holds the rows (bindings in `columns` order) on the connection; false if they must run now. */
  holdRows(connection: object, table: string, columns: readonly string[], bindings: unknown[]): boolean;
  acquireConnection(): Promise<object>;
}

/** A transaction's connection, by its knex client (one per transaction: its acquire returns it). */
const connections = new WeakMap<object, object>();
const IDENTIFIER = /^\w+$/;

/**
 * Inserts plain rows in a transaction: the write path's INSERTs (resource, history, index rows,
 * AuditEvent). Where the client holds a transaction's INSERTs anyway, the rows go straight to the
 * connection's held rows, in the shape knex's compiler would give them (columns sorted), so they
 * join the same multi-row INSERT; no knex query is built, compiled and run through its runner for
 * each of a create's ~11 INSERTs. Rows that differ in columns or carry anything but plain values,
 * writes outside a transaction and writes to a finished one take knex's INSERT.
 */
export async function insertRows(tx: Knex | Knex.Transaction, table: string, rows: readonly object[]): Promise<void> {
  if (rows.length === 0) {
    return;
  }
  const client = tx.client as unknown as Partial<RowHoldingClient>;
  // A finished transaction goes to knex, which refuses it: its connection may be in the next
  // batch's (or, from the pool, another request's) transaction by now.
  const open = tx.isTransaction === true && !(tx as Knex.Transaction).isCompleted();
  const columns = open && typeof client.holdRows === 'function' ? plainColumns(table, rows) : undefined;
  if (columns) {
    let connection = connections.get(client);
    if (!connection) {
      connection = await client.acquireConnection!();
      connections.set(client, connection);
    }
    const bindings: unknown[] = [];
    for (const row of rows) {
      for (const column of columns) {
        bindings.push((row as Record<string, unknown>)[column]);
      }
    }
    if (client.holdRows!(connection, table, columns, bindings)) {
      return;
    }
  }
  await tx(table).insert(rows);
}

/** The rows' columns, sorted as knex sorts them, if every row has exactly these with plain values. */
function plainColumns(table: string, rows: readonly object[]): string[] | undefined {
  const columns = Object.keys(rows[0]).sort();
  if (!IDENTIFIER.test(table) || !columns.every((c) => IDENTIFIER.test(c))) {
    return undefined;
  }
  for (const row of rows) {
    if (Object.keys(row).length !== columns.length) {
      return undefined;
    }
    for (const column of columns) {
      const value = (row as Record<string, unknown>)[column];
      if (!(value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) {
        return undefined;
      }
    }
  }
  return columns;
}
