import type { Json } from './fhir.js';
import type { FieldMap } from './field-errors.js';
import type { Choice } from './terminology.js';

const SD = 'http://sympathetic-block-fhir.org/fhir/StructureDefinition';
const UCUM = 'http://unitsofmeasure.org';

export interface InjectateInput {
  drug?: Choice;
  volume: string;
  concentration: string;
  concentrationUnit: '%' | 'mg/mL';
  /** Field ids of this row, for errors. */
  ids: { drug: string; volume: string; concentration: string };
}

export interface ProcedureInput {
  order: Json;
  code?: Choice;
  side?: Choice;
  siteText: string;
  levels: Choice[];
  guidance?: Choice;
  contrastAgent?: Choice;
  contrastVolume: string;
  spreadConfirmed: boolean;
  injectates: InjectateInput[];
  complications: { system: string; code: string; display: string }[];
  performer: string;
  performed?: string;
  status: 'completed' | 'in-progress';
  note: string;
}

const coding = (c: Choice) => ({ system: c.system, code: c.code, display: c.display });
const quantity = (value: string, unit: string) => ({ value: Number(value), unit, system: UCUM, code: unit });

/**
 * The block-procedure resource for what the form says, and where each element was entered (so the
 * server's errors land on the right field). Blank inputs are left out, never sent as empty values:
 * the profile, not the page, decides what is missing.
 */
export function buildProcedure(input: ProcedureInput): { resource: Json; fields: FieldMap } {
  const fields: FieldMap = [];
  const extension: Json[] = [];
  const add = (ext: Json, id: string) => {
    fields.push([`Procedure.extension[${extension.length}]`, id]);
    extension.push(ext);
  };
  for (const level of input.levels) {
    add({ url: `${SD}/block-target-level`, valueCodeableConcept: { coding: [coding(level)] } }, 'p-levels');
  }
  if (input.guidance) {
    add({ url: `${SD}/block-guidance`, valueCodeableConcept: { coding: [coding(input.guidance)] } }, 'p-guidance');
  }
  if (input.contrastAgent) {
    const parts: Json[] = [{ url: 'agent', valueCodeableConcept: { coding: [coding(input.contrastAgent)] } }];
    if (input.contrastVolume !== '') {
      parts.push({ url: 'volume', valueQuantity: quantity(input.contrastVolume, 'mL') });
    }
    parts.push({ url: 'spreadConfirmed', valueBoolean: input.spreadConfirmed });
    add({ url: `${SD}/block-contrast`, extension: parts }, 'p-contrast-agent');
  }
  for (const row of input.injectates) {
    if (!row.drug && row.volume === '' && row.concentration === '') {
      continue;
    }
    const parts: Json[] = [];
    if (row.drug) {
      parts.push({ url: 'drug', valueCodeableConcept: { coding: [coding(row.drug)] } });
    }
    if (row.volume !== '') {
      parts.push({ url: 'volume', valueQuantity: quantity(row.volume, 'mL') });
    }
    if (row.concentration !== '') {
      parts.push({ url: 'concentration', valueQuantity: quantity(row.concentration, row.concentrationUnit) });
    }
    // Errors inside the row go to its fields: by the sub-extension's position, or its url when missing.
    const at = `Procedure.extension[${extension.length}]`;
    const idOf = (url: string) => (url === 'drug' ? row.ids.drug : url === 'volume' ? row.ids.volume : row.ids.concentration);
    parts.forEach((p, i) => fields.push([`${at}.extension[${i}]`, idOf(p.url)]));
    fields.push(...(['drug', 'volume', 'concentration'] as const).map((u): [string, string] => [`${at}.extension|${u}`, idOf(u)]));
    add({ url: `${SD}/block-injectate`, extension: parts }, row.ids.drug);
  }
  const bodySite: Json = {};
  if (input.side) {
    bodySite.coding = [coding(input.side)];
  }
  if (input.siteText.trim() !== '') {
    bodySite.text = input.siteText.trim();
  }
  const resource: Json = {
    resourceType: 'Procedure',
    ...(extension.length > 0 ? { extension } : {}),
    basedOn: [{ reference: `ServiceRequest/${input.order.id}` }],
    status: input.status,
    ...(input.code ? { code: { coding: [coding(input.code)] } } : {}),
    subject: input.order.subject,
    ...(input.performed ? { performedDateTime: input.performed } : {}),
    ...(input.performer ? { performer: [{ actor: { reference: input.performer } }] } : {}),
    ...(Object.keys(bodySite).length > 0 ? { bodySite: [bodySite] } : {}),
    ...(input.complications.length > 0
      ? { complication: input.complications.map((c) => ({ coding: [{ system: c.system, code: c.code, ...(c.display ? { display: c.display } : {}) }], text: c.display || undefined })) }
      : {}),
    ...(input.note.trim() !== '' ? { note: [{ text: input.note.trim() }] } : {}),
  };
  fields.push(
    [`Procedure.extension|${SD}/block-target-level`, 'p-levels'],
    [`Procedure.extension|${SD}/block-guidance`, 'p-guidance'],
    [`Procedure.extension|${SD}/block-injectate`, 'p-drug-0'],
    [`Procedure.extension|${SD}/block-contrast`, 'p-contrast-agent'],
    ['Procedure.code', 'p-code'],
    ['Procedure.bodySite', 'p-side'],
    ['Procedure.performed', 'p-performed'],
    ['Procedure.performedDateTime', 'p-performed'],
    ['Procedure.performer', 'p-performer'],
    ['Procedure.status', 'p-status'],
    ['Procedure.complication', 'p-complications'],
    ['Procedure.note', 'p-note'],
  );
  return { resource, fields };
}

