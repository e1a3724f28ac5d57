import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Repository, RequiredReference, StoredVersion } from '../store/types';
import type { ExportService } from '../export/service';
import type { ValidatedResource } from '../validation/pipeline';
import type { Validator } from '../validation/validator';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A FHIR request, free of HTTP framework types: the REST layer and bundle entries both make these. */
export interface FhirRequest {
  method: HttpMethod;
  /** Path below the FHIR base, without leading slash or query, e.g. `ServiceRequest/123/_history`. */
  path: string;
  /** Filled by the router from the matched route. */
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
  body: unknown;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** Absolute base URL of the FHIR endpoint (e.g. `http://host:8080/fhir`), for Location and fullUrl. */
  baseUrl: string;
  /**
   * Who asks: set by the HTTP layer from the access token. Absent on nested calls (bundle entries
   * inherit the enclosing request's) and on in-process callers such as the seed command.
   */
  auth?: RequestAuth;
  /** Client network address, for the audit trail. */
  remoteAddress?: string;
  /** Create only: the id the server chose beforehand (transaction bundles, to rewrite `urn:uuid:` references). */
  assignedId?: string;
  /**
   * Create and update only: the body already sent through the write gate (transaction bundles submit
   * every entry at once, so validation on the worker threads overlaps the writes of earlier entries).
   */
  validated?: Promise<ValidatedResource>;
}

/** An authenticated client and what it was granted (src/auth). */
export interface RequestAuth {
  clientId: string;
  clientName?: string;
  /** Granted SMART scopes, e.g. `system/Observation.rs`, `system/*.read`. */
  scopes: readonly string[];
}

export interface FhirResponse {
  status: number;
  /** A resource made for this response (Bundle, CapabilityStatement, OperationOutcome…). */
  body?: Resource;
  /**
   * `body` already serialized, sent as it is (a searchset assembled from the stored JSON of its
   * resources); whoever needs the object reads `body`, which parses it.
   */
  json?: string;
  /** A stored resource version: its JSON is sent as stored, and ETag/Last-Modified come from it. */
  version?: StoredVersion;
  /** What happened, with any warnings: the body under `Prefer: return=OperationOutcome`. */
  outcome?: OperationOutcome;
  /** Send `Location` pointing at `version` (creates). */
  location?: boolean;
  /** False when a write found nothing to change (a no-op update): no new version was made. */
  changed?: boolean;
  /** More response headers (Bulk Data: `Content-Location`, `X-Progress`, `Retry-After`, `Expires`). */
  headers?: Record<string, string>;
  /** A body that is not FHIR JSON: a text (Bulk Data manifest), or a file streamed from disk (NDJSON). */
  content?: { type: string; text?: string; file?: string };
}

export interface FhirContext {
  repo: Repository;
  /** Domain rules run inside every write's transaction (src/domain), e.g. the block order lifecycle. */
  rules?: WriteRules;
  /**
   * Set by transaction Bundles: writes put the references they need here instead of checking them
   * at once, because an entry may point at one that is written later in the same transaction.
   */
  deferredReferences?: RequiredReference[];
  /** Authorization and audit around every interaction, bundle entries included (src/audit). */
  guard?: InteractionGuard;
  /** Bulk Data export jobs (src/export); absent in cores that serve no exports. */
  exports?: ExportService;
  /** The write gate (src/validation): on worker threads in the server; in process when absent. */
  validate?: Validator;
}

/**
 * Wraps each `router.handle`: `dispatch` matches the route and calls `onMatch` before the handler
 * runs, so the guard can refuse (throw) knowing the interaction and type, and audit the outcome.
 */
export interface InteractionGuard {
  run(
    req: FhirRequest,
    dispatch: (onMatch: (interaction: Interaction, matched: FhirRequest) => void) => Promise<FhirResponse>,
  ): Promise<FhirResponse>;
}

/** What a write is about to do, or did: the resource (undefined for a deletion) and its previous version. */
export interface WriteChange {
  resourceType: string;
  id: string;
  resource: Resource | undefined;
  previous: Resource | undefined;
}

/**
 * Domain rules around each write, in the write's transaction: `before` may refuse (throw a FhirError);
 * `after` returns follow-up updates (e.g. complete the order when its procedure completes), which go
 * through the same write path, validation included.
 */
export interface WriteRules {
  before(repo: Repository, change: WriteChange): Promise<void>;
  after(repo: Repository, change: WriteChange): Promise<Resource[]>;
  /**
   * False when creating a resource of this type never makes `before` or `after` lock anything, rely
   * on a read being exclusive, or write anything else: such a create may then share its transaction
   * with other creates (PostgreSQL group commit, src/store/shared-transactions.ts). Unset: true.
   */
  followsUpCreates?(resourceType: string): boolean;
}

export type FhirHandler = (req: FhirRequest, ctx: FhirContext) => Promise<FhirResponse>;

/** CapabilityStatement interaction codes (http://hl7.org/fhir/restful-interaction). */
export type Interaction =
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history-instance'
  | 'history-type'
  | 'create'
  | 'search-type'
  | 'capabilities'
  | 'history-system'
  | 'batch'
  | 'transaction'
  | 'search-system';
