import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { outcome, issue } from '../common/errors';
import type { ExportJobRow, ExportJobStore } from '../store/export-sql';
import type { Repository } from '../store/types';
import type { ExportConfig } from './config';
import { runExport, type Checkpoint } from './engine';
import { NdjsonSink, type OutputFile } from './files';
import type { ExportParams } from './params';

/** What a job row's `progress` holds: the last checkpoint, the expected totals, and finally the files. */
export interface JobProgress {
  checkpoint?: Checkpoint;
  /** Resources per type at the start (before `_typeFilter`): for `X-Progress`. */
  totals?: Record<string, number>;
  outputs?: OutputFile[];
}

/** A job interrupted this many times (crash loops) is failed rather than retried forever. */
const MAX_ATTEMPTS = 5;
const POLL_MS = 1000;
const SWEEP_MS = 60_000;

/**
 * Runs export jobs in the background of a server process, one at a time, between API requests (each
 * page is one short query). Jobs are claimed from the database, so on PostgreSQL several processes
 * share the queue, and a job whose process died is taken over once its heartbeat is stale.
 */
export class ExportRunner {
  private readonly owner = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private active: Promise<void> | undefined;
  private currentJob: string | undefined;
  private stopping = false;
  private crashed = false;
  private lastSweep = 0;

  constructor(
    private readonly jobs: ExportJobStore,
    private readonly repo: Repository,
    private readonly config: ExportConfig,
    private readonly log: (msg: string, extra?: Record<string, unknown>) => void = () => undefined,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** A job was queued: look now rather than at the next poll. */
  poke(): void {
    if (!this.active && !this.stopping) {
      this.schedule(0);
    }
  }

  /** Graceful stop: the running job is handed back to the queue after its current page, to resume at once on the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.active;
  }

  /** For tests: stop as a crash would, leaving the job marked running with a heartbeat that goes stale. */
  async crash(): Promise<void> {
    this.crashed = true;
    await this.stop();
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    if (this.stopping || this.active) {
      return;
    }
    this.active = this.runOnce()
      .catch((err: unknown) => this.log('export runner error', { error: String(err) }))
      .then((didWork) => {
        this.active = undefined;
        if (!this.stopping) {
          this.schedule(didWork ? 0 : POLL_MS);
        }
      });
  }

  /** Sweeps expired jobs when due, then runs one job if there is one; true if it ran one. */
  async runOnce(): Promise<boolean> {
    if (Date.now() - this.lastSweep >= SWEEP_MS) {
      this.lastSweep = Date.now();
      await this.sweep();
    }
    const now = new Date();
    const staleBefore = new Date(now.getTime() - this.config.staleSeconds * 1000).toISOString();
    const job = await this.jobs.claimNext(this.owner, now.toISOString(), staleBefore);
    if (!job) {
      return false;
    }
    this.currentJob = job.id;
    try {
      await this.runJob(job);
    } finally {
      this.currentJob = undefined;
    }
    return true;
  }

  /** Removes the files and rows of expired and cancelled jobs. */
  async sweep(): Promise<void> {
    for (const job of await this.jobs.disposable(new Date().toISOString())) {
      if (job.id !== this.currentJob) {
        fs.rmSync(this.jobDir(job.id), { recursive: true, force: true });
        await this.jobs.remove(job.id);
      }
    }
  }

  jobDir(id: string): string {
    return path.join(this.config.dir, id);
  }

  private async runJob(job: ExportJobRow): Promise<void> {
    const params = JSON.parse(job.params) as ExportParams;
    const progress: JobProgress = job.progress ? (JSON.parse(job.progress) as JobProgress) : {};
    const dir = this.jobDir(job.id);
    const heartbeat = setInterval(
      () => void this.jobs.checkpoint(job.id, this.owner, { heartbeat_at: new Date().toISOString() }).catch(() => undefined),
      Math.max(200, (this.config.staleSeconds * 1000) / 3),
    );
    heartbeat.unref();
    try {
      if (job.attempts > MAX_ATTEMPTS) {
        throw new Error(`the export was interrupted ${job.attempts - 1} times; start a new one`);
      }
      let transactionTime = job.transaction_time ?? undefined;
      if (!progress.checkpoint) {
        // A fresh start (or a restart before the first checkpoint): nothing on disk is ours yet.
        fs.rmSync(dir, { recursive: true, force: true });
        transactionTime = await this.transactionTime();
        progress.totals = {};
        for (const type of params.types) {
          progress.totals[type] = await this.repo.countScan({ resourceType: type, since: params.since, patients: params.patients });
        }
        await this.jobs.checkpoint(job.id, this.owner, { transaction_time: transactionTime, progress: JSON.stringify(progress) });
      } else {
        this.log('export resumed', { job: job.id, attempt: job.attempts });
      }
      const sink = new NdjsonSink(dir, this.config.maxLinesPerFile, progress.checkpoint?.sink);
      if (!progress.checkpoint && params.warnings.length > 0) {
        await sink.write('OperationOutcome', JSON.stringify(outcome(...params.warnings)));
      }
      const finished = await runExport(this.repo, params, sink, {
        pageSize: this.config.pageSize,
        pauseMs: this.config.pauseMs,
        resume: progress.checkpoint,
        onPage: async (checkpoint) => {
          if (this.crashed) {
            return false;
          }
          if (this.stopping) {
            await this.jobs.release(job.id, this.owner);
            return false;
          }
          progress.checkpoint = checkpoint;
          return this.jobs.checkpoint(job.id, this.owner, {
            progress: JSON.stringify(progress),
            heartbeat_at: new Date().toISOString(),
          });
        },
      });
      const outputs = await sink.close();
      if (!finished) {
        return;
      }
      const now = new Date();
      progress.outputs = outputs;
      await this.jobs.checkpoint(job.id, this.owner, {
        status: 'completed',
        progress: JSON.stringify(progress),
        finished_at: now.toISOString(),
        expires_at: new Date(now.getTime() + this.config.expireSeconds * 1000).toISOString(),
        owner: null,
      });
      this.log('export completed', { job: job.id, counts: progress.checkpoint?.counts ?? {} });
    } catch (err) {
      // Failed visibly: the status URL answers with this OperationOutcome until the job expires.
      const now = new Date();
      const message = err instanceof Error ? err.message : String(err);
      this.log('export failed', { job: job.id, error: message });
      fs.rmSync(dir, { recursive: true, force: true });
      await this.jobs.checkpoint(job.id, this.owner, {
        status: 'failed',
        error: JSON.stringify(outcome(issue('exception', `The export failed: ${message}`))),
        finished_at: now.toISOString(),
        expires_at: new Date(now.getTime() + this.config.expireSeconds * 1000).toISOString(),
        owner: null,
      });
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * The instant this export is complete up to: a write stamps `last_updated` before it commits, so a
   * transaction still open now may commit an older `last_updated` after our pages are read. Start
   * from before the oldest open transaction (PostgreSQL), minus a margin for clock differences and
   * SQLite writers of other processes waiting for the lock. A resource is then either in this export
   * or has `last_updated` ≥ transactionTime and is in the next `_since=transactionTime` export.
   */
  private async transactionTime(): Promise<string> {
    const now = Date.now();
    const oldest = await this.jobs.oldestOpenTransactionStart();
    const start = oldest ? Math.min(now, Date.parse(oldest)) : now;
    return new Date(start - this.config.timeMarginSeconds * 1000).toISOString();
  }
}
