import type { Knex } from 'knex';

/**
 * Bulk Data export jobs (src/export). A job row is the whole truth about a job: what was asked, who
 * asked, how far it got (a checkpoint after every page, so a restarted server resumes instead of
 * starting over), and which process is running it (`owner`, kept fresh by `heartbeat_at`, so another
 * process can take over a job whose runner died).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('export_job', (t) => {
    t.string('id', 64).primary();
    // queued | running | completed | failed | cancelled
    t.string('status', 16).notNullable();
    // system | patient | group
    t.string('kind', 16).notNullable();
    // The kick-off request URL, echoed in the manifest's `request`.
    t.text('request').notNullable();
    // Parsed kick-off parameters (JSON).
    t.text('params').notNullable();
    t.string('client_id', 128).notNullable();
    t.boolean('requires_token').notNullable();
    t.string('transaction_time', 32);
    t.string('created_at', 32).notNullable();
    t.string('started_at', 32);
    t.string('finished_at', 32);
    t.string('expires_at', 32);
    t.string('owner', 64);
    t.string('heartbeat_at', 32);
    t.integer('attempts').notNullable().defaultTo(0);
    // Checkpoint and outputs so far (JSON): where a resumed run continues.
    t.text('progress');
    // Why it failed (JSON OperationOutcome).
    t.text('error');
    t.index(['status', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('export_job');
}
