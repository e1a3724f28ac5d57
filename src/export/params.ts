import type { OperationOutcomeIssue, Parameters } from '@medplum/fhirtypes';
import { badRequest, issue } from '../common/errors';
import { parseInstant } from '../fhir/params';
import { SUPPORTED_RESOURCE_TYPES } from '../fhir/resource-types';
import { parseSearch } from '../search/parse';
import { COMPARTMENT_REFERENCED_TYPES, PATIENT_COMPARTMENT } from '../store/export-sql';
import type { PatientSet } from '../store/types';

export type ExportKind = 'system' | 'patient' | 'group';

/** A kick-off request, parsed and checked: what the job stores and runs. */
export interface ExportParams {
  /** In export (and import) order: referenced types before the types that point at them. */
  types: string[];
  since?: string;
  /** Search queries per type (`_typeFilter`); a resource is exported if it matches any of its type's. */
  typeFilters: Record<string, string[]>;
  patients?: PatientSet;
  /** To resolve absolute references in `_typeFilter` queries as the kick-off request did. */
  baseUrl: string;
  /** Parameters ignored under `Prefer: handling=lenient`, reported in the manifest's `error`. */
  warnings: OperationOutcomeIssue[];
}

/**
 * Export order: what is referenced comes first, so that importing the files in this order never
 * meets a reference to a resource not loaded yet (except between resources of the same type).
 */
const EXPORT_ORDER = [
  'Organization',
  'Location',
  'Practitioner',
  'PractitionerRole',
  'Patient',
  'Group',
  'ServiceRequest',
  'Procedure',
  'Observation',
  'Provenance',
];
/** AuditEvents live in the audit trail, not in the resource tables: they are not exported. */
export const EXPORTABLE_TYPES: readonly string[] = EXPORT_ORDER.filter((t) =>
  (SUPPORTED_RESOURCE_TYPES as readonly string[]).includes(t),
);
export const PATIENT_EXPORT_TYPES: readonly string[] = EXPORTABLE_TYPES.filter(
  (t) => t === 'Patient' || PATIENT_COMPARTMENT[t] !== undefined || COMPARTMENT_REFERENCED_TYPES.includes(t),
);

const OUTPUT_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
/** Result parameters have no meaning in a filter (the IG forbids them). */
const FILTER_FORBIDDEN = /^_(include|revinclude|sort|count|summary|elements|total|cursor|contained|containedType)(:|$)/;
const IGNORED = new Set(['_format', '_pretty']);

/** Kick-off parameters from the query (GET) or a `Parameters` body (POST), as name → values. */
export function kickoffInput(
  query: Record<string, string | string[] | undefined>,
  body: unknown,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (name: string, value: string): void => {
    (out[name] ??= []).push(value);
  };
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      add(name, v);
    }
  }
  if (body !== undefined) {
    const params = body as Parameters;
    if (params?.resourceType !== 'Parameters') {
      throw badRequest('The body of a $export POST must be a Parameters resource');
    }
    for (const p of params.parameter ?? []) {
      const value = p.valueString ?? p.valueInstant ?? p.valueCode ?? p.valueDateTime ?? p.valueReference?.reference;
      if (typeof value !== 'string') {
        throw badRequest(`$export parameter '${p.name}' needs a value (valueString, valueInstant or valueReference)`);
      }
      add(p.name ?? '', value);
    }
  }
  return out;
}

/**
 * Checks a kick-off request (Bulk Data IG v2): unknown or unsupported parameters and types are a 400,
 * or, under `Prefer: handling=lenient`, ignored with a warning.
 */
