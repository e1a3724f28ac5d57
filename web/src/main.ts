import { chart, type Point } from './chart.js';
import { byId, h, localNow, options, toInstant } from './dom.js';
import { entries, fhir, FhirError, setToken, token, type Json } from './fhir.js';
import { clearErrors, showErrors } from './field-errors.js';
import { buildMeasurement, buildProcedure, COMPLICATIONS, MEASUREMENT_RULES, PROCEDURE_RULES, type InjectateInput } from './resources.js';
import { choiceValue, loadValueSets, parseChoice, type Choice } from './terminology.js';

/**
 * The physician page: active orders → one order → record its procedure → enter pain scores and
 * temperatures → the server's outcome ($outcome) and a chart. Every read and write goes to /fhir
 * like any other client; the server validates and derives, the page only shows.
 */
let valueSets = new Map<string, Choice[]>();
let current: { order: Json; patient?: Json; procedure?: Json } | undefined;
let drugRows = 0;

const vs = (name: string): Choice[] => valueSets.get(name) ?? [];
const status = (text: string) => (byId('page-status').textContent = text);

async function start(): Promise<void> {
  byId<HTMLInputElement>('token').value = token() ?? '';
  byId('token-state').textContent = token() ? 'Token set' : '';
  byId('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken(byId<HTMLInputElement>('token').value.trim() || undefined);
    byId('token-state').textContent = token() ? 'Token set' : 'No token';
    void init();
  });
  byId('token-clear').addEventListener('click', () => {
    setToken(undefined);
    byId<HTMLInputElement>('token').value = '';
    byId('token-state').textContent = 'No token';
  });
  byId('order-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    void listOrders();
  });
  byId('back').addEventListener('click', () => showOrders());
  byId('procedure-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void recordProcedure();
  });
  byId('measurement-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void recordMeasurement();
  });
  byId('m-kind').addEventListener('change', measurementKindChanged);
  byId('add-drug').addEventListener('click', () => addDrugRow(true));
  await init();
}

async function init(): Promise<void> {
  try {
    valueSets = await loadValueSets();
    await listOrders();
  } catch (err) {
    status(err instanceof FhirError && err.status === 401 ? 'The server needs an access token: paste one above.' : `Could not load: ${String(err)}`);
  }
}

// ---- Orders -------------------------------------------------------------------------------------

async function listOrders(): Promise<void> {
  const form = byId<HTMLFormElement>('order-filter');
  clearErrors(form);
  const wanted = byId<HTMLSelectElement>('f-status').value || 'active';
  const q = new URLSearchParams({ status: wanted, _sort: '-authored', _count: '50', _include: 'ServiceRequest:subject' });
  const name = byId<HTMLInputElement>('f-patient').value.trim();
  const from = byId<HTMLInputElement>('f-from').value;
  const to = byId<HTMLInputElement>('f-to').value;
  if (name) {
    q.set('subject:Patient.name', name);
  }
  if (from) {
    q.append('authored', `ge${from}`);
  }
  if (to) {
    q.append('authored', `le${to}`);
  }
  let bundle: Json;
  try {
    bundle = await fhir(`ServiceRequest?${q}`);
  } catch (err) {
    return showErrors(form, err as FhirError, [['authored', 'f-from'], ['subject', 'f-patient']]);
  }
  const patients = new Map(entries(bundle, 'Patient').map((p) => [`Patient/${p.id}`, p]));
  const rows = entries(bundle, 'ServiceRequest').map((order) =>
    h(
      'tr',
      {},
      h('td', {}, order.authoredOn ? new Date(order.authoredOn).toLocaleDateString() : ''),
      h('td', {}, patientName(patients.get(order.subject?.reference))),
      h('td', {}, conceptText(order.code)),
      h('td', {}, conceptText(order.bodySite?.[0])),
      h('td', {}, order.status),
      h('td', {}, h('button', { type: 'button', 'data-order': order.id, onclick: () => void openOrder(order.id) }, 'Open')),
    ),
  );
  byId('orders').querySelector('tbody')!.replaceChildren(...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 6 }, 'No orders match.'))]));
  status(`${rows.length} order${rows.length === 1 ? '' : 's'}`);
}

function showOrders(): void {
  current = undefined;
  byId('order-view').hidden = true;
  byId('orders-view').hidden = false;
  byId('orders-title').focus();
  void listOrders();
}

