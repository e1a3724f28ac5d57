import type { Knex } from 'knex';
import { keepUntilRejected } from '../common/kept-promises';
import { namesLost, preparedStatementsOf, type PreparedStatements } from './pg-prepared';
import { HeldInserts, insertShape, splitInsert, valuesList, type HeldGroup, type InsertShape, type Statement } from './insert-buffer';

/** knex's own PostgreSQL client (no type declarations are published for dialect modules). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const KnexPgClient = require('knex/lib/dialects/postgres') as new (config: Knex.Config) => object;

/** PostgreSQL allows 65,535 parameters per statement; stay well below it. */
const MAX_PARAMETERS = 30_000;

interface PgQuery {
  sql: string;
  bindings?: unknown[];
  /** Merged into pg's query config by knex: here the statement's name (./pg-prepared.ts). */
  options?: { name?: string };
  response?: unknown;
}

type RunQuery = (connection: object, obj: PgQuery) => Promise<PgQuery>;

/** Per connection, not per client: knex runs transactions on copies of the client object. */
const heldOf = new WeakMap<object, HeldInserts>();

/**
 * knex's PostgreSQL client with a transaction's plain INSERTs held and written together
 * (./insert-buffer.ts): all held tables in one statement, as data-modifying CTEs
 * (`WITH a AS (INSERT …), b AS (INSERT …) INSERT …`), which PostgreSQL runs to completion whether
 * or not anything reads them.
 *
 * On connections in pg's pipeline mode (./database.ts) statements that need no answer before the
 * next one goes are sent with it, in one write: knex's BEGIN waits for the transaction's first
 * statement, the held INSERTs go with the statement that flushes them (usually the COMMIT), and
 * inside a transaction statements issued in the same event-loop turn share a write (the
 * subscription stamp and the reference check). A create is then 2 round trips (BEGIN with the stamp
 * and the reference check; the INSERTs with the COMMIT) instead of 15: each round trip costs both
 * processes socket writes and wake-ups, ~0.1 ms of the event loop per write on a slow machine.
 * Statements in transactions are named, so PostgreSQL parses and plans each shape once per
 * connection (./pg-prepared.ts).
 */
export class BufferingPgClient extends KnexPgClient {
  async _query(connection: object, obj: PgQuery): Promise<PgQuery> {
    const run = (KnexPgClient.prototype as unknown as { _query: RunQuery })._query.bind(this);
    const pg = connection as PgConnection;
    const begins = BEGIN.test(obj.sql);
    const savepoint = !begins && SAVEPOINT.test(obj.sql);
    if (begins || savepoint) {
      // `this` is the transaction's own copy of the client (knex makes one per transaction).
      connectionOf.set(this, connection);
    }
    if (begins) {
      sharedConnections.delete(connection);
      return begin(pg, run, obj);
    }
    if (savepoint && sharedConnections.has(connection)) {
      // Rolling back to it would undo the other units' statements too (./shared-transactions.ts).
      throw new Error('A savepoint in a shared transaction: the unit runs again alone');
    }
    const begun = sendDeferredBegin(pg);
    if (END.test(obj.sql)) {
      // From here on the connection is not in the transaction as far as new statements go: an
      // INSERT issued after a failed COMMIT must run where it is issued, not be held.
      openTransactions.delete(connection);
      sharedConnections.delete(connection);
    }
    const held = heldOn(connection);
    const inTx = inTransaction(connection);
    const rows = held.hold(obj.sql, obj.bindings ?? [], inTx);
    if (rows !== undefined) {
      obj.response = { command: 'INSERT', rowCount: rows, rows: [] };
      return obj;
    }
    const prepared = preparedStatementsOf(connection);
    if (inTx) {
      nameStatement(prepared, obj);
    }
    const inserts = combinedInserts(held.take(obj.sql));
    inserts.forEach((insert) => nameStatement(prepared, insert));
    try {
      if (begun === undefined && inserts.length === 0) {
        if (inTx) {
          // A statement alone outside a transaction (a read, a search) has nothing to wait for.
          corkForThisTurn(pg);
        }
        return await run(connection, obj);
      }
      return await sendWith(pg, run, obj, begun, inserts, held);
    } catch (err) {
      if (namesLost(err)) {
        // Another server changed a table under this connection's named statements, or pg closed
        // one after a failed bind: name anew.
        prepared.forgetAll();
      }
      throw err;
    }
  }

  /** ./row-insert.ts: rows for the connection's held INSERTs, without a knex query. */
  holdRows(connection: object, table: string, columns: readonly string[], bindings: unknown[]): boolean {
    return heldOn(connection).holdRows(insertShape('"', table, columns), bindings, inTransaction(connection)) !== undefined;
  }
}

