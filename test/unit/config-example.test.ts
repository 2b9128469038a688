// config.example.yaml must stay valid, warning-free, documented and complete: every key the schema
// knows (found by walking the zod shape) must appear in it, each with a comment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, MAX_VIPS } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import { repoRoot } from '../support/fixtures.js';

const text = readFileSync(join(repoRoot(), 'config.example.yaml'), 'utf8');

interface Def {
  type: string;
  [k: string]: unknown;
}
const defOf = (s: unknown) => (s as { def: Def }).def;

/** Every key path in the schema: records as "*", discriminated-union options merged. */
function schemaPaths(schema: unknown, prefix: string[] = []): string[][] {
  const def = defOf(schema);
  switch (def.type) {
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
      return schemaPaths(def['innerType'], prefix);
    case 'pipe':
      return schemaPaths(def['in'], prefix);
    case 'record':
      return schemaPaths(def['valueType'], [...prefix, '*']);
    case 'union':
      return (def['options'] as unknown[]).flatMap((o) => schemaPaths(o, prefix));
    case 'object':
      return Object.entries(def['shape'] as Record<string, unknown>).flatMap(([key, child]) => [
        [...prefix, key],
        ...schemaPaths(child, [...prefix, key]),
      ]);
    default: // leaves (number, string, boolean, enum, literal, array of leaves)
      return [];
  }
}

/** Does some concrete path of the YAML data match the pattern ("*" = any key)? */
function present(data: unknown, pattern: string[]): boolean {
  if (pattern.length === 0) return true;
  if (data === null || typeof data !== 'object') return false;
  const [head, ...rest] = pattern as [string, ...string[]];
  const obj = data as Record<string, unknown>;
  if (head === '*') return Object.values(obj).some((v) => present(v, rest));
  return Object.prototype.hasOwnProperty.call(obj, head) && present(obj[head], rest);
}

test('config.example.yaml parses with no errors and no warnings', () => {
  const r = parseConfig(text);
  assert.equal(r.ok, true, r.ok ? '' : JSON.stringify(r.errors, null, 2));
  assert.deepEqual(r.warnings, []);
});

test('config.example.yaml shows every key of the schema', () => {
  const paths = schemaPaths(ConfigSchema);
  assert.ok(paths.length >= 25, `schema walk found only ${paths.length} keys`);
  const data: unknown = parseYaml(text);
  const missing = paths.filter((p) => !present(data, p)).map((p) => p.join('.'));
  assert.deepEqual(missing, [], `keys missing from config.example.yaml: ${missing.join(', ')}`);
});

test('the schema walk really sees nested keys (guards the test above)', () => {
  const joined = schemaPaths(ConfigSchema).map((p) => p.join('.'));
  for (const k of ['log.level', 'status.listen', 'instances.*.unicast.checkSource', 'instances.*.garp.lowerPrioRepeat', 'instances.*.provider.type', 'instances.*.auth.password']) {
    assert.ok(joined.includes(k), k);
  }
});

test('every key line in config.example.yaml carries a comment', () => {
  const keyLines = text.split('\n').filter((l) => /^\s*[A-Za-z][A-Za-z0-9_]*:/.test(l));
  assert.ok(keyLines.length > 30);
  const bare = keyLines.filter((l) => !l.includes('#'));
  assert.deepEqual(bare, []);
});

