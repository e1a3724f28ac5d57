import { informational, notFound } from '../../common/errors';
import { findConditionalMatch } from '../conditional';
import { parseIfMatch } from '../preconditions';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';
import { storeDelete } from '../write-path';
import { conditionalCriteria } from './update';

/**
 * `DELETE [base]/[type]/[id]`: records a deletion as a new version; history keeps every earlier one
 * (http.html#delete). Deleting an already deleted resource changes nothing and still succeeds.
 */
export async function remove(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type, id } = req.params;
  const ifMatch = parseIfMatch(req.headers['if-match']);
  return ctx.repo.transaction(async (repo) => {
    const deletion = await storeDelete(ctx, repo, type, id, ifMatch);
    const message = `Deleted ${type}/${id} (version ${deletion.versionId})`;
    return { status: 200, body: informational(message), outcome: informational(message) };
  });
}

/** `DELETE [base]/[type]?[criteria]`: deletes the single match; none → 404, several → 412. */
export async function conditionalRemove(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type } = req.params;
  const criteria = conditionalCriteria(req);
  return ctx.repo.transaction(async (repo) => {
    const match = await findConditionalMatch(repo, type, criteria, req.baseUrl, 'Conditional delete');
    if (!match) {
      throw notFound(`No ${type} matches the criteria: nothing deleted`);
    }
    const deletion = await storeDelete(ctx, repo, type, match.id, undefined);
    const message = `Deleted ${type}/${match.id} (version ${deletion.versionId})`;
    return { status: 200, body: informational(message), outcome: informational(message) };
  });
}
