// PNG charts of `npm run bench` results: Vega-Lite specs built from the data (pure), compiled to Vega,
// rendered to SVG by vega's headless view and to PNG by resvg (no canvas, no browser, no network).
//   failover.png  takeover and client reply per failover cell, every run as a point over a box plot,
//                 ours vs keepalived, the RFC bound as a dashed rule on the takeover;
//   cost-cpu.png  CPU (master + backup, % of one core) against N, one line per implementation,
//                 one panel per advert interval;
//   jitter.png    histogram of the advert send intervals at 10 ms, per load, ours vs keepalived.
import type { BenchResults } from './report.js';
import { scenarioOfKey } from './report.js';

// The Vega-Lite spec type is large; charts here only build plain JSON.
export type VlSpec = Record<string, unknown>;

const COLORS = { domain: ['ours', 'keepalived'], range: ['#1f77b4', '#ff7f0e'] };
/** The jitter chart has a third series: keepalived with vrrp_rt_priority 1 (bench/jitter.ts). */
const JITTER_COLORS = { domain: [...COLORS.domain, 'keepalived-rt'], range: [...COLORS.range, '#d62728'] };
const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', config: { font: 'DejaVu Sans', view: { stroke: '#ccc' } } };

export function failoverSpec(r: BenchResults): VlSpec | null {
  if (!r.failover?.ok) return null;
  const values: { cell: string; impl: string; metric: string; ms: number; bound?: number }[] = [];
  const cells: string[] = [];
  for (const res of r.failover.data.results) {
    const cell = `${res.mode} ${res.kind} ${res.cast}`;
    if (!cells.includes(cell)) cells.push(cell);
    for (const s of res.samples) {
      if (s.takeoverMs !== null) values.push({ cell, impl: res.impl, metric: 'takeover (last advert → new advert)', ms: s.takeoverMs, bound: res.boundMs });
      if (s.clientMs !== null) values.push({ cell, impl: res.impl, metric: 'client reply (from the signal)', ms: s.clientMs });
    }
  }
  if (values.length === 0) return null;
  const enc = { x: { field: 'impl', type: 'nominal', sort: COLORS.domain, title: null, axis: { labels: false, ticks: false } }, y: { field: 'ms', type: 'quantitative', title: 'ms', scale: { zero: false } }, color: { field: 'impl', type: 'nominal', scale: COLORS, title: null } };
  return {
    ...base,
    title: `Failover: ours vs keepalived, ms (dashed: the RFC bound)${r.quick ? ' (quick run)' : ''} — ${r.date}`,
    data: { values },
    facet: { row: { field: 'metric', type: 'nominal', title: null }, column: { field: 'cell', type: 'nominal', sort: cells, title: null, header: { labelAngle: 0, labelFontSize: 9 } } },
    spec: {
      width: 70,
      height: 160,
      layer: [
        { mark: { type: 'boxplot', extent: 'min-max', opacity: 0.4 }, encoding: enc },
        { mark: { type: 'point', filled: true, size: 30 }, encoding: enc },
        { mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3] }, encoding: { y: { field: 'bound', type: 'quantitative' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export function costSpec(r: BenchResults): VlSpec | null {
  if (!r.cost?.ok) return null;
  const values = r.cost.data.results
    .filter((x) => !x.error && (x.impl === 'ours' || x.impl === 'keepalived'))
    .map((x) => {
      const s = scenarioOfKey(x.scenario);
      return { n: s.count, interval: `advert ${s.interval} s`, impl: x.impl, cpu: x.cpuMaster + x.cpuBackup };
    });
  if (values.length === 0) return null;
  return {
    ...base,
    title: `CPU (master + backup, % of one core) vs instances${r.quick ? ' (quick run)' : ''} — ${r.date}`,
    data: { values },
    facet: { column: { field: 'interval', type: 'nominal', title: null } },
    spec: {
      width: 300,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'n', type: 'quantitative', title: 'instances (N)' },
        y: { field: 'cpu', type: 'quantitative', title: 'CPU %' },
        color: { field: 'impl', type: 'nominal', scale: COLORS, title: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export function jitterSpec(r: BenchResults): VlSpec | null {
  if (!r.jitter?.ok) return null;
  const values: { condition: string; impl: string; from: number; to: number; count: number }[] = [];
  const conditions = [...new Set(r.jitter.data.results.map((x) => `load: ${x.condition}`))];
  for (const res of r.jitter.data.results) {
    const bin = res.histogram.length > 1 ? res.histogram[1]!.from - res.histogram[0]!.from : 1;
    for (const h of res.histogram) if (h.count > 0) values.push({ condition: `load: ${res.condition}`, impl: res.impl, from: h.from, to: h.from + bin, count: h.count });
  }
  if (values.length === 0) return null;
  return {
    ...base,
    title: `Advert send intervals at ${r.jitter.data.intervalMs} ms (last bin: ≥ 25 ms)${r.quick ? ' (quick run)' : ''} — ${r.date}`,
    data: { values },
    facet: { row: { field: 'condition', type: 'nominal', sort: conditions, title: null }, column: { field: 'impl', type: 'nominal', sort: JITTER_COLORS.domain, title: null } },
    spec: {
      width: 320,
      height: 90,
      mark: { type: 'rect' },
      encoding: {
        x: { field: 'from', type: 'quantitative', title: 'interval between consecutive adverts, ms', scale: { domain: [0, 25] } },
        x2: { field: 'to' },
        y: { field: 'count', type: 'quantitative', title: 'adverts', scale: { type: 'symlog' } },
        color: { field: 'impl', type: 'nominal', scale: JITTER_COLORS, legend: null },
      },
    },
  };
}

/** The chart specs that have data, by file name. */
export function chartSpecs(r: BenchResults): Record<string, VlSpec> {
  const out: Record<string, VlSpec> = {};
  const f = failoverSpec(r);
  const c = costSpec(r);
  const j = jitterSpec(r);
  if (f) out['failover.png'] = f;
  if (c) out['cost-cpu.png'] = c;
  if (j) out['jitter.png'] = j;
  return out;
}

/** Vega-Lite → Vega → SVG (headless) → PNG at 2× (resvg, system fonts, DejaVu Sans by default). */
export async function renderPng(spec: VlSpec): Promise<Buffer> {
  const [vega, vl, { Resvg }] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  const compiled = vl.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  } finally {
    view.finalize();
  }
}
