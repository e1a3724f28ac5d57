import { createHash } from 'node:crypto';
import type { Annotation, Observation, ObservationComponent, Procedure, Reference, Resource } from '@medplum/fhirtypes';
import type { WriteChange, WriteRules } from '../fhir/types';
import type { Repository } from '../store/types';
import {
  BLOCKADE_CODE,
  DERIVATION_CS,
  DERIVED_TAG,
  OUTCOME_CS,
  PROFILE,
  SIDE_DIFFERENCE_CODE,
  TEMPERATURE_RISE_CODE,
  UCUM,
} from './outcome-codes';
import { loadOutcomeThresholds, type OutcomeThresholds } from './outcome-config';
import { computeOutcome, isPainScore, isSkinTemperature, type Measurement, type OutcomeReading } from './outcome-compute';
import { observationsOf, procedureIdsOf, readLive } from './outcome-data';

export const PERCENT_RELIEF_SUFFIX = 'percent-relief';
export const DIAGNOSTIC_RESPONSE_SUFFIX = 'diagnostic-response';

/**
 * The outcome engine (docs/OUTCOMES.md): whenever an entered pain score or skin temperature of a
 * block changes (created, corrected, deleted) or the block itself changes, it recomputes the
 * reading and returns the derived percent-relief and diagnostic-response Observations as
 * follow-up updates, which the write path validates and stores in the same transaction.
 * - Stable ids (`<procedure id>-percent-relief`…) make corrections new versions, never duplicates.
 * - It reacts only to entered pain scores, temperatures and Procedures, never to the Observations it
 *   derives (other codes, and tagged), so its own writes cannot trigger it again.
 * - Unchanged readings write nothing; a reading that can no longer be made (score deleted, zero
 *   baseline, block no longer under way) turns the derived Observations `cancelled`, with the reason.
 * `thresholds` is read per recompute so that configuration lives in one place (process env by default).
 */
export function createOutcomeEngine(thresholds: () => OutcomeThresholds = () => loadOutcomeThresholds()): WriteRules {
  return {
    async before() {
      // Nothing to refuse: the engine only follows what was entered.
    },
    async after(repo, change) {
      const ids = affectedProcedures(change);
      const updates: Resource[] = [];
      for (const id of ids) {
        updates.push(...(await deriveFor(repo, id, thresholds())));
      }
      return updates;
    },
    followsUpCreates: (resourceType) => resourceType === 'Procedure' || resourceType === 'Observation',
  };
}

export const outcomeEngine: WriteRules = createOutcomeEngine();

/** The derived Observation's id for a Procedure: readable when it fits in 64 characters, else a hash. */
export function derivedId(procedureId: string, suffix: string): string {
  const plain = `${procedureId}-${suffix}`;
  if (plain.length <= 64) {
    return plain;
  }
  return `${createHash('sha256').update(procedureId).digest('hex').slice(0, 63 - suffix.length)}-${suffix}`;
}

export function isDerived(resource: Resource | undefined): boolean {
  return (resource?.meta?.tag ?? []).some((t) => t.system === DERIVATION_CS && t.code === DERIVED_TAG.code);
}

function affectedProcedures(change: WriteChange): string[] {
  if (change.resourceType === 'Procedure') {
    // A deleted block keeps its derived Observations as they were (they would point at nothing live).
    return change.resource ? [change.id] : [];
  }
  if (change.resourceType !== 'Observation') {
    return [];
  }
  const now = change.resource as Observation | undefined;
  const before = change.previous as Observation | undefined;
  if (isDerived(now) || isDerived(before)) {
    return [];
  }
  const entered = (o: Observation | undefined): boolean => !!o && (isPainScore(o) || isSkinTemperature(o));
  if (!entered(now) && !entered(before)) {
    return [];
  }
  // Both old and new `partOf`: a score moved to another block changes the reading of both.
  return [...new Set([...procedureIdsOf(before), ...procedureIdsOf(now)])];
}

