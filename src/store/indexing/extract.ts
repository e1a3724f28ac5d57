import { evalFhirPathTyped, toTypedValue, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { dateRange, MAX_DATE, MIN_DATE } from '../../common/date-range';
import { MAX_INDEXED_LENGTH, normalizeString } from '../../common/normalize';
import { searchParamsFor, type SearchParamDef } from '../../definitions/search-parameters';
import { emptyRows, type IndexRows } from './rows';

const LOCAL_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/.*)?$/;

/**
 * Evaluates every search parameter of the resource's type (FHIRPath, parsed once per parameter)
 * and turns the values into index rows. Runs at write time, in the write's transaction.
 */
export function extractIndexRows(resource: Resource): IndexRows {
  const rows = emptyRows();
  const input = [toTypedValue(resource)];
  for (const def of searchParamsFor(resource.resourceType).values()) {
    let values: TypedValue[];
    try {
      values = evalFhirPathTyped(def.atom, input);
    } catch {
      // An expression that cannot be evaluated on this resource indexes nothing (e.g. resolve() on a URL).
      continue;
    }
    for (const value of values) {
      addValue(rows, def, value);
    }
  }
  return dedupe(rows);
}

function addValue(rows: IndexRows, def: SearchParamDef, { type, value }: TypedValue): void {
  if (value === undefined || value === null) {
    return;
  }
  const param = def.code;
  switch (def.type) {
    case 'token':
      addTokens(rows, param, type, value);
      break;
    case 'uri':
      if (typeof value === 'string') {
        rows.token.push({ param, system: null, value: clip(value), text: null });
      }
      break;
    case 'string':
      addStrings(rows, param, type, value);
      break;
    case 'reference':
      addReference(rows, param, type, value);
      break;
    case 'date':
      addDate(rows, param, type, value);
      break;
    case 'number':
    case 'quantity':
      addNumber(rows, param, type, value);
      break;
    default:
      break;
  }
}

function addTokens(rows: IndexRows, param: string, type: string, value: unknown): void {
  const push = (system: unknown, code: unknown, text?: unknown): void => {
    const s = typeof system === 'string' ? clip(system) : null;
    const c = typeof code === 'string' || typeof code === 'boolean' ? clip(String(code)) : null;
    const t = typeof text === 'string' ? normalizeString(text) : null;
    if (s !== null || c !== null || t !== null) {
      rows.token.push({ param, system: s, value: c, text: t });
    }
  };
  const obj = value as Record<string, unknown>;
  switch (type) {
    case 'CodeableConcept':
      for (const coding of (obj.coding as Record<string, unknown>[] | undefined) ?? []) {
        push(coding.system, coding.code, coding.display);
      }
      if (typeof obj.text === 'string') {
        push(undefined, undefined, obj.text);
      }
      break;
    case 'Coding':
      push(obj.system, obj.code, obj.display);
      break;
    case 'Identifier':
      push(obj.system, obj.value, (obj.type as { text?: string } | undefined)?.text);
      break;
    case 'ContactPoint':
      push(obj.system, obj.value);
      break;
    default:
      if (typeof value === 'string' || typeof value === 'boolean') {
        push(undefined, value);
      }
  }
}

function addStrings(rows: IndexRows, param: string, type: string, value: unknown): void {
  const push = (s: unknown): void => {
    if (typeof s === 'string' && s !== '') {
      rows.string.push({ param, value: normalizeString(s), exact: clip(s) });
    }
  };
  const obj = value as Record<string, unknown>;
  switch (type) {
    case 'HumanName':
      push(obj.text);
      push(obj.family);
      for (const part of [obj.given, obj.prefix, obj.suffix]) {
        (part as string[] | undefined)?.forEach(push);
      }
      break;
    case 'Address':
      push(obj.text);
      (obj.line as string[] | undefined)?.forEach(push);
      [obj.city, obj.district, obj.state, obj.postalCode, obj.country].forEach(push);
      break;
    default:
      push(value);
  }
}

function addReference(rows: IndexRows, param: string, type: string, value: unknown): void {
  const reference =
    type === 'Reference' ? (value as { reference?: unknown }).reference : typeof value === 'string' ? value : undefined;
  if (typeof reference !== 'string') {
    return;
  }
  const local = LOCAL_REFERENCE.exec(reference);
  rows.reference.push(
    local
      ? { param, target_type: local[1], target_id: local[2], target_url: null }
      : { param, target_type: null, target_id: null, target_url: clip(reference) },
  );
}

function addDate(rows: IndexRows, param: string, type: string, value: unknown): void {
  if (typeof value === 'string') {
    const range = dateRange(value);
    if (range) {
      rows.date.push({ param, ...range });
    }
    return;
  }
  const obj = value as Record<string, unknown>;
  if (type === 'Period') {
    const start = typeof obj.start === 'string' ? dateRange(obj.start)?.low : undefined;
    const end = typeof obj.end === 'string' ? dateRange(obj.end)?.high : undefined;
    if (start || end) {
      rows.date.push({ param, low: start ?? MIN_DATE, high: end ?? MAX_DATE });
    }
  } else if (type === 'Timing') {
    for (const event of (obj.event as string[] | undefined) ?? []) {
      addDate(rows, param, 'dateTime', event);
    }
  }
}

function addNumber(rows: IndexRows, param: string, type: string, value: unknown): void {
  if (typeof value === 'number') {
    rows.number.push({ param, value, ...precisionRange(value), system: null, unit: null });
    return;
  }
  if (type === 'Quantity' || type === 'Age' || type === 'Duration' || type === 'Distance' || type === 'Count') {
    const q = value as { value?: unknown; system?: unknown; code?: unknown; unit?: unknown };
    if (typeof q.value === 'number') {
      rows.number.push({
        param,
        value: q.value,
        ...precisionRange(q.value),
        system: typeof q.system === 'string' ? clip(q.system) : null,
        unit: typeof q.code === 'string' ? clip(q.code) : typeof q.unit === 'string' ? clip(q.unit) : null,
      });
    }
  }
}

/** `eq 5.4` matches [5.35, 5.45): the range the value's significant digits stand for. */
export function precisionRange(value: number): { low: number; high: number } {
  const text = String(value);
  const decimals = text.includes('.') && !text.includes('e') ? text.split('.')[1].length : 0;
  const half = 0.5 * 10 ** -decimals;
  return { low: value - half, high: value + half };
}

function clip(s: string): string {
  return s.length > MAX_INDEXED_LENGTH ? s.slice(0, MAX_INDEXED_LENGTH) : s;
}

/**
 * One row per distinct value. For dates this is what date-ordered search relies on: a resource's
 * rows of one parameter differ in (low, high), so "the row with the smallest (low, high)" is one row.
 */
function dedupe(rows: IndexRows): IndexRows {
  const unique = <T>(list: T[], keyOf: (row: T) => string = (row) => JSON.stringify(row)): T[] => {
    const seen = new Set<string>();
    return list.filter((row) => {
      const key = keyOf(row);
      return seen.has(key) ? false : (seen.add(key), true);
    });
  };
  return {
    token: unique(rows.token),
    string: unique(rows.string),
    reference: unique(rows.reference),
    date: unique(rows.date, (row) => `${row.param}|${row.low}|${row.high}`),
    number: unique(rows.number),
  };
}
