import { badRequest, issue } from '../common/errors';
import { hasControlCharacters, printable } from '../common/control-characters';
import { dateRange } from '../common/date-range';
import { normalizeString } from '../common/normalize';
import { searchParam, type SearchParamDef } from '../definitions/search-parameters';
import { isSupportedResourceType, SUPPORTED_RESOURCE_TYPES } from '../fhir/resource-types';
import type {
  Condition,
  Cursor,
  IncludeSpec,
  Modifier,
  NumberValue,
  Prefix,
  SearchPlan,
  SearchValue,
  SortKey,
  ValueKind,
} from './types';

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;
/** Longest accepted parameter value: a search never needs more, and it bounds work per request. */
const MAX_VALUE_LENGTH = 2048;
const MAX_CONDITIONS = 50;

/** Parameters that shape the result rather than filter it (search.html#Summary, #sort, #include…). */
const RESULT_PARAMS = new Set(['_count', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_cursor']);
/** Parameters of the HTTP exchange, not of the search. */
const IGNORED_PARAMS = new Set(['_format', '_pretty']);
const PREFIXES = new Set<Prefix>(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);
const MODIFIERS_BY_TYPE: Record<string, readonly Modifier[]> = {
  token: ['not', 'missing', 'text'],
  uri: ['missing'],
  string: ['exact', 'contains', 'missing'],
  reference: ['missing'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
};

export interface ParseOptions {
  /** `Prefer: handling=strict`: unknown or unsupported parameters are errors, not warnings. */
  strict: boolean;
  /** This server's FHIR base URL: absolute references to it are treated as relative ones. */
  baseUrl: string;
}

/**
 * Parses a FHIR search query (search.html) into a plan the store can run. Every malformed value is a
 * 400 naming its parameter; unknown parameters are dropped with a warning, or rejected when strict.
 */
export function parseSearch(
  resourceType: string,
  query: Record<string, string | string[] | undefined>,
  options: ParseOptions,
): SearchPlan {
  const plan: SearchPlan = {
    resourceType,
    conditions: [],
    sort: [],
    count: DEFAULT_COUNT,
    total: 'none',
    include: [],
    revinclude: [],
    warnings: [],
  };
  const ignore = (name: string, why: string): void => {
    if (options.strict) {
      throw badRequest(`Search parameter '${name}' ${why}`, name);
    }
    plan.warnings.push(issue('not-supported', `Search parameter '${name}' ${why}; it was ignored`, name, 'warning'));
  };

  for (const [key, raw] of Object.entries(query)) {
    const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
    if (hasControlCharacters(key) || values.some(hasControlCharacters)) {
      throw badRequest(`Search parameter '${printable(key)}' contains control characters`, key);
    }
    for (const v of values) {
      if (v.length > MAX_VALUE_LENGTH) {
        throw badRequest(`Search parameter '${key}' has a value longer than ${MAX_VALUE_LENGTH} characters`, key);
      }
    }
    const base = key.split(':')[0];
    if (IGNORED_PARAMS.has(base)) {
      continue;
    }
    if (RESULT_PARAMS.has(base)) {
      parseResultParam(plan, key, values);
      continue;
    }
    for (const value of values) {
      const condition = parseCondition(resourceType, key, value, ignore, options);
      if (condition) {
        plan.conditions.push(condition);
      }
    }
    if (plan.conditions.length > MAX_CONDITIONS) {
      throw badRequest(`A search may combine at most ${MAX_CONDITIONS} conditions`);
    }
  }
  return plan;
}

function parseCondition(
  resourceType: string,
  key: string,
  value: string,
  ignore: (name: string, why: string) => void,
  ctx: ParseOptions,
): Condition | undefined {
  const dot = key.indexOf('.');
  if (dot > 0) {
    return parseChain(resourceType, key, dot, value, ignore, ctx);
  }
  const [code, modifierText, ...rest] = key.split(':');
  if (rest.length > 0) {
    throw badRequest(`Search parameter '${key}' has more than one modifier`, key);
  }
  const target = resolveParam(resourceType, code);
  if (!target) {
    ignore(key, `is not defined for ${resourceType}`);
    return undefined;
  }
  // `subject:Patient=123` — a type modifier on a reference parameter.
  if (target.type === 'reference' && modifierText && isSupportedResourceType(modifierText)) {
    const condition = buildCondition(key, target, undefined, value, ctx);
    for (const v of condition.values) {
      if (v.kind === 'reference') {
        if (v.reference.type && v.reference.type !== modifierText) {
          throw badRequest(`Search parameter '${key}': '${value}' is not a ${modifierText} reference`, key);
        }
        v.reference.type = modifierText;
      }
    }
    return condition;
  }
  const modifier = modifierText === undefined ? undefined : parseModifier(key, target.type, modifierText);
  return buildCondition(key, target, modifier, value, ctx);
}

interface ParamTarget {
  code: string;
  type: string;
  kind: ValueKind;
  def?: SearchParamDef;
}

function resolveParam(resourceType: string, code: string): ParamTarget | undefined {
  if (code === '_id') {
    return { code, type: 'token', kind: 'id' };
  }
  if (code === '_lastUpdated') {
    return { code, type: 'date', kind: 'lastUpdated' };
  }
  const def = searchParam(resourceType, code);
  return def ? { code, type: def.type, kind: kindOf(def.type), def } : undefined;
}

function kindOf(type: string): ValueKind {
  switch (type) {
    case 'token':
    case 'uri':
      return 'token';
    case 'quantity':
      return 'number';
    default:
      return type as ValueKind;
  }
}

function parseModifier(key: string, type: string, text: string): Modifier {
  const allowed = MODIFIERS_BY_TYPE[type] ?? [];
  if (!(allowed as string[]).includes(text)) {
    throw badRequest(
      `Search parameter '${key}': modifier ':${text}' is not supported for ${type} parameters` +
        (allowed.length ? ` (supported: ${allowed.map((m) => `:${m}`).join(', ')})` : ''),
      key,
    );
  }
  return text as Modifier;
}

function buildCondition(
  key: string,
  target: ParamTarget,
  modifier: Modifier | undefined,
  value: string,
  ctx: ParseOptions,
): Condition {
  if (modifier === 'missing') {
    if (value !== 'true' && value !== 'false') {
      throw badRequest(`Search parameter '${key}' takes true or false, got '${value}'`, key);
    }
    return { param: target.code, kind: target.kind, modifier, missing: value === 'true', values: [] };
  }
  const values = splitOr(value).map((v) => parseValue(key, target, modifier, v, ctx));
  if (values.length === 0) {
    throw badRequest(`Search parameter '${key}' has no value`, key);
  }
  return { param: target.code, kind: target.kind, modifier, values };
}

function parseValue(
  key: string,
  target: ParamTarget,
  modifier: Modifier | undefined,
  raw: string,
  ctx: ParseOptions,
): SearchValue {
  if (raw === '') {
    throw badRequest(`Search parameter '${key}' has an empty value`, key);
  }
  switch (target.type) {
    case 'token':
      if (modifier === 'text') {
        return { kind: 'text', text: normalizeString(unescape(raw)) };
      }
      return { kind: 'token', token: parseToken(raw, target.kind === 'id') };
    case 'uri':
      return { kind: 'token', token: { system: undefined, code: unescape(raw) } };
    case 'string':
      return { kind: 'string', text: modifier === 'exact' ? unescape(raw) : normalizeString(unescape(raw)) };
    case 'reference':
      return { kind: 'reference', reference: parseReference(unescape(raw), ctx.baseUrl) };
    case 'date':
      return { kind: 'date', date: parseDate(key, raw) };
    case 'number':
    case 'quantity':
      return { kind: 'number', number: parseNumber(key, raw, target.type === 'quantity') };
    default:
      throw badRequest(`Search parameter '${key}' has type ${target.type}, which this server cannot search`, key);
  }
}

function parseToken(raw: string, isId: boolean): { system?: string | null; code?: string } {
  const bar = indexOfUnescaped(raw, '|');
  if (isId || bar < 0) {
    return { code: unescape(raw) };
  }
  const system = unescape(raw.slice(0, bar));
  const code = unescape(raw.slice(bar + 1));
  return { system: system === '' ? null : system, code: code === '' ? undefined : code };
}

function parseReference(raw: string, baseUrl: string): { type?: string; id?: string; url?: string } {
  // An absolute URL on this server is the same as the relative reference.
  const relative = raw.startsWith(`${baseUrl}/`) ? raw.slice(baseUrl.length + 1) : raw;
  const local = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(relative);
  if (local) {
    return { type: local[1], id: local[2] };
  }
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(relative)) {
    return { id: relative };
  }
  return { url: raw };
}

function parseDate(key: string, raw: string): { prefix: Prefix; range: { low: string; high: string } } {
  const { prefix, rest } = splitPrefix(raw);
  const range = dateRange(rest);
  if (!range) {
    throw badRequest(
      `Search parameter '${key}': '${raw.slice(0, 60)}' is not a date (use [prefix]YYYY[-MM[-DD[Thh:mm[:ss][zone]]]], prefixes eq ne gt lt ge le sa eb ap)`,
      key,
    );
  }
  return { prefix, range };
}

function parseNumber(key: string, raw: string, quantity: boolean): NumberValue {
  const { prefix, rest } = splitPrefix(raw);
  const parts = quantity ? splitUnescaped(rest, '|') : [rest];
  if (parts.length > 3 || (!quantity && parts.length > 1)) {
    throw badRequest(`Search parameter '${key}': '${raw.slice(0, 60)}' is not a ${quantity ? 'quantity' : 'number'}`, key);
  }
  const [numberText, system, unit] = parts;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(numberText)) {
    throw badRequest(
      `Search parameter '${key}': '${raw.slice(0, 60)}' is not a ${quantity ? 'quantity ([prefix]number|system|code)' : 'number'}`,
      key,
    );
  }
  const value = Number(numberText);
  const decimals = numberText.includes('.') ? numberText.split('.')[1].replace(/[eE].*$/, '').length : 0;
  const half = 0.5 * 10 ** -decimals;
  return {
    prefix,
    value,
    low: value - half,
    high: value + half,
    system: system ? unescape(system) : undefined,
    unit: unit ? unescape(unit) : undefined,
  };
}

function splitPrefix(raw: string): { prefix: Prefix; rest: string } {
  const candidate = raw.slice(0, 2) as Prefix;
  return PREFIXES.has(candidate) && /^[a-z]{2}[0-9+\-.]/.test(raw)
    ? { prefix: candidate, rest: raw.slice(2) }
    : { prefix: 'eq', rest: raw };
}

function parseChain(
  resourceType: string,
  key: string,
  dot: number,
  value: string,
  ignore: (name: string, why: string) => void,
  ctx: ParseOptions,
): Condition | undefined {
  const head = key.slice(0, dot);
  const childKey = key.slice(dot + 1);
  if (childKey.includes('.')) {
    throw badRequest(`Search parameter '${key}': only one level of chaining is supported`, key);
  }
  const [code, typeModifier] = head.split(':');
  const target = resolveParam(resourceType, code);
  if (!target || target.type !== 'reference') {
    ignore(key, `does not start with a reference parameter of ${resourceType}`);
    return undefined;
  }
  const candidates = typeModifier ? [typeModifier] : (target.def?.target ?? []);
  const targetTypes = candidates.filter((t) => isSupportedResourceType(t) && resolveParam(t, childKey.split(':')[0]));
  if (targetTypes.length === 0) {
    throw badRequest(
      `Search parameter '${key}': '${childKey}' is not a search parameter of ${typeModifier ?? `any type '${code}' can point to on this server (${SUPPORTED_RESOURCE_TYPES.join(', ')})`}`,
      key,
    );
  }
  const inner = parseCondition(
    targetTypes[0],
    childKey,
    value,
    (name, why) => {
      throw badRequest(`Search parameter '${key}': '${name}' ${why}`, key);
    },
    ctx,
  )!;
  return { param: code, kind: 'reference', values: [], chain: { targetTypes, condition: inner } };
}

function parseResultParam(plan: SearchPlan, key: string, values: string[]): void {
  const base = key.split(':')[0];
  const one = (): string => {
    if (values.length !== 1) {
      throw badRequest(`Parameter '${key}' may be given only once`, key);
    }
    return values[0];
  };
  switch (base) {
    case '_count': {
      plan.count = parseCount(one());
      break;
    }
    case '_total': {
      const v = one();
      if (v !== 'none' && v !== 'estimate' && v !== 'accurate') {
        throw badRequest(`_total must be none, estimate or accurate, got '${v.slice(0, 40)}'`, '_total');
      }
      plan.total = v;
      break;
    }
    case '_summary': {
      const v = one();
      if (!['true', 'false', 'text', 'data', 'count'].includes(v)) {
        throw badRequest(`_summary must be true, false, text, data or count, got '${v.slice(0, 40)}'`, '_summary');
      }
      plan.summary = v as SearchPlan['summary'];
      break;
    }
    case '_elements': {
      const names = one().split(',').map((s) => s.trim()).filter(Boolean);
      if (names.some((n) => !/^[A-Za-z][A-Za-z0-9]*$/.test(n))) {
        throw badRequest('_elements must be a comma-separated list of element names', '_elements');
      }
      plan.elements = names;
      break;
    }
    case '_sort':
      plan.sort = one()
        .split(',')
        .map((s) => parseSortKey(plan.resourceType, s.trim()));
      break;
    case '_include':
    case '_revinclude': {
      const iterate = key.endsWith(':iterate');
      if (key !== base && !iterate) {
        throw badRequest(`Unknown modifier on ${key}`, key);
      }
      for (const v of values) {
        const spec = parseInclude(plan.resourceType, key, v, iterate, base === '_revinclude');
        (base === '_include' ? plan.include : plan.revinclude).push(spec);
      }
      break;
    }
    case '_cursor':
      plan.cursor = parseCursor(one());
      break;
  }
}

/** `_count`: a non-negative integer, capped at MAX_COUNT (search and history alike). */
export function parseCount(value: string): number {
  if (!/^\d{1,9}$/.test(value)) {
    throw badRequest(`_count must be a non-negative integer, got '${value.slice(0, 40)}'`, '_count');
  }
  return Math.min(Number(value), MAX_COUNT);
}

function parseSortKey(resourceType: string, text: string): SortKey {
  const descending = text.startsWith('-');
  const code = descending ? text.slice(1) : text;
  const target = resolveParam(resourceType, code);
  if (!target || target.type === 'composite') {
    throw badRequest(`_sort: '${code}' is not a search parameter of ${resourceType}`, '_sort');
  }
  return { param: code, kind: target.kind, descending };
}

function parseInclude(resourceType: string, key: string, value: string, iterate: boolean, reverse: boolean): IncludeSpec {
  const [sourceType, param, targetType, ...rest] = value.split(':');
  const usage = `${key} must be Type:parameter[:TargetType], e.g. ${reverse ? 'Procedure:based-on' : `${resourceType}:subject`}`;
  if (!sourceType || !param || rest.length > 0) {
    throw badRequest(usage, key);
  }
  if (!isSupportedResourceType(sourceType) || (targetType !== undefined && !isSupportedResourceType(targetType))) {
    throw badRequest(`${key}: '${value}' names a resource type this server does not serve`, key);
  }
  if (!reverse && !iterate && sourceType !== resourceType) {
    throw badRequest(`${key}: '${value}' must start with ${resourceType} (or use :iterate)`, key);
  }
  const def = searchParam(sourceType, param);
  if (!def || def.type !== 'reference') {
    throw badRequest(`${key}: '${param}' is not a reference search parameter of ${sourceType}`, key);
  }
  return { sourceType, param, targetType, iterate };
}

function parseCursor(text: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    if (
      (parsed.direction === 'next' || parsed.direction === 'prev') &&
      Array.isArray(parsed.keys) &&
      parsed.keys.every((k) => k === null || typeof k === 'string' || typeof k === 'number')
    ) {
      return { direction: parsed.direction, keys: parsed.keys };
    }
  } catch {
    // Falls through to the error below.
  }
  throw badRequest('_cursor is not a paging cursor from this server', '_cursor');
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/** Comma separates alternatives (OR); `\,` is a literal comma. */
function splitOr(value: string): string[] {
  return splitUnescaped(value, ',');
}

function splitUnescaped(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\' && i + 1 < value.length) {
      current += value[i] + value[i + 1];
      i++;
    } else if (value[i] === separator) {
      parts.push(current);
      current = '';
    } else {
      current += value[i];
    }
  }
  parts.push(current);
  return parts;
}

function indexOfUnescaped(value: string, ch: string): number {
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') {
      i++;
    } else if (value[i] === ch) {
      return i;
    }
  }
  return -1;
}

function unescape(value: string): string {
  return value.replace(/\\([,|$\\])/g, '$1');
}
