import type { Patient, Subscription } from '@medplum/fhirtypes';
import { expect } from 'chai';
import { loadConfig } from '../../src/config';
import { startServer, type RunningServer } from '../../src/server';
import type { TestDatabase } from '../support/databases';
import { patient } from '../support/fixtures';
import { fhirFetch, type FhirInit, type FhirResult } from '../support/server';

/** Delivery settings that keep the suite fast: 50 ms first retry, 200 ms cap, `error` after 3 failures. */
export const FAST_DELIVERY: Record<string, string> = {
  FHIR_SUBSCRIPTION_MAX_ATTEMPTS: '3',
  FHIR_SUBSCRIPTION_BACKOFF_BASE_MS: '50',
  FHIR_SUBSCRIPTION_BACKOFF_MAX_MS: '200',
  FHIR_SUBSCRIPTION_TIMEOUT_MS: '2000',
  FHIR_SUBSCRIPTION_POLL_MS: '100',
};

export interface Node extends RunningServer {
  fhir(path: string, init?: FhirInit): Promise<FhirResult>;
}

/**
 * A server on an existing test database, not disposing it on close: to stop one server and start
 * another on the same SQLite file (or PostgreSQL schema), or run two at once, as deployments do.
 */
export async function startOn(database: TestDatabase, env: Record<string, string> = {}): Promise<Node> {
  const config = loadConfig({ PORT: '0', DATABASE_URL: database.url, LOG_LEVEL: 'silent', FHIR_AUTH: 'none', ...FAST_DELIVERY, ...env });
  const server = await startServer(config, { pgSchema: database.pgSchema });
  return { ...server, fhir: (path, init = {}) => fhirFetch(`${server.url}/fhir${path}`, init) };
}

type Fhir = (path: string, init?: FhirInit) => Promise<FhirResult>;

export function restHook(criteria: string, endpoint: string, channel: Partial<Subscription['channel']> = {}): Subscription {
  return {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'Send block results back to the EHR',
    criteria,
    channel: { type: 'rest-hook', endpoint, ...channel },
  };
}

export async function subscribe(fhir: Fhir, sub: Subscription): Promise<Subscription & { id: string }> {
  const res = await fhir('/Subscription', { method: 'POST', body: sub });
  expect(res.status, res.text).to.equal(201);
  return res.body;
}

/** A Patient carrying `tag` as its identifier system: criteria `Patient?identifier=<tag>|` select one test's patients only. */
export function taggedPatient(tag: string, n: number): Patient {
  return { ...patient(`Tagged${n}`), identifier: [{ system: tag, value: String(n) }] };
}

export async function createPatient(fhir: Fhir, body: Patient): Promise<Patient & { id: string }> {
  const res = await fhir('/Patient', { method: 'POST', body });
  expect(res.status, res.text).to.equal(201);
  return res.body;
}

export async function readSubscription(fhir: Fhir, id: string): Promise<Subscription> {
  const res = await fhir(`/Subscription/${id}`);
  expect(res.status, res.text).to.equal(200);
  return res.body;
}

/** Numbers 1..n. */
export function oneTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}