async function deriveFor(repo: Repository, procedureId: string, t: OutcomeThresholds): Promise<Resource[]> {
  const procedure = await readLive<Procedure>(repo, 'Procedure', procedureId);
  if (!procedure) {
    return [];
  }
  const entered = (await observationsOf(repo, procedureId)).filter((o) => !isDerived(o) && (isPainScore(o) || isSkinTemperature(o)));
  const reading = computeOutcome(procedure, entered, t);
  const live = new Set(entered.map((o) => `Observation/${o.id}`));
  const reliefId = derivedId(procedureId, PERCENT_RELIEF_SUFFIX);
  const responseId = derivedId(procedureId, DIAGNOSTIC_RESPONSE_SUFFIX);

  const existingRelief = await readLive<Observation>(repo, 'Observation', reliefId);
  const existingResponse = await readLive<Observation>(repo, 'Observation', responseId);
  const canDerive = reading.derivedStatus !== undefined && reading.relief !== undefined;
  const withdrawReason = reading.notes.join(' ') || 'The reading can no longer be made from the entered observations.';

  const updates: Observation[] = [];
  const relief = reconcile(existingRelief, canDerive ? reliefObservation(procedure, reading, reliefId) : undefined, withdrawReason, live);
  if (relief) {
    updates.push(relief);
  }
  if (existingRelief || relief) {
    live.add(`Observation/${reliefId}`);
  }
  const response = reconcile(
    existingResponse,
    canDerive ? responseObservation(procedure, reading, reliefId, responseId, t) : undefined,
    withdrawReason,
    live,
    { reference: `Observation/${reliefId}` },
  );
  if (response) {
    updates.push(response);
  }
  return updates;
}

/**
 * What to write for one derived Observation, or nothing: the desired version when it differs from
 * the stored one (`amended` after a `final`), a `cancelled` version when it can no longer be derived.
 * A resource at the derived id that the engine did not write is never overwritten.
 */
function reconcile(
  existing: Observation | undefined,
  desired: Observation | undefined,
  reason: string,
  live: Set<string>,
  fallbackEvidence?: Reference<Observation>,
): Observation | undefined {
  if (existing && !isDerived(existing)) {
    return undefined;
  }
  if (desired) {
    if (existing && sameContent(existing, desired)) {
      return undefined;
    }
    if (existing && desired.status === 'final' && (existing.status === 'final' || existing.status === 'amended')) {
      return { ...desired, status: 'amended' };
    }
    return desired;
  }
  if (!existing || existing.status === 'cancelled') {
    return undefined;
  }
  // Withdrawn: keep the last value for the record, point only at evidence that still exists.
  let derivedFrom = (existing.derivedFrom ?? []).filter((r) => r.reference && live.has(r.reference));
  if (derivedFrom.length === 0 && fallbackEvidence?.reference && live.has(fallbackEvidence.reference)) {
    derivedFrom = [fallbackEvidence];
  }
  if (derivedFrom.length === 0 && fallbackEvidence) {
    return undefined;
  }
  const { meta: _meta, derivedFrom: _old, ...rest } = existing;
  return {
    ...rest,
    meta: derivedMeta(existing.meta?.profile?.[0] ?? PROFILE.percentRelief),
    status: 'cancelled',
    ...(derivedFrom.length > 0 ? { derivedFrom } : {}),
    note: [{ text: `Withdrawn: ${reason}` }],
  };
}

