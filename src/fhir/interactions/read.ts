import { gone, notFound } from '../../common/errors';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';

/** `GET [base]/[type]/[id]`: 404 if it never existed, 410 once deleted (http.html#read). */
export async function read(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type, id } = req.params;
  const version = await ctx.repo.read(type, id);
  if (!version) {
    throw notFound(`${type}/${id} not found`);
  }
  if (version.deleted) {
    throw gone(`${type}/${id} was deleted (version ${version.versionId}, ${version.lastUpdated})`);
  }
  return { status: 200, version };
}

/** `GET [base]/[type]/[id]/_history/[vid]` (http.html#vread). */
export async function vread(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type, id, vid } = req.params;
  const version = await ctx.repo.vread(type, id, vid);
  if (!version) {
    throw notFound(`${type}/${id} has no version ${vid}`);
  }
  if (version.deleted) {
    throw gone(`Version ${vid} of ${type}/${id} is its deletion (${version.lastUpdated})`);
  }
  return { status: 200, version };
}
