// Turns zod issues into config issues a person can act on: "path: problem (got X) — fix: …".
// Holds the per-field fixes, the did-you-mean for unknown keys and values (Damerau-Levenshtein),
// and a small table of keepalived keywords → our keys, because our users come from keepalived.
import type { z } from 'zod';
import { ConfigSchema, INSTANCE_NAME_RE, PLANNED_PROVIDER_TYPES } from './schema.js';

import type { ConfigIssue } from './issue.js';
import { CHECK_FIELD_FIXES } from '../checks/config-fixes.js';

export { formatIssue, type ConfigIssue } from './issue.js';

export type PathSegment = string | number;

/** A ConfigIssue plus the raw path it points at (load.ts uses it to find line and column). */
export interface LocatedIssue {
  issue: ConfigIssue;
  at: PathSegment[];
}

/** ["instances", "VI_1", "vips", 2] → "instances.VI_1.vips[2]"; odd keys are quoted: instances["a b"]. */
export function formatPath(path: readonly PathSegment[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Did you mean
// ---------------------------------------------------------------------------------------------

// Lives in did-you-mean.ts (no schema import there, so schema refinements can use it too).
export { didYouMean, editDistance } from './did-you-mean.js';
import { didYouMean, squash } from './did-you-mean.js';

/**
 * keepalived keywords, by where they were written (instance names replaced by *), → our key there.
 * A dotted target means "nested": unicast_peer in an instance is `unicast: { peers: [...] }`.
 */
export const KEEPALIVED_ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  '': {
    vrrp_instance: 'instances',
    vrrp_instances: 'instances',
    log_level: 'log.level',
    vrrp_sync_group: 'syncGroups',
    notify_fifo: 'notifyFifo',
    vrrp_notify_fifo: 'notifyFifo',
  },
  'instances.*': {
    virtual_router_id: 'vrid',
    vrrp_version: 'version',
    advert_int: 'advertInterval',
    preempt_delay: 'preemptDelay',
    unicast_src_ip: 'unicast.source',
    unicast_peer: 'unicast.peers',
    unicast_peers: 'unicast.peers',
    check_unicast_src: 'unicast.checkSource',
    authentication: 'auth',
    auth_type: 'auth.type',
    auth_pass: 'auth.password',
    virtual_ipaddress: 'vips',
    virtual_ipaddresses: 'vips',
    notify_master: 'notify.master',
    notify_backup: 'notify.backup',
    notify_fault: 'notify.fault',
    notify_stop: 'notify.stop',
    virtual_routes: 'routes',
    garp_master_repeat: 'garp.repeat',
    garp_master_delay: 'garp.delay',
    garp_master_refresh: 'garp.refresh',
    garp_master_refresh_repeat: 'garp.refreshRepeat',
    garp_lower_prio_repeat: 'garp.lowerPrioRepeat',
    lower_prio_no_advert: 'lowerPrioNoAdvert',
    v3_checksum_as_v2: 'v3ChecksumAsV2',
  },
  'instances.*.unicast': {
    unicast_src_ip: 'source',
    unicast_peer: 'peers',
    unicast_peers: 'peers',
    check_unicast_src: 'checkSource',
  },
  'instances.*.auth': { auth_type: 'type', auth_pass: 'password' },
  'instances.*.notify': { notify_master: 'master', notify_backup: 'backup', notify_fault: 'fault', notify_stop: 'stop', notify: 'any' },
  'syncGroups.*': { group: 'instances', notify_master: 'notify.master', notify_backup: 'notify.backup', notify_fault: 'notify.fault', notify_stop: 'notify.stop' },
  'instances.*.garp': {
    garp_master_repeat: 'repeat',
    garp_master_delay: 'delay',
    garp_master_refresh: 'refresh',
    garp_master_refresh_repeat: 'refreshRepeat',
    garp_lower_prio_repeat: 'lowerPrioRepeat',
  },
};

/** keepalived keywords that have no key of their own here, with what to do instead. */
const KEEPALIVED_NOTES: Readonly<Record<string, string>> = {
  nopreempt: 'write preempt: false instead (keepalived nopreempt)',
  state:
    'remove it: the node with the highest priority becomes MASTER by election (keepalived state MASTER|BACKUP is only a start-up hint)',
  mcast_src_ip: 'remove it: multicast adverts use the interface primary address (for unicast, use unicast: { source: … })',
  global_defs: 'remove it: global settings here are log: and status: at the top level',
  use_vmac: 'remove it: virtual MACs are not supported (they do not work on cloud networks)',
};

/** Pattern of a path for the tables: instance (and sync group) names → "*", list indices → "[]" ("instances.*.vips[]"). */
export function patternOf(path: readonly PathSegment[]): string {
  let out = '';
  path.forEach((seg, i) => {
    if (typeof seg === 'number') out += '[]';
    else out += (out === '' ? '' : '.') + (i === 1 && (path[0] === 'instances' || path[0] === 'checks' || path[0] === 'syncGroups') ? '*' : seg);
  });
  return out;
}

/** Own-property lookup in a table (never Object.prototype: keys come from the user's file). */
function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Fixes, per field (pattern) and per received type
// ---------------------------------------------------------------------------------------------

const FIELD_FIXES: Readonly<Record<string, string>> = {
  '': 'start from config.example.yaml: the file needs at least instances: with one instance',
  ...CHECK_FIELD_FIXES,
  log: 'write log: { level: info }, or leave it out',
  'log.level': 'use one of trace, debug, info, warn, error, fatal, silent (default info)',
  status: 'write status: { listen: 127.0.0.1:9721 }, or leave it out',
  'status.listen': 'write "host:port" (e.g. 127.0.0.1:9721) or "off" to disable the status server',
  instances: 'add at least one instance, e.g. instances: { VI_1: { interface: eth0, vrid: 51, vips: [198.51.100.100/24] } }',
  'instances.*': 'each instance is a mapping with at least interface, vrid and vips',
  'instances.*.interface': 'name the interface that carries VRRP, exactly as `ip link` shows it (e.g. eth0)',
  'instances.*.vrid': 'use the same VRID (1..255) on every node of this virtual router',
  'instances.*.priority':
    'use 1..254 (255 only on the node that owns the addresses); give each node a different priority, the intended master about 50 higher',
  'instances.*.version': "use 2 (keepalived's default) or 3, the same on every node",
  'instances.*.advertInterval':
    'use the same interval on every node: whole seconds 1..255 with version 2, 0.01..40.95 in steps of 0.01 with version 3',
  'instances.*.preempt': 'write true (a higher-priority node takes over from a lower one) or false',
  'instances.*.preemptDelay': 'use 0..1000 seconds (only meaningful with preempt: true)',
  'instances.*.unicast': 'write unicast: { peers: [198.51.100.2] }, or remove unicast: to use multicast',
  'instances.*.unicast.source': "write this node's own IPv4 address, or leave source out to use the interface's primary address",
  'instances.*.unicast.peers': "list the other nodes' IPv4 addresses, e.g. peers: [198.51.100.2]",
  'instances.*.unicast.peers[]': "write another node's IPv4 address, e.g. 198.51.100.2",
  'instances.*.unicast.checkSource': 'write true (drop adverts from addresses not in peers) or false',
  'instances.*.auth': 'write auth: { type: pass, password: <1..8 characters> }, or remove it',
  'instances.*.auth.type': 'use type: pass (simple password, VRRPv2 only; AH is not supported)',
  'instances.*.auth.password': 'use 1..8 characters, the same on every node',
  'instances.*.vips': 'list 1..255 IPv4 addresses as a.b.c.d or a.b.c.d/len, e.g. vips: [198.51.100.100/24]',
  'instances.*.vips[]': 'write the VIP as a.b.c.d or a.b.c.d/len (len 1..32), e.g. 198.51.100.100/24',
  'instances.*.provider': 'write provider: { type: garp }, or leave it out (garp is the default)',
  'instances.*.provider.type': 'use type: garp (aws and alibaba come in a later version)',
  'instances.*.provider.timing': 'write e.g. timing: { faultAfter: 10 } (seconds), or leave it out for the provider type\'s defaults',
  'instances.*.provider.timing.operationTimeout': 'use 0.1..600 seconds: the deadline of one provider call',
  'instances.*.provider.timing.confirmTimeout': 'use 0..600 seconds: how long a takeover waits for the backend to confirm it',
  'instances.*.provider.timing.reconcile': 'use 1..3600 seconds between checks that the VIPs are where they should be',
  'instances.*.provider.timing.backoffBase': 'use 0.01..600 seconds: the first retry delay after a failed provider call',
  'instances.*.provider.timing.backoffMax': 'use 0.1..3600 seconds: the longest retry delay',
  'instances.*.provider.timing.faultAfter': 'use 0.1..3600 seconds: how long a master may fail to take the VIPs before it gives up (FAULT)',
  'instances.*.garp': "write e.g. garp: { repeat: 5, delay: 5 }, or leave it out for keepalived's defaults",
  'instances.*.garp.repeat': 'use 1..100 GARPs per VIP per burst (keepalived garp_master_repeat, default 5)',
  'instances.*.garp.delay': 'use 0..3600 seconds until the second burst, 0 for none (keepalived garp_master_delay, default 5)',
  'instances.*.garp.refresh': 'use 0..86400 seconds between re-announcements, 0 for off (keepalived garp_master_refresh)',
  'instances.*.garp.refreshRepeat': 'use 1..100 GARPs per re-announcement (keepalived garp_master_refresh_repeat, default 1)',
  'instances.*.garp.lowerPrioRepeat': 'use 0..100 GARPs (keepalived garp_lower_prio_repeat, default 5)',
  'instances.*.lowerPrioNoAdvert': 'write true or false (keepalived lower_prio_no_advert, default false)',
  'instances.*.v3ChecksumAsV2': 'write true or false, matching v3_checksum_as_v2 on keepalived peers (default false)',
};

function fieldFix(path: readonly PathSegment[]): string {
  return lookup(FIELD_FIXES, patternOf(path)) ?? 'correct or remove this value (see config.example.yaml)';
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  string: 'text',
  object: 'a mapping (key: value)',
  record: 'a mapping (key: value)',
  array: 'a list',
};

function isSecret(path: readonly PathSegment[]): boolean {
  return path[path.length - 1] === 'password';
}

/** How a received value is shown in a message (passwords never are). */
export function describe(value: unknown, path: readonly PathSegment[] = []): string {
  if (isSecret(path) && value !== undefined) {
    return typeof value === 'string' ? `[redacted, ${Buffer.byteLength(value)} bytes]` : `[redacted ${Array.isArray(value) ? 'list' : typeof value}]`;
  }
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

/** A fix for a value of the wrong type, when the received value tells us more than the field does. */
function typeFix(expected: string, value: unknown): string | undefined {
  if ((expected === 'number' || expected === 'int') && typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) {
    return `write the number without quotes: ${value.trim()}`;
  }
  if (expected === 'boolean' && typeof value === 'string') {
    return 'write true or false without quotes (YAML 1.2 reads yes/no/on/off as text)';
  }
  if (expected === 'boolean' && (value === 0 || value === 1)) return 'write true or false';
  if (expected === 'array' && typeof value === 'string') return `write a list: [${value}]`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading the schema: which keys / values are allowed at a path
// ---------------------------------------------------------------------------------------------

interface SchemaNode {
  def: { type: string; [k: string]: unknown };
  minValue?: number | null;
  maxValue?: number | null;
}

const asNode = (s: unknown) => s as SchemaNode;

/** Strips default/prefault/optional/pipe wrappers. */
function unwrap(s: SchemaNode): SchemaNode {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    const d = cur.def;
    if (d.type === 'default' || d.type === 'prefault' || d.type === 'optional' || d.type === 'nullable' || d.type === 'readonly') {
      cur = asNode(d['innerType']);
    } else if (d.type === 'pipe') {
      cur = asNode(d['in']);
    } else break;
  }
  return cur;
}

/** The schema that validates the value at `path` (raw guides discriminated unions), or undefined. */
function schemaAt(path: readonly PathSegment[], raw: unknown): SchemaNode | undefined {
  let node: SchemaNode | undefined = unwrap(asNode(ConfigSchema));
  let value: unknown = raw;
  for (const seg of path) {
    if (!node) return undefined;
    node = childSchema(node, seg, value);
    node = node ? unwrap(node) : undefined;
    value = valueAt(value, [seg]);
  }
  return node;
}

function childSchema(node: SchemaNode, seg: PathSegment, value: unknown): SchemaNode | undefined {
  const d = node.def;
  if (d.type === 'object') return (d['shape'] as Record<string, SchemaNode>)[String(seg)];
  if (d.type === 'record') return asNode(d['valueType']);
  if (d.type === 'array') return asNode(d['element']);
  if (d.type === 'union') {
    const option = unionOption(node, value);
    return option ? childSchema(option, seg, value) : undefined;
  }
  return undefined;
}

/** For a discriminated union, the option matching the raw discriminator (else the first). */
function unionOption(node: SchemaNode, value: unknown): SchemaNode | undefined {
  const options = (node.def['options'] as SchemaNode[]).map(unwrap);
  const disc = node.def['discriminator'] as string | undefined;
  const want = disc && typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[disc] : undefined;
  const match = options.find((o) => {
    const lit = o.def.type === 'object' ? unwrap(asNode((o.def['shape'] as Record<string, unknown>)[disc ?? ''] ?? { def: { type: '' } })) : undefined;
    return lit?.def.type === 'literal' && (lit.def['values'] as unknown[]).includes(want);
  });
  return match ?? options[0];
}

/** All values of the discriminator of the union at `path` (e.g. every provider type). */
function discriminatorValues(path: readonly PathSegment[], raw: unknown): string[] {
  const node = schemaAt(path, raw);
  if (node?.def.type !== 'union') return [];
  const disc = String(node.def['discriminator']);
  return (node.def['options'] as SchemaNode[]).flatMap((o) => {
    const shape = unwrap(o).def['shape'] as Record<string, unknown> | undefined;
    const lit = shape?.[disc] ? unwrap(asNode(shape[disc])) : undefined;
    return lit?.def.type === 'literal' ? (lit.def['values'] as unknown[]).map(String) : [];
  });
}

/** Keys allowed in the mapping at `path`. */
export function allowedKeysAt(path: readonly PathSegment[], raw: unknown): string[] {
  let node = schemaAt(path, raw);
  if (node?.def.type === 'union') node = unionOption(node, valueAt(raw, path));
  return node?.def.type === 'object' ? Object.keys(node.def['shape'] as object) : [];
}

/** Values allowed for an enum/literal at `path`. */
function allowedValuesAt(path: readonly PathSegment[], raw: unknown): unknown[] {
  const node = schemaAt(path, raw);
  if (node?.def.type === 'enum') return Object.values(node.def['entries'] as object);
  if (node?.def.type === 'literal') return node.def['values'] as unknown[];
  return [];
}

/** The raw value at `path`, or undefined. */
export function valueAt(raw: unknown, path: readonly PathSegment[]): unknown {
  let cur = raw;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg as string];
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------
// Unknown keys
// ---------------------------------------------------------------------------------------------

/** Message and fix for an unknown key `key` in the mapping at `parent`. */
export function unknownKeyIssue(parent: readonly PathSegment[], key: string, raw: unknown): ConfigIssue {
  const path = formatPath([...parent, key]);
  const allowed = allowedKeysAt(parent, raw);
  const where = patternOf(parent);
  const listed = allowed.length ? ` (allowed here: ${allowed.join(', ')})` : '';

  const note = lookup(KEEPALIVED_NOTES, key);
  if (note) return { path, message: `unknown key "${key}" (a keepalived keyword)`, fix: note };

  const table = lookup(KEEPALIVED_ALIASES, where);
  const alias = table ? lookup(table, key) : undefined;
  if (alias) {
    const nested = alias.includes('.');
    const how = nested ? ` — write it as ${nestedExample(alias)}` : '';
    return { path, message: `unknown key "${key}" (keepalived's name for it)`, fix: `did you mean "${alias}"?${how}` };
  }

  const guess = didYouMean(key, allowed);
  if (guess !== undefined) return { path, message: `unknown key "${key}"`, fix: `did you mean "${guess}"?${listed}` };

  // The key exists one level down (e.g. "peers" written straight in the instance).
  for (const child of allowed) {
    const inner = allowedKeysAt([...parent, child], raw);
    const hit = inner.find((k) => squash(k) === squash(key));
    if (hit) return { path, message: `unknown key "${key}"`, fix: `did you mean "${child}.${hit}"? — write it as ${nestedExample(`${child}.${hit}`)}` };
  }

  if (where === '' && looksLikeInstance(valueAt(raw, [key]))) {
    return { path, message: `unknown key "${key}"`, fix: `instances go under instances:, i.e. instances: { ${key}: { … } }` };
  }
  return { path, message: `unknown key "${key}"`, fix: `remove it${listed}` };
}

function nestedExample(dotted: string): string {
  const [outer, inner] = dotted.split('.');
  return `${outer}: { ${inner}: … }`;
}

function looksLikeInstance(v: unknown): boolean {
  return typeof v === 'object' && v !== null && ('vrid' in v || 'interface' in v || 'vips' in v);
}

// ---------------------------------------------------------------------------------------------
// zod issue → ConfigIssue
// ---------------------------------------------------------------------------------------------

type ZodIssue = z.core.$ZodIssue;

/** Every zod issue as one or more located config issues (unknown keys become one issue per key). */
export function issuesFromZod(issues: readonly ZodIssue[], raw: unknown): LocatedIssue[] {
  const out: LocatedIssue[] = [];
  for (const iss of issues) {
    const at = iss.path.filter((s): s is PathSegment => typeof s !== 'symbol');
    if (iss.code === 'unrecognized_keys') {
      // __proto__ is reported by load.ts wherever it appears (zod does not see it in records).
      for (const key of iss.keys.filter((k) => k !== '__proto__')) out.push({ issue: unknownKeyIssue(at, key, raw), at: [...at, key] });
      continue;
    }
    out.push({ issue: translate(iss, at, raw), at });
  }
  return out;
}

function translate(iss: ZodIssue, at: PathSegment[], raw: unknown): ConfigIssue {
  const path = formatPath(at);
  const value = valueAt(raw, at);
  const got = describe(value, at);
  const fix = fieldFix(at);
  const last = at[at.length - 1];

  switch (iss.code) {
    case 'invalid_type': {
      if (at.length === 0) {
        const empty = value === null || value === undefined;
        return { path, message: empty ? 'the file is empty' : `must be a mapping (key: value), got ${got}`, fix };
      }
      if (value === undefined) return { path, message: 'is required', fix: `add ${String(last)}: … — ${fix}` };
      const expected = iss.expected === 'int' ? 'int' : iss.expected;
      return { path, message: `must be ${lookup(TYPE_NAMES, expected) ?? expected}, got ${got}`, fix: typeFix(expected, value) ?? fix };
    }
    case 'too_small':
    case 'too_big':
      return { path, message: sizeMessage(iss, at, value, raw), fix };
    case 'invalid_value': {
      const allowed = allowedValuesAt(at, raw);
      const list = (allowed.length ? allowed : iss.values).map((v) => String(v)).join(', ');
      const guess = typeof value === 'string' ? didYouMean(value, allowed.map(String)) : undefined;
      return { path, message: `must be one of ${list} (got ${got})`, fix: guess !== undefined ? `did you mean ${guess}? ${fix}` : fix };
    }
    case 'invalid_union':
      return unionIssue(at, value, raw, fix);
    case 'invalid_key':
      return {
        path,
        message: `instance name ${JSON.stringify(String(last))} may only contain letters, digits, _ - .`,
        fix: `rename it, e.g. ${String(last).replace(/[^A-Za-z0-9_.-]+/g, '_') || 'VI_1'}`,
      };
    case 'custom': {
      const params = (iss.params ?? {}) as { fix?: string; alsoAt?: PathSegment[]; depth?: number };
      const parent = at.slice(0, at.length - (params.depth ?? 2)); // the object both paths are relative to
      const shown = params.alsoAt ? `${formatPath([...parent, ...params.alsoAt])}, ${path}` : path;
      return { path: shown, message: iss.message, fix: params.fix ?? fix };
    }
    default:
      return { path, message: `${iss.message.replace(/^Invalid input: /, '')} (got ${got})`, fix };
  }
}

function sizeMessage(iss: ZodIssue & { code: 'too_small' | 'too_big' }, at: PathSegment[], value: unknown, raw: unknown): string {
  const got = describe(value, at);
  if (iss.origin === 'array') {
    if (iss.code === 'too_small') {
      const n = Number(iss.minimum);
      return `must list at least ${n} ${n === 1 ? 'entry' : 'entries'} (got ${got})`;
    }
    return `must list at most ${String(iss.maximum)} entries (got ${Array.isArray(value) ? value.length : got})`;
  }
  if (iss.origin === 'string') return iss.code === 'too_small' ? 'must not be empty' : `is too long (got ${got})`;
  const node = schemaAt(at, raw);
  const min = node?.minValue;
  const max = node?.maxValue;
  if (typeof min === 'number' && typeof max === 'number' && Number.isFinite(min) && Number.isFinite(max)) {
    return `must be between ${min} and ${max} (got ${got})`;
  }
  return iss.code === 'too_small' ? `must be at least ${String(iss.minimum)} (got ${got})` : `must be at most ${String(iss.maximum)} (got ${got})`;
}

function unionIssue(at: PathSegment[], value: unknown, raw: unknown, fix: string): ConfigIssue {
  const path = formatPath(at);
  if (at[at.length - 1] !== 'type') return { path, message: `is not valid (got ${describe(value, at)})`, fix };
  const available = discriminatorValues(at.slice(0, -1), raw);
  if (value === undefined) return { path, message: 'is required', fix: `add type: … — ${fix}` };
  if (typeof value === 'string' && PLANNED_PROVIDER_TYPES.includes(value)) {
    return { path, message: `provider type ${value} is not available yet in this version`, fix: `use one of: ${available.join(', ')} for now` };
  }
  const guess = typeof value === 'string' ? didYouMean(value, [...available, ...PLANNED_PROVIDER_TYPES]) : undefined;
  return {
    path,
    message: `unknown ${at[0] === 'checks' ? 'check' : 'provider'} type ${describe(value, at)} (available: ${available.join(', ')})`,
    fix: guess !== undefined ? `did you mean ${guess}? ${fix}` : fix,
  };
}

/** Whether a string is a valid instance name (exported for tests and a future keepalived importer). */
export function isValidInstanceName(name: string): boolean {
  return INSTANCE_NAME_RE.test(name);
}
