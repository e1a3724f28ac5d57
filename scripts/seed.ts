/**
 * `npm run seed`: loads the demo data in seed/ into the configured database (DATABASE_URL), through
 * the same FHIR core and validation pipeline as the REST API. Each resource is written with its
 * fixed id by update-as-create, and unchanged content makes no new version, so a second run
 * changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { FhirError, toFhirError } from '../src/common/errors';
import { loadConfig } from '../src/config';
import { openCore } from '../src/core';

const SEED_DIR = path.join(__dirname, '..', '..', 'seed');

async function main(): Promise<void> {
  const config = loadConfig();
  const core = await openCore(config);
  const counts = { created: 0, updated: 0, unchanged: 0, failed: 0 };
  try {
    const files = fs.readdirSync(SEED_DIR).filter((f) => f.endsWith('.json')).sort();
    for (const file of files) {
      const bundle = JSON.parse(fs.readFileSync(path.join(SEED_DIR, file), 'utf8')) as Bundle;
      for (const entry of bundle.entry ?? []) {
        const resource = entry.resource as Resource & { id: string };
        const label = `${resource.resourceType}/${resource.id}`;
        try {
          const response = await core.router.handle(
            {
              method: 'PUT',
              path: `${resource.resourceType}/${resource.id}`,
              params: {},
              query: {},
              body: resource,
              headers: {},
              baseUrl: config.baseUrl ?? `http://localhost:${config.port}/fhir`,
            },
            core.context,
          );
          counts[response.status === 201 ? 'created' : response.changed === false ? 'unchanged' : 'updated']++;
        } catch (err) {
          const error = err instanceof FhirError ? err : toFhirError(err);
          counts.failed++;
          const reasons = (error.outcome.issue ?? []).map((i) => i.diagnostics).join('; ');
          process.stderr.write(`${file}: ${label}: HTTP ${error.status}: ${reasons}\n`);
        }
      }
    }
  } finally {
    await core.close();
  }
  process.stdout.write(
    `seed: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.failed} failed\n`,
  );
  process.exitCode = counts.failed > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`seed failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
