import type { Knex } from 'knex';
import * as m001 from './001_resources';
import * as m002 from './002_search_index';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Migrations are compiled into the program, in order: no directory scanning, same on every database. */
const MIGRATIONS: Record<string, Migration> = {
  '001_resources': m001,
  '002_search_index': m002,
};

class CompiledMigrationSource implements Knex.MigrationSource<string> {
  getMigrations(): Promise<string[]> {
    return Promise.resolve(Object.keys(MIGRATIONS));
  }
  getMigrationName(name: string): string {
    return name;
  }
  getMigration(name: string): Promise<Migration> {
    return Promise.resolve(MIGRATIONS[name]);
  }
}

const migrationConfig: Knex.MigratorConfig = { migrationSource: new CompiledMigrationSource() };

export async function migrateToLatest(knex: Knex): Promise<void> {
  await knex.migrate.latest(migrationConfig);
}

/** True when every compiled migration has been applied (used by readiness checks). */
export async function migrationsCurrent(knex: Knex): Promise<boolean> {
  const [, pending] = (await knex.migrate.list(migrationConfig)) as [unknown[], unknown[]];
  return pending.length === 0;
}