async function openOrder(id: string): Promise<void> {
  const order = await fhir(`ServiceRequest/${id}`);
  const patient = await fhir(order.subject.reference).catch(() => undefined);
  const procedures = entries(await fhir(`Procedure?based-on=ServiceRequest/${id}&_sort=-_lastUpdated`), 'Procedure').filter(
    (p) => p.status !== 'entered-in-error',
  );
  current = { order, patient, procedure: procedures[0] };
  byId('orders-view').hidden = true;
  byId('order-view').hidden = false;
  byId('order-title').textContent = `${conceptText(order.code)} — ${patientName(patient)}`;
  details(byId('order-details'), [
    ['Patient', patientName(patient)],
    ['Order', order.identifier?.[0]?.value ?? order.id],
    ['Status', order.status],
    ['Side', conceptText(order.bodySite?.[0])],
    ['Indication', (order.reasonCode ?? []).map(conceptText).join(', ')],
    ['Purpose', (order.orderDetail ?? []).map(conceptText).join(', ')],
  ]);
  if (current.procedure) {
    await showProcedure();
  } else {
    await showProcedureForm();
  }
  byId('order-title').focus();
}

// ---- Procedure ----------------------------------------------------------------------------------

async function showProcedureForm(): Promise<void> {
  const order = current!.order;
  const form = byId<HTMLFormElement>('procedure-form');
  clearErrors(form);
  form.hidden = false;
  byId('procedure-view').hidden = true;
  byId('measurement-form').hidden = true;
  byId('outcome-view').hidden = true;
  options(byId('p-code'), vs('sympathetic-block-procedure'));
  selectCoding(byId('p-code'), order.code?.coding);
  options(byId('p-side'), vs('laterality'), '— midline (no side) —');
  selectCoding(byId('p-side'), order.bodySite?.[0]?.coding);
  byId<HTMLInputElement>('p-site').value = order.bodySite?.[0]?.text ?? '';
  options(byId('p-levels'), vs('block-target-level'));
  options(byId('p-guidance'), vs('block-guidance'), '— none —');
  options(byId('p-contrast-agent'), vs('block-contrast-agent'), '— no contrast —');
  byId<HTMLInputElement>('p-performed').value = localNow(-1);
  byId('complication-choices').replaceChildren(
    ...COMPLICATIONS.map((c, i) =>
      h('label', { for: `p-comp-${i}` }, h('input', { type: 'checkbox', id: `p-comp-${i}`, value: choiceValue(c) }), `${c.display} (${c.code})`),
    ),
  );
  byId('injectate-rows').replaceChildren();
  drugRows = 0;
  addDrugRow(false);
  const practitioners = entries(await fhir('Practitioner?_count=100'), 'Practitioner');
  byId('p-performer').replaceChildren(
    ...practitioners.map((p) => h('option', { value: `Practitioner/${p.id}`, selected: order.requester?.reference === `Practitioner/${p.id}` }, patientName(p))),
  );
}

function addDrugRow(focus: boolean): void {
  const i = drugRows++;
  const drug = h('select', { id: `p-drug-${i}` });
  options(drug, vs('block-injectate-drug'), '— drug —');
  const row = h(
    'div',
    { class: 'injectate' },
    h('div', {}, h('label', { for: `p-drug-${i}` }, `Drug ${i + 1}`), drug),
    h('div', {}, h('label', { for: `p-volume-${i}` }, 'Volume (mL)'), h('input', { id: `p-volume-${i}`, type: 'number', min: 0, step: 0.1, inputmode: 'decimal' })),
    h('div', {}, h('label', { for: `p-conc-${i}` }, 'Concentration'), h('input', { id: `p-conc-${i}`, type: 'number', min: 0, step: 0.01, inputmode: 'decimal' })),
    h(
      'div',
      {},
      h('label', { for: `p-conc-unit-${i}` }, 'Unit'),
      h('select', { id: `p-conc-unit-${i}` }, h('option', { value: '%' }, '%'), h('option', { value: 'mg/mL' }, 'mg/mL')),
    ),
  );
  byId('injectate-rows').append(row);
  if (focus) {
    drug.focus();
  }
}

