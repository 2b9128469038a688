// The configuration schema: the single source of truth for every key, its type, its range and its
// default (keepalived's defaults where keepalived has one). Cross-field rules (interval vs version,
// auth vs version, VRID uniqueness, unicast source vs peers, VIPs vs node addresses) live here too,
// as zod refinements that carry their own `fix` in `params.fix`. Parsing YAML, warnings and error
// wording live next door in load.ts and errors.ts.
import { z } from 'zod';
import { parseIpv4Address } from '../net/ip.js';
import { NotifySchema, RouteSchema, SyncGroupsSchema, syncGroupsRule } from './hooks-schema.js';
import { familyIssues, instanceFamily, ipv6HostProblem, ipv6VipProblem, normaliseIpv6Vip } from '../vrrp/ipv6-config.js';
import { ElectionSchema, electionRule } from './election-schema.js';

// ---------------------------------------------------------------------------------------------
// IPv4 helpers (strict dotted quad: four decimal octets 0..255, no leading zeros)
// ---------------------------------------------------------------------------------------------

/** Why this address cannot be a VRRP peer, source or VIP (undefined when it can). */
function unusableIPv4(n: number): string | undefined {
  const first = Math.floor(n / 2 ** 24);
  if (n === 0) return 'is the unspecified address 0.0.0.0';
  if (n === 2 ** 32 - 1) return 'is the broadcast address';
  if (first === 127) return 'is a loopback address';
  if (first >= 224 && first <= 239) return 'is a multicast address';
  if (first >= 240) return 'is a reserved (class E) address';
  return undefined;
}

/** The problem with an IPv4 host address written as text, or undefined when it is fine. */
function hostAddressProblem(text: string): string | undefined {
  if (text.includes(':')) return ipv6HostProblem(text);
  if (text.includes('/')) return `"${text}" has a /len; write the bare address a.b.c.d here`;
  const n = parseIpv4Address(text);
  if (n === null) return `"${text}" is not an IPv4 address (a.b.c.d)`;
  const bad = unusableIPv4(n);
  return bad ? `"${text}" ${bad}` : undefined;
}

/** The problem with a VIP ("a.b.c.d" or "a.b.c.d/len"), or undefined when it is fine. */
function vipProblem(text: string): string | undefined {
  if (text.includes(':')) return ipv6VipProblem(text);
  const [addr = '', len, ...rest] = text.split('/');
  if (rest.length > 0) return `"${text}" is not an IPv4 address (a.b.c.d or a.b.c.d/len)`;
  if (len !== undefined) {
    if (!/^(0|[1-9][0-9]?)$/.test(len) || Number(len) < 1 || Number(len) > 32) {
      return `"${text}" has an invalid prefix length /${len} (1..32)`;
    }
  }
  const n = parseIpv4Address(addr);
  if (n === null) return `"${text}" is not an IPv4 address (a.b.c.d or a.b.c.d/len)`;
  const bad = unusableIPv4(n);
  return bad ? `"${text}" ${bad}` : undefined;
}

/** "198.51.100.1" → "198.51.100.1/32"; "198.51.100.1/24" unchanged; IPv6 canonical, /128 by default. Only call on valid VIPs. */
export function normaliseVip(text: string): string {
  if (text.includes(':')) return normaliseIpv6Vip(text);
  return text.includes('/') ? text : `${text}/32`;
}

/** The address part of a VIP: "198.51.100.1/24" → "198.51.100.1". */
export function vipAddress(vip: string): string {
  return vip.split('/')[0] ?? vip;
}

/** `status.listen` as host and port, or undefined for "off" (the schema guarantees the format). */
export function parseListen(listen: string): { host: string; port: number } | undefined {
  if (listen === 'off') return undefined;
  const m = LISTEN_RE.exec(listen);
  if (!m) return undefined;
  const host = m[1] ?? '';
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(m[2]) };
}

const LISTEN_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

/** Password bytes on the wire (VRRPv2 simple text authentication carries 8). */
export const AUTH_PASSWORD_BYTES = 8;

/** Truncates to at most 8 UTF-8 bytes, like keepalived's auth_pass (never splits a character). */
export function truncatePassword(password: string): string {
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length <= AUTH_PASSWORD_BYTES) return password;
  return bytes.subarray(0, AUTH_PASSWORD_BYTES).toString('utf8');
}

function cutsCharacter(password: string): boolean {
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length <= AUTH_PASSWORD_BYTES) return false;
  const next = bytes[AUTH_PASSWORD_BYTES] ?? 0;
  return (next & 0xc0) === 0x80; // byte 9 is a UTF-8 continuation byte: byte 8 ends mid-character
}

