import { expect } from 'chai';
import type { Subscription } from '@medplum/fhirtypes';
import { testDatabaseKinds } from '../support/databases';
import { startTestServer, type TestServer } from '../support/server';
import { Receiver, waitFor } from './receiver';
import { createPatient, FAST_DELIVERY, oneTo, readSubscription, restHook, subscribe, taggedPatient } from './support';

for (const kind of testDatabaseKinds()) {
  describe(`Subscriptions: rest-hook delivery (${kind.name})`, () => {
    let server: TestServer;
    const receivers: Receiver[] = [];
    let tagCount = 0;

    const receiver = async (): Promise<Receiver> => {
      const r = new Receiver();
      await r.up();
      receivers.push(r);
      return r;
    };
    const newTag = (): string => `urn:test:sub-${kind.name}-${++tagCount}`;

    before(async () => {
      server = await startTestServer(kind, FAST_DELIVERY);
    });
    after(async () => {
      await server.stop();
      await Promise.all(receivers.map((r) => r.down()));
    });

    describe('Subscription writes', () => {
      const rejects = async (sub: Subscription, status: number, expression: string, code?: string): Promise<void> => {
        const res = await server.fhir('/Subscription', { method: 'POST', body: sub });
        expect(res.status, res.text).to.equal(status);
        const issues = res.body.issue as { code: string; expression?: string[] }[];
        const found = issues.find((i) => i.expression?.[0] === expression);
        expect(found, res.text).to.not.equal(undefined);
        if (code) {
          expect(found!.code).to.equal(code);
        }
      };

      it('rejects criteria that are not a valid search, naming Subscription.criteria', async () => {
        await rejects(restHook('Observation?no-such-param=1', 'http://127.0.0.1:9/hook'), 422, 'Subscription.criteria');
        await rejects(restHook('Observation?date=notadate', 'http://127.0.0.1:9/hook'), 422, 'Subscription.criteria');
        await rejects(restHook('Banana?x=1', 'http://127.0.0.1:9/hook'), 422, 'Subscription.criteria');
        await rejects(restHook('Observation?_sort=date', 'http://127.0.0.1:9/hook'), 422, 'Subscription.criteria');
        // Subscriptions on Subscription could notify about their own status changes, forever.
        await rejects(restHook('Subscription?status=active', 'http://127.0.0.1:9/hook'), 422, 'Subscription.criteria');
      });

      it('accepts rest-hook to an http(s) endpoint only', async () => {
        await rejects(
          restHook('Observation?status=final', 'ws://127.0.0.1:9/', { type: 'websocket' }),
          422,
          'Subscription.channel.type',
          'not-supported',
        );
        await rejects(restHook('Observation?status=final', 'ftp://example.org/x'), 422, 'Subscription.channel.endpoint');
        await rejects(restHook('Observation?status=final', 'http://127.0.0.1:9/', { payload: 'text/plain' }), 422, 'Subscription.channel.payload');
        await rejects(
          restHook('Observation?status=final', 'http://127.0.0.1:9/', { header: ['Host: evil.example'] }),
          422,
          'Subscription.channel.header[0]',
        );
      });

      it('a requested Subscription is stored active (the server sets the status)', async () => {
        const sub = await subscribe(server.fhir, restHook('Observation?status=final', 'https://ehr.example.org/hook'));
        expect(sub.status).to.equal('active');
        expect((await readSubscription(server.fhir, sub.id)).status).to.equal('active');
      });
    });

    it('id-only: an empty POST with the subscription headers for each matching write, none for others', async () => {
      const r = await receiver();
      const tag = newTag();
      const sub = await subscribe(server.fhir, restHook(`Patient?identifier=${tag}|`, r.url, { header: ['Authorization: Bearer ehr-secret'] }));
      // Latency: from sending the write, and from its response (committed), to the receiver's arrival.
      const fromRequest: number[] = [];
      const fromResponse: number[] = [];
      for (const n of oneTo(10)) {
        await createPatient(server.fhir, taggedPatient(`${tag}-other`, n)); // never matches
        const sent = Date.now();
        const p = await createPatient(server.fhir, taggedPatient(tag, n));
        const answered = Date.now();
        await r.until((x) => x.received.some((q) => q.resource === `Patient/${p.id}/_history/1`), `notification ${n}`);
        fromRequest.push(r.received[r.received.length - 1].at - sent);
        fromResponse.push(r.received[r.received.length - 1].at - answered);
      }
      expect(r.received.map((q) => q.event)).to.deep.equal(oneTo(10));
      for (const q of r.received) {
        expect(q.method).to.equal('POST');
        expect(q.body).to.equal('');
        expect(q.headers.authorization).to.equal('Bearer ehr-secret');
        expect(q.headers['x-fhir-subscription']).to.equal(`Subscription/${sub.id}`);
        expect(q.headers['x-fhir-event']).to.equal('create');
      }
      const stats = (xs: number[]): string => {
        const sorted = [...xs].sort((a, b) => a - b);
        return `median ${sorted[5]} ms, max ${sorted[9]} ms`;
      };
      console.log(`      latency (${kind.name}): write sent → receiver ${stats(fromRequest)}; write answered → receiver ${stats(fromResponse)}`);
    });

    it('application/fhir+json: the JSON of the exact version; a delete is sent id-only', async () => {
      const r = await receiver();
      const tag = newTag();
      await subscribe(server.fhir, restHook(`Patient?identifier=${tag}|`, r.url, { payload: 'application/fhir+json' }));
      const p = await createPatient(server.fhir, taggedPatient(tag, 1));
      const updated = await server.fhir(`/Patient/${p.id}`, { method: 'PUT', body: { ...p, gender: 'male' } });
      expect(updated.status, updated.text).to.equal(200);
      const deleted = await server.fhir(`/Patient/${p.id}`, { method: 'DELETE' });
      expect(deleted.status, deleted.text).to.equal(200);
      await r.until((x) => x.received.length >= 3, 'three notifications');

      const [created, changed, gone] = r.received;
      expect(created.headers['content-type']).to.match(/^application\/fhir\+json/);
      expect(created.body).to.equal((await server.fhir(`/Patient/${p.id}/_history/1`)).text);
      expect(JSON.parse(changed.body)).to.deep.include({ gender: 'male' });
      expect(changed.body).to.equal((await server.fhir(`/Patient/${p.id}/_history/2`)).text);
      expect(changed.headers['x-fhir-event']).to.equal('update');
      expect(gone.body).to.equal('');
      expect(gone.headers['x-fhir-event']).to.equal('delete');
      expect(gone.resource).to.equal(`Patient/${p.id}/_history/3`);
      expect(r.received.map((q) => q.event)).to.deep.equal([1, 2, 3]);
    });

    it('notifies only matching versions: not after an update stops matching, not for deleting a non-match', async () => {
      const r = await receiver();
      const tag = newTag();
      await subscribe(server.fhir, restHook(`Patient?identifier=${tag}|&gender=female`, r.url));
      const p = await createPatient(server.fhir, taggedPatient(tag, 1)); // female: matches
      const male = await server.fhir(`/Patient/${p.id}`, { method: 'PUT', body: { ...p, gender: 'male' } });
      expect(male.status).to.equal(200);
      const q = await createPatient(server.fhir, { ...taggedPatient(tag, 2), gender: 'male' });
      await server.fhir(`/Patient/${p.id}`, { method: 'DELETE' }); // its last version did not match
      await server.fhir(`/Patient/${q.id}`, { method: 'DELETE' });
      const marker = await createPatient(server.fhir, taggedPatient(tag, 3)); // matches: everything before it is settled
      await r.until((x) => x.received.some((n) => n.resource.startsWith(`Patient/${marker.id}/`)), 'the marker');
      expect(r.received.map((n) => n.resource)).to.deep.equal([`Patient/${p.id}/_history/1`, `Patient/${marker.id}/_history/1`]);
    });

    it('a write that rolls back notifies nobody (the outbox row is part of its transaction)', async () => {
      const r = await receiver();
      const tag = newTag();
      await subscribe(server.fhir, restHook(`Patient?identifier=${tag}|`, r.url));
      const bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:0d0c8f2e-5a43-4c1b-9d2e-0a7b5f3c1e01', resource: taggedPatient(tag, 1), request: { method: 'POST', url: 'Patient' } },
          // Fails: the reference points nowhere, so the whole transaction — the matching Patient too — rolls back.
          { resource: { ...taggedPatient(tag, 2), generalPractitioner: [{ reference: 'Practitioner/does-not-exist' }] }, request: { method: 'POST', url: 'Patient' } },
        ],
      };
      const res = await server.fhir('', { method: 'POST', body: bundle });
      expect(res.status, res.text).to.be.within(400, 499);
      const marker = await createPatient(server.fhir, taggedPatient(tag, 3));
      await r.until((x) => x.received.length >= 1, 'the marker');
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(r.received.map((q) => q.resource)).to.deep.equal([`Patient/${marker.id}/_history/1`]);
      expect(r.received[0].event).to.equal(1);
    });

    it('many parallel writes arrive in event-number order, none lost, none twice', async () => {
      const r = await receiver();
      const tag = newTag();
      await subscribe(server.fhir, restHook(`Patient?identifier=${tag}|`, r.url));
      const created = await Promise.all(oneTo(40).map((n) => createPatient(server.fhir, taggedPatient(tag, n))));
      await r.until((x) => x.received.length >= 40, '40 notifications');
      expect(r.received.map((q) => q.event)).to.deep.equal(oneTo(40));
      expect(new Set(r.received.map((q) => q.resource))).to.deep.equal(new Set(created.map((p) => `Patient/${p.id}/_history/1`)));
    });

    it('a receiver answering 500: retried with backoff, Subscription → error with the reason, then back to active; all in order', async () => {
      const r = await receiver();
      r.behaviour = (n) => (n < 5 ? 500 : 200);
      const tag = newTag();
      const sub = await subscribe(server.fhir, restHook(`Patient?identifier=${tag}|`, r.url));
      for (const n of oneTo(4)) {
        await createPatient(server.fhir, taggedPatient(tag, n));
      }
      await r.until((x) => x.acknowledged.length >= 4, 'four acknowledged notifications');
      // The first notification was tried until it succeeded; nothing overtook it.
      expect(r.received.map((q) => q.event)).to.deep.equal([1, 1, 1, 1, 1, 1, 2, 3, 4]);
      expect(r.acknowledged.map((q) => q.event)).to.deep.equal(oneTo(4));
      const gaps = r.received.slice(1, 5).map((q, i) => q.at - r.received[i].at);
      expect(Math.min(...gaps), `retry gaps ${gaps.join(', ')}`).to.be.at.least(40);

      const current = await waitFor(
        () => readSubscription(server.fhir, sub.id),
        (s) => s.status === 'active',
        'status active again',
      );
      expect(current.error).to.equal(undefined);
      const history = await server.fhir(`/Subscription/${sub.id}/_history`);
      const versions = (history.body.entry as { resource: Subscription }[]).map((e) => e.resource).reverse();
      expect(versions.map((v) => v.status)).to.deep.equal(['active', 'error', 'active']);
      expect(versions[1].error).to.match(/failed 3 times.*HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/hook/);
    });

    it('a receiver that is down for a while gets everything once it is back, in order', async () => {
      const r = await receiver();
      const tag = newTag();
      const sub = await subscribe(server.fhir, restHook(`Patient?identifier=${tag}|`, r.url));
      await r.down();
      for (const n of oneTo(5)) {
        await createPatient(server.fhir, taggedPatient(tag, n));
      }
      const failing = await waitFor(() => readSubscription(server.fhir, sub.id), (s) => s.status === 'error', 'status error');
      expect(failing.error).to.match(/ECONNREFUSED/);
      await new Promise((resolve) => setTimeout(resolve, 300)); // a few more refused attempts at the capped interval
      await r.up();
      await r.until((x) => x.acknowledged.length >= 5, 'five notifications after coming back');
      expect(r.received.map((q) => q.event)).to.deep.equal(oneTo(5));
      await waitFor(() => readSubscription(server.fhir, sub.id), (s) => s.status === 'active', 'status active again');
    });

    it('an off Subscription is not notified', async () => {
      const r = await receiver();
      const tag = newTag();
      const sub = await subscribe(server.fhir, restHook(`Patient?identifier=${tag}|`, r.url));
      const off = await server.fhir(`/Subscription/${sub.id}`, { method: 'PUT', body: { ...sub, status: 'off' } });
      expect(off.status, off.text).to.equal(200);
      await createPatient(server.fhir, taggedPatient(tag, 1));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(r.received).to.deep.equal([]);
    });
  });
}
