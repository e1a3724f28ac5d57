import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config';
import { loadBaseDefinitions } from './definitions';
import { createFhirRouter, type FhirContext, type FhirRouter } from './fhir';
import { SUPPORTED_RESOURCE_TYPES } from './fhir/resource-types';
import { openDatabase, type Database } from './store/database';
import { searchIndexHook } from './store/indexing/index-hook';
import { KnexRepository } from './store/knex-repository';
import { migrateToLatest } from './store/migrations';
import { warmUpStructureValidators } from './validation/schema';

// Compiled to dist/src/core.js: the package manifest is two levels up.
const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};

/** The FHIR core without HTTP: what the server, the seed command and later importers share. */
export interface Core {
  db: Database;
  router: FhirRouter;
  context: FhirContext;
  close(): Promise<void>;
}

export interface CoreOptions {
  /** PostgreSQL schema (tests isolate themselves in one). */
  pgSchema?: string;
}

/** Loads definitions, opens and migrates the database, and wires repository and router. */
export async function openCore(config: Config, options: CoreOptions = {}): Promise<Core> {
  loadBaseDefinitions();
  warmUpStructureValidators(SUPPORTED_RESOURCE_TYPES);
  const db = openDatabase(config.databaseUrl, { pgSchema: options.pgSchema });
  await migrateToLatest(db.knex);
  const repo = new KnexRepository(db.knex, db.dialect, [searchIndexHook]);
  const router = createFhirRouter({ name: pkg.name, version: pkg.version, startedAt: new Date().toISOString() });
  return { db, router, context: { repo }, close: () => db.knex.destroy() };
}
