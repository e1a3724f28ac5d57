import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { issue, outcome, FhirError, preconditionFailed } from '../common/errors';
import { newId } from '../common/ids';
import type { SearchPage, SearchPlan } from '../search/types';
import { lookupReaderFor, readerFor, type Dialect } from './database';
import type { IndexRows } from './indexing/rows';
import { transactionBegun } from './pg-client';
import { insertRows } from './row-insert';
import { pageNewestFirst } from './seq-paging';
import { scanCount, scanPage } from './export-sql';
import { refuseInSharedTransaction } from './shared-transactions';
import { countMatches, referencedTargets, referencingSources, searchPage } from './search-sql';
import { transactionRunner, WriteConflict } from './transactions';
import type {
  TransactionOptions,
  HistoryPage,
  HistoryQuery,
  Repository,
  RequiredReference,
  ResourceKey,
  ResourceChange,
  ScanQuery,
  ScanRow,
  StoredVersion,
  UpdateResult,
  WriteHook,
  WriteMethod,
  WriteOptions,
} from './types';

/** Rows per multi-row INSERT in `createMany` (7 columns each: far below SQLite's variable limit). */
const BULK_CHUNK = 200;

interface ResourceRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: string;
  deleted: boolean | number;
  content: string | null;
}

interface HistoryRow extends ResourceRow {
  seq: number | string;
  method: WriteMethod;
}

/**
 * Repository on knex: the same code on SQLite and PostgreSQL. Each write is one transaction holding
 * the current-version row, the history row and whatever the write hooks add (index rows, audit,
 * outbox). Optimistic concurrency: a version is replaced only `WHERE version_id = <the one read>`.
 */
