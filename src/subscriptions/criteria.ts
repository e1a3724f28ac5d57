import { FhirError, fail } from '../common/errors';
import { isSupportedResourceType } from '../fhir/resource-types';
import { parseSearch } from '../search/parse';
import type { SearchPlan } from '../search/types';

/**
 * Types a criteria may not name: Subscriptions (the worker versions them when their status
 * changes, which must never notify anyone, least of all themselves) and AuditEvents (kept in their
 * own table, never written through the resource write path, so nothing could ever match).
 */
const NOT_SUBSCRIBABLE = new Set(['Subscription', 'AuditEvent']);

/** Parameters that shape a result page rather than select resources: meaningless for one written resource. */
const RESULT_PARAMS = new Set(['_count', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_cursor']);

const EXPRESSION = 'Subscription.criteria';

/**
 * Parses `Subscription.criteria` (`Type?param=value&…`, R4: a search "as if appended to the base
 * URL") into the search plan the matcher runs. Strict: a parameter the search would ignore is an
 * error here, since silently dropping it would notify about far more than asked for.
 */
export function parseCriteria(criteria: string, baseUrl: string): SearchPlan {
  const question = criteria.indexOf('?');
  const type = question < 0 ? criteria : criteria.slice(0, question);
  if (!isSupportedResourceType(type) || NOT_SUBSCRIBABLE.has(type)) {
    throw invalid(`'${type}' is not a resource type a Subscription can watch on this server`);
  }
  const query: Record<string, string[]> = {};
  for (const [key, value] of new URLSearchParams(question < 0 ? '' : criteria.slice(question + 1))) {
    if (RESULT_PARAMS.has(key.split(':')[0]) || key === '_format' || key === '_pretty') {
      throw invalid(`parameter '${key}' does not select resources and cannot be used in criteria`);
    }
    (query[key] ??= []).push(value);
  }
  try {
    return parseSearch(type, query, { strict: true, baseUrl });
  } catch (err) {
    if (err instanceof FhirError) {
      throw invalid(err.outcome.issue?.[0]?.diagnostics ?? 'not a valid search');
    }
    throw err;
  }
}

function invalid(why: string): FhirError {
  return fail(422, 'invalid', `Subscription.criteria: ${why}`, EXPRESSION);
}