async function recordProcedure(): Promise<void> {
  const form = byId<HTMLFormElement>('procedure-form');
  const injectates: InjectateInput[] = [];
  for (let i = 0; i < drugRows; i++) {
    injectates.push({
      drug: parseChoice(byId<HTMLSelectElement>(`p-drug-${i}`).value, vs('block-injectate-drug')),
      volume: byId<HTMLInputElement>(`p-volume-${i}`).value,
      concentration: byId<HTMLInputElement>(`p-conc-${i}`).value,
      concentrationUnit: byId<HTMLSelectElement>(`p-conc-unit-${i}`).value as '%' | 'mg/mL',
      ids: { drug: `p-drug-${i}`, volume: `p-volume-${i}`, concentration: `p-conc-${i}` },
    });
  }
  const complications = [...form.querySelectorAll<HTMLInputElement>('#complication-choices input:checked')].map(
    (box) => COMPLICATIONS.find((c) => choiceValue(c) === box.value)!,
  );
  const otherCode = byId<HTMLInputElement>('p-comp-code').value.trim();
  if (otherCode) {
    complications.push({ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: otherCode, display: byId<HTMLInputElement>('p-comp-text').value.trim() });
  }
  const { resource, fields } = buildProcedure({
    order: current!.order,
    code: parseChoice(byId<HTMLSelectElement>('p-code').value, vs('sympathetic-block-procedure')),
    side: parseChoice(byId<HTMLSelectElement>('p-side').value, vs('laterality')),
    siteText: byId<HTMLInputElement>('p-site').value,
    levels: [...byId<HTMLSelectElement>('p-levels').selectedOptions].map((o) => parseChoice(o.value, vs('block-target-level'))!),
    guidance: parseChoice(byId<HTMLSelectElement>('p-guidance').value, vs('block-guidance')),
    contrastAgent: parseChoice(byId<HTMLSelectElement>('p-contrast-agent').value, vs('block-contrast-agent')),
    contrastVolume: byId<HTMLInputElement>('p-contrast-volume').value,
    spreadConfirmed: byId<HTMLInputElement>('p-spread').checked,
    injectates,
    complications,
    performer: byId<HTMLSelectElement>('p-performer').value,
    performed: toInstant(byId<HTMLInputElement>('p-performed').value),
    status: byId<HTMLSelectElement>('p-status').value as 'completed' | 'in-progress',
    note: byId<HTMLTextAreaElement>('p-note').value,
  });
  try {
    current!.procedure = await fhir('Procedure', { method: 'POST', body: resource });
  } catch (err) {
    return showErrors(form, err as FhirError, fields, PROCEDURE_RULES);
  }
  status('Procedure recorded');
  await showProcedure();
  byId('procedure-title').focus();
}

async function showProcedure(): Promise<void> {
  const p = current!.procedure;
  byId('procedure-form').hidden = true;
  byId('procedure-view').hidden = false;
  const ext = (name: string) => (p.extension ?? []).filter((e: Json) => e.url.endsWith(`/${name}`));
  details(byId('procedure-details'), [
    ['Status', p.status],
    ['Block', conceptText(p.code)],
    ['Side', conceptText(p.bodySite?.[0])],
    ['Levels', ext('block-target-level').map((e: Json) => conceptText(e.valueCodeableConcept)).join(', ')],
    ['Guidance', ext('block-guidance').map((e: Json) => conceptText(e.valueCodeableConcept)).join(', ')],
    ['Injectate', ext('block-injectate').map(injectateText).join('; ')],
    ['Performed', p.performedDateTime ? new Date(p.performedDateTime).toLocaleString() : ''],
    ['Complications', (p.complication ?? []).map(conceptText).join(', ') || 'none'],
  ]);
  showMeasurementForm();
  await refreshOutcome();
}

// ---- Measurements and outcome -------------------------------------------------------------------

function showMeasurementForm(): void {
  const form = byId<HTMLFormElement>('measurement-form');
  clearErrors(form);
  form.hidden = false;
  options(byId('m-timing'), vs('block-timing'));
  options(
    byId('m-side'),
    vs('laterality').filter((c) => ['7771000', '24028007'].includes(c.code)),
  );
  selectCoding(byId('m-side'), current!.procedure.bodySite?.[0]?.coding);
  byId<HTMLInputElement>('m-time').value = localNow(-1);
  measurementKindChanged();
}

function measurementKindChanged(): void {
  const temperature = byId<HTMLSelectElement>('m-kind').value === 'temperature';
  document.querySelectorAll<HTMLElement>('.temp-only').forEach((el) => (el.hidden = !temperature));
  byId('m-value-label').textContent = temperature ? 'Temperature (°C)' : 'Score (0–10)';
  byId<HTMLInputElement>('m-value').step = temperature ? '0.1' : '1';
}

async function recordMeasurement(): Promise<void> {
  const form = byId<HTMLFormElement>('measurement-form');
  const kind = byId<HTMLSelectElement>('m-kind').value as 'pain' | 'temperature';
  const { resource, fields } = buildMeasurement({
    kind,
    procedure: current!.procedure,
    timing: parseChoice(byId<HTMLSelectElement>('m-timing').value, vs('block-timing')),
    effective: toInstant(byId<HTMLInputElement>('m-time').value),
    value: byId<HTMLInputElement>('m-value').value,
    side: kind === 'temperature' ? parseChoice(byId<HTMLSelectElement>('m-side').value, vs('laterality')) : undefined,
    site: byId<HTMLInputElement>('m-site').value,
  });
  try {
    await fhir('Observation', { method: 'POST', body: resource });
  } catch (err) {
    return showErrors(form, err as FhirError, fields, MEASUREMENT_RULES);
  }
  clearErrors(form);
  byId<HTMLInputElement>('m-value').value = '';
  status(`${kind === 'pain' ? 'Pain score' : 'Temperature'} saved`);
  await refreshOutcome();
  byId('m-value').focus();
}

