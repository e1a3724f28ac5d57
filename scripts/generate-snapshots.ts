/**
 * `npm run profiles:snapshots`: writes the derived files of the FHIR package in profiles/
 * (StructureDefinition snapshots, ImplementationGuide, .index.json). Edit differentials, then run this.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generatePackageFiles } from '../src/profiles/generated-files';
import { PROFILES_DIR } from '../src/profiles/package-files';

let written = 0;
for (const [file, content] of generatePackageFiles()) {
  const target = path.join(PROFILES_DIR, file);
  if (!fs.existsSync(target) || fs.readFileSync(target, 'utf8') !== content) {
    fs.writeFileSync(target, content);
    written++;
  }
}
process.stdout.write(`profiles: ${written} file(s) updated in ${PROFILES_DIR}\n`);
