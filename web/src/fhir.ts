/** The page's FHIR client: same-origin `/fhir`, JSON, and the access token the user pasted (if any). */

export interface Issue {
  severity: string;
  code: string;
  diagnostics?: string;
  expression?: string[];
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: Issue[];
}

/** A non-2xx answer, with its OperationOutcome when the server sent one. */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome | undefined,
  ) {
    super(outcome?.issue.map((i) => i.diagnostics ?? i.code).join('; ') || `HTTP ${status}`);
  }
}

const TOKEN_KEY = 'sbf-access-token';

/** Kept for the browser tab only (sessionStorage): the page itself never holds a credential. */
export function token(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function setToken(value: string | undefined): void {
  if (value) {
    sessionStorage.setItem(TOKEN_KEY, value);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export async function fhir(path: string, init: { method?: string; body?: unknown } = {}): Promise<Json> {
  const headers: Record<string, string> = { Accept: 'application/fhir+json' };
  const t = token();
  if (t) {
    headers.Authorization = `Bearer ${t}`;
  }
  if (init.body !== undefined) {
    headers['Content-Type'] = 'application/fhir+json';
  }
  const res = await fetch(`/fhir/${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let body: Json;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    throw new FhirError(res.status, body?.resourceType === 'OperationOutcome' ? body : undefined);
  }
  return body;
}

/** The resources of a searchset Bundle, by type. */
export function entries(bundle: Json, type?: string): Json[] {
  return ((bundle?.entry ?? []) as { resource?: Json; search?: { mode?: string } }[])
    .map((e) => e.resource)
    .filter((r) => r && (!type || r.resourceType === type));
}
