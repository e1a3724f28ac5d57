import path from 'node:path';

/** Runtime configuration, read from the environment once at start-up. */
export interface Config {
  port: number;
  /** `sqlite:PATH`, `sqlite::memory:` or `postgres://…` */
  databaseUrl: string;
  /** `none` switches authentication off; anything else means "on" (SMART backend services). */
  auth: 'none' | 'smart';
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: number;
  /** `info` logs one JSON line per request; `silent` logs nothing. */
  logLevel: 'info' | 'silent';
  /** Public base URL of the FHIR endpoint (e.g. https://fhir.clinic.example/fhir); derived per request when unset. */
  baseUrl?: string;
}

export const DEFAULT_DATABASE_URL = `sqlite:${path.join('data', 'fhir.sqlite')}`;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: parseIntOr(env.PORT, 8080, 'PORT'),
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    auth: env.FHIR_AUTH === 'none' ? 'none' : 'smart',
    bodyLimitBytes: parseIntOr(env.FHIR_BODY_LIMIT_BYTES, 5 * 1024 * 1024, 'FHIR_BODY_LIMIT_BYTES'),
    logLevel: env.LOG_LEVEL === 'silent' ? 'silent' : 'info',
    baseUrl: env.FHIR_BASE_URL ? env.FHIR_BASE_URL.replace(/\/+$/, '') : undefined,
  };
}

function parseIntOr(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${name} must be a non-negative integer, got '${value}'`);
  }
  return n;
}
