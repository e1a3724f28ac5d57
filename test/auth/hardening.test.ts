import { expect } from 'chai';
import { testDatabaseKinds } from '../support/databases';
import { patient } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';
import { bearer, tokenFor } from './helpers';

const [sqlite] = testDatabaseKinds();

describe('Hardening', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startTestServer(sqlite, { FHIR_AUTH: 'smart' });
    token = await tokenFor(server, 'system/*.*');
  });
  after(async () => server?.stop());

  it('sends security headers and no X-Powered-By, on success and on errors', async () => {
    for (const res of [await server.fhir('/metadata'), await server.fhir('/Patient/x'), await fetch(`${server.url}/nothing`)]) {
      expect(res.headers.get('x-powered-by')).to.equal(null);
      expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(res.headers.get('content-security-policy')).to.equal("default-src 'none';frame-ancestors 'none'");
      expect(res.headers.get('strict-transport-security')).to.match(/max-age=\d+/);
      expect(res.headers.get('referrer-policy')).to.equal('no-referrer');
      expect(res.headers.get('access-control-allow-origin')).to.equal(null);
    }
  });

  it('has CORS off unless configured', async () => {
    const res = await server.fhir('/metadata', { headers: { origin: 'https://app.example' } });
    expect(res.headers.get('access-control-allow-origin')).to.equal(null);
    const preflight = await fetch(`${server.url}/fhir/Patient`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).to.equal(null);
  });

  it('rejects __proto__, constructor and prototype keys anywhere in a JSON body, also \\u-escaped', async () => {
    const bodies = [
      '{"resourceType":"Patient","__proto__":{"admin":true}}',
      '{"resourceType":"Patient","name":[{"family":"x","constructor":{"prototype":{"polluted":1}}}]}',
      '{"resourceType":"Patient","extension":[{"url":"http://x","\\u005f_proto__":{"a":1}}]}',
    ];
    for (const rawBody of bodies) {
      const res = await server.fhir('/Patient', {
        method: 'POST',
        rawBody,
        headers: { ...bearer(token), 'content-type': 'application/fhir+json' },
      });
      expect(res.status, rawBody).to.equal(400);
      expect(res.body.issue[0].diagnostics).to.match(/JSON key '(__proto__|constructor)' is not allowed/);
    }
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect((await server.fhir('/Patient', { method: 'POST', body: patient(), headers: bearer(token) })).status).to.equal(201);
  });

  it('limits search strings: value length, parameter count, total length', async () => {
    const long = await server.fhir(`/Patient?family=${'a'.repeat(2049)}`, { headers: bearer(token) });
    expect(long.status).to.equal(400);
    expect(long.body.issue[0].code).to.equal('too-costly');
    const many = Array.from({ length: 101 }, (_, i) => `_tag=${i}`).join('&');
    expect((await server.fhir(`/Patient?${many}`, { headers: bearer(token) })).status).to.equal(400);
    const huge = Array.from({ length: 5 }, (_, i) => `p${i}=${'b'.repeat(2000)}`).join('&');
    expect((await server.fhir(`/Patient?${huge}`, { headers: bearer(token) })).status).to.equal(414);
    expect((await server.fhir(`/Patient?family=${'a'.repeat(200)}`, { headers: bearer(token) })).status).to.equal(200);
  });
});

describe('Hardening: CORS when configured', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(sqlite, { FHIR_AUTH: 'smart', FHIR_CORS_ORIGINS: 'https://app.example' });
  });
  after(async () => server?.stop());

  it('allows the configured origin only, and answers its preflight before authentication', async () => {
    const ok = await server.fhir('/metadata', { headers: { origin: 'https://app.example' } });
    expect(ok.headers.get('access-control-allow-origin')).to.equal('https://app.example');
    expect(ok.headers.get('access-control-expose-headers')).to.contain('ETag');
    const other = await server.fhir('/metadata', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).to.equal(null);
    const preflight = await fetch(`${server.url}/fhir/Patient`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get('access-control-allow-headers')).to.contain('Authorization');
    expect(preflight.headers.get('access-control-allow-credentials')).to.equal(null);
  });
});

describe('Hardening: per-client rate limit', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(sqlite, { FHIR_AUTH: 'smart', FHIR_RATE_LIMIT: '6' });
  });
  after(async () => server?.stop());

  it('answers 429 with Retry-After once a client used its budget, without slowing other clients', async () => {
    const busy = await tokenFor(server, 'system/*.rs');
    const calm = await tokenFor(server, 'system/*.rs');
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 7; i++) {
      last = await server.fhir('/Patient/_history', { headers: bearer(busy) });
      statuses.push(last.status);
    }
    expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 200, 429]);
    expect(last!.headers.get('retry-after')).to.match(/^\d+$/);
    expect(Number(last!.headers.get('retry-after'))).to.be.within(1, 10);
    expect(last!.body.issue[0].code).to.equal('throttled');
    expect((await server.fhir('/Patient/_history', { headers: bearer(calm) })).status).to.equal(200);
  });

  it('throttles a stream of bad tokens by address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await server.fhir('/Patient', { headers: { authorization: 'Bearer x' } })).status);
    }
    expect(statuses).to.include(401);
    expect(statuses[statuses.length - 1]).to.equal(429);
  });
});