export function parseExportParams(
  kind: ExportKind,
  input: Record<string, string[]>,
  options: { lenient: boolean; baseUrl: string; group?: string },
): ExportParams {
  const warnings: OperationOutcomeIssue[] = [];
  const reject = (msg: string, name: string): void => {
    if (!options.lenient) {
      throw badRequest(msg, name);
    }
    warnings.push(issue('not-supported', `${msg}; ignored (Prefer: handling=lenient)`, name, 'warning'));
  };
  const allowed = kind === 'system' ? EXPORTABLE_TYPES : PATIENT_EXPORT_TYPES;
  let types = [...allowed];
  let since: string | undefined;
  const typeFilters: Record<string, string[]> = {};
  let patientIds: string[] | undefined;

  for (const [name, values] of Object.entries(input)) {
    if (IGNORED.has(name)) {
      continue;
    }
    switch (name) {
      case '_outputFormat':
        for (const v of values) {
          if (!OUTPUT_FORMATS.has(v.trim().toLowerCase())) {
            throw badRequest(`_outputFormat '${v.slice(0, 60)}' is not supported: use application/fhir+ndjson`, name);
          }
        }
        break;
      case '_since':
        if (values.length > 1) {
          throw badRequest('_since may be given only once', name);
        }
        since = parseInstant(values[0], '_since');
        break;
      case '_type': {
        const asked = values.flatMap((v) => v.split(',')).map((t) => t.trim()).filter(Boolean);
        for (const t of asked.filter((t) => !allowed.includes(t))) {
          reject(`_type '${t.slice(0, 60)}' cannot be exported here (exportable: ${allowed.join(', ')})`, name);
        }
        types = allowed.filter((t) => asked.includes(t));
        break;
      }
      case '_typeFilter':
        for (const filter of values.flatMap((v) => v.split(','))) {
          const q = filter.indexOf('?');
          const type = q > 0 ? filter.slice(0, q) : '';
          if (!allowed.includes(type)) {
            reject(`_typeFilter '${filter.slice(0, 60)}' must be [type]?[search query] with an exportable type`, name);
            continue;
          }
          const query = filter.slice(q + 1);
          checkFilter(type, query, options.baseUrl);
          (typeFilters[type] ??= []).push(query);
        }
        break;
      case 'patient':
        if (kind === 'system') {
          reject("'patient' applies to Patient and Group exports only", name);
          break;
        }
        patientIds = values.map((v) => {
          const m = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(v);
          if (!m) {
            throw badRequest(`patient '${v.slice(0, 60)}' must be a Patient reference`, name);
          }
          return m[1];
        });
        break;
      default:
        reject(`$export parameter '${name.slice(0, 60)}' is not supported by this server`, name);
    }
  }
  for (const type of Object.keys(typeFilters)) {
    if (!types.includes(type)) {
      reject(`_typeFilter for ${type}, which _type leaves out`, '_typeFilter');
      delete typeFilters[type];
    }
  }
  const patients: PatientSet | undefined =
    kind === 'system' ? undefined : patientIds ? { ids: patientIds } : options.group ? { group: options.group } : { all: true };
  if (patientIds && options.group) {
    // Members of the group among the listed patients: the Group scope filters the compartment,
    // the explicit ids narrow it; keep it simple and exact by requiring the narrower form.
    throw badRequest("'patient' cannot be combined with a Group export here: export Patient/$export with 'patient' instead", 'patient');
  }
  return { types, since, typeFilters, patients, baseUrl: options.baseUrl, warnings };
}

/** A filter must be a valid search of its type with no result parameters: checked at kick-off, not mid-job. */
function checkFilter(type: string, query: string, baseUrl: string): void {
  const record = queryRecord(query);
  for (const key of Object.keys(record)) {
    if (FILTER_FORBIDDEN.test(key)) {
      throw badRequest(`_typeFilter '${type}?${query.slice(0, 60)}': '${key}' is not allowed in a filter`, '_typeFilter');
    }
  }
  parseSearch(type, record, { strict: true, baseUrl });
}

/** `a=1&b=2&a=3` as the search parser takes it. */
export function queryRecord(query: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(query)) {
    const existing = out[key];
    out[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}
