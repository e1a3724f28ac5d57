import type { PatientSet, Repository } from '../store/types';
import { runExport } from './engine';
import { BundleSink, NdjsonSink, type OutputFile, type ResourceSink } from './files';
import { EXPORTABLE_TYPES } from './params';

export interface DirectoryExportOptions {
  out: string;
  format: 'ndjson' | 'bundle';
  /** Default: every exportable type (with patients: the compartment types). */
  types?: string[];
  since?: string;
  patients?: PatientSet;
  /** Lines per NDJSON file, entries per Bundle. */
  maxPerFile: number;
  pageSize: number;
  baseUrl?: string;
  /** Resources written so far of `total` (counted up front). */
  onProgress?: (done: number, total: number) => void;
}

export interface DirectoryExportSummary {
  counts: Record<string, number>;
  files: OutputFile[];
  bytes: number;
  seconds: number;
}

/**
 * The command-line export (`npm run export`): the same engine as `$export`, reading the database
 * directly and writing NDJSON per type or collection Bundles into a directory.
 */
export async function exportToDirectory(repo: Repository, options: DirectoryExportOptions): Promise<DirectoryExportSummary> {
  const started = process.hrtime.bigint();
  const types = options.types ?? [...EXPORTABLE_TYPES];
  let total = 0;
  for (const type of types) {
    total += await repo.countScan({ resourceType: type, since: options.since, patients: options.patients });
  }
  const sink: ResourceSink =
    options.format === 'bundle'
      ? new BundleSink(options.out, options.maxPerFile, options.baseUrl)
      : new NdjsonSink(options.out, options.maxPerFile);
  let counts: Record<string, number> = {};
  options.onProgress?.(0, total);
  await runExport(repo, { types, since: options.since, patients: options.patients }, sink, {
    pageSize: options.pageSize,
    onPage: async (checkpoint) => {
      counts = checkpoint.counts;
      options.onProgress?.(
        Object.values(counts).reduce((a, b) => a + b, 0),
        total,
      );
      return true;
    },
  });
  const files = await sink.close();
  return {
    counts,
    files,
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}
