/** One step of an element id below the root: `extension:injectate` → name `extension`, slice url. */
export interface Step {
  name: string;
  /** `value[x]`: the JSON key is name + type suffix. */
  choice: boolean;
  /** Only items whose `url` equals this (extension slices). */
  sliceUrl?: string;
}

/** A value found in a resource, with its FHIRPath-style location and FHIR type when known. */
export interface Located {
  value: unknown;
  path: string;
  /** FHIR type: the choice suffix (`integer`, `Quantity`) or the element's declared type. */
  type?: string;
}

const PRIMITIVES = new Set([
  'boolean', 'integer', 'string', 'decimal', 'uri', 'url', 'canonical', 'base64Binary', 'instant', 'date',
  'dateTime', 'time', 'code', 'oid', 'id', 'markdown', 'unsignedInt', 'positiveInt', 'uuid',
]);

/** `valueQuantity` → `Quantity`, `valueInteger` → `integer`, `valueDateTime` → `dateTime`. */
export function choiceType(key: string, name: string): string | undefined {
  if (key.length <= name.length || !key.startsWith(name)) {
    return undefined;
  }
  const suffix = key.slice(name.length);
  if (suffix[0] < 'A' || suffix[0] > 'Z') {
    return undefined;
  }
  const lower = suffix[0].toLowerCase() + suffix.slice(1);
  return PRIMITIVES.has(lower) ? lower : suffix;
}

/** The children of one parent value at one step: arrays are flattened with their indices in the path. */
export function childrenAt(parent: Located, step: Step, declaredType?: string): Located[] {
  const obj = parent.value;
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return [];
  }
  const record = obj as Record<string, unknown>;
  if (step.choice) {
    const out: Located[] = [];
    for (const key of Object.keys(record)) {
      const type = choiceType(key, step.name);
      if (type) {
        out.push({ value: record[key], path: `${parent.path}.${key}`, type });
      }
    }
    return out;
  }
  const raw = record[step.name];
  if (raw === undefined) {
    return [];
  }
  if (!Array.isArray(raw)) {
    return [{ value: raw, path: `${parent.path}.${step.name}`, type: declaredType }];
  }
  const out: Located[] = [];
  raw.forEach((item, i) => {
    if (step.sliceUrl === undefined || (item as { url?: unknown } | null)?.url === step.sliceUrl) {
      out.push({ value: item, path: `${parent.path}.${step.name}[${i}]`, type: declaredType });
    }
  });
  return out;
}

/** All values at the end of `steps`, starting from `roots`. */
export function valuesAt(roots: Located[], steps: readonly Step[], types: readonly (string | undefined)[]): Located[] {
  let current = roots;
  steps.forEach((step, i) => {
    current = current.flatMap((p) => childrenAt(p, step, types[i]));
  });
  return current;
}

/** Does `value` contain everything in `pattern` (FHIR pattern[x] semantics: arrays match item by item)? */
export function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    return Array.isArray(value) && pattern.every((p) => value.some((v) => matchesPattern(v, p)));
  }
  if (pattern !== null && typeof pattern === 'object') {
    if (value === null || typeof value !== 'object') {
      return false;
    }
    return Object.entries(pattern).every(([k, p]) => matchesPattern((value as Record<string, unknown>)[k], p));
  }
  return value === pattern;
}
