import { expect } from 'chai';
import type { Observation, Procedure } from '@medplum/fhirtypes';
import { blockOrder, blockProcedure, painScore, patient, practitioner, skinTemperature } from '../support/fixtures';
import type { TestServer } from '../support/server';

/** A patient, a practitioner and a way to make blocks and their measurements on one test server. */
export class BlockScenario {
  pat = '';
  doc = '';
  private n = 0;
  constructor(readonly server: TestServer) {}

  async setUp(family = 'Outcome'): Promise<this> {
    this.pat = (await this.server.fhir('/Patient', { method: 'POST', body: patient(family) })).body.id;
    this.doc = (await this.server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
    return this;
  }

  /** A new active order and a block against it (completed by default; `change` edits the fixture). */
  async block(change: (p: Procedure) => Procedure = (p) => p): Promise<Procedure & { id: string }> {
    const order = await this.server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(this.pat, this.doc, `PO-OUT-${++this.n}`) });
    expect(order.status, order.text).to.equal(201);
    const res = await this.server.fhir('/Procedure', { method: 'POST', body: change(blockProcedure(this.pat, order.body.id, this.doc)) });
    expect(res.status, res.text).to.equal(201);
    return res.body;
  }

  async pain(procedureId: string, score: number, timing: string, minute = 0): Promise<Observation & { id: string }> {
    return this.post(painScore(this.pat, procedureId, score, at(timing, minute), timing));
  }

  async temperature(procedureId: string, celsius: number, timing: string, side: 'left' | 'right' = 'left'): Promise<Observation & { id: string }> {
    const obs = skinTemperature(this.pat, procedureId, celsius, at(timing, 0), timing);
    if (side === 'right') {
      obs.bodySite = { coding: [{ system: 'http://snomed.info/sct', code: '24028007' }], text: 'Right great toe' };
    }
    return this.post(obs);
  }

  async post(obs: Observation): Promise<Observation & { id: string }> {
    const res = await this.server.fhir('/Observation', { method: 'POST', body: obs });
    expect(res.status, res.text).to.equal(201);
    return res.body;
  }

  /** The derived Observation, or undefined when there is none (404). */
  async derived(procedureId: string, suffix: 'percent-relief' | 'diagnostic-response'): Promise<(Observation & { meta: { versionId: string } }) | undefined> {
    const res = await this.server.fhir(`/Observation/${procedureId}-${suffix}`);
    return res.status === 200 ? res.body : undefined;
  }

  async outcome(procedureId: string) {
    const res = await this.server.fhir(`/Procedure/${procedureId}/$outcome`);
    expect(res.status, res.text).to.equal(200);
    return res.body as { resourceType: 'Parameters'; parameter: Param[] };
  }
}

export interface Param {
  name: string;
  part?: Param[];
  [value: string]: unknown;
}

export function param(params: Param[] | undefined, name: string): Param | undefined {
  return params?.find((p) => p.name === name);
}

export function params(params: Param[] | undefined, name: string): Param[] {
  return (params ?? []).filter((p) => p.name === name);
}

const MINUTES: Record<string, number> = { 'pre-block': -10, 'post-30min': 30, 'post-2h': 120, 'post-24h': 1440 };
/** Effective times around the fixture's block (2026-01-15T09:30Z). */
function at(timing: string, minute: number): string {
  return new Date(Date.parse('2026-01-15T09:30:00Z') + ((MINUTES[timing] ?? 0) + minute) * 60_000).toISOString();
}
