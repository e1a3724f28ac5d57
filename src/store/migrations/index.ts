import type { Knex } from 'knex';
import { isSqlite } from '../database';
import * as m001 from './001_resources';
import * as m002 from './002_search_index';
import * as m004 from './004_write_locks';
import * as m003 from './003_security';
import * as m005 from './005_subscriptions';
import * as m006 from './006_export';
import * as m007 from './007_date_span';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Migrations are compiled into the program, in order: no directory scanning, same on every database. */
const MIGRATIONS: Record<string, Migration> = {
  '001_resources': m001,
  '002_search_index': m002,
  '004_write_locks': m004,
  '003_security': m003,
  '005_subscriptions': m005,
  '006_export': m006,
  '007_date_span': m007,
};

class CompiledMigrationSource implements Knex.MigrationSource<string> {
  getMigrations(): Promise<string[]> {
    // Sorted by name, so the order does not depend on how entries were added above.
    return Promise.resolve(Object.keys(MIGRATIONS).sort());
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
  await refreshPlannerStatistics(knex);
}

/**
 * SQLite plans queries from statistics that only ANALYZE collects; without them it may probe a
 * resource's index rows through a range index instead of the owner index (seconds instead of
 * milliseconds at scale). A sampled ANALYZE (analysis_limit) takes milliseconds even on large files.
 * PostgreSQL's autovacuum keeps statistics current, but only some time after a bulk load (an import,
 * the data generator): until then every search plans blind (measured at 1 M resources: 37 req/s and
 * time-outs instead of > 1,000 req/s). So tables never analyzed yet are analyzed here (sampled; ~20 s
 * once after a bulk load of 1 M resources, nothing otherwise).
 */
export async function refreshPlannerStatistics(knex: Knex): Promise<void> {
  if (isSqlite(knex)) {
    await knex.raw('PRAGMA analysis_limit = 1000');
    await knex.raw('ANALYZE');
    return;
  }
  const { rows } = (await knex.raw(
    `select relname from pg_stat_user_tables
      where schemaname = current_schema() and n_live_tup > 0 and last_analyze is null and last_autoanalyze is null`,
  )) as { rows: { relname: string }[] };
  for (const { relname } of rows) {
    await knex.raw('ANALYZE ??', [relname]);
  }
}

/** True when every compiled migration has been applied (used by readiness checks). */
export async function migrationsCurrent(knex: Knex): Promise<boolean> {
  const [, pending] = (await knex.migrate.list(migrationConfig)) as [unknown[], unknown[]];
  return pending.length === 0;
}
