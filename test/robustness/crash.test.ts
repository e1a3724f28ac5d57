import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knex, { type Knex } from 'knex';
import { blockOrder, patient, practitioner } from '../support/fixtures';
import { childDatabaseKinds, sleep, startChild, type ChildDatabase, type ChildServer } from './child';

/**
 * Crash safety: a real server process under concurrent writes and transaction Bundles is killed
 * with SIGKILL at random moments and restarted on the same database. Every write that got a 2xx
 * must be there (content, history, search index); nothing that did not may be partly there.
 * `ROBUSTNESS_KILLS` sets the number of kills (default 3 per database).
 */
const KILLS = Number(process.env.ROBUSTNESS_KILLS ?? 3);
const WORKERS = 6;
const MRN = 'http://sympathetic-block-fhir.org/fhir/sid/crash-mrn';
const PLACER = 'http://ehr.example.org/placer-order';

interface Created {
  identifier: string;
  /** Set once acknowledged. */
  id?: string;
  acked: boolean;
  /** Acknowledged versions: versionId → family name written. */
  versions: Map<number, string>;
}

interface BundleAttempt {
  patientIdentifier: string;
  orderIdentifiers: string[];
  acked: boolean;
}

interface Ledger {
  practitionerId: string;
  patients: Created[];
  bundles: BundleAttempt[];
  /** Answers other than the expected 2xx while the server was up: each one is a bug. */
  unexpected: string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed FHIR JSON
type Json = any;

let unique = 0;
const nextKey = (round: number): string => `R${round}-${process.pid}-${++unique}`;

async function call(url: string, method: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, {
    method,
    headers: body ? { 'content-type': 'application/fhir+json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** One client: creates patients, updates its own, pushes transactions, until the server dies. */
async function worker(server: ChildServer, ledger: Ledger, round: number, stop: { dead: boolean }): Promise<void> {
  const mine: Created[] = [];
  while (!stop.dead) {
    const roll = Math.random();
    try {
      if (roll < 0.35 || mine.length === 0) {
        const key = nextKey(round);
        const entry: Created = { identifier: key, acked: false, versions: new Map() };
        ledger.patients.push(entry);
        const res = await call(`${server.url}/fhir/Patient`, 'POST', withIdentifier(patient(`F-${key}`), key));
        note(ledger, 'create', res);
        if (res.status === 201) {
          Object.assign(entry, { id: res.body.id, acked: true });
          entry.versions.set(1, `F-${key}`);
          mine.push(entry);
        }
      } else if (roll < 0.65) {
        const target = mine[Math.floor(Math.random() * mine.length)];
        const family = `U-${nextKey(round)}`;
        const body = { ...withIdentifier(patient(family), target.identifier), id: target.id };
        const res = await call(`${server.url}/fhir/Patient/${target.id}`, 'PUT', body);
        note(ledger, 'update', res);
        if (res.status === 200) {
          target.versions.set(Number(res.body.meta.versionId), family);
        }
      } else {
        const attempt: BundleAttempt = { patientIdentifier: nextKey(round), orderIdentifiers: [], acked: false };
        ledger.bundles.push(attempt);
        const res = await call(`${server.url}/fhir`, 'POST', transaction(attempt, ledger.practitionerId, round));
        note(ledger, 'transaction', res);
        attempt.acked = res.status === 200;
      }
    } catch {
      return; // connection refused or reset: the server is gone
    }
  }
}

function note(ledger: Ledger, what: string, res: { status: number; body: Json }): void {
  if (res.status >= 300) {
    ledger.unexpected.push(`${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  }
}

function withIdentifier<T extends { identifier?: unknown }>(resource: T, value: string): T {
  return { ...resource, identifier: [{ system: MRN, value }] };
}

/** One patient and three orders for it, all or nothing. */
function transaction(attempt: BundleAttempt, practitionerId: string, round: number): unknown {
  const patientUrl = `urn:uuid:${randomUUID()}`;
  const orders = [0, 1, 2].map(() => {
    const placer = `PO-${nextKey(round)}`;
    attempt.orderIdentifiers.push(placer);
    const order = blockOrder('x', practitionerId, placer);
    return { ...order, subject: { reference: patientUrl } };
  });
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: patientUrl,
        resource: withIdentifier(patient(`B-${attempt.patientIdentifier}`), attempt.patientIdentifier),
        request: { method: 'POST', url: 'Patient' },
      },
      ...orders.map((resource) => ({ resource, request: { method: 'POST', url: 'ServiceRequest' } })),
    ],
  };
}

async function countByIdentifier(server: ChildServer, type: string, system: string, value: string): Promise<Json[]> {
  const res = await call(`${server.url}/fhir/${type}?identifier=${encodeURIComponent(`${system}|${value}`)}`, 'GET');
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return (res.body.entry ?? []).filter((e: Json) => e.search?.mode !== 'outcome').map((e: Json) => e.resource);
}

/** Checks every acknowledged write through the API of a freshly restarted server. */
async function verifyThroughApi(server: ChildServer, ledger: Ledger): Promise<{ acked: number; unackedPresent: number }> {
  let acked = 0;
  let unackedPresent = 0;
  for (const entry of ledger.patients) {
    const found = await countByIdentifier(server, 'Patient', MRN, entry.identifier);
    expect(found.length, `patient ${entry.identifier}: never twice`).to.be.at.most(1);
    if (!entry.acked) {
      unackedPresent += found.length;
      // A create that committed just before the kill is whole: its own history and index rows.
      if (found.length === 1) {
        const history = await call(`${server.url}/fhir/Patient/${found[0].id}/_history`, 'GET');
        expect(history.body.total).to.be.at.least(1);
      }
      continue;
    }
    acked += entry.versions.size;
    expect(found.length, `acknowledged patient ${entry.identifier} is findable by identifier`).to.equal(1);
    expect(found[0].id).to.equal(entry.id);
    for (const [versionId, family] of entry.versions) {
      const vread = await call(`${server.url}/fhir/Patient/${entry.id}/_history/${versionId}`, 'GET');
      expect(vread.status, `Patient/${entry.id}/_history/${versionId}`).to.equal(200);
      expect(vread.body.name[0].family).to.equal(family);
    }
    // The index describes the current version (possibly a later, unacknowledged but committed one).
    const current = found[0];
    const byFamily = await call(`${server.url}/fhir/Patient?_id=${current.id}&family:exact=${encodeURIComponent(current.name[0].family)}`, 'GET');
    expect(byFamily.body.entry?.length ?? 0, `index of Patient/${current.id} matches its current version`).to.equal(1);
    const history = await call(`${server.url}/fhir/Patient/${current.id}/_history?_count=1000`, 'GET');
    expect(history.body.total).to.equal(Number(current.meta.versionId));
  }
  for (const bundle of ledger.bundles) {
    const patients = await countByIdentifier(server, 'Patient', MRN, bundle.patientIdentifier);
    let present = patients.length;
    for (const placer of bundle.orderIdentifiers) {
      present += (await countByIdentifier(server, 'ServiceRequest', PLACER, placer)).length;
    }
    const all = 1 + bundle.orderIdentifiers.length;
    if (bundle.acked) {
      acked += all;
      expect(present, `acknowledged transaction ${bundle.patientIdentifier}`).to.equal(all);
    } else {
      expect([0, all], `unacknowledged transaction ${bundle.patientIdentifier} is all or nothing`).to.include(present);
      unackedPresent += present === all ? 1 : 0;
    }
  }
  return { acked, unackedPresent };
}

/** Straight SQL on the database as the crash left it: versions, history and index rows agree. */
async function verifyTables(db: ChildDatabase): Promise<void> {
  const k: Knex = knex(
    db.name === 'sqlite'
      ? { client: 'better-sqlite3', connection: { filename: db.url.slice('sqlite:'.length) }, useNullAsDefault: true }
      : { client: 'pg', connection: db.url },
  );
  try {
    const one = async (sql: string): Promise<number> => {
      const result = await k.raw(sql);
      const rows = (db.name === 'sqlite' ? result : result.rows) as Record<string, unknown>[];
      return Number(Object.values(rows[0])[0]);
    };
    expect(await one(`SELECT count(*) FROM resource r WHERE NOT EXISTS (SELECT 1 FROM resource_history h
      WHERE h.resource_type = r.resource_type AND h.id = r.id AND h.version_id = r.version_id)`), 'current version without history row').to.equal(0);
    expect(await one(`SELECT count(*) FROM resource_history h LEFT JOIN resource r ON r.resource_type = h.resource_type AND r.id = h.id
      WHERE r.id IS NULL OR h.version_id > r.version_id`), 'history row beyond the current version').to.equal(0);
    expect(await one(`SELECT count(*) FROM resource r JOIN (SELECT resource_type, id, count(*) AS n FROM resource_history GROUP BY resource_type, id) h
      ON h.resource_type = r.resource_type AND h.id = r.id WHERE h.n <> r.version_id`), 'gaps in version history').to.equal(0);
    for (const table of ['search_token', 'search_string', 'search_reference', 'search_date', 'search_number']) {
      expect(await one(`SELECT count(*) FROM ${table} s WHERE NOT EXISTS (SELECT 1 FROM resource r
        WHERE r.resource_type = s.resource_type AND r.id = s.resource_id AND r.content IS NOT NULL)`), `${table} rows of no live resource`).to.equal(0);
    }
    expect(await one(`SELECT count(*) FROM resource r WHERE r.resource_type = 'Patient' AND r.content IS NOT NULL AND NOT EXISTS
      (SELECT 1 FROM search_token t WHERE t.resource_type = 'Patient' AND t.resource_id = r.id AND t.param = 'identifier')`), 'live Patient without identifier index row').to.equal(0);
  } finally {
    await k.destroy();
  }
}

for (const kind of childDatabaseKinds()) {
  describe(`Crash safety: SIGKILL under load, restart (${kind.name})`, function () {
    this.timeout(60_000 + KILLS * 60_000);
    let db: ChildDatabase;
    let server: ChildServer | undefined;

    before(async () => {
      db = await kind.create();
    });
    after(async () => {
      server?.process.kill('SIGKILL');
      await server?.exited;
      await db?.dispose();
    });

    it(`keeps every acknowledged write and nothing half-written across ${KILLS} kills`, async () => {
      server = await startChild(db.url);
      const created = await call(`${server.url}/fhir/Practitioner`, 'POST', practitioner());
      expect(created.status).to.equal(201);
      const ledger: Ledger = { practitionerId: created.body.id, patients: [], bundles: [], unexpected: [] };
      const figures: string[] = [];
      for (let round = 1; round <= KILLS; round++) {
        const stop = { dead: false };
        const load = Array.from({ length: WORKERS }, () => worker(server!, ledger, round, stop));
        await sleep(300 + Math.random() * 1700);
        server.process.kill('SIGKILL');
        await server.exited;
        stop.dead = true;
        await Promise.all(load);
        await verifyTables(db);
        server = await startChild(db.url);
        const { acked, unackedPresent } = await verifyThroughApi(server, ledger);
        figures.push(`kill ${round}: ${acked} acknowledged writes verified, ${unackedPresent} unacknowledged but committed`);
      }
      // Finally a graceful stop leaves the same guarantees.
      server.process.kill('SIGTERM');
      expect((await server.exited).code).to.equal(0);
      server = undefined;
      await verifyTables(db);
      if (process.env.ROBUSTNESS_VERBOSE) {
        console.log(figures.join('\n'));
      }
      expect(ledger.unexpected, 'non-2xx answers under load').to.deep.equal([]);
      expect(ledger.patients.filter((p) => p.acked).length, 'load actually ran').to.be.greaterThan(KILLS);
    });
  });
}
