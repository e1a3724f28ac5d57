import { badRequest, fail } from '../common/errors';
import { parseSearch } from '../search/parse';
import type { Repository, StoredVersion } from '../store/types';

/**
 * Finds the resource that conditional criteria (`identifier=sys|123`) select, for conditional
 * create / update / delete (http.html#ccreate). Must run inside the write's transaction: it takes a
 * lock on the criteria first, so concurrent requests with the same criteria are serialised and
 * exactly one of them creates. Unknown parameters are errors here: ignoring one would widen the match.
 * Returns undefined for no match; more than one match is a 412.
 */
export async function findConditionalMatch(
  repo: Repository,
  resourceType: string,
  criteria: string | Record<string, string | string[] | undefined>,
  baseUrl: string,
  what: string,
): Promise<StoredVersion | undefined> {
  const query = typeof criteria === 'string' ? parseCriteria(criteria, resourceType) : criteria;
  const plan = parseSearch(resourceType, query, { strict: true, baseUrl });
  if (plan.conditions.length === 0) {
    throw badRequest(`${what} needs at least one search parameter to select a ${resourceType}`);
  }
  await repo.lock(`${resourceType}?${canonicalQuery(query)}`);
  const page = await repo.search({ ...plan, count: 2, cursor: undefined, sort: [] });
  if (page.rows.length > 1) {
    throw fail(412, 'duplicate', `${what} matches more than one ${resourceType}: make the criteria more selective`);
  }
  if (page.rows.length === 0) {
    return undefined;
  }
  return repo.read(resourceType, page.rows[0].id);
}

/** `identifier=a|b` or `Patient?identifier=a|b` → query object. */
export function parseCriteria(criteria: string, resourceType: string): Record<string, string | string[]> {
  const question = criteria.indexOf('?');
  if (question >= 0 && criteria.slice(0, question) !== resourceType) {
    throw badRequest(`Conditional criteria '${criteria.slice(0, 100)}' are not for ${resourceType}`);
  }
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(question >= 0 ? criteria.slice(question + 1) : criteria)) {
    const existing = out[key];
    out[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

function canonicalQuery(query: Record<string, string | string[] | undefined>): string {
  return Object.entries(query)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((one) => `${k}=${one}`))
    .sort()
    .join('&');
}
