import type { Bundle, BundleEntry, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { badRequest, FhirError, outcome, toFhirError } from '../../common/errors';
import { yieldToEventLoop } from '../../common/yield';
import { withoutId } from '../../validation/validator';
import type { Repository, RequiredReference } from '../../store/types';
import { findConditionalMatch, parseCriteria } from '../conditional';
import type { FhirRouter } from '../router';
import type { FhirContext, FhirHandler, FhirRequest, FhirResponse, HttpMethod } from '../types';
import { newId } from '../../common/ids';

const MAX_ENTRIES = 5000;
const METHODS = new Set<HttpMethod>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** Transactions run entries in this order, whatever their order in the Bundle (http.html#trules). */
const ORDER: Record<HttpMethod, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3 };
const REASONS: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified' };

interface PlannedEntry {
  index: number;
  entry: BundleEntry;
  req: FhirRequest;
  /** A conditional create that found its match while identities were resolved. */
  existing?: FhirResponse;
}

/**
 * `POST [base]` with a `transaction` or `batch` Bundle (http.html#transaction). Every entry is replayed
 * through the router, so it gets exactly the validation, rules, authorization and audit of the same
 * request sent alone. A transaction runs all entries in one database transaction: any failure rolls
 * everything back and the OperationOutcome names the entry. A batch answers each entry on its own.
 */
export function bundleHandler(router: FhirRouter): FhirHandler {
  return async (req, ctx) => {
    const bundle = checkBundle(req.body);
    const plan = (): PlannedEntry[] => (bundle.entry ?? []).map((entry, index) => ({ index, entry, req: entryRequest(entry, index, req) }));
    const representation = /(?:^|[,;\s])return=representation\b/.test(req.headers.prefer ?? '');
    if (bundle.type === 'batch') {
      return batch(router, ctx, plan(), representation);
    }
    // The entries' rows are written together (src/store/insert-buffer.ts), so a row the database
    // refuses may surface during a later entry. When that happens the Bundle is run once more, writing
    // each entry's rows before the next: the error then names its entry (or, after a race, the
    // second run succeeds). Only a failing Bundle pays for this.
    const run = (careful: boolean): Promise<FhirResponse> => ctx.repo.transaction(async (repo) => {
      // Planned afresh on every attempt: a unit that lost a race is run again, and resolving
      // identities changes the entries (conditional criteria consumed, ids assigned, references
      // rewritten); a second attempt on those would skip If-None-Exist and leave references dangling.
      const planned = plan();
      const deferred: RequiredReference[] = [];
      const txCtx: FhirContext = { ...ctx, repo, deferredReferences: deferred };
      await resolveIdentities(repo, planned);
      prevalidate(planned, ctx);
      const responses = new Map<number, FhirResponse>();
      for (const p of [...planned].sort((a, b) => ORDER[a.req.method] - ORDER[b.req.method] || a.index - b.index)) {
        await yieldToEventLoop();
        const first = deferred.length;
        try {
          responses.set(p.index, p.existing ?? (await router.handle(p.req, txCtx)));
          if (careful) {
            await repo.settleWrites();
          }
        } catch (err) {
          throw !careful && isDatabaseError(err) ? new UnattributedWriteFailure(err) : inEntry(err, p);
        }
        for (let i = first; i < deferred.length; i++) {
          deferred[i] = { ...deferred[i], expression: entryExpression(deferred[i].expression, p.index) };
        }
      }
      // Every entry is written: now each reference must point at something that exists.
      await repo.verifyReferences(deferred);
      return responseBundle('transaction-response', planned.map((p) => toEntry(responses.get(p.index)!, p, representation)));
    });
    return run(false).catch((err: unknown) => {
      if (err instanceof UnattributedWriteFailure || isDatabaseError(err)) {
        return run(true);
      }
      throw err;
    });
  };
}

/** A database error met during a transaction Bundle's entries, whose cause may be an earlier entry's rows. */
class UnattributedWriteFailure extends Error {
  constructor(cause: unknown) {
    super('A write of this transaction Bundle failed', { cause });
  }
}

/** An error from the database driver (it carries the driver's code), not one of ours. */
function isDatabaseError(err: unknown): boolean {
  return !(err instanceof FhirError) && typeof (err as { code?: unknown } | null)?.code === 'string';
}

const CREATE_PATH = /^([A-Z][A-Za-z]+)$/;
const UPDATE_PATH = /^([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}$/;

/**
 * Sends the body of every plain create and update through the write gate at once (on the worker
 * threads), before the entries are written one by one: validating entry i + 1 then overlaps writing
 * entry i. Each entry's handler awaits its own result, so errors are still reported for the first
 * failing entry in processing order. Runs after `urn:uuid:` references were rewritten.
 */
function prevalidate(planned: PlannedEntry[], ctx: FhirContext): void {
  const gate = ctx.validate;
  if (!gate) {
    return;
  }
  for (const p of planned) {
    const { req } = p;
    const hasQuery = Object.keys(req.query).length > 0;
    const create = req.method === 'POST' ? CREATE_PATH.exec(req.path) : null;
    const update = req.method === 'PUT' && !hasQuery ? UPDATE_PATH.exec(req.path) : null;
    const type = (create ?? update)?.[1];
    if (p.existing || !type) {
      continue;
    }
    req.validated = gate(create ? withoutId(req.body) : req.body, type);
    // Awaited by the entry's handler; an entry never reached (an earlier one failed) must not be
    // reported as an unhandled rejection.
    req.validated.catch(() => undefined);
  }
}

async function batch(
  router: FhirRouter,
  ctx: FhirContext,
  planned: PlannedEntry[],
  representation: boolean,
): Promise<FhirResponse> {
  const entries: BundleEntry[] = [];
  for (const p of planned) {
    await yieldToEventLoop();
    try {
      entries.push(toEntry(await router.handle(p.req, ctx), p, representation));
    } catch (err) {
      const error = toFhirError(err);
      entries.push({ response: { status: statusLine(error.status), outcome: error.outcome } });
    }
  }
  return responseBundle('batch-response', entries);
}

function checkBundle(body: unknown): Bundle {
  const bundle = body as Bundle | undefined;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle') {
    throw badRequest('POST to the base URL takes a Bundle of type transaction or batch', 'Bundle');
  }
  if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
    throw badRequest(`Bundle.type must be transaction or batch, got '${String(bundle.type)}'`, 'Bundle.type');
  }
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) {
    throw badRequest('Bundle.entry must be an array', 'Bundle.entry');
  }
  if ((bundle.entry?.length ?? 0) > MAX_ENTRIES) {
    throw badRequest(`A Bundle may have at most ${MAX_ENTRIES} entries`, 'Bundle.entry');
  }
  const fullUrls = new Set<string>();
  bundle.entry?.forEach((entry, i) => {
    if (entry?.fullUrl) {
      if (fullUrls.has(entry.fullUrl)) {
        throw badRequest(`Bundle.entry[${i}].fullUrl '${entry.fullUrl}' appears twice`, `Bundle.entry[${i}].fullUrl`);
      }
      fullUrls.add(entry.fullUrl);
    }
  });
  return bundle;
}

