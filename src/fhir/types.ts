import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Repository, StoredVersion } from '../store/types';

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
}

export interface FhirResponse {
  status: number;
  /** A resource made for this response (Bundle, CapabilityStatement, OperationOutcome…). */
  body?: Resource;
  /** A stored resource version: its JSON is sent as stored, and ETag/Last-Modified come from it. */
  version?: StoredVersion;
  /** What happened, with any warnings: the body under `Prefer: return=OperationOutcome`. */
  outcome?: OperationOutcome;
  /** Send `Location` pointing at `version` (creates). */
  location?: boolean;
  /** False when a write found nothing to change (a no-op update): no new version was made. */
  changed?: boolean;
}

export interface FhirContext {
  repo: Repository;
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