/**
 * Sends `obj` with the statements that must go first (the held INSERTs; a deferred BEGIN already
 * queued), in one write, and answers as if they had run one after another: the first failure is
 * the error.
 */
async function sendWith(
  pg: PgConnection,
  run: RunQuery,
  obj: PgQuery,
  begun: Promise<unknown> | undefined,
  inserts: PgQuery[],
  held: HeldInserts,
): Promise<PgQuery> {
  const results = await Promise.allSettled([begun ?? Promise.resolve(), ...sendTogether(pg, run, [...inserts, obj])]);
  if (results[0].status === 'rejected') {
    throw results[0].reason;
  }
  const failedInsert = results.slice(1, 1 + inserts.length).find((r) => r.status === 'rejected');
  if (failedInsert) {
    // The statements after it ran in the aborted transaction (a COMMIT there rolls back): undo
    // the unit as if its INSERT had failed in place.
    try {
      for (const undo of held.undoBefore(obj.sql)) {
        await run(pg, { sql: undo, bindings: [] });
      }
    } catch {
      // The connection is broken or the transaction gone: the INSERT's error says why.
    }
    throw (failedInsert as PromiseRejectedResult).reason;
  }
  const last = results[results.length - 1]!;
  if (last.status === 'rejected') {
    throw last.reason;
  }
  return last.value as PgQuery;
}

/** knex's BEGIN: a plain `BEGIN;` may wait for the first statement, `BEGIN TRANSACTION …` is sent at once. */
const BEGIN = /^BEGIN\b/;
const SAVEPOINT = /^SAVEPOINT /i;
/** knex's COMMIT and ROLLBACK of the outermost transaction (not ROLLBACK TO SAVEPOINT). */
const END = /^(COMMIT;?|ROLLBACK)$/;

interface DeferredBegin {
  /** The evicted names' DEALLOCATEs (the connection is idle before BEGIN), then the BEGIN. */
  statements: PgQuery[];
  run: RunQuery;
}

/** Connections whose BEGIN waits for the transaction's first statement. */
const deferredBegins = new WeakMap<object, DeferredBegin>();
/**
 * Connections with a transaction open as far as statements issued go (BEGIN issued, no COMMIT or
 * ROLLBACK since), with the answer to that BEGIN.
 */
const openTransactions = new WeakMap<object, Promise<unknown>>();
/** A transaction's copy of the client → its connection. */
const connectionOf = new WeakMap<object, object>();
/** Connections whose open transaction units share (./shared-transactions.ts): no savepoints there. */
const sharedConnections = new WeakSet<object>();

/** `tx` is shared by several units until it ends: a savepoint in it is refused. */
export function markShared(tx: Knex.Transaction): void {
  const connection = connectionOf.get(tx.client);
  if (connection !== undefined) {
    sharedConnections.add(connection);
  }
}

/** Whether `tx` (or a savepoint in it) runs in a transaction units share. */
export function inSharedTransaction(tx: Knex.Transaction): boolean {
  const connection = connectionOf.get(tx.client);
  return connection !== undefined && sharedConnections.has(connection);
}

/**
 * knex's BEGIN, with the DEALLOCATEs of the names the connection's LRU evicted. On pipeline
 * connections both wait for the transaction's first statement and knex is answered at once.
 */
function begin(pg: PgConnection, run: RunQuery, obj: PgQuery): Promise<PgQuery> {
  const statements = [...preparedStatementsOf(pg).takeDeallocations().map((sql) => ({ sql })), obj];
  if (pg.pipeline === true && obj.sql === 'BEGIN;') {
    deferredBegins.set(pg, { statements, run });
    obj.response = { command: 'BEGIN', rowCount: null, rows: [] };
    return Promise.resolve(obj);
  }
  return sendBegin(pg, { statements, run }) as Promise<PgQuery>;
}

/** Queues a deferred BEGIN now (corked: it leaves with what is issued next in this turn). */
function sendDeferredBegin(pg: PgConnection): Promise<unknown> | undefined {
  const deferred = deferredBegins.get(pg);
  if (deferred === undefined) {
    return undefined;
  }
  deferredBegins.delete(pg);
  return sendBegin(pg, deferred);
}

function sendBegin(pg: PgConnection, { statements, run }: DeferredBegin): Promise<unknown> {
  const sent = sendTogether(pg, run, statements);
  // A DEALLOCATE's failure (none is expected) is of no concern to the transaction.
  sent.slice(0, -1).forEach((deallocation) => void deallocation.catch(() => undefined));
  return keepUntilRejected(openTransactions, pg as object, sent[sent.length - 1]!);
}

