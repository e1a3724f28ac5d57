import type { Knex } from 'knex';

/**
 * Security tables (src/auth, src/audit): registered SMART clients, client-assertion ids already
 * used (replay protection), the access-token signing key (shared by every server process on one
 * database), and the audit trail, append-only: one row per AuditEvent.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('auth_client', (t) => {
    t.string('id', 128).primary();
    t.string('name', 200).notNullable();
    // Space-separated SMART scopes the client may be granted.
    t.text('scopes').notNullable();
    // Public keys: a JWKS document, or the URL the client publishes it at.
    t.text('jwks');
    t.string('jwks_url', 2000);
    t.boolean('enabled').notNullable();
    t.string('created_at', 32).notNullable();
  });
  await knex.schema.createTable('auth_assertion_jti', (t) => {
    t.string('client_id', 128).notNullable();
    t.string('jti', 255).notNullable();
    // Kept until the assertion expires; afterwards its exp alone rejects a replay.
    t.string('expires_at', 32).notNullable();
    t.primary(['client_id', 'jti']);
    t.index(['expires_at']);
  });
  await knex.schema.createTable('auth_signing_key', (t) => {
    t.string('id', 64).primary();
    t.string('secret', 200).notNullable();
    t.string('created_at', 32).notNullable();
  });
  await knex.schema.createTable('audit_event', (t) => {
    t.bigIncrements('seq').primary();
    t.string('id', 64).notNullable().unique();
    t.string('recorded', 32).notNullable();
    t.string('client_id', 128).notNullable();
    t.string('outcome', 2).notNullable();
    // `Type/id/_history/n` when the event concerns one resource.
    t.string('entity', 200);
    t.text('content').notNullable();
    t.index(['recorded']);
    t.index(['entity']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_event');
  await knex.schema.dropTable('auth_signing_key');
  await knex.schema.dropTable('auth_assertion_jti');
  await knex.schema.dropTable('auth_client');
}
