import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { FhirError, fail, issue, outcome } from '../common/errors';
import type { IndexRows } from '../store/indexing/rows';
import type { RequiredReference } from '../store/types';
import { findEmptyValues } from './empty-values';
import { applyProfiles, type ProfileOptions } from './profile-stage';
import { validateAgainstBase } from './profile';
import { scanReferences } from './references';
import { validateStructure } from './schema';

/** A resource that passed every stage, with what the store must still check in its transaction. */
export interface ValidatedResource {
  resource: Resource;
  /** Local references the store verifies inside the write transaction. */
  references: RequiredReference[];
  /** Non-blocking issues, returned to the client with a successful write. */
  warnings: OperationOutcomeIssue[];
  /**
   * The resource's search index rows, when a validation worker extracted them (FHIRPath over every
   * search parameter: ~8 % of the main thread's time per create when done there). The store
   * extracts them itself when absent.
   */
  indexRows?: IndexRows;
}

export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * The one write gate. Every path that stores a resource (REST, bundles, seed/import) calls this:
 *   1. shape   - a JSON object of the expected resourceType, valid id       → 400
 *   2. schema  - FHIR R4 JSON schema (ajv), unknown elements, JSON types  → 400 structure
 *   3. base    - @medplum/core: cardinality, formats, invariants          → 422 processing/invariant
 *   4. profile - R4 required code bindings; block profiles (src/profiles) on ServiceRequest, Procedure,
 *                Observation, recorded in meta.profile; extensible bindings → warnings → 422
 *   5. refs    - literal references well-formed here; existence is checked by the store in-transaction → 422
 * Stages stop at the first that fails: later stages assume the earlier ones held.
 */
export function validateForWrite(body: unknown, expectedType: string, options: ProfileOptions = {}): ValidatedResource {
  const resource = checkShape(body, expectedType);

  const structural = [...validateStructure(resource), ...findEmptyValues(resource)];
  if (structural.length > 0) {
    throw new FhirError(400, outcome(...structural));
  }

  const baseIssues = validateAgainstBase(resource as unknown as Resource);
  const errors = baseIssues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length > 0) {
    throw new FhirError(422, outcome(...errors));
  }

  const profiled = applyProfiles(resource as unknown as Resource, options);
  if (profiled.errors.length > 0) {
    throw new FhirError(422, outcome(...profiled.errors));
  }

  const refs = scanReferences(profiled.resource);
  if (refs.problems.length > 0) {
    throw new FhirError(422, outcome(...refs.problems));
  }
  return {
    resource: profiled.resource,
    references: refs.required,
    warnings: [...baseIssues.filter((i) => i.severity === 'warning' || i.severity === 'information'), ...profiled.warnings],
  };
}

function checkShape(body: unknown, expectedType: string): Record<string, unknown> & { resourceType: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw fail(400, 'structure', `The request body must be a FHIR ${expectedType} resource (a JSON object)`);
  }
  const obj = body as Record<string, unknown>;
  if (obj.resourceType !== expectedType) {
    const found = typeof obj.resourceType === 'string' ? `'${obj.resourceType}'` : 'none';
    throw new FhirError(
      400,
      outcome(issue('invalid', `Expected resourceType '${expectedType}', found ${found}`, `${expectedType}.resourceType`)),
    );
  }
  if (obj.id !== undefined && (typeof obj.id !== 'string' || !ID_PATTERN.test(obj.id))) {
    throw fail(400, 'invalid', 'Resource id must be 1-64 characters of A-Z, a-z, 0-9, - and .', `${expectedType}.id`);
  }
  return obj as Record<string, unknown> & { resourceType: string };
}
