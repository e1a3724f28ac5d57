import os from 'node:os';
import path from 'node:path';
import { envInt } from './common/env';
import { loadExportConfig, type ExportConfig } from './export/config';
import { loadOutcomeThresholds, type OutcomeThresholds } from './domain/outcome-config';

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
  /** Origins allowed to call from browsers (`FHIR_CORS_ORIGINS`, comma-separated, or `*`); empty = CORS off. */
  corsOrigins: string[];
  /** Requests per minute per client (token bucket, bursts up to a minute's worth); 0 = no limit. */
  rateLimitPerMinute: number;
  /** Access-token signing secret (`FHIR_TOKEN_SECRET`, ≥ 32 characters); default: generated once, kept in the database. */
  tokenSecret?: string;
  /** Lifetime of issued access tokens, in seconds (at most 3600). */
  tokenLifetimeSeconds: number;
  /** Bulk Data export (`FHIR_EXPORT_*`, src/export/config.ts). */
  exports: ExportConfig;
  /** Subscription notification delivery (src/subscriptions, docs/SUBSCRIPTIONS.md). */
  subscriptions: SubscriptionDeliveryConfig;
  /** Diagnostic-reading cut-offs (`FHIR_OUTCOME_*`, docs/OUTCOMES.md); read here so bad values stop start-up. */
  outcomes: OutcomeThresholds;
  /** Admission control (src/http/overload.ts): requests worked on at once (0 = off), waiting, and the longest wait. */
  maxConcurrentRequests: number;
  maxQueuedRequests: number;
  queueTimeoutMs: number;
  /** On SIGTERM: how long requests in flight may take before their connections are closed. */
  shutdownGraceMs: number;
  /** Worker threads that run the write gate (`FHIR_VALIDATION_WORKERS`; 0 = on the main thread). */
  validationWorkers: number;
}

export interface SubscriptionDeliveryConfig {
  /** Consecutive failed attempts after which a Subscription's status becomes `error` (it keeps retrying). */
  maxAttempts: number;
  /** First retry delay; doubled per failed attempt up to `backoffMaxMs`. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Timeout of each notification request. */
  timeoutMs: number;
  /** How often the outbox is polled (commits in this process also wake the worker at once). */
  pollMs: number;
}

export const DEFAULT_DATABASE_URL = `sqlite:${path.join('data', 'fhir.sqlite')}`;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: envInt(env.PORT, 8080, 'PORT'),
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    auth: env.FHIR_AUTH === 'none' ? 'none' : 'smart',
    bodyLimitBytes: envInt(env.FHIR_BODY_LIMIT_BYTES, 5 * 1024 * 1024, 'FHIR_BODY_LIMIT_BYTES'),
    logLevel: env.LOG_LEVEL === 'silent' ? 'silent' : 'info',
    baseUrl: env.FHIR_BASE_URL ? env.FHIR_BASE_URL.replace(/\/+$/, '') : undefined,
    corsOrigins: (env.FHIR_CORS_ORIGINS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    rateLimitPerMinute: envInt(env.FHIR_RATE_LIMIT, 120_000, 'FHIR_RATE_LIMIT'),
    tokenSecret: checkSecret(env.FHIR_TOKEN_SECRET),
    tokenLifetimeSeconds: Math.min(envInt(env.FHIR_TOKEN_LIFETIME_SECONDS, 300, 'FHIR_TOKEN_LIFETIME_SECONDS'), 3600),
    exports: loadExportConfig(env),
    outcomes: loadOutcomeThresholds(env),
    maxConcurrentRequests: envInt(env.FHIR_MAX_CONCURRENT_REQUESTS, 64, 'FHIR_MAX_CONCURRENT_REQUESTS'),
    maxQueuedRequests: envInt(env.FHIR_MAX_QUEUE, 512, 'FHIR_MAX_QUEUE'),
    queueTimeoutMs: Math.max(1, envInt(env.FHIR_QUEUE_TIMEOUT_MS, 10_000, 'FHIR_QUEUE_TIMEOUT_MS')),
    shutdownGraceMs: envInt(env.FHIR_SHUTDOWN_GRACE_MS, 25_000, 'FHIR_SHUTDOWN_GRACE_MS'),
    // One core is the main thread's (HTTP and every SQLite statement); validation gets the others.
    validationWorkers: envInt(env.FHIR_VALIDATION_WORKERS, Math.min(4, Math.max(1, os.availableParallelism() - 1)), 'FHIR_VALIDATION_WORKERS'),
    subscriptions: {
      maxAttempts: Math.max(1, envInt(env.FHIR_SUBSCRIPTION_MAX_ATTEMPTS, 5, 'FHIR_SUBSCRIPTION_MAX_ATTEMPTS')),
      backoffBaseMs: envInt(env.FHIR_SUBSCRIPTION_BACKOFF_BASE_MS, 1000, 'FHIR_SUBSCRIPTION_BACKOFF_BASE_MS'),
      backoffMaxMs: envInt(env.FHIR_SUBSCRIPTION_BACKOFF_MAX_MS, 300_000, 'FHIR_SUBSCRIPTION_BACKOFF_MAX_MS'),
      timeoutMs: Math.max(1, envInt(env.FHIR_SUBSCRIPTION_TIMEOUT_MS, 10_000, 'FHIR_SUBSCRIPTION_TIMEOUT_MS')),
      pollMs: Math.max(10, envInt(env.FHIR_SUBSCRIPTION_POLL_MS, 1000, 'FHIR_SUBSCRIPTION_POLL_MS')),
    },
  };
}

function checkSecret(value: string | undefined): string | undefined {
  if (value !== undefined && value !== '' && value.length < 32) {
    throw new Error('FHIR_TOKEN_SECRET must be at least 32 characters (e.g. `openssl rand -base64 48`)');
  }
  return value || undefined;
}

