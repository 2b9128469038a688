// The config fuzzer's generator. Pure and seeded: (seed, index, seed configs) in, one mutated YAML
// text out; the same inputs give the same text.
//
// Seeds are whole configs (config.example.yaml, the lab's own configs, a keepalived.conf). Each case
// applies 1-3 mutations, either to the parsed data (then written back as YAML): a key deleted, renamed
// with a typo or added (unknown, __proto__, constructor…), a value of the wrong type, a number out of
// range (negative, 0, 256, 2^53, .inf, .nan, fractions), a huge value (100 KB string, 10 000-item list,
// 300-level nesting), unicode (RTL marks, zero-width, emoji, combining marks) in keys and values, a
// list emptied or doubled — or to the text: a line duplicated (duplicate keys), deleted or
// re-indented, a tab, an unclosed bracket or quote, a stray ":" or "-", anchors and alias bombs,
// extra "---" documents, nesting thousands deep, random bytes, truncation.
import { stringify, parse } from 'yaml';
import { Rng } from './mutate.js';

export interface ConfigSeed {
  name: string;
  text: string;
}

export interface ConfigCase {
  seed: string;
  mutations: string[];
  text: string;
}

type Path = (string | number)[];

/** Every path to a value in `v` (the root is []). */
function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function get(root: unknown, p: Path): unknown {
  let v = root;
  for (const k of p) v = (v as Record<string | number, unknown>)?.[k];
  return v;
}

/** Sets (or with `undefined`, deletes) the value at p; returns the new root. */
function set(root: unknown, p: Path, value: unknown): unknown {
  if (p.length === 0) return value;
  const parent = get(root, p.slice(0, -1));
  if (parent === null || typeof parent !== 'object') return root;
  const k = p[p.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(parent) && typeof k === 'number') parent.splice(k, 1);
    else delete (parent as Record<string, unknown>)[k];
  } else (parent as Record<string | number, unknown>)[k] = value;
  return root;
}

const UNICODE = ['\u202eVI_1', 'vi\u200bd', '🚀', 'e\u0301\u0301\u0301', '\ufeffkey', 'ｖｒｉｄ', '\u0000', '\ud800', 'ş', '\u2028line'];
const WEIRD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'vrId', 'virtual_router_id', 'advert_int', '', ' ', '0', 'x'.repeat(300)];

function wrongValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => null,
    () => true,
    () => 'yes',
    () => '',
    () => rng.int(-5, 300),
    () => -1,
    () => 1.5,
    () => [],
    () => ({}),
    () => [1, 'two', null],
    () => ({ a: { b: 1 } }),
    () => '198.51.100.300/24',
    () => '2001:db8::1/129',
    () => rng.pick(UNICODE),
  ])();
}

function numberEdge(rng: Rng): unknown {
  return rng.pick([-1, 0, 1, 255, 256, 4095, 4096, 65535, 65536, 2 ** 31, 2 ** 53, -(2 ** 53), 0.001, 0.5, 1e308, Infinity, -Infinity, NaN, -0]);
}

function huge(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => 'x'.repeat(100_000),
    () => Array.from({ length: 10_000 }, (_, i) => `198.51.100.${i % 256}/24`),
    () => {
      let v: unknown = 1;
      for (let i = 0; i < 300; i++) v = { n: v };
      return v;
    },
    () => Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`VI_${i}`, { vrid: (i % 255) + 1 }])),
  ])();
}

type DataMutation = (root: unknown, p: Path, rng: Rng) => unknown;

const DATA: readonly (readonly [string, DataMutation])[] = [
  ['delete-key', (r, p) => (p.length ? set(r, p, undefined) : r)],
  ['wrong-type', (r, p, rng) => set(r, p, wrongValue(rng))],
  ['number-edge', (r, p, rng) => set(r, p, numberEdge(rng))],
  ['unknown-key', (r, p, rng) => {
    const v = get(r, p);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) (v as Record<string, unknown>)[rng.pick(WEIRD_KEYS)] = wrongValue(rng);
    return r;
  }],
  ['rename-key', (r, p, rng) => {
    const k = p[p.length - 1];
    if (typeof k !== 'string') return r;
    const v = get(r, p);
    set(r, p, undefined);
    const typo = rng.pick([k.toUpperCase(), k + 's', k.slice(1), k.replace(/[A-Z]/, (c) => '_' + c.toLowerCase()), rng.pick(UNICODE) + k]);
    return set(r, [...p.slice(0, -1), typo], v);
  }],
  ['huge-value', (r, p, rng) => set(r, p, huge(rng))],
  ['unicode-value', (r, p, rng) => {
    const v = get(r, p);
    return set(r, p, rng.pick(UNICODE) + (v !== null && typeof v === 'object' ? '' : String(v ?? '')) + rng.pick(UNICODE));
  }],
  ['empty-container', (r, p) => {
    const v = get(r, p);
    return set(r, p, Array.isArray(v) ? [] : v !== null && typeof v === 'object' ? {} : null);
  }],
  ['double-list', (r, p) => {
    const v = get(r, p);
    return Array.isArray(v) ? set(r, p, [...v, ...v]) : r;
  }],
  ['copy-sibling', (r, p, rng) => {
    // a value from elsewhere in the config (an instance's provider block under vips, …)
    const all = paths(r);
    return set(r, p, structuredClone(get(r, rng.pick(all))));
  }],
];

