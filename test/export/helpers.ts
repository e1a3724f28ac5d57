import { expect } from 'chai';
import type { Resource } from '@medplum/fhirtypes';
import { blockOrder, blockProcedure, painScore, patient, practitioner, skinTemperature } from '../support/fixtures';
import { fhirFetch, type FhirResult, type TestServer } from '../support/server';

export const ASYNC = { prefer: 'respond-async', accept: 'application/fhir+json' };

export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: { type: string; url: string; count: number }[];
  error: { type: string; url: string }[];
}

export interface Clinical {
  patients: string[];
  doctor: string;
  organization: string;
  orders: string[];
  procedures: string[];
  observations: string[];
}

export async function post(server: TestServer, type: string, body: unknown): Promise<string> {
  const res = await server.fhir(`/${type}`, { method: 'POST', body });
  expect(res.status, res.text).to.equal(201);
  return res.body.id as string;
}

/** Per patient: an order, the block done for it and two outcomes; plus a physician and an unrelated organization. */
export async function makeClinicalData(server: TestServer, patientCount = 2): Promise<Clinical> {
  const data: Clinical = { patients: [], doctor: '', organization: '', orders: [], procedures: [], observations: [] };
  data.doctor = await post(server, 'Practitioner', practitioner());
  data.organization = await post(server, 'Organization', { resourceType: 'Organization', name: 'Unrelated clinic' });
  for (let i = 0; i < patientCount; i++) {
    const pat = await post(server, 'Patient', patient(`Export${i}`));
    data.patients.push(pat);
    const order = await post(server, 'ServiceRequest', blockOrder(pat, data.doctor, `PLAC-X${i}`));
    data.orders.push(order);
    const proc = await post(server, 'Procedure', blockProcedure(pat, order, data.doctor));
    data.procedures.push(proc);
    data.observations.push(await post(server, 'Observation', painScore(pat, proc, 7, '2026-01-15T09:00:00Z', 'pre-block')));
    data.observations.push(await post(server, 'Observation', skinTemperature(pat, proc, 33.1, '2026-01-15T10:00:00Z')));
  }
  return data;
}

export async function kickoff(server: TestServer, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<string> {
  const res = await server.fhir(path, { method: init.method ?? 'GET', body: init.body, headers: { ...ASYNC, ...init.headers } });
  expect(res.status, res.text).to.equal(202);
  const location = res.headers.get('content-location');
  expect(location).to.match(/\/\$export-status\/[0-9a-f-]{36}$/);
  return location!;
}

/** Polls the status URL (as a client would, but quicker) until the job is no longer in progress. */
export async function poll(statusUrl: string, timeoutMs = 30_000): Promise<FhirResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fhirFetch(statusUrl);
    if (res.status !== 202) {
      return res;
    }
    expect(res.headers.get('x-progress')).to.be.a('string');
    if (Date.now() > deadline) {
      throw new Error(`export still running after ${timeoutMs} ms: ${res.headers.get('x-progress')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function finished(statusUrl: string): Promise<Manifest> {
  const res = await poll(statusUrl);
  expect(res.status, res.text).to.equal(200);
  return res.body as Manifest;
}

/** Every resource of the export, by type, read from its NDJSON files. */
export async function download(manifest: Manifest): Promise<Map<string, Resource[]>> {
  const byType = new Map<string, Resource[]>();
  for (const out of manifest.output) {
    const res = await fhirFetch(out.url);
    expect(res.status, res.text).to.equal(200);
    expect(res.headers.get('content-type')).to.contain('application/fhir+ndjson');
    const lines = res.text.split('\n').filter((l) => l !== '');
    expect(lines.length).to.equal(out.count);
    const list = byType.get(out.type) ?? [];
    list.push(...lines.map((l) => JSON.parse(l) as Resource));
    byType.set(out.type, list);
  }
  return byType;
}

export function idsOf(byType: Map<string, Resource[]>, type: string): string[] {
  return (byType.get(type) ?? []).map((r) => r.id!).sort();
}
