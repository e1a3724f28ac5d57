import { expect } from 'chai';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, blockProcedure, painScore, patient, practitioner, skinTemperature } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';
import {
  SEARCH_TYPES,
  bundleShape,
  contentType,
  hostilePath,
  mutate,
  mutation,
  patchOperations,
  rawDamage,
  searchQuery,
  serialize,
  type BundleShape,
} from './hostile';

/**
 * Property-based hostile input: mutated block resources, Bundles, JSON Patches and search queries.
 * For every case: never a 5xx, an answer within TIME_BOUND_MS, a 4xx is an OperationOutcome and
 * changes nothing stored, a 2xx write is really stored and reads back as acknowledged.
 * `FUZZ_SCALE` multiplies the case counts (`npm run fuzz`); `FUZZ_SEED` replays a run.
 */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const TIME_BOUND_MS = 10_000;
/**
 * `FUZZ_SKIP_KNOWN=1` skips inputs of the bugs already pinned in found-bugs.test.ts, so a long run
 * looks for new ones instead of stopping at the first known one.
 */
const SKIP_KNOWN = Boolean(process.env.FUZZ_SKIP_KNOWN);
function knownDeepSyntaxError(body: Buffer): boolean {
  const text = body.toString('latin1');
  if (!text.includes('['.repeat(200)) && !text.includes('{"extension":['.repeat(200))) {
    return false;
  }
  try {
    JSON.parse(body.toString('utf8'));
    return false;
  } catch {
    return true;
  }
}
const knownNul = (kind: string, text: string): boolean => kind === 'postgres' && /%00/.test(text);
const RUNS = { writes: Math.round(200 * SCALE), bundles: Math.round(80 * SCALE), patches: Math.round(60 * SCALE), searches: Math.round(300 * SCALE), paths: Math.round(150 * SCALE) };

interface Sent {
  status: number;
  ms: number;
  contentType: string | null;
  location: string | null;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON of any shape
  body: any;
}

type Base = { type: string; id?: string; resource: Record<string, unknown> };

