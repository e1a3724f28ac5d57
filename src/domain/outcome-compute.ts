import type { Observation, Procedure } from '@medplum/fhirtypes';
import type { OutcomeThresholds } from './outcome-config';
import { LATERALITY, LOINC, PAIN_SCORE_CODE, PRE_BLOCK, SKIN_TEMPERATURE_CODE, TIMING_CS, isStellate } from './outcome-codes';

export type Side = 'left' | 'right' | 'bilateral';
export type Response = 'positive' | 'partial' | 'negative';

/** One entered measurement, as the reading uses it. */
export interface Measurement {
  id: string;
  kind: 'pain' | 'temperature';
  value: number;
  /** block-timing code: `pre-block`, `post-30min`… */
  timing: string;
  effective: string;
  status: Observation['status'];
  side?: Side;
}

export interface Relief {
  /** 0–100, one decimal; pain worse than baseline counts as 0 %. */
  percent: number;
  baseline: Measurement;
  best: Measurement;
}

export interface TemperatureReading {
  side: Side;
  before?: Measurement;
  after?: Measurement;
  /** after − before on the blocked side, °C, two decimals. */
  rise?: number;
  /** Stellate blocks: blocked side minus the other side at the same timing after the block. */
  other?: Measurement;
  sideDifference?: number;
  confirmed: boolean;
  /** Which rule decided, in words, for the record. */
  basis: string;
}

/** The diagnostic reading of one block, computed from its entered observations. */
export interface OutcomeReading {
  procedureId: string;
  procedureStatus: Procedure['status'];
  side?: Side;
  /** Entered pain scores and temperatures that count, oldest first. */
  measurements: Measurement[];
  relief?: Relief;
  temperature?: TemperatureReading;
  response?: Response;
  /** Status the derived Observations get; undefined: nothing may be derived (they are withdrawn). */
  derivedStatus?: 'final' | 'preliminary';
  /** Why something could not be computed, or a caveat on the reading. */
  notes: string[];
}

/** Entered results that count as evidence; cancelled and entered-in-error ones do not. */
const USABLE: ReadonlySet<string> = new Set(['final', 'amended', 'corrected', 'preliminary']);

export function isPainScore(obs: Observation): boolean {
  return hasCode(obs, LOINC, PAIN_SCORE_CODE);
}

export function isSkinTemperature(obs: Observation): boolean {
  return hasCode(obs, LOINC, SKIN_TEMPERATURE_CODE);
}

/** The side a Procedure or Observation concerns, from the first SNOMED CT laterality coding of its bodySite. */
export function sideOf(bodySite: { coding?: { system?: string; code?: string }[] }[] | undefined): Side | undefined {
  for (const site of bodySite ?? []) {
    for (const c of site.coding ?? []) {
      if (c.system === 'http://snomed.info/sct' && c.code && LATERALITY[c.code]) {
        return LATERALITY[c.code];
      }
    }
  }
  return undefined;
}

/** Turns an entered pain score or skin temperature into a Measurement; undefined if it cannot count. */
export function toMeasurement(obs: Observation): Measurement | undefined {
  const timing = obs.method?.coding?.find((c) => c.system === TIMING_CS)?.code;
  if (!obs.id || !timing || !obs.effectiveDateTime || !USABLE.has(obs.status)) {
    return undefined;
  }
  const base = { id: obs.id, timing, effective: obs.effectiveDateTime, status: obs.status };
  if (isPainScore(obs) && typeof obs.valueInteger === 'number') {
    return { ...base, kind: 'pain', value: obs.valueInteger };
  }
  if (isSkinTemperature(obs) && typeof obs.valueQuantity?.value === 'number') {
    return { ...base, kind: 'temperature', value: obs.valueQuantity.value, side: sideOf(obs.bodySite ? [obs.bodySite] : []) };
  }
  return undefined;
}

/**
 * The reading (docs/OUTCOMES.md):
 * - baseline = the latest pre-block pain score; best = the lowest post-block score (earliest on ties);
 *   relief = (baseline − best) / baseline × 100, rounded to one decimal, never below 0;
 *   a zero baseline has no relief (nothing to relieve), so no relief and no response are derived;
 * - response from relief: ≥ positive cut-off positive, ≥ partial cut-off partial, else negative;
 * - temperature on the blocked side: rise = peak post-block − latest pre-block; confirmed at ≥ the
 *   rise cut-off, or (stellate blocks) when the blocked side is warmer than the other by more than
 *   the side-difference cut-off; a bilateral block needs every measured side confirmed;
 * - derived only for a completed (final) or in-progress (preliminary) block.
 */
export function computeOutcome(procedure: Procedure, observations: Observation[], t: OutcomeThresholds): OutcomeReading {
  const measurements = observations
    .map(toMeasurement)
    .filter((m): m is Measurement => m !== undefined)
    .sort((a, b) => compareTime(a.effective, b.effective) || a.id.localeCompare(b.id));
  const reading: OutcomeReading = {
    procedureId: procedure.id ?? '',
    procedureStatus: procedure.status,
    side: sideOf(procedure.bodySite),
    measurements,
    notes: [],
  };

  if (procedure.status === 'completed') {
    reading.derivedStatus = measurements.some((m) => m.status === 'preliminary') ? 'preliminary' : 'final';
  } else if (procedure.status === 'in-progress') {
    reading.derivedStatus = 'preliminary';
    reading.notes.push('The block is in progress: the reading is preliminary until the procedure is completed.');
  } else {
    reading.notes.push(`The block has status '${procedure.status}': nothing is derived until it is in progress or completed.`);
  }

  const pain = measurements.filter((m) => m.kind === 'pain');
  reading.relief = computeRelief(pain, reading.notes);
  if (reading.relief) {
    reading.response = classify(reading.relief.percent, t);
  }
  reading.temperature = computeTemperature(
    measurements.filter((m) => m.kind === 'temperature'),
    reading.side,
    isStellate(procedure.code?.coding),
    t,
    reading.notes,
  );
  if (reading.response === 'negative' && reading.temperature && !reading.temperature.confirmed) {
    reading.notes.push('Sympathetic blockade is not confirmed by temperature: a negative reading may be a technically failed block.');
  }
  return reading;
}

