import fc from 'fast-check';

/**
 * Generators of hostile input for the property-based robustness test. Large values are generated
 * as small descriptors (`Big`) and only built when a case is sent, so a failing case prints short.
 */

/** A value too big to print: built on demand. */
export class Big {
  constructor(
    readonly kind: 'string' | 'array' | 'objects' | 'nested-arrays' | 'nested-objects',
    readonly size: number,
  ) {}
  build(): unknown {
    switch (this.kind) {
      case 'string':
        return 'x'.repeat(this.size);
      case 'array':
        return Array.from({ length: this.size }, (_, i) => `v${i}`);
      case 'objects':
        return Array.from({ length: this.size }, () => ({ family: 'x', junk: 1 }));
      default:
        // Deep values exist only as text: a placeholder here, spliced in by `serialize`, so the
        // test's own recursion (clone, walk, stringify) never meets them.
        return `${DEEP_MARK}${this.kind}:${this.size}${DEEP_MARK}`;
    }
  }
  [fc.toStringMethod](): string {
    return `Big(${this.kind}, ${this.size})`;
  }
}

const DEEP_MARK = '\u0001deep\u0001';
const DEEP_PLACEHOLDER = /"\\u0001deep\\u0001(nested-arrays|nested-objects):(\d+)\\u0001deep\\u0001"/g;

function deepText(kind: string, depth: number): string {
  return kind === 'nested-arrays'
    ? `${'['.repeat(depth)}"deep"${']'.repeat(depth)}`
    : `${'{"extension":['.repeat(depth)}"deep"${']}'.repeat(depth)}`;
}

const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800', // lone surrogate: valid JSON text (\ud800), not valid Unicode
  'x\udfffy',
  '\u202e\u200b\ufeff',
  "'; DROP TABLE resource; --",
  '" OR 1=1 --',
  '%',
  '_',
  '\\',
  '|',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '2026-13-45',
  '0000-00-00T25:61:61Z',
  '9999-12-31T23:59:59.999999999+14:00',
  '-2020-01-01',
  'Patient/',
  'Patient/../../x',
  'urn:uuid:00000000-0000-0000-0000-000000000000',
  'http://evil.example/Patient/1',
  '🩺'.repeat(50),
];

const HOSTILE_NUMBERS = [0, -1, -0, 1e308, -1e308, 5e-324, 2 ** 53 + 1, Number('12345678901234567890'), 1.5, 0.1 + 0.2, 2 ** 31, -(2 ** 31) - 1];

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...HOSTILE_NUMBERS) },
  { weight: 1, arbitrary: fc.double() }, // NaN and ±Infinity become null in JSON
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(true, false, null, [], {}, [null], { '': '' }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      new Big('string', 100_000),
      new Big('string', 2_000_000),
      new Big('array', 50_000),
      new Big('objects', 5_000),
      new Big('nested-arrays', 150),
      new Big('nested-arrays', 10_000),
      new Big('nested-objects', 120),
      new Big('nested-objects', 3_000),
    ),
  },
);

export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'resourceType',
    'id',
    'meta',
    'text',
    'contained',
    'extension',
    'modifierExtension',
    '_status',
    'status',
    'valueInteger',
    'valueString',
    'fhir_comments',
    '',
    ' ',
    'hasOwnProperty',
    'toString',
  ),
  fc.string({ maxLength: 12 }),
);

export type Op = 'delete' | 'replace' | 'add-key' | 'wrap-array' | 'unwrap' | 'stringify' | 'duplicate-array';

export interface Mutation {
  /** Which node of the resource tree (modulo the node count). */
  at: number;
  op: Op;
  key: string;
  value: unknown;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom<Op>('delete', 'replace', 'replace', 'add-key', 'wrap-array', 'unwrap', 'stringify', 'duplicate-array'),
  key: hostileKey,
  value: hostileValue,
});

/** Raw-text damage applied after serialisation: what a JSON library never produces. */
export type RawDamage =
  | { kind: 'none' }
  | { kind: 'duplicate-key'; key: string; value: unknown }
  | { kind: 'bad-utf8'; at: number; bytes: number[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'trailing'; text: string }
  | { kind: 'bom' }
  | { kind: 'escaped-proto' };

export const rawDamage: fc.Arbitrary<RawDamage> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<RawDamage>({ kind: 'none' }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('duplicate-key' as const), key: fc.constantFrom('resourceType', 'id', 'status', 'subject', '__proto__'), value: hostileValue }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bad-utf8' as const),
      at: fc.nat(),
      bytes: fc.constantFrom<number[]>([0xff], [0xc0, 0xaf], [0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('trailing' as const), text: fc.constantFrom(',', '}', ' {}', '\u0000', 'garbage', '\n\n') }) },
  { weight: 1, arbitrary: fc.constant<RawDamage>({ kind: 'bom' }) },
  { weight: 1, arbitrary: fc.constant<RawDamage>({ kind: 'escaped-proto' }) },
);

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/fhir+json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(undefined, 'application/json; charset=utf-8', 'application/fhir+json; charset=latin1', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x'),
  },
);