// ---------------------------------------------------------------------------------------------
// Small building blocks
// ---------------------------------------------------------------------------------------------

/**
 * Adds a custom issue with its own fix (errors.ts turns params.fix into ConfigIssue.fix).
 * `alsoAt` names a second place the problem involves (relative to the same object as `path`),
 * reported first; `depth` (path's length) lets errors.ts find that object in the full path.
 */
function fail(
  ctx: z.RefinementCtx,
  message: string,
  fix: string,
  path: (string | number)[] = [],
  alsoAt?: (string | number)[],
): void {
  ctx.addIssue({ code: 'custom', message, path, params: alsoAt ? { fix, alsoAt, depth: path.length } : { fix } });
}

const intRange = (min: number, max: number) => z.number().int().min(min).max(max);

const hostAddress = z.string().superRefine((s, ctx) => {
  const p = hostAddressProblem(s);
  if (p) fail(ctx, p, 'write an address such as 198.51.100.2 (or 2001:db8::2 for an IPv6 instance)');
});

const vip = z
  .string()
  .superRefine((s, ctx) => {
    const p = vipProblem(s);
    if (p) fail(ctx, p, 'write the VIP as a.b.c.d or a.b.c.d/len (len 1..32), e.g. 198.51.100.100/24 (IPv6: 2001:db8::100 or 2001:db8::100/64, with version: 3)');
  })
  .transform(normaliseVip);

/** keepalived's instance names: letters, digits, underscore, dash, dot. */
export const INSTANCE_NAME_RE = /^[A-Za-z0-9_.-]+$/;

/** Linux interface names: 1..15 bytes, no '/', ':' or whitespace, not "." or "..". */
const interfaceName = z.string().superRefine((s, ctx) => {
  const fix = 'name the interface that carries VRRP, exactly as `ip link` shows it (e.g. eth0)';
  if (s.length === 0) return fail(ctx, 'must not be empty', fix);
  if (Buffer.byteLength(s) > 15) return fail(ctx, `"${s}" is longer than 15 characters, the Linux limit`, fix);
  if (/[/:\s]/.test(s) || s === '.' || s === '..') return fail(ctx, `"${s}" is not a valid interface name`, fix);
});

// ---------------------------------------------------------------------------------------------
// Providers: a discriminated union on `type`. Adding a provider = one schema in PROVIDER_SCHEMAS
// (and removing its name from PLANNED_PROVIDER_TYPES).
// ---------------------------------------------------------------------------------------------

/**
 * Per-instance overrides of the provider's timing defaults (each provider module declares its own),
 * in seconds. Left out: the provider type's default.
 */
export const ProviderTimingSchema = z.strictObject({
  operationTimeout: z.number().min(0.1).max(600).optional(), // deadline of one acquire / release / verify
  confirmTimeout: z.number().min(0).max(600).optional(), // how long acquire waits for the backend to confirm
  reconcile: z.number().min(1).max(3600).optional(), // verify period once the goal is reached
  backoffBase: z.number().min(0.01).max(600).optional(), // first retry delay (full jitter, doubling)
  backoffMax: z.number().min(0.1).max(3600).optional(), // retry delay ceiling
  faultAfter: z.number().min(0.1).max(3600).optional(), // MASTER without a successful acquire this long → FAULT
});

export const GarpProviderSchema = z.strictObject({ type: z.literal('garp'), timing: ProviderTimingSchema.optional() });

/** An AWS resource id: prefix, dash, 8 or 17 hex digits (e.g. eni-0a1b2c3d4e5f67890). */
const awsId = (prefix: string, what: string) =>
  z.string().superRefine((s, ctx) => {
    if (!new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`).test(s))
      fail(ctx, `"${s}" is not ${what} id (${prefix}- and 8 or 17 hex digits)`, `copy the id from the EC2 console or \`aws ec2 describe-…\`, e.g. ${prefix}-0123456789abcdef0`);
  });

