import { grantsFor } from '../auth/scopes';
import { withOverrides } from '../store/repository-proxy';
import type { HistoryQuery, Repository } from '../store/types';
import { currentInteraction } from './context';
import type { AuditStore } from './audit-store';

/**
 * The repository the FHIR core sees: AuditEvents come from the audit table, everything else from
 * the resource tables; included resources are limited to what the client may read. A Proxy rather than a class so that methods added to Repository later pass
 * through untouched. (System history lists resource versions, so it leaves AuditEvents out.)
 */
export function withAuditEvents(inner: Repository, store: AuditStore): Repository {
  const overrides: Partial<Repository> = {
    read: (type, id) => (type === 'AuditEvent' ? store.read(id) : inner.read(type, id)),
    vread: (type, id, vid) =>
      type === 'AuditEvent' ? (vid === '1' ? store.read(id) : Promise.resolve(undefined)) : inner.vread(type, id, vid),
    history: (query: HistoryQuery) => (query.resourceType === 'AuditEvent' ? store.history(query) : inner.history(query)),
    search: (plan) => (plan.resourceType === 'AuditEvent' ? store.search(plan) : inner.search(plan)),
    count: (plan) => (plan.resourceType === 'AuditEvent' ? store.count(plan) : inner.count(plan)),
    transaction: (work, options) => inner.transaction((repo) => work(withAuditEvents(repo, store)), options),
    // What _include/_revinclude load: only types the client may read (the FHIR core asks no one).
    readMany: (refs) => {
      const auth = currentInteraction()?.auth;
      const grants = auth && grantsFor(auth.scopes);
      return inner.readMany(grants ? refs.filter((r) => grants.allows(r.resourceType, 'r')) : refs);
    },
  };
  return withOverrides(inner, overrides);
}
