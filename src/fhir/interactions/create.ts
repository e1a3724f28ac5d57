import { issue, outcome } from '../../common/errors';
import { validateForWrite } from '../../validation/pipeline';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';

/** `POST [base]/[type]`: the server assigns id and version; any id in the body is ignored (http.html#create). */
export async function create(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type } = req.params;
  const valid = validateForWrite(withoutId(req.body), type);
  const version = await ctx.repo.create(valid.resource, { references: valid.references });
  return {
    status: 201,
    version,
    location: true,
    outcome: outcome(
      issue('informational', `Created ${type}/${version.id} version ${version.versionId}`, undefined, 'information'),
      ...valid.warnings,
    ),
  };
}

function withoutId(body: unknown): unknown {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && 'id' in body) {
    const { id: _ignored, ...rest } = body as Record<string, unknown>;
    return rest;
  }
  return body;
}
