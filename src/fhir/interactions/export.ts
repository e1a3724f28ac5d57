import { INTERNAL_AUTH, requirePermission } from '../../auth/authorize';
import { badRequest, fail, FhirError, gone, informational, notFound } from '../../common/errors';
import { kickoffInput, parseExportParams, type ExportKind } from '../../export/params';
import type { JobProgress } from '../../export/runner';
import type { ExportService } from '../../export/service';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { FhirContext, FhirHandler, FhirRequest, FhirResponse } from '../types';

/** A FHIR id (R4 `id` datatype): anything else names no stored resource. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** Seconds a client should wait between status requests while a job runs. */
const RETRY_AFTER_SECONDS = 2;

/**
 * Bulk Data kick-off (`$export`, `Patient/$export`, `Group/[id]/$export`; Bulk Data IG v2): checks the
 * request, queues a job and answers 202 with the status URL in `Content-Location`. The job runs in
 * the background (src/export/runner.ts).
 */
export function exportKickoff(kind: ExportKind): FhirHandler {
  return async (req, ctx) => {
    const service = exportsOf(ctx);
    const prefer = req.headers.prefer ?? '';
    if (!/(?:^|[,;\s])respond-async\b/.test(prefer)) {
      throw badRequest('$export runs asynchronously: send the header Prefer: respond-async');
    }
    let group: string | undefined;
    if (kind === 'group') {
      group = req.params.id;
      const stored = FHIR_ID.test(group) ? await ctx.repo.read('Group', group) : undefined;
      if (!stored) {
        throw notFound(`Group/${group} is not known`);
      }
      if (stored.deleted) {
        throw gone(`Group/${group} was deleted`);
      }
    }
    const params = parseExportParams(kind, kickoffInput(req.query, req.method === 'POST' ? req.body : undefined), {
      lenient: /(?:^|[,;\s])handling=lenient\b/.test(prefer),
      baseUrl: req.baseUrl,
      group,
    });
    const auth = req.auth ?? INTERNAL_AUTH;
    // Exporting a type is reading all of it: the client needs read access to every type it gets.
    for (const type of params.types) {
      requirePermission(auth, type, 'r');
    }
    const id = await service.kickoff(kind, params, requestUrl(req), auth.clientId);
    return {
      status: 202,
      headers: { 'Content-Location': statusUrl(req.baseUrl, id) },
      body: informational(`Export job ${id} accepted; poll the Content-Location URL for its status`),
    };
  };
}

/** `GET` on the status URL: 202 + `X-Progress` while running, 200 + manifest when complete, the OperationOutcome of a failure. */
export const exportStatus: FhirHandler = async (req, ctx): Promise<FhirResponse> => {
  const service = exportsOf(ctx);
  const job = await service.find(req.params.job, (req.auth ?? INTERNAL_AUTH).clientId);
  if (!job) {
    throw notFound(`No export job ${req.params.job} (unknown, cancelled or expired)`);
  }
  const progress: JobProgress = job.progress ? (JSON.parse(job.progress) as JobProgress) : {};
  if (job.status === 'failed') {
    throw new FhirError(500, JSON.parse(job.error ?? '{}') as OperationOutcome);
  }
  if (job.status !== 'completed') {
    return {
      status: 202,
      headers: { 'X-Progress': progressText(job.status, progress), 'Retry-After': String(RETRY_AFTER_SECONDS) },
    };
  }
  const outputs = progress.outputs ?? [];
  const fileUrl = (file: string): string => `${req.baseUrl}/$export-file/${job.id}/${file}`;
  const manifest = {
    transactionTime: job.transaction_time,
    request: job.request,
    requiresAccessToken: Boolean(job.requires_token),
    output: outputs.filter((o) => o.type !== 'OperationOutcome').map((o) => ({ type: o.type, url: fileUrl(o.file), count: o.count })),
    error: outputs.filter((o) => o.type === 'OperationOutcome').map((o) => ({ type: o.type, url: fileUrl(o.file) })),
  };
  return {
    status: 200,
    headers: job.expires_at ? { Expires: new Date(job.expires_at).toUTCString() } : {},
    content: { type: 'application/json; charset=utf-8', text: JSON.stringify(manifest) },
  };
};

/** `DELETE` on the status URL: cancels the job; its files are removed and the status URL answers 404. */
export const exportCancel: FhirHandler = async (req, ctx) => {
  const cancelled = await exportsOf(ctx).cancel(req.params.job, (req.auth ?? INTERNAL_AUTH).clientId);
  if (!cancelled) {
    throw notFound(`No export job ${req.params.job} (unknown, cancelled or expired)`);
  }
  return { status: 202, body: informational(`Export job ${req.params.job} cancelled`) };
};

/** An output file, streamed from disk (memory stays flat whatever its size). */
export const exportFile: FhirHandler = async (req, ctx): Promise<FhirResponse> => {
  const service = exportsOf(ctx);
  const job = await service.find(req.params.job, (req.auth ?? INTERNAL_AUTH).clientId);
  const file = job ? service.filePath(job, req.params.file) : undefined;
  if (!file) {
    throw notFound(`No export file ${req.params.job}/${req.params.file}`);
  }
  return { status: 200, content: { type: 'application/fhir+ndjson', file } };
};

function exportsOf(ctx: FhirContext): ExportService {
  if (!ctx.exports) {
    throw fail(501, 'not-supported', 'Bulk Data export is not available in this process');
  }
  return ctx.exports;
}

function statusUrl(baseUrl: string, id: string): string {
  return `${baseUrl}/$export-status/${id}`;
}

/** The kick-off request as the client sent it, for the manifest's `request`. */
function requestUrl(req: FhirRequest): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(req.query)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      params.append(key, v);
    }
  }
  const qs = params.toString();
  return `${req.baseUrl}/${req.path}${qs ? `?${qs}` : ''}`;
}

function progressText(status: string, progress: JobProgress): string {
  if (status === 'queued') {
    return progress.checkpoint ? 'waiting to resume' : 'waiting to start';
  }
  const counts = progress.checkpoint?.counts ?? {};
  const done = Object.values(counts).reduce((a, b) => a + b, 0);
  const total = Object.values(progress.totals ?? {}).reduce((a, b) => a + b, 0);
  const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
  return `${done} of ${total} resources exported (${pct}%)`;
}