test('every comment on a leaf key states its default or that it is required', () => {
  const leafLines = text.split('\n').filter((l) => /^\s*[A-Za-z][A-Za-z0-9_]*:\s*[^\s#]/.test(l));
  const firstOfEach = new Map<string, string>();
  for (const l of leafLines) {
    const key = l.trim().split(':')[0]!;
    if (!firstOfEach.has(key)) firstOfEach.set(key, l);
  }
  const undocumented = [...firstOfEach.values()].filter((l) => !/default|required/i.test(l.split('#').slice(1).join('#')));
  assert.deepEqual(undocumented, []);
});

/** [key, min, max] of every whole-number key with a range, found by walking the schema. */
function intRanges(schema: unknown, key = ''): [string, number, number][] {
  const s = schema as { def: Def; isInt?: boolean; minValue?: number | null; maxValue?: number | null };
  const def = s.def;
  switch (def.type) {
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
      return intRanges(def['innerType'], key);
    case 'pipe':
      return intRanges(def['in'], key);
    case 'record':
      return intRanges(def['valueType'], key);
    case 'union':
      return (def['options'] as unknown[]).flatMap((o) => intRanges(o, key));
    case 'object':
      return Object.entries(def['shape'] as Record<string, unknown>).flatMap(([k, child]) => intRanges(child, k));
    case 'number':
      return s.isInt && typeof s.minValue === 'number' && typeof s.maxValue === 'number' && Number.isSafeInteger(s.maxValue) ? [[key, s.minValue, s.maxValue]] : [];
    default:
      return [];
  }
}

test('the documented ranges are the schema\'s (whole-number keys, and the VIP list)', () => {
  const lines = text.split('\n');
  const commentOf = (key: string) => lines.find((l) => new RegExp(`^\\s*${key}:`).test(l))?.split('#').slice(1).join('#') ?? '';
  const ranges = intRanges(ConfigSchema);
  assert.deepEqual(ranges.map(([k]) => k).sort(), ['delay', 'expectStatus', 'fall', 'fall', 'fall', 'fall', 'lowerPrioRepeat', 'priority', 'realtimePriority', 'refresh', 'refreshRepeat', 'repeat', 'resignBelow', 'rise', 'rise', 'rise', 'rise', 'ttl', 'vrid', 'weight', 'weight', 'weight', 'weight', 'weight'], 'the walk sees the ranged keys');
  const wrong = ranges.filter(([key, min, max]) => !commentOf(key).includes(`${min}..${max}`)).map(([k, min, max]) => `${k} (${min}..${max})`);
  assert.deepEqual(wrong, [], `comments without the schema's range: ${wrong.join(', ')}`);
  const vipComments = lines.filter((l) => /^\s*vips:/.test(l));
  assert.equal(vipComments.length, 8);
  for (const l of vipComments) assert.match(l, new RegExp(`# required: 1\\.\\.${MAX_VIPS} `));
});

test('the example is the promised instances: multicast v3 and unicast v2 with auth on garp, one unicast instance per aws mode, then one on alibaba, IPv6 on garp, and one elected through etcd', () => {
  const r = parseConfig(text);
  assert.ok(r.ok);
  const insts = Object.values(r.config.instances);
  assert.equal(insts.length, 8);
  assert.equal(insts.filter((i) => i.election?.type === 'etcd').length, 1);
  const ipv6 = insts.find((i) => i.vips[0]?.includes(':'))!;
  assert.deepEqual([ipv6.provider.type, ipv6.version, ipv6.vips], ['garp', 3, ['2001:db8::100/64']]);
  const garp = insts.filter((i) => i.provider.type === 'garp' && i !== ipv6 && i.election?.type !== 'etcd');
  assert.equal(garp.length, 2);
  const aws = insts.filter((i) => i.provider.type === 'aws');
  assert.deepEqual(aws.map((i) => i.provider.type === 'aws' && i.provider.mode), ['secondary-ip', 'route-table', 'elastic-ip']);
  assert.ok(aws.every((i) => i.unicast !== undefined), 'multicast does not cross a VPC: every aws instance is unicast');
  const alibaba = insts.filter((i) => i.provider.type === 'alibaba');
  assert.equal(alibaba.length, 1);
  assert.ok(alibaba[0]!.unicast !== undefined, 'a HaVip does not carry multicast: the alibaba instance is unicast');
  assert.equal(alibaba[0]!.vips.length, 1, 'a HaVip has one address');
  const p = alibaba[0]!.provider;
  assert.ok(p.type === 'alibaba' && p.associate === 'never' && p.protocol === 'https', 'the alibaba example shows the defaults of associate and protocol');
  const multicast = garp.find((i) => i.unicast === undefined);
  const unicast = garp.find((i) => i.unicast !== undefined);
  assert.equal(multicast?.version, 3);
  assert.equal(unicast?.version, 2);
  assert.equal(unicast?.auth?.type, 'pass');
});

test('the example only uses documentation addresses (198.51.100.0/24; 203.0.113.0/24 for overlay and Elastic IPs) for nodes and VIPs', () => {
  const addresses = text.match(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g) ?? [];
  const others = addresses.filter((a) => !a.startsWith('198.51.100.') && !a.startsWith('203.0.113.') && a !== '127.0.0.1' && a !== '224.0.0.18');
  assert.deepEqual(others, []);
});
