// A strict parser of the Prometheus text exposition format 0.0.4, for tests that scrape /metrics.
// (The npm parse-prometheus-text-format merges every labelled series of a histogram into one and
// drops their labels, so it cannot check per-label histograms.) It throws on anything the format
// rules forbid: a sample before its family's TYPE, a name that does not belong to the family (only
// _bucket/_sum/_count for histograms), bad label syntax or escaping, a duplicate series, a histogram
// without le="+Inf", buckets that are not cumulative, or a +Inf bucket that differs from _count.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(v: string, line: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) throw new Error(`bad value in: ${line}`);
  return Number(v);
}

/** name{a="x",b="y"} value — label values unescaped (\\, \", \n). */
function parseSample(line: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) throw new Error(`bad sample line: ${line}`);
  const name = m[1]!;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (!lm) throw new Error(`bad label at ${i} in: ${line}`);
      i += lm[0].length;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
        i++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else throw new Error(`bad escape \\${e} in: ${line}`);
        } else value += c;
      }
      if (lm[1]! in labels) throw new Error(`label ${lm[1]} twice in: ${line}`);
      labels[lm[1]!] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } at ${i} in: ${line}`);
    }
    i++;
  }
  const rest = line.slice(i);
  const vm = /^ (\S+)( -?\d+)?$/.exec(rest);
  if (!vm) throw new Error(`bad value part "${rest}" in: ${line}`);
  return { name, labels, value: parseValue(vm[1]!, line) };
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const helps = new Map<string, string>();
  let current: Family | null = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (kind === 'HELP') {
        helps.set(name, rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\'));
        if (families.has(name)) families.get(name)!.help = helps.get(name)!;
      } else {
        if (families.has(name)) throw new Error(`second TYPE for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type in: ${line}`);
        current = { name, type: rest as Family['type'], help: helps.get(name) ?? '', samples: [] };
        families.set(name, current);
      }
      continue;
    }
    const s = parseSample(line);
    if (!current) throw new Error(`sample before any TYPE: ${line}`);
    const allowed = current.type === 'histogram' ? [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`] : current.type === 'summary' ? [current.name, `${current.name}_sum`, `${current.name}_count`] : [current.name];
    if (!allowed.includes(s.name)) throw new Error(`sample ${s.name} is not part of family ${current.name} (${current.type})`);
    for (const k of Object.keys(s.labels)) if (!LABEL.test(k)) throw new Error(`bad label name ${k}`);
    if (current.type === 'counter' && !(s.value >= 0)) throw new Error(`negative or NaN counter: ${line}`);
    const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`);
    seen.add(key);
    current.samples.push(s);
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let h = series.get(key);
    if (!h) series.set(key, (h = { buckets: [] }));
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      h.buckets.push([parseValue(le, le), s.value]);
    } else if (s.name.endsWith('_count')) h.count = s.value;
    else h.sum = s.value;
  }
  for (const [key, h] of series) {
    const b = h.buckets.sort((x, y) => x[0] - y[0]);
    if (b.at(-1)?.[0] !== Infinity) throw new Error(`${f.name}${key}: no le="+Inf" bucket`);
    for (let i = 1; i < b.length; i++) if (b[i]![1] < b[i - 1]![1]) throw new Error(`${f.name}${key}: buckets not cumulative`);
    if (h.count === undefined || h.sum === undefined) throw new Error(`${f.name}${key}: _count or _sum missing`);
    if (b.at(-1)![1] !== h.count) throw new Error(`${f.name}${key}: +Inf bucket ${b.at(-1)![1]} ≠ count ${h.count}`);
  }
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when none. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const fam = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  const matches = (fam?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${matches.length} samples match`);
  return matches[0]?.value;
}
