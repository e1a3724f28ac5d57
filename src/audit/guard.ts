import { FhirError } from '../common/errors';
import { INTERNAL_AUTH, authorize } from '../auth/authorize';
import type { FhirRequest, FhirResponse, Interaction, InteractionGuard } from '../fhir/types';
import { buildAuditRecord, outcomeFor, type AuditAction, type AuditFacts } from './audit-event';
import type { AuditStore } from './audit-store';
import { interactionScope, type InteractionState } from './context';

const ACTIONS: Partial<Record<Interaction, AuditAction>> = {
  create: 'C',
  update: 'U',
  patch: 'U',
  delete: 'D',
  read: 'R',
  vread: 'R',
  'history-instance': 'R',
  'history-type': 'R',
  'history-system': 'R',
  'search-type': 'R',
  'search-system': 'R',
};
const METHOD_ACTIONS: Record<FhirRequest['method'], AuditAction> = { GET: 'R', POST: 'C', PUT: 'U', PATCH: 'U', DELETE: 'D' };
const QUERIES = new Set<Interaction>(['search-type', 'search-system', 'history-type', 'history-system', 'history-instance']);

/**
 * The guard around every interaction: scope check once the route is known, then one AuditEvent for
 * the outcome — success, failure or denial. Writes are recorded by the write hook inside their
 * transaction; everything else right after, before the response leaves. The public
 * CapabilityStatement is not audited: it holds no data.
 */
export function createAuditGuard(store: AuditStore): InteractionGuard {
  return {
    run(req: FhirRequest, dispatch): Promise<FhirResponse> {
      const parent = interactionScope.getStore();
      const state: InteractionState = {
        auth: req.auth ?? parent?.auth ?? INTERNAL_AUTH,
        remoteAddress: req.remoteAddress ?? parent?.remoteAddress,
        method: req.method,
        path: req.path,
        query: req.query,
        auditedInTx: false,
      };
      return interactionScope.run(state, async () => {
        let response: FhirResponse;
        try {
          response = await dispatch((interaction, matched) => {
            state.interaction = interaction;
            state.type = matched.params.type ?? literalType(interaction, matched.path);
            state.id = matched.params.id;
            authorize(state.auth, interaction, state.type, searchQuery(matched));
          });
        } catch (err) {
          if (state.interaction !== 'capabilities') {
            const status = err instanceof FhirError ? err.status : 500;
            const diagnostics = err instanceof FhirError ? err.outcome.issue?.[0]?.diagnostics : 'internal error';
            await settle(parent, store.record(buildAuditRecord(facts(state, outcomeFor(status), `HTTP ${status}: ${diagnostics ?? ''}`))));
          }
          throw err;
        }
        if (!state.auditedInTx && state.interaction !== 'capabilities') {
          await settle(parent, store.record(buildAuditRecord(facts(state, '0', undefined, response))));
        }
        return response;
      });
    },
  };
}

/**
 * A nested call (a Bundle entry) may run inside the Bundle's database transaction, which on SQLite
 * holds the only connection: waiting there for the audit batcher would deadlock. Its record is
 * queued and written as soon as the transaction ends; the top-level call's own record is queued
 * after it and awaited, so every nested record is stored before the response leaves (fail closed).
 */
async function settle(parent: InteractionState | undefined, recording: Promise<unknown>): Promise<void> {
  if (parent) {
    recording.catch(() => undefined);
    return;
  }
  await recording;
}

function facts(state: InteractionState, outcome: AuditFacts['outcome'], outcomeDesc?: string, response?: FhirResponse): AuditFacts {
  const { interaction } = state;
  const version = response?.version;
  return {
    auth: state.auth,
    remoteAddress: state.remoteAddress,
    kind: 'rest',
    interaction,
    action: interaction ? (ACTIONS[interaction] ?? 'E') : METHOD_ACTIONS[state.method],
    outcome,
    outcomeDesc,
    what: version
      ? `${version.resourceType}/${version.id}/_history/${version.versionId}`
      : state.type && state.id
        ? `${state.type}/${state.id}`
        : undefined,
    query: interaction && QUERIES.has(interaction) ? relativeUrl(state) : interaction ? undefined : relativeUrl(state),
  };
}

const TYPE_LEVEL = new Set<Interaction>(['read', 'vread', 'search-type', 'history-type', 'history-instance', 'create', 'update', 'patch', 'delete']);

/** Routes with a literal type (`StructureDefinition/:id`) are still about that one type; system-wide ones are not. */
function literalType(interaction: Interaction, path: string): string | undefined {
  const first = path.split('/')[0];
  return TYPE_LEVEL.has(interaction) && /^[A-Z][A-Za-z]{0,63}$/.test(first) ? first : undefined;
}

/** Search parameters from the URL and, for `POST _search`, the form body. */
function searchQuery(req: FhirRequest): FhirRequest['query'] {
  const body = req.body;
  const form = req.method === 'POST' && body !== null && typeof body === 'object' && !Array.isArray(body) && !('resourceType' in body);
  return form ? { ...req.query, ...(body as FhirRequest['query']) } : req.query;
}

/** The request as the client wrote it below the base, e.g. `Observation?code=…`: what a search asked for. */
function relativeUrl(state: InteractionState): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state.query)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      params.append(key, v);
    }
  }
  const qs = params.toString();
  return qs ? `${state.path}?${qs}` : state.path;
}
