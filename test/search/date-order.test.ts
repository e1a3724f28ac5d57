import { expect } from 'chai';
import type { Period, ServiceRequest } from '@medplum/fhirtypes';
import { dateRange, MAX_DATE, MIN_DATE, type DateRange } from '../../src/common/date-range';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, patient, practitioner } from '../support/fixtures';
import { fhirFetch, startTestServer, type TestServer } from '../support/server';

/**
 * Date-ordered search: without `_sort`, a search with a lower date bound is answered in date order
 * straight from the date index (src/store/search-sql.ts, dateScan). Every result is checked against
 * a brute-force evaluation of the same FHIR date semantics over what was stored.
 *
 * ServiceRequest `occurrence` takes every kind of date value: instants and partial dates, long and
 * open Periods, and several values per resource (Timing events).
 */

const ROUTINE = 'routine';
const URGENT = 'urgent';

/** When an order is to happen: a dateTime, Timing events, or a Period. */
type Scheduled = string | string[] | Period;

interface Stored {
  id: string;
  code: string;
  ranges: DateRange[];
}

interface Bundle {
  entry?: { resource: { id: string }; search: { mode: string } }[];
  link: { relation: string; url: string }[];
}

const range = (value: string): DateRange => dateRange(value)!;

function rangesOf(value: Scheduled): DateRange[] {
  if (typeof value === 'string') {
    return [range(value)];
  }
  if (Array.isArray(value)) {
    return [...new Set(value)].map(range);
  }
  return [{ low: value.start ? range(value.start).low : MIN_DATE, high: value.end ? range(value.end).high : MAX_DATE }];
}

let placers = 0;

function order(subject: string, requester: string, priority: string, value: Scheduled): ServiceRequest {
  return {
    ...blockOrder(subject, requester, `PLAC-DATES-${++placers}`),
    priority: priority as ServiceRequest['priority'],
    ...(typeof value === 'string' ? { occurrenceDateTime: value } : Array.isArray(value) ? { occurrenceTiming: { event: value } } : { occurrencePeriod: value }),
  };
}

/** FHIR date prefixes (search.html#prefix) over a stored range, as datePredicate implements them. */
function matches(prefix: string, q: DateRange, v: DateRange): boolean {
  switch (prefix) {
    case 'ge':
      return v.high >= q.low;
    case 'gt':
      return v.high > q.high;
    case 'le':
      return v.low <= q.high;
    case 'lt':
      return v.low < q.low;
    case 'eq':
      return v.low >= q.low && v.high <= q.high;
    case 'sa':
      return v.low > q.high;
    case 'eb':
      return v.high < q.low;
    default:
      throw new Error(prefix);
  }
}

/**
 * The expected result of `date=…&date=…[&code=…]`: the resources for which every date condition holds
 * for some value, ordered by the start of their first value matching the first lower-bound condition
 * (ge, gt, eq, sa), then by id.
 */
