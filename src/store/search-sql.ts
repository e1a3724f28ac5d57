import type { Knex } from 'knex';
import { badRequest } from '../common/errors';
import { keepUntilRejected } from '../common/kept-promises';
import { MAX_DATE, MIN_DATE } from '../common/date-range';
import type { Condition, Cursor, DateValue, NumberValue, Prefix, SearchPage, SearchPlan, SearchValue, SortKey } from '../search/types';
import { readDateSpan, type DateSpan } from './indexing/date-span';
import { isPostgres } from './database';
import { INDEX_TABLES } from './indexing/rows';

type QB = Knex.QueryBuilder;

/** Sorts after every indexed string under byte-order comparison: makes `value < prefix + HIGH` a prefix range. */
const HIGH = '\uffff';
/** Null sort keys compare as these, so that keyset paging has a total order. */
const NULL_TEXT = '';
const NULL_NUMBER = -1e300;

const TABLE_OF: Record<string, string> = {
  token: INDEX_TABLES.token,
  string: INDEX_TABLES.string,
  reference: INDEX_TABLES.reference,
  date: INDEX_TABLES.date,
  number: INDEX_TABLES.number,
};

/**
 * Runs a search plan: the matching live resources of one type, one page, in the plan's sort order,
 * continuing after (or before) the cursor. Every value is a bound parameter.
 */
export async function searchPage(knex: Knex, plan: SearchPlan): Promise<SearchPage> {
  const backwards = plan.cursor?.direction === 'prev';
  const order = dateOrderOf(plan);
  const sort: SortKey[] = order
    ? [{ param: order.param, kind: 'date', descending: false }, ID_KEY]
    : [...sortOf(plan).filter((k) => k.kind !== 'id'), ID_KEY];
  if (plan.cursor && plan.cursor.keys.length !== sort.length) {
    // Cursors carry one key per sort key; the number follows from the query alone.
    throw badRequest('_cursor does not belong to this search (was _sort changed between pages?)', '_cursor');
  }
  const driver = await chooseDriver(knex, plan.resourceType, plan.conditions);
  let inner: QB;
  const scansDates = order !== undefined && (driver < 0 || plan.conditions[driver] === order.lower || plan.conditions[driver] === order.upper);
  if (order && scansDates) {
    inner = dateScan(knex, plan, order, await readDateSpan(knex, plan.resourceType, order.param), backwards);
  } else {
    inner = knex
      .select('r.resource_type', 'r.id', 'r.content')
      .from({ r: 'resource' })
      .where('r.resource_type', plan.resourceType)
      .where('r.deleted', false)
      .modify((q) => applyConditions(knex, q, plan.resourceType, plan.conditions, 'r', driver));
    if (order) {
      // A selective condition drives (few candidates): each one's position in the date order.
      inner.select(firstMatchingLow(knex, plan.resourceType, order, 'r').as('s0'), { s1: 'r.id' });
    } else {
      sort.forEach((key, i) => inner.select(knex.raw(`${sortExpression(key)} as ??`, [...sortBindings(key), `s${i}`])));
    }
  }

  const outer = knex.select('*').from(inner.as('page'));
  if (plan.cursor) {
    applyKeyset(outer, sort, plan.cursor, backwards);
  }
  sort.forEach((key, i) => outer.orderBy(`s${i}`, key.descending !== backwards ? 'desc' : 'asc'));
  outer.limit(plan.count + 1);

  const rows = (scansDates ? await withPlanner(knex, 'enable_sort', outer) : await outer) as Record<string, unknown>[];
  const hasMore = rows.length > plan.count;
  const pageRows = rows.slice(0, plan.count);
  if (backwards) {
    pageRows.reverse();
  }
  return {
    rows: pageRows.map((row) => ({
      resourceType: row.resource_type as string,
      id: row.id as string,
      json: row.content as string,
      sortKeys: sort.map((_, i) => normaliseKey(row[`s${i}`])),
    })),
    hasMore,
  };
}

const ID_KEY: SortKey = { param: '_id', kind: 'id', descending: false };

/**
 * The plan's `_sort`, or, without one, `_lastUpdated` when the search filters on it (polling for
 * changes): then the (type, last_updated) index both filters and orders, instead of the database
 * walking every resource of the type in id order.
 */
function sortOf(plan: SearchPlan): SortKey[] {
  if (plan.sort.length === 0 && plan.conditions.some((c) => c.kind === 'lastUpdated' && !c.modifier)) {
    return [{ param: '_lastUpdated', kind: 'lastUpdated', descending: false }];
  }
  return plan.sort;
}

