import type { Knex } from 'knex';

/**
 * The subscription outbox (src/subscriptions). `subscription_outbox` holds one row per notification
 * still to deliver, written in the transaction of the resource write that caused it, so a committed
 * write always has its notifications and a rolled-back one never does. Rows leave only when the
 * receiver acknowledged them.
 *
 * `subscription_queue` holds one row per subscription: `last_seq` hands out the per-subscription
 * sequence (writers update it, so on PostgreSQL concurrent matching writes take turns and sequence
 * order is commit order), and the delivery state of the queue's head: consecutive failed attempts,
 * when to try next, the last error, and the lease of the worker process delivering it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('subscription_queue', (t) => {
    t.string('subscription_id', 64).primary();
    t.bigInteger('last_seq').notNullable();
    t.integer('attempts').notNullable();
    t.string('next_attempt_at', 32).notNullable();
    t.text('last_error');
    // A worker delivers a subscription's notifications only while it holds the lease: one at a time, in order.
    t.string('lease_until', 32);
    t.string('lease_owner', 64);
    t.index(['next_attempt_at']);
  });
  await knex.schema.createTable('subscription_outbox', (t) => {
    t.string('subscription_id', 64).notNullable();
    t.bigInteger('seq').notNullable();
    t.string('resource_type', 64).notNullable();
    t.string('resource_id', 64).notNullable();
    t.integer('version_id').notNullable();
    // create | update | delete: deletions are always sent without a body.
    t.string('event', 8).notNullable();
    t.string('created_at', 32).notNullable();
    t.integer('attempts').notNullable();
    t.text('last_error');
    t.primary(['subscription_id', 'seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('subscription_outbox');
  await knex.schema.dropTable('subscription_queue');
}
