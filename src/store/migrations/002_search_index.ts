import type { Knex } from 'knex';
import { isPostgres } from '../database';

/**
 * Search index tables, one per value kind, filled at write time by the index hook in the resource's
 * own transaction. Each row: the owning resource (type, id), the search parameter code, and the value
 * in a form that SQL can compare. Text columns use byte order ("C" collation on PostgreSQL, SQLite's
 * default) so that prefix searches are index range scans on both databases. The owner index leads
 * with (type, id, param) so a correlated EXISTS probe for one resource is an equality lookup.
 */
export async function up(knex: Knex): Promise<void> {
  const postgres = isPostgres(knex);
  const text = (t: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder =>
    postgres ? t.specificType(name, 'text COLLATE "C"') : t.text(name);
  const owner = (t: Knex.CreateTableBuilder): void => {
    t.string('resource_type', 64).notNullable();
    t.string('resource_id', 64).notNullable();
    t.string('param', 100).notNullable();
  };

  await knex.schema.createTable('search_token', (t) => {
    owner(t);
    text(t, 'system');
    text(t, 'value');
    text(t, 'text');
    t.index(['resource_type', 'param', 'value', 'system'], 'search_token_value');
    t.index(['resource_type', 'resource_id', 'param'], 'search_token_owner');
  });
  await knex.schema.createTable('search_string', (t) => {
    owner(t);
    text(t, 'value').notNullable();
    text(t, 'exact').notNullable();
    t.index(['resource_type', 'param', 'value'], 'search_string_value');
    t.index(['resource_type', 'resource_id', 'param'], 'search_string_owner');
  });
  await knex.schema.createTable('search_reference', (t) => {
    owner(t);
    t.string('target_type', 64);
    t.string('target_id', 64);
    text(t, 'target_url');
    t.index(['resource_type', 'param', 'target_id', 'target_type'], 'search_reference_target');
    t.index(['resource_type', 'resource_id', 'param'], 'search_reference_owner');
  });
  await knex.schema.createTable('search_date', (t) => {
    owner(t);
    t.string('low', 32).notNullable();
    t.string('high', 32).notNullable();
    t.index(['resource_type', 'param', 'low'], 'search_date_low');
    t.index(['resource_type', 'param', 'high'], 'search_date_high');
    t.index(['resource_type', 'resource_id', 'param'], 'search_date_owner');
  });
  await knex.schema.createTable('search_number', (t) => {
    owner(t);
    t.double('value').notNullable();
    t.double('low').notNullable();
    t.double('high').notNullable();
    text(t, 'system');
    text(t, 'unit');
    t.index(['resource_type', 'param', 'value'], 'search_number_value');
    t.index(['resource_type', 'resource_id', 'param'], 'search_number_owner');
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['search_number', 'search_date', 'search_reference', 'search_string', 'search_token']) {
    await knex.schema.dropTable(table);
  }
}