export function materialize(value: unknown): unknown {
  return value instanceof Big ? value.build() : value;
}

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

/** Every node of a JSON tree, as (parent, key) pairs. */
function slots(root: unknown): Slot[] {
  const out: Slot[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        out.push({ parent: node, key: i });
        walk(child);
      });
    } else if (node !== null && typeof node === 'object') {
      for (const [k, child] of Object.entries(node)) {
        out.push({ parent: node as Record<string, unknown>, key: k });
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

/** Sets a property as an own, enumerable key, even `__proto__` (which plain assignment would not). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
}

/** Applies mutations to a deep copy of `resource`. */
export function mutate(resource: unknown, mutations: Mutation[]): unknown {
  const root = { value: structuredClone(resource) as unknown };
  for (const m of mutations) {
    const all: Slot[] = [{ parent: root as unknown as Record<string, unknown>, key: 'value' }, ...slots(root.value)];
    const { parent, key } = all[m.at % all.length];
    const current = (parent as Record<string | number, unknown>)[key];
    const value = materialize(m.value);
    switch (m.op) {
      case 'delete':
        if (Array.isArray(parent)) {
          parent.splice(key as number, 1);
        } else if (parent !== (root as unknown)) {
          delete (parent as Record<string, unknown>)[key as string];
        }
        break;
      case 'replace':
        setSlot(parent, key, value);
        break;
      case 'add-key':
        if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
          setOwn(current as Record<string, unknown>, m.key, value);
        } else if (Array.isArray(current)) {
          current.push(value);
        } else {
          setSlot(parent, key, value);
        }
        break;
      case 'wrap-array':
        setSlot(parent, key, [current]);
        break;
      case 'unwrap':
        setSlot(parent, key, Array.isArray(current) ? current[0] : current);
        break;
      case 'stringify':
        setSlot(parent, key, JSON.stringify(current) ?? 'undefined');
        break;
      case 'duplicate-array':
        if (Array.isArray(current)) {
          current.push(...structuredClone(current));
        }
        break;
    }
  }
  return root.value;
}

function setSlot(parent: Slot['parent'], key: string | number, value: unknown): void {
  if (Array.isArray(parent)) {
    parent[key as number] = value;
  } else {
    setOwn(parent, key as string, value);
  }
}

/** Serialises a (mutated) value and applies raw damage to the bytes. */
export function serialize(value: unknown, damage: RawDamage): Buffer {
  let text = JSON.stringify(value) ?? 'null';
  switch (damage.kind) {
    case 'duplicate-key':
      text = text.startsWith('{') ? `{${JSON.stringify(damage.key)}:${JSON.stringify(materialize(damage.value)) ?? 'null'},${text.slice(1)}` : text;
      break;
    case 'truncate':
      text = text.slice(0, damage.at % Math.max(1, text.length));
      break;
    case 'trailing':
      text += damage.text;
      break;
    case 'escaped-proto':
      text = text.startsWith('{') ? `{"\\u005f_proto__":{"polluted":true},${text.slice(1)}` : text;
      break;
  }
  text = text.replace(DEEP_PLACEHOLDER, (_, kind: string, depth: string) => deepText(kind, Number(depth)));
  const bytes = Buffer.from(text, 'utf8');
  if (damage.kind === 'bom') {
    return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
  }
  if (damage.kind === 'bad-utf8') {
    const at = damage.at % (bytes.length + 1);
    return Buffer.concat([bytes.subarray(0, at), Buffer.from(damage.bytes), bytes.subarray(at)]);
  }
  return bytes;
}

/** JSON Patch operations aimed at the soft spots of a patch implementation. */
export const patchOperations: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: hostileValue },
  {
    weight: 5,
    arbitrary: fc.array(
      fc.record(
        {
          op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test', 'junk', ''),
          path: fc.constantFrom('/status', '/id', '/resourceType', '/meta/versionId', '/meta', '/name/0/family', '/name/99999', '/name/-', '', '/', '/__proto__/polluted', '/constructor/prototype/polluted', '/a~2b', '/name/0/../..', '/identifier/0/value'),
          from: fc.constantFrom('/name', '/identifier/0', '/__proto__', '/nope'),
          value: hostileValue,
        },
        { requiredKeys: ['op', 'path'] },
      ),
      { minLength: 1, maxLength: 4 },
    ),
  },
);

