import type { CodeableConcept, Extension, Parameters, ParametersParameter, Procedure } from '@medplum/fhirtypes';
import { gone, notFound } from '../../common/errors';
import { OUTCOME_CS, PROFILE, UCUM } from '../../domain/outcome-codes';
import { loadOutcomeThresholds } from '../../domain/outcome-config';
import { computeOutcome, isPainScore, isSkinTemperature } from '../../domain/outcome-compute';
import { observationsOf } from '../../domain/outcome-data';
import { isDerived } from '../../domain/outcome-engine';
import { parseSearch } from '../../search/parse';
import type { FhirHandler } from '../types';

/** More blocks than any patient has (a series is about three); bounds the work of one request. */
const MAX_BLOCKS = 500;

/**
 * `GET [base]/Patient/[id]/$block-summary`: every block the patient had (procedures not entered in
 * error), oldest first, each with what the physician weighs before the next one: block type, side,
 * target levels, drugs, status, relief, blockade by temperature and the diagnostic response.
 */
export const blockSummaryOperation: FhirHandler = async (req, ctx) => {
  const { id } = req.params;
  const patient = await ctx.repo.read('Patient', id);
  if (!patient) {
    throw notFound(`Patient/${id} not found`);
  }
  if (patient.deleted) {
    throw gone(`Patient/${id} was deleted`);
  }
  const plan = parseSearch('Procedure', { subject: `Patient/${id}` }, { strict: true, baseUrl: '' });
  const page = await ctx.repo.search({ ...plan, count: MAX_BLOCKS });
  const procedures = page.rows
    .map((row) => JSON.parse(row.json) as Procedure)
    .filter((p) => p.status !== 'entered-in-error')
    .sort((a, b) => (performedAt(a) ?? '\uffff').localeCompare(performedAt(b) ?? '\uffff') || (a.id ?? '').localeCompare(b.id ?? ''));

  const thresholds = loadOutcomeThresholds();
  const parameter: ParametersParameter[] = [
    { name: 'patient', valueReference: { reference: `Patient/${id}` } },
    { name: 'count', valueInteger: procedures.length },
  ];
  for (const procedure of procedures) {
    const entered = (await observationsOf(ctx.repo, procedure.id!)).filter((o) => !isDerived(o) && (isPainScore(o) || isSkinTemperature(o)));
    const reading = computeOutcome(procedure, entered, thresholds);
    const part: ParametersParameter[] = [
      { name: 'procedure', valueReference: { reference: `Procedure/${procedure.id}` } },
      { name: 'status', valueCode: procedure.status },
      { name: 'code', valueCodeableConcept: procedure.code },
    ];
    const when = performedAt(procedure);
    if (when) {
      part.push({ name: 'performed', valueDateTime: when });
    }
    for (const order of procedure.basedOn ?? []) {
      part.push({ name: 'order', valueReference: order });
    }
    if (reading.side) {
      part.push({ name: 'side', valueCode: reading.side });
    }
    for (const target of extensionConcepts(procedure, PROFILE.targetLevel)) {
      part.push({ name: 'target', valueCodeableConcept: target });
    }
    for (const injectate of (procedure.extension ?? []).filter((e) => e.url === PROFILE.injectate)) {
      part.push({ name: 'drug', part: injectateParts(injectate) });
    }
    if (reading.relief) {
      part.push({ name: 'relief', valueQuantity: { value: reading.relief.percent, unit: '%', system: UCUM, code: '%' } });
    }
    if (reading.temperature) {
      part.push({ name: 'blockadeConfirmed', valueBoolean: reading.temperature.confirmed });
    }
    if (reading.response) {
      part.push({ name: 'response', valueCoding: { system: OUTCOME_CS, code: reading.response } });
    }
    parameter.push({ name: 'block', part });
  }
  const body: Parameters = { resourceType: 'Parameters', parameter };
  return { status: 200, body };
};

function performedAt(p: Procedure): string | undefined {
  return p.performedDateTime ?? p.performedPeriod?.start;
}

function extensionConcepts(p: Procedure, url: string): CodeableConcept[] {
  return (p.extension ?? []).filter((e) => e.url === url && e.valueCodeableConcept).map((e) => e.valueCodeableConcept!);
}

function injectateParts(ext: Extension): ParametersParameter[] {
  const parts: ParametersParameter[] = [];
  for (const sub of ext.extension ?? []) {
    if (sub.url === 'drug' && sub.valueCodeableConcept) {
      parts.push({ name: 'drug', valueCodeableConcept: sub.valueCodeableConcept });
    } else if ((sub.url === 'volume' || sub.url === 'concentration') && sub.valueQuantity) {
      parts.push({ name: sub.url, valueQuantity: sub.valueQuantity });
    }
  }
  return parts;
}
