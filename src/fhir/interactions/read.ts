import { gone, notFound } from '../../common/errors';
import type { StoredVersion } from '../../store/types';
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
  return { status: notModified(req, version) ? 304 : 200, version };
}

/**
 * Conditional read (http.html#cread): `If-None-Match: W/"n"` naming the current version, or
 * `If-Modified-Since` not before its last update, answers 304 without a body.
 */
function notModified(req: FhirRequest, version: StoredVersion): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || tag.trim().replace(/^W\//, '') === `"${version.versionId}"`);
  }
  const ifModifiedSince = req.headers['if-modified-since'];
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    // HTTP dates have whole seconds: compare at that precision.
    return !Number.isNaN(since) && Math.floor(Date.parse(version.lastUpdated) / 1000) * 1000 <= since;
  }
  return false;
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
