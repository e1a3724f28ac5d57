import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

const KEY_ID = 'access-token';

interface KeyRow {
  id: string;
  secret: string;
  created_at: string;
}

/**
 * The access-token signing key: FHIR_TOKEN_SECRET when set, else one generated at first start and
 * kept in the database, so every server process on one PostgreSQL database accepts the tokens of
 * the others. Deleting the row rotates it (at the next start; issued tokens then fail).
 */
export async function loadSigningKey(knex: Knex, configured: string | undefined): Promise<Buffer> {
  if (configured) {
    return Buffer.from(configured, 'utf8');
  }
  const existing = await knex<KeyRow>('auth_signing_key').where({ id: KEY_ID }).first();
  if (existing) {
    return Buffer.from(existing.secret, 'base64url');
  }
  const secret = randomBytes(32).toString('base64url');
  try {
    await knex<KeyRow>('auth_signing_key').insert({ id: KEY_ID, secret, created_at: new Date().toISOString() });
    return Buffer.from(secret, 'base64url');
  } catch (err) {
    // Another process starting at the same moment inserted first: use its key.
    const winner = await knex<KeyRow>('auth_signing_key').where({ id: KEY_ID }).first();
    if (!winner) {
      throw err;
    }
    return Buffer.from(winner.secret, 'base64url');
  }
}
