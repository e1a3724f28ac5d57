import type { Resource } from '@medplum/fhirtypes';
import { badRequest, issue, outcome } from '../../common/errors';
import { validateForWrite } from '../../validation/pipeline';
import { parseIfMatch } from '../preconditions';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';

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
  const valid = validateForWrite(req.body, type);
  const result = await ctx.repo.update(valid.resource as Resource & { id: string }, {
    ifMatch,
    references: valid.references,
  });
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
}
