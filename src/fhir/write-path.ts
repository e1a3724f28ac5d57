import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { FhirError, fail, notFound, outcome } from '../common/errors';
import { checkLinkedRules } from '../profiles/linked-rules';
import { profileRegistry } from '../profiles/registry';
import type { Repository, RequiredReference, StoredVersion, UpdateResult } from '../store/types';
import { validateForWrite, type ValidatedResource } from '../validation/pipeline';
import type { FhirContext, WriteChange } from './types';

/** Follow-up writes may cause follow-ups themselves; this bounds the chain. */
const MAX_FOLLOW_UP_DEPTH = 3;

/**
 * The write path every interaction shares, inside the caller's transaction (`repo` is bound to it):
 * domain rules before, the repository write, domain rules after, and their follow-up updates through
 * this same path (validated like any other write). Nothing stores a resource any other way.
 */
export async function storeCreate(
  ctx: FhirContext,
  repo: Repository,
  valid: ValidatedResource,
  id?: string,
): Promise<StoredVersion> {
  const resource = valid.resource;
  const change: WriteChange = { resourceType: resource.resourceType, id: id ?? '', resource, previous: undefined };
  await ctx.rules?.before(repo, change);
  const version = await repo.create(resource, { references: references(ctx, valid), id, indexRows: valid.indexRows });
  // After the write (references checked first); a failure rolls the transaction back.
  await checkLinkedProfileRules(repo, resource);
  await followUp(ctx, repo, { ...change, id: version.id, resource: parse(version) }, 0);
  return version;
}

export async function storeUpdate(
  ctx: FhirContext,
  repo: Repository,
  valid: ValidatedResource,
  ifMatch: string | undefined,
  depth = 0,
): Promise<UpdateResult> {
  const resource = valid.resource as Resource & { id: string };
  const previous = await repo.readForUpdate(resource.resourceType, resource.id);
  const change: WriteChange = {
    resourceType: resource.resourceType,
    id: resource.id,
    resource,
    previous: previous && !previous.deleted ? parse(previous) : undefined,
  };
  await ctx.rules?.before(repo, change);
  const result = await repo.update(resource, {
    ifMatch,
    references: references(ctx, valid),
    current: previous ?? null,
    indexRows: valid.indexRows,
  });
  if (result.changed) {
    await checkLinkedProfileRules(repo, resource);
    await followUp(ctx, repo, { ...change, resource: parse(result.version) }, depth);
  }
  return result;
}

export async function storeDelete(
  ctx: FhirContext,
  repo: Repository,
  resourceType: string,
  id: string,
  ifMatch: string | undefined,
): Promise<StoredVersion> {
  const previous = await repo.readForUpdate(resourceType, id);
  if (!previous) {
    throw notFound(`${resourceType}/${id} not found`);
  }
  const change: WriteChange = {
    resourceType,
    id,
    resource: undefined,
    previous: previous.deleted ? undefined : parse(previous),
  };
  if (!previous.deleted) {
    await ctx.rules?.before(repo, change);
  }
  const deletion = (await repo.delete(resourceType, id, { ifMatch, current: previous }))!;
  if (!previous.deleted) {
    await followUp(ctx, repo, change, 0);
  }
  return deletion;
}

/**
 * Profile invariants that read another resource (e.g. a post-block measurement needs a Procedure
 * that is in progress or completed): checked here, in the write's transaction, where the referenced
 * resources can be read consistently. The pipeline's other stages need no database.
 */
async function checkLinkedProfileRules(repo: Repository, resource: Resource): Promise<void> {
  const profiles = (resource.meta?.profile ?? []).flatMap((url) => profileRegistry().profiles.get(url) ?? []);
  if (!profiles.some((p) => p.linked.length > 0)) {
    return;
  }
  const read = async (type: string, id: string): Promise<Resource | undefined> => {
    const version = await repo.read(type, id);
    return version && !version.deleted ? parse(version) : undefined;
  };
  const errors = (await checkLinkedRules(resource, profiles, read)).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length > 0) {
    throw new FhirError(422, outcome(...errors));
  }
}

async function followUp(ctx: FhirContext, repo: Repository, change: WriteChange, depth: number): Promise<void> {
  const updates = (await ctx.rules?.after(repo, change)) ?? [];
  for (const next of updates) {
    if (depth >= MAX_FOLLOW_UP_DEPTH) {
      throw fail(409, 'business-rule', `Too many chained updates following ${change.resourceType}/${change.id}`);
    }
    await storeUpdate(ctx, repo, validateForWrite(next, next.resourceType), undefined, depth + 1);
  }
}

/** The references to check now, or none when a transaction Bundle checks them all at its end. */
function references(ctx: FhirContext, valid: ValidatedResource): RequiredReference[] {
  if (ctx.deferredReferences) {
    ctx.deferredReferences.push(...valid.references);
    return [];
  }
  return valid.references;
}

function parse(version: StoredVersion): Resource | undefined {
  return version.json ? (JSON.parse(version.json) as Resource) : undefined;
}

export function informationIssue(text: string): OperationOutcomeIssue {
  return { severity: 'information', code: 'informational', diagnostics: text };
}