export class KnexRepository implements Repository {
  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
    private readonly hooks: readonly WriteHook[] = [],
    /** Set when this repository is bound to an enclosing transaction. */
    private readonly tx?: Knex.Transaction,
  ) {}

  async transaction<T>(work: (repo: Repository) => Promise<T>, options?: TransactionOptions): Promise<T> {
    if (this.tx) {
      return work(this);
    }
    return this.runUnit((tx) => work(new KnexRepository(this.knex, this.dialect, this.hooks, tx)), options);
  }

  create(resource: Resource, options: WriteOptions = {}): Promise<StoredVersion> {
    return this.write(async (tx) => {
      await checkReferences(tx, options.references);
      await transactionBegun(tx);
      const id = options.id ?? newId();
      const [current, stamped] = stamp(resource, id, 1, 'POST');
      await insertRows(tx, 'resource', [toRow(current)]);
      await this.appendHistory(tx, undefined, current, stamped, options.indexRows);
      return current;
    });
  }

  createMany(items: { resource: Resource; id?: string }[]): Promise<StoredVersion[]> {
    return this.write(async (tx) => {
      await transactionBegun(tx);
      const stamped = items.map(({ resource, id }) => stamp(resource, id ?? newId(), 1, 'POST'));
      const versions = stamped.map(([version]) => version);
      for (let i = 0; i < versions.length; i += BULK_CHUNK) {
        const chunk = versions.slice(i, i + BULK_CHUNK);
        await insertRows(tx, 'resource', chunk.map(toRow));
        await insertRows(tx, 'resource_history', chunk.map((v): Omit<HistoryRow, 'seq'> => ({ ...toRow(v), method: v.method })));
      }
      const changes: ResourceChange[] = stamped.map(([current, resource]) => ({ previous: undefined, current, resource }));
      for (const hook of this.hooks) {
        if (hook.inTransactionMany) {
          await hook.inTransactionMany(tx, changes);
        } else {
          for (const change of changes) {
            await hook.inTransaction(tx, change);
          }
        }
      }
      return versions;
    });
  }

  async read(resourceType: string, id: string): Promise<StoredVersion | undefined> {
    const row = await (this.tx ?? lookupReaderFor(this.knex))<ResourceRow>('resource')
      .where({ resource_type: resourceType, id })
      .first();
    return row ? fromRow(row, row.deleted ? 'DELETE' : 'PUT') : undefined;
  }

  readForUpdate(resourceType: string, id: string): Promise<StoredVersion | undefined> {
    if (!this.tx) {
      throw new Error('readForUpdate() needs a transaction: call it inside repository.transaction()');
    }
    return this.readForWrite(this.tx, resourceType, id, undefined);
  }

  async vread(resourceType: string, id: string, versionId: string): Promise<StoredVersion | undefined> {
    const version = Number(versionId);
    if (!Number.isSafeInteger(version) || version < 1) {
      return undefined;
    }
    const row = await (this.tx ?? lookupReaderFor(this.knex))<HistoryRow>('resource_history')
      .where({ resource_type: resourceType, id, version_id: version })
      .first();
    return row ? fromRow(row, row.method) : undefined;
  }

  update(resource: Resource & { id: string }, options: WriteOptions = {}): Promise<UpdateResult> {
    return this.write(async (tx) => {
      const previous = await this.currentForWrite(tx, resource.resourceType, resource.id, options);
      if (previous && !previous.deleted && sameContent(previous.json, resource)) {
        // A no-op update makes no new version (as HAPI does): retries and re-seeding stay idempotent.
        return { version: previous, created: false, changed: false };
      }
      await checkReferences(tx, options.references);
      await transactionBegun(tx);
      const versionId = previous ? Number(previous.versionId) + 1 : 1;
      const [current, stamped] = stamp(resource, resource.id, versionId, 'PUT');
      if (previous) {
        await replaceCurrent(tx, previous, current);
      } else {
        await insertRows(tx, 'resource', [toRow(current)]);
      }
      await this.appendHistory(tx, previous, current, stamped, options.indexRows);
      return { version: current, created: !previous || previous.deleted, changed: true };
    });
  }

  delete(resourceType: string, id: string, options: WriteOptions = {}): Promise<StoredVersion | undefined> {
    return this.write(async (tx) => {
      const previous = await this.currentForWrite(tx, resourceType, id, options);
      if (!previous || previous.deleted) {
        return previous;
      }
      await transactionBegun(tx);
      const current: StoredVersion = {
        resourceType,
        id,
        versionId: String(Number(previous.versionId) + 1),
        lastUpdated: new Date().toISOString(),
        deleted: true,
        method: 'DELETE',
        json: undefined,
      };
      await replaceCurrent(tx, previous, current);
      await this.appendHistory(tx, previous, current, undefined);
      return current;
    });
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    const db = this.tx ?? readerFor(this.knex);
    const base = db<HistoryRow>('resource_history').modify((q) => {
      if (query.resourceType) {
        q.where('resource_type', query.resourceType);
      }
      if (query.id) {
        q.where('id', query.id);
      }
      if (query.since) {
        q.where('last_updated', '>=', query.since);
      }
    });
    return pageNewestFirst<HistoryRow>(base, query, (row) => fromRow(row, row.method));
  }

  verifyReferences(references: RequiredReference[]): Promise<void> {
    return this.tx
      ? checkReferences(this.tx, references)
      : transactionRunner(this.knex, this.dialect).run((tx) => checkReferences(tx, references));
  }

  async settleWrites(): Promise<void> {
    if (this.tx) {
      // Any statement other than a plain INSERT writes the held rows first.
      await this.tx.raw('select 1');
    }
  }

  async lock(key: string): Promise<void> {
    if (!this.tx) {
      throw new Error('lock() needs a transaction: call it inside repository.transaction()');
    }
    refuseInSharedTransaction(this.tx, 'lock()');
    const lockKey = createHash('sha256').update(key).digest('hex');
    await this.tx('write_lock').insert({ lock_key: lockKey }).onConflict('lock_key').ignore();
    if (this.dialect === 'postgres') {
      await this.tx('write_lock').where({ lock_key: lockKey }).forUpdate().first();
    }
  }

  search(plan: SearchPlan): Promise<SearchPage> {
    return searchPage(this.tx ?? readerFor(this.knex), plan);
  }

  count(plan: SearchPlan): Promise<number> {
    return countMatches(this.tx ?? readerFor(this.knex), plan);
  }

  async readMany(refs: ResourceKey[]): Promise<StoredVersion[]> {
    const byType = new Map<string, Set<string>>();
    for (const ref of refs) {
      byType.set(ref.resourceType, (byType.get(ref.resourceType) ?? new Set()).add(ref.id));
    }
    const out: StoredVersion[] = [];
    for (const [resourceType, ids] of byType) {
      const list = [...ids];
      for (let i = 0; i < list.length; i += 500) {
        const rows: ResourceRow[] = await (this.tx ?? lookupReaderFor(this.knex))<ResourceRow>('resource')
          .where({ resource_type: resourceType, deleted: false })
          .whereIn('id', list.slice(i, i + 500));
        out.push(...rows.map((row) => fromRow(row, 'PUT')));
      }
    }
    return out;
  }

  referencedBy(sourceType: string, sourceIds: string[], param: string, targetType?: string): Promise<ResourceKey[]> {
    return referencedTargets(this.tx ?? readerFor(this.knex), sourceType, sourceIds, param, targetType);
  }

  referencing(sourceType: string, param: string, targetType: string, targetIds: string[]): Promise<string[]> {
    return referencingSources(this.tx ?? readerFor(this.knex), sourceType, param, targetType, targetIds);
  }

  scan(query: ScanQuery): Promise<ScanRow[]> {
    return scanPage(this.tx ?? readerFor(this.knex), query);
  }

  countScan(query: ScanQuery): Promise<number> {
    return scanCount(this.tx ?? readerFor(this.knex), query);
  }

  /** Runs a write in the enclosing transaction, or in a new one with conflict retries. */
  private write<T>(work: (tx: Knex.Transaction) => Promise<T>): Promise<T> {
    return this.tx ? work(this.tx) : this.runUnit(work);
  }

  /** A unit of work in its own transaction (or group commit), with the hooks' reads started first. */
  private runUnit<T>(work: (tx: Knex.Transaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return transactionRunner(this.knex, this.dialect).run((tx) => {
      // Only on PostgreSQL, where it saves a round trip. On SQLite a read first would make the
      // group commit's transaction start as a reader and need an upgrade to write, which another
      // process's writer can refuse (SQLITE_BUSY, retried).
      if (this.dialect === 'postgres') {
        for (const hook of this.hooks) {
          hook.beforeWrites?.(tx);
        }
      }
      return work(tx);
    }, options);
  }

  private async readForWrite(
    tx: Knex.Transaction,
    resourceType: string,
    id: string,
    ifMatch: string | undefined,
  ): Promise<StoredVersion | undefined> {
    refuseInSharedTransaction(tx, 'A locking read');
    const row = await tx<ResourceRow>('resource')
      .where({ resource_type: resourceType, id })
      .modify((q) => {
        // PostgreSQL: lock the current row so concurrent writers of one resource queue up instead of
        // failing and retrying. SQLite needs no lock: its transactions are serial already.
        if (this.dialect === 'postgres') {
          q.forUpdate();
        }
      })
      .first();
    const previous = row ? fromRow(row, row.deleted ? 'DELETE' : 'PUT') : undefined;
    checkIfMatch(resourceType, id, previous, ifMatch);
    return previous;
  }

  /** The version a write replaces: as the caller already read (and locked) it, or read now. */
  private async currentForWrite(
    tx: Knex.Transaction,
    resourceType: string,
    id: string,
    options: WriteOptions,
  ): Promise<StoredVersion | undefined> {
    if (options.current === undefined) {
      return this.readForWrite(tx, resourceType, id, options.ifMatch);
    }
    const previous = options.current ?? undefined;
    checkIfMatch(resourceType, id, previous, options.ifMatch);
    return previous;
  }

  private async appendHistory(
    tx: Knex.Transaction,
    previous: StoredVersion | undefined,
    current: StoredVersion,
    /** The current version as an object (undefined for a deletion): hooks read it, nobody changes it. */
    resource: Resource | undefined,
    indexRows?: IndexRows,
  ): Promise<void> {
    await insertRows(tx, 'resource_history', [{ ...toRow(current), method: current.method } satisfies Omit<HistoryRow, 'seq'>]);
    if (this.hooks.length > 0) {
      const change: ResourceChange = { previous, current, resource, indexRows };
      for (const hook of this.hooks) {
        await hook.inTransaction(tx, change);
      }
    }
  }
}

