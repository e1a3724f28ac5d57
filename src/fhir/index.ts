import { buildCapabilityStatement, type ServerInfo } from './capabilities';
import { create } from './interactions/create';
import { remove } from './interactions/delete';
import { history } from './interactions/history';
import { read, vread } from './interactions/read';
import { search } from './interactions/search';
import { update } from './interactions/update';
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
    })
    .add({ method: 'GET', pattern: '_history', interaction: 'history-system', handler: history })
    .add({ method: 'GET', pattern: ':type/_history', interaction: 'history-type', handler: history })
    .add({ method: 'GET', pattern: ':type', interaction: 'search-type', handler: search })
    .add({ method: 'POST', pattern: ':type/_search', interaction: 'search-type', handler: search })
    .add({ method: 'POST', pattern: ':type', interaction: 'create', handler: create })
    .add({ method: 'GET', pattern: ':type/:id/_history', interaction: 'history-instance', handler: history })
    .add({ method: 'GET', pattern: ':type/:id/_history/:vid', interaction: 'vread', handler: vread })
    .add({ method: 'GET', pattern: ':type/:id', interaction: 'read', handler: read })
    .add({ method: 'PUT', pattern: ':type/:id', interaction: 'update', handler: update })
    .add({ method: 'DELETE', pattern: ':type/:id', interaction: 'delete', handler: remove });
  return router;
}
