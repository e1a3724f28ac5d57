/**
 * `npm run dev-token`: the whole SMART Backend Services flow for local testing, as an EHR
 * integration would do it. The first run makes an ES384 key pair (data/dev-client/, private key
 * readable by you only) and registers a client with its public key in DATABASE_URL. Every run
 * then discovers the token URL, signs a client assertion and exchanges it for an access token,
 * printed alone on stdout:   TOKEN=$(npm run -s dev-token)
 *
 *   --url URL        server (default http://localhost:$PORT, PORT default 8080)
 *   --scopes "…"     scopes to ask for (default: everything the dev client is registered for)
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { ClientStore } from '../src/auth/clients';
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/store/database';
import { migrateToLatest } from '../src/store/migrations';

const DIR = path.join('data', 'dev-client');
const KEY_FILE = path.join(DIR, 'private-key.jwk.json');
const CLIENT_FILE = path.join(DIR, 'client.json');
const DEV_SCOPES = 'system/*.* system/AuditEvent.rs';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The dev client's id and private key, made and registered on first use. */
async function devClient(): Promise<{ id: string; key: JWK }> {
  if (fs.existsSync(KEY_FILE) && fs.existsSync(CLIENT_FILE)) {
    const { id } = JSON.parse(fs.readFileSync(CLIENT_FILE, 'utf8')) as { id: string };
    return { id, key: JSON.parse(fs.readFileSync(KEY_FILE, 'utf8')) as JWK };
  }
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = randomUUID();
  const key = { ...(await exportJWK(privateKey)), kid, alg: 'ES384' };
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] };
  const db = openDatabase(loadConfig().databaseUrl);
  try {
    await migrateToLatest(db.knex);
    const client = await new ClientStore(db.knex).add({ name: 'dev-token (local testing)', scopes: DEV_SCOPES, jwks });
    fs.mkdirSync(DIR, { recursive: true });
    fs.writeFileSync(KEY_FILE, JSON.stringify(key, null, 2), { mode: 0o600 });
    fs.writeFileSync(path.join(DIR, 'jwks.json'), JSON.stringify(jwks, null, 2));
    fs.writeFileSync(CLIENT_FILE, JSON.stringify({ id: client.id }, null, 2));
    process.stderr.write(`registered client ${client.id} (${DEV_SCOPES}); keys in ${DIR}/\n`);
    return { id: client.id, key };
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  const server = (option('url') ?? `http://localhost:${process.env.PORT || 8080}`).replace(/\/+$/, '');
  const { id, key } = await devClient();

  // 1. Discovery: the token URL (the assertion's audience) from the SMART configuration.
  const config = (await (await fetch(`${server}/fhir/.well-known/smart-configuration`)).json()) as { token_endpoint: string };
  // 2. A client assertion signed with the private key: iss = sub = client id, aud = token URL, short-lived, unique jti.
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: key.kid, typ: 'JWT' })
    .setIssuer(id)
    .setSubject(id)
    .setAudience(config.token_endpoint)
    .setExpirationTime('4m')
    .setJti(randomUUID())
    .sign(await importJWK(key, 'ES384'));
  // 3. Client credentials grant.
  const response = await fetch(config.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: option('scopes') ?? DEV_SCOPES,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  const body = (await response.json()) as { access_token?: string; scope?: string; expires_in?: number; error?: string; error_description?: string };
  if (!response.ok || !body.access_token) {
    throw new Error(`token request failed: HTTP ${response.status} ${body.error ?? ''}: ${body.error_description ?? ''}`);
  }
  process.stderr.write(`access token for ${id}, ${body.expires_in} s, scope: ${body.scope}\n`);
  process.stdout.write(`${body.access_token}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`dev-token: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
