import type { Knex } from 'knex';
import type { Condition, SearchPlan } from '../search/types';
import { searchIndexHook } from '../store/indexing/index-hook';
import { countMatches } from '../store/search-sql';
import type { ResourceChange, WriteHook } from '../store/types';
import { isLive, type SubscriptionInfo } from './model';
import { enqueue } from './outbox';
import { rootOf } from '../store/transactions';
import type { SubscriptionRegistry } from './registry';

/** Thrown to roll back the savepoint used to test a deleted resource's last version. */
class UndoSavepoint extends Error {}

/**
 * The write hook: runs in every write's transaction, after the search index hook, and queues one
 * outbox row per live Subscription whose criteria the written version matches. Matching is the
 * search itself — the subscription's plan plus `_id = <written id>`, run on the transaction — so
 * criteria mean exactly what they mean in `GET [type]?…`, against the index rows this write just
 * made. The outbox row commits or rolls back with the resource.
 */
export function subscriptionHook(registry: SubscriptionRegistry, nudge: () => void): WriteHook {
  return {
    name: 'subscriptions',
    beforeWrites(tx: Knex.Transaction): void {
      registry.prefetch(tx);
    },
    async inTransaction(tx: Knex.Transaction, change: ResourceChange): Promise<void> {
      const { current } = change;
      if (current.resourceType === 'Subscription') {
        // Never matched (criteria cannot name Subscription), but the cache must not outlive this change.
        registry.markDirty(tx);
        return;
      }
      const now = Date.now();
      const subs = (await registry.forType(tx, current.resourceType)).filter((s) => isLive(s, now));
      if (subs.length === 0) {
        return;
      }
      const matched = current.deleted ? await matchedBeforeDeletion(tx, change, subs) : await matching(tx, subs, current.id);
      const event = current.deleted ? 'delete' : !change.previous || change.previous.deleted ? 'create' : 'update';
      for (const sub of matched) {
        await enqueue(tx, sub.id, current, event);
      }
      if (matched.length > 0) {
        // Wake the worker as soon as the rows are visible; the poll picks them up anyway if this is lost.
        void rootOf(tx).executionPromise?.then(nudge, () => undefined);
      }
    },
  };
}

async function matching(tx: Knex.Transaction, subs: SubscriptionInfo[], id: string): Promise<SubscriptionInfo[]> {
  const out: SubscriptionInfo[] = [];
  for (const sub of subs) {
    if ((await countMatches(tx, withId(sub.plan, id))) > 0) {
      out.push(sub);
    }
  }
  return out;
}

/**
 * A deletion notifies (id-only) the subscriptions whose criteria the last live version matched —
 * not every subscription on the type, which would tell a receiver about resources it never asked
 * for. That version's row and index rows are already gone, so they are put back inside a savepoint,
 * matched with the very same search, and the savepoint is rolled back.
 */
async function matchedBeforeDeletion(
  tx: Knex.Transaction,
  change: ResourceChange,
  subs: SubscriptionInfo[],
): Promise<SubscriptionInfo[]> {
  const { previous } = change;
  if (!previous?.json || previous.deleted) {
    return [];
  }
  let matched: SubscriptionInfo[] = [];
  try {
    await tx.transaction(async (sp) => {
      await sp('resource')
        .where({ resource_type: previous.resourceType, id: previous.id })
        .update({ deleted: false, content: previous.json });
      await searchIndexHook.inTransaction(sp, { previous: undefined, current: previous, resource: JSON.parse(previous.json!) });
      matched = await matching(sp, subs, previous.id);
      throw new UndoSavepoint();
    });
  } catch (err) {
    if (!(err instanceof UndoSavepoint)) {
      throw err;
    }
  }
  return matched;
}

function withId(plan: SearchPlan, id: string): SearchPlan {
  const idCondition: Condition = { param: '_id', kind: 'id', values: [{ kind: 'token', token: { code: id } }] };
  return { ...plan, conditions: [...plan.conditions, idCondition], sort: [], cursor: undefined, include: [], revinclude: [] };
}