function reliefObservation(procedure: Procedure, reading: OutcomeReading, id: string): Observation {
  const relief = reading.relief!;
  const notes: Annotation[] =
    relief.best.value > relief.baseline.value
      ? [{ text: `Pain after the block (${relief.best.value}) is worse than the baseline (${relief.baseline.value}): relief counts as 0 %.` }]
      : [];
  return {
    resourceType: 'Observation',
    id,
    meta: derivedMeta(PROFILE.percentRelief),
    status: reading.derivedStatus!,
    category: [category('survey')],
    code: { coding: [{ system: OUTCOME_CS, code: 'percent-relief', display: 'Percent pain relief' }] },
    subject: procedure.subject,
    partOf: [{ reference: `Procedure/${procedure.id}` }],
    effectiveDateTime: relief.best.effective,
    valueQuantity: { value: relief.percent, unit: '%', system: UCUM, code: '%' },
    derivedFrom: refs([relief.baseline, relief.best]),
    ...(notes.length > 0 ? { note: notes } : {}),
  };
}

function responseObservation(procedure: Procedure, reading: OutcomeReading, reliefId: string, id: string, t: OutcomeThresholds): Observation {
  const relief = reading.relief!;
  const temp = reading.temperature;
  const evidence = [relief.baseline, relief.best, temp?.before, temp?.after, temp?.other].filter((m): m is Measurement => !!m);
  const component: ObservationComponent[] = [];
  if (temp?.rise !== undefined) {
    component.push({
      code: { coding: [{ system: DERIVATION_CS, code: TEMPERATURE_RISE_CODE, display: 'Skin temperature rise on the blocked side' }] },
      valueQuantity: { value: temp.rise, unit: '°C', system: UCUM, code: 'Cel' },
    });
  }
  if (temp?.sideDifference !== undefined) {
    component.push({
      code: { coding: [{ system: DERIVATION_CS, code: SIDE_DIFFERENCE_CODE, display: 'Blocked minus other side skin temperature' }] },
      valueQuantity: { value: temp.sideDifference, unit: '°C', system: UCUM, code: 'Cel' },
    });
  }
  if (temp) {
    component.push({
      code: { coding: [{ system: DERIVATION_CS, code: BLOCKADE_CODE, display: 'Sympathetic blockade confirmed by temperature' }], text: temp.basis },
      valueBoolean: temp.confirmed,
    });
  }
  const latest = evidence.reduce((a, b) => (Date.parse(b.effective) > Date.parse(a.effective) ? b : a));
  return {
    resourceType: 'Observation',
    id,
    meta: derivedMeta(PROFILE.diagnosticResponse),
    status: reading.derivedStatus!,
    category: [category('procedure')],
    code: { coding: [{ system: OUTCOME_CS, code: 'diagnostic-response', display: 'Diagnostic response to sympathetic block' }] },
    subject: procedure.subject,
    partOf: [{ reference: `Procedure/${procedure.id}` }],
    effectiveDateTime: latest.effective,
    valueCodeableConcept: {
      coding: [{ system: OUTCOME_CS, code: reading.response! }],
      text: `${reading.response}: ${relief.percent} % relief (positive ≥ ${t.positiveReliefPercent} %, partial ≥ ${t.partialReliefPercent} %)`,
    },
    derivedFrom: [{ reference: `Observation/${reliefId}` }, ...refs(evidence)],
    ...(component.length > 0 ? { component } : {}),
    ...(reading.notes.length > 0 ? { note: reading.notes.map((text) => ({ text })) } : {}),
  };
}

function derivedMeta(profile: string): Observation['meta'] {
  return { profile: [profile], tag: [DERIVED_TAG] };
}

function category(code: string): NonNullable<Observation['category']>[number] {
  return { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code }] };
}

function refs(measurements: Measurement[]): Reference<Observation>[] {
  return [...new Set(measurements.map((m) => `Observation/${m.id}`))].map((reference) => ({ reference }));
}

/** Equal apart from server meta, and `amended` counting as `final` (so a recompute of the same reading writes nothing). */
function sameContent(stored: Observation, desired: Observation): boolean {
  const norm = (o: Observation): string => {
    const { meta: _m, status, ...rest } = o;
    return canonical({ ...rest, status: status === 'amended' ? 'final' : status, tag: o.meta?.tag });
  };
  return norm(stored) === norm(desired);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
