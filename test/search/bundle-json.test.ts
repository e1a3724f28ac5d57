import { expect } from 'chai';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { storedBundleResponse, type StoredEntry } from '../../src/fhir/bundle-json';

/** Bundles of stored resources are written around the stored JSON: the text must be JSON.stringify's. */
describe('Bundles written around stored JSON', () => {
  const patient: Resource = { resourceType: 'Patient', id: 'p1', meta: { versionId: '2', lastUpdated: '2026-11-26T10:00:00.000Z' }, name: [{ family: 'Ünïcode "quoted"' }] };
  const order: Resource = { resourceType: 'ServiceRequest', id: 'o1', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' } } as Resource;

  const cases: [string, Omit<Bundle, 'entry'>, BundleEntry[]][] = [
    ['a searchset with matches, an include and an outcome', { resourceType: 'Bundle', type: 'searchset', total: 3, link: [{ relation: 'self', url: 'http://x/fhir/ServiceRequest?a=1' }] }, [
      { fullUrl: 'http://x/fhir/ServiceRequest/o1', resource: order, search: { mode: 'match' } },
      { fullUrl: 'http://x/fhir/Patient/p1', resource: patient, search: { mode: 'include' } },
      { resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'not-supported', diagnostics: 'bogus' }] }, search: { mode: 'outcome' } },
    ]],
    ['a history with a deletion (no resource)', { resourceType: 'Bundle', type: 'history', total: 2, link: [{ relation: 'self', url: 'http://x/fhir/_history' }] }, [
      { fullUrl: 'http://x/fhir/Patient/p1', resource: patient, request: { method: 'PUT', url: 'Patient/p1' }, response: { status: '200 OK', etag: 'W/"2"' } },
      { fullUrl: 'http://x/fhir/Patient/p2', request: { method: 'DELETE', url: 'Patient/p2' }, response: { status: '204 No Content', etag: 'W/"3"' } },
    ]],
    ['an empty searchset (no entry array)', { resourceType: 'Bundle', type: 'searchset', total: 0 }, []],
  ];
  for (const [name, head, entries] of cases) {
    it(name, () => {
      const stored: StoredEntry[] = entries.map(({ resource, ...rest }) => ({ ...rest, json: resource && JSON.stringify(resource) }));
      const response = storedBundleResponse(head, stored);
      const expected: Bundle = { ...head, entry: entries.length > 0 ? entries : undefined };
      expect(response.json).to.equal(JSON.stringify(expected));
      expect(response.body).to.deep.equal(JSON.parse(JSON.stringify(expected)));
    });
  }
});