/** The FhirRequest an entry stands for: method, URL relative to the base, conditional headers, body. */
function entryRequest(entry: BundleEntry, index: number, outer: FhirRequest): FhirRequest {
  const at = `Bundle.entry[${index}]`;
  const request = entry?.request;
  if (!request || typeof request.url !== 'string' || !METHODS.has(request.method as HttpMethod)) {
    throw badRequest(`${at}.request needs a method (GET, POST, PUT, PATCH, DELETE) and a url`, `${at}.request`);
  }
  let url = request.url.startsWith(`${outer.baseUrl}/`) ? request.url.slice(outer.baseUrl.length + 1) : request.url;
  url = url.replace(/^\/+/, '');
  const question = url.indexOf('?');
  const path = question >= 0 ? url.slice(0, question) : url;
  if (path === '' || /^https?:/.test(path)) {
    throw badRequest(`${at}.request.url must be relative to this server, e.g. 'Patient' or 'Patient/123'`, `${at}.request.url`);
  }
  const method = request.method as HttpMethod;
  const query = question >= 0 ? parseCriteria(url.slice(question + 1), '') : {};
  const headers: Record<string, string | undefined> = {
    'if-none-exist': request.ifNoneExist,
    'if-match': request.ifMatch,
    'if-none-match': request.ifNoneMatch,
    'if-modified-since': request.ifModifiedSince,
  };
  return {
    method,
    path,
    params: {},
    query,
    body: method === 'PATCH' ? patchDocument(entry.resource, at) : entry.resource,
    headers,
    baseUrl: outer.baseUrl,
    auth: outer.auth,
    remoteAddress: outer.remoteAddress,
  };
}

/** In a Bundle, a JSON Patch travels as a Binary (http.html#patch). */
function patchDocument(resource: Resource | undefined, at: string): unknown {
  const binary = resource as { resourceType?: string; contentType?: string; data?: string } | undefined;
  if (binary?.resourceType !== 'Binary' || binary.contentType !== 'application/json-patch+json' || !binary.data) {
    throw badRequest(`${at}: a PATCH entry needs a Binary resource with contentType application/json-patch+json`, `${at}.resource`);
  }
  try {
    return JSON.parse(Buffer.from(binary.data, 'base64').toString('utf8'));
  } catch {
    throw badRequest(`${at}: the Binary's data is not a base64-encoded JSON Patch`, `${at}.resource.data`);
  }
}

