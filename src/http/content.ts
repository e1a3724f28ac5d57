import type { NextFunction, Request, Response } from 'express';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { fail } from '../common/errors';

export const FHIR_JSON = 'application/fhir+json';

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json', 'fhir+json', 'application/json+fhir']);
const JSON_MEDIA = /^(?:application\/(?:fhir\+json|json|json\+fhir|\*)|\*\/\*)$/;

/**
 * Response format: `_format` wins over `Accept` (http.html#mime-type). This server speaks JSON only,
 * so a request that accepts nothing JSON-like (e.g. only XML) gets 406 before any work is done.
 */
export function negotiateResponseFormat(req: Request, _res: Response, next: NextFunction): void {
  const format = req.query._format;
  if (format !== undefined) {
    const value = Array.isArray(format) ? format[0] : format;
    if (typeof value !== 'string' || !JSON_FORMATS.has(value.split(';')[0].trim().toLowerCase().replace(' ', '+'))) {
      throw fail(406, 'not-supported', `_format '${String(value).slice(0, 40)}' is not supported: this server speaks JSON only`);
    }
    return next();
  }
  const accept = req.headers.accept;
  // Bulk Data files are NDJSON, and clients ask for them as such (Bulk Data IG, file request).
  if (accept && req.path.startsWith('/$export-file/') && /application\/(?:fhir\+)?ndjson/.test(accept)) {
    return next();
  }
  if (accept && !acceptsJson(accept)) {
    throw fail(406, 'not-supported', `Cannot produce '${accept.slice(0, 80)}': this server speaks application/fhir+json`);
  }
  next();
}

function acceptsJson(accept: string): boolean {
  return accept.split(',').some((part) => {
    const [media, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return JSON_MEDIA.test(media) && (!q || Number(q.slice(2)) > 0);
  });
}

/**
 * Request bodies: read raw (the size limit applies before parsing), then require a JSON media type
 * (415 otherwise), valid UTF-8 and valid JSON (400 with the position of the error).
 */
export function parseFhirJsonBody(req: Request, _res: Response, next: NextFunction): void {
  if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
    req.body = undefined;
    return next();
  }
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType === 'application/x-www-form-urlencoded' && req.method === 'POST' && req.path.endsWith('/_search')) {
    req.body = parseForm(req.body.toString('utf8'));
    return next();
  }
  const expected = req.method === 'PATCH' ? /^application\/(?:fhir\+json|json|json-patch\+json)$/ : /^application\/(?:fhir\+json|json)$/;
  if (!expected.test(mediaType)) {
    throw fail(
      415,
      'not-supported',
      `Content-Type '${mediaType || '(none)'}' is not supported: send application/fhir+json`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(req.body);
  } catch {
    throw fail(400, 'structure', 'The request body is not valid UTF-8');
  }
  try {
    req.body = JSON.parse(text);
  } catch (err) {
    throw fail(400, 'structure', `The request body is not valid JSON: ${describeJsonError(err, text)}`);
  }
  next();
}

/** A `_search` form body, shaped like Express's parsed query: repeated names become arrays. */
function parseForm(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const existing = out[key];
    out[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

/**
 * Names the line and column of a JSON syntax error. JSON.parse on Node 20 often gives no position,
 * so the text is re-scanned with jsonc-parser (strict: no comments, no trailing commas) to find it.
 */
function describeJsonError(err: unknown, text: string): string {
  const errors: ParseError[] = [];
  try {
    parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  } catch {
    // jsonc-parser recurses per nesting level: hostile depth overflows the stack. Say what we know.
    return 'nesting too deep to locate the error';
  }
  const first = errors[0];
  if (!first) {
    return (err instanceof Error ? err.message : String(err)).slice(0, 200);
  }
  const before = text.slice(0, first.offset);
  const line = before.split('\n').length;
  const column = first.offset - before.lastIndexOf('\n');
  return `${printParseErrorCode(first.error)} at line ${line}, column ${column} (offset ${first.offset})`;
}
