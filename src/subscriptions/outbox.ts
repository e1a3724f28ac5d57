import type { Knex } from 'knex';
import type { Dialect } from '../store/database';
import type { StoredVersion } from '../store/types';

/**
 * The outbox tables (migration 005): notifications waiting for delivery, and per subscription the
 * sequence counter, the retry state of the queue's head and the delivering worker's lease.
 */
const QUEUE = 'subscription_queue';
const OUTBOX = 'subscription_outbox';
/** Sorts before every ISO timestamp: "due now". */
const EPOCH = '1970-01-01T00:00:00.000Z';

export interface OutboxRow {
  subscription_id: string;
  seq: number | string;
  resource_type: string;
  resource_id: string;
  version_id: number;
  event: NotificationEvent;
  created_at: string;
  attempts: number;
  last_error: string | null;
}

export type NotificationEvent = 'create' | 'update' | 'delete';

export interface Head {
  row: OutboxRow;
  /** Consecutive failed attempts at this subscription's head so far. */
  failures: number;
}

/**
 * Queues one notification inside the write's transaction. The sequence comes from the queue row,
 * which the increment locks until commit (PostgreSQL): writes matching one subscription commit in
 * sequence order, so the worker can never see a later number before an earlier one has committed.
 */
export async function enqueue(
  tx: Knex.Transaction,
  subscriptionId: string,
  version: StoredVersion,
  event: NotificationEvent,
): Promise<void> {
  await tx(QUEUE)
    .insert({ subscription_id: subscriptionId, last_seq: 0, attempts: 0, next_attempt_at: EPOCH })
    .onConflict('subscription_id')
    .ignore();
  // One statement: creates sharing a transaction (src/store/shared-transactions.ts) run side by side,
  // and an increment and a separate read of it could interleave with another's and both read N+2.
  const [{ last_seq }] = (await tx(QUEUE).where({ subscription_id: subscriptionId }).increment('last_seq', 1).returning('last_seq')) as {
    last_seq: number | string;
  }[];
  await tx(OUTBOX).insert({
    subscription_id: subscriptionId,
    seq: Number(last_seq),
    resource_type: version.resourceType,
    resource_id: version.id,
    version_id: Number(version.versionId),
    event,
    created_at: new Date().toISOString(),
    attempts: 0,
  });
}

/**
 * Leases up to `limit` subscriptions that have notifications due and no live lease. On PostgreSQL
 * the candidates are locked `FOR UPDATE SKIP LOCKED` (workers in other processes skip them instead
 * of queueing); on both databases the lease is only taken if still free, so exactly one worker wins.
 */
export async function claim(knex: Knex, dialect: Dialect, owner: string, leaseMs: number, limit: number): Promise<string[]> {
  const now = new Date().toISOString();
  const leaseUntil = new Date(Date.now() + leaseMs).toISOString();
  const due = (db: Knex): Knex.QueryBuilder =>
    db(QUEUE)
      .select('subscription_id')
      .where('next_attempt_at', '<=', now)
      .where((w) => w.whereNull('lease_until').orWhere('lease_until', '<', now))
      .whereExists((q) => q.select(db.raw('1')).from(OUTBOX).whereRaw(`${OUTBOX}.subscription_id = ${QUEUE}.subscription_id`))
      .orderBy('next_attempt_at')
      .limit(limit);
  // The idle poll is one read, outside any transaction.
  if ((await due(knex)).length === 0) {
    return [];
  }
  return knex.transaction(async (tx) => {
    const candidates = (await due(tx).modify((q) => {
      if (dialect === 'postgres') {
        q.forUpdate().skipLocked();
      }
    })) as { subscription_id: string }[];
    if (candidates.length === 0) {
      return [];
    }
    await tx(QUEUE)
      .whereIn('subscription_id', candidates.map((c) => c.subscription_id))
      .where((w) => w.whereNull('lease_until').orWhere('lease_until', '<', now))
      .update({ lease_until: leaseUntil, lease_owner: owner });
    const mine = (await tx(QUEUE).select('subscription_id').where({ lease_owner: owner, lease_until: leaseUntil })) as {
      subscription_id: string;
    }[];
    return mine.map((m) => m.subscription_id);
  });
}

/** The oldest undelivered notification, after renewing the lease; undefined when the queue is empty or the lease was lost. */
export async function head(knex: Knex, subscriptionId: string, owner: string, leaseMs: number): Promise<Head | undefined> {
  const renewed = await knex(QUEUE)
    .where({ subscription_id: subscriptionId, lease_owner: owner })
    .update({ lease_until: new Date(Date.now() + leaseMs).toISOString() });
  if (renewed !== 1) {
    return undefined;
  }
  const row = (await knex(OUTBOX).where({ subscription_id: subscriptionId }).orderBy('seq').first()) as OutboxRow | undefined;
  if (!row) {
    return undefined;
  }
  const queue = (await knex(QUEUE).where({ subscription_id: subscriptionId }).first('attempts')) as { attempts: number };
  return { row, failures: queue.attempts };
}

/** Acknowledged: the row goes, and the subscription's retry state starts afresh. */
export async function delivered(knex: Knex, row: OutboxRow, owner: string): Promise<void> {
  await knex.transaction(async (tx) => {
    await tx(OUTBOX).where({ subscription_id: row.subscription_id, seq: row.seq }).delete();
    await tx(QUEUE)
      .where({ subscription_id: row.subscription_id, lease_owner: owner })
      .update({ attempts: 0, next_attempt_at: EPOCH, last_error: null });
  });
}

/** Not acknowledged: the row stays at the head, the subscription waits until `nextAttemptAt`, the lease is let go. */
export async function failed(knex: Knex, row: OutboxRow, owner: string, error: string, nextAttemptAt: string): Promise<void> {
  await knex.transaction(async (tx) => {
    await tx(OUTBOX)
      .where({ subscription_id: row.subscription_id, seq: row.seq })
      .update({ attempts: tx.raw('attempts + 1'), last_error: error });
    await tx(QUEUE)
      .where({ subscription_id: row.subscription_id, lease_owner: owner })
      .update({
        attempts: tx.raw('attempts + 1'),
        next_attempt_at: nextAttemptAt,
        last_error: error,
        lease_until: null,
        lease_owner: null,
      });
  });
}

/** Lets go of a lease without changing the retry state (queue drained, or the worker is stopping). */
export async function release(knex: Knex, subscriptionId: string, owner: string): Promise<void> {
  await knex(QUEUE).where({ subscription_id: subscriptionId, lease_owner: owner }).update({ lease_until: null, lease_owner: null });
}

/** A subscription that is gone, `off` or past its `end`: what it had queued is dropped, not delivered. */
export async function discard(knex: Knex, subscriptionId: string, owner: string): Promise<void> {
  await knex.transaction(async (tx) => {
    await tx(OUTBOX).where({ subscription_id: subscriptionId }).delete();
    await tx(QUEUE)
      .where({ subscription_id: subscriptionId, lease_owner: owner })
      .update({ attempts: 0, next_attempt_at: EPOCH, last_error: null, lease_until: null, lease_owner: null });
  });
}

/** The JSON of one stored version (the payload of a full-resource notification). */
export async function versionJson(knex: Knex, row: OutboxRow): Promise<string | undefined> {
  const found = (await knex('resource_history')
    .where({ resource_type: row.resource_type, id: row.resource_id, version_id: row.version_id })
    .first('content')) as { content: string | null } | undefined;
  return found?.content ?? undefined;
}
