import { getDataType } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { SearchPlan } from './types';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** Whether `shapeResource` changes anything under this plan (`_summary` or `_elements` asked for). */
export function shapes(plan: SearchPlan): boolean {
  return keeperFor(plan) !== undefined;
}

/**
 * Applies `_summary` and `_elements` to a matched resource (search.html#summary, #elements): keeps the
 * requested (or summary) elements plus those a resource must always have, and tags the result as
 * SUBSETTED so no client mistakes it for the whole resource.
 */
export function shapeResource(resource: Resource, plan: SearchPlan): Resource {
  const keep = keeperFor(plan)?.(resource.resourceType);
  if (!keep) {
    return resource;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    if (keep(key)) {
      out[key] = value;
    }
  }
  const meta = { ...(resource.meta ?? {}) };
  meta.tag = [...(meta.tag ?? []), SUBSETTED];
  out.meta = meta;
  return out as unknown as Resource;
}

type Keep = (key: string) => boolean;

/** What `_elements` / `_summary` keep of a resource of a given type; undefined when they ask for nothing. */
function keeperFor(plan: SearchPlan): ((resourceType: string) => Keep) | undefined {
  if (plan.elements) {
    const wanted = new Set(plan.elements);
    return (resourceType) => keepOnly(resourceType, wanted);
  }
  switch (plan.summary) {
    case 'true':
      return (resourceType) => keepOnly(resourceType, getDataType(resourceType).summaryProperties ?? new Set<string>());
    case 'text':
      return (resourceType) => keepOnly(resourceType, new Set(['text']));
    case 'data':
      return () => (key) => key !== 'text';
    default:
      return undefined;
  }
}

/** The wanted elements, plus those every resource keeps and the type's mandatory ones. */
function keepOnly(resourceType: string, wanted: Set<string>): Keep {
  const mandatory = getDataType(resourceType).mandatoryProperties ?? new Set<string>();
  return (key) => ALWAYS_KEPT.has(key) || isElementOf(wanted, key) || isElementOf(mandatory, key);
}

const ALWAYS_KEPT = new Set(['resourceType', 'id', 'meta']);

/**
 * Whether a JSON property belongs to one of the named elements: `status` and its extensions
 * `_status`, or a choice element's typed form (`valueQuantity` for `value`).
 */
function isElementOf(names: Set<string>, key: string): boolean {
  const name = key.startsWith('_') ? key.slice(1) : key;
  if (names.has(name)) {
    return true;
  }
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] >= 'A' && name[i] <= 'Z' && names.has(name.slice(0, i))) {
      return true;
    }
  }
  return false;
}
