import type { CodeSystem, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { compileProfile, type CompiledProfile } from './compile';
import { readResourceFiles } from './package-files';
import { Terminology } from './terminology';

/** The loaded package: its conformance resources (served read-only) and the compiled profiles. */
export interface ProfileRegistry {
  /** Conformance resources by type, then id. */
  resources: Map<string, Map<string, Resource>>;
  terminology: Terminology;
  /** Compiled resource profiles by canonical URL (extensions are compiled into the profiles that use them). */
  profiles: Map<string, CompiledProfile>;
  /** Resource profiles per resource type, in package order. */
  candidates(resourceType: string): CompiledProfile[];
}

let registry: ProfileRegistry | undefined;

/** Loads profiles/ once per process: reads the JSON, expands the ValueSets and parses every FHIRPath invariant. */
export function profileRegistry(): ProfileRegistry {
  registry ??= buildRegistry(readResourceFiles().map((f) => f.resource));
  return registry;
}

export function buildRegistry(all: Resource[]): ProfileRegistry {
  const resources = new Map<string, Map<string, Resource>>();
  for (const r of all) {
    if (!resources.has(r.resourceType)) {
      resources.set(r.resourceType, new Map());
    }
    resources.get(r.resourceType)?.set(r.id as string, r);
  }
  const sds = all.filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition');
  const byUrl = new Map(sds.map((sd) => [sd.url as string, sd]));
  const terminology = new Terminology().add(
    all.filter((r): r is ValueSet | CodeSystem => r.resourceType === 'ValueSet' || r.resourceType === 'CodeSystem'),
  );
  const ctx = { terminology, findProfile: (url: string) => byUrl.get(url.split('|')[0]) };
  const cache = new Map<string, CompiledProfile>();
  const profiles = new Map<string, CompiledProfile>();
  for (const sd of sds) {
    if (sd.kind === 'resource') {
      profiles.set(sd.url as string, compileProfile(sd, ctx, cache));
    }
  }
  const byType = new Map<string, CompiledProfile[]>();
  for (const p of profiles.values()) {
    byType.set(p.type, [...(byType.get(p.type) ?? []), p]);
  }
  return { resources, terminology, profiles, candidates: (type) => byType.get(type) ?? [] };
}
