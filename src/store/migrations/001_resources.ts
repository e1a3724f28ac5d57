import type { Knex } from 'knex';

/**
 * Current versions and all versions of every resource. Content is the JSON text exactly as served,
 * so reads and exports stream it without re-serialising. Timestamps are ISO-8601 UTC strings of
 * fixed width (`toISOString()`), which sort correctly as text on both SQLite and PostgreSQL.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('resource', (t) => {
    t.string('resource_type', 64).notNullable();
    t.string('id', 64).notNullable();
    t.integer('version_id').notNullable();
    t.string('last_updated', 32).notNullable();
    t.boolean('deleted').notNullable();
    // Null once deleted: the last live content stays in resource_history.
    t.text('content');
    t.primary(['resource_type', 'id']);
    t.index(['resource_type', 'last_updated']);
  });
  await knex.schema.createTable('resource_history', (t) => {
    // seq gives history one total order, for paging newest first.
    t.bigIncrements('seq').primary();
    t.string('resource_type', 64).notNullable();
    t.string('id', 64).notNullable();
    t.integer('version_id').notNullable();
    t.string('last_updated', 32).notNullable();
    t.boolean('deleted').notNullable();
    t.string('method', 8).notNullable();
    // Null for a deletion.
    t.text('content');
    // The same version can never be written twice: the last line of defence against lost updates.
    t.unique(['resource_type', 'id', 'version_id']);
    t.index(['resource_type', 'seq']);
    t.index(['last_updated']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('resource_history');
  await knex.schema.dropTable('resource');
}