/** A search ordered by a date parameter (implicitly, without `_sort`): see dateOrderOf. */
interface DateOrder {
  param: string;
  /** The condition giving the lower bound; each resource's key is its first value matching it. */
  lower: Condition;
  lowerValue: DateValue;
  /** An AND-ed condition on the same parameter giving an upper bound, if any. */
  upper?: Condition;
  upperValue?: DateValue;
}

/** Prefixes whose matches start at or after a bound (search.html#prefix), and those that end before one. */
const LOWER_PREFIXES = new Set<Prefix>(['ge', 'gt', 'eq', 'sa']);
const UPPER_PREFIXES = new Set<Prefix>(['lt', 'le', 'eq', 'eb']);

/**
 * Without `_sort` the order of results is the server's choice (search.html#sort). A search with a
 * lower date bound (`date=ge…`, optionally `&date=lt…`) and nothing that always drives (ids,
 * references, chains: those select few rows by `IN`) is returned in date order: then the matches
 * are a contiguous stretch of the `search_date` index, which the query scans from the bound and
 * leaves at the page size, instead of walking every resource of the type in id order. Whether a
 * search is date-ordered depends on the query alone, never on the data, so its cursors stay valid.
 * `_lastUpdated` polling keeps its own order (sortOf).
 */
function dateOrderOf(plan: SearchPlan): DateOrder | undefined {
  if (sortOf(plan).length > 0 || plan.conditions.some((c) => driverRank(c) >= 90)) {
    return undefined;
  }
  const single = (c: Condition, prefixes: Set<Prefix>): DateValue | undefined => {
    const [value, ...more] = c.values;
    return c.kind === 'date' && !c.modifier && !c.chain && more.length === 0 && value?.kind === 'date' && prefixes.has(value.date.prefix)
      ? value.date
      : undefined;
  };
  for (const lower of plan.conditions) {
    const lowerValue = single(lower, LOWER_PREFIXES);
    if (lowerValue) {
      for (const upper of plan.conditions) {
        const upperValue = upper !== lower && upper.param === lower.param ? single(upper, UPPER_PREFIXES) : undefined;
        if (upperValue) {
          return { param: lower.param, lower, lowerValue, upper, upperValue };
        }
      }
      return { param: lower.param, lower, lowerValue };
    }
  }
  return undefined;
}

/**
 * A date-ordered page straight from the index: the `search_date` rows of (type, param) that match
 * the lower bound, in (low, resource_id) order (the `search_date_low_id` index), joined to their
 * resources, the other conditions probed per row, stopping at the page size. One row per resource:
 * its first matching value (smallest (low, high), unique per resource since extraction dedupes),
 * whose low is the sort key.
 *
 * The index is ordered by low, but a value reaches into `[ql, …)` by its high: scanning from
 * `ql − span` (the longest stored value, search_date_span) finds every match. With an upper bound
 * (`low < qu`) the scan ends at `qu + spread`: a resource may satisfy the upper bound with another,
 * earlier value than its first one matching the lower bound, but never one more than `spread` earlier.
 */
function dateScan(knex: Knex, plan: SearchPlan, order: DateOrder, bounds: DateSpan, backwards: boolean): QB {
  let { from, to } = scanRange(order, bounds);
  const key = plan.cursor?.keys[0];
  if (typeof key === 'string') {
    // The keyset (low, id) > (key, …) implies low >= key: start the index range there.
    if (!backwards && (from === undefined || key > from)) {
      from = key;
    }
    if (backwards && (to === undefined || key < to)) {
      to = key;
    }
  }
  const { resourceType } = plan;
  return knex
    .select('r.resource_type', 'r.id', 'r.content', { s0: 'd.low', s1: 'd.resource_id' })
    .from({ d: INDEX_TABLES.date })
    .join({ r: 'resource' }, (on) => on.on('r.resource_type', 'd.resource_type').andOn('r.id', 'd.resource_id'))
    .where('d.resource_type', resourceType)
    .where('d.param', order.param)
    .modify((q) => (from === undefined ? q : q.where('d.low', '>=', from)))
    .modify((q) => (to === undefined ? q : q.where('d.low', '<=', to)))
    .where((w: QB) => datePredicate(w, order.lowerValue, 'd.low', 'd.high'))
    .whereNotExists((earlier: QB) =>
      earlier
        .select(knex.raw('1'))
        .from({ o: INDEX_TABLES.date })
        .where('o.resource_type', resourceType)
        .whereRaw('o.resource_id = d.resource_id')
        .where('o.param', order.param)
        .where((w: QB) => datePredicate(w, order.lowerValue, 'o.low', 'o.high'))
        .where((w: QB) => w.whereRaw('o.low < d.low').orWhere((x: QB) => x.whereRaw('o.low = d.low').whereRaw('o.high < d.high'))),
    )
    .where('r.deleted', false)
    .modify((q) => {
      for (const c of plan.conditions) {
        if (c !== order.lower) {
          applyCondition(knex, q, resourceType, c, 'r', false);
        }
      }
    });
}

