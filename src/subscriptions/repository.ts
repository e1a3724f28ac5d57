import type { Resource, Subscription } from '@medplum/fhirtypes';
import { withOverrides } from '../store/repository-proxy';
import type { Repository } from '../store/types';
import { checkSubscription } from './model';

/**
 * The repository the FHIR core sees, with Subscription writes checked for what this server can
 * deliver and `requested` turned into `active`. At the repository rather than in a route, so every
 * path that writes — REST, bundle entries, conditional writes, PATCH — gets the same rule. A Proxy,
 * like the audit wrapper, so Repository methods added later pass through untouched.
 */
export function withSubscriptionChecks(inner: Repository, baseUrl: string): Repository {
  const checked = <T extends Resource>(resource: T): T =>
    resource.resourceType === 'Subscription' ? (checkSubscription(resource as Subscription, baseUrl) as T) : resource;
  const overrides: Partial<Repository> = {
    create: (resource, options) => inner.create(checked(resource), options),
    update: (resource, options) => inner.update(checked(resource), options),
    transaction: (work, options) => inner.transaction((repo) => work(withSubscriptionChecks(repo, baseUrl)), options),
  };
  return withOverrides(inner, overrides);
}
