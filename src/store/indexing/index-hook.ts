import type { Knex } from 'knex';
import type { ResourceChange, WriteHook } from '../types';
import { extractIndexRows } from './extract';
import { INDEX_TABLES, type IndexKind } from './rows';

// SQLite allows 999 bound variables per statement in older builds; keep batches well under.
const INSERT_CHUNK = 100;

/**
 * Keeps the search index in step with every write, inside the write's transaction: the rows of the
 * previous version are removed and the current version's inserted. Deleted resources have no rows,
 * so searches never find them.
 */
export const searchIndexHook: WriteHook = {
  name: 'search-index',
  async inTransaction(tx: Knex.Transaction, change: ResourceChange): Promise<void> {
    const { resourceType, id } = change.current;
    if (change.previous && !change.previous.deleted) {
      for (const table of Object.values(INDEX_TABLES)) {
        await tx(table).where({ resource_type: resourceType, resource_id: id }).delete();
      }
    }
    if (!change.resource) {
      return;
    }
    const rows = extractIndexRows(change.resource);
    for (const kind of Object.keys(INDEX_TABLES) as IndexKind[]) {
      const list = rows[kind];
      if (list.length > 0) {
        const owned = list.map((row) => ({ resource_type: resourceType, resource_id: id, ...row }));
        for (let i = 0; i < owned.length; i += INSERT_CHUNK) {
          await tx(INDEX_TABLES[kind]).insert(owned.slice(i, i + INSERT_CHUNK));
        }
      }
    }
  },
};
