import type { Patient, Practitioner, ServiceRequest } from '@medplum/fhirtypes';

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
  };
}