function bruteForce(stored: Stored[], dates: string[], code?: string): string[] {
  const conditions = dates.map((d) => ({ prefix: d.slice(0, 2), q: range(d.slice(2)) }));
  const lower = conditions.find((c) => ['ge', 'gt', 'eq', 'sa'].includes(c.prefix))!;
  const keyed = stored
    .filter((s) => (code === undefined || s.code === code) && conditions.every((c) => s.ranges.some((v) => matches(c.prefix, c.q, v))))
    .map((s) => ({ id: s.id, key: s.ranges.filter((v) => matches(lower.prefix, lower.q, v)).map((v) => v.low).sort()[0] }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return keyed.map((k) => k.id);
}

for (const kind of testDatabaseKinds()) {
  describe(`Date-ordered search (${kind.name})`, () => {
    let server: TestServer;
    let subject: string;
    let doctor: string;
    let stored: Stored[];

    const put = async (id: string, code: string, scheduled: Scheduled): Promise<Stored> => {
      const res = await server.fhir(`/ServiceRequest/${id}`, { method: 'PUT', body: { ...order(subject, doctor, code, scheduled), id } });
      expect(res.status, res.text).to.be.oneOf([200, 201]);
      return { id, code, ranges: rangesOf(scheduled) };
    };

    const matchIds = (bundle: Bundle): string[] => (bundle.entry ?? []).filter((e) => e.search.mode === 'match').map((e) => e.resource.id);
    const link = (bundle: Bundle, relation: string): string | undefined => bundle.link.find((l) => l.relation === relation)?.url;
    const get = async (url: string): Promise<Bundle> => {
      const res = await fhirFetch(url);
      expect(res.status, `${url}: ${res.text}`).to.equal(200);
      return res.body as Bundle;
    };

    /** Every page forward by `next`, then back from the last page by `previous`: both must list the matches once, in order. */
    const pageThrough = async (query: string, count: number): Promise<string[]> => {
      const pages: string[][] = [];
      let url: string | undefined = `${server.url}/fhir/ServiceRequest?${query}&_count=${count}`;
      let last: Bundle | undefined;
      while (url) {
        last = await get(url);
        pages.push(matchIds(last));
        url = link(last, 'next');
        expect(pages.length, query).to.be.below(100);
      }
      const forward = pages.flat();
      const backward: string[][] = [];
      url = link(last!, 'previous');
      while (url) {
        const page = await get(url);
        backward.unshift(matchIds(page));
        url = link(page, 'previous');
        expect(backward.length, query).to.be.below(100);
      }
      expect([...backward.flat(), ...pages[pages.length - 1]], `${query} backwards`).to.deep.equal(forward);
      return forward;
    };

    const check = async (dates: string[], code?: string, count = 3): Promise<string[]> => {
      const query = [...dates.map((d) => `occurrence=${d}`), ...(code ? [`priority=${code}`] : [])].join('&');
      const expected = bruteForce(stored, dates, code);
      const found = await pageThrough(query, count);
      expect(found, query).to.deep.equal(expected);
      // Unpaged, the same order.
      expect(matchIds(await get(`${server.url}/fhir/ServiceRequest?${query}&_count=1000`)), query).to.deep.equal(expected);
      return found;
    };

    before(async () => {
      server = await startTestServer(kind);
      subject = (await server.fhir('/Patient', { method: 'POST', body: patient('Dates') })).body.id;
      doctor = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
      stored = [
        await put('sra01', ROUTINE, '2025-05-31T23:59:59Z'),
        await put('sra02', ROUTINE, '2025-06-01T00:00:00Z'),
        await put('sra03', URGENT, '2025-06-01T00:00:00Z'),
        await put('sra04', ROUTINE, '2025-06-03'),
        await put('sra05', URGENT, '2025-06'),
        await put('sra06', ROUTINE, '2025'),
        // Long values that start well before the window: found only because the scan starts `span` early.
        await put('sra07', ROUTINE, { start: '2024-03-01', end: '2025-06-02T12:00:00Z' }),
        await put('sra08', URGENT, { start: '2025-06-07T12:00:00Z' }),
        await put('sra09', ROUTINE, { end: '2025-06-01T08:00:00Z' }),
        // Two values in the window: one result. Two equal values: one index row.
        await put('sra10', ROUTINE, ['2025-06-05T10:00:00Z', '2025-06-02T10:00:00Z']),
        await put('sra11', URGENT, ['2025-06-04T08:00:00Z', '2025-06-04T08:00:00Z', '2025-06-04T08:00:00Z']),
        await put('sra12', ROUTINE, ['2025-06-01T12:00:00Z', '2025-05', '2025-06-02']),
        // Values before and after the window, none in it: `ge…&lt…` holds value by value (each condition on its own).
        await put('sra13', ROUTINE, ['2025-05-20T10:00:00Z', '2025-06-20T10:00:00Z']),
        await put('sra14', ROUTINE, '2025-06-08T00:00:00Z'),
        await put('sra15', URGENT, '2025-06-10'),
        await put('sra16', ROUTINE, { start: '2025-06-05', end: '2025-06-06' }),
        await put('sra17', URGENT, '2025-07-01T00:00:00Z'),
        await put('sra18', ROUTINE, '2024-12-31T10:00:00Z'),
      ];
      // Ties: equal instants order by id.
      for (let i = 0; i < 8; i++) {
        stored.push(await put(`srb0${i}`, i % 2 === 0 ? ROUTINE : URGENT, `2025-06-0${2 + (i % 4)}T0${i % 3}:30:00Z`));
      }
    });
    after(async () => server?.stop());

    it('returns the matches of a window in date order, partial dates and long periods included, each once', async () => {
      const found = await check(['ge2025-06-01', 'lt2025-06-08']);
      expect(found).to.include.members(['sra04', 'sra05', 'sra06', 'sra07', 'sra08', 'sra09', 'sra10', 'sra11', 'sra12', 'sra13']);
      expect(found).to.not.include('sra01');
      expect(found).to.not.include('sra14');
      expect(new Set(found).size).to.equal(found.length);
    });

    it('honours every lower-bound prefix, with and without an upper bound and other conditions', async () => {
      for (const dates of [
        ['ge2025-06'],
        ['gt2025-06-03'],
        ['eq2025-06'],
        ['sa2025-06-01'],
        ['gt2025-06-03', 'le2025-06-05'],
        ['sa2025-06-01', 'eb2025-07-01'],
        ['lt2025-06-08', 'ge2025-06-01'],
        ['ge2025-06-01', 'eq2025-06'],
        ['eq2025-06', 'ge2025-06-03'],
        ['ge2025-06-02T00:00:00Z', 'lt2025-06-04T12:00Z'],
        ['ge2025', 'lt2026'],
        ['ge2030-01-01'],
      ]) {
        await check(dates);
        // A selective code drives (candidates by IN, each one's date key computed); same order.
        await check(dates, ROUTINE, 2);
      }
      // Only the system: not selective, probed per scanned row.
      const res = await get(`${server.url}/fhir/ServiceRequest?occurrence=ge2025-06-01&occurrence=lt2025-06-08&code=http://www.ama-assn.org/go/cpt|&_count=1000`);
      expect(matchIds(res)).to.deep.equal(bruteForce(stored, ['ge2025-06-01', 'lt2025-06-08']));
    });

    it('keeps _sort as it was and refuses a cursor of another order', async () => {
      const sorted = matchIds(await get(`${server.url}/fhir/ServiceRequest?occurrence=ge2025-06-01&_sort=-occurrence&_count=1000`));
      expect(sorted).to.have.members(bruteForce(stored, ['ge2025-06-01']));
      expect(sorted[0]).to.equal('sra08'); // open-ended: the latest end
      const next = link(await get(`${server.url}/fhir/ServiceRequest?occurrence=ge2025-06-01&_count=2`), 'next')!;
      // A date-order cursor carries (date, id); a search in another order refuses it.
      const other = await fhirFetch(next.replace('occurrence=ge2025-06-01', 'occurrence=ge2025-06-01&_sort=occurrence,status'));
      expect(other.status).to.equal(400);
    });
  });

  describe(`Date-ordered search while values get longer (${kind.name})`, () => {
    let server: TestServer;
    let subject: string;
    let doctor: string;

    // A fresh database per test: the bounds only ever grow.
    beforeEach(async () => {
      server = await startTestServer(kind);
      subject = (await server.fhir('/Patient', { method: 'POST', body: patient('Spans') })).body.id;
      doctor = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
    });
    afterEach(async () => server?.stop());

    const post = async (scheduled: Scheduled): Promise<string> => {
      const res = await server.fhir('/ServiceRequest', { method: 'POST', body: order(subject, doctor, ROUTINE, scheduled) });
      expect(res.status, res.text).to.equal(201);
      return res.body.id;
    };
    const find = async (query: string): Promise<string[]> => {
      const res = await server.fhir(`/ServiceRequest?${query}`);
      expect(res.status, res.text).to.equal(200);
      return ((res.body as Bundle).entry ?? []).map((e) => e.resource.id);
    };

    it('finds a value longer than any before it, stored after the first search', async () => {
      const inWindow = await post('2025-06-03T10:00:00Z');
      const window = 'occurrence=ge2025-06-01&occurrence=lt2025-06-08';
      expect(await find(window)).to.deep.equal([inWindow]);
      const month = await post('2025-05');
      expect(await find(window)).to.deep.equal([inWindow]);
      expect(await find('occurrence=ge2025-05-31')).to.deep.equal([month, inWindow]);
      const long = await post({ start: '2023-01-01', end: '2025-06-01T00:00:00Z' });
      expect(await find(window)).to.deep.equal([long, inWindow]);
      const open = await post({ start: '1990-01-01' });
      expect(await find(window)).to.deep.equal([open, long, inWindow]);
      expect(await find(`${window}&_count=1`)).to.deep.equal([open]);
    });

    it('is not misled by a longer value whose transaction rolled back', async () => {
      const window = 'occurrence=ge2026-01-01&occurrence=lt2026-01-08';
      expect(await find(window)).to.deep.equal([]);
      // 2010…2026-01-02 and 2011…2026-01-02 are written, then rolled back: the transaction's GET fails.
      // (The second write reads the first one's bound, uncommitted, inside the transaction.)
      const failed = await server.fhir('', {
        method: 'POST',
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { resource: order(subject, doctor, ROUTINE, { start: '2010-01-01', end: '2026-01-02' }), request: { method: 'POST', url: 'ServiceRequest' } },
            { resource: order(subject, doctor, ROUTINE, { start: '2011-01-01', end: '2026-01-02' }), request: { method: 'POST', url: 'ServiceRequest' } },
            { request: { method: 'GET', url: 'ServiceRequest/does-not-exist' } },
          ],
        },
      });
      expect(failed.status, failed.text).to.equal(404);
      expect(await find(window)).to.deep.equal([]);
      // Longer than every stored value, shorter than the rolled-back one: must still raise the bound.
      const y2012 = await post({ start: '2012-01-01', end: '2026-01-01T10:00:00Z' });
      expect(await find(window)).to.deep.equal([y2012]);
    });

    it('ends a bounded scan late enough for a resource whose values lie on both sides of the window', async () => {
      const window = 'occurrence=ge2027-03-01&occurrence=lt2027-03-02';
      const both = await post(['2027-01-01T10:00:00Z', '2027-06-01T10:00:00Z']);
      expect(await find(window)).to.deep.equal([both]);
      const wider = await post(['2027-02-01T10:00:00Z', '2028-06-01T10:00:00Z']);
      expect(await find(window)).to.deep.equal([both, wider]);
    });
  });
}
