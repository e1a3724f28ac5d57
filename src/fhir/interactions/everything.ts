import type { Bundle } from '@medplum/fhirtypes';
import { badRequest, gone, notFound } from '../../common/errors';
import { MAX_COUNT } from '../../search/parse';
import { parseInstant } from '../params';
import { storedBundleResponse, type StoredEntry } from '../bundle-json';
import type { FhirHandler } from '../types';

/**
 * What `$everything` returns, in this order: the patient, their compartment among the clinical types
 * (orders, procedures, outcomes), then the practitioners, roles, organizations and locations those
 * point at. Each section is read by keyset over ids, so a page is one or two short queries.
 */
const SECTIONS: { type: string; mode: 'match' | 'include' }[] = [
  { type: 'Patient', mode: 'match' },
  { type: 'ServiceRequest', mode: 'match' },
  { type: 'Procedure', mode: 'match' },
  { type: 'Observation', mode: 'match' },
  { type: 'Practitioner', mode: 'include' },
  { type: 'PractitionerRole', mode: 'include' },
  { type: 'Organization', mode: 'include' },
  { type: 'Location', mode: 'include' },
];
const DEFAULT_COUNT = 100;
/** A FHIR id (R4 `id` datatype): anything else names no stored resource. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** `GET [base]/Patient/[id]/$everything` (`_count`, `_since`, paged with `next` links): a searchset Bundle. */
export const everything: FhirHandler = async (req, ctx) => {
  const { id } = req.params;
  const patient = FHIR_ID.test(id) ? await ctx.repo.read('Patient', id) : undefined;
  if (!patient) {
    throw notFound(`Patient/${id} is not known`);
  }
  if (patient.deleted) {
    throw gone(`Patient/${id} was deleted`);
  }
  const count = pageSize(single(req.query._count, '_count'));
  const sinceText = single(req.query._since, '_since');
  const since = sinceText === undefined ? undefined : parseInstant(sinceText, '_since');
  let [section, afterId] = parseCursor(single(req.query._cursor, '_cursor'));

  const entry: StoredEntry[] = [];
  let more = false;
  while (section < SECTIONS.length) {
    const { type, mode } = SECTIONS[section];
    const rows = await ctx.repo.scan({ resourceType: type, patients: { ids: [id] }, since, afterId, limit: count - entry.length + 1 });
    const take = rows.slice(0, count - entry.length);
    for (const row of take) {
      entry.push({ fullUrl: `${req.baseUrl}/${type}/${row.id}`, json: row.json, search: { mode } });
    }
    if (rows.length > take.length) {
      more = true;
      afterId = take.length > 0 ? take[take.length - 1].id : afterId;
      break;
    }
    section++;
    afterId = undefined;
    if (entry.length >= count) {
      // The page is full at a section boundary: there is more only if a later section has rows.
      more = await anyLeft(section);
      break;
    }
  }

  async function anyLeft(from: number): Promise<boolean> {
    for (let s = from; s < SECTIONS.length; s++) {
      if ((await ctx.repo.scan({ resourceType: SECTIONS[s].type, patients: { ids: [id] }, since, limit: 1 })).length > 0) {
        return true;
      }
    }
    return false;
  }

  const self = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) {
    if (typeof v === 'string' && k !== '_cursor') {
      self.set(k, v);
    }
  }
  const link = (cursor?: string): string => {
    const params = new URLSearchParams(self);
    if (cursor) {
      params.set('_cursor', cursor);
    }
    const qs = params.toString();
    return `${req.baseUrl}/Patient/${encodeURIComponent(id)}/$everything${qs ? `?${qs}` : ''}`;
  };
  const links: NonNullable<Bundle['link']> = [{ relation: 'self', url: link(single(req.query._cursor, '_cursor')) }];
  if (more) {
    links.push({ relation: 'next', url: link(encodeCursor(section, afterId)) });
  }
  return storedBundleResponse({ resourceType: 'Bundle', type: 'searchset', link: links }, entry);
};

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) {
    throw badRequest(`${name} may be given only once`, name);
  }
  return value;
}

function pageSize(text: string | undefined): number {
  if (text === undefined) {
    return DEFAULT_COUNT;
  }
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) {
    throw badRequest(`_count must be a positive integer, got '${text.slice(0, 40)}'`, '_count');
  }
  return Math.min(Number(text), MAX_COUNT);
}

function encodeCursor(section: number, afterId: string | undefined): string {
  return Buffer.from(JSON.stringify([section, afterId ?? null])).toString('base64url');
}

function parseCursor(text: string | undefined): [number, string | undefined] {
  if (text === undefined) {
    return [0, undefined];
  }
  try {
    const [section, afterId] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as [unknown, unknown];
    if (Number.isInteger(section) && (section as number) >= 0 && (afterId === null || typeof afterId === 'string')) {
      return [section as number, afterId ?? undefined];
    }
  } catch {
    // fall through
  }
  throw badRequest('_cursor is not a cursor of this $everything', '_cursor');
}
