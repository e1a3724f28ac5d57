import type { Knex } from 'knex';
import { isPostgres } from '../database';

/**
 * Date-ordered search (search-sql.ts): a search with a lower date bound is answered by scanning
 * `search_date` in (low, resource_id) order from `bound − longest value` and stopping at the page size.
 *
 * - `search_date_span` holds, per (type, param), the longest stored value (`max_span_ms`, high − low)
 *   and the largest distance between the starts of two values of one resource (`max_spread_ms`);
 *   the index hook raises them in the write transaction (indexing/date-span.ts). Backfilled here.
 * - `search_date_low (type, param, low)` becomes `(type, param, low, resource_id, high)`: the scan is
 *   then ordered exactly as the page (low, id) and checks a value's `high` without reading the row.
 */
export async function up(knex: Knex): Promise<void> {
  const postgres = isPostgres(knex);
  await knex.schema.createTable('search_date_span', (t) => {
    t.string('resource_type', 64).notNullable();
    t.string('param', 100).notNullable();
    t.bigInteger('max_span_ms').notNullable().defaultTo(0);
    t.bigInteger('max_spread_ms').notNullable().defaultTo(0);
    t.primary(['resource_type', 'param']);
  });

  // Milliseconds between two stored instants (fixed-width ISO-8601 UTC text). SQLite's julianday
  // is computed from integer milliseconds, so rounding its difference is exact.
  const ms = (from: string, to: string): string =>
    postgres
      ? `round(extract(epoch from (${to}::timestamptz - ${from}::timestamptz)) * 1000)`
      : `round((julianday(${to}) - julianday(${from})) * 86400000.0)`;
  await knex.raw(`
    insert into search_date_span (resource_type, param, max_span_ms, max_spread_ms)
    select resource_type, param, max(span), max(spread)
    from (
      select resource_type, param, max(${ms('low', 'high')}) as span, ${ms('min(low)', 'max(low)')} as spread
      from search_date
      group by resource_type, resource_id, param
    ) per_resource
    group by resource_type, param`);

  await knex.schema.alterTable('search_date', (t) => {
    t.dropIndex(['resource_type', 'param', 'low'], 'search_date_low');
    t.index(['resource_type', 'param', 'low', 'resource_id', 'high'], 'search_date_low_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('search_date', (t) => {
    t.dropIndex(['resource_type', 'param', 'low', 'resource_id', 'high'], 'search_date_low_id');
    t.index(['resource_type', 'param', 'low'], 'search_date_low');
  });
  await knex.schema.dropTable('search_date_span');
}