/**
 * Sets id and meta, with resourceType, id and meta first so stored JSON reads naturally. Returns the
 * version and the stamped resource (its nested objects are the caller's), so that the write hooks
 * need not parse the JSON just made.
 */
function stamp(resource: Resource, id: string, versionId: number, method: WriteMethod): [StoredVersion, Resource] {
  const lastUpdated = new Date().toISOString();
  const { resourceType, id: _ignored, meta, ...rest } = resource;
  const stamped = { resourceType, id, meta: { ...meta, versionId: String(versionId), lastUpdated }, ...rest } as Resource;
  const version: StoredVersion = {
    resourceType,
    id,
    versionId: String(versionId),
    lastUpdated,
    deleted: false,
    method,
    json: JSON.stringify(stamped),
  };
  return [version, stamped];
}

/** Equal apart from the server-managed meta fields. */
function sameContent(storedJson: string | undefined, incoming: Resource): boolean {
  if (!storedJson) {
    return false;
  }
  return comparable(JSON.parse(storedJson) as Resource) === comparable({ ...incoming });
}

function comparable(resource: Resource): string {
  const { meta, ...rest } = resource;
  const { versionId: _v, lastUpdated: _l, ...clientMeta } = meta ?? {};
  const { resourceType, id, ...body } = rest;
  return JSON.stringify({ resourceType, id, meta: Object.keys(clientMeta).length > 0 ? clientMeta : undefined, ...body });
}

