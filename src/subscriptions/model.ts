import type { Subscription } from '@medplum/fhirtypes';
import { FhirError, issue, outcome } from '../common/errors';
import type { SearchPlan } from '../search/types';
import { parseCriteria } from './criteria';

/** A Subscription as the matcher and the worker use it: parsed once per version. */
export interface SubscriptionInfo {
  id: string;
  versionId: string;
  status: Subscription['status'];
  /** The criteria's resource type: only writes of this type are tested. */
  resourceType: string;
  plan: SearchPlan;
  endpoint: string;
  /** `application/fhir+json` / `application/json`: send the resource; absent: an empty POST. */
  payload?: string;
  headers: [string, string][];
  /** R4 `Subscription.end`: no notifications after this instant. */
  end?: string;
}

const PAYLOADS = new Set(['application/fhir+json', 'application/json']);
/** Header names the HTTP client owns: letting a Subscription set them would break or smuggle requests. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'content-type', 'expect', 'upgrade']);
const HEADER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)$/;

/**
 * The write-time checks of a Subscription (after the common validation pipeline): what this
 * server can deliver. Returns the resource to store: `requested` becomes `active`, because the
 * server takes the subscription on at once (R4: the server sets the status).
 */
export function checkSubscription(resource: Subscription, baseUrl: string): Subscription {
  const problems = [];
  const channel = resource.channel;
  if (channel?.type !== 'rest-hook') {
    problems.push(
      issue('not-supported', `Subscription.channel.type '${channel?.type}' is not supported: only rest-hook`, 'Subscription.channel.type'),
    );
  }
  if (!isHttpUrl(channel?.endpoint)) {
    problems.push(
      issue('invalid', 'Subscription.channel.endpoint must be an absolute http or https URL', 'Subscription.channel.endpoint'),
    );
  }
  if (channel?.payload !== undefined && !PAYLOADS.has(channel.payload)) {
    problems.push(
      issue(
        'not-supported',
        `Subscription.channel.payload '${channel.payload}' is not supported: omit it (no body) or use application/fhir+json`,
        'Subscription.channel.payload',
      ),
    );
  }
  (channel?.header ?? []).forEach((h, i) => {
    const m = HEADER.exec(h);
    if (!m || RESERVED_HEADERS.has(m[1].toLowerCase())) {
      problems.push(
        issue('invalid', `Subscription.channel.header '${h.slice(0, 60)}' must be 'Name: value' and not a transport header`, `Subscription.channel.header[${i}]`),
      );
    }
  });
  try {
    parseCriteria(resource.criteria ?? '', baseUrl);
  } catch (err) {
    if (!(err instanceof FhirError)) {
      throw err;
    }
    problems.push(...(err.outcome.issue ?? []));
  }
  if (problems.length > 0) {
    throw new FhirError(422, outcome(...problems));
  }
  return resource.status === 'requested' ? { ...resource, status: 'active' } : resource;
}

/** A stored Subscription for matching and delivery; undefined when it cannot be used (stored before a rule changed). */
export function readSubscription(json: string, baseUrl: string): SubscriptionInfo | undefined {
  const sub = JSON.parse(json) as Subscription;
  const endpoint = sub.channel?.endpoint;
  if (!sub.id || sub.channel?.type !== 'rest-hook' || !isHttpUrl(endpoint)) {
    return undefined;
  }
  let plan: SearchPlan;
  try {
    plan = parseCriteria(sub.criteria ?? '', baseUrl);
  } catch {
    return undefined;
  }
  return {
    id: sub.id,
    versionId: sub.meta?.versionId ?? '',
    status: sub.status,
    resourceType: plan.resourceType,
    plan,
    endpoint,
    payload: sub.channel.payload,
    headers: (sub.channel.header ?? []).flatMap((h): [string, string][] => {
      const m = HEADER.exec(h);
      return m ? [[m[1], m[2]]] : [];
    }),
    end: sub.end,
  };
}

/** Whether new writes are queued for it: `error` ones too, so they are delivered once the receiver recovers. */
export function isLive(sub: SubscriptionInfo, nowMs: number): boolean {
  return (sub.status === 'active' || sub.status === 'error' || sub.status === 'requested') && !(sub.end && Date.parse(sub.end) <= nowMs);
}

function isHttpUrl(value: string | undefined): value is string {
  if (!value) {
    return false;
  }
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