/**
 * Runs one statement with a PostgreSQL plan type switched off, for statements that must walk an index
 * and stop early: PostgreSQL's planner misjudges how many rows they keep (the date scan's per-row
 * probes are correlated with the date) and prefers reading everything that matches first — a date
 * scan 42 ms instead of 2 ms at 1 M resources with `enable_sort`, the driver probe 15 ms instead of
 * 0.3 ms with `enable_bitmapscan`. SQLite picks the index walk by itself.
 */
async function withPlanner(knex: Knex, setting: 'enable_sort' | 'enable_bitmapscan', query: QB): Promise<unknown> {
  if (!isPostgres(knex)) {
    return query;
  }
  if ((knex as Knex.Transaction).isTransaction) {
    // Inside the caller's transaction: SET LOCAL would outlive this statement. Rolling back to a
    // savepoint undoes it (the statement only reads), restores whatever the session had, and keeps
    // the caller's transaction usable if the statement fails — with its own error, not 25P02.
    await knex.raw('savepoint sbf_planner');
    try {
      await knex.raw(`set local ${setting} = off`);
      return await query;
    } finally {
      await knex.raw('rollback to savepoint sbf_planner');
      await knex.raw('release savepoint sbf_planner');
    }
  }
  return knex.transaction(async (trx) => {
    await trx.raw(`set local ${setting} = off`);
    return query.transacting(trx);
  });
}

/**
 * Where the `low` of a resource's first value matching the lower bound can lie (inclusive; either
 * end may be open): from the lower bound back by the longest stored value, to the upper bound
 * forward by the largest distance between two values' starts.
 */
function scanRange(order: Pick<DateOrder, 'lowerValue' | 'upperValue'>, { span, spread }: DateSpan): { from?: string; to?: string } {
  const { prefix, range } = order.lowerValue;
  const from =
    prefix === 'ge' ? shift(range.low, -span) : prefix === 'gt' ? shift(range.high, -span) : prefix === 'eq' ? range.low : range.high;
  const ends: (string | undefined)[] = [];
  if (prefix === 'eq') {
    ends.push(range.high);
  }
  if (order.upperValue) {
    const { prefix: upper, range: u } = order.upperValue;
    ends.push(shift(upper === 'lt' || upper === 'eb' ? u.low : u.high, spread));
  }
  const to = ends.filter((e): e is string => e !== undefined).sort()[0];
  return { from: from === undefined || from <= MIN_DATE ? undefined : from, to };
}

/** An instant moved by `ms`; undefined when that leaves the range of stored values. */
function shift(iso: string, ms: number): string | undefined {
  const t = Date.parse(iso) + ms;
  return t < Date.parse(MIN_DATE) ? MIN_DATE : t > Date.parse(MAX_DATE) ? undefined : new Date(t).toISOString();
}

/** The date-order key of the row `alias`: the low of its first value matching the lower bound. */
function firstMatchingLow(knex: Knex, resourceType: string, order: DateOrder, alias: string): QB {
  return knex
    .min('x.low')
    .from({ x: INDEX_TABLES.date })
    .where('x.resource_type', resourceType)
    .whereRaw('x.resource_id = ??', [`${alias}.id`])
    .where('x.param', order.param)
    .where((w: QB) => datePredicate(w, order.lowerValue, 'x.low', 'x.high'));
}

export async function countMatches(knex: Knex, plan: SearchPlan): Promise<number> {
  const driver = await chooseDriver(knex, plan.resourceType, plan.conditions);
  const [row] = await knex
    .from({ r: 'resource' })
    .where('r.resource_type', plan.resourceType)
    .where('r.deleted', false)
    .modify((q) => applyConditions(knex, q, plan.resourceType, plan.conditions, 'r', driver))
    .count<{ n: number | string }[]>({ n: '*' });
  return Number(row.n);
}