/** An http(s) URL (endpoints of emulators, VPC endpoints, FIPS endpoints). */
const httpUrl = z.string().superRefine((s, ctx) => {
  let u: URL | null = null;
  try {
    u = new URL(s);
  } catch {
    /* reported below */
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:'))
    fail(ctx, `"${s}" is not an http:// or https:// URL`, 'write the full URL with its scheme, e.g. https://ec2.eu-west-1.amazonaws.com or http://127.0.0.1:5055');
});

export const AWS_MODES = ['secondary-ip', 'route-table', 'elastic-ip'] as const;

/**
 * provider: { type: aws } — the VIP moves as an ENI secondary private IP (default), as a route in
 * route tables (overlay IP outside the VPC), or as an Elastic IP association. Every fact IMDS would
 * tell (instance, region, ENI) may be given instead.
 */
export const AwsProviderSchema = z
  .strictObject({
    type: z.literal('aws'),
    mode: z.enum(AWS_MODES).default('secondary-ip'),
    region: z
      .string()
      .superRefine((s, ctx) => {
        if (!/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/.test(s)) fail(ctx, `"${s}" is not an AWS region code`, 'use the region code, e.g. eu-west-1, or leave region out to read it from IMDS');
      })
      .optional(),
    instanceId: awsId('i', 'an EC2 instance').optional(),
    networkInterfaceId: awsId('eni', 'a network interface').optional(),
    endpoint: httpUrl.optional(),
    imdsEndpoint: httpUrl.optional(),
    unassignOnRelease: z.boolean().default(false),
    routeTableIds: z.array(awsId('rtb', 'a route table')).min(1).optional(),
    allocationId: awsId('eipalloc', 'an Elastic IP allocation').optional(),
    privateIpAddress: hostAddress.optional(),
    timing: ProviderTimingSchema.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.mode === 'route-table' && !p.routeTableIds)
      fail(ctx, 'mode route-table needs routeTableIds', 'list the route tables whose route to the VIP should follow the master: routeTableIds: [rtb-…]', ['routeTableIds']);
    if (p.mode !== 'route-table' && p.routeTableIds)
      fail(ctx, `routeTableIds is only used with mode route-table (mode is ${p.mode})`, 'remove routeTableIds, or set mode: route-table', ['routeTableIds']);
    if (p.mode === 'elastic-ip' && !p.allocationId)
      fail(ctx, 'mode elastic-ip needs allocationId', 'give the Elastic IP allocation: allocationId: eipalloc-…', ['allocationId']);
    for (const key of ['allocationId', 'privateIpAddress'] as const)
      if (p.mode !== 'elastic-ip' && p[key] !== undefined)
        fail(ctx, `${key} is only used with mode elastic-ip (mode is ${p.mode})`, `remove ${key}, or set mode: elastic-ip`, [key]);
    if (p.mode !== 'secondary-ip' && p.unassignOnRelease)
      fail(ctx, `unassignOnRelease is only used with mode secondary-ip (mode is ${p.mode})`, 'remove unassignOnRelease', ['unassignOnRelease']);
  });

/** An Alibaba Cloud resource id: prefix, dash, then lower-case letters and digits (e.g. havip-bp1abc…). */
const alibabaId = (prefix: string, what: string, example: string) =>
  z.string().superRefine((s, ctx) => {
    if (!new RegExp(`^${prefix}-[a-z0-9]{4,40}$`).test(s))
      fail(ctx, `"${s}" is not ${what} id (${prefix}- and lower-case letters or digits)`, `copy the id from the Alibaba Cloud console or \`aliyun vpc DescribeHaVips\`, e.g. ${example}`);
  });

/** host[:port] without a scheme (the Alibaba SDK adds the scheme from `protocol`). */
const hostPort = z.string().superRefine((s, ctx) => {
  const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?$/.exec(s);
  if (!m || (m[2] !== undefined && !(Number(m[2]) >= 1 && Number(m[2]) <= 65535)))
    fail(ctx, `"${s}" is not host or host:port`, 'write the host (and port) without a scheme, e.g. vpc.cn-hangzhou.aliyuncs.com or 127.0.0.1:7001; the scheme goes in provider.protocol');
});

export const ALIBABA_ASSOCIATE = ['never', 'at-start'] as const;

/**
 * provider: { type: alibaba } — a HaVip in an Alibaba Cloud VPC: the instance that announces its
 * address by ARP becomes its master; DescribeHaVips confirms it. Instance and region come from ECS
 * metadata unless given; the VPC API endpoint and protocol are ours to set (the SDK has no
 * environment override).
 */
