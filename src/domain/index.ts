import type { Resource } from '@medplum/fhirtypes';
import type { WriteChange, WriteRules } from '../fhir/types';
import type { Repository } from '../store/types';
import { orderLifecycle } from './order-lifecycle';
import { outcomeEngine } from './outcome-engine';

/** Runs several rule sets as one, in order: every `before` may refuse; follow-ups are concatenated. */
export function combineRules(rules: readonly WriteRules[]): WriteRules {
  return {
    async before(repo: Repository, change: WriteChange): Promise<void> {
      for (const rule of rules) {
        await rule.before(repo, change);
      }
    },
    async after(repo: Repository, change: WriteChange): Promise<Resource[]> {
      const followUps: Resource[] = [];
      for (const rule of rules) {
        followUps.push(...(await rule.after(repo, change)));
      }
      return followUps;
    },
    followsUpCreates(resourceType: string): boolean {
      return rules.some((rule) => rule.followsUpCreates?.(resourceType) ?? true);
    },
  };
}

/** The block-specific rules of this server, run inside every write's transaction. */
export const domainRules: WriteRules = combineRules([orderLifecycle, outcomeEngine]);
