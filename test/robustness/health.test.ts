import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { startTestServer, type TestServer } from '../support/server';

/** Probes answer without a token, as cheap JSON, and /readyz follows the database. */
for (const kind of testDatabaseKinds()) {
  describe(`Health and readiness probes (${kind.name})`, () => {
    let server: TestServer;
    before(async () => {
      // Authentication ON: the probes must not be behind it.
      server = await startTestServer(kind, { FHIR_AUTH: 'smart' });
    });
    after(async () => server?.stop());

    it('GET /healthz: 200 without a token, while /fhir needs one', async () => {
      expect((await fetch(`${server.url}/fhir/Patient`)).status).to.equal(401);
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(await res.json()).to.deep.equal({ status: 'ok' });
    });

    it('GET /readyz: 200 with the database reachable and migrations current', async () => {
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ status: 'ready', checks: { database: 'ok', migrations: 'current' } });
    });

    it('is cheap: 200 probes in well under a second each', async () => {
      const started = Date.now();
      for (let i = 0; i < 200; i++) {
        expect((await fetch(`${server.url}/readyz`)).status).to.equal(200);
      }
      expect((Date.now() - started) / 200).to.be.lessThan(50);
    });

    it('GET /readyz: 503 with Retry-After once the database is gone; /healthz still 200', async () => {
      await server.core.db.knex.destroy();
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).to.equal(503);
      expect(res.headers.get('retry-after')).to.equal('5');
      expect(((await res.json()) as { checks: { database: string } }).checks.database).to.equal('unreachable');
      expect((await fetch(`${server.url}/healthz`)).status).to.equal(200);
    });
  });
}
