import type { Knex } from 'knex';

/**
 * Keys that serialise conditional writes: two requests that create "if none exists" with the same
 * criteria take the same row lock (PostgreSQL) before searching, so exactly one of them creates.
 * Rows are never deleted; a stale key is harmless because the search after the lock decides.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('write_lock', (t) => {
    t.string('lock_key', 64).primary();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('write_lock');
}
