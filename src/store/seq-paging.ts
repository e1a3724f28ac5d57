import type { Knex } from 'knex';
import { fail } from '../common/errors';
import type { HistoryPage, StoredVersion } from './types';

/**
 * One page of an append-only table newest first, by its `seq` column: the cursor is the last `seq`
 * seen, so appends between page requests neither shift nor repeat rows. `base` holds the filters.
 */
export async function pageNewestFirst<Row extends { seq: number | string }>(
  base: Knex.QueryBuilder,
  query: { count: number; cursor?: string },
  toVersion: (row: Row) => StoredVersion,
): Promise<HistoryPage> {
  const cursor = query.cursor === undefined ? undefined : Number(query.cursor);
  if (cursor !== undefined && (!Number.isSafeInteger(cursor) || cursor < 0)) {
    throw fail(400, 'invalid', `Invalid history paging cursor '${query.cursor}'`);
  }
  const [countRow] = (await base.clone().count({ n: '*' })) as { n: number | string }[];
  const rows = (await base
    .clone()
    .modify((q) => {
      if (cursor !== undefined) {
        q.where('seq', '<', cursor);
      }
    })
    .orderBy('seq', 'desc')
    .limit(query.count + 1)) as Row[];
  const page = rows.slice(0, query.count);
  return {
    versions: page.map(toVersion),
    nextCursor: rows.length > query.count ? String(page[page.length - 1].seq) : undefined,
    total: Number(countRow.n),
  };
}
