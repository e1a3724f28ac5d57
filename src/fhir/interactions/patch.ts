import type { Resource } from '@medplum/fhirtypes';
import { applyPatch, type Operation } from 'rfc6902';
import { badRequest, fail, FhirError, gone, issue, notFound, outcome } from '../../common/errors';
import { validateForWrite } from '../../validation/pipeline';
import { parseIfMatch } from '../preconditions';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';
import { storeUpdate } from '../write-path';

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);
const MAX_OPERATIONS = 1000;

/**
 * `PATCH [base]/[type]/[id]` with a JSON Patch (RFC 6902, `application/json-patch+json`): applied to
 * the current version inside the write transaction, then validated like any update, and stored only
 * if the version is still the one patched (http.html#patch).
 */
export async function patch(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type, id } = req.params;
  const operations = checkPatch(req.body);
  const ifMatch = parseIfMatch(req.headers['if-match']);
  return ctx.repo.transaction(async (repo) => {
    const current = await repo.readForUpdate(type, id);
    if (!current) {
      throw notFound(`${type}/${id} not found`);
    }
    if (current.deleted) {
      throw gone(`${type}/${id} was deleted`);
    }
    if (ifMatch !== undefined && ifMatch !== current.versionId) {
      throw fail(412, 'conflict', `Version conflict: ${type}/${id} is at version ${current.versionId}, not ${ifMatch}`);
    }
    const patched = JSON.parse(current.json!) as Resource;
    let errors: ReturnType<typeof applyPatch>;
    try {
      errors = applyPatch(patched, operations);
    } catch (err) {
      // rfc6902 throws (rather than reports) when a path goes through a primitive, e.g. /meta/x on a string.
      throw fail(422, 'processing', `The patch cannot be applied: ${err instanceof Error ? err.message.slice(0, 200) : 'invalid path'}`);
    }
    const failures = errors
      .map((error, index) => (error ? issue('processing', `Patch operation ${index} (${operations[index].op} ${operations[index].path}) failed: ${error.name}`, `Patch[${index}]`) : undefined))
      .filter((i) => i !== undefined);
    if (failures.length > 0) {
      throw new FhirError(422, outcome(...failures));
    }
    if (patched.resourceType !== type || patched.id !== id) {
      throw fail(422, 'processing', 'A patch may not change resourceType or id');
    }
    const { meta, ...rest } = patched;
    const { versionId: _v, lastUpdated: _l, ...clientMeta } = meta ?? {};
    const body = Object.keys(clientMeta).length > 0 ? { ...rest, meta: clientMeta } : rest;
    const valid = validateForWrite(body, type);
    // If-Match on the version read: a concurrent write between read and update makes this a 412, never a lost update.
    const result = await storeUpdate(ctx, repo, valid, current.versionId);
    const text = result.changed ? `Patched ${type}/${id} to version ${result.version.versionId}` : `Patch changed nothing`;
    return {
      status: 200,
      version: result.version,
      changed: result.changed,
      outcome: outcome(issue('informational', text, undefined, 'information'), ...valid.warnings),
    };
  });
}

/** The body must be a JSON Patch document: an array of operations with valid `op` and `path`. */
export function checkPatch(body: unknown): Operation[] {
  if (!Array.isArray(body)) {
    throw badRequest('A PATCH body must be a JSON Patch document (a JSON array of operations)');
  }
  if (body.length > MAX_OPERATIONS) {
    throw badRequest(`A JSON Patch may have at most ${MAX_OPERATIONS} operations`);
  }
  body.forEach((op: unknown, index) => {
    const o = op as { op?: unknown; path?: unknown; from?: unknown };
    if (op === null || typeof op !== 'object' || typeof o.op !== 'string' || !OPS.has(o.op) || typeof o.path !== 'string') {
      throw badRequest(`Patch operation ${index} must have an op (${[...OPS].join(', ')}) and a path`, `Patch[${index}]`);
    }
    // A pointer through __proto__ would reach Object.prototype: never a FHIR element anyway.
    if ([o.path, o.from].some((p) => typeof p === 'string' && /(^|\/)(__proto__|constructor|prototype)(\/|$)/.test(p))) {
      throw badRequest(`Patch operation ${index} points at a forbidden path`, `Patch[${index}]`);
    }
    if ((o.op === 'move' || o.op === 'copy') && typeof o.from !== 'string') {
      throw badRequest(`Patch operation ${index} (${o.op}) needs a from`, `Patch[${index}]`);
    }
    if (['add', 'replace', 'test'].includes(o.op) && !('value' in (op as object))) {
      throw badRequest(`Patch operation ${index} (${o.op}) needs a value`, `Patch[${index}]`);
    }
  });
  return body as Operation[];
}
