import { AsyncResource } from 'node:async_hooks';
import type { Knex } from 'knex';
import { fail } from '../common/errors';
import { yieldToEventLoop } from '../common/yield';
import type { Dialect } from './database';
import type { TransactionOptions } from './types';
import { namesLost } from './pg-prepared';
import { SharedTransactions } from './shared-transactions';
import { transactionLost } from './sqlite-insert-buffer';

/** Thrown inside a write when a concurrent writer got there first; the whole unit is re-run. */
export class WriteConflict extends Error {
  constructor(what: string) {
    super(`Concurrent write conflict on ${what}`);
    this.name = 'WriteConflict';
  }
}

const MAX_ATTEMPTS = 5;
/** Most units one group commit carries: bounds how long a batch holds SQLite's one connection. */
const MAX_BATCH = 64;

export type Work<T> = (tx: Knex.Transaction) => Promise<T>;

interface Unit {
  work: Work<unknown>;
  attempts: number;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/**
 * Runs units of work in transactions; every write goes through here.
 *
 * SQLite has one writer and one connection here, so concurrent units would only queue for it: they
 * are group-committed instead — the units waiting are run one after another in a single transaction,
 * each inside its own SAVEPOINT (a failing unit rolls back alone), and one COMMIT (one fsync) makes
 * them all durable. A unit's promise settles only after that COMMIT: no response is sent for a write
 * that is not on disk.
 *
 * PostgreSQL runs each unit in its own transaction on the pool, in parallel; units marked
 * `shareable` (plain creates) that arrive together share one (./shared-transactions.ts).
 * Units that lost a race (a unique-key collision between concurrent creates, a serialization failure,
 * a deadlock, SQLite busy, our own WriteConflict) are run again, up to MAX_ATTEMPTS.
 */
export class TransactionRunner {
  private readonly queue: Unit[] = [];
  private flushing = false;
  private readonly shared: SharedTransactions;

  constructor(
    private readonly knex: Knex,
    private readonly dialect: Dialect,
  ) {
    this.shared = new SharedTransactions(knex, (work) => runWithRetries(knex, work));
  }

