import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { patient } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Inputs the property-based run found to answer 500, pinned as plain cases (docs/RELIABILITY.md).
 * Each must be answered without a 5xx; a 4xx is an OperationOutcome that stores nothing.
 */
for (const kind of testDatabaseKinds()) {
  describe(`Hostile input found by the fuzzer (${kind.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => server?.stop());

    const storedVersions = async (): Promise<number> => (await server.fhir('/_history?_count=0')).body.total;
    const expectClean = async (path: string, init: Parameters<TestServer['fhir']>[1] = {}): Promise<number> => {
      const before = await storedVersions();
      const res = await server.fhir(path, init);
      expect(res.status, `${init.method ?? 'GET'} ${path} → ${res.text.slice(0, 200)}`).to.be.below(500);
      if (res.status >= 400) {
        expect(res.body?.resourceType).to.equal('OperationOutcome');
        expect(await storedVersions()).to.equal(before);
      }
      return res.status;
    };

    it('a syntax error after deeply nested JSON is 400, not a stack overflow (src/http/content.ts describeJsonError)', async () => {
      const deep = `{"resourceType":"Patient","name":${'['.repeat(10_000)}${']'.repeat(10_000)}}garbage`;
      expect(await expectClean('/Patient', { method: 'POST', rawBody: deep, headers: { 'content-type': 'application/fhir+json' } })).to.equal(400);
    });

    it('a JSON Patch op below a primitive it just wrote is 4xx, not a TypeError (src/fhir/interactions/patch.ts)', async () => {
      const id = (await server.fhir('/Practitioner', { method: 'POST', body: { resourceType: 'Practitioner', name: [{ family: 'X' }] } })).body.id;
      const patch = (ops: unknown[]) => ({ method: 'PATCH', rawBody: JSON.stringify(ops), headers: { 'content-type': 'application/json-patch+json' } });
      await expectClean(`/Practitioner/${id}`, patch([{ op: 'add', path: '/meta', value: 'x' }, { op: 'add', path: '/meta/versionId', value: '3' }]));
      await expectClean(`/Practitioner/${id}`, patch([{ op: 'add', path: '/meta', value: 'x' }, { op: 'copy', path: '/meta/versionId', from: '/name' }]));
    });

    describe('NUL characters (U+0000) in ids and search values: PostgreSQL refuses them in text', () => {
      for (const path of [
        '/Patient/a%00b',
        '/Patient/a%00b/_history',
        '/Patient?identifier=a%00b',
        '/Patient?name:contains=%00',
        '/Patient?_id=a%00b',
        '/ServiceRequest?status=%01%00',
      ]) {
        it(`GET ${path}`, async () => expectClean(path));
      }
      it('conditional create, update and delete with a NUL in the criteria', async () => {
        await expectClean('/Patient', { method: 'POST', body: patient(), headers: { 'if-none-exist': 'identifier=a%00b' } });
        await expectClean('/Patient?identifier=a%00b', { method: 'PUT', body: patient() });
        await expectClean('/Patient?identifier=a%00b', { method: 'DELETE' });
      });
    });
  });
}
