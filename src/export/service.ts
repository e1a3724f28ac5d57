import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ExportJobRow, ExportJobStore } from '../store/export-sql';
import type { ExportConfig } from './config';
import type { ExportKind, ExportParams } from './params';
import type { ExportRunner, JobProgress } from './runner';

const FILE_NAME = /^[A-Za-z]+-[0-9]+\.ndjson$/;
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the FHIR core's `$export` routes ask of the export feature (src/fhir/interactions/export.ts). */
export class ExportService {
  /** Set by the server (src/server.ts); cores without one (CLI) only queue. */
  runner: ExportRunner | undefined;

  constructor(
    readonly jobs: ExportJobStore,
    readonly config: ExportConfig,
    readonly requiresAccessToken: boolean,
  ) {}

  async kickoff(kind: ExportKind, params: ExportParams, request: string, clientId: string): Promise<string> {
    const id = randomUUID();
    await this.jobs.insert({
      id,
      status: 'queued',
      kind,
      request,
      params: JSON.stringify(params),
      client_id: clientId,
      requires_token: this.requiresAccessToken,
      transaction_time: null,
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      expires_at: null,
      owner: null,
      heartbeat_at: null,
      progress: null,
      error: null,
    });
    this.runner?.poke();
    return id;
  }

  /** The job if this client may see it: another client's job, a cancelled or an expired one are "not found". */
  async find(id: string, clientId: string): Promise<ExportJobRow | undefined> {
    // Job ids are UUIDs: anything else is not looked up (PostgreSQL refuses e.g. NUL in text).
    const job = JOB_ID.test(id) ? await this.jobs.get(id) : undefined;
    if (!job || job.client_id !== clientId || job.status === 'cancelled') {
      return undefined;
    }
    if (job.expires_at && job.expires_at < new Date().toISOString()) {
      return undefined;
    }
    return job;
  }

  async cancel(id: string, clientId: string): Promise<boolean> {
    return (await this.find(id, clientId)) !== undefined && this.jobs.cancel(id, new Date().toISOString());
  }

  /** The path of an output file of a completed job, or undefined when the name is not one of its files. */
  filePath(job: ExportJobRow, file: string): string | undefined {
    const progress = job.progress ? (JSON.parse(job.progress) as JobProgress) : {};
    if (job.status !== 'completed' || !FILE_NAME.test(file) || !progress.outputs?.some((o) => o.file === file)) {
      return undefined;
    }
    const filePath = path.join(this.config.dir, job.id, file);
    return fs.existsSync(filePath) ? filePath : undefined;
  }
}