/** Targets of a reference parameter on the given resources (for `_include`). */
export async function referencedTargets(
  knex: Knex,
  sourceType: string,
  sourceIds: string[],
  param: string,
  targetType: string | undefined,
): Promise<{ resourceType: string; id: string }[]> {
  const out: { resourceType: string; id: string }[] = [];
  for (const ids of chunks(sourceIds)) {
    const rows: { target_type: string; target_id: string }[] = await knex(INDEX_TABLES.reference)
      .distinct('target_type', 'target_id')
      .where({ resource_type: sourceType, param })
      .whereIn('resource_id', ids)
      .whereNotNull('target_id')
      .modify((q) => (targetType ? q.where('target_type', targetType) : q));
    out.push(...rows.map((r) => ({ resourceType: r.target_type, id: r.target_id })));
  }
  return out;
}

/** Resources of `sourceType` whose `param` points at any of the targets (for `_revinclude`). */
export async function referencingSources(
  knex: Knex,
  sourceType: string,
  param: string,
  targetType: string,
  targetIds: string[],
): Promise<string[]> {
  const out: string[] = [];
  for (const ids of chunks(targetIds)) {
    const rows: { resource_id: string }[] = await knex(INDEX_TABLES.reference)
      .distinct('resource_id')
      .where({ resource_type: sourceType, param, target_type: targetType })
      .whereIn('target_id', ids);
    out.push(...rows.map((r) => r.resource_id));
  }
  return out;
}

function chunks<T>(list: T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) {
    out.push(list.slice(i, i + size));
  }
  return out;
}

/** Above this many index rows a condition is not worth materialising as an `IN` list. */
const DRIVER_LIMIT = 1000;

/**
 * Conditions are AND-ed. One condition may drive the query as `id IN (index lookup)`; the others
 * are correlated `EXISTS` probes on the candidate rows. Ids and references drive whenever present
 * (they select few rows); a code, string, date or number drives only if a bounded probe finds it
 * selective. Otherwise nothing drives: the database walks the type in sort order, probing each row,
 * and stops at the page size — fast exactly when matches are common. Returns the driver's index, or -1.
 */
function chooseDriver(knex: Knex, resourceType: string, conditions: Condition[]): Promise<number> {
  // A page and its `_total` count share the plan's conditions: probe once for both.
  // A unit run again (a retry, a shared transaction's unit alone) searches with the same plan.
  return drivers.get(conditions) ?? keepUntilRejected(drivers, conditions, probeDriver(knex, resourceType, conditions));
}

const drivers = new WeakMap<Condition[], Promise<number>>();

async function probeDriver(knex: Knex, resourceType: string, conditions: Condition[]): Promise<number> {
  const ranked = conditions.map((c, i) => ({ c, i, rank: driverRank(c) })).sort((a, b) => b.rank - a.rank);
  const best = ranked[0];
  if (!best || best.rank === 0) {
    return -1;
  }
  if (best.rank >= 90) {
    return best.i;
  }
  const probe = knex
    .select(knex.raw('1'))
    .from(TABLE_OF[best.c.kind])
    .where({ resource_type: resourceType, param: best.c.param })
    .modify((sub) => valuesOf(sub, best.c))
    .limit(DRIVER_LIMIT);
  // PostgreSQL would build a bitmap of every match before stopping at the limit (15 ms for a common
  // code at 1 M resources); walking the index stops after DRIVER_LIMIT entries (0.3 ms).
  const counted = withPlanner(knex, 'enable_bitmapscan', knex.from(probe.as('p')).count({ n: '*' }));
  const [{ n }] = (await counted) as { n: number | string }[];
  return Number(n) < DRIVER_LIMIT ? best.i : -1;
}

function applyConditions(knex: Knex, q: QB, resourceType: string, conditions: Condition[], alias: string, driver: number): void {
  conditions.forEach((condition, i) => applyCondition(knex, q, resourceType, condition, alias, i === driver));
}

/** How likely a condition is to select few rows: ids and references first, negations never. */
function driverRank(c: Condition): number {
  if (c.modifier === 'not' || c.modifier === 'missing' || c.kind === 'lastUpdated') {
    return 0;
  }
  if (c.kind === 'id') {
    return 100;
  }
  if (c.chain || c.kind === 'reference') {
    return 90;
  }
  if (c.kind === 'token') {
    return c.values.every((v) => v.kind === 'token' && v.token.code !== undefined) ? 60 : 10;
  }
  return c.kind === 'date' ? 50 : 40;
}

