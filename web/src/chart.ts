/** One point of the chart, from `$outcome`'s `measurement` parameters. */
export interface Point {
  kind: 'pain' | 'temperature';
  time: number;
  value: number;
  side?: string;
  label: string;
}

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 280;
const PAD = { left: 44, right: 52, top: 28, bottom: 40 };
const COLORS: Record<string, string> = { pain: '#b3261e', left: '#1f5fa8', right: '#1b7a3a', bilateral: '#6b4fa0', '': '#555' };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, String(v));
  }
  el.append(...children);
  return el;
}

/**
 * Pain (0–10, left axis, red circles) and skin temperature per side (°C, right axis, squares) over
 * time, as inline SVG: no library, readable at any width (it scales with its viewBox). Every point
 * carries a <title>; the measurements table beside it is the accessible equivalent.
 */
export function chart(points: Point[]): SVGSVGElement {
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart', 'data-testid': 'outcome-chart' });
  const pain = points.filter((p) => p.kind === 'pain');
  const temps = points.filter((p) => p.kind === 'temperature');
  root.setAttribute('aria-label', `Chart of ${pain.length} pain scores and ${temps.length} skin temperatures over time`);
  if (points.length === 0) {
    root.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No measurements yet'));
    return root;
  }
  const t0 = Math.min(...points.map((p) => p.time));
  const t1 = Math.max(...points.map((p) => p.time));
  const span = t1 - t0 || 60_000;
  const x = (t: number) => PAD.left + ((t - t0) / span) * (W - PAD.left - PAD.right);
  const plotH = H - PAD.top - PAD.bottom;
  const yPain = (v: number) => PAD.top + (1 - v / 10) * plotH;
  const tMin = Math.floor(Math.min(...temps.map((p) => p.value), 30) - 1);
  const tMax = Math.ceil(Math.max(...temps.map((p) => p.value), 34) + 1);
  const yTemp = (v: number) => PAD.top + (1 - (v - tMin) / (tMax - tMin)) * plotH;

  // Axes and gridlines.
  for (let v = 0; v <= 10; v += 2) {
    root.append(
      svg('line', { x1: PAD.left, x2: W - PAD.right, y1: yPain(v), y2: yPain(v), class: 'gridline' }),
      svg('text', { x: PAD.left - 6, y: yPain(v) + 4, 'text-anchor': 'end', class: 'axis pain-axis' }, String(v)),
    );
  }
  for (let v = tMin; v <= tMax; v += Math.max(1, Math.round((tMax - tMin) / 5))) {
    root.append(svg('text', { x: W - PAD.right + 6, y: yTemp(v) + 4, class: 'axis temp-axis' }, `${v}°`));
  }
  root.append(
    svg('text', { x: 4, y: 14, class: 'axis pain-axis' }, 'Pain (NRS)'),
    svg('text', { x: W - 4, y: 14, 'text-anchor': 'end', class: 'axis temp-axis' }, 'Skin °C'),
    svg('text', { x: PAD.left, y: H - 8, class: 'axis' }, new Date(t0).toLocaleString()),
    svg('text', { x: W - PAD.right, y: H - 8, 'text-anchor': 'end', class: 'axis' }, new Date(t1).toLocaleString()),
  );

  series(root, pain, x, yPain, COLORS.pain, 'circle', 'pain');
  for (const side of [...new Set(temps.map((p) => p.side ?? ''))]) {
    series(root, temps.filter((p) => (p.side ?? '') === side), x, yTemp, COLORS[side] ?? COLORS[''], 'rect', `temperature-${side || 'unknown'}`);
  }
  return root;
}

function series(
  root: SVGSVGElement,
  points: Point[],
  x: (t: number) => number,
  y: (v: number) => number,
  color: string,
  marker: 'circle' | 'rect',
  name: string,
): void {
  if (points.length === 0) {
    return;
  }
  const sorted = [...points].sort((a, b) => a.time - b.time);
  root.append(svg('polyline', { points: sorted.map((p) => `${x(p.time)},${y(p.value)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2, class: `line-${name}` }));
  for (const p of sorted) {
    const title = svg('title', {}, p.label);
    root.append(
      marker === 'circle'
        ? svg('circle', { cx: x(p.time), cy: y(p.value), r: 5, fill: color, class: `point point-${name}` }, title)
        : svg('rect', { x: x(p.time) - 5, y: y(p.value) - 5, width: 10, height: 10, fill: color, class: `point point-${name}` }, title),
    );
  }
}