export function classify(percent: number, t: OutcomeThresholds): Response {
  if (percent >= t.positiveReliefPercent) {
    return 'positive';
  }
  return percent >= t.partialReliefPercent ? 'partial' : 'negative';
}

function computeRelief(pain: Measurement[], notes: string[]): Relief | undefined {
  const pre = pain.filter((m) => m.timing === PRE_BLOCK);
  const post = pain.filter((m) => m.timing !== PRE_BLOCK);
  if (pre.length === 0 || post.length === 0) {
    notes.push(`Relief needs a baseline (pre-block) and a post-block pain score: ${pre.length} baseline, ${post.length} post-block.`);
    return undefined;
  }
  const baseline = pre[pre.length - 1];
  const best = post.reduce((low, m) => (m.value < low.value ? m : low));
  if (baseline.value === 0) {
    notes.push('The baseline pain score is 0: there is no pain to relieve, so relief and the diagnostic response are not derived.');
    return undefined;
  }
  const raw = ((baseline.value - best.value) / baseline.value) * 100;
  if (raw < 0) {
    notes.push(`Pain after the block (${best.value}) is worse than the baseline (${baseline.value}): relief counts as 0 %.`);
  }
  return { percent: Math.max(0, round(raw, 1)), baseline, best };
}

function computeTemperature(
  temps: Measurement[],
  side: Side | undefined,
  stellate: boolean,
  t: OutcomeThresholds,
  notes: string[],
): TemperatureReading | undefined {
  if (temps.length === 0) {
    return undefined;
  }
  if (!side) {
    notes.push('The block has no side (midline): limb temperature is not assessed.');
    return undefined;
  }
  const sides: ('left' | 'right')[] = side === 'bilateral' ? ['left', 'right'] : [side];
  const readings = sides.map((s) => sideReading(temps, s, stellate, t)).filter((r): r is TemperatureReading => r !== undefined);
  if (readings.length === 0) {
    notes.push(`No temperature on the blocked side (${side}) after the block: blockade is not assessed.`);
    return undefined;
  }
  if (side !== 'bilateral') {
    return readings[0];
  }
  // Bilateral: the weaker side decides, and every measured side must be confirmed.
  const weakest = readings.reduce((w, r) => ((r.rise ?? -Infinity) < (w.rise ?? -Infinity) ? r : w));
  const confirmed = readings.every((r) => r.confirmed);
  return { ...weakest, side: 'bilateral', confirmed, basis: `bilateral: ${readings.map((r) => `${r.side} ${r.basis}`).join('; ')}` };
}

function sideReading(temps: Measurement[], side: 'left' | 'right', stellate: boolean, t: OutcomeThresholds): TemperatureReading | undefined {
  const mine = temps.filter((m) => m.side === side);
  const pre = mine.filter((m) => m.timing === PRE_BLOCK);
  const post = mine.filter((m) => m.timing !== PRE_BLOCK);
  if (post.length === 0) {
    return undefined;
  }
  const before = pre.length > 0 ? pre[pre.length - 1] : undefined;
  const after = post.reduce((hi, m) => (m.value > hi.value ? m : hi));
  const reading: TemperatureReading = { side, before, after, confirmed: false, basis: '' };
  const reasons: string[] = [];
  if (before) {
    reading.rise = round(after.value - before.value, 2);
    reading.confirmed = reading.rise >= t.temperatureRiseCelsius;
    reasons.push(`rise ${reading.rise} °C ${reading.confirmed ? '≥' : '<'} ${t.temperatureRiseCelsius} °C`);
  }
  if (stellate) {
    const otherSide = side === 'left' ? 'right' : 'left';
    const other = temps.find((m) => m.side === otherSide && m.timing === after.timing);
    if (other) {
      reading.other = other;
      reading.sideDifference = round(after.value - other.value, 2);
      const byDifference = reading.sideDifference > t.stellateSideDifferenceCelsius;
      reading.confirmed ||= byDifference;
      reasons.push(`side difference ${reading.sideDifference} °C ${byDifference ? '>' : '≤'} ${t.stellateSideDifferenceCelsius} °C`);
    }
  }
  if (reasons.length === 0) {
    return undefined;
  }
  reading.basis = reasons.join(', ');
  return reading;
}

function hasCode(obs: Observation, system: string, code: string): boolean {
  return (obs.code?.coding ?? []).some((c) => c.system === system && c.code === code);
}

/** Rounds half away from zero after removing binary noise (34.1 − 32.1 is 2, not 1.9999999999999964). */
function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  const clean = Number(value.toPrecision(12));
  return Math.sign(clean) * Math.round(Math.abs(clean) * f) / f;
}

function compareTime(a: string, b: string): number {
  const d = Date.parse(a) - Date.parse(b);
  return Number.isNaN(d) ? a.localeCompare(b) : d;
}
