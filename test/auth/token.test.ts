import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { ClientStore } from '../../src/auth/clients';
import { testDatabaseKinds } from '../support/databases';
import { startTestServer, type TestServer } from '../support/server';
import { assertion, jwksOf, makeKey, postToken, registerClient, requestToken, tokenUrl, type TestClient } from './helpers';

for (const kind of testDatabaseKinds()) {
  describe(`SMART Backend Services token endpoint (${kind.name})`, () => {
    let server: TestServer;
    let es: TestClient;

    before(async () => {
      server = await startTestServer(kind, { FHIR_AUTH: 'smart' });
      es = await registerClient(server, 'system/*.rs system/ServiceRequest.write');
    });
    after(async () => server?.stop());

    it('publishes the SMART configuration, at the root and below the FHIR base', async () => {
      for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
        const res = await fetch(`${server.url}${path}`);
        expect(res.status).to.equal(200);
        const config = (await res.json()) as Record<string, unknown>;
        expect(config.token_endpoint).to.equal(tokenUrl(server));
        expect(config.token_endpoint_auth_methods_supported).to.deep.equal(['private_key_jwt']);
        expect(config.token_endpoint_auth_signing_alg_values_supported).to.deep.equal(['RS384', 'ES384']);
        expect(config.grant_types_supported).to.deep.equal(['client_credentials']);
        expect(config.capabilities).to.include('client-confidential-asymmetric');
      }
    });

    it('lists the token URL in the public CapabilityStatement (oauth-uris extension)', async () => {
      const res = await server.fhir('/metadata');
      expect(res.status).to.equal(200);
      const security = res.body.rest[0].security;
      expect(security.service[0].coding[0].code).to.equal('SMART-on-FHIR');
      const uris = security.extension.find((e: { url: string }) => e.url.endsWith('/oauth-uris'));
      expect(uris.extension).to.deep.include({ url: 'token', valueUri: tokenUrl(server) });
    });

    it('issues a short-lived bearer token for a valid ES384 assertion, granting only registered scopes', async () => {
      const res = await requestToken(server, es, 'system/Patient.rs system/ServiceRequest.c system/Observation.write patient/*.read launch');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.body.token_type).to.equal('bearer');
      expect(res.body.expires_in).to.equal(300);
      expect(res.body.scope).to.equal('system/Patient.rs system/ServiceRequest.c');
      expect(res.body.access_token).to.match(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('accepts RS384', async () => {
      const rs = await registerClient(server, 'system/*.read', { key: await makeKey('RS384') });
      expect((await requestToken(server, rs, 'system/*.read')).status).to.equal(200);
    });

    it('verifies against a JWKS URL', async () => {
      const key = await makeKey();
      const jwksServer = http.createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(jwksOf(key)));
      });
      await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
        const remote = await registerClient(server, 'system/*.rs', { key, jwksUrl: url });
        expect((await requestToken(server, remote, 'system/*.rs')).status).to.equal(200);
        const other = await makeKey();
        const forged = await requestToken(server, remote, 'system/*.rs', { signWith: { ...other, kid: key.kid } });
        expect(forged.status).to.equal(401);
      } finally {
        jwksServer.close();
      }
    });

    const refused = async (res: Promise<{ status: number; body: { error: string; error_description: string } }>, why: RegExp) => {
      const r = await res;
      expect(r.status, JSON.stringify(r.body)).to.equal(401);
      expect(r.body.error).to.equal('invalid_client');
      expect(r.body.error_description).to.match(why);
    };

    it('refuses an expired assertion', async () => {
      await refused(requestToken(server, es, 'system/*.rs', { exp: -120 }), /expired/);
    });

    it('refuses an assertion that lives longer than five minutes', async () => {
      await refused(requestToken(server, es, 'system/*.rs', { exp: 3600 }), /5 minutes/);
    });

    it('refuses an assertion signed with a key the client did not register', async () => {
      const stranger = await makeKey();
      await refused(requestToken(server, es, 'system/*.rs', { signWith: { ...stranger, kid: es.key.kid } }), /signature/);
    });

    it('refuses an assertion for another audience', async () => {
      await refused(requestToken(server, es, 'system/*.rs', { aud: 'https://elsewhere.example/auth/token' }), /aud/);
      await refused(requestToken(server, es, 'system/*.rs', { aud: `${server.url}/fhir` }), /aud/);
    });

    it('refuses a replayed assertion (same jti)', async () => {
      const form = {
        grant_type: 'client_credentials',
        scope: 'system/*.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion(server, es),
      };
      expect((await postToken(server, form)).status).to.equal(200);
      await refused(postToken(server, form), /replayed/);
    });

    it('refuses an assertion without jti, with iss ≠ sub, or with an unsupported algorithm', async () => {
      await refused(requestToken(server, es, 'system/*.rs', { jti: null }), /jti/);
      await refused(requestToken(server, es, 'system/*.rs', { sub: 'someone-else' }), /iss and sub/);
      const rs256 = await registerClient(server, 'system/*.rs', { key: await makeKey('RS256') });
      await refused(requestToken(server, rs256, 'system/*.rs'), /RS384 or ES384/);
    });

    it('refuses unknown and disabled clients alike', async () => {
      const ghost: TestClient = { client: { ...es.client, id: 'no-such-client' }, key: es.key };
      await refused(requestToken(server, ghost, 'system/*.rs'), /Unknown or disabled/);
      const soon = await registerClient(server, 'system/*.rs');
      expect((await requestToken(server, soon, 'system/*.rs')).status).to.equal(200);
      await new ClientStore(server.core.db.knex).setEnabled(soon.client.id, false);
      await refused(requestToken(server, soon, 'system/*.rs'), /Unknown or disabled/);
    });

    it('answers RFC 6749 errors for a bad grant, a missing scope, a scope not registered, a non-form body', async () => {
      const base = {
        scope: 'system/*.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion(server, es),
      };
      const grant = await postToken(server, { ...base, grant_type: 'password' });
      expect([grant.status, grant.body.error]).to.deep.equal([400, 'unsupported_grant_type']);
      const noScope = await postToken(server, { ...base, grant_type: 'client_credentials', scope: '' });
      expect([noScope.status, noScope.body.error]).to.deep.equal([400, 'invalid_request']);
      const notRegistered = await requestToken(server, es, 'system/Patient.write');
      expect([notRegistered.status, notRegistered.body.error]).to.deep.equal([400, 'invalid_scope']);
      const json = await fetch(tokenUrl(server), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(json.status).to.equal(400);
      expect(((await json.json()) as { error: string }).error).to.equal('invalid_request');
    });
  });
}
