import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';

/** The compiled entry point (`npm start`), run as a real process so it can be killed for real. */
const ENTRY = path.join(__dirname, '..', '..', 'src', 'index.js');

export interface ChildServer {
  process: ChildProcess;
  url: string;
  /** Exit code and signal once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** A free TCP port: the server is told its port (with LOG_LEVEL=silent it prints nothing to parse). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `node dist/src/index.js` on `databaseUrl` and waits until `/readyz` answers 200. */
export async function startChild(databaseUrl: string, env: Record<string, string> = {}): Promise<ChildServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [ENTRY], {
    env: { ...process.env, PORT: String(port), DATABASE_URL: databaseUrl, FHIR_AUTH: 'none', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited during start-up: ${stderr}`);
    }
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become ready within 60 s: ${stderr}`);
    }
    await sleep(100);
  }
  return { process: child, url, exited, stderr: () => stderr };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A database a child process can own: a fresh SQLite file, or a fresh PostgreSQL database. */
export interface ChildDatabase {
  name: 'sqlite' | 'postgres';
  url: string;
  dispose(): Promise<void>;
}

export async function createSqliteDatabase(): Promise<ChildDatabase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-robust-'));
  return {
    name: 'sqlite',
    url: `sqlite:${path.join(dir, 'fhir.sqlite')}`,
    dispose: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The server takes a DATABASE_URL and no schema, so a child process gets its own PostgreSQL
 * database (CREATE DATABASE on the admin URL), dropped afterwards with any connections left over.
 */
export async function createPostgresDatabase(adminUrl: string): Promise<ChildDatabase> {
  const name = `robust_${randomBytes(6).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: adminUrl });
  await admin.raw(`CREATE DATABASE ${name}`);
  await admin.destroy();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name: 'postgres',
    url: url.toString(),
    dispose: async () => {
      const cleanup = knex({ client: 'pg', connection: adminUrl });
      await cleanup.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.destroy();
    },
  };
}

/** SQLite always; PostgreSQL when TEST_DATABASE_URL is set, like test/support/databases.ts. */
export function childDatabaseKinds(): { name: 'sqlite' | 'postgres'; create(): Promise<ChildDatabase> }[] {
  const pgUrl = process.env.TEST_DATABASE_URL;
  const kinds: { name: 'sqlite' | 'postgres'; create(): Promise<ChildDatabase> }[] = [{ name: 'sqlite', create: createSqliteDatabase }];
  if (pgUrl) {
    kinds.push({ name: 'postgres', create: () => createPostgresDatabase(pgUrl) });
  }
  return kinds;
}

/** Resident set size of a process in MiB (Linux /proc), or undefined when it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return kb ? Number(kb[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
