import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { issue } from '../common/errors';
import type { RequiredReference } from '../store/types';

const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

export interface ReferenceScan {
  /** Local references that must exist when the write commits. */
  required: RequiredReference[];
  /** References that can never resolve here (e.g. an unresolved `urn:uuid:` outside a bundle). */
  problems: OperationOutcomeIssue[];
}

/**
 * Finds every literal `Reference.reference` in a resource. Relative references (`Patient/123`)
 * point at this server and must exist; absolute URLs point elsewhere and are left alone;
 * `#id` points into `contained`; `urn:uuid:`/`urn:oid:` only make sense inside a bundle, which
 * rewrites them before validation, so one reaching here is an error.
 */
export function scanReferences(resource: Resource): ReferenceScan {
  const scan: ReferenceScan = { required: [], problems: [] };
  walk(resource, resource.resourceType, scan, 0);
  return scan;
}

function walk(value: unknown, path: string, scan: ReferenceScan, depth: number): void {
  if (depth > 64 || value === null || typeof value !== 'object') {
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => walk(item, `${path}[${index}]`, scan, depth + 1));
    return;
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.reference === 'string') {
    classify(obj.reference, path, scan);
  }
  for (const [key, child] of Object.entries(obj)) {
    // Contained resources resolve their own references against the container, not the server.
    if (key !== 'contained') {
      walk(child, `${path}.${key}`, scan, depth + 1);
    }
  }
}

function classify(reference: string, path: string, scan: ReferenceScan): void {
  const match = RELATIVE_REFERENCE.exec(reference);
  if (match) {
    scan.required.push({ resourceType: match[1], id: match[2], expression: path });
  } else if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
    scan.problems.push(
      issue('processing', `Reference '${reference}' can only be resolved inside a transaction or batch Bundle`, path),
    );
  } else if (!reference.startsWith('#') && !/^[a-z][a-z0-9+.-]*:/i.test(reference)) {
    scan.problems.push(
      issue('invalid', `Reference '${reference}' is neither 'Type/id', an absolute URL nor '#contained-id'`, path),
    );
  }
}