export const AlibabaProviderSchema = z
  .strictObject({
    type: z.literal('alibaba'),
    haVipId: alibabaId('havip', 'a HaVip', 'havip-bp1abcdefghijklmnopqr'),
    regionId: z
      .string()
      .superRefine((s, ctx) => {
        if (!/^[a-z]{2,}(?:-[a-z0-9]+)+$/.test(s)) fail(ctx, `"${s}" is not an Alibaba Cloud region id`, 'use the region id, e.g. cn-hangzhou or eu-central-1, or leave regionId out to read it from ECS metadata');
      })
      .optional(),
    instanceId: alibabaId('i', 'an ECS instance', 'i-bp1abcdefghijklmnopq').optional(),
    peerInstanceIds: z.array(alibabaId('i', 'an ECS instance', 'i-bp1abcdefghijklmnopq')).default([]),
    endpoint: hostPort.optional(),
    protocol: z.enum(['https', 'http']).default('https'),
    metadataEndpoint: httpUrl.optional(),
    associate: z.enum(ALIBABA_ASSOCIATE).default('never'),
    timing: ProviderTimingSchema.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.instanceId !== undefined && p.peerInstanceIds.includes(p.instanceId))
      fail(ctx, `peerInstanceIds lists this node's own instance ${p.instanceId}`, "list only the other nodes' instances in peerInstanceIds", ['peerInstanceIds']);
    if (new Set(p.peerInstanceIds).size !== p.peerInstanceIds.length) fail(ctx, 'peerInstanceIds lists an instance twice', 'list each peer instance once', ['peerInstanceIds']);
  });

export const PROVIDER_SCHEMAS = [GarpProviderSchema, AwsProviderSchema, AlibabaProviderSchema] as const;

/** Provider types that exist in the design but not yet in this version (clear error, not "unknown"). */
export const PLANNED_PROVIDER_TYPES: readonly string[] = [];

export const ProviderSchema = z.discriminatedUnion('type', PROVIDER_SCHEMAS);

// ---------------------------------------------------------------------------------------------
// Health checks and tracking (keepalived vrrp_script / vrrp_track_file / track_*; src/checks/)
// ---------------------------------------------------------------------------------------------

/** keepalived's weight range for scripts, interfaces and files. */
const trackWeight = intRange(-253, 253);
const seconds = (min: number) => z.number().min(min).max(3600);

/** What every check type except file has: keepalived's vrrp_script timing and counting. */
const checkTiming = {
  interval: seconds(0.01).default(1), // vrrp_script interval (keepalived default 1 s)
  timeout: seconds(0.01).optional(), // vrrp_script timeout (default: the interval)
  weight: trackWeight.default(0), // vrrp_script weight (0: FAULT after `fall` failures)
  rise: intRange(1, 1000).default(1), // vrrp_script rise
  fall: intRange(1, 1000).default(1), // vrrp_script fall
  initFail: z.boolean().default(false), // vrrp_script init_fail
};

const absolutePath = z.string().superRefine((s, ctx) => {
  if (!s.startsWith('/')) fail(ctx, `"${s}" is not an absolute path`, 'write the full path, starting with /');
});

export const ExecCheckSchema = z
  .strictObject({
    type: z.literal('exec'),
    command: z.array(z.string().min(1)).min(1),
    shell: z.boolean().default(false),
    user: z.string().min(1).optional(),
    ...checkTiming,
  })
  .superRefine((c, ctx) => {
    if (!c.shell && c.command.length === 1 && /\s/.test(c.command[0]!))
      fail(ctx, `"${c.command[0]}" is one word with spaces: without a shell it names a program called exactly that`, 'split it into argv words, e.g. command: [/usr/bin/pgrep, nginx], or set shell: true', ['command', 0]);
  });

export const HttpCheckSchema = z.strictObject({
  type: z.literal('http'),
  url: httpUrl,
  expectStatus: intRange(100, 599).default(200),
  ...checkTiming,
});

export const TcpCheckSchema = z.strictObject({
  type: z.literal('tcp'),
  address: z.string().superRefine((s, ctx) => {
    const m = /^(.+):([0-9]{1,5})$/.exec(s);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port >= 1 && port <= 65535)) fail(ctx, `"${s}" is not host:port`, 'write host:port, e.g. 127.0.0.1:5432');
  }),
  ...checkTiming,
});

export const FileCheckSchema = z.strictObject({
  type: z.literal('file'),
  path: absolutePath,
  interval: seconds(0.01).default(1), // how often the file is read
  weight: trackWeight.default(1), // track_file weight: value × weight is added (keepalived default 1)
});

export const ProcessCheckSchema = z.strictObject({
  type: z.literal('process'),
  name: z.string().min(1),
  ...checkTiming,
});

export const CHECK_SCHEMAS = [ExecCheckSchema, HttpCheckSchema, TcpCheckSchema, FileCheckSchema, ProcessCheckSchema] as const;
export const CheckSchema = z.discriminatedUnion('type', CHECK_SCHEMAS);
export const ChecksSchema = z.record(z.string().regex(INSTANCE_NAME_RE), CheckSchema);

