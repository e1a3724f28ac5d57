import fs from 'node:fs';
import path from 'node:path';
import { AuditTrail } from './audit';
import { smartCapabilitySecurity } from './auth/capability';
import type { Config } from './config';
import { ExportService } from './export/service';
import { domainRules } from './domain';
import { loadBaseDefinitions } from './definitions';
import { createFhirRouter, type FhirContext, type FhirRouter } from './fhir';
import { SUPPORTED_RESOURCE_TYPES } from './fhir/resource-types';
import { openDatabase, type Database } from './store/database';
import { ExportJobStore } from './store/export-sql';
import { searchIndexHook } from './store/indexing/index-hook';
import { KnexRepository } from './store/knex-repository';
import { migrateToLatest } from './store/migrations';
import { Subscriptions } from './subscriptions';
import type { WriteHook } from './store/types';
import { warmUpStructureValidators } from './validation/schema';
import { ValidationPool } from './validation/worker-pool';

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
  /** AuditEvents and Provenance (src/audit); the HTTP layer records authentication events with it. */
  trail: AuditTrail;
  /** Bulk Data export jobs (src/export); the server attaches and starts their runner. */
  exports: ExportService;
  close(): Promise<void>;
}

export interface CoreOptions {
  /** PostgreSQL schema (tests isolate themselves in one). */
  pgSchema?: string;
}

/** Loads definitions, opens and migrates the database, and wires repository and router. */
export async function openCore(config: Config, options: CoreOptions = {}): Promise<Core> {
  loadBaseDefinitions();
  if (config.validationWorkers === 0) {
    // Validation runs here: compile every type's schema now. With workers, each worker does this
    // at its start, and this thread compiles only what its rare in-process validations need.
    warmUpStructureValidators(SUPPORTED_RESOURCE_TYPES);
  }
  const db = openDatabase(config.databaseUrl, { pgSchema: options.pgSchema });
  await migrateToLatest(db.knex);
  const hooks: WriteHook[] = [searchIndexHook];
  const repo = new KnexRepository(db.knex, db.dialect, hooks);
  // Provenance and the AuditEvent of each write commit in the write's transaction (src/audit).
  const trail = new AuditTrail(db.knex);
  hooks.push(...trail.writeHooks((tx) => new KnexRepository(db.knex, db.dialect, hooks, tx)));
  // Subscription matching runs after the search index hook: it searches the index rows of the write.
  const subscriptions = new Subscriptions(db, config, () => context.repo);
  hooks.push(subscriptions.hook);
  const router = createFhirRouter({
    name: pkg.name,
    version: pkg.version,
    startedAt: new Date().toISOString(),
    security: config.auth === 'none' ? undefined : smartCapabilitySecurity(config.corsOrigins.length > 0),
  });
  const exports = new ExportService(new ExportJobStore(db.knex, db.dialect), config.exports, config.auth !== 'none');
  const validation = config.validationWorkers > 0 ? new ValidationPool(config.validationWorkers) : undefined;
  await validation?.ready();
  const context: FhirContext = {
    repo: subscriptions.wrap(trail.wrap(repo)),
    guard: trail.guard,
    rules: domainRules,
    exports,
    validate: validation?.validate,
  };
  subscriptions.start();
  const close = async (): Promise<void> => {
    // The delivery worker first: it uses the database until its last lease is released.
    await subscriptions.stop();
    // The export runner hands its job back to the queue after the current page (resumed on next start).
    await exports.runner?.stop();
    await validation?.close();
    await db.close();
  };
  return { db, router, trail, context, exports, close };
}
