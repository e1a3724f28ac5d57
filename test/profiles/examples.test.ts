import { expect } from 'chai';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { FhirError } from '../../src/common/errors';
import { loadBaseDefinitions } from '../../src/definitions';
import { validateForWrite } from '../../src/validation/pipeline';
import { testDatabaseKinds } from '../support/databases';
import { startTestServer, type TestServer } from '../support/server';
import { EXAMPLES_DIR, INVALID, INVALID_DIR, VALID_ORDER, jsonFiles, readExample } from './examples';

const describeIssue = (i: OperationOutcomeIssue): string => `${i.severity} ${i.code} ${i.expression?.join()}: ${i.diagnostics}`;

describe('profile examples (validation pipeline)', () => {
  before(() => loadBaseDefinitions());

  it('lists every example file, and every invalid example is tabled with its rule', () => {
    expect(jsonFiles(EXAMPLES_DIR)).to.have.members(VALID_ORDER);
    expect(jsonFiles(INVALID_DIR)).to.have.members(INVALID.map(([rule]) => `${rule}.json`));
  });

  for (const file of VALID_ORDER) {
    it(`accepts ${file} with no warnings and records its profile`, () => {
      const example = readExample(file);
      const valid = validateForWrite(example, example.resourceType);
      expect(valid.warnings.map(describeIssue)).to.deep.equal([]);
      expect(valid.resource.meta?.profile ?? []).to.deep.equal(example.meta?.profile ?? []);
    });
  }

  for (const [rule, code, expression, status = 422] of INVALID) {
    it(`rejects ${rule}: ${status} ${code} at ${expression}`, () => {
      const example = readExample(`${rule}.json`, INVALID_DIR);
      let error: unknown;
      try {
        validateForWrite(example, example.resourceType);
      } catch (err) {
        error = err;
      }
      expect(error, 'should have been rejected').to.be.instanceOf(FhirError);
      const { status: actual, outcome } = error as FhirError;
      const issues = outcome.issue ?? [];
      expect(actual, issues.map(describeIssue).join('\n')).to.equal(status);
      const hit = issues.find((i) => i.code === code && i.expression?.[0] === expression);
      expect(hit, issues.map(describeIssue).join('\n')).to.not.equal(undefined);
      expect(hit?.severity).to.equal('error');
      expect(hit?.diagnostics).to.be.a('string').with.length.greaterThan(20);
    });
  }
});

for (const kind of testDatabaseKinds()) {
  describe(`profile examples over HTTP (${kind.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => server?.stop());

    it('stores every valid example (update-as-create, in reference order) with meta.profile', async () => {
      for (const file of VALID_ORDER) {
        const example = readExample(file);
        const res = await server.fhir(`/${example.resourceType}/${example.id}`, { method: 'PUT', body: example });
        expect(res.status, `${file}: ${res.text}`).to.equal(201);
        expect(res.body.meta.profile ?? []).to.deep.equal(example.meta?.profile ?? []);
      }
    });

    it('infers the profile when meta.profile is absent, and stores it', async () => {
      const { meta: _meta, id: _id, ...pain } = readExample('Observation-example-pain-score.json') as unknown as Record<string, unknown>;
      const res = await server.fhir('/Observation', { method: 'POST', body: pain });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.meta.profile).to.deep.equal(['http://sympathetic-block-fhir.org/fhir/StructureDefinition/block-pain-score']);
    });

    it('rejects every invalid example with the issue its rule names, and stores nothing', async () => {
      for (const [rule, code, expression, status = 422] of INVALID) {
        const example = readExample(`${rule}.json`, INVALID_DIR);
        const res = await server.fhir(`/${example.resourceType}`, { method: 'POST', body: example });
        expect(res.status, `${rule}: ${res.text}`).to.equal(status);
        expect(res.body.resourceType).to.equal('OperationOutcome');
        const hit = (res.body.issue as OperationOutcomeIssue[]).find((i) => i.code === code && i.expression?.[0] === expression);
        expect(hit, `${rule}: ${res.text}`).to.not.equal(undefined);
      }
      const history = await server.fhir('/_history?_count=1000');
      expect(history.body.entry.map((e: { resource?: { id: string } }) => e.resource?.id)).to.not.include.members(
        INVALID.map(([rule]) => `invalid-${rule}`),
      );
    });
  });
}
