import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JSONWebKeySet } from 'jose';
import { ClientStore, type RegisteredClient } from '../../src/auth/clients';
import type { TestServer } from '../support/server';

export interface TestKey {
  alg: 'ES384' | 'RS384' | 'RS256';
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(alg: TestKey['alg'] = 'ES384'): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const kid = randomUUID();
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

export const jwksOf = (...keys: TestKey[]): JSONWebKeySet => ({ keys: keys.map((k) => k.publicJwk) });

export interface TestClient {
  client: RegisteredClient;
  key: TestKey;
}

/** Registers a client directly in the server's database, as `npm run client -- add` does. */
export async function registerClient(
  server: TestServer,
  scopes: string,
  options: { key?: TestKey; jwksUrl?: string; name?: string } = {},
): Promise<TestClient> {
  const key = options.key ?? (await makeKey());
  const client = await new ClientStore(server.core.db.knex).add({
    name: options.name ?? 'test client',
    scopes,
    jwks: options.jwksUrl ? undefined : jwksOf(key),
    jwksUrl: options.jwksUrl,
  });
  return { client, key };
}

export const tokenUrl = (server: TestServer): string => `${server.url}/auth/token`;

export interface AssertionOptions {
  iss?: string;
  sub?: string;
  aud?: string;
  /** Seconds from now. */
  exp?: number;
  jti?: string | null;
  signWith?: TestKey;
  alg?: string;
}

export async function assertion(server: TestServer, tc: TestClient, o: AssertionOptions = {}): Promise<string> {
  const key = o.signWith ?? tc.key;
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: o.alg ?? key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(o.iss ?? tc.client.id)
    .setSubject(o.sub ?? tc.client.id)
    .setAudience(o.aud ?? tokenUrl(server))
    .setIssuedAt(now)
    .setExpirationTime(now + (o.exp ?? 240));
  if (o.jti !== null) {
    jwt.setJti(o.jti ?? randomUUID());
  }
  return jwt.sign(key.privateKey);
}

export interface TokenResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
}

export async function postToken(server: TestServer, form: Record<string, string>): Promise<TokenResult> {
  const res = await fetch(tokenUrl(server), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: await res.json().catch(() => undefined), headers: res.headers };
}

export async function requestToken(server: TestServer, tc: TestClient, scope: string, o: AssertionOptions = {}): Promise<TokenResult> {
  return postToken(server, {
    grant_type: 'client_credentials',
    scope,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await assertion(server, tc, o),
  });
}

/** Registers a client with `registered` scopes and returns an access token for `scope` (default: the same). */
export async function tokenFor(server: TestServer, registered: string, scope = registered): Promise<string> {
  const tc = await registerClient(server, registered);
  const res = await requestToken(server, tc, scope);
  if (res.status !== 200) {
    throw new Error(`token request failed: ${JSON.stringify(res.body)}`);
  }
  return res.body.access_token as string;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
