import fs from 'node:fs';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';

/** The FHIR package folder. Compiled code lives in dist/src/profiles or dist/scripts: both resolve to <repo>/profiles. */
export const PROFILES_DIR = path.resolve(__dirname, '..', '..', '..', 'profiles');

export interface PackageFile<T = Resource> {
  /** Path relative to the package folder, e.g. `StructureDefinition-block-order.json`. */
  file: string;
  resource: T;
}

/** Every resource file directly in `dir` (not package.json, not .index.json), sorted by file name. */
export function readResourceFiles(dir: string = PROFILES_DIR): PackageFile[] {
  if (!fs.existsSync(dir)) {
    return [];
  }
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json') && f !== 'package.json' && !f.startsWith('.'))
    .sort()
    .map((file) => ({ file, resource: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Resource }));
}

/** Stable JSON as committed: two-space indent and a final newline, so generated files diff cleanly. */
export function toFileJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
