import path from 'node:path';
import { envInt } from '../common/env';

/** Bulk Data export settings (`FHIR_EXPORT_*`), read once with the rest of the configuration. */
export interface ExportConfig {
  /** Where job files are written, one folder per job. */
  dir: string;
  /** Most resources per NDJSON file; a type with more is split into several files. */
  maxLinesPerFile: number;
  /** Rows read per database query: small enough that API requests never wait long behind one. */
  pageSize: number;
  /** Pause between pages, in ms: throttles an export on a busy server (0 = none). */
  pauseMs: number;
  /** How long a finished job and its files are kept, in seconds. */
  expireSeconds: number;
  /** A running job whose runner sent no heartbeat for this long is taken over by another runner. */
  staleSeconds: number;
  /**
   * transactionTime is set this far before the job starts, in seconds: covers clock differences
   * between server processes and the database, and, on SQLite, writers of other processes still
   * waiting for the lock with a `last_updated` already stamped (see docs/EXPORT.md).
   */
  timeMarginSeconds: number;
}

export function loadExportConfig(env: NodeJS.ProcessEnv): ExportConfig {
  return {
    dir: env.FHIR_EXPORT_DIR || path.join('data', 'exports'),
    maxLinesPerFile: envInt(env.FHIR_EXPORT_MAX_LINES, 100_000, 'FHIR_EXPORT_MAX_LINES', 1),
    pageSize: envInt(env.FHIR_EXPORT_PAGE_SIZE, 1000, 'FHIR_EXPORT_PAGE_SIZE', 1),
    pauseMs: envInt(env.FHIR_EXPORT_PAUSE_MS, 0, 'FHIR_EXPORT_PAUSE_MS'),
    expireSeconds: envInt(env.FHIR_EXPORT_EXPIRE_SECONDS, 24 * 3600, 'FHIR_EXPORT_EXPIRE_SECONDS', 1),
    staleSeconds: envInt(env.FHIR_EXPORT_STALE_SECONDS, 30, 'FHIR_EXPORT_STALE_SECONDS', 1),
    timeMarginSeconds: envInt(env.FHIR_EXPORT_TIME_MARGIN_SECONDS, 10, 'FHIR_EXPORT_TIME_MARGIN_SECONDS'),
  };
}

