import type { Observation, Parameters, ParametersParameter, Procedure } from '@medplum/fhirtypes';
import { gone, notFound } from '../../common/errors';
import { OUTCOME_CS, UCUM } from '../../domain/outcome-codes';
import { loadOutcomeThresholds, type OutcomeThresholds } from '../../domain/outcome-config';
import { computeOutcome, isPainScore, isSkinTemperature, type Measurement, type OutcomeReading } from '../../domain/outcome-compute';
import { observationsOf } from '../../domain/outcome-data';
import { isDerived } from '../../domain/outcome-engine';
import type { Repository } from '../../store/types';
import type { FhirHandler } from '../types';

/**
 * `GET [base]/Procedure/[id]/$outcome`: the block's reading as a `Parameters` — the entered scores and
 * temperatures over time, relief, temperature change, response, the evidence for each, the stored
 * derived Observations and the thresholds used (docs/OUTCOMES.md). Computed from the current data
 * with the same code as the engine, so it answers also for blocks that have nothing derived yet.
 */
export const outcomeOperation: FhirHandler = async (req, ctx) => {
  const { procedure, observations } = await loadBlock(ctx.repo, req.params.id);
  const thresholds = loadOutcomeThresholds();
  const entered = observations.filter((o) => !isDerived(o) && (isPainScore(o) || isSkinTemperature(o)));
  const reading = computeOutcome(procedure, entered, thresholds);
  const derived = observations.filter(isDerived);
  return { status: 200, body: outcomeParameters(reading, derived, thresholds) };
};

/** The live Procedure and every live Observation part of it; 404/410 as a read would answer. */
export async function loadBlock(repo: Repository, id: string): Promise<{ procedure: Procedure; observations: Observation[] }> {
  const version = await repo.read('Procedure', id);
  if (!version) {
    throw notFound(`Procedure/${id} not found`);
  }
  if (version.deleted || !version.json) {
    throw gone(`Procedure/${id} was deleted`);
  }
  return { procedure: JSON.parse(version.json) as Procedure, observations: await observationsOf(repo, id) };
}

export function outcomeParameters(reading: OutcomeReading, derived: Observation[], t: OutcomeThresholds): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'procedure', valueReference: { reference: `Procedure/${reading.procedureId}` } },
    { name: 'status', valueCode: reading.procedureStatus },
  ];
  if (reading.side) {
    parameter.push({ name: 'side', valueCode: reading.side });
  }
  for (const m of reading.measurements) {
    parameter.push({ name: 'measurement', part: measurementParts(m) });
  }
  if (reading.relief) {
    const r = reading.relief;
    parameter.push({
      name: 'relief',
      part: [
        { name: 'percent', valueQuantity: { value: r.percent, unit: '%', system: UCUM, code: '%' } },
        { name: 'baseline', valueReference: { reference: `Observation/${r.baseline.id}` } },
        { name: 'best', valueReference: { reference: `Observation/${r.best.id}` } },
      ],
    });
  }
  if (reading.temperature) {
    const temp = reading.temperature;
    const part: ParametersParameter[] = [{ name: 'side', valueCode: temp.side }];
    if (temp.rise !== undefined) {
      part.push({ name: 'rise', valueQuantity: celsius(temp.rise) });
    }
    if (temp.sideDifference !== undefined) {
      part.push({ name: 'sideDifference', valueQuantity: celsius(temp.sideDifference) });
    }
    for (const [name, m] of [['before', temp.before], ['after', temp.after], ['otherSide', temp.other]] as const) {
      if (m) {
        part.push({ name, valueReference: { reference: `Observation/${m.id}` } });
      }
    }
    part.push({ name: 'blockadeConfirmed', valueBoolean: temp.confirmed }, { name: 'basis', valueString: temp.basis });
    parameter.push({ name: 'temperature', part });
  }
  if (reading.response) {
    parameter.push({ name: 'response', valueCoding: { system: OUTCOME_CS, code: reading.response } });
  }
  for (const obs of derived) {
    parameter.push({
      name: 'derived',
      part: [
        { name: 'observation', valueReference: { reference: `Observation/${obs.id}` } },
        { name: 'status', valueCode: obs.status },
      ],
    });
  }
  for (const text of reading.notes) {
    parameter.push({ name: 'note', valueString: text });
  }
  parameter.push({
    name: 'thresholds',
    part: [
      { name: 'positiveReliefPercent', valueDecimal: t.positiveReliefPercent },
      { name: 'partialReliefPercent', valueDecimal: t.partialReliefPercent },
      { name: 'temperatureRiseCelsius', valueDecimal: t.temperatureRiseCelsius },
      { name: 'stellateSideDifferenceCelsius', valueDecimal: t.stellateSideDifferenceCelsius },
    ],
  });
  return { resourceType: 'Parameters', parameter };
}

function measurementParts(m: Measurement): ParametersParameter[] {
  const parts: ParametersParameter[] = [
    { name: 'observation', valueReference: { reference: `Observation/${m.id}` } },
    { name: 'kind', valueCode: m.kind },
    { name: 'timing', valueCode: m.timing },
    { name: 'effective', valueDateTime: m.effective },
    m.kind === 'pain' ? { name: 'value', valueInteger: m.value } : { name: 'value', valueQuantity: celsius(m.value) },
  ];
  if (m.side) {
    parts.push({ name: 'side', valueCode: m.side });
  }
  return parts;
}

function celsius(value: number): NonNullable<ParametersParameter['valueQuantity']> {
  return { value, unit: '°C', system: UCUM, code: 'Cel' };
}
