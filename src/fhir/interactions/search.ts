import type { Bundle, Resource } from '@medplum/fhirtypes';
import { outcome } from '../../common/errors';
import { encodeCursor, parseSearch } from '../../search/parse';
import { shapeResource, shapes } from '../../search/shape';
import type { IncludeSpec, SearchPage, SearchPlan } from '../../search/types';
import type { ResourceKey, StoredVersion } from '../../store/types';
import { storedBundleResponse, type StoredEntry } from '../bundle-json';
import type { FhirContext, FhirRequest, FhirResponse } from '../types';

/** Upper bound on resources added by _include/_revinclude to one page. */
const MAX_INCLUDED = 1000;

/**
 * `GET [base]/[type]?…` and `POST [base]/[type]/_search`: a `searchset` Bundle (search.html).
 * Paging is keyset-based: `next`/`previous` carry the sort keys of the page's last/first row, so
 * writes between page requests neither skip nor repeat matches.
 */
export async function search(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  const { type } = req.params;
  const query = req.method === 'POST' && isForm(req.body) ? { ...req.query, ...req.body } : req.query;
  const strict = /(?:^|[,;\s])handling=strict\b/.test(req.headers.prefer ?? '');
  const plan = parseSearch(type, query, { strict, baseUrl: req.baseUrl });

  const countOnly = plan.summary === 'count';
  const page: SearchPage = countOnly ? { rows: [], hasMore: false } : await ctx.repo.search({ ...plan });
  const total =
    plan.total === 'accurate' || plan.total === 'estimate' || countOnly
      ? await ctx.repo.count(plan)
      : !plan.cursor && !page.hasMore
        ? page.rows.length
        : undefined;

  const link = pagingLinks(req, plan, page);
  const included = await includes(ctx, plan, page);
  // Matches go out as stored unless `_summary` / `_elements` cut them; included resources as stored.
  const matchJson = (json: string): string => (shapes(plan) ? JSON.stringify(shapeResource(JSON.parse(json) as Resource, plan)) : json);
  const entries: StoredEntry[] = [
    ...page.rows.map((row) => ({ fullUrl: `${req.baseUrl}/${row.resourceType}/${row.id}`, json: matchJson(row.json), search: { mode: 'match' as const } })),
    ...included.map((version) => ({ fullUrl: `${req.baseUrl}/${version.resourceType}/${version.id}`, json: version.json, search: { mode: 'include' as const } })),
  ];
  if (plan.warnings.length > 0) {
    entries.push({ json: JSON.stringify(outcome(...plan.warnings)), search: { mode: 'outcome' } });
  }
  return storedBundleResponse({ resourceType: 'Bundle', type: 'searchset', total, link }, entries);
}

function isForm(body: unknown): body is Record<string, string | string[]> {
  return body !== null && typeof body === 'object' && !Array.isArray(body) && !('resourceType' in body);
}

/**
 * `_include` from the matches and `_revinclude` onto them; then the `:iterate` specs once more over
 * what that found (one level, e.g. order → procedures → their outcome observations).
 */
async function includes(ctx: FhirContext, plan: SearchPlan, page: SearchPage): Promise<StoredVersion[]> {
  if (page.rows.length === 0 || (plan.include.length === 0 && plan.revinclude.length === 0)) {
    return [];
  }
  const seen = new Set(page.rows.map((r) => `${r.resourceType}/${r.id}`));
  const found: StoredVersion[] = [];
  let frontier: ResourceKey[] = page.rows.map((r) => ({ resourceType: r.resourceType, id: r.id }));
  for (const iterating of [false, true]) {
    const applies = (spec: IncludeSpec): boolean => !iterating || spec.iterate;
    const keys: ResourceKey[] = [];
    for (const spec of plan.include.filter(applies)) {
      const sourceIds = frontier.filter((f) => f.resourceType === spec.sourceType).map((f) => f.id);
      if (sourceIds.length > 0) {
        keys.push(...(await ctx.repo.referencedBy(spec.sourceType, sourceIds, spec.param, spec.targetType)));
      }
    }
    for (const spec of plan.revinclude.filter(applies)) {
      const targetTypes = new Set(frontier.map((f) => f.resourceType));
      for (const targetType of targetTypes) {
        if (spec.targetType && spec.targetType !== targetType) {
          continue;
        }
        const ids = frontier.filter((f) => f.resourceType === targetType).map((f) => f.id);
        const sources = await ctx.repo.referencing(spec.sourceType, spec.param, targetType, ids);
        keys.push(...sources.map((id) => ({ resourceType: spec.sourceType, id })));
      }
    }
    const fresh = keys.filter((k) => !seen.has(`${k.resourceType}/${k.id}`) && seen.add(`${k.resourceType}/${k.id}`));
    const loaded = await ctx.repo.readMany(fresh.slice(0, MAX_INCLUDED - found.length));
    found.push(...loaded);
    frontier = loaded.map((v) => ({ resourceType: v.resourceType, id: v.id }));
    if (frontier.length === 0 || found.length >= MAX_INCLUDED) {
      break;
    }
  }
  return found;
}

function pagingLinks(req: FhirRequest, plan: SearchPlan, page: SearchPage): Bundle['link'] {
  const base = { ...req.query, ...(req.method === 'POST' && isForm(req.body) ? req.body : {}) };
  delete base._cursor;
  const url = (cursor?: string): string => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(base)) {
      for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
        params.append(k, one);
      }
    }
    if (cursor) {
      params.set('_cursor', cursor);
    }
    const qs = params.toString();
    return `${req.baseUrl}/${plan.resourceType}${qs ? `?${qs}` : ''}`;
  };
  const links: NonNullable<Bundle['link']> = [
    { relation: 'self', url: url(typeof req.query._cursor === 'string' ? req.query._cursor : undefined) },
  ];
  const backwards = plan.cursor?.direction === 'prev';
  const first = page.rows[0];
  const last = page.rows[page.rows.length - 1];
  if (last && (backwards || page.hasMore)) {
    links.push({ relation: 'next', url: url(encodeCursor({ keys: last.sortKeys, direction: 'next' })) });
  }
  if (first && plan.cursor && (!backwards || page.hasMore)) {
    links.push({ relation: 'previous', url: url(encodeCursor({ keys: first.sortKeys, direction: 'prev' })) });
  }
  return links;
}

