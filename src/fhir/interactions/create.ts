import { issue, outcome } from '../../common/errors';
import { validateInProcess, withoutId } from '../../validation/validator';
import { findConditionalMatch } from '../conditional';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';
import { storeCreate } from '../write-path';

/**
 * `POST [base]/[type]`: the server assigns id and version; any id in the body is ignored
 * (http.html#create). With `If-None-Exist: [criteria]` it is a conditional create: an existing match
 * is returned with 200 instead of a duplicate, several matches are a 412 (http.html#ccreate).
 */
export async function create(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type } = req.params;
  const valid = await (req.validated ?? (ctx.validate ?? validateInProcess)(withoutId(req.body), type));
  const ifNoneExist = req.headers['if-none-exist'];
  // A plain create locks nothing and may share a transaction with other creates (PostgreSQL group
  // commit); a conditional one locks its criteria, some creates update other resources, and a
  // Subscription changes what the other writes of its transaction match (src/subscriptions/registry.ts).
  const followsUp = ctx.rules ? (ctx.rules.followsUpCreates?.(type) ?? true) : false;
  const shareable = !ifNoneExist && !followsUp && type !== 'Subscription';
  return ctx.repo.transaction(async (repo) => {
    if (ifNoneExist) {
      const existing = await findConditionalMatch(repo, type, ifNoneExist, req.baseUrl, 'If-None-Exist');
      if (existing) {
        const text = `${type}/${existing.id} already matches If-None-Exist: nothing created`;
        return { status: 200, version: existing, outcome: outcome(issue('informational', text, undefined, 'information')) };
      }
    }
    const version = await storeCreate(ctx, repo, valid, req.assignedId);
    return {
      status: 201,
      version,
      location: true,
      outcome: outcome(
        issue('informational', `Created ${type}/${version.id} version ${version.versionId}`, undefined, 'information'),
        ...valid.warnings,
      ),
    };
  }, { shareable });
}