/** Bundle-level damage: the envelope and each entry's request. */
export interface BundleShape {
  type: string;
  entries: { base: number; mutations: Mutation[]; method: string; url: string; fullUrl: string; dropRequest: boolean }[];
  envelope: Mutation[];
}

export function bundleShape(baseCount: number): fc.Arbitrary<BundleShape> {
  return fc.record({
    type: fc.constantFrom('transaction', 'transaction', 'batch', 'collection', 'searchset', 'history', 'xyz', ''),
    entries: fc.array(
      fc.record({
        base: fc.nat({ max: baseCount - 1 }),
        mutations: fc.array(mutation, { maxLength: 2 }),
        method: fc.constantFrom('POST', 'POST', 'PUT', 'DELETE', 'GET', 'PATCH', 'HEAD', 'post', ''),
        url: fc.constantFrom('', 'auto', 'Patient', 'Patient/../../x', 'Patient?identifier=|', 'http://evil.example/x', 'metadata', '_history', 'Patient/$everything', 'Unknown/1', '%ZZ'),
        fullUrl: fc.constantFrom('', 'urn:uuid:6f1f6a3c-1c0d-4c1e-8f1e-000000000001', 'urn:uuid:not-a-uuid', 'urn:oid:1.2.3', 'http://x/Patient/1', 'auto'),
        dropRequest: fc.boolean(),
      }),
      { maxLength: 4 },
    ),
    envelope: fc.array(mutation, { maxLength: 1 }),
  });
}

const SEARCH_PARAMS = [
  'identifier', 'patient', 'subject', 'code', 'status', 'date', 'authored', 'based-on', 'part-of', 'performer',
  'value-quantity', 'family', 'name', 'birthdate', 'gender', '_id', '_lastUpdated', '_sort', '_count', '_total',
  '_include', '_revinclude', '_revinclude:iterate', '_elements', '_summary', '_format', '_pretty', '_has:Observation:patient:code',
  'subject:Patient.identifier', 'based-on.identifier', 'name:contains', 'name:exact', 'code:text', 'code:not', 'identifier:missing',
  'subject:Patient', 'date:ap', '_text', '_content', '_filter', '_query', '_type', '_since', '_at', '_list',
];

const SEARCH_VALUES = [
  "'; DROP TABLE resource; --", '%25', '%', '%ZZ', '%FF%FE', '%C0%AF', '%00', '_', '\\', '|', '||||', 'a|b|c', 'ge', 'eq2026-13-01',
  'ap2026', 'sa', 'lt-1', '1e400', '-1', '0', '99999999999999999999', 'NaN', 'Infinity', 'Patient/', 'Patient/../x', ',,,,', '*',
  'Patient:subject', 'Observation:*', 'Procedure:based-on:ServiceRequest', 'name,-_id,,-', '-', 'true', 'count', 'x'.repeat(2100),
  '2026-01-01T00:00:00+99:99', 'http://loinc.org|72514-3', '5.4|http://unitsofmeasure.org|Cel', 'gt5e999', '🩺',
];

/** A raw query string: names and values hostile, encoded correctly or not at all. */
export const searchQuery: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...SEARCH_PARAMS) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
      fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...SEARCH_VALUES) }, { weight: 2, arbitrary: fc.string({ maxLength: 30, unit: 'binary' }) }),
      fc.boolean(),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((pairs) => pairs.map(([name, value, encode]) => `${encodeLoose(name)}=${encode ? encodeLoose(value) : rawish(value)}`).join('&'));

/** encodeURIComponent, but a lone surrogate becomes the invalid UTF-8 bytes a broken client would send. */
function encodeLoose(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return s.replace(/[\ud800-\udfff]/g, '%ED%A0%80').replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
  }
}

/** Leaves %-sequences as they are (malformed ones included); only what would break the URL is escaped. */
function rawish(s: string): string {
  return [...s].map((c) => (/[\s#&?]/.test(c) || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) > 0x7e ? encodeLoose(c) : c)).join('');
}

export const SEARCH_TYPES = ['Patient', 'Practitioner', 'ServiceRequest', 'Procedure', 'Observation', 'Subscription', 'AuditEvent', 'Provenance', 'Foo', ''];

const PATH_SEGMENTS = [
  'Patient', 'Observation', 'Foo', '', '_history', '_search', '$validate', '$everything', '$export', 'metadata', '1', '0', '-1',
  'a%00b', '%00', '%FF', '%ZZ', '%2F', '..', '.', '%2e%2e', 'x'.repeat(300), "'%20OR%201=1", '%F0%9F%A9%BA', 'Patient%3F', '*',
];

/** A raw path below /fhir: 1 to 5 segments, none escaped further. */
export const hostilePath: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PATH_SEGMENTS) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }).map(encodeLoose) }), {
    minLength: 1,
    maxLength: 5,
  })
  .map((segments) => `/${segments.join('/')}`);