type TextMutation = (text: string, rng: Rng) => string;

const lineOp = (f: (lines: string[], i: number, rng: Rng) => void): TextMutation => (text, rng) => {
  const lines = text.split('\n');
  f(lines, rng.int(0, Math.max(0, lines.length - 1)), rng);
  return lines.join('\n');
};

const TEXT: readonly (readonly [string, TextMutation])[] = [
  ['duplicate-line', lineOp((l, i) => l.splice(i, 0, l[i] ?? ''))],
  ['delete-line', lineOp((l, i) => l.splice(i, 1))],
  ['reindent', lineOp((l, i, rng) => (l[i] = ' '.repeat(rng.int(0, 9)) + (l[i] ?? '').trimStart()))],
  ['tab', lineOp((l, i) => (l[i] = '\t' + (l[i] ?? '')))],
  ['unclosed', lineOp((l, i, rng) => (l[i] = (l[i] ?? '') + rng.pick([' [', ' {', ' "', " '", ' [1, 2', ' {a: 1'])))],
  ['stray-char', (t, rng) => {
    const at = rng.int(0, t.length);
    return t.slice(0, at) + rng.pick([':', '- ', '? ', '&', '*', '!', '|', '>', '%', '@', '`', '#', ',', ']', '}', '\n---\n', '\n...\n']) + t.slice(at);
  }],
  ['delete-chars', (t, rng) => {
    const at = rng.int(0, t.length);
    return t.slice(0, at) + t.slice(at + rng.int(1, 20));
  }],
  ['truncate', (t, rng) => t.slice(0, rng.int(0, t.length))],
  ['random-bytes', (t, rng) => {
    const at = rng.int(0, t.length);
    return t.slice(0, at) + rng.bytes(rng.int(1, 32)).toString('latin1') + t.slice(at);
  }],
  ['alias-bomb', (t, rng) =>
    rng.pick([
      'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
      'x: &x {vrid: 1}\ny: *x\nz: *nope\n',
      '<<: *undefined\n',
      'a: &a\n  b: *a\n',
    ]) + t],
  ['tags', lineOp((l, i, rng) => (l[i] = (l[i] ?? '').replace(/: /, `: ${rng.pick(['!!binary ', '!!int ', '!!float ', '!!map ', '!!seq ', '!custom ', '!!timestamp ', '!!js/function '])}`)))],
  ['bom-crlf', (t, rng) => (rng.next() < 0.5 ? '\ufeff' + t : t.replace(/\n/g, '\r\n'))],
  ['deep-nesting', lineOp((l, i, rng) => {
    const n = rng.pick([100, 1000, 5000]);
    l[i] = (l[i] ?? '').replace(/: .*$/, ': ') + rng.pick(['[', '{a: ', '- ']).repeat(n);
  })],
];

/** One mutated config: deterministic in (seed, index, seeds). */
export function configCase(seed: number, index: number, seeds: readonly ConfigSeed[]): ConfigCase {
  const rng = new Rng((seed ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  const base = rng.pick(seeds);
  const mutations: string[] = [];
  let text = base.text;
  let data: unknown;
  try {
    data = parse(text);
  } catch {
    data = undefined;
  }
  const n = rng.int(1, 3);
  // data mutations first (they rewrite the whole text), then text ones
  const useData = data !== undefined && data !== null && rng.next() < 0.6;
  if (useData) {
    let root = data;
    for (let k = 0; k < n; k++) {
      const [name, f] = rng.pick(DATA);
      const all = paths(root);
      // prefer deep paths (most of the config's meaning is in instances.*.*)
      const p = all[Math.floor(Math.sqrt(rng.next()) * all.length)] ?? [];
      root = f(root, p, rng);
      mutations.push(name);
    }
    try {
      text = stringify(root, { aliasDuplicateObjects: false, lineWidth: 0 });
    } catch (e) {
      text = `# could not stringify: ${(e as Error).message}\n${text}`;
      mutations.push('stringify-failed');
    }
    if (rng.next() < 0.3) {
      const [name, f] = rng.pick(TEXT);
      text = f(text, rng);
      mutations.push(name);
    }
  } else {
    for (let k = 0; k < n; k++) {
      const [name, f] = rng.pick(TEXT);
      text = f(text, rng);
      mutations.push(name);
    }
  }
  return { seed: base.name, mutations, text };
}

export const CONFIG_MUTATIONS = [...DATA.map(([n]) => n), ...TEXT.map(([n]) => n)];
