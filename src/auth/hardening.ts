import type { NextFunction, Request, Response } from 'express';
import { fail } from '../common/errors';

/** Limits on what a URL may ask: generous for real searches, short of what makes work expensive. */
export const MAX_QUERY_LENGTH = 8192;
export const MAX_QUERY_VALUE_LENGTH = 2048;
export const MAX_QUERY_PARAMETERS = 100;

/** Search strings are length-limited before any parsing or SQL sees them. */
export function limitQuery(req: Request, _res: Response, next: NextFunction): void {
  const at = req.originalUrl.indexOf('?');
  if (at >= 0 && req.originalUrl.length - at - 1 > MAX_QUERY_LENGTH) {
    throw fail(414, 'too-costly', `The query string is longer than ${MAX_QUERY_LENGTH} characters`);
  }
  const entries = Object.entries(req.query as Record<string, unknown>);
  let count = 0;
  for (const [name, value] of entries) {
    for (const v of Array.isArray(value) ? value : [value]) {
      count++;
      if (typeof v === 'string' && v.length > MAX_QUERY_VALUE_LENGTH) {
        throw fail(400, 'too-costly', `Parameter '${name.slice(0, 40)}' is longer than ${MAX_QUERY_VALUE_LENGTH} characters`);
      }
    }
  }
  if (count > MAX_QUERY_PARAMETERS) {
    throw fail(400, 'too-costly', `More than ${MAX_QUERY_PARAMETERS} query parameters`);
  }
  next();
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Deeper than any FHIR resource (the schema gate allows 100); bounds the recursion below. */
const MAX_DEPTH = 200;

/**
 * Rejects JSON bodies with `__proto__`, `constructor` or `prototype` keys anywhere (also when
 * written with \u escapes, which JSON.parse decodes). JSON.parse itself makes them plain own
 * properties, but any later Object.assign or merge into a live object would turn them into
 * prototype pollution; no FHIR element has these names.
 */
export function rejectPrototypeKeys(req: Request, _res: Response, next: NextFunction): void {
  const path = findForbiddenKey(req.body, 0);
  if (path !== undefined) {
    throw fail(400, 'structure', `JSON key '${path}' is not allowed`);
  }
  next();
}

function findForbiddenKey(value: unknown, depth: number): string | undefined {
  if (value === null || typeof value !== 'object') {
    return undefined;
  }
  if (depth > MAX_DEPTH) {
    throw fail(400, 'structure', `The JSON body is nested more than ${MAX_DEPTH} levels deep`);
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findForbiddenKey(item, depth + 1);
      if (found !== undefined) {
        return found;
      }
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) {
      return key;
    }
    const found = findForbiddenKey((value as Record<string, unknown>)[key], depth + 1);
    if (found !== undefined) {
      return found;
    }
  }
  return undefined;
}
