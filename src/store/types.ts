import type { Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import type { SearchPage, SearchPlan } from '../search/types';
import type { IndexRows } from './indexing/rows';

export type WriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ResourceKey {
  resourceType: string;
  id: string;
}

/** One stored version of a resource, as the repository hands it out. */
export interface StoredVersion {
  resourceType: string;
  id: string;
  versionId: string;
  lastUpdated: string;
  deleted: boolean;
  method: WriteMethod;
  /** The resource JSON exactly as stored (with meta); undefined for a deletion. */
  json: string | undefined;
}

/** A local reference that must point at a live resource when the write commits. */
export interface RequiredReference {
  resourceType: string;
  id: string;
  /** Where in the written resource the reference stands, e.g. `ServiceRequest.subject`. */
  expression: string;
}

export interface WriteOptions {
  /** Create only: the id to use (bundles assign ids before writing, to resolve `urn:uuid:` references). */
  id?: string;
  /** Version the client expects to replace (`If-Match: W/"n"`); a mismatch is a 412. */
  ifMatch?: string;
  /** Checked inside the write's own transaction, so a concurrent delete cannot slip between. */
  references?: RequiredReference[];
  /**
   * Update and delete: the current version as `readForUpdate` returned it earlier in this same
   * transaction (`null`: there is none), so the write does not read it a second time.
   */
  current?: StoredVersion | null;
  /**
   * Create and update: the search index rows of exactly this resource, when they were extracted
   * already (by a validation worker, off the main thread); otherwise the index hook extracts them.
   */
  indexRows?: IndexRows;
}

/** What a committed write changed: handed to in-transaction hooks (index rows, audit, outbox). */
export interface ResourceChange {
  previous: StoredVersion | undefined;
  current: StoredVersion;
  /** Parsed current resource; undefined for a deletion. */
  resource: Resource | undefined;
  /** The resource's search index rows, when extracted ahead of the write (`WriteOptions.indexRows`). */
  indexRows?: IndexRows;
}

/**
 * A hook run inside the transaction of every write, after the resource rows and before commit:
 * whatever it writes commits or rolls back with the resource (HAPI's "storage" pointcuts).
 */
export interface WriteHook {
  readonly name: string;
  /**
   * Optional, called on PostgreSQL only: at the start of a unit of work, starts (without awaiting)
   * the reads its writes will need, so that they travel with the unit's first statement
   * (./pg-client.ts). On SQLite a read first would only make the group commit begin as a reader.
   */
  beforeWrites?(tx: Knex.Transaction): void;
  inTransaction(tx: Knex.Transaction, change: ResourceChange): Promise<void>;
  /** Optional bulk form for `createMany`: the same effect for many changes, in fewer statements. */
  inTransactionMany?(tx: Knex.Transaction, changes: ResourceChange[]): Promise<void>;
}

export interface UpdateResult {
  version: StoredVersion;
  /** True when there was no live version before (update-as-create or re-creation after delete). */
  created: boolean;
  /** False when the submitted content equalled the current version: no new version was made. */
  changed: boolean;
}

export interface HistoryQuery {
  resourceType?: string;
  id?: string;
  /** Only versions with lastUpdated at or after this instant. */
  since?: string;
  count: number;
  /** Opaque paging cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface HistoryPage {
  versions: StoredVersion[];
  /** Present when more versions follow. */
  nextCursor?: string;
  /** Total matching versions (all pages). */
  total: number;
}

/** The storage interface the FHIR core calls. No SQL exists outside the store folder. */
export interface Repository {
  create(resource: Resource, options?: WriteOptions): Promise<StoredVersion>;
  /**
   * Bulk create for importers and data generators: the same rows as `create` for each resource
   * (current, history, and the write hooks' rows), in multi-row INSERTs, in one transaction.
   * No reference checks: the caller vouches for them (e.g. they point within the same load).
   */
  createMany(items: { resource: Resource; id?: string }[]): Promise<StoredVersion[]>;
  /** Current version (possibly a deletion), or undefined if the resource never existed. */
  read(resourceType: string, id: string): Promise<StoredVersion | undefined>;
  /**
   * Inside `transaction`: `read`, locking the row (PostgreSQL) until the transaction ends, so what a
   * write decides from the current version (domain rules, a patch) cannot be overtaken by another writer.
   */
  readForUpdate(resourceType: string, id: string): Promise<StoredVersion | undefined>;
  vread(resourceType: string, id: string, versionId: string): Promise<StoredVersion | undefined>;
  update(resource: Resource & { id: string }, options?: WriteOptions): Promise<UpdateResult>;
  /** Undefined if the resource never existed; the current deletion if it was already deleted. */
  delete(resourceType: string, id: string, options?: WriteOptions): Promise<StoredVersion | undefined>;
  history(query: HistoryQuery): Promise<HistoryPage>;
  /** One page of a search plan's matches (live resources only). */
  search(plan: SearchPlan): Promise<SearchPage>;
  /** How many live resources match the plan's conditions. */
  count(plan: SearchPlan): Promise<number>;
  /** The live current versions of the given resources (missing or deleted ones are left out). */
  readMany(refs: ResourceKey[]): Promise<StoredVersion[]>;
  /** Targets of reference parameter `param` on the given resources (`_include`). */
  referencedBy(sourceType: string, sourceIds: string[], param: string, targetType?: string): Promise<ResourceKey[]>;
  /** Ids of `sourceType` resources whose `param` points at the targets (`_revinclude`). */
  referencing(sourceType: string, param: string, targetType: string, targetIds: string[]): Promise<string[]>;
  /**
   * Inside `transaction`: holds a lock on `key` until the transaction ends, serialising writers that
   * use the same key (conditional create/update on the same criteria) across processes.
   */
  lock(key: string): Promise<void>;
  /** Checks that every reference points at a live resource (a 422 naming the ones that do not). */
  verifyReferences(references: RequiredReference[]): Promise<void>;
  /**
   * Inside `transaction`: writes now whatever the store holds back of this transaction's writes
   * (src/store/insert-buffer.ts), so that a failure among them is reported here, by the caller
   * that made them (a transaction Bundle names the entry).
   */
  settleWrites(): Promise<void>;
  /** Runs `work` with a repository whose writes share one transaction (bundles, imports). */
  transaction<T>(work: (repo: Repository) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Live current versions of one type in id order, one keyset page at a time (exports, `$everything`). */
  scan(query: ScanQuery): Promise<ScanRow[]>;
  /** How many live resources `scan` would return over all pages. */
  countScan(query: ScanQuery): Promise<number>;
}

export interface TransactionOptions {
  /**
   * The work takes no locks (`lock`, `readForUpdate`) and relies on no read being exclusive, as a
   * plain create: the store may run it in one transaction with other such work (PostgreSQL group
   * commit, src/store/shared-transactions.ts). If any of them fails, each runs again alone.
   */
  shareable?: boolean;
}

/** Whose data a compartment-scoped read covers: every patient, some patients, or a Group's members. */
export type PatientSet = { all: true } | { ids: string[] } | { group: string };

export interface ScanQuery {
  resourceType: string;
  /** Keyset: only ids after this one. */
  afterId?: string;
  /** Page size (ignored by countScan). */
  limit?: number;
  /** Only resources last updated at or after this instant. */
  since?: string;
  /** Only the patients' compartment and what it references (src/store/export-sql.ts). */
  patients?: PatientSet;
  /** Only these ids (a page of search matches, checked against `patients`). */
  ids?: string[];
}

export interface ScanRow {
  id: string;
  lastUpdated: string;
  json: string;
}
