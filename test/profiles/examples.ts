import fs from 'node:fs';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { PROFILES_DIR } from '../../src/profiles/package-files';

export const EXAMPLES_DIR = path.join(PROFILES_DIR, 'examples');
export const INVALID_DIR = path.join(EXAMPLES_DIR, 'invalid');

/** Valid examples in reference order: each one's references point at earlier ones. */
export const VALID_ORDER = [
  'Patient-example-patient.json',
  'Practitioner-example-practitioner.json',
  'ServiceRequest-example-block-order.json',
  'Procedure-example-block-procedure.json',
  'Observation-example-pain-score.json',
  'Observation-example-skin-temperature.json',
  'Observation-example-percent-relief.json',
  'Observation-example-relief-duration.json',
  'Observation-example-diagnostic-response.json',
];

/**
 * The rule each invalid example breaks (the file name, `examples/invalid/<rule>.json`), and the
 * issue the server must answer with: [rule, issue code, expression, HTTP status].
 * Rule names: an invariant key (`sbf-proc-2`), or `<profile>.<element>.<min|max|type|binding|pattern|fixed>`.
 */
export const INVALID: [string, string, string, number?][] = [
  ['block-order.identifier.min', 'required', 'ServiceRequest.identifier'],
  ['block-order.identifier.system.min', 'required', 'ServiceRequest.identifier[0].system'],
  ['block-order.intent.fixed', 'value', 'ServiceRequest.intent'],
  ['block-order.code.binding', 'code-invalid', 'ServiceRequest.code'],
  ['block-order.subject.type', 'invalid', 'ServiceRequest.subject.reference'],
  ['block-order.requester.min', 'required', 'ServiceRequest.requester'],
  ['block-order.authoredOn.min', 'required', 'ServiceRequest.authoredOn'],
  ['block-order.bodySite.min', 'required', 'ServiceRequest.bodySite'],
  ['block-order.bodySite.max', 'structure', 'ServiceRequest.bodySite'],
  ['sbf-order-1', 'invariant', 'ServiceRequest'],
  ['sbf-lat-1', 'invariant', 'ServiceRequest'],
  ['r4-binding.ServiceRequest.status', 'code-invalid', 'ServiceRequest.status'],
  ['block-procedure.basedOn.min', 'required', 'Procedure.basedOn'],
  ['block-procedure.basedOn.type', 'invalid', 'Procedure.basedOn[0].reference'],
  ['block-procedure.code.binding', 'code-invalid', 'Procedure.code'],
  ['block-procedure.performer.min', 'required', 'Procedure.performer'],
  ['block-procedure.performed.type', 'structure', 'Procedure.performedString'],
  ['block-procedure.bodySite.min', 'required', 'Procedure.bodySite'],
  ['block-procedure.targetLevel.min', 'required', 'Procedure.extension'],
  ['block-procedure.complication.coding.min', 'required', 'Procedure.complication[0].coding'],
  ['sbf-proc-1', 'invariant', 'Procedure'],
  ['sbf-proc-2', 'invariant', 'Procedure.performedDateTime'],
  ['sbf-proc-3', 'invariant', 'Procedure'],
  ['sbf-proc-4', 'invariant', 'Procedure'],
  ['sbf-proc-5', 'invariant', 'Procedure'],
  ['sbf-lat-1.procedure', 'invariant', 'Procedure'],
  ['block-injectate.drug.binding', 'code-invalid', 'Procedure.extension[3].extension[0].valueCodeableConcept'],
  ['block-injectate.drug.min', 'required', 'Procedure.extension[3].extension'],
  ['block-injectate.volume.pattern', 'value', 'Procedure.extension[3].extension[1].valueQuantity'],
  ['block-contrast.spreadConfirmed.min', 'required', 'Procedure.extension[2].extension'],
  ['block-contrast.agent.binding', 'code-invalid', 'Procedure.extension[2].extension[0].valueCodeableConcept'],
  ['block-guidance.value.binding', 'code-invalid', 'Procedure.extension[1].valueCodeableConcept'],
  ['observation.no-matching-profile', 'invalid', 'Observation.code'],
  ['block-pain-score.code.pattern', 'value', 'Observation.code'],
  ['block-pain-score.value.type', 'structure', 'Observation.valueQuantity'],
  ['block-pain-score.value.min', 'required', 'Observation.value[x]'],
  ['sbf-pain-1', 'invariant', 'Observation.valueInteger'],
  ['block-pain-score.method.min', 'required', 'Observation.method'],
  ['block-pain-score.method.binding', 'code-invalid', 'Observation.method'],
  ['block-pain-score.partOf.min', 'required', 'Observation.partOf'],
  ['block-pain-score.partOf.type', 'invalid', 'Observation.partOf[0].reference'],
  ['block-pain-score.subject.min', 'required', 'Observation.subject'],
  ['block-pain-score.effective.type', 'structure', 'Observation.effectivePeriod'],
  ['block-pain-score.effective.min', 'required', 'Observation.effective[x]'],
  ['sbf-obs-1', 'invariant', 'Observation.effectiveDateTime'],
  ['sbf-temp-1', 'invariant', 'Observation.valueQuantity'],
  ['block-skin-temperature.value.pattern', 'value', 'Observation.valueQuantity'],
  ['block-skin-temperature.bodySite.min', 'required', 'Observation.bodySite'],
  ['sbf-lat-2', 'invariant', 'Observation'],
  ['sbf-relief-1', 'invariant', 'Observation.valueQuantity'],
  ['block-percent-relief.value.pattern', 'value', 'Observation.valueQuantity'],
  ['sbf-duration-1', 'invariant', 'Observation.valueQuantity'],
  ['block-relief-duration.value.pattern', 'value', 'Observation.valueQuantity'],
  ['block-diagnostic-response.value.binding', 'code-invalid', 'Observation.valueCodeableConcept'],
  ['block-diagnostic-response.derivedFrom.min', 'required', 'Observation.derivedFrom'],
  // The R4 JSON schema stage already rejects this one (400), before the binding stage would (see bindings.test).
  ['r4-binding.Patient.gender', 'structure', 'Patient.gender', 400],
];

export function readExample(file: string, dir = EXAMPLES_DIR): Resource {
  return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Resource;
}

export function jsonFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort();
}
