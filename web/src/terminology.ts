import { entries, fhir, type Json } from './fhir.js';

/** One choice of a coded field: the option value is `system|code`. */
export interface Choice {
  system: string;
  code: string;
  display: string;
}

const BASE = 'http://sympathetic-block-fhir.org/fhir/ValueSet/';

/**
 * The profiles' ValueSets, served by the server at /fhir/ValueSet, expanded here: listed concepts,
 * or every concept of an included CodeSystem (read from /fhir/CodeSystem).
 */
export async function loadValueSets(): Promise<Map<string, Choice[]>> {
  const valueSets = entries(await fhir('ValueSet?_count=200'), 'ValueSet');
  const codeSystems = new Map<string, Json>(entries(await fhir('CodeSystem?_count=200'), 'CodeSystem').map((cs) => [cs.url, cs]));
  const out = new Map<string, Choice[]>();
  for (const vs of valueSets) {
    const choices: Choice[] = [];
    for (const inc of vs.compose?.include ?? []) {
      const listed = inc.concept ?? codeSystems.get(inc.system)?.concept ?? [];
      for (const c of listed) {
        choices.push({ system: inc.system, code: c.code, display: c.display ?? c.code });
      }
    }
    out.set(String(vs.url).replace(BASE, ''), choices);
  }
  return out;
}

export function choiceValue(c: { system?: string; code?: string }): string {
  return `${c.system ?? ''}|${c.code ?? ''}`;
}

export function parseChoice(value: string, choices: Choice[]): Choice | undefined {
  return choices.find((c) => choiceValue(c) === value);
}