async function replaceCurrent(tx: Knex.Transaction, previous: StoredVersion, current: StoredVersion): Promise<void> {
  const { resource_type, id, ...changes } = toRow(current);
  const updated = await tx<ResourceRow>('resource')
    .where({ resource_type, id, version_id: Number(previous.versionId) })
    .update(changes);
  if (updated !== 1) {
    throw new WriteConflict(`${resource_type}/${id}`);
  }
}

async function checkReferences(tx: Knex.Transaction, references: RequiredReference[] | undefined): Promise<void> {
  if (!references || references.length === 0) {
    return;
  }
  const byType = new Map<string, Set<string>>();
  for (const ref of references) {
    const ids = byType.get(ref.resourceType) ?? new Set<string>();
    ids.add(ref.id);
    byType.set(ref.resourceType, ids);
  }
  // One query for all of them: a write typically references 3–5 resources of 2–4 types.
  const rows: { resource_type: string; id: string }[] = await tx<ResourceRow>('resource')
    .select('resource_type', 'id')
    .where('deleted', false)
    .where((any) => {
      for (const [resourceType, ids] of byType) {
        any.orWhere((one) => one.where('resource_type', resourceType).whereIn('id', [...ids]));
      }
    });
  const live = new Set(rows.map((row) => `${row.resource_type}/${row.id}`));
  const missing = references.filter((ref) => !live.has(`${ref.resourceType}/${ref.id}`));
  if (missing.length > 0) {
    throw new FhirError(
      422,
      outcome(
        ...missing.map((ref) =>
          issue(
            'processing',
            `Reference ${ref.resourceType}/${ref.id} does not point at an existing resource on this server`,
            ref.expression,
          ),
        ),
      ),
    );
  }
}

function toRow(version: StoredVersion): ResourceRow {
  return {
    resource_type: version.resourceType,
    id: version.id,
    version_id: Number(version.versionId),
    last_updated: version.lastUpdated,
    deleted: version.deleted,
    content: version.json ?? null,
  };
}

function fromRow(row: ResourceRow, method: WriteMethod): StoredVersion {
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: String(row.version_id),
    lastUpdated: row.last_updated,
    deleted: Boolean(row.deleted),
    method,
    json: row.content ?? undefined,
  };
}

/** `If-Match: W/"n"` against the version a write replaces: a mismatch is a 412. */
function checkIfMatch(resourceType: string, id: string, previous: StoredVersion | undefined, ifMatch: string | undefined): void {
  if (ifMatch !== undefined && previous?.versionId !== ifMatch) {
    throw preconditionFailed(
      previous
        ? `Version conflict: ${resourceType}/${id} is at version ${previous.versionId}, not ${ifMatch} (If-Match)`
        : `${resourceType}/${id} does not exist, so If-Match version ${ifMatch} cannot match`,
    );
  }
}