/** An instance's track: checks (track_script), interfaces (track_interface), files (track_file). */
export const TrackSchema = z.strictObject({
  checks: z.array(z.union([z.string().min(1), z.strictObject({ check: z.string().min(1), weight: trackWeight.optional() })])).default([]),
  interfaces: z.array(z.union([interfaceName, z.strictObject({ interface: interfaceName, weight: trackWeight.default(0) })])).default([]),
  files: z.array(z.strictObject({ path: absolutePath, weight: trackWeight.default(1) })).default([]),
});

/** Every name in instances.*.track.checks must be a check; each check, interface, file tracked once. */
const trackRefsRule = (root: { checks?: Record<string, unknown>; instances?: Record<string, unknown> }, ctx: z.RefinementCtx) => {
  const names = Object.keys(root.checks ?? {});
  for (const [inst, raw] of Object.entries(root.instances ?? {})) {
    const track = z.object({ track: TrackSchema }).safeParse(raw);
    if (!track.success) continue;
    const seen = new Set<string>();
    track.data.track.checks.forEach((entry, i) => {
      const name = typeof entry === 'string' ? entry : entry.check;
      const at = typeof entry === 'string' ? ['instances', inst, 'track', 'checks', i] : ['instances', inst, 'track', 'checks', i, 'check'];
      if (seen.has(name)) fail(ctx, `tracks check ${name} twice`, 'list each check once', at);
      seen.add(name);
      if (names.includes(name)) return;
      const guess = closestName(name, names);
      const defined = names.length ? `defined: ${names.join(', ')}` : 'no checks are defined';
      fail(ctx, `no check named "${name}" (${defined})`, guess ? `did you mean "${guess}"? Or define it under checks:` : `define it under checks: (e.g. checks: { ${name}: { type: exec, command: [/path/to/script] } })`, at);
    });
    const ifs = new Set<string>();
    track.data.track.interfaces.forEach((entry, i) => {
      const name = typeof entry === 'string' ? entry : entry.interface;
      if (ifs.has(name)) fail(ctx, `tracks interface ${name} twice`, 'list each interface once', ['instances', inst, 'track', 'interfaces', i]);
      ifs.add(name);
    });
  }
};

/** The closest name by edit distance (a plausible typo), or undefined. */
function closestName(word: string, names: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = cur;
      }
    }
    return row[b.length]!;
  };
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = dist(word.toLowerCase(), n.toLowerCase());
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

// ---------------------------------------------------------------------------------------------
// Instance
// ---------------------------------------------------------------------------------------------

export const GarpSchema = z.strictObject({
  repeat: intRange(1, 100).default(5), // garp_master_repeat
  delay: intRange(0, 3600).default(5), // garp_master_delay (0 = no second burst)
  refresh: intRange(0, 86400).default(0), // garp_master_refresh (0 = off)
  refreshRepeat: intRange(1, 100).default(1), // garp_master_refresh_repeat
  lowerPrioRepeat: intRange(0, 100).default(5), // garp_lower_prio_repeat
});

export const UnicastSchema = z.strictObject({
  source: hostAddress.optional(),
  peers: z.array(hostAddress).min(1),
  checkSource: z.boolean().default(true),
});

export const AuthSchema = z.strictObject({
  type: z.literal('pass'),
  password: z
    .string()
    .min(1)
    .superRefine((s, ctx) => {
      if (cutsCharacter(s)) {
        fail(
          ctx,
          'is longer than 8 bytes and byte 8 falls inside a multi-byte character, so it cannot be truncated like keepalived does',
          'use at most 8 bytes (8 ASCII characters), the same on every node',
        );
      }
    })
    .transform(truncatePassword),
});

/**
 * VIPs per instance: keepalived carries up to 255 in one advert and requires the exact VIP set in
 * every advert, so a bigger setup cannot be split across instances. Above MANY_VIPS a warning says
 * each VIP costs one address add (a netlink request) at takeover.
 */
export const MAX_VIPS = 255;
export const MANY_VIPS = 100;

