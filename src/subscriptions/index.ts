import type { Config } from '../config';
import type { Database } from '../store/database';
import type { Repository, WriteHook } from '../store/types';
import { subscriptionHook } from './matcher';
import { SubscriptionRegistry } from './registry';
import { withSubscriptionChecks } from './repository';
import { DeliveryWorker } from './worker';

/**
 * R4 rest-hook Subscriptions (docs/SUBSCRIPTIONS.md): a write hook that queues notifications in
 * the write's transaction, a repository wrapper that checks Subscription writes, and the worker
 * that delivers the queue. Wired once per core (src/core.ts).
 */
export class Subscriptions {
  /** Register after the search index hook: matching searches the index rows of the write. */
  readonly hook: WriteHook;
  private readonly worker: DeliveryWorker;
  private readonly baseUrl: string;

  constructor(db: Database, config: Config, repo: () => Repository) {
    // Criteria referencing this server by absolute URL only resolve when FHIR_BASE_URL is set.
    this.baseUrl = config.baseUrl ?? '';
    this.worker = new DeliveryWorker({
      knex: db.knex,
      dialect: db.dialect,
      settings: config.subscriptions,
      baseUrl: this.baseUrl,
      repo,
      log: config.logLevel === 'silent' ? undefined : (line) => process.stdout.write(`${line}\n`),
    });
    this.hook = subscriptionHook(new SubscriptionRegistry(this.baseUrl), () => this.worker.nudge());
  }

  wrap(repo: Repository): Repository {
    return withSubscriptionChecks(repo, this.baseUrl);
  }

  start(): void {
    this.worker.start();
  }

  stop(): Promise<void> {
    return this.worker.stop();
  }
}