/**
 * Resolves once PostgreSQL has begun `tx`'s transaction (its deferred BEGIN is sent now if no
 * statement has taken it yet); undefined when there is nothing to wait for (another database).
 * A write stamps `last_updated` after this, so no transaction open on the server started later
 * than a `last_updated` it will commit: the export's transactionTime relies on it (export-sql.ts).
 */
export function transactionBegun(tx: Knex.Transaction): Promise<unknown> | undefined {
  const connection = connectionOf.get(tx.client);
  if (connection === undefined) {
    return undefined;
  }
  return sendDeferredBegin(connection as PgConnection) ?? openTransactions.get(connection);
}

interface PgConnection {
  pipeline?: boolean;
  readyForQuery?: boolean;
  getTransactionStatus?(): string;
  connection?: { stream?: { cork(): void; uncork(): void } };
}

function nameStatement(prepared: PreparedStatements, statement: PgQuery): void {
  const name = prepared.nameFor(statement.sql, statement.bindings?.length ?? 0);
  if (name !== undefined) {
    statement.options = { ...statement.options, name };
  }
}

/**
 * Submits the statements in order. In pipeline mode pg writes each as soon as it is queued; in a
 * transaction the socket stays corked until the end of this event-loop turn, so that they, and any
 * other statement issued on the connection in the same turn (a hook's prefetched read beside the
 * write's first statement), leave in one write: on this machine every socket write costs ~0.1 ms of
 * the event loop. Without pipeline mode pg sends each after the previous one's answer, which is
 * still correct.
 */
function sendTogether(pg: PgConnection, run: RunQuery, statements: PgQuery[]): Promise<PgQuery>[] {
  corkForThisTurn(pg);
  return statements.map((statement) => run(pg, statement));
}

const corked = new WeakSet<object>();

function corkForThisTurn(pg: PgConnection): void {
  const stream = pg.connection?.stream;
  if (pg.pipeline !== true || !stream || corked.has(stream)) {
    return;
  }
  corked.add(stream);
  stream.cork();
  setImmediate(() => {
    corked.delete(stream);
    stream.uncork();
  });
}

function heldOn(connection: object): HeldInserts {
  let held = heldOf.get(connection);
  if (!held) {
    held = new HeldInserts(parsePgInsert);
    heldOf.set(connection, held);
  }
  return held;
}

/**
 * In a transaction that has not failed: a BEGIN issued (or deferred) and no COMMIT or ROLLBACK
 * issued since, and, once pg has read the server's status after the last statement, 'T' ('E' is an
 * aborted transaction, where an INSERT must fail now). While statements are in flight (pipeline
 * mode) the status read is an old one, and the statements issued decide.
 */
function inTransaction(connection: object): boolean {
  if (deferredBegins.has(connection)) {
    return true;
  }
  if (!openTransactions.has(connection)) {
    return false;
  }
  const pg = connection as PgConnection;
  return pg.readyForQuery !== true || pg.getTransactionStatus?.() === 'T';
}

/** knex's PostgreSQL INSERT of plain rows: `insert into "t" ("a", "b") values ($1, $2), ($3, $4)`. */
function parsePgInsert(sql: string, bindingCount: number): InsertShape | null {
  const parts = splitInsert(sql, '"', bindingCount);
  return parts && parts.rest === `values ${valuesList(parts.shape.columns, parts.rows, (n) => `$${n}`)}` ? parts.shape : null;
}

/** The held rows as few statements as the parameter limit allows: one INSERT per table, chained as CTEs. */
function combinedInserts(groups: HeldGroup[]): Statement[] {
  const statements: Statement[] = [];
  let inserts: string[] = [];
  let bindings: unknown[] = [];
  const emit = (): void => {
    if (inserts.length > 0) {
      const last = inserts.pop()!;
      const ctes = inserts.map((insert, i) => `w${i} as (${insert})`);
      statements.push({ sql: ctes.length > 0 ? `with ${ctes.join(', ')} ${last}` : last, bindings });
      inserts = [];
      bindings = [];
    }
  };
  for (const { shape, bindings: rows } of groups) {
    const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / shape.columns)) * shape.columns;
    for (let i = 0; i < rows.length; i += perStatement) {
      const chunk = rows.slice(i, i + perStatement);
      if (bindings.length + chunk.length > MAX_PARAMETERS) {
        emit();
      }
      inserts.push(`${shape.prefix} values ${valuesList(shape.columns, chunk.length / shape.columns, (n) => `$${n}`, bindings.length + 1)}`);
      bindings.push(...chunk);
    }
  }
  emit();
  return statements;
}
