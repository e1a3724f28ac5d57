import { loadConfig } from '../../src/config';
import { startServer, type RunningServer } from '../../src/server';
import type { TestDatabase, TestDatabaseKind } from './databases';

export interface TestServer extends RunningServer {
  database: TestDatabase;
  /** fetch against `${url}/fhir${path}` with JSON helpers. */
  fhir(path: string, init?: FhirInit): Promise<FhirResult>;
  stop(): Promise<void>;
}

export interface FhirInit {
  method?: string;
  body?: unknown;
  /** Raw body, sent as is (for malformed-input tests). */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export interface FhirResult {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export async function startTestServer(kind: TestDatabaseKind, env: Record<string, string> = {}): Promise<TestServer> {
  const database = await kind.create();
  const config = loadConfig({ PORT: '0', DATABASE_URL: database.url, LOG_LEVEL: 'silent', FHIR_AUTH: 'none', ...env });
  const server = await startServer(config, { pgSchema: database.pgSchema });
  return {
    ...server,
    database,
    fhir: (path, init = {}) => fhirFetch(`${server.url}/fhir${path}`, init),
    stop: async () => {
      await server.close();
      await database.dispose();
    },
  };
}

export async function fhirFetch(url: string, init: FhirInit = {}): Promise<FhirResult> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | Buffer | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/fhir+json';
  }
  const response = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}
