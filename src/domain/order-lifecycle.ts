import type { Procedure, Reference, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { fail } from '../common/errors';
import { parseSearch } from '../search/parse';
import type { WriteChange, WriteRules } from '../fhir/types';
import type { Repository } from '../store/types';

type OrderStatus = ServiceRequest['status'];

/**
 * The block order's state machine (README "Order lifecycle"). `unknown` may become anything: it is
 * what an EHR sends when it does not know.
 */
export const ORDER_TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  draft: ['active', 'on-hold', 'revoked', 'entered-in-error'],
  active: ['on-hold', 'completed', 'revoked', 'entered-in-error'],
  'on-hold': ['active', 'revoked', 'entered-in-error'],
  completed: ['entered-in-error'],
  revoked: ['entered-in-error'],
  'entered-in-error': [],
  unknown: ['draft', 'active', 'on-hold', 'completed', 'revoked', 'entered-in-error'],
};

/** Procedures still under way when their order is withdrawn: these follow the order. */
const OPEN_PROCEDURE: ReadonlySet<string> = new Set(['preparation', 'in-progress', 'on-hold']);

/**
 * Block order lifecycle, enforced in the write transaction of every ServiceRequest and Procedure:
 * - an order changes status only along ORDER_TRANSITIONS (else 409);
 * - a Procedure may be recorded only against an `active` order (an `on-hold` one is refused with a
 *   message saying so); updates of a procedure already recorded against an order the procedure
 *   itself completed remain possible;
 * - when a Procedure reaches `completed`, its active orders become `completed` (a new version);
 * - when an order is revoked or entered in error, its open procedures become `stopped` or
 *   `entered-in-error` with it.
 */
export const orderLifecycle: WriteRules = {
  async before(repo, change) {
    if (change.resourceType === 'ServiceRequest' && change.resource && change.previous) {
      checkTransition(change.previous as ServiceRequest, change.resource as ServiceRequest);
    }
    if (change.resourceType === 'Procedure' && change.resource) {
      await checkProcedureOrders(repo, change.resource as Procedure, change.previous as Procedure | undefined);
    }
  },

  async after(repo, change) {
    if (change.resourceType === 'Procedure') {
      return completeOrders(repo, change);
    }
    if (change.resourceType === 'ServiceRequest') {
      return cascadeWithdrawal(repo, change);
    }
    return [];
  },

  // A new order has no procedures to withdraw yet; a new procedure may complete its orders.
  followsUpCreates: (resourceType) => resourceType === 'Procedure',
};

function checkTransition(previous: ServiceRequest, next: ServiceRequest): void {
  if (previous.status === next.status) {
    return;
  }
  if (!ORDER_TRANSITIONS[previous.status]?.includes(next.status)) {
    const allowed = ORDER_TRANSITIONS[previous.status]?.join(', ') || 'none';
    throw fail(
      409,
      'business-rule',
      `A block order cannot go from '${previous.status}' to '${next.status}' (allowed from '${previous.status}': ${allowed})`,
      'ServiceRequest.status',
    );
  }
}

async function checkProcedureOrders(repo: Repository, procedure: Procedure, previous: Procedure | undefined): Promise<void> {
  // Withdrawing a procedure (it follows its revoked order, or was a mistake) is always possible.
  if (procedure.status === 'entered-in-error' || procedure.status === 'stopped' || procedure.status === 'not-done') {
    return;
  }
  const before = new Set((previous?.basedOn ?? []).map((r) => r.reference));
  for (const [index, ref] of (procedure.basedOn ?? []).entries()) {
    const order = await readOrder(repo, ref);
    if (!order || order.status === 'active') {
      continue;
    }
    // An update of a procedure that was already recorded against this order (and may have completed it).
    if (before.has(ref.reference) && (order.status === 'completed' || order.status === 'on-hold')) {
      continue;
    }
    const why =
      order.status === 'on-hold'
        ? 'is on hold: take it off hold (status active) before recording the block'
        : `has status '${order.status}': a block can be recorded only against an active order`;
    throw fail(409, 'business-rule', `${ref.reference} ${why}`, `Procedure.basedOn[${index}]`);
  }
}

async function completeOrders(repo: Repository, change: WriteChange): Promise<Resource[]> {
  const procedure = change.resource as Procedure | undefined;
  const wasCompleted = (change.previous as Procedure | undefined)?.status === 'completed';
  if (!procedure || procedure.status !== 'completed' || wasCompleted) {
    return [];
  }
  const updates: Resource[] = [];
  for (const ref of procedure.basedOn ?? []) {
    const order = await readOrder(repo, ref);
    if (order?.status === 'active') {
      updates.push({ ...withoutServerMeta(order), status: 'completed' });
    }
  }
  return updates;
}

async function cascadeWithdrawal(repo: Repository, change: WriteChange): Promise<Resource[]> {
  const order = change.resource as ServiceRequest | undefined;
  const previous = change.previous as ServiceRequest | undefined;
  if (!order || previous?.status === order.status || (order.status !== 'revoked' && order.status !== 'entered-in-error')) {
    return [];
  }
  const plan = parseSearch('Procedure', { 'based-on': `ServiceRequest/${order.id}` }, { strict: true, baseUrl: '' });
  const page = await repo.search({ ...plan, count: 1000 });
  const status = order.status === 'revoked' ? 'stopped' : 'entered-in-error';
  return page.rows
    .map((row) => JSON.parse(row.json) as Procedure)
    .filter((p) => OPEN_PROCEDURE.has(p.status))
    .map((p) => ({ ...withoutServerMeta(p), status }) as Procedure);
}

async function readOrder(repo: Repository, ref: Reference): Promise<ServiceRequest | undefined> {
  const match = /^ServiceRequest\/([A-Za-z0-9\-.]{1,64})$/.exec(ref.reference ?? '');
  if (!match) {
    return undefined;
  }
  const version = await repo.read('ServiceRequest', match[1]);
  return version?.json && !version.deleted ? (JSON.parse(version.json) as ServiceRequest) : undefined;
}

function withoutServerMeta<T extends Resource>(resource: T): T {
  const { meta, ...rest } = resource;
  const { versionId: _v, lastUpdated: _l, ...kept } = meta ?? {};
  return (Object.keys(kept).length > 0 ? { ...rest, meta: kept } : rest) as T;
}
