import type { Knex } from 'knex';
import type { ResourceChange, WriteHook } from '../types';
import { insertRows } from '../row-insert';
import { dateSpansOf, recordDateSpans, type DateSpan } from './date-span';
import { extractIndexRows } from './extract';
import { INDEX_TABLES, type IndexKind } from './rows';

/** Rows per INSERT: ≤ 8 columns × 400 rows stays far below SQLite's limit on bound variables. */
const INSERT_CHUNK = 400;

/**
 * Keeps the search index in step with every write, inside the write's transaction: the rows of the
 * previous version are removed and the current version's inserted. Deleted resources have no rows,
 * so searches never find them. Date values longer (or further apart) than any before raise the
 * bounds in `search_date_span` that date-ordered searches scan by (date-span.ts).
 */
export const searchIndexHook: WriteHook = {
  name: 'search-index',
  inTransaction(tx: Knex.Transaction, change: ResourceChange): Promise<void> {
    return this.inTransactionMany!(tx, [change]);
  },
  async inTransactionMany(tx: Knex.Transaction, changes: ResourceChange[]): Promise<void> {
    for (const { previous, current } of changes) {
      if (previous && !previous.deleted) {
        for (const table of Object.values(INDEX_TABLES)) {
          await tx(table).where({ resource_type: current.resourceType, resource_id: current.id }).delete();
        }
      }
    }
    const byKind: Record<IndexKind, Record<string, unknown>[]> = { token: [], string: [], reference: [], date: [], number: [] };
    const spans = new Map<string, Map<string, DateSpan>>();
    for (const { current, resource, indexRows } of changes) {
      if (!resource) {
        continue;
      }
      const rows = indexRows ?? extractIndexRows(resource);
      const ofType = spans.get(current.resourceType) ?? new Map<string, DateSpan>();
      for (const [param, { span, spread }] of dateSpansOf(rows.date)) {
        const seen = ofType.get(param);
        ofType.set(param, seen ? { span: Math.max(seen.span, span), spread: Math.max(seen.spread, spread) } : { span, spread });
      }
      spans.set(current.resourceType, ofType);
      for (const kind of Object.keys(byKind) as IndexKind[]) {
        for (const row of rows[kind]) {
          byKind[kind].push({ resource_type: current.resourceType, resource_id: current.id, ...row });
        }
      }
    }
    for (const kind of Object.keys(byKind) as IndexKind[]) {
      const owned = byKind[kind];
      for (let i = 0; i < owned.length; i += INSERT_CHUNK) {
        await insertRows(tx, INDEX_TABLES[kind], owned.slice(i, i + INSERT_CHUNK));
      }
    }
    await recordDateSpans(tx, spans);
  },
};
