import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { FhirError, toFhirError } from '../common/errors';
import type { FhirContext, FhirRouter, FhirResponse } from '../fhir';
import { READ_ONLY_RESOURCE_TYPES } from '../fhir/resource-types';
import { EXPORTABLE_TYPES } from './params';

export interface ImportReport {
  created: number;
  updated: number;
  unchanged: number;
  /** Server-written types (Provenance, AuditEvent): the server makes its own for every write. */
  skipped: number;
  failed: number;
}

export interface ImportOptions {
  baseUrl: string;
  /** One line per resource that could not be written: `file:line: Type/id: HTTP 422: why`. */
  onError?: (message: string) => void;
  /** Bytes read so far of `totalBytes` (for a progress bar). */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /**
   * Run the domain's workflow rules (src/domain: order lifecycle transitions and follow-up updates).
   * Off by default: an import restores records as they were (a completed order with its procedure),
   * which the rules for live events would refuse or change. Validation applies either way.
   */
  applyRules?: boolean;
}

interface Item {
  where: string;
  resource: Resource;
}

const NDJSON = /\.(ndjson|jsonl)$/i;

/**
 * Loads NDJSON files and Bundles through the FHIR core (`router.handle`): every resource passes the
 * same validation as a REST request — PUT when it has an id (so re-importing changes nothing), POST
 * otherwise (the domain's workflow rules only with `applyRules`). A bad line is reported and skipped; the good ones are written. Resources refused for a
 * reference to something not loaded yet are retried after the rest, until a pass makes no progress.
 */
export async function importFiles(
  core: { router: FhirRouter; context: FhirContext },
  inputs: string[],
  options: ImportOptions,
): Promise<ImportReport> {
  const report: ImportReport = { created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0 };
  core = options.applyRules ? core : { router: core.router, context: { ...core.context, rules: undefined } };
  const files = orderFiles(inputs.flatMap(expand));
  const totalBytes = files.reduce((n, f) => n + fs.statSync(f).size, 0);
  let bytesRead = 0;
  // Only refused resources are kept in memory, for the retry passes.
  let deferred: { item: Item; error: FhirError }[] = [];

  const write = async (item: Item): Promise<void> => {
    const outcome = await writeOne(core, item.resource, options.baseUrl);
    if (outcome instanceof FhirError) {
      deferred.push({ item, error: outcome });
    } else {
      report[outcome]++;
    }
  };

  for (const file of files) {
    const stream = fs.createReadStream(file);
    stream.on('data', (chunk) => {
      bytesRead += chunk.length;
      options.onProgress?.(bytesRead, totalBytes);
    });
    for await (const item of NDJSON.test(file) ? ndjsonItems(file, stream, options.onError) : jsonItems(file, stream, options.onError)) {
      if (item === undefined) {
        report.failed++;
      } else if (item.resource.resourceType === 'Bundle' && isTransaction(item.resource as Bundle) && hasBundleRoute(core.router)) {
        await writeBundle(core, item, options, report);
      } else if (READ_ONLY_RESOURCE_TYPES.has(item.resource.resourceType)) {
        report.skipped++;
      } else {
        await write(item);
      }
    }
  }

  // Retry passes: a reference to a resource later in the input (same-type references) resolves now.
  for (;;) {
    const retry = deferred.filter((d) => d.error.status === 422);
    if (retry.length === 0) {
      break;
    }
    const before = deferred.length;
    deferred = deferred.filter((d) => d.error.status !== 422);
    for (const { item } of retry) {
      await write(item);
    }
    if (deferred.length >= before) {
      break;
    }
  }
  for (const { item, error } of deferred) {
    report.failed++;
    options.onError?.(`${item.where}: ${label(item.resource)}: ${describe(error)}`);
  }
  return report;
}

async function writeOne(
  core: { router: FhirRouter; context: FhirContext },
  resource: Resource,
  baseUrl: string,
): Promise<'created' | 'updated' | 'unchanged' | FhirError> {
  const hasId = typeof resource.id === 'string' && resource.id !== '';
  try {
    const response: FhirResponse = await core.router.handle(
      {
        method: hasId ? 'PUT' : 'POST',
        path: hasId ? `${resource.resourceType}/${resource.id}` : String(resource.resourceType),
        params: {},
        query: {},
        body: resource,
        headers: {},
        baseUrl,
      },
      core.context,
    );
    return response.status === 201 ? 'created' : response.changed === false ? 'unchanged' : 'updated';
  } catch (err) {
    return err instanceof FhirError ? err : toFhirError(err);
  }
}

