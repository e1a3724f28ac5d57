import type { Observation, Patient, Practitioner, Procedure, ServiceRequest } from '@medplum/fhirtypes';

export function patient(family = 'Testperson'): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'http://sympathetic-block-fhir.org/fhir/sid/test-mrn', value: `MRN-${family}` }],
    name: [{ family, given: ['Alex'] }],
    gender: 'female',
    birthDate: '1970-04-12',
  };
}

export function practitioner(): Practitioner {
  return {
    resourceType: 'Practitioner',
    identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }],
    name: [{ family: 'Nerveblock', given: ['Sam'], prefix: ['Dr.'] }],
  };
}

/** A lumbar sympathetic block order for the given patient and requester ids. */
export function blockOrder(patientId: string, practitionerId: string, placer = 'PLAC-1'): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    identifier: [{ system: 'http://ehr.example.org/placer-order', value: placer }],
    status: 'active',
    intent: 'order',
    code: {
      coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '64520', display: 'Lumbar or thoracic sympathetic block' }],
    },
    subject: { reference: `Patient/${patientId}` },
    requester: { reference: `Practitioner/${practitionerId}` },
    reasonCode: [{ coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'G90.522' }] }],
    bodySite: [{ coding: [{ system: 'http://snomed.info/sct', code: '7771000', display: 'Left' }] }],
    authoredOn: '2026-11-01T09:00:00Z',
    orderDetail: [{ coding: [{ system: `${LOCAL}/block-purpose`, code: 'diagnostic' }] }],
  };
}

const LOCAL = 'http://sympathetic-block-fhir.org/fhir/CodeSystem';
const EXT = 'http://sympathetic-block-fhir.org/fhir/StructureDefinition';
const UCUM = 'http://unitsofmeasure.org';

/** A completed left lumbar sympathetic block (L2), carrying out the given order: conforms to the block-procedure profile. */
export function blockProcedure(patientId: string, orderId: string, practitionerId: string): Procedure {
  return {
    resourceType: 'Procedure',
    extension: [
      { url: `${EXT}/block-target-level`, valueCodeableConcept: { coding: [{ system: `${LOCAL}/block-target`, code: 'L2' }] } },
      { url: `${EXT}/block-guidance`, valueCodeableConcept: { coding: [{ system: `${LOCAL}/block-guidance`, code: 'fluoroscopy' }] } },
      {
        url: `${EXT}/block-contrast`,
        extension: [
          { url: 'agent', valueCodeableConcept: { coding: [{ system: 'http://fdasis.nlm.nih.gov', code: '4419T9MX03' }] } },
          { url: 'spreadConfirmed', valueBoolean: true },
        ],
      },
      {
        url: `${EXT}/block-injectate`,
        extension: [
          { url: 'drug', valueCodeableConcept: { coding: [{ system: 'http://fdasis.nlm.nih.gov', code: '7TQO7W3VT8' }] } },
          { url: 'volume', valueQuantity: { value: 10, unit: 'mL', system: UCUM, code: 'mL' } },
          { url: 'concentration', valueQuantity: { value: 0.25, unit: '%', system: UCUM, code: '%' } },
        ],
      },
    ],
    basedOn: [{ reference: `ServiceRequest/${orderId}` }],
    status: 'completed',
    code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '64520' }] },
    subject: { reference: `Patient/${patientId}` },
    performedDateTime: '2026-01-15T09:30:00Z',
    performer: [{ actor: { reference: `Practitioner/${practitionerId}` } }],
    bodySite: [{ coding: [{ system: 'http://snomed.info/sct', code: '7771000' }], text: 'Left lumbar sympathetic chain, L2' }],
  };
}

/** An NRS pain score (block-pain-score profile); `timing` is a block-timing code such as 'pre-block' or 'post-30min'. */
export function painScore(patientId: string, procedureId: string, score: number, effective: string, timing = 'post-30min'): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '72514-3' }] },
    subject: { reference: `Patient/${patientId}` },
    partOf: [{ reference: `Procedure/${procedureId}` }],
    effectiveDateTime: effective,
    valueInteger: score,
    method: { coding: [{ system: `${LOCAL}/block-timing`, code: timing }] },
  };
}

/** A left-foot skin temperature in °C (block-skin-temperature profile). */
export function skinTemperature(patientId: string, procedureId: string, celsius: number, effective: string, timing = 'post-30min'): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '61008-9' }] },
    subject: { reference: `Patient/${patientId}` },
    partOf: [{ reference: `Procedure/${procedureId}` }],
    effectiveDateTime: effective,
    valueQuantity: { value: celsius, unit: '°C', system: UCUM, code: 'Cel' },
    bodySite: { coding: [{ system: 'http://snomed.info/sct', code: '7771000' }], text: 'Left great toe' },
    method: { coding: [{ system: `${LOCAL}/block-timing`, code: timing }] },
  };
}
