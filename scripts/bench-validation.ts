/**
 * `npm run bench:validation`: validation throughput per resource on one core (one process, no I/O).
 * For each valid example: the profile stage alone (bindings + block profile), the whole write gate
 * (shape, JSON schema, @medplum/core base definition, profile, references), and, for comparison,
 * @medplum/core's validateResource with the profile passed as options.profile (re-parsed per call).
 */
import path from 'node:path';
import { validateResource, type OperationOutcomeError } from '@medplum/core';
import type { StructureDefinition } from '@medplum/fhirtypes';
import { SUPPORTED_RESOURCE_TYPES } from '../src/fhir/resource-types';
import { loadBaseDefinitions } from '../src/definitions';
import { PROFILES_DIR, readResourceFiles } from '../src/profiles/package-files';
import { validateForWrite } from '../src/validation/pipeline';
import { applyProfiles } from '../src/validation/profile-stage';
import { warmUpStructureValidators } from '../src/validation/schema';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);

function rate(work: () => void, seconds = SECONDS): number {
  for (let i = 0; i < 200; i++) {
    work();
  }
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) {
      work();
    }
    n += 50;
    now = process.hrtime.bigint();
  }
  return Math.round(n / (Number(now - start) / 1e9));
}

function main(): void {
  loadBaseDefinitions();
  warmUpStructureValidators(SUPPORTED_RESOURCE_TYPES);
  const sds = new Map(
    readResourceFiles()
      .map((f) => f.resource)
      .filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition')
      .map((sd) => [sd.url as string, sd]),
  );
  const rows: string[][] = [['example', 'profile stage /s', 'whole write gate /s', 'medplum options.profile /s']];
  const totals = { stage: 0, gate: 0, n: 0 };
  const examples = readResourceFiles(path.join(PROFILES_DIR, 'examples')).filter((f) => /^(ServiceRequest|Procedure|Observation)-/.test(f.file));
  for (const { file, resource: example } of examples) {
    const profile = sds.get(example.meta?.profile?.[0] ?? '');
    const stage = rate(() => applyProfiles(example));
    const gate = rate(() => validateForWrite(example, example.resourceType));
    const medplum = profile
      ? rate(() => {
          try {
            validateResource(example, { profile });
          } catch (err) {
            void (err as OperationOutcomeError);
          }
        }, SECONDS / 2)
      : 0;
    rows.push([file, String(stage), String(gate), String(medplum)]);
    totals.stage += 1 / stage;
    totals.gate += 1 / gate;
    totals.n++;
  }
  rows.push(['mix (harmonic mean)', String(Math.round(totals.n / totals.stage)), String(Math.round(totals.n / totals.gate)), '']);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) {
    process.stdout.write(`${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')}\n`);
  }
  process.stdout.write(`node ${process.version}, ${SECONDS}s per measurement, one core\n`);
}

main();