/**
 * Gives every entry that creates a resource its id before anything is written, resolving conditional
 * creates and updates (under their locks, in this transaction), and rewrites references to the
 * entries' fullUrls (`urn:uuid:…`, `urn:oid:…` or absolute) into `Type/id`.
 */
async function resolveIdentities(repo: Repository, planned: PlannedEntry[]): Promise<void> {
  const ids = new Map<string, string>();
  for (const p of planned) {
    const { req, entry } = p;
    const type = req.path.split('/')[0];
    if (req.method === 'POST' && !req.path.includes('/')) {
      const criteria = req.headers['if-none-exist'];
      const match = criteria ? await findConditionalMatch(repo, type, criteria, req.baseUrl, `Bundle.entry[${p.index}].request.ifNoneExist`) : undefined;
      req.headers['if-none-exist'] = undefined;
      if (match) {
        p.existing = { status: 200, version: match };
        mapFullUrl(ids, entry, `${type}/${match.id}`);
      } else {
        req.assignedId = newId();
        mapFullUrl(ids, entry, `${type}/${req.assignedId}`);
      }
    } else if (req.method === 'PUT' && !req.path.includes('/') && Object.keys(req.query).length > 0) {
      const match = await findConditionalMatch(repo, type, req.query, req.baseUrl, `Bundle.entry[${p.index}].request.url`);
      const bodyId = (entry.resource as { id?: string } | undefined)?.id;
      const id = match?.id ?? bodyId ?? newId();
      req.path = `${type}/${id}`;
      req.query = {};
      req.body = { ...(entry.resource ?? {}), id };
      mapFullUrl(ids, entry, `${type}/${id}`);
    } else if (req.method === 'PUT') {
      mapFullUrl(ids, entry, req.path);
    }
  }
  for (const p of planned) {
    if (p.req.body && typeof p.req.body === 'object') {
      p.req.body = rewriteReferences(p.req.body, ids, p.index);
    }
  }
}

function mapFullUrl(ids: Map<string, string>, entry: BundleEntry, reference: string): void {
  if (entry.fullUrl) {
    ids.set(entry.fullUrl, reference);
  }
}

function rewriteReferences(value: unknown, ids: Map<string, string>, index: number): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => rewriteReferences(v, ids, index));
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === 'reference' && typeof child === 'string' && /^urn:(uuid|oid):/.test(child) && !ids.has(child)) {
      throw badRequest(
        `Bundle.entry[${index}]: reference '${child}' matches no entry's fullUrl in this transaction`,
        `Bundle.entry[${index}].resource`,
      );
    }
    out[key] = key === 'reference' && typeof child === 'string' && ids.has(child) ? ids.get(child) : rewriteReferences(child, ids, index);
  }
  return out;
}

/** An entry's failure as the transaction's failure: the entry index in every diagnostic and expression. */
function inEntry(err: unknown, p: PlannedEntry): FhirError {
  const error = toFhirError(err);
  const where = `Bundle.entry[${p.index}]`;
  const label = `${where} (${p.req.method} ${p.req.path})`;
  const issues: OperationOutcomeIssue[] = (error.outcome.issue ?? []).map((i) => ({
    ...i,
    diagnostics: `${label}: ${i.diagnostics ?? i.details?.text ?? 'failed'}`,
    expression: i.expression?.map((e) => (e.startsWith('Bundle.') ? e : entryExpression(e, p.index))) ?? [where],
  }));
  return new FhirError(error.status, outcome(...issues));
}

/** `ServiceRequest.subject` in entry 3 → `Bundle.entry[3].resource.subject`. */
function entryExpression(expression: string, index: number): string {
  return `Bundle.entry[${index}].resource${expression.includes('.') ? expression.slice(expression.indexOf('.')) : ''}`;
}

function toEntry(res: FhirResponse, p: PlannedEntry, representation: boolean): BundleEntry {
  const v = res.version;
  const entry: BundleEntry = {
    response: {
      status: statusLine(res.status),
      location: v && res.status === 201 ? `${v.resourceType}/${v.id}/_history/${v.versionId}` : undefined,
      etag: v ? `W/"${v.versionId}"` : undefined,
      lastModified: v?.lastUpdated,
      outcome: res.outcome && res.outcome.issue?.some((i) => i.severity === 'warning') ? res.outcome : undefined,
    },
  };
  if (v?.json && (representation || p.req.method === 'GET')) {
    entry.fullUrl = `${p.req.baseUrl}/${v.resourceType}/${v.id}`;
    entry.resource = JSON.parse(v.json) as Resource;
  } else if (res.body && p.req.method === 'GET') {
    entry.resource = res.body;
  }
  return entry;
}

function responseBundle(type: 'transaction-response' | 'batch-response', entry: BundleEntry[]): FhirResponse {
  return { status: 200, body: { resourceType: 'Bundle', type, entry } };
}

function statusLine(status: number): string {
  return REASONS[status] ? `${status} ${REASONS[status]}` : String(status);
}
