import type { Resource } from '@medplum/fhirtypes';
import { badRequest, issue, outcome } from '../../common/errors';
import { validateInProcess } from '../../validation/validator';
import { findConditionalMatch } from '../conditional';
import { parseIfMatch } from '../preconditions';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';
import { storeCreate, storeUpdate } from '../write-path';

/**
 * `PUT [base]/[type]/[id]`: a new version, or update-as-create when the client chooses the id
 * (http.html#update). `If-Match` makes it a version-aware update: stale → 412.
 * Submitting the current content again makes no new version.
 */
export async function update(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type, id } = req.params;
  const bodyId = (req.body as { id?: unknown } | null)?.id;
  if (bodyId === undefined) {
    throw badRequest(`The ${type} in the body must carry id '${id}' (the id in the URL)`, `${type}.id`);
  }
  if (bodyId !== id) {
    throw badRequest(`The body's id '${String(bodyId)}' does not match the URL's id '${id}'`, `${type}.id`);
  }
  const ifMatch = parseIfMatch(req.headers['if-match']);
  const valid = await (req.validated ?? (ctx.validate ?? validateInProcess)(req.body, type));
  return ctx.repo.transaction(async (repo) => {
    const result = await storeUpdate(ctx, repo, valid, ifMatch);
    const { version } = result;
    const what = result.created
      ? `Created ${type}/${id} version ${version.versionId}`
      : result.changed
        ? `Updated ${type}/${id} to version ${version.versionId}`
        : `No change: ${type}/${id} already has this content (version ${version.versionId})`;
    return {
      status: result.created ? 201 : 200,
      version,
      location: result.created,
      changed: result.changed,
      outcome: outcome(issue('informational', what, undefined, 'information'), ...valid.warnings),
    };
  });
}

/**
 * `PUT [base]/[type]?[criteria]` (http.html#cond-update): no match → create (with the body's id if it
 * has one), one match → update it, several → 412. Serialised per criteria like conditional create.
 */
export async function conditionalUpdate(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type } = req.params;
  const criteria = conditionalCriteria(req);
  const ifMatch = parseIfMatch(req.headers['if-match']);
  return ctx.repo.transaction(async (repo) => {
    const match = await findConditionalMatch(repo, type, criteria, req.baseUrl, 'Conditional update');
    const bodyId = (req.body as { id?: unknown } | null)?.id;
    if (match && bodyId !== undefined && bodyId !== match.id) {
      throw badRequest(`The body's id '${String(bodyId)}' differs from the matching ${type}/${match.id}`, `${type}.id`);
    }
    if (!match && typeof bodyId === 'string') {
      return update({ ...req, params: { type, id: bodyId } }, { ...ctx, repo });
    }
    const body = { ...(req.body as Resource), ...(match ? { id: match.id } : {}) };
    const valid = await (ctx.validate ?? validateInProcess)(body, type);
    if (!match) {
      const version = await storeCreate(ctx, repo, valid);
      const text = `Created ${type}/${version.id}: nothing matched the criteria`;
      return { status: 201, version, location: true, outcome: outcome(issue('informational', text, undefined, 'information')) };
    }
    const result = await storeUpdate(ctx, repo, valid, ifMatch);
    const text = `Updated ${type}/${match.id} (matched the criteria) to version ${result.version.versionId}`;
    return {
      status: 200,
      version: result.version,
      changed: result.changed,
      outcome: outcome(issue('informational', text, undefined, 'information'), ...valid.warnings),
    };
  });
}

/** The criteria of a conditional interaction: the query, without parameters of the exchange. */
export function conditionalCriteria(req: FhirRequest): Record<string, string | string[] | undefined> {
  const { _format: _f, _pretty: _p, ...criteria } = req.query;
  if (Object.keys(criteria).length === 0) {
    throw badRequest(`A conditional ${req.method} on ${req.params.type} needs search criteria in the URL`);
  }
  return criteria;
}
