import { randomUUID } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import type { Knex } from 'knex';
import { parseScope, splitScopes } from './scopes';

/** A registered backend client: who it is, its public keys, and the most it may be granted. */
export interface RegisteredClient {
  id: string;
  name: string;
  scopes: string[];
  jwks?: JSONWebKeySet;
  jwksUrl?: string;
  enabled: boolean;
  createdAt: string;
}

export interface NewClient {
  name: string;
  scopes: string;
  jwks?: JSONWebKeySet;
  jwksUrl?: string;
  /** Default: a new UUID. */
  id?: string;
}

interface ClientRow {
  id: string;
  name: string;
  scopes: string;
  jwks: string | null;
  jwks_url: string | null;
  enabled: boolean | number;
  created_at: string;
}

const CLIENT_ID = /^[A-Za-z0-9\-._~]{1,128}$/;

/** Registered clients and the assertion ids they have used (`npm run client`, the token endpoint). */
export class ClientStore {
  private lastPurge = 0;

  constructor(private readonly knex: Knex) {}

  async add(client: NewClient): Promise<RegisteredClient> {
    const id = client.id ?? randomUUID();
    if (!CLIENT_ID.test(id)) {
      throw new Error('A client id is 1-128 characters of A-Z a-z 0-9 - . _ ~');
    }
    if (!client.name.trim() || client.name.length > 200) {
      throw new Error('A client needs a name of at most 200 characters');
    }
    const scopes = splitScopes(client.scopes);
    const bad = scopes.filter((s) => !parseScope(s) || s.startsWith('patient/'));
    if (scopes.length === 0 || bad.length > 0) {
      throw new Error(
        `Scopes must be SMART system/ or user/ scopes such as system/*.rs or system/ServiceRequest.write` +
          (bad.length > 0 ? ` (not understood: ${bad.join(' ')})` : ''),
      );
    }
    if (!client.jwks === !client.jwksUrl) {
      throw new Error('A client needs exactly one of a JWKS (its public keys) or a JWKS URL');
    }
    if (client.jwks) {
      checkPublicJwks(client.jwks);
    }
    if (client.jwksUrl) {
      checkJwksUrl(client.jwksUrl);
    }
    const row: ClientRow = {
      id,
      name: client.name.trim(),
      scopes: scopes.join(' '),
      jwks: client.jwks ? JSON.stringify(client.jwks) : null,
      jwks_url: client.jwksUrl ?? null,
      enabled: true,
      created_at: new Date().toISOString(),
    };
    await this.knex<ClientRow>('auth_client').insert(row);
    return fromRow(row);
  }

  async get(id: string): Promise<RegisteredClient | undefined> {
    if (!CLIENT_ID.test(id)) {
      return undefined;
    }
    const row = await this.knex<ClientRow>('auth_client').where({ id }).first();
    return row ? fromRow(row) : undefined;
  }

  async list(): Promise<RegisteredClient[]> {
    const rows: ClientRow[] = await this.knex<ClientRow>('auth_client').orderBy('created_at');
    return rows.map(fromRow);
  }

  /** Disabled clients get no new tokens; tokens already issued run out within their lifetime. */
  async setEnabled(id: string, enabled: boolean): Promise<boolean> {
    return (await this.knex<ClientRow>('auth_client').where({ id }).update({ enabled })) === 1;
  }

  /** Records an assertion id; false when the client used it before (a replay). */
  async useJti(clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    await this.purgeExpired();
    try {
      await this.knex('auth_assertion_jti').insert({ client_id: clientId, jti, expires_at: expiresAt.toISOString() });
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === '23505' || code?.startsWith('SQLITE_CONSTRAINT')) {
        return false;
      }
      throw err;
    }
  }

  /** Forgets expired assertion ids, at most once a minute: an expired assertion fails on `exp` anyway. */
  private async purgeExpired(): Promise<void> {
    if (Date.now() - this.lastPurge < 60_000) {
      return;
    }
    this.lastPurge = Date.now();
    await this.knex('auth_assertion_jti').where('expires_at', '<', new Date().toISOString()).delete();
  }
}

/** Public keys only: a private key here would mean the client's secret left the client. */
function checkPublicJwks(jwks: JSONWebKeySet): void {
  if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new Error('A JWKS is a JSON object with a non-empty "keys" array');
  }
  for (const key of jwks.keys) {
    if ('d' in key || 'k' in key) {
      throw new Error('The JWKS contains a private or symmetric key: register the public keys only');
    }
    if (key.kty !== 'RSA' && key.kty !== 'EC') {
      throw new Error(`Unsupported key type '${String(key.kty)}': use RSA (RS384) or EC P-384 (ES384)`);
    }
  }
}

/** https only, except for the local machine (development). */
function checkJwksUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`Not a URL: '${url}'`);
  }
  const local = parsed.hostname === 'localhost' || parsed.hostname === '127.0.0.1' || parsed.hostname === '[::1]';
  if (parsed.protocol !== 'https:' && !(local && parsed.protocol === 'http:')) {
    throw new Error('A JWKS URL must use https (http only for localhost)');
  }
}

function fromRow(row: ClientRow): RegisteredClient {
  return {
    id: row.id,
    name: row.name,
    scopes: splitScopes(row.scopes),
    jwks: row.jwks ? (JSON.parse(row.jwks) as JSONWebKeySet) : undefined,
    jwksUrl: row.jwks_url ?? undefined,
    enabled: Boolean(row.enabled),
    createdAt: row.created_at,
  };
}
