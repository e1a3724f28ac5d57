import type { Knex } from 'knex';
import { keepUntilRejected } from '../common/kept-promises';
import { refuseInSharedTransaction } from '../store/shared-transactions';
import { rootOf } from '../store/transactions';
import { readSubscription, type SubscriptionInfo } from './model';

interface Cached {
  stamp: string;
  byType: Map<string, SubscriptionInfo[]>;
}

/**
 * The Subscriptions the matcher tests writes against, parsed once and cached per process.
 *
 * Invalidation works across processes (several servers on one PostgreSQL database): every write
 * first reads a stamp of the Subscription rows — count, sum of version ids, newest lastUpdated —
 * in its own transaction. Any Subscription create, update or delete changes the sum (version ids
 * only grow and rows are never removed), so a changed stamp means "re-read", whoever wrote it.
 * The stamp is read once per outermost transaction (later writes in it see the same snapshot, or
 * their own Subscription writes, which mark it dirty); on PostgreSQL from the start of the write's
 * unit of work (`prefetch`), so that it shares a round trip with the write's first statement. One
 * small aggregate per transaction buys notifications that start with the very next committed write
 * after a Subscription is stored, with no TTL window.
 *
 * A transaction that itself wrote a Subscription sees its own uncommitted rows; what it loads is
 * used for that transaction only and never cached (it might still roll back).
 */
export class SubscriptionRegistry {
  private cached: Cached | undefined;
  private readonly dirty = new WeakSet<object>();
  /** The stamp read once per outermost transaction: on SQLite a group commit is one transaction. */
  private readonly stamps = new WeakMap<object, Promise<string>>();

  constructor(private readonly baseUrl: string) {}

  /** A Subscription is being written in `tx`. */
  markDirty(tx: Knex.Transaction): void {
    // Another unit of a shared transaction may already have read (and cached) this uncommitted row.
    refuseInSharedTransaction(tx, 'A Subscription write');
    this.dirty.add(rootOf(tx));
    this.stamps.delete(rootOf(tx));
    this.cached = undefined;
  }

  /** Starts reading the stamp of `tx`'s outermost transaction, if it is not read already. */
  prefetch(tx: Knex.Transaction): void {
    this.stampOf(tx);
  }

  async forType(tx: Knex.Transaction, resourceType: string): Promise<SubscriptionInfo[]> {
    const root = rootOf(tx);
    const stamp = await this.stampOf(tx);
    const dirty = this.dirty.has(root);
    if (!dirty && this.cached?.stamp === stamp) {
      return this.cached.byType.get(resourceType) ?? [];
    }
    const byType = await this.load(tx);
    if (!dirty) {
      this.cached = { stamp, byType };
    }
    return byType.get(resourceType) ?? [];
  }

  private stampOf(tx: Knex.Transaction): Promise<string> {
    const root = rootOf(tx);
    const kept = this.stamps.get(root);
    if (kept) {
      return kept;
    }
    // A prefetched stamp may never be awaited (the write fails first).
    return keepUntilRejected(this.stamps, root, readStamp(tx));
  }

  private async load(tx: Knex.Transaction): Promise<Map<string, SubscriptionInfo[]>> {
    const rows = (await tx('resource').select('content').where({ resource_type: 'Subscription', deleted: false })) as {
      content: string;
    }[];
    const byType = new Map<string, SubscriptionInfo[]>();
    for (const row of rows) {
      const sub = readSubscription(row.content, this.baseUrl);
      if (sub) {
        byType.set(sub.resourceType, [...(byType.get(sub.resourceType) ?? []), sub]);
      }
    }
    return byType;
  }
}

async function readStamp(tx: Knex.Transaction): Promise<string> {
  const row = (await tx('resource')
    .where({ resource_type: 'Subscription' })
    .first(tx.raw('count(*) as n'), tx.raw('coalesce(sum(version_id), 0) as v'), tx.raw('max(last_updated) as t'))) as {
    n: number | string;
    v: number | string;
    t: string | null;
  };
  return `${row.n}/${row.v}/${row.t ?? ''}`;
}
