import { randomUUID } from 'node:crypto';
import type { Subscription } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { FhirError } from '../common/errors';
import type { SubscriptionDeliveryConfig } from '../config';
import type { Dialect } from '../store/database';
import type { Repository } from '../store/types';
import { deliver } from './delivery';
import { isLive, readSubscription, type SubscriptionInfo } from './model';
import { claim, delivered, discard, failed, head, release, versionJson } from './outbox';

/** Subscriptions leased per poll; their queues are drained concurrently, each one strictly in order. */
const BATCH = 16;

export interface WorkerOptions {
  knex: Knex;
  dialect: Dialect;
  settings: SubscriptionDeliveryConfig;
  baseUrl: string;
  /** The repository status changes are written through (versioned, audited, like any write). */
  repo: () => Repository;
  log?: (line: string) => void;
}

/**
 * Delivers the outbox. Each poll (every `pollMs`, or at once when a commit in this process queued
 * something) leases subscriptions with due notifications, then per subscription sends the oldest
 * notification, and only after a 2xx the next: a failure stops that subscription until its backoff
 * has passed, so nothing later ever overtakes it. A row is deleted only after its 2xx, so a crash
 * between the receiver's answer and that delete re-sends it: delivery is at least once.
 */
export class DeliveryWorker {
  private readonly owner = randomUUID();
  private readonly stopping = new AbortController();
  /** Longer than any request can take, so a lease only runs out if its process died. */
  private readonly leaseMs: number;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private pending = false;

  constructor(private readonly o: WorkerOptions) {
    this.leaseMs = 2 * o.settings.timeoutMs + 5000;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Something was queued: poll now rather than at the next interval. */
  nudge(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Aborts requests in flight (their rows stay queued), lets go of leases, and waits for the loop to end. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake?.();
    await this.loop;
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.pending = false;
      let more = false;
      try {
        more = await this.poll();
      } catch (err) {
        if (!this.stopped) {
          this.logLine('subscription poll failed', { error: (err as Error).message });
        }
      }
      if (!more && !this.pending && !this.stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, this.o.settings.pollMs);
          this.wake = done;
          function done(): void {
            clearTimeout(timer);
            resolve();
          }
        });
        this.wake = undefined;
      }
    }
  }

  private async poll(): Promise<boolean> {
    const ids = await claim(this.o.knex, this.o.dialect, this.owner, this.leaseMs, BATCH);
    await Promise.all(ids.map((id) => this.drain(id)));
    return ids.length === BATCH;
  }

  private async drain(subscriptionId: string): Promise<void> {
    const { knex, settings } = this.o;
    try {
      while (!this.stopped) {
        const sub = await this.load(subscriptionId);
        if (!sub || !isLive(sub, Date.now())) {
          await discard(knex, subscriptionId, this.owner);
          return;
        }
        const next = await head(knex, subscriptionId, this.owner, this.leaseMs);
        if (!next) {
          break;
        }
        const body = next.row.event !== 'delete' && sub.payload ? await versionJson(knex, next.row) : undefined;
        const result = await deliver(sub, next.row, body, settings.timeoutMs, this.stopping.signal);
        if (result.ok) {
          await delivered(knex, next.row, this.owner);
          if (sub.status === 'error') {
            await this.setStatus(sub, 'active');
          }
          continue;
        }
        if (result.interrupted) {
          break;
        }
        const failures = next.failures + 1;
        await failed(knex, next.row, this.owner, result.error, this.retryAt(failures));
        this.logLine('subscription delivery failed', { subscription: sub.id, event: Number(next.row.seq), failures, error: result.error });
        if (failures >= settings.maxAttempts && sub.status !== 'error') {
          await this.setStatus(sub, 'error', `Delivery failed ${failures} times in a row; last: ${result.error}`);
        }
        return;
      }
      await release(knex, subscriptionId, this.owner);
    } catch (err) {
      if (!this.stopped) {
        this.logLine('subscription delivery error', { subscription: subscriptionId, error: (err as Error).message });
      }
      await release(knex, subscriptionId, this.owner).catch(() => undefined);
    }
  }

  /** Exponential backoff, capped: base, 2·base, 4·base … max. An `error` subscription keeps retrying at the cap. */
  private retryAt(failures: number): string {
    const { backoffBaseMs, backoffMaxMs } = this.o.settings;
    const delay = Math.min(backoffBaseMs * 2 ** Math.min(failures - 1, 30), backoffMaxMs);
    return new Date(Date.now() + delay).toISOString();
  }

  private async load(id: string): Promise<(SubscriptionInfo & { json: Subscription }) | undefined> {
    const row = (await this.o.knex('resource').where({ resource_type: 'Subscription', id, deleted: false }).first('content')) as
      | { content: string }
      | undefined;
    const info = row && readSubscription(row.content, this.o.baseUrl);
    return info && { ...info, json: JSON.parse(row.content) as Subscription };
  }

  /**
   * `active` ⇄ `error`, as a new version through the repository. If-Match on the version read, so a
   * client's concurrent change (say, to `off`) wins; the next delivery re-evaluates.
   */
  private async setStatus(sub: SubscriptionInfo & { json: Subscription }, status: 'active' | 'error', error?: string): Promise<void> {
    const { error: _previousError, ...rest } = sub.json;
    const next: Subscription & { id: string } = { ...rest, id: sub.id, status, ...(error ? { error } : {}) };
    try {
      await this.o.repo().update(next, { ifMatch: sub.versionId });
      this.logLine('subscription status changed', { subscription: sub.id, status }, 'info');
    } catch (err) {
      if (!(err instanceof FhirError && err.status === 412)) {
        this.logLine('subscription status change failed', { subscription: sub.id, status, error: (err as Error).message });
      }
    }
  }

  private logLine(msg: string, extra: Record<string, unknown>, level = 'warn'): void {
    this.o.log?.(JSON.stringify({ time: new Date().toISOString(), level, msg, ...extra }));
  }
}
