import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { testDatabaseKinds } from '../support/databases';
import { blockOrder, patient, practitioner } from '../support/fixtures';
import { startTestServer, type TestServer } from '../support/server';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CS = 'http://sympathetic-block-fhir.org/fhir/CodeSystem';
const TIMING = `${CS}/block-timing`;
const LEFT = 'http://snomed.info/sct|7771000';
const ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * The physician page in real headless Chromium (Debian's), against the real server: what a
 * physician enters must arrive in the API as conformant FHIR, and the server's validation errors
 * must show at the field they concern. One database kind is enough: the page only talks HTTP.
 */
describe('Physician page (headless Chromium)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let pat = '';
  let doc = '';

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      // CI installs it (.ci/run); locally: apt-get install -y chromium.
      this.skip();
    }
    // `npx tsc -p .` does not build the page's own TypeScript: make sure dist/web is current.
    execFileSync(process.execPath, [path.join(ROOT, 'web', 'build.js')], { stdio: 'inherit' });
    server = await startTestServer(testDatabaseKinds()[0]);
    pat = (await server.fhir('/Patient', { method: 'POST', body: patient('Pagetest') })).body.id;
    doc = (await server.fhir('/Practitioner', { method: 'POST', body: practitioner() })).body.id;
    const other = (await server.fhir('/Patient', { method: 'POST', body: patient('Otherperson') })).body.id;
    await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(other, doc, 'PO-PAGE-OTHER') });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    // Tablet width, and UTC so that the times typed are the instants stored.
    const context = await browser.newContext({ viewport: { width: 768, height: 1024 }, timezoneId: 'UTC', locale: 'en-GB' });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    // Script errors fail the tests; Chromium's own log line for an expected 422 does not.
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource: the server responded with a status of 422') && pageErrors.push(m.text()));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  if (!fs.existsSync(CHROMIUM)) {
    it(`is skipped: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)`);
    return;
  }

  const newOrder = async (placer: string) => {
    const res = await server.fhir('/ServiceRequest', { method: 'POST', body: blockOrder(pat, doc, placer) });
    expect(res.status, res.text).to.equal(201);
    return res.body.id as string;
  };

  /** Filters the list by patient and opens the order with the keyboard only. */
  const openOrder = async (orderId: string) => {
    await page.goto(`${server.url}/`);
    await page.locator('#orders tbody tr').first().waitFor();
    await page.fill('#f-patient', 'Pagetest');
    await page.press('#f-patient', 'Enter');
    // The filtered list replaces the whole one: the other patient's order disappears.
    await page.locator('#orders tbody tr', { hasText: 'Otherperson' }).first().waitFor({ state: 'detached' });
    await page.locator(`button[data-order="${orderId}"]`).waitFor();
    await page.focus(`button[data-order="${orderId}"]`);
    await page.keyboard.press('Enter');
    await page.locator('#procedure-form').waitFor({ state: 'visible' });
  };

  const measure = async (kind: 'pain' | 'temperature', timing: string, time: string, value: string) => {
    const rows = await page.locator('#measurements tbody tr').count();
    await page.selectOption('#m-kind', kind);
    await page.selectOption('#m-timing', `${TIMING}|${timing}`);
    await page.fill('#m-time', time);
    await page.fill('#m-value', value);
    if (kind === 'temperature') {
      await page.selectOption('#m-side', LEFT);
    }
    await page.press('#m-value', 'Enter');
    await page.locator('#measurements tbody tr').nth(rows).waitFor();
  };

  it('records a full block and its outcome, stored as conformant FHIR, with the computed reading and chart', async () => {
    const orderId = await newOrder('PO-PAGE-1');
    await openOrder(orderId);
    // Choices come from the profiles' ValueSets; the order's block type and side are preselected.
    expect(await page.inputValue('#p-code')).to.equal('http://www.ama-assn.org/go/cpt|64520');
    expect(await page.inputValue('#p-side')).to.equal(LEFT);
    await page.selectOption('#p-levels', [`${CS}/block-target|L2`, `${CS}/block-target|L3`]);
    await page.selectOption('#p-guidance', `${CS}/block-guidance|fluoroscopy`);
    await page.selectOption('#p-contrast-agent', 'http://fdasis.nlm.nih.gov|4419T9MX03');
    await page.fill('#p-contrast-volume', '2');
    await page.check('#p-spread');
    await page.selectOption('#p-drug-0', 'http://www.nlm.nih.gov/research/umls/rxnorm|6387');
    await page.fill('#p-volume-0', '5');
    await page.fill('#p-conc-0', '1');
    await page.click('#add-drug');
    await page.selectOption('#p-drug-1', 'http://www.nlm.nih.gov/research/umls/rxnorm|3264');
    await page.fill('#p-volume-1', '1');
    await page.fill('#p-conc-1', '4');
    await page.selectOption('#p-conc-unit-1', 'mg/mL');
    await page.check('#p-comp-1');
    await page.fill('#p-performed', '2026-01-15T09:30');
    await page.click('#procedure-form button[type=submit]');
    await page.locator('#procedure-view').waitFor({ state: 'visible' });

    const procs = await server.fhir(`/Procedure?based-on=ServiceRequest/${orderId}`);
    expect(procs.body.entry).to.have.length(1);
    const proc = procs.body.entry[0].resource;
    expect(proc.status).to.equal('completed');
    expect(proc.performedDateTime).to.equal('2026-01-15T09:30:00Z');
    expect(proc.subject).to.deep.equal({ reference: `Patient/${pat}` });
    expect(proc.performer).to.deep.equal([{ actor: { reference: `Practitioner/${doc}` } }]);
    expect(proc.bodySite[0].coding[0]).to.include({ system: 'http://snomed.info/sct', code: '7771000' });
    const ext = (name: string) => proc.extension.filter((e: { url: string }) => e.url.endsWith(`/${name}`));
    expect(ext('block-target-level').map((e: { valueCodeableConcept: { coding: { code: string }[] } }) => e.valueCodeableConcept.coding[0].code)).to.deep.equal(['L2', 'L3']);
    expect(ext('block-guidance')[0].valueCodeableConcept.coding[0].code).to.equal('fluoroscopy');
    const contrast = ext('block-contrast')[0].extension;
    expect(contrast).to.deep.include({ url: 'spreadConfirmed', valueBoolean: true });
    const injectates = ext('block-injectate').map((e: { extension: { url: string; valueCodeableConcept?: { coding: { code: string }[] }; valueQuantity?: { value: number; code: string } }[] }) =>
      Object.fromEntries(e.extension.map((x) => [x.url, x.valueCodeableConcept?.coding[0].code ?? `${x.valueQuantity?.value} ${x.valueQuantity?.code}`])),
    );
    expect(injectates).to.deep.equal([
      { drug: '6387', volume: '5 mL', concentration: '1 %' },
      { drug: '3264', volume: '1 mL', concentration: '4 mg/mL' },
    ]);
    expect(proc.complication[0].coding[0]).to.include({ code: 'I95.9' });
    expect((await server.fhir(`/ServiceRequest/${orderId}`)).body.status).to.equal('completed');

    await measure('pain', 'pre-block', '2026-01-15T09:20', '8');
    await measure('pain', 'post-30min', '2026-01-15T10:00', '3');
    await measure('temperature', 'pre-block', '2026-01-15T09:20', '30.0');
    await measure('temperature', 'post-30min', '2026-01-15T10:00', '32.5');

    expect(await page.locator('[data-testid=response]').innerText()).to.equal('positive');
    const outcome = await page.locator('#outcome').innerText();
    expect(outcome).to.contain('62.5 %').and.contain('2.5 °C').and.contain('confirmed');
    expect(await page.locator('[data-testid=outcome-chart] .point-pain').count()).to.equal(2);
    expect(await page.locator('[data-testid=outcome-chart] .point-temperature-left').count()).to.equal(2);

    const obs = (await server.fhir(`/Observation?part-of=Procedure/${proc.id}&_count=50`)).body.entry.map((e: { resource: unknown }) => e.resource);
    const pain = obs.filter((o: { code: { coding: { code: string }[] } }) => o.code.coding[0].code === '72514-3');
    expect(pain.map((o: { valueInteger: number; effectiveDateTime: string; method: { coding: { code: string }[] } }) => [o.valueInteger, o.method.coding[0].code, o.effectiveDateTime])).to.have.deep.members([
      [8, 'pre-block', '2026-01-15T09:20:00Z'],
      [3, 'post-30min', '2026-01-15T10:00:00Z'],
    ]);
    const temps = obs.filter((o: { code: { coding: { code: string }[] } }) => o.code.coding[0].code === '61008-9');
    expect(temps.map((o: { valueQuantity: { value: number } }) => o.valueQuantity.value)).to.have.members([30, 32.5]);
    const relief = (await server.fhir(`/Observation/${proc.id}-percent-relief`)).body;
    expect(relief.valueQuantity.value).to.equal(62.5);
    expect(pageErrors).to.deep.equal([]);
  });

  it("shows the server's validation errors next to the field they concern, and stores nothing", async () => {
    const orderId = await newOrder('PO-PAGE-2');
    await openOrder(orderId);
    // No target level, and a drug without its volume: each message lands at its own field.
    await page.selectOption('#p-guidance', `${CS}/block-guidance|ultrasound`);
    await page.selectOption('#p-drug-0', 'http://www.nlm.nih.gov/research/umls/rxnorm|6387');
    await page.fill('#p-performed', '2026-01-15T09:30');
    await page.click('#procedure-form button[type=submit]');
    await page.locator('#p-levels-error').waitFor();
    expect(await page.locator('#p-levels-error').innerText()).to.contain('level');
    expect(await page.locator('#p-volume-0-error').innerText()).to.contain('volume');
    expect(await page.getAttribute('#p-volume-0', 'aria-invalid')).to.equal('true');
    expect((await server.fhir(`/Procedure?based-on=ServiceRequest/${orderId}`)).body.entry ?? []).to.have.length(0);

    await page.selectOption('#p-levels', `${CS}/block-target|L3`);
    await page.fill('#p-volume-0', '5');
    await page.click('#procedure-form button[type=submit]');
    await page.locator('#measurement-form').waitFor({ state: 'visible' });
    // A temperature typed in °F: the value field gets the server's message, and focus.
    await page.selectOption('#m-kind', 'temperature');
    await page.selectOption('#m-timing', `${TIMING}|pre-block`);
    await page.fill('#m-time', '2026-01-15T09:20');
    await page.fill('#m-value', '98.6');
    await page.press('#m-value', 'Enter');
    await page.locator('#m-value-error').waitFor();
    expect(await page.locator('#m-value-error').innerText()).to.contain('between 10 and 45');
    expect(await page.locator('#m-value:focus').count()).to.equal(1);
    const proc = (await server.fhir(`/Procedure?based-on=ServiceRequest/${orderId}`)).body.entry[0].resource;
    expect((await server.fhir(`/Observation?part-of=Procedure/${proc.id}`)).body.entry ?? []).to.have.length(0);
    expect(pageErrors).to.deep.equal([]);
  });
});
