import type { SubscriptionInfo } from './model';
import type { OutboxRow } from './outbox';

export type DeliveryResult = { ok: true } | { ok: false; error: string; interrupted: boolean };

/**
 * One rest-hook notification: `POST channel.endpoint` with the subscription's headers
 * (R4 subscription-channel-type: "a POST to the URI with the selected payload and MIME type").
 * Without a payload (and always for a deletion) the body is empty; with one, it is the JSON of the
 * exact version that matched. Either way, headers say what happened, so an id-only receiver knows
 * what to read and can drop duplicates (the event number only grows per subscription).
 * 2xx is success; anything else, redirects included, a timeout or a network error is a failure.
 */
export async function deliver(
  sub: SubscriptionInfo,
  row: OutboxRow,
  body: string | undefined,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<DeliveryResult> {
  const headers: Record<string, string> = {};
  for (const [name, value] of sub.headers) {
    headers[name] = value;
  }
  headers['x-fhir-subscription'] = `Subscription/${sub.id}`;
  headers['x-fhir-event-number'] = String(row.seq);
  headers['x-fhir-event'] = row.event;
  headers['x-fhir-resource'] = `${row.resource_type}/${row.resource_id}/_history/${row.version_id}`;
  if (body !== undefined) {
    headers['content-type'] = `${sub.payload ?? 'application/fhir+json'}; charset=utf-8`;
  }
  // Errors are stored in Subscription.error and logged: never with the endpoint's query string.
  const where = withoutQuery(sub.endpoint);
  try {
    const response = await fetch(sub.endpoint, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) {
      return { ok: true };
    }
    return { ok: false, error: `HTTP ${response.status} from ${where}`, interrupted: false };
  } catch (err) {
    if (stop.aborted) {
      return { ok: false, error: 'delivery interrupted: server stopping', interrupted: true };
    }
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no response within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, error: `${why} from ${where}`, interrupted: false };
  }
}

function withoutQuery(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.origin}${url.pathname}`;
}