function applyCondition(knex: Knex, q: QB, resourceType: string, c: Condition, alias: string, drive = true): void {
  const idColumn = `${alias}.id`;
  if (c.chain) {
    const { targetTypes, condition } = c.chain;
    q.whereIn(idColumn, (sub: QB) => {
      sub
        .select('resource_id')
        .from(INDEX_TABLES.reference)
        .where({ resource_type: resourceType, param: c.param })
        .where((or: QB) => {
          for (const targetType of targetTypes) {
            or.orWhere((one: QB) => {
              one.where('target_type', targetType).whereIn('target_id', (targets: QB) => {
                targets
                  .select('t.id')
                  .from({ t: 'resource' })
                  .where('t.resource_type', targetType)
                  .where('t.deleted', false)
                  .modify((tq) => applyCondition(knex, tq, targetType, condition, 't'));
              });
            });
          }
        });
    });
    return;
  }
  if (c.kind === 'id') {
    const ids = c.values.map((v) => (v.kind === 'token' ? (v.token.code ?? '') : ''));
    if (c.modifier === 'not') {
      q.whereNotIn(idColumn, ids);
    } else {
      q.whereIn(idColumn, ids);
    }
    return;
  }
  if (c.kind === 'lastUpdated') {
    const column = `${alias}.last_updated`;
    q.where((or: QB) => {
      for (const v of c.values) {
        if (v.kind === 'date') {
          or.orWhere((w: QB) => datePredicate(w, v.date, column, column));
        }
      }
    });
    return;
  }
  const table = TABLE_OF[c.kind];
  const negate = c.modifier === 'not' || (c.modifier === 'missing' && c.missing === true);
  const values = (sub: QB): void => valuesOf(sub, c);
  if (drive && !negate) {
    q.whereIn(idColumn, (sub: QB) => {
      sub.select('resource_id').from(table).where({ resource_type: resourceType, param: c.param });
      values(sub);
    });
    return;
  }
  const probe = (sub: QB): void => {
    sub
      .select(knex.raw('1'))
      .from({ x: table })
      .where('x.resource_type', resourceType)
      .whereRaw('x.resource_id = ??', [idColumn])
      .where('x.param', c.param);
    values(sub);
  };
  if (negate) {
    q.whereNotExists(probe);
  } else {
    q.whereExists(probe);
  }
}

/** The OR of a condition's values, on an index table's columns. */
function valuesOf(sub: QB, c: Condition): void {
  if (c.modifier !== 'missing') {
    sub.where((or: QB) => {
      for (const v of c.values) {
        or.orWhere((w: QB) => valuePredicate(w, v, c.modifier));
      }
    });
  }
}

function valuePredicate(w: QB, v: SearchValue, modifier: Condition['modifier']): void {
  switch (v.kind) {
    case 'token': {
      const { system, code } = v.token;
      if (system === null) {
        w.whereNull('system');
      } else if (system !== undefined) {
        w.where('system', system);
      }
      if (code !== undefined) {
        w.where('value', code);
      }
      break;
    }
    case 'text':
      w.where('text', '>=', v.text).where('text', '<', v.text + HIGH);
      break;
    case 'string':
      if (modifier === 'exact') {
        w.where('exact', v.text);
      } else if (modifier === 'contains') {
        w.whereRaw(`value like ? escape '\\'`, [`%${v.text.replace(/[\\%_]/g, (m) => `\\${m}`)}%`]);
      } else {
        w.where('value', '>=', v.text).where('value', '<', v.text + HIGH);
      }
      break;
    case 'reference': {
      const { type, id, url } = v.reference;
      if (url !== undefined) {
        w.where('target_url', url);
      } else {
        w.where('target_id', id ?? '');
        if (type) {
          w.where('target_type', type);
        }
      }
      break;
    }
    case 'date':
      datePredicate(w, v.date, 'low', 'high');
      break;
    case 'number':
      numberPredicate(w, v.number);
      break;
  }
}

/**
 * FHIR date comparison between the stored value's range [low, high] and the searched range
 * [ql, qh] (search.html#prefix): eq = contained, gt = extends after, sa = starts after, …
 */