/** A transaction/batch Bundle goes through the server's own Bundle endpoint: all or nothing, as the sender meant. */
async function writeBundle(
  core: { router: FhirRouter; context: FhirContext },
  item: Item,
  options: ImportOptions,
  report: ImportReport,
): Promise<void> {
  try {
    const response = await core.router.handle(
      { method: 'POST', path: '', params: {}, query: {}, body: item.resource, headers: {}, baseUrl: options.baseUrl },
      core.context,
    );
    for (const entry of (response.body as Bundle | undefined)?.entry ?? []) {
      const status = entry.response?.status ?? '';
      if (status.startsWith('201')) {
        report.created++;
      } else if (status.startsWith('2')) {
        report.updated++;
      } else {
        report.failed++;
        options.onError?.(`${item.where}: entry: HTTP ${status}`);
      }
    }
  } catch (err) {
    const error = err instanceof FhirError ? err : toFhirError(err);
    report.failed += (item.resource as Bundle).entry?.length ?? 1;
    options.onError?.(`${item.where}: ${(item.resource as Bundle).type} Bundle: ${describe(error)}`);
  }
}

/** One item per line; `undefined` for a line that is not a resource (already reported). */
async function* ndjsonItems(
  file: string,
  stream: fs.ReadStream,
  onError: ImportOptions['onError'],
): AsyncGenerator<Item | undefined> {
  let lineNo = 0;
  for await (const line of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') {
      continue;
    }
    const where = `${file}:${lineNo}`;
    try {
      const resource = JSON.parse(line) as Resource;
      if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string') {
        throw new Error('not a FHIR resource (no resourceType)');
      }
      yield { where, resource };
    } catch (err) {
      onError?.(`${where}: ${err instanceof Error ? err.message : String(err)}`);
      yield undefined;
    }
  }
}

/** A JSON file: a Bundle (its entries one by one, unless it is a transaction or batch) or one resource. */
async function* jsonItems(file: string, stream: fs.ReadStream, onError: ImportOptions['onError']): AsyncGenerator<Item | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  let parsed: Resource;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Resource;
  } catch (err) {
    onError?.(`${file}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    yield undefined;
    return;
  }
  if (parsed.resourceType === 'Bundle' && !isTransaction(parsed)) {
    let n = 0;
    for (const entry of parsed.entry ?? []) {
      n++;
      if (entry.resource) {
        yield { where: `${file}#entry[${n - 1}]`, resource: entry.resource };
      }
    }
    return;
  }
  yield { where: file, resource: parsed };
}

function isTransaction(bundle: Bundle): boolean {
  return bundle.type === 'transaction' || bundle.type === 'batch';
}

function hasBundleRoute(router: FhirRouter): boolean {
  return router.list().some((r) => r.interaction === 'transaction' && r.method === 'POST' && r.pattern === '');
}

/** A directory stands for its .json/.ndjson files. */
function expand(input: string): string[] {
  if (fs.statSync(input).isDirectory()) {
    return fs
      .readdirSync(input)
      .filter((f) => /\.(json|ndjson|jsonl)$/i.test(f))
      .sort()
      .map((f) => path.join(input, f));
  }
  return [input];
}

/** NDJSON files named by type (`Patient-1.ndjson`) go in export order, so references resolve on the first pass. */
function orderFiles(files: string[]): string[] {
  const rank = (file: string): number => {
    const type = path.basename(file).split(/[-.]/)[0];
    const i = EXPORTABLE_TYPES.indexOf(type);
    return NDJSON.test(file) && i >= 0 ? i : EXPORTABLE_TYPES.length;
  };
  return files.map((file, i) => ({ file, i })).sort((a, b) => rank(a.file) - rank(b.file) || a.i - b.i).map((x) => x.file);
}

function label(resource: Resource): string {
  return `${resource.resourceType}/${resource.id ?? '(new)'}`;
}

function describe(error: FhirError): string {
  return `HTTP ${error.status}: ${(error.outcome.issue ?? []).map((i) => i.diagnostics).join('; ')}`;
}
