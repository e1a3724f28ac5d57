import type { Bundle } from '@medplum/fhirtypes';
import { badRequest } from '../../common/errors';
import type { StoredVersion } from '../../store/types';
import { DEFAULT_COUNT, parseCount } from '../../search/parse';
import { parseInstant } from '../params';
import { storedBundleResponse, type StoredEntry } from '../bundle-json';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';


/**
 * `GET [base]/_history`, `[base]/[type]/_history`, `[base]/[type]/[id]/_history`: a `history` Bundle,
 * newest first, with `_count` and `_since` (http.html#history). Paging is by cursor (a position in
 * the history sequence), so pages neither skip nor repeat versions while new ones are written.
 */
export async function history(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type, id } = req.params;
  const countParam = single(req, '_count');
  const count = countParam === undefined ? DEFAULT_COUNT : parseCount(countParam);
  const sinceParam = single(req, '_since');
  const since = sinceParam === undefined ? undefined : parseInstant(sinceParam, '_since');
  const cursor = single(req, '_cursor');
  const page = await ctx.repo.history({ resourceType: type, id, since, count, cursor });

  const selfUrl = `${req.baseUrl}/${req.path}${queryString(req.query)}`;
  const link: Bundle['link'] = [{ relation: 'self', url: selfUrl }];
  if (page.nextCursor) {
    link.push({
      relation: 'next',
      url: `${req.baseUrl}/${req.path}${queryString({ ...req.query, _cursor: page.nextCursor })}`,
    });
  }
  const head: Omit<Bundle, 'entry'> = { resourceType: 'Bundle', type: 'history', total: page.total, link };
  return storedBundleResponse(head, page.versions.map((v) => toEntry(v, req.baseUrl)));
}

function toEntry(version: StoredVersion, baseUrl: string): StoredEntry {
  const url = `${version.resourceType}/${version.id}`;
  const status = version.method === 'DELETE' ? '204 No Content' : version.versionId === '1' ? '201 Created' : '200 OK';
  return {
    fullUrl: `${baseUrl}/${url}`,
    json: version.json,
    request: { method: version.method, url: version.method === 'POST' ? version.resourceType : url },
    response: { status, etag: `W/"${version.versionId}"`, lastModified: version.lastUpdated },
  };
}

function single(req: FhirRequest, name: string): string | undefined {
  const value = req.query[name];
  if (Array.isArray(value)) {
    throw badRequest(`Parameter ${name} may be given only once`);
  }
  return value;
}


function queryString(query: FhirRequest['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      params.append(key, v);
    }
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}
