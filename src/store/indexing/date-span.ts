import type { Knex } from 'knex';
import { rootOf } from '../transactions';
import type { DateRow } from './rows';

/**
 * How far apart the stored date values of one search parameter can be, per resource type:
 *
 * - `span`: the longest value, `high − low` of one row (a partial date is a range, a Period can be
 *   years or open-ended);
 * - `spread`: the largest distance between the starts (`low`) of two values of one resource (0 when
 *   every resource has at most one value for the parameter).
 *
 * A date-ordered search scans `search_date` in `low` order, and these bound the scan: a value that
 * reaches into `[ql, …)` starts at or after `ql − span`, and a resource whose other value satisfies
 * an upper bound `low < qu` has its first matching value start before `qu + spread`.
 *
 * The table (`search_date_span`) only grows, and grows in the write transaction that stores the
 * longer value, so a search always reads bounds at least as large as its snapshot's data needs.
 * A missing row means 0 / 0.
 */
export interface DateSpan {
  span: number;
  spread: number;
}

export const DATE_SPAN_TABLE = 'search_date_span';

const ZERO: DateSpan = { span: 0, spread: 0 };

/** The span and spread of one resource's date rows, per parameter. */
export function dateSpansOf(rows: DateRow[]): Map<string, DateSpan> {
  const byParam = new Map<string, { span: number; minLow: number; maxLow: number }>();
  for (const row of rows) {
    const low = Date.parse(row.low);
    const high = Date.parse(row.high);
    const seen = byParam.get(row.param);
    if (!seen) {
      byParam.set(row.param, { span: high - low, minLow: low, maxLow: low });
    } else {
      seen.span = Math.max(seen.span, high - low);
      seen.minLow = Math.min(seen.minLow, low);
      seen.maxLow = Math.max(seen.maxLow, low);
    }
  }
  return new Map([...byParam].map(([param, s]) => [param, { span: s.span, spread: s.maxLow - s.minLow }]));
}

/**
 * What this process knows the table holds, per database and (type, param): a lower bound of the
 * committed values. Filled only from values read, never from our own writes: a write can roll back
 * (a failed unit, a group commit whose COMMIT fails, the subscription matcher's undone savepoint),
 * and a cached value the table does not hold would let a later, longer value skip its upsert.
 * Values only grow, so what was once committed stays a lower bound.
 */
const known = new Map<string, DateSpan>();

/**
 * The keys each transaction raised: a read inside a transaction sees committed values plus that
 * transaction's own writes, so it is remembered only if the transaction wrote nothing to that key.
 * (Keyed by the outermost transaction: SQLite's group commit runs many units, each in a savepoint,
 * in one transaction.)
 */
const raisedIn = new WeakMap<Knex.Transaction, Set<string>>();


/**
 * One key per database, shared by its writer, its transactions and (SQLite) its reader pool: the
 * connection settings. Several databases in one process (tests) never share a cache.
 */
function databaseKey(knex: Knex): string {
  const config = knex.client.config as { client?: unknown; connection?: unknown; searchPath?: unknown };
  const connection = config.connection as { filename?: string } | string | undefined;
  if (typeof connection === 'object' && connection?.filename === ':memory:') {
    return `memory:${objectId(config)}`;
  }
  return JSON.stringify([(knex.client as { dialect?: string }).dialect ?? null, connection ?? null, config.searchPath ?? null]);
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

function objectId(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(o, id);
  }
  return id;
}

const keyOf = (db: string, resourceType: string, param: string): string => `${db}\u0000${resourceType}\u0000${param}`;

const larger = (a: DateSpan, b: DateSpan): DateSpan => ({ span: Math.max(a.span, b.span), spread: Math.max(a.spread, b.spread) });

const covers = (a: DateSpan, b: DateSpan): boolean => a.span >= b.span && a.spread >= b.spread;

/** The current bounds of one parameter (one tiny query per search). */
export async function readDateSpan(knex: Knex, resourceType: string, param: string): Promise<DateSpan> {
  const row = (await knex(DATE_SPAN_TABLE)
    .first('max_span_ms', 'max_spread_ms')
    .where({ resource_type: resourceType, param })) as { max_span_ms: number | string; max_spread_ms: number | string } | undefined;
  const value = row ? { span: Number(row.max_span_ms), spread: Number(row.max_spread_ms) } : ZERO;
  if (!knex.isTransaction) {
    remember(keyOf(databaseKey(knex), resourceType, param), value);
  }
  return value;
}

function remember(key: string, value: DateSpan): void {
  known.set(key, larger(known.get(key) ?? ZERO, value));
}

/**
 * Raises the table's bounds, in the write's transaction, where this write's values exceed what the
 * table is known to hold: usually no statement at all; else one read, and an upsert of the maximum
 * only when the values really grow.
 */
export async function recordDateSpans(tx: Knex.Transaction, written: Map<string, Map<string, DateSpan>>): Promise<void> {
  const db = databaseKey(tx);
  const root = rootOf(tx);
  for (const [resourceType, params] of written) {
    const unknown = [...params].filter(([param, value]) => !covers(known.get(keyOf(db, resourceType, param)) ?? ZERO, value));
    if (unknown.length === 0) {
      continue;
    }
    const rows = (await tx(DATE_SPAN_TABLE)
      .select('param', 'max_span_ms', 'max_spread_ms')
      .where('resource_type', resourceType)
      .whereIn(
        'param',
        unknown.map(([param]) => param),
      )) as { param: string; max_span_ms: number | string; max_spread_ms: number | string }[];
    const stored = new Map(rows.map((r) => [r.param, { span: Number(r.max_span_ms), spread: Number(r.max_spread_ms) }]));
    for (const [param, value] of unknown) {
      const key = keyOf(db, resourceType, param);
      const current = stored.get(param) ?? ZERO;
      const raised = raisedIn.get(root) ?? new Set<string>();
      if (!raised.has(key)) {
        remember(key, current);
      }
      if (covers(current, value)) {
        continue;
      }
      raisedIn.set(root, raised.add(key));
      const grow = (column: string): Knex.Raw =>
        tx.raw(`case when excluded.${column} > ${DATE_SPAN_TABLE}.${column} then excluded.${column} else ${DATE_SPAN_TABLE}.${column} end`);
      await tx(DATE_SPAN_TABLE)
        .insert({ resource_type: resourceType, param, max_span_ms: value.span, max_spread_ms: value.spread })
        .onConflict(['resource_type', 'param'])
        .merge({ max_span_ms: grow('max_span_ms'), max_spread_ms: grow('max_spread_ms') });
    }
  }
}