  /** `shareable` work may share its transaction (PostgreSQL; SQLite group-commits every unit anyway). */
  run<T>(work: Work<T>, options: TransactionOptions = {}): Promise<T> {
    if (this.dialect !== 'sqlite') {
      return options.shareable ? this.shared.run(work) : runWithRetries(this.knex, work);
    }
    return new Promise<T>((resolve, reject) => {
      // The batch runs in the context of whichever request started the flush: bind each unit to its
      // own request's async context, so that what hooks read from it (the client, for the
      // AuditEvent and Provenance) belongs to the request that made the write.
      const scope = new AsyncResource('group-commit-unit');
      const bound: Work<unknown> = (tx) => scope.runInAsyncScope(work, undefined, tx);
      this.queue.push({ work: bound, attempts: 0, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Let the other requests of this event-loop turn join the batch.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        await this.commitBatch(this.queue.splice(0, MAX_BATCH));
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commitBatch(batch: Unit[]): Promise<void> {
    const outcomes: { unit: Unit; ok: boolean; value?: unknown; error?: unknown }[] = [];
    let lost: unknown;
    try {
      await this.knex.transaction(async (tx) => {
        for (let i = 0; ; i++) {
          await yieldToEventLoop();
          if (i === batch.length) {
            // Units queued while this batch ran join it, up to MAX_BATCH: one COMMIT (one set of
            // page writes and one fsync) for more writes. Creates +15 % at 10 connections.
            batch.push(...this.queue.splice(0, MAX_BATCH - batch.length));
            if (i === batch.length) {
              break;
            }
          }
          const unit = batch[i];
          outcomes.push({ unit, ...(await runInSavepoint(tx, unit.work).catch((error: unknown) => Promise.reject((lost = error)))) });
        }
      });
    } catch (error) {
      // The COMMIT failed (disk, lock), or the transaction was lost under a unit (then knex's
      // ROLLBACK fails too; the unit's error says why): nothing of this batch is stored.
      batch.forEach((unit) => this.retryOrReject(unit, lost ?? error));
      return;
    }
    for (const { unit, ok, value, error } of outcomes) {
      if (ok) {
        unit.resolve(value);
      } else {
        this.retryOrReject(unit, error);
      }
    }
  }

  private retryOrReject(unit: Unit, error: unknown): void {
    unit.attempts++;
    if (!isRetryable(error)) {
      unit.reject(error);
    } else if (unit.attempts >= MAX_ATTEMPTS) {
      unit.reject(fail(409, 'conflict', 'The resource is being changed by other requests; try again.'));
    } else {
      this.queue.push(unit);
    }
  }
}

/**
 * One unit of a group commit in a savepoint of its own, so that a failing unit rolls back alone.
 * Plain SAVEPOINT statements on the batch's transaction: a nested knex transaction would build a
 * new knex instance per unit (~4 % of a create's main-thread time here).
 */
async function runInSavepoint(tx: Knex.Transaction, work: Work<unknown>): Promise<{ ok: boolean; value?: unknown; error?: unknown }> {
  await tx.raw('SAVEPOINT group_commit_unit');
  let value: unknown;
  try {
    value = await work(tx);
  } catch (error) {
    if (transactionLost(error)) {
      throw error;
    }
    await tx.raw('ROLLBACK TO SAVEPOINT group_commit_unit');
    await tx.raw('RELEASE SAVEPOINT group_commit_unit');
    return { ok: false, error };
  }
  try {
    await tx.raw('RELEASE SAVEPOINT group_commit_unit');
  } catch (error) {
    if (transactionLost(error)) {
      // The whole transaction is gone: end the batch (its units are retried or rejected).
      throw error;
    }
    // The unit's held INSERTs failed as they were written (insert-buffer.ts), which rolled
    // the unit back to this savepoint and released it.
    return { ok: false, error };
  }
  return { ok: true, value };
}

async function runWithRetries<T>(knex: Knex, work: Work<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await knex.transaction(work);
    } catch (err) {
      if (!isRetryable(err)) {
        throw err;
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw fail(409, 'conflict', 'The resource is being changed by other requests; try again.');
      }
      await new Promise((resolve) => setTimeout(resolve, attempt * 5 * Math.random()));
    }
  }
}

const runners = new WeakMap<Knex, TransactionRunner>();

/** The one runner of a database: every repository over the same knex instance shares its queue. */
export function transactionRunner(knex: Knex, dialect: Dialect): TransactionRunner {
  let runner = runners.get(knex);
  if (!runner) {
    runner = new TransactionRunner(knex, dialect);
    runners.set(knex, runner);
  }
  return runner;
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof WriteConflict || namesLost(err)) {
    return true;
  }
  const code = (err as { code?: string } | null)?.code;
  // 23505 unique_violation, 40001 serialization_failure, 40P01 deadlock_detected (PostgreSQL); a
  // connection whose named statements were lost names them anew (./pg-prepared.ts).
  return (
    code === '23505' ||
    code === '40001' ||
    code === '40P01' ||
    // better-sqlite3 reports extended codes: SQLITE_BUSY_SNAPSHOT, SQLITE_CONSTRAINT_UNIQUE, …
    code?.startsWith('SQLITE_BUSY') === true ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/**
 * The outermost transaction: SQLite's group-commit units and Bundle entries run in savepoints of it,
 * PostgreSQL's shared units side by side in it (./shared-transactions.ts).
 */
export function rootOf(tx: Knex.Transaction): Knex.Transaction {
  let t = tx as Knex.Transaction & { parentTransaction?: Knex.Transaction };
  while (t.parentTransaction) {
    t = t.parentTransaction as Knex.Transaction & { parentTransaction?: Knex.Transaction };
  }
  return t;
}
