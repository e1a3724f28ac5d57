import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { hasControlCharacters } from '../common/control-characters';
import { issue } from '../common/errors';

const MAX_REPORTED = 20;

/**
 * FHIR JSON forbids empty strings, arrays and objects ("elements must have a value or children") and
 * control characters in strings; neither the JSON schema nor @medplum/core's validator checks these.
 */
export function findEmptyValues(resource: Record<string, unknown> & { resourceType: string }): OperationOutcomeIssue[] {
  const found: OperationOutcomeIssue[] = [];
  visit(resource, resource.resourceType, found, 0);
  return found;
}

function visit(value: unknown, path: string, found: OperationOutcomeIssue[], depth: number): void {
  if (found.length >= MAX_REPORTED || depth > 64) {
    return;
  }
  if (typeof value === 'string') {
    if (value === '') {
      found.push(issue('structure', `${path} must not be an empty string: omit the element instead`, path));
    } else if (hasControlCharacters(value)) {
      found.push(issue('structure', `${path} contains control characters (only tab, CR and LF are allowed in FHIR strings)`, path));
    }
  } else if (Array.isArray(value)) {
    if (value.length === 0) {
      found.push(issue('structure', `${path} must not be an empty array: omit the element instead`, path));
    }
    value.forEach((item, i) => visit(item, `${path}[${i}]`, found, depth + 1));
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) {
      found.push(issue('structure', `${path} must not be an empty object: omit the element instead`, path));
    }
    for (const [key, child] of entries) {
      visit(child, `${path}.${key}`, found, depth + 1);
    }
  }
}
