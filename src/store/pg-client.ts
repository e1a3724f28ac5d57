import type { Knex } from 'knex';
import { HeldInserts, insertShape, splitInsert, valuesList, type HeldGroup, type InsertShape, type Statement } from './insert-buffer';

/** knex's own PostgreSQL client (no type declarations are published for dialect modules). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const KnexPgClient = require('knex/lib/dialects/postgres') as new (config: Knex.Config) => object;

/** PostgreSQL allows 65,535 parameters per statement; stay well below it. */
const MAX_PARAMETERS = 30_000;

interface PgQuery {
  sql: string;
  bindings?: unknown[];
  response?: unknown;
}

type RunQuery = (connection: object, obj: PgQuery) => Promise<PgQuery>;

/** Per connection, not per client: knex runs transactions on copies of the client object. */
const heldOf = new WeakMap<object, HeldInserts>();

/**
 * knex's PostgreSQL client with a transaction's plain INSERTs held and written together
 * (./insert-buffer.ts): all held tables in one statement, as data-modifying CTEs
 * (`WITH a AS (INSERT …), b AS (INSERT …) INSERT …`), which PostgreSQL runs to completion whether
 * or not anything reads them. A create is then 5 round trips (BEGIN, the reference check, the
 * subscription stamp, the INSERTs, COMMIT) instead of 15.
 */
export class BufferingPgClient extends KnexPgClient {
  async _query(connection: object, obj: PgQuery): Promise<PgQuery> {
    const run = (KnexPgClient.prototype as unknown as { _query: RunQuery })._query.bind(this);
    const held = heldOn(connection);
    const rows = held.hold(obj.sql, obj.bindings ?? [], inTransaction(connection));
    if (rows !== undefined) {
      obj.response = { command: 'INSERT', rowCount: rows, rows: [] };
      return obj;
    }
    const groups = held.take(obj.sql);
    if (groups.length > 0) {
      try {
        for (const statement of combinedInserts(groups)) {
          await run(connection, statement);
        }
      } catch (err) {
        try {
          for (const undo of held.undoBefore(obj.sql)) {
            await run(connection, { sql: undo, bindings: [] });
          }
        } catch {
          // The connection is broken or the transaction gone: the INSERT's error says why.
        }
        throw err;
      }
    }
    return run(connection, obj);
  }

  /** ./row-insert.ts: rows for the connection's held INSERTs, without a knex query. */
  holdRows(connection: object, table: string, columns: readonly string[], bindings: unknown[]): boolean {
    return heldOn(connection).holdRows(insertShape('"', table, columns), bindings, inTransaction(connection)) !== undefined;
  }
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
 * 'T': in a transaction that has not failed ('E' is an aborted one, where an INSERT must fail now).
 * pg hands a query its error on the server's ErrorResponse, before the ReadyForQuery that carries
 * the new status: until then (readyForQuery false) the status is the old one, and a failed COMMIT
 * still says 'T'. An INSERT issued then is not held: it runs (and commits) where it is issued.
 */
function inTransaction(connection: object): boolean {
  const pg = connection as { getTransactionStatus?(): string; readyForQuery?: boolean };
  return pg.readyForQuery === true && pg.getTransactionStatus?.() === 'T';
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
