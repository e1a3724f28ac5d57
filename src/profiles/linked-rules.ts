import { toTypedValue } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { checkRootConstraints } from './check';
import type { CompiledProfile } from './compile';

const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

export type ResourceReader = (resourceType: string, id: string) => Promise<Resource | undefined>;

/**
 * Invariants that look at another resource through `resolve()` (e.g. sbf-timing-1: a post-block
 * measurement must belong to a completed or in-progress Procedure). The validator cannot read the
 * database, so the referenced resources are read first and embedded as `Reference.resource`,
 * which @medplum/core's `resolve()` returns; then the invariants are evaluated as usual.
 */
export async function checkLinkedRules(resource: Resource, profiles: CompiledProfile[], read: ResourceReader): Promise<OperationOutcomeIssue[]> {
  const rules = profiles.filter((p) => p.linked.length > 0);
  if (rules.length === 0) {
    return [];
  }
  const copy = structuredClone(resource);
  await embedReferences(copy, read);
  const typed = toTypedValue(copy);
  return rules.flatMap((p) => checkRootConstraints(p.linked, typed, p.title));
}

async function embedReferences(value: unknown, read: ResourceReader, depth = 0): Promise<void> {
  if (depth > 16 || value === null || typeof value !== 'object') {
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      await embedReferences(item, read, depth + 1);
    }
    return;
  }
  const obj = value as Record<string, unknown>;
  const match = typeof obj.reference === 'string' ? RELATIVE.exec(obj.reference) : null;
  if (match) {
    const target = await read(match[1], match[2]);
    if (target) {
      obj.resource = target;
    }
    return;
  }
  for (const [key, child] of Object.entries(obj)) {
    if (key !== 'contained') {
      await embedReferences(child, read, depth + 1);
    }
  }
}
