import { informational, notFound } from '../../common/errors';
import { parseIfMatch } from '../preconditions';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';

/**
 * `DELETE [base]/[type]/[id]`: records a deletion as a new version; history keeps every earlier one
 * (http.html#delete). Deleting an already deleted resource changes nothing and still succeeds.
 */
export async function remove(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type, id } = req.params;
  const ifMatch = parseIfMatch(req.headers['if-match']);
  const deletion = await ctx.repo.delete(type, id, { ifMatch });
  if (!deletion) {
    throw notFound(`${type}/${id} not found`);
  }
  const message = `Deleted ${type}/${id} (version ${deletion.versionId})`;
  return { status: 200, body: informational(message), outcome: informational(message) };
}
