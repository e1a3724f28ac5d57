import type { Observation, Resource } from '@medplum/fhirtypes';
import { parseSearch } from '../search/parse';
import type { Repository } from '../store/types';

/** At most this many observations per block are read: a block has a handful, this only bounds a runaway. */
const MAX_OBSERVATIONS = 1000;

/** The live resource, or undefined if it never existed or is deleted. */
export async function readLive<T extends Resource>(repo: Repository, type: T['resourceType'], id: string): Promise<T | undefined> {
  const version = await repo.read(type, id);
  return version?.json && !version.deleted ? (JSON.parse(version.json) as T) : undefined;
}

/** Every live Observation `partOf` the Procedure (entered and derived), through the search index of the current transaction. */
export async function observationsOf(repo: Repository, procedureId: string): Promise<Observation[]> {
  const plan = parseSearch('Observation', { 'part-of': `Procedure/${procedureId}` }, { strict: true, baseUrl: '' });
  const page = await repo.search({ ...plan, count: MAX_OBSERVATIONS });
  return page.rows.map((row) => JSON.parse(row.json) as Observation);
}

/** Ids of the Procedures an Observation is `partOf` (local references only). */
export function procedureIdsOf(obs: Observation | undefined): string[] {
  return (obs?.partOf ?? [])
    .map((ref) => /^Procedure\/([A-Za-z0-9\-.]{1,64})$/.exec(ref.reference ?? '')?.[1])
    .filter((id): id is string => id !== undefined);
}
