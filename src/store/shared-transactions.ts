import { AsyncResource } from 'node:async_hooks';
import type { Knex } from 'knex';
import { inSharedTransaction, markShared } from './pg-client';

type Work<T> = (tx: Knex.Transaction) => Promise<T>;
type RunAlone = <T>(work: Work<T>) => Promise<T>;

interface Unit {
  work: Work<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** Most units one shared transaction carries. */
const MAX_UNITS = 32;
/**
 * Shared transactions in flight at once. One: the creates that arrive while one commits go
 * together in the next, so batches grow with the load (measured against 2 and 4: least CPU per
 * create, on the server and on PostgreSQL, and as many creates per second).
 */
const MAX_IN_FLIGHT = 1;

/** Thrown inside a shared transaction to roll it back when one of its units failed. */
class UnitFailed extends Error {}

/**
 * Refuses what a shared transaction cannot give a unit: a lock of its own (the other units of the
 * transaction would hold it too; savepoints are refused in ./pg-client.ts). The whole transaction
 * is then rolled back and every unit runs alone, where the lock means what it says. Units are
 * marked shareable only when they need none; this keeps a wrong mark from costing correctness.
 */
export function refuseInSharedTransaction(tx: Knex.Transaction, what: string): void {
  if (inSharedTransaction(tx)) {
    throw new Error(`${what} in a shared transaction: the unit runs again alone`);
  }
}

/**
 * PostgreSQL group commit for units that take no locks and rely on no read being exclusive (plain
 * creates, `TransactionOptions.shareable`). The units that arrive together run side by side in one
 * transaction on one connection: their first statements leave in one socket write, their rows in
 * one combined INSERT with the COMMIT (./pg-client.ts), so a batch of creates costs one BEGIN, one
 * COMMIT (one WAL flush) and, with no Subscription to match, two round trips instead of each
 * create's own. knex's per-transaction machinery (a client copy and a knex instance per
 * transaction) is paid once per batch too.
 *
 * Units run concurrently, not in savepoints, so a failed one cannot be rolled back alone: if any
 * unit fails, or PostgreSQL refuses the COMMIT, the whole transaction is rolled back and every unit
 * of it runs again in a transaction of its own (`runAlone`, with its usual retries), which gives
 * each its own outcome. A unit's promise settles only after the COMMIT that stores it.
 */
export class SharedTransactions {
  private readonly queue: Unit[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly knex: Knex,
    private readonly runAlone: RunAlone,
  ) {}

  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // As in the SQLite group commit: hooks read the request's context (the client, for the
      // AuditEvent), so each unit runs in its own request's async context, not the batch's.
      const scope = new AsyncResource('shared-transaction-unit');
      this.queue.push({ work: (tx) => scope.runInAsyncScope(work, undefined, tx), resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= MAX_IN_FLIGHT) {
      return;
    }
    this.scheduled = true;
    // Let the other requests of this event-loop turn join.
    setImmediate(() => {
      this.scheduled = false;
      while (this.queue.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
        this.inFlight++;
        void this.commit(this.queue.splice(0, MAX_UNITS)).finally(() => {
          this.inFlight--;
          this.schedule();
        });
      }
    });
  }

  private async commit(units: Unit[]): Promise<void> {
    if (units.length === 1) {
      const [unit] = units;
      await this.runAlone(unit.work).then(unit.resolve, unit.reject);
      return;
    }
    let values: unknown[] | undefined;
    try {
      await this.knex.transaction(async (tx) => {
        markShared(tx);
        const outcomes = await Promise.allSettled(units.map((unit) => Promise.resolve(tx).then(unit.work)));
        if (outcomes.some((outcome) => outcome.status === 'rejected')) {
          throw new UnitFailed();
        }
        values = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value);
      });
    } catch (error) {
      if (values !== undefined && !refusedByServer(error)) {
        // The connection failed with the COMMIT perhaps on its way: whether it was stored is not
        // known, so nothing runs again (that could store a create twice), as for a unit alone.
        units.forEach((unit) => unit.reject(error));
        return;
      }
      // Nothing of this transaction is stored (no COMMIT was sent, or PostgreSQL refused it): each
      // unit again, alone, for its own outcome. Not in this batch's slot: the next batch goes on.
      void Promise.all(units.map((unit) => this.runAlone(unit.work).then(unit.resolve, unit.reject)));
      return;
    }
    units.forEach((unit, i) => unit.resolve(values![i]));
  }
}

/** PostgreSQL answered the statement with an error (not a lost connection): it rolled the transaction back. */
function refusedByServer(error: unknown): boolean {
  const { severity, code } = (error ?? {}) as { severity?: unknown; code?: unknown };
  return severity === 'ERROR' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}
