/** A tiny element builder: attributes (and `on*` handlers), then children. Text is always set as text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | number | EventListener | undefined> = {},
  ...children: (Node | string | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) {
      continue;
    }
    if (typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children) {
    if (child !== undefined && child !== false) {
      el.append(child);
    }
  }
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) {
    throw new Error(`#${id} is missing from the page`);
  }
  return el as T;
}

/** A labelled select of coded choices (option value `system|code`), with an empty first option when optional. */
export function options(select: HTMLSelectElement, choices: { system: string; code: string; display: string }[], empty?: string): void {
  select.replaceChildren(
    ...(empty !== undefined ? [h('option', { value: '' }, empty)] : []),
    ...choices.map((c) => h('option', { value: `${c.system}|${c.code}` }, `${c.display} (${c.code})`)),
  );
}

/** `YYYY-MM-DDTHH:MM` for a datetime-local input, in the browser's time zone. */
export function localNow(offsetMinutes = 0): string {
  const d = new Date(Date.now() + offsetMinutes * 60_000 - new Date().getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** A datetime-local value as a FHIR instant (UTC). */
export function toInstant(local: string): string | undefined {
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace('.000Z', 'Z');
}
