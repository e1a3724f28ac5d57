import { parseSearch } from '../search/parse';
import type { Condition } from '../search/types';
import type { PatientSet, Repository, ScanRow } from '../store/types';
import type { ResourceSink, SinkState } from './files';
import { queryRecord } from './params';

/** What to read: the part of a job's parameters the engine needs (the CLI builds one too). */
export interface ExportSelection {
  types: string[];
  since?: string;
  typeFilters?: Record<string, string[]>;
  patients?: PatientSet;
  baseUrl?: string;
}

/** Where an export stands after a page: saved by the job runner, so a restart continues from here. */
export interface Checkpoint {
  typeIndex: number;
  /** Which of the type's `_typeFilter` queries is being read. */
  filterIndex: number;
  /** Keyset position: the last id written of the current type (and filter). */
  afterId?: string;
  counts: Record<string, number>;
  sink: SinkState;
}

export interface EngineOptions {
  pageSize: number;
  /** Pause between pages (ms), so that a big export leaves the database to API requests. */
  pauseMs?: number;
  resume?: Checkpoint;
  /** Called after every page, once its lines reached the OS; returning false stops the export. */
  onPage?: (checkpoint: Checkpoint) => Promise<boolean>;
}

/**
 * Streams the selected resources into the sink, page by page: memory holds one page, never a type.
 * Returns false when `onPage` asked to stop (cancelled, or the server is shutting down).
 */
export async function runExport(repo: Repository, selection: ExportSelection, sink: ResourceSink, options: EngineOptions): Promise<boolean> {
  const start = options.resume;
  const counts: Record<string, number> = { ...(start?.counts ?? {}) };
  for (let typeIndex = start?.typeIndex ?? 0; typeIndex < selection.types.length; typeIndex++) {
    const type = selection.types[typeIndex];
    const resuming = start && typeIndex === start.typeIndex;
    const pages = typePages(repo, selection, type, options.pageSize, resuming ? start.filterIndex : 0, resuming ? start.afterId : undefined);
    for await (const page of pages) {
      for (const row of page.rows) {
        await sink.write(type, row.json);
      }
      counts[type] = (counts[type] ?? 0) + page.rows.length;
      const checkpoint: Checkpoint = {
        typeIndex,
        filterIndex: page.filterIndex,
        afterId: page.lastId,
        counts: { ...counts },
        sink: await sink.flush(),
      };
      if (options.onPage && !(await options.onPage(checkpoint))) {
        return false;
      }
      if (options.pauseMs) {
        await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      }
    }
  }
  return true;
}

interface Page {
  rows: ScanRow[];
  filterIndex: number;
  lastId: string;
}

/**
 * The pages of one type, in id order. Without filters: keyset scans of the resource table. With
 * `_typeFilter` queries: each query's matches in turn through the search engine, leaving out what an
 * earlier query of the same type already exported, then read back through the scan (which applies
 * `_since` and the patient scope exactly as for unfiltered types).
 */
async function* typePages(
  repo: Repository,
  selection: ExportSelection,
  type: string,
  pageSize: number,
  fromFilter: number,
  fromId: string | undefined,
): AsyncGenerator<Page> {
  const filters = selection.typeFilters?.[type] ?? [];
  const scope = { resourceType: type, since: selection.since, patients: selection.patients };
  if (filters.length === 0) {
    let afterId = fromId;
    for (;;) {
      const rows = await repo.scan({ ...scope, afterId, limit: pageSize });
      if (rows.length === 0) {
        return;
      }
      afterId = rows[rows.length - 1].id;
      yield { rows, filterIndex: 0, lastId: afterId };
      if (rows.length < pageSize) {
        return;
      }
    }
  }
  // In id order, whatever order the search would choose by itself: the checkpoint is the last id.
  const plans = filters.map((query) => ({
    ...parseSearch(type, queryRecord(query), { strict: true, baseUrl: selection.baseUrl ?? '' }),
    sort: [{ param: '_id', kind: 'id' as const, descending: false }],
    count: pageSize,
  }));
  for (let f = fromFilter; f < plans.length; f++) {
    let afterId = f === fromFilter ? fromId : undefined;
    for (;;) {
      const page = await repo.search({ ...plans[f], cursor: afterId === undefined ? undefined : { keys: [afterId], direction: 'next' } });
      if (page.rows.length === 0) {
        break;
      }
      afterId = page.rows[page.rows.length - 1].id;
      let ids = page.rows.map((r) => r.id);
      for (let earlier = 0; earlier < f && ids.length > 0; earlier++) {
        const seen = await repo.search({ ...plans[earlier], conditions: [...plans[earlier].conditions, idIn(ids)], count: ids.length });
        const drop = new Set(seen.rows.map((r) => r.id));
        ids = ids.filter((id) => !drop.has(id));
      }
      const rows = ids.length > 0 ? await repo.scan({ ...scope, ids, limit: ids.length }) : [];
      yield { rows, filterIndex: f, lastId: afterId };
      if (!page.hasMore) {
        break;
      }
    }
  }
}

function idIn(ids: string[]): Condition {
  return { param: '_id', kind: 'id', values: ids.map((id) => ({ kind: 'token', token: { code: id } })) };
}

