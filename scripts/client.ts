/**
 * `npm run client -- <command>`: registers and manages SMART backend clients in the configured
 * database (DATABASE_URL). The server reads clients at each token request: no restart needed.
 *
 *   add --name NAME (--jwks FILE | --jwks-url URL) --scopes "system/*.rs …" [--id ID]
 *   list
 *   disable ID        no new tokens (tokens already issued expire within their lifetime)
 *   enable ID
 */
import fs from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import { ClientStore } from '../src/auth/clients';
import { loadConfig } from '../src/config';
import { openDatabase } from '../src/store/database';
import { migrateToLatest } from '../src/store/migrations';

const USAGE = `usage:
  npm run client -- add --name NAME (--jwks FILE | --jwks-url URL) --scopes "SCOPE …" [--id ID]
  npm run client -- list
  npm run client -- disable ID
  npm run client -- enable ID`;

function options(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith('--') || args[i + 1] === undefined) {
      throw new Error(`Expected --option value pairs, got '${args[i]}'\n${USAGE}`);
    }
    out[args[i].slice(2)] = args[i + 1];
  }
  return out;
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const db = openDatabase(loadConfig().databaseUrl);
  try {
    await migrateToLatest(db.knex);
    const clients = new ClientStore(db.knex);
    switch (command) {
      case 'add': {
        const o = options(rest);
        if (!o.name || !o.scopes) {
          throw new Error(USAGE);
        }
        const jwks = o.jwks ? (JSON.parse(fs.readFileSync(o.jwks, 'utf8')) as JSONWebKeySet) : undefined;
        const client = await clients.add({ id: o.id, name: o.name, scopes: o.scopes, jwks, jwksUrl: o['jwks-url'] });
        process.stdout.write(`${client.id}\n`);
        process.stderr.write(`registered '${client.name}' with scopes: ${client.scopes.join(' ')}\n`);
        break;
      }
      case 'list':
        for (const c of await clients.list()) {
          process.stdout.write(
            `${c.id}\t${c.enabled ? 'enabled' : 'DISABLED'}\t${c.name}\t${c.scopes.join(' ')}\t${c.jwksUrl ?? `${c.jwks?.keys.length ?? 0} key(s)`}\n`,
          );
        }
        break;
      case 'disable':
      case 'enable':
        if (!rest[0] || !(await clients.setEnabled(rest[0], command === 'enable'))) {
          throw new Error(`No client '${rest[0] ?? ''}'`);
        }
        process.stderr.write(`${command}d ${rest[0]}\n`);
        break;
      default:
        throw new Error(USAGE);
    }
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