const instanceShape = {
  interface: interfaceName,
  vrid: intRange(1, 255).optional(), // required with the VRRP election (electionRule)
  priority: intRange(1, 255).default(100),
  version: z.literal([2, 3]).default(2),
  advertInterval: z.number().min(0.01).max(255).default(1),
  preempt: z.boolean().default(true),
  preemptDelay: z.number().min(0).max(1000).default(0),
  unicast: UnicastSchema.optional(),
  auth: AuthSchema.optional(),
  track: TrackSchema.optional(),
  vips: z.array(vip).min(1).max(MAX_VIPS),
  notify: NotifySchema.optional(), // notify hooks (hooks-schema.ts)
  routes: z.array(RouteSchema).optional(), // virtual_routes, held while MASTER
  provider: ProviderSchema.prefault({ type: 'garp' }),
  garp: GarpSchema.prefault({}),
  lowerPrioNoAdvert: z.boolean().default(false),
  v3ChecksumAsV2: z.boolean().default(false),
  election: ElectionSchema.optional(), // default VRRP; etcd: election-schema.ts
};

const isCentiseconds = (x: number) => Math.abs(x * 100 - Math.round(x * 100)) < 1e-6;

/** Runs a refinement only when the fields it reads parsed cleanly (so it never doubles an error). */
function whenValid(picked: z.ZodType) {
  return { when: (payload: { value: unknown }) => picked.safeParse(payload.value).success };
}

type InstanceOut = z.output<z.ZodObject<typeof instanceShape>>;

const intervalRule = (inst: Pick<InstanceOut, 'version' | 'advertInterval'>, ctx: z.RefinementCtx) => {
  const t = inst.advertInterval;
  if (inst.version === 2 && (!Number.isInteger(t) || t < 1 || t > 255)) {
    fail(
      ctx,
      `must be a whole number of seconds from 1 to 255 with version 2 (got ${t})`,
      'VRRPv2 carries whole seconds on the wire: use 1..255, or set version: 3 on every node for sub-second intervals',
      ['advertInterval'],
    );
  }
  if (inst.version === 3 && (!isCentiseconds(t) || t < 0.01 || t > 40.95)) {
    fail(
      ctx,
      `must be from 0.01 to 40.95 seconds in steps of 0.01 with version 3 (got ${t})`,
      'VRRPv3 carries centiseconds (max 4095): use e.g. 1 or 0.5, the same on every node',
      ['advertInterval'],
    );
  }
};

const authRule = (inst: Pick<InstanceOut, 'version' | 'auth'>, ctx: z.RefinementCtx) => {
  if (inst.auth !== undefined && inst.version !== 2) {
    fail(
      ctx,
      `auth is only available with version 2 (this instance uses version ${inst.version})`,
      'remove auth:, or set version: 2 on every node (VRRPv3 has no authentication field)',
      ['auth'],
    );
  }
};

const unicastRule = (inst: Pick<InstanceOut, 'unicast'>, ctx: z.RefinementCtx) => {
  const u = inst.unicast;
  if (!u) return;
  const seen = new Set<string>();
  u.peers.forEach((p, i) => {
    if (hostAddressProblem(p) !== undefined) return; // already reported
    if (p === u.source) {
      fail(
        ctx,
        `must not contain this node's own address ${p} (unicast.source)`,
        "list only the other nodes' addresses in peers",
        ['unicast', 'peers', i],
      );
    }
    if (seen.has(p)) {
      fail(ctx, `lists ${p} twice`, 'list each peer once', ['unicast', 'peers', i]);
    }
    seen.add(p);
  });
};

const vipsRule = (inst: Pick<InstanceOut, 'vips'>, ctx: z.RefinementCtx) => {
  const seen = new Map<string, string>();
  inst.vips.forEach((v, i) => {
    if (vipProblem(v) !== undefined) return; // already reported
    const addr = vipAddress(v);
    const before = seen.get(addr);
    if (before !== undefined) {
      fail(ctx, `lists ${addr} twice (${before} and ${v})`, 'list each VIP once', ['vips', i]);
    }
    seen.set(addr, v);
  });
};

/** A VIP must be nobody's own address: start-up removes stale VIP copies, and would take that address away. */
const vipOwnerRule = (inst: Pick<InstanceOut, 'vips' | 'unicast'>, ctx: z.RefinementCtx) => {
  const u = inst.unicast;
  if (!u) return;
  const why = 'a VIP must be an address no node owns: at start-up and on every release ha-agent removes the VIPs from the interface, which would take that node\'s own address away';
  inst.vips.forEach((v, i) => {
    if (vipProblem(v) !== undefined) return; // already reported
    const addr = vipAddress(v);
    if (u.source !== undefined && hostAddressProblem(u.source) === undefined && addr === u.source) {
      fail(ctx, `VIP ${addr} is also unicast.source, this node's own address`, `choose another VIP, or correct unicast.source (${why})`, ['vips', i], ['unicast', 'source']);
    }
    u.peers.forEach((p, j) => {
      if (hostAddressProblem(p) !== undefined || addr !== p) return;
      fail(ctx, `VIP ${addr} is also listed in unicast.peers, another node's own address`, `choose another VIP, or correct unicast.peers (${why})`, ['vips', i], ['unicast', 'peers', j]);
    });
  });
};

