import type { Request, Response } from 'express';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { FhirResponse } from '../fhir';
import type { FhirError } from '../common/errors';
import { FHIR_JSON } from './content';
import { sendFile } from './send-file';

type PreferReturn = 'minimal' | 'representation' | 'OperationOutcome';

/**
 * Writes a FHIR core response: ETag / Last-Modified / Location from the stored version, and the body
 * chosen by `Prefer: return=` (http.html#ops). Stored JSON is sent as stored unless `_pretty`.
 */
export function sendFhirResponse(req: Request, res: Response, baseUrl: string, response: FhirResponse): void {
  const { version } = response;
  if (version) {
    res.setHeader('ETag', `W/"${version.versionId}"`);
    res.setHeader('Last-Modified', new Date(version.lastUpdated).toUTCString());
    if (response.location) {
      res.setHeader(
        'Location',
        `${baseUrl}/${version.resourceType}/${encodeURIComponent(version.id)}/_history/${version.versionId}`,
      );
    }
  }
  res.status(response.status);
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    res.setHeader(name, value);
  }
  if (response.content) {
    sendContent(res, response.content);
    return;
  }
  if (response.status === 304) {
    res.end();
    return;
  }

  const isWrite = req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH';
  const prefer = isWrite ? preferReturn(req) : undefined;
  if (prefer === 'minimal') {
    res.end();
    return;
  }
  if (prefer === 'OperationOutcome' && response.outcome) {
    sendJson(req, res, JSON.stringify(response.outcome));
    return;
  }
  if (version?.json !== undefined) {
    sendJson(req, res, version.json);
  } else if (response.json !== undefined) {
    sendJson(req, res, response.json);
  } else if (response.body) {
    sendJson(req, res, JSON.stringify(response.body));
  } else {
    res.end();
  }
}

/** Non-FHIR-JSON bodies (Bulk Data manifests and NDJSON files): files are streamed, so memory stays flat. */
function sendContent(res: Response, content: NonNullable<FhirResponse['content']>): void {
  res.setHeader('Content-Type', content.type);
  if (content.file) {
    // Headers are sent with the first chunk: after that a failure can only cut the response short.
    sendFile(res, content.file).catch(() => res.destroy());
  } else {
    res.send(content.text ?? '');
  }
}

export function sendOutcome(req: Request, res: Response, error: FhirError): void {
  res.status(error.status);
  sendJson(req, res, JSON.stringify(error.outcome satisfies OperationOutcome));
}

function sendJson(req: Request, res: Response, json: string): void {
  res.setHeader('Content-Type', `${FHIR_JSON}; charset=utf-8`);
  res.send(isPretty(req) ? JSON.stringify(JSON.parse(json), null, 2) : json);
}

function isPretty(req: Request): boolean {
  return req.query._pretty === 'true';
}

function preferReturn(req: Request): PreferReturn | undefined {
  const raw = req.headers.prefer;
  const header = Array.isArray(raw) ? raw.join(',') : raw;
  const match = header ? /(?:^|[,;\s])return=(minimal|representation|OperationOutcome)\b/.exec(header) : null;
  return match ? (match[1] as PreferReturn) : undefined;
}