/** Rules on the whole Procedure (expression `Procedure`) → the field that fixes them. */
export const PROCEDURE_RULES: Record<string, string> = {
  'sbf-proc-1': 'p-performed',
  'sbf-proc-2': 'p-performed',
  'sbf-proc-3': 'p-drug-0',
  'sbf-proc-4': 'p-guidance',
  'sbf-proc-5': 'p-contrast-agent',
  'sbf-lat-1': 'p-side',
};

export interface MeasurementInput {
  kind: 'pain' | 'temperature';
  procedure: Json;
  timing?: Choice;
  effective?: string;
  value: string;
  side?: Choice;
  site: string;
}

/** A block-pain-score or block-skin-temperature Observation `partOf` the procedure. */
export function buildMeasurement(input: MeasurementInput): { resource: Json; fields: FieldMap } {
  const pain = input.kind === 'pain';
  const value = input.value.trim() === '' ? undefined : Number(input.value);
  const resource: Json = {
    resourceType: 'Observation',
    status: 'final',
    code: pain
      ? { coding: [{ system: 'http://loinc.org', code: '72514-3', display: 'Pain severity - 0-10 verbal numeric rating [Score] - Reported' }] }
      : { coding: [{ system: 'http://loinc.org', code: '61008-9', display: 'Body surface temperature' }] },
    subject: input.procedure.subject,
    partOf: [{ reference: `Procedure/${input.procedure.id}` }],
    ...(input.effective ? { effectiveDateTime: input.effective } : {}),
    ...(value === undefined ? {} : pain ? { valueInteger: value } : { valueQuantity: { value, unit: '°C', system: UCUM, code: 'Cel' } }),
    ...(input.timing ? { method: { coding: [coding(input.timing)] } } : {}),
  };
  if (!pain) {
    const site = `${input.side?.display ?? ''} ${input.site}`.trim();
    resource.bodySite = { ...(input.side ? { coding: [coding(input.side)] } : {}), ...(site ? { text: site } : {}) };
  }
  const fields: FieldMap = [
    ['Observation.value', 'm-value'],
    ['Observation.valueInteger', 'm-value'],
    ['Observation.valueQuantity', 'm-value'],
    ['Observation.effective', 'm-time'],
    ['Observation.effectiveDateTime', 'm-time'],
    ['Observation.method', 'm-timing'],
    ['Observation.bodySite', 'm-side'],
    ['Observation.partOf', 'm-timing'],
  ];
  return { resource, fields };
}

export const MEASUREMENT_RULES: Record<string, string> = {
  'sbf-pain-1': 'm-value',
  'sbf-temp-1': 'm-value',
  'sbf-obs-1': 'm-time',
  'sbf-lat-2': 'm-side',
  'sbf-timing-1': 'm-timing',
};

/** Complication choices: Horner's syndrome is the domain notes' code; the others are plain ICD-10-CM codes. */
export const COMPLICATIONS = [
  { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'G90.2', display: "Horner's syndrome" },
  { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I95.9', display: 'Hypotension' },
  { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'R55', display: 'Syncope and collapse' },
];