/** elastic-ip mode: the VIP is the Elastic IP's public address, exactly one, as a /32. */
const elasticIpRule = (inst: Pick<InstanceOut, 'vips' | 'provider'>, ctx: z.RefinementCtx) => {
  if (inst.provider.type !== 'aws' || inst.provider.mode !== 'elastic-ip') return;
  const fix = "list exactly one VIP: the Elastic IP's public address as a.b.c.d/32 (EC2 maps it to this node's private address; it is not put on the interface)";
  if (inst.vips.length !== 1) fail(ctx, `mode elastic-ip moves one Elastic IP, but ${inst.vips.length} VIPs are listed`, fix, ['vips']);
  else if ((inst.vips[0]!.split('/')[1] ?? '32') !== '32') fail(ctx, `${inst.vips[0]} must be a single address (/32) in mode elastic-ip`, fix, ['vips', 0]);
};

/** alibaba: a HaVip has exactly one private address: one VIP, that address. */
const haVipRule = (inst: Pick<InstanceOut, 'vips' | 'provider'>, ctx: z.RefinementCtx) => {
  if (inst.provider.type !== 'alibaba') return;
  if (inst.vips.length !== 1)
    fail(ctx, `provider alibaba moves one HaVip, which has one address, but ${inst.vips.length} VIPs are listed`, "list exactly one VIP: the HaVip's private address (e.g. 198.51.100.100/24); use one instance per HaVip", ['vips']);
};

/** One address family per instance; IPv6 only with version 3 and the garp provider (vrrp/ipv6-config.ts). */
const familyRule = (inst: Pick<InstanceOut, 'vips' | 'version' | 'unicast' | 'provider'>, ctx: z.RefinementCtx) => {
  for (const i of familyIssues(inst)) fail(ctx, i.message, i.fix, i.path);
};

export const InstanceSchema = z
  .strictObject(instanceShape)
  .superRefine(electionRule, whenValid(z.object({ election: instanceShape.election })))
  .superRefine(intervalRule, whenValid(z.object({ version: instanceShape.version, advertInterval: instanceShape.advertInterval })))
  .superRefine(authRule, whenValid(z.object({ version: instanceShape.version, auth: instanceShape.auth })))
  .superRefine(
    unicastRule,
    whenValid(z.object({ unicast: z.object({ source: z.string().optional(), peers: z.array(z.string()) }).optional() })),
  )
  .superRefine(vipsRule, whenValid(z.object({ vips: z.array(z.string()) })))
  .superRefine(elasticIpRule, whenValid(z.object({ vips: z.array(z.string()), provider: ProviderSchema })))
  .superRefine(haVipRule, whenValid(z.object({ vips: z.array(z.string()), provider: ProviderSchema })))
  .superRefine(
    vipOwnerRule,
    whenValid(z.object({ vips: z.array(z.string()), unicast: z.object({ source: z.string().optional(), peers: z.array(z.string()) }).optional() })),
  )
  .superRefine(familyRule, whenValid(z.object({ vips: instanceShape.vips, version: instanceShape.version, unicast: instanceShape.unicast, provider: ProviderSchema })));

// ---------------------------------------------------------------------------------------------
// Root
// ---------------------------------------------------------------------------------------------

/**
 * The default SCHED_FIFO priority of the advert thread: the lowest realtime one. Above every normal
 * thread (so adverts leave on time on a busy host), below anything an operator made realtime.
 */
export const ADVERT_THREAD_RT_PRIORITY = 1;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const listen = z.string().superRefine((s, ctx) => {
  if (s === 'off') return;
  const m = LISTEN_RE.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    fail(ctx, `"${s}" is not "host:port" or "off"`, 'write "host:port" (e.g. 127.0.0.1:9721, [::1]:9721) or "off" to disable the status server');
  }
});

/** Instances whose VRID, interface and unicast settings parsed, for the cross-instance rule. */
const vridFields = z.object({ interface: z.string(), vrid: instanceShape.vrid, unicast: z.object({ peers: z.array(z.string()) }).optional(), vips: z.array(z.string()).optional() });