for (const kind of testDatabaseKinds()) {
  describe(`Hostile input, generated (${kind.name})`, function () {
    this.timeout(Math.max(120_000, 120_000 * SCALE));
    let server: TestServer;
    let bases: Base[];
    const stats = { cases: 0, accepted: 0, rejected: 0, slowestMs: 0 };

    const send = async (method: string, path: string, body?: Buffer, type?: string): Promise<Sent> => {
      const started = Date.now();
      const res = await fetch(`${server.url}/fhir${path}`, {
        method,
        headers: type ? { 'content-type': type } : {},
        body,
        signal: AbortSignal.timeout(TIME_BOUND_MS * 3),
      });
      const text = await res.text();
      const ms = Date.now() - started;
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      stats.slowestMs = Math.max(stats.slowestMs, ms);
      return { status: res.status, ms, contentType: res.headers.get('content-type'), location: res.headers.get('location'), text, body: parsed };
    };

    const storedVersions = async (): Promise<number> => (await send('GET', '/_history?_count=0')).body.total;

    /** The invariants every answer must satisfy; returns the answer for further checks. */
    const checkAnswer = (what: string, res: Sent): void => {
      const summary = `${what} → ${res.status} ${res.text.slice(0, 300)}`;
      stats.cases++;
      expect(res.status, summary).to.be.below(500);
      expect(res.ms, `${summary} took ${res.ms} ms`).to.be.below(TIME_BOUND_MS);
      if (res.status >= 400) {
        stats.rejected++;
        expect(res.contentType, summary).to.match(/^application\/fhir\+json/);
        expect(res.body?.resourceType, summary).to.equal('OperationOutcome');
        expect(res.text, summary).to.not.match(/at .*\.js:\d+/);
      } else {
        stats.accepted++;
      }
    };

    /** A write: rejected → nothing changed; accepted → what was acknowledged is what is stored. */
    const checkWrite = async (what: string, before: number, res: Sent, readBack?: string): Promise<void> => {
      checkAnswer(what, res);
      if (res.status >= 400) {
        expect(await storedVersions(), `${what} → ${res.status} but stored something`).to.equal(before);
        return;
      }
      if (readBack) {
        const read = await send('GET', readBack);
        expect(read.status, `${what}: read back ${readBack}`).to.equal(200);
        if (res.body?.resourceType && res.body.resourceType !== 'OperationOutcome') {
          expect(read.body, `${what}: stored differs from acknowledged`).to.deep.equal(res.body);
        }
      }
    };

    before(async () => {
      server = await startTestServer(kind);
      const created = async (resource: Record<string, unknown>): Promise<string> => {
        const res = await server.fhir(`/${resource.resourceType}`, { method: 'POST', body: resource });
        expect(res.status, res.text).to.equal(201);
        return res.body.id;
      };
      const pat = await created(patient() as unknown as Record<string, unknown>);
      const doc = await created(practitioner() as unknown as Record<string, unknown>);
      const order = await created(blockOrder(pat, doc, 'FUZZ-1') as unknown as Record<string, unknown>);
      const order2 = await created(blockOrder(pat, doc, 'FUZZ-2') as unknown as Record<string, unknown>);
      const proc = await created(blockProcedure(pat, order, doc) as unknown as Record<string, unknown>);
      const resources = [
        patient('Fuzzy'),
        practitioner(),
        blockOrder(pat, doc, 'FUZZ-3'),
        blockProcedure(pat, order2, doc),
        painScore(pat, proc, 4, '2026-01-15T10:00:00Z'),
        skinTemperature(pat, proc, 33.5, '2026-01-15T10:00:00Z'),
      ] as unknown as Record<string, unknown>[];
      bases = [];
      for (const resource of resources) {
        // Each base is also stored once, as the target of updates and patches.
        bases.push({ type: resource.resourceType as string, id: await created(resource), resource });
      }
    });
    after(async () => {
      if (process.env.FUZZ_VERBOSE) {
        console.log(`    ${kind.name}: ${JSON.stringify(stats)}`);
      }
      // In-process server: a prototype pollution anywhere would show here.
      expect(Object.keys(Object.prototype)).to.deep.equal([]);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      await server?.stop();
    });

    const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, seed: SEED, endOnFailure: true });

    it(`mutated resources: create, update and $validate (${RUNS.writes} cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: 5 }),
          fc.array(mutation, { minLength: 1, maxLength: 3 }),
          rawDamage,
          contentType,
          fc.constantFrom('create', 'create', 'update', 'validate'),
          async (which, mutations, damage, type, target) => {
            const base = bases[which];
            const resource = target === 'update' ? { ...base.resource, id: base.id } : base.resource;
            const body = serialize(mutate(resource, mutations), damage);
            fc.pre(!(SKIP_KNOWN && knownDeepSyntaxError(body)));
            const before = await storedVersions();
            if (target === 'create') {
              const res = await send('POST', `/${base.type}`, body, type);
              const location = res.location ? new URL(res.location).pathname.replace(/^\/fhir/, '') : undefined;
              await checkWrite(`POST /${base.type}`, before, res, res.status < 300 ? location : undefined);
            } else if (target === 'update') {
              const res = await send('PUT', `/${base.type}/${base.id}`, body, type);
              await checkWrite(`PUT /${base.type}/${base.id}`, before, res, res.status < 300 ? `/${base.type}/${base.id}` : undefined);
            } else {
              const res = await send('POST', `/${base.type}/$validate`, body, type);
              checkAnswer(`POST /${base.type}/$validate`, res);
              expect(await storedVersions(), '$validate stored something').to.equal(before);
            }
          },
        ),
        params(RUNS.writes),
      );
    });

    it(`JSON Patch with hostile operations (${RUNS.patches} cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: 5 }), patchOperations, rawDamage, async (which, operations, damage) => {
          const base = bases[which];
          const body = serialize(operations, damage);
          fc.pre(!(SKIP_KNOWN && knownDeepSyntaxError(body)));
          const before = await storedVersions();
          const res = await send('PATCH', `/${base.type}/${base.id}`, body, 'application/json-patch+json');
          await checkWrite(`PATCH /${base.type}/${base.id}`, before, res, res.status < 300 ? `/${base.type}/${base.id}` : undefined);
        }),
        params(RUNS.patches),
      );
    });

    it(`mutated Bundles: transaction and batch (${RUNS.bundles} cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(bundleShape(bases.length), rawDamage, async (shape, damage) => {
          const body = serialize(buildBundle(shape, bases), damage);
          fc.pre(!(SKIP_KNOWN && knownDeepSyntaxError(body)));
          const before = await storedVersions();
          const res = await send('POST', '', body, 'application/fhir+json');
          await checkWrite('POST / (Bundle)', before, res);
          if (res.status === 200 && Array.isArray(res.body?.entry)) {
            // Every entry the server says it wrote is readable at the version it named.
            for (const entry of res.body.entry as { response?: { status?: string; location?: string } }[]) {
              const location = entry.response?.location;
              if (location && /^20[01]/.test(entry.response?.status ?? '')) {
                const read = await send('GET', `/${location.replace(/^.*\/fhir\//, '')}`);
                expect(read.status, `Bundle entry ${location} not readable`).to.equal(200);
              }
            }
          }
        }),
        params(RUNS.bundles),
      );
    });

    it(`hostile search parameters (${RUNS.searches} cases)`, async () => {
      const before = await storedVersions();
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...SEARCH_TYPES), searchQuery, fc.boolean(), async (type, query, asForm) => {
          fc.pre(!(SKIP_KNOWN && knownNul(kind.name, query)));
          const res = asForm
            ? await send('POST', `/${type}/_search`, Buffer.from(query), 'application/x-www-form-urlencoded')
            : await send('GET', `/${type}?${query}`);
          checkAnswer(`${asForm ? 'POST _search' : 'GET'} /${type}?${query}`.slice(0, 400), res);
          if (res.status === 200) {
            expect(res.body?.resourceType, query).to.equal('Bundle');
          }
        }),
        params(RUNS.searches),
      );
      expect(await storedVersions(), 'searches changed the database').to.equal(before);
    });

    it(`hostile paths: reads, vreads, histories, operations (${RUNS.paths} cases)`, async () => {
      const before = await storedVersions();
      await fc.assert(
        fc.asyncProperty(hostilePath, fc.constantFrom('GET', 'GET', 'DELETE', 'HEAD'), async (path, method) => {
          fc.pre(!(SKIP_KNOWN && knownNul(kind.name, path)));
          const res = await send(method, path);
          // HEAD answers carry no body to check: only the status counts.
          checkAnswer(`${method} ${path}`, method === 'HEAD' && res.status < 500 ? { ...res, status: 200 } : res);
        }),
        params(RUNS.paths),
      );
      // The generator knows no real ids, so even its DELETEs may change nothing.
      expect(await storedVersions(), 'hostile paths changed the database').to.equal(before);
    });
  });
}

function buildBundle(shape: BundleShape, bases: Base[]): unknown {
  const entries = shape.entries.map((e) => {
    const base = bases[e.base];
    const fullUrl = e.fullUrl === 'auto' ? `urn:uuid:${randomUUID()}` : e.fullUrl;
    const url = e.url === 'auto' ? (e.method === 'PUT' ? `${base.type}/${base.id}` : base.type) : e.url;
    const resource = e.method === 'PUT' && e.url === 'auto' ? { ...base.resource, id: base.id } : base.resource;
    return {
      ...(fullUrl ? { fullUrl } : {}),
      resource: mutate(resource, e.mutations),
      ...(e.dropRequest ? {} : { request: { method: e.method, url } }),
    };
  });
  return mutate({ resourceType: 'Bundle', type: shape.type, entry: entries }, shape.envelope);
}