async function refreshOutcome(): Promise<void> {
  const out = await fhir(`Procedure/${current!.procedure.id}/$outcome`);
  const params: Json[] = out.parameter ?? [];
  const one = (name: string) => params.find((p) => p.name === name);
  const part = (p: Json, name: string) => p?.part?.find((x: Json) => x.name === name);
  const relief = one('relief');
  const temp = one('temperature');
  const response = one('response')?.valueCoding?.code;
  const rows: [string, string | Node][] = [
    ['Diagnostic response', response ? h('span', { class: `response-${response}`, 'data-testid': 'response' }, response) : 'not determined'],
    ['Pain relief', relief ? `${part(relief, 'percent').valueQuantity.value} %` : '—'],
  ];
  if (temp) {
    const rise = part(temp, 'rise')?.valueQuantity?.value;
    rows.push(
      ['Temperature rise (blocked side)', rise === undefined ? '—' : `${rise} °C`],
      ['Sympathetic blockade', part(temp, 'blockadeConfirmed')?.valueBoolean ? 'confirmed' : 'not confirmed'],
    );
  }
  for (const note of params.filter((p) => p.name === 'note')) {
    rows.push(['Note', note.valueString]);
  }
  details(byId('outcome'), rows);
  const measurements = params.filter((p) => p.name === 'measurement').map((m) => Object.fromEntries((m.part as Json[]).map((x) => [x.name, x])));
  const points: Point[] = measurements.map((m) => {
    const value = m.kind.valueCode === 'pain' ? m.value.valueInteger : m.value.valueQuantity.value;
    return {
      kind: m.kind.valueCode,
      time: Date.parse(m.effective.valueDateTime),
      value,
      side: m.side?.valueCode,
      label: `${m.kind.valueCode === 'pain' ? 'Pain' : `Temperature ${m.side?.valueCode ?? ''}`} ${value}, ${m.timing.valueCode}`,
    };
  });
  byId('chart-box').replaceChildren(chart(points));
  byId('measurements').querySelector('tbody')!.replaceChildren(
    ...measurements.map((m) =>
      h(
        'tr',
        {},
        h('td', {}, new Date(m.effective.valueDateTime).toLocaleString()),
        h('td', {}, m.timing.valueCode),
        h('td', {}, m.kind.valueCode === 'pain' ? 'Pain score' : `Skin temperature, ${m.side?.valueCode ?? ''}`),
        h('td', {}, m.kind.valueCode === 'pain' ? String(m.value.valueInteger) : `${m.value.valueQuantity.value} °C`),
      ),
    ),
  );
  byId('outcome-view').hidden = false;
}

// ---- Helpers ------------------------------------------------------------------------------------

function details(dl: HTMLElement, rows: [string, string | Node][]): void {
  dl.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v || '—')]));
}

function selectCoding(select: HTMLSelectElement, codings: Json[] | undefined): void {
  const values = new Set([...select.options].map((o) => o.value));
  const hit = (codings ?? []).map((c) => choiceValue(c)).find((v) => values.has(v));
  if (hit) {
    select.value = hit;
  }
}

function conceptText(cc: Json): string {
  if (!cc) {
    return '';
  }
  return cc.text ?? (cc.coding ?? []).map((c: Json) => c.display ?? displayOf(c) ?? c.code).join(', ');
}

function displayOf(c: Json): string | undefined {
  for (const choices of valueSets.values()) {
    const hit = choices.find((x) => x.system === c.system && x.code === c.code);
    if (hit) {
      return hit.display;
    }
  }
  return undefined;
}

function patientName(p: Json): string {
  const n = p?.name?.[0];
  return n ? [...(n.prefix ?? []), ...(n.given ?? []), n.family].filter(Boolean).join(' ') : (p?.id ?? '');
}

function injectateText(e: Json): string {
  const sub = (url: string) => e.extension?.find((x: Json) => x.url === url);
  const q = (x: Json) => (x ? `${x.valueQuantity.value} ${x.valueQuantity.unit ?? x.valueQuantity.code}` : '');
  return [conceptText(sub('drug')?.valueCodeableConcept), q(sub('volume')), q(sub('concentration'))].filter(Boolean).join(' ');
}

void start();
