import { expect } from 'chai';
import { buildProvenance, provenanceIndexRows } from '../../src/audit/hooks';
import { loadBaseDefinitions } from '../../src/definitions';
import { extractIndexRows } from '../../src/store/indexing/extract';
import type { IndexKind } from '../../src/store/indexing/rows';
import type { StoredVersion } from '../../src/store/types';

/** The audit trail's Provenance skips FHIRPath for its index rows: they must be what FHIRPath finds. */
describe('Provenance index rows', () => {
  before(() => loadBaseDefinitions());

  const version = (resourceType: string, id: string, versionId: string): StoredVersion => ({
    resourceType,
    id,
    versionId,
    lastUpdated: '2026-11-26T10:15:30.123Z',
    deleted: false,
    method: 'POST',
    json: '{}',
  });

  for (const [target, creates, auth] of [
    [version('Patient', '0192-a', '1'), true, { clientId: 'ehr-1', clientName: 'EHR One' }],
    [version('ServiceRequest', '0192-b', '3'), false, { clientId: 'physician-app' }],
    [version('Observation', 'x.y-z', '12'), true, { clientId: 'anonymous' }],
  ] as const) {
    it(`are the rows FHIRPath extracts, for a Provenance of ${target.resourceType}/${target.id}`, () => {
      const provenance = buildProvenance(target, creates, auth);
      const fast = provenanceIndexRows(provenance);
      const slow = extractIndexRows(provenance);
      for (const kind of Object.keys(slow) as IndexKind[]) {
        expect(fast[kind], kind).to.have.deep.members(slow[kind]);
      }
      expect(fast.reference.some((r) => r.param === 'target' && r.target_id === target.id)).to.equal(true);
    });
  }
});
