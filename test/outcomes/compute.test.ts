import { expect } from 'chai';
import type { Observation, Procedure } from '@medplum/fhirtypes';
import { DEFAULT_OUTCOME_THRESHOLDS, loadOutcomeThresholds } from '../../src/domain/outcome-config';
import { classify, computeOutcome } from '../../src/domain/outcome-compute';
import { derivedId } from '../../src/domain/outcome-engine';
import { blockProcedure, painScore, skinTemperature } from '../support/fixtures';

/** The reading as pure functions: every cut-off on both sides, without a server. */
describe('Outcome reading (pure)', () => {
  const t = DEFAULT_OUTCOME_THRESHOLDS;
  const proc = (change: Partial<Procedure> = {}): Procedure => ({ ...blockProcedure('p', 'o', 'd'), id: 'b1', ...change });
  let n = 0;
  const pain = (score: number, timing: string, minute = 0): Observation => ({
    ...painScore('p', 'b1', score, new Date(Date.parse('2026-01-15T09:30:00Z') + minute * 60_000).toISOString(), timing),
    id: `o${++n}`,
  });
  const temp = (c: number, timing: string, side: 'left' | 'right' = 'left', minute = 0): Observation => {
    const o = { ...skinTemperature('p', 'b1', c, new Date(Date.parse('2026-01-15T09:30:00Z') + minute * 60_000).toISOString(), timing), id: `o${++n}` };
    if (side === 'right') {
      o.bodySite = { coding: [{ system: 'http://snomed.info/sct', code: '24028007' }] };
    }
    return o;
  };

  describe('diagnostic response cut-offs', () => {
    for (const [percent, expected] of [
      [100, 'positive'],
      [50, 'positive'],
      [49.9, 'partial'],
      [20, 'partial'],
      [19.9, 'negative'],
      [0, 'negative'],
    ] as const) {
      it(`${percent} % relief is ${expected}`, () => expect(classify(percent, t)).to.equal(expected));
    }
    it('follows configured cut-offs', () => {
      const custom = loadOutcomeThresholds({ FHIR_OUTCOME_POSITIVE_RELIEF_PERCENT: '80', FHIR_OUTCOME_PARTIAL_RELIEF_PERCENT: '50' });
      expect(classify(79.9, custom)).to.equal('partial');
      expect(classify(80, custom)).to.equal('positive');
      expect(classify(49.9, custom)).to.equal('negative');
    });
    it('refuses malformed or inconsistent settings', () => {
      expect(() => loadOutcomeThresholds({ FHIR_OUTCOME_POSITIVE_RELIEF_PERCENT: 'half' })).to.throw(/FHIR_OUTCOME_POSITIVE_RELIEF_PERCENT/);
      expect(() => loadOutcomeThresholds({ FHIR_OUTCOME_POSITIVE_RELIEF_PERCENT: '120' })).to.throw(/up to 100/);
      expect(() => loadOutcomeThresholds({ FHIR_OUTCOME_PARTIAL_RELIEF_PERCENT: '60' })).to.throw(/cannot be above/);
      expect(() => loadOutcomeThresholds({ FHIR_OUTCOME_TEMPERATURE_RISE_CELSIUS: '-1' })).to.throw(/non-negative/);
    });
  });

  describe('percent relief', () => {
    it('is (baseline − best post-block) / baseline × 100, one decimal', () => {
      const r = computeOutcome(proc(), [pain(9, 'pre-block', -10), pain(6, 'post-30min', 30), pain(5, 'post-2h', 120)], t);
      expect(r.relief?.percent).to.equal(44.4);
      expect(r.relief?.best.value).to.equal(5);
      expect(r.response).to.equal('partial');
    });
    it('takes the latest baseline when several were entered', () => {
      const r = computeOutcome(proc(), [pain(10, 'pre-block', -30), pain(8, 'pre-block', -10), pain(4, 'post-30min', 30)], t);
      expect(r.relief?.baseline.value).to.equal(8);
      expect(r.relief?.percent).to.equal(50);
    });
    it('a zero baseline gives no relief and no response, and says why', () => {
      const r = computeOutcome(proc(), [pain(0, 'pre-block', -10), pain(0, 'post-30min', 30)], t);
      expect(r.relief).to.equal(undefined);
      expect(r.response).to.equal(undefined);
      expect(r.notes.join(' ')).to.match(/baseline pain score is 0/);
    });
    it('pain worse than baseline counts as 0 % (negative), never below', () => {
      const r = computeOutcome(proc(), [pain(4, 'pre-block', -10), pain(6, 'post-30min', 30)], t);
      expect(r.relief?.percent).to.equal(0);
      expect(r.response).to.equal('negative');
    });
    it('ignores entered-in-error and cancelled scores', () => {
      const wrong = { ...pain(0, 'post-30min', 30), status: 'entered-in-error' } as Observation;
      const r = computeOutcome(proc(), [pain(8, 'pre-block', -10), wrong, pain(6, 'post-2h', 120)], t);
      expect(r.relief?.percent).to.equal(25);
    });
    it('needs both a baseline and a post-block score', () => {
      expect(computeOutcome(proc(), [pain(8, 'pre-block')], t).relief).to.equal(undefined);
      expect(computeOutcome(proc(), [pain(2, 'post-30min')], t).relief).to.equal(undefined);
    });
  });

  describe('temperature on the blocked side', () => {
    it('a rise of exactly 2.0 °C confirms blockade; 1.9 °C does not', () => {
      const yes = computeOutcome(proc(), [temp(32.1, 'pre-block'), temp(34.1, 'post-30min')], t);
      expect(yes.temperature?.rise).to.equal(2);
      expect(yes.temperature?.confirmed).to.equal(true);
      const no = computeOutcome(proc(), [temp(32.1, 'pre-block'), temp(34.0, 'post-30min')], t);
      expect(no.temperature?.rise).to.equal(1.9);
      expect(no.temperature?.confirmed).to.equal(false);
    });
    it('uses the peak after the block, and only the blocked side', () => {
      const r = computeOutcome(
        proc(),
        [temp(30, 'pre-block'), temp(31, 'post-30min'), temp(33, 'post-2h', 'left', 90), temp(25, 'pre-block', 'right'), temp(36, 'post-30min', 'right')],
        t,
      );
      expect(r.side).to.equal('left');
      expect(r.temperature?.rise).to.equal(3);
      expect(r.temperature?.after?.value).to.equal(33);
    });
    it('stellate blocks: a side difference above 1.5 °C confirms, 1.5 °C does not', () => {
      const stellate = proc({ code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '64510' }] } });
      const above = computeOutcome(stellate, [temp(33.6, 'post-30min', 'left'), temp(32.0, 'post-30min', 'right')], t);
      expect(above.temperature?.sideDifference).to.equal(1.6);
      expect(above.temperature?.confirmed).to.equal(true);
      const at = computeOutcome(stellate, [temp(33.5, 'post-30min', 'left'), temp(32.0, 'post-30min', 'right')], t);
      expect(at.temperature?.sideDifference).to.equal(1.5);
      expect(at.temperature?.confirmed).to.equal(false);
    });
    it('a bilateral block needs both sides confirmed', () => {
      const bilateral = proc({ bodySite: [{ coding: [{ system: 'http://snomed.info/sct', code: '51440002' }] }] });
      const r = computeOutcome(
        bilateral,
        [temp(30, 'pre-block'), temp(33, 'post-30min'), temp(30, 'pre-block', 'right'), temp(31, 'post-30min', 'right')],
        t,
      );
      expect(r.temperature?.rise).to.equal(1);
      expect(r.temperature?.confirmed).to.equal(false);
    });
    it('a midline block (no side) is not assessed by temperature', () => {
      const r = computeOutcome(proc({ bodySite: [{ text: 'Ganglion impar' }] }), [temp(30, 'pre-block'), temp(33, 'post-30min')], t);
      expect(r.temperature).to.equal(undefined);
      expect(r.notes.join(' ')).to.match(/midline/);
    });
  });

  describe('block status', () => {
    it('completed: final; in progress: preliminary; anything else: nothing derived', () => {
      const scores = [pain(8, 'pre-block'), pain(2, 'post-30min')];
      expect(computeOutcome(proc(), scores, t).derivedStatus).to.equal('final');
      expect(computeOutcome(proc({ status: 'in-progress' }), scores, t).derivedStatus).to.equal('preliminary');
      for (const status of ['preparation', 'stopped', 'not-done', 'on-hold', 'entered-in-error', 'unknown'] as const) {
        expect(computeOutcome(proc({ status }), scores, t).derivedStatus, status).to.equal(undefined);
      }
    });
  });

  it('derived ids are stable, and hashed when the Procedure id is long', () => {
    expect(derivedId('abc', 'percent-relief')).to.equal('abc-percent-relief');
    const long = 'x'.repeat(64);
    const id = derivedId(long, 'diagnostic-response');
    expect(id).to.have.length.at.most(64).and.match(/^[0-9a-f]+-diagnostic-response$/);
    expect(derivedId(long, 'diagnostic-response')).to.equal(id);
  });
});