export function datePredicate(w: QB, { prefix, range }: DateValue, low: string, high: string): void {
  const { low: ql, high: qh } = range;
  const contained = (x: QB): QB => x.where(low, '>=', ql).where(high, '<=', qh);
  switch (prefix) {
    case 'eq':
      contained(w);
      break;
    case 'ne':
      w.whereNot((x: QB) => contained(x));
      break;
    case 'gt':
      w.where(high, '>', qh);
      break;
    case 'lt':
      w.where(low, '<', ql);
      break;
    // ge/le: the value reaches into the searched range or beyond it (a single bound, so one index range).
    case 'ge':
      w.where(high, '>=', ql);
      break;
    case 'le':
      w.where(low, '<=', qh);
      break;
    case 'sa':
      w.where(low, '>', qh);
      break;
    case 'eb':
      w.where(high, '<', ql);
      break;
    case 'ap': {
      // Approximately: within 10% of the distance between the value and now (search.html#prefix).
      const slack = Math.abs(Date.now() - Date.parse(ql)) * 0.1;
      w.where(low, '<=', new Date(Date.parse(qh) + slack).toISOString()).where(
        high,
        '>=',
        new Date(Date.parse(ql) - slack).toISOString(),
      );
      break;
    }
  }
}

function numberPredicate(w: QB, n: NumberValue): void {
  if (n.system !== undefined) {
    w.where('system', n.system);
  }
  if (n.unit !== undefined) {
    w.where('unit', n.unit);
  }
  switch (n.prefix) {
    case 'eq':
      w.where('value', '>=', n.low).where('value', '<', n.high);
      break;
    case 'ne':
      w.whereNot((x: QB) => x.where('value', '>=', n.low).where('value', '<', n.high));
      break;
    case 'gt':
    case 'sa':
      w.where('value', '>', n.value);
      break;
    case 'lt':
    case 'eb':
      w.where('value', '<', n.value);
      break;
    case 'ge':
      w.where('value', '>=', n.value);
      break;
    case 'le':
      w.where('value', '<=', n.value);
      break;
    case 'ap': {
      const slack = Math.abs(n.value) * 0.1;
      w.where('value', '>=', n.value - slack).where('value', '<=', n.value + slack);
      break;
    }
  }
}

/** SQL for one sort key of the row `r`: a column, or the smallest (largest, descending) indexed value. */
function sortExpression(key: SortKey): string {
  if (key.kind === 'id') {
    return 'r.id';
  }
  if (key.kind === 'lastUpdated') {
    return 'r.last_updated';
  }
  const table = TABLE_OF[key.kind];
  const [column, fallback] =
    key.kind === 'date'
      ? [key.descending ? 'max(high)' : 'min(low)', 'text']
      : key.kind === 'number'
        ? [key.descending ? 'max(value)' : 'min(value)', 'number']
        : [
            key.descending
              ? `max(${key.kind === 'reference' ? 'target_id' : 'value'})`
              : `min(${key.kind === 'reference' ? 'target_id' : 'value'})`,
            'text',
          ];
  const nullValue = fallback === 'number' ? String(NULL_NUMBER) : `'${NULL_TEXT}'`;
  return `coalesce((select ${column} from ${table} x where x.resource_type = r.resource_type and x.resource_id = r.id and x.param = ?), ${nullValue})`;
}

function sortBindings(key: SortKey): string[] {
  return key.kind === 'id' || key.kind === 'lastUpdated' ? [] : [key.param];
}

/** Rows strictly after (or, backwards, before) the cursor in the sort order: (k1, k2, …, id) compared lexicographically. */
function applyKeyset(q: QB, sort: SortKey[], cursor: Cursor, backwards: boolean): void {
  const build = (w: QB, i: number): void => {
    const column = `s${i}`;
    const ascending = sort[i].descending === backwards;
    const value = cursor.keys[i] ?? (sort[i].kind === 'number' ? NULL_NUMBER : NULL_TEXT);
    if (i === sort.length - 1) {
      w.where(column, ascending ? '>' : '<', value);
      return;
    }
    w.where((x: QB) =>
      x.where(column, ascending ? '>' : '<', value).orWhere((y: QB) => {
        y.where(column, value);
        y.where((z: QB) => build(z, i + 1));
      }),
    );
  };
  q.where((w: QB) => build(w, 0));
}

function normaliseKey(value: unknown): string | number | null {
  if (value === null || value === undefined) {
    return null;
  }
  return typeof value === 'number' || typeof value === 'string' ? value : String(value);
}
