import { buildCapabilityStatement, type ServerInfo } from './capabilities';
import { bundleHandler } from './interactions/bundle';
import { blockSummaryOperation } from './interactions/block-summary';
import { create } from './interactions/create';
import { everything } from './interactions/everything';
import { exportCancel, exportFile, exportKickoff, exportStatus } from './interactions/export';
import { conditionalRemove, remove } from './interactions/delete';
import { history } from './interactions/history';
import { read, vread } from './interactions/read';
import { outcomeOperation } from './interactions/outcome';
import { search } from './interactions/search';
import { patch } from './interactions/patch';
import { conditionalUpdate, update } from './interactions/update';
import { validateOperation } from './interactions/validate';
import { conformanceRead, conformanceSearch, CONFORMANCE_TYPES } from './interactions/conformance';
import { FhirRouter } from './router';

export { FhirRouter } from './router';
export type { FhirContext, FhirRequest, FhirResponse, HttpMethod } from './types';

/**
 * The FHIR core's route table (the order matters: literals before parameters).
 * Everything the server can do is registered here, and the CapabilityStatement is derived from it.
 */
export function createFhirRouter(info: ServerInfo): FhirRouter {
  const router = new FhirRouter();
  router
    .add({
      method: 'GET',
      pattern: 'metadata',
      interaction: 'capabilities',
      handler: async (req) => ({ status: 200, body: buildCapabilityStatement(router, info, req.baseUrl) }),
    });
  // The profile package, read-only from memory: literal types, so before the `:type` routes.
  for (const type of CONFORMANCE_TYPES) {
    router
      .add({ method: 'GET', pattern: type, interaction: 'search-type', handler: conformanceSearch(type) })
      .add({ method: 'GET', pattern: `${type}/:id`, interaction: 'read', handler: conformanceRead(type) });
  }
  // Bulk Data export and $everything (src/export): literal paths, so before the `:type` routes. The
  // interaction is what authorization checks (search-system: read access to every type); `operation`
  // keeps them out of the CapabilityStatement's interactions.
  const exportRoute = { interaction: 'search-system', operation: 'export' } as const;
  for (const method of ['GET', 'POST'] as const) {
    router
      .add({ method, pattern: '$export', ...exportRoute, handler: exportKickoff('system') })
      .add({ method, pattern: 'Patient/$export', ...exportRoute, handler: exportKickoff('patient') })
      .add({ method, pattern: 'Group/:id/$export', ...exportRoute, handler: exportKickoff('group') });
  }
  router
    .add({ method: 'GET', pattern: '$export-status/:job', ...exportRoute, operation: 'export-status', handler: exportStatus })
    .add({ method: 'DELETE', pattern: '$export-status/:job', ...exportRoute, operation: 'export-status', handler: exportCancel })
    .add({ method: 'GET', pattern: '$export-file/:job/:file', ...exportRoute, operation: 'export-file', handler: exportFile })
    .add({ method: 'GET', pattern: 'Patient/:id/$everything', interaction: 'search-system', operation: 'everything', handler: everything });
  // Block outcomes (docs/OUTCOMES.md): they read procedures and observations together, so they need
  // read access to every type, like $everything.
  router
    .add({ method: 'GET', pattern: 'Procedure/:id/$outcome', interaction: 'search-system', operation: 'outcome', handler: outcomeOperation })
    .add({ method: 'GET', pattern: 'Patient/:id/$block-summary', interaction: 'search-system', operation: 'block-summary', handler: blockSummaryOperation });
  router
    .add({ method: 'POST', pattern: ':type/$validate', interaction: 'read', operation: 'validate', handler: validateOperation })
    .add({ method: 'POST', pattern: ':type/:id/$validate', interaction: 'read', operation: 'validate', handler: validateOperation })
    // One handler serves both Bundle types; the second route is listed for the CapabilityStatement only.
    .add({ method: 'POST', pattern: '', interaction: 'transaction', handler: bundleHandler(router) })
    .add({ method: 'POST', pattern: '', interaction: 'batch', handler: bundleHandler(router) })
    .add({ method: 'GET', pattern: '_history', interaction: 'history-system', handler: history })
    .add({ method: 'GET', pattern: ':type/_history', interaction: 'history-type', handler: history })
    .add({ method: 'GET', pattern: ':type', interaction: 'search-type', handler: search })
    .add({ method: 'POST', pattern: ':type/_search', interaction: 'search-type', handler: search })
    .add({ method: 'POST', pattern: ':type', interaction: 'create', handler: create })
    .add({ method: 'GET', pattern: ':type/:id/_history', interaction: 'history-instance', handler: history })
    .add({ method: 'GET', pattern: ':type/:id/_history/:vid', interaction: 'vread', handler: vread })
    .add({ method: 'GET', pattern: ':type/:id', interaction: 'read', handler: read })
    .add({ method: 'PUT', pattern: ':type', interaction: 'update', handler: conditionalUpdate })
    .add({ method: 'DELETE', pattern: ':type', interaction: 'delete', handler: conditionalRemove })
    .add({ method: 'PUT', pattern: ':type/:id', interaction: 'update', handler: update })
    .add({ method: 'PATCH', pattern: ':type/:id', interaction: 'patch', handler: patch })
    .add({ method: 'DELETE', pattern: ':type/:id', interaction: 'delete', handler: remove });
  return router;
}
