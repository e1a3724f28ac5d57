import path from 'node:path';
import type { ImplementationGuide, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { PROFILES_DIR, readResourceFiles, toFileJson, type PackageFile } from './package-files';
import { baseDefinitionFinder, generateSnapshot } from './snapshot';

const IG_FILE = 'ImplementationGuide-sympathetic-block-fhir.json';

/**
 * Everything in profiles/ that is derived rather than written by hand: the snapshot of each
 * StructureDefinition, the ImplementationGuide's resource list and the `.index.json` files that
 * FHIR package loaders read. `npm run profiles:snapshots` writes these; a test checks they are current.
 * Returns file path (relative to profiles/) → content.
 */
export function generatePackageFiles(dir: string = PROFILES_DIR): Map<string, string> {
  const files = readResourceFiles(dir).filter((f) => f.file !== IG_FILE);
  const examples = readResourceFiles(path.join(dir, 'examples'));
  const sds = files.map((f) => f.resource).filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition');
  const findBase = baseDefinitionFinder(sds);
  const out = new Map<string, string>();

  for (const f of files) {
    if (f.resource.resourceType === 'StructureDefinition') {
      const sd = f.resource as StructureDefinition;
      const { snapshot: _old, differential, ...rest } = sd;
      out.set(f.file, toFileJson({ ...rest, snapshot: { element: generateSnapshot(sd, findBase) }, differential }));
    }
  }
  const ig = implementationGuide(files, examples);
  out.set(IG_FILE, toFileJson(ig));
  out.set('.index.json', toFileJson(packageIndex([...files, { file: IG_FILE, resource: ig }])));
  out.set('examples/.index.json', toFileJson(packageIndex(examples)));
  return out;
}

function implementationGuide(files: PackageFile[], examples: PackageFile[]): ImplementationGuide {
  const profileOf = (r: Resource): string | undefined => r.meta?.profile?.[0];
  return {
    resourceType: 'ImplementationGuide',
    id: 'sympathetic-block-fhir',
    url: 'http://sympathetic-block-fhir.org/fhir/ImplementationGuide/sympathetic-block-fhir',
    version: '0.1.0',
    name: 'SympatheticBlockFhir',
    title: 'Sympathetic block FHIR profiles',
    status: 'active',
    date: '2026-11-26',
    publisher: 'sympathetic-block-fhir',
    description:
      'Block orders (ServiceRequest), block procedures (Procedure) and block outcome observations, with their terminology and search parameters.',
    packageId: 'sympathetic-block-fhir.profiles',
    license: 'Apache-2.0',
    fhirVersion: ['4.0.1'],
    dependsOn: [{ uri: 'http://hl7.org/fhir/ImplementationGuide/hl7.fhir.r4.core', packageId: 'hl7.fhir.r4.core', version: '4.0.1' }],
    definition: {
      resource: [
        ...files.map((f) => ({
          reference: { reference: `${f.resource.resourceType}/${f.resource.id}` },
          name: (f.resource as { title?: string }).title ?? f.resource.id,
          exampleBoolean: false,
        })),
        ...examples.map((f) => {
          const profile = profileOf(f.resource);
          return {
            reference: { reference: `${f.resource.resourceType}/${f.resource.id}` },
            name: `Example ${f.resource.resourceType}/${f.resource.id}`,
            ...(profile ? { exampleCanonical: profile } : { exampleBoolean: true }),
          };
        }),
      ],
    },
  } as ImplementationGuide;
}

/** The FHIR package `.index.json` (index-version 1): one entry per resource file. */
function packageIndex(files: PackageFile[]): unknown {
  return {
    'index-version': 1,
    files: files.map(({ file, resource }) => {
      const r = resource as Resource & { url?: string; version?: string; kind?: string; type?: string };
      return {
        filename: file,
        resourceType: r.resourceType,
        id: r.id,
        ...(r.url ? { url: r.url } : {}),
        ...(r.version ? { version: r.version } : {}),
        ...(r.kind ? { kind: r.kind } : {}),
        ...(r.resourceType === 'StructureDefinition' && r.type ? { type: r.type } : {}),
      };
    }),
  };
}