/** Two instances may share interface+VRID only if both are unicast with disjoint peer sets. */
const vridRule = (instances: Record<string, unknown>, ctx: z.RefinementCtx) => {
  const seen: { name: string; inst: z.infer<typeof vridFields> }[] = [];
  for (const [name, raw] of Object.entries(instances)) {
    const parsed = vridFields.safeParse(raw);
    if (!parsed.success || parsed.data.vrid === undefined) continue; // no VRID: not a VRRP election
    const inst = parsed.data;
    for (const other of seen) {
      if (other.inst.interface !== inst.interface || other.inst.vrid !== inst.vrid) continue;
      if (instanceFamily({ vips: other.inst.vips ?? [] }) !== instanceFamily({ vips: inst.vips ?? [] })) continue; // IPv4 and IPv6 routers are apart, as in keepalived
      const a = other.inst.unicast?.peers;
      const b = inst.unicast?.peers;
      const shared = a && b ? a.filter((p) => b.includes(p)) : undefined;
      if (shared && shared.length === 0) continue; // both unicast, disjoint peers: keepalived allows it
      const why = shared
        ? `both list peer ${shared.join(', ')}`
        : 'an advert with this VRID on this interface would belong to both';
      fail(
        ctx,
        `instances ${other.name} and ${name} both use vrid ${inst.vrid} on ${inst.interface} (${why})`,
        'give each virtual router on an interface its own VRID (or, for unicast only, non-overlapping peer lists)',
        [name, 'vrid'],
        [other.name, 'vrid'],
      );
    }
    seen.push({ name, inst });
  }
};

/** A VIP belongs to one instance: two instances would each add and remove it (two runners fighting over it). */
const sharedVipRule = (instances: Record<string, unknown>, ctx: z.RefinementCtx) => {
  const owner = new Map<string, { name: string; index: number }>();
  for (const [name, raw] of Object.entries(instances)) {
    const parsed = z.object({ vips: z.array(z.string()) }).safeParse(raw);
    if (!parsed.success) continue;
    parsed.data.vips.forEach((v, index) => {
      if (vipProblem(v) !== undefined) return; // already reported
      const addr = vipAddress(v);
      const first = owner.get(addr);
      if (first === undefined) return void owner.set(addr, { name, index });
      if (first.name === name) return; // vipsRule reports duplicates inside one instance
      fail(
        ctx,
        `VIP ${addr} is in instances ${first.name} and ${name}`,
        'give each VIP to exactly one instance (the two would add and remove it against each other)',
        [name, 'vips', index],
        [first.name, 'vips', first.index],
      );
    });
  }
};

export const InstancesSchema = z
  .record(z.string().regex(INSTANCE_NAME_RE), InstanceSchema)
  .superRefine(
    (instances, ctx) => {
      if (Object.keys(instances).length === 0) {
        fail(ctx, 'must define at least one instance', 'add an instance, e.g. VI_1: { interface: eth0, vrid: 51, vips: [198.51.100.100/24] }');
      }
    },
    { when: (p) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value) },
  )
  .superRefine(vridRule as (v: Record<string, unknown>, ctx: z.RefinementCtx) => void, {
    when: (p) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value),
  })
  .superRefine(sharedVipRule as (v: Record<string, unknown>, ctx: z.RefinementCtx) => void, {
    when: (p) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value),
  });

export const ConfigSchema = z.strictObject({
  log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).prefault({}),
  syncGroups: SyncGroupsSchema.optional(), // vrrp_sync_group (hooks-schema.ts)
  notifyFifo: z.string().startsWith('/').optional(), // notify_fifo: keepalived's line format
  status: z.strictObject({ listen: listen.default('127.0.0.1:9721') }).prefault({}),
  // keepalived's vrrp_rt_priority, for the thread that sends and absorbs IPv4 adverts (vrrp/offload.ts)
  advertThread: z.strictObject({ realtimePriority: intRange(0, 99).default(ADVERT_THREAD_RT_PRIORITY) }).prefault({}),
  checks: ChecksSchema.optional(),
  instances: InstancesSchema,
})
  .superRefine(trackRefsRule, { when: (p) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value) })
  .superRefine(syncGroupsRule);

export type Config = z.infer<typeof ConfigSchema>;
export type InstanceConfig = Config['instances'][string];
export type ProviderConfig = InstanceConfig['provider'];
export type GarpConfig = InstanceConfig['garp'];
export type ProviderTimingConfig = z.infer<typeof ProviderTimingSchema>;
export type UnicastConfig = NonNullable<InstanceConfig['unicast']>;
export type CheckConfig = NonNullable<Config['checks']>[string];
export type TrackConfig = NonNullable<InstanceConfig['track']>;
