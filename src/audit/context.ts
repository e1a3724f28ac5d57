import { AsyncLocalStorage } from 'node:async_hooks';
import type { FhirRequest, Interaction, RequestAuth } from '../fhir/types';

/** What the guard knows about the interaction in progress; write hooks read it (they get no request). */
export interface InteractionState {
  auth: RequestAuth;
  remoteAddress?: string;
  method: FhirRequest['method'];
  path: string;
  query: FhirRequest['query'];
  /** Set once the router has matched a route. */
  interaction?: Interaction;
  type?: string;
  id?: string;
  /** True when a write hook recorded this interaction inside the write's own transaction. */
  auditedInTx: boolean;
}

/**
 * Carries the interaction across awaits into write hooks and nested `router.handle` calls (bundle
 * entries), so an entry without `auth` inherits its bundle's client instead of running unchecked.
 */
export const interactionScope = new AsyncLocalStorage<InteractionState>();

export function currentInteraction(): InteractionState | undefined {
  return interactionScope.getStore();
}
