import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Bundle } from '@medplum/fhirtypes';
import { FhirError } from '../../src/common/errors';
import { loadBaseDefinitions } from '../../src/definitions';
import { validateForWrite } from '../../src/validation/pipeline';

const SEED_DIR = path.join(__dirname, '..', '..', '..', 'seed');

describe('seed data conforms to the block profiles', () => {
  before(() => loadBaseDefinitions());

  for (const file of fs.readdirSync(SEED_DIR).filter((f) => f.endsWith('.json')).sort()) {
    it(`${file}: every resource passes the write gate without warnings`, () => {
      const bundle = JSON.parse(fs.readFileSync(path.join(SEED_DIR, file), 'utf8')) as Bundle;
      for (const entry of bundle.entry ?? []) {
        const resource = entry.resource as { resourceType: string; id: string };
        try {
          const valid = validateForWrite(resource, resource.resourceType);
          expect(valid.warnings, `${resource.id}: ${JSON.stringify(valid.warnings)}`).to.deep.equal([]);
          if (['ServiceRequest', 'Procedure', 'Observation'].includes(resource.resourceType)) {
            expect(valid.resource.meta?.profile, resource.id).to.have.length(1);
          }
        } catch (err) {
          expect.fail(`${resource.id}: ${err instanceof FhirError ? JSON.stringify(err.outcome.issue) : String(err)}`);
        }
      }
    });
  }
});
