// Schema pieces for keepalived's notify hooks, virtual_routes and vrrp_sync_group (issue #8), wired
// into schema.ts (the single source of truth: the root and instance shapes name these). Contract:
// - notify.{master,backup,fault,stop,any}: argv arrays (argv[0] an absolute path, no shell); `any` is
//   keepalived's generic `notify` (it gets INSTANCE|GROUP name STATE priority appended); `timeout`
//   (seconds) bounds each run.
// - routes[]: { to: a.b.c.d/len (network address), via?, dev?, metric?, table? } — IPv4 only.
// - syncGroups.NAME: { instances: [names], notify? }; syncGroupsRule checks that names exist, that
//   an instance is in at most one group and that it is a VRRP one (an etcd election has no sync
//   group support); errors carry the path, the fix and a did-you-mean.
import { z } from 'zod';
import { parseIpv4Address } from '../net/ip.js';
import { didYouMean } from './did-you-mean.js';

function fail(ctx: z.RefinementCtx, message: string, fix: string, path: (string | number)[] = []): void {
  ctx.addIssue({ code: 'custom', message, path, params: { fix } });
}

/** One command as argv: the program (absolute path) and its arguments, never a shell string. */
export const ArgvSchema = z
  .array(z.string())
  .min(1)
  .superRefine((argv, ctx) => {
    const cmd = argv[0] ?? '';
    if (!cmd.startsWith('/'))
      fail(ctx, `"${cmd}" is not an absolute path`, 'write the command as an argv array starting with the absolute path of the program, e.g. [/etc/ha-agent/to-master.sh, VI_1]', [0]);
    else if (/\s/.test(cmd) && argv.length === 1)
      fail(ctx, `"${cmd}" contains spaces: it is run as one program name, not through a shell`, 'split the command into an argv array, e.g. [/etc/ha-agent/notify.sh, arg1]', [0]);
  });

export const NOTIFY_HOOKS = ['master', 'backup', 'fault', 'stop'] as const;
export type NotifyHook = (typeof NOTIFY_HOOKS)[number];

/** Default notify timeout, seconds: a hung script is killed (its process group) after this. */
export const NOTIFY_TIMEOUT_DEFAULT = 30;

export const NotifySchema = z.strictObject({
  master: ArgvSchema.optional(), // notify_master
  backup: ArgvSchema.optional(), // notify_backup
  fault: ArgvSchema.optional(), // notify_fault
  stop: ArgvSchema.optional(), // notify_stop
  any: ArgvSchema.optional(), // notify: + INSTANCE|GROUP name STATE priority
  timeout: z.number().min(0.1).max(3600).default(NOTIFY_TIMEOUT_DEFAULT),
});

export type NotifyConfig = z.output<typeof NotifySchema>;

/** "203.0.113.0/24" → a network address with its prefix; host bits must be zero (as the kernel wants). */
const routeDestination = z.string().superRefine((s, ctx) => {
  const fix = 'write the destination network as a.b.c.d/len with the host bits zero, e.g. 203.0.113.0/24 (or 0.0.0.0/0 for a default route)';
  const [addr = '', len, ...rest] = s.split('/');
  const n = parseIpv4Address(addr);
  if (s.includes(':')) return fail(ctx, `"${s}" is an IPv6 route; only IPv4 routes are supported in this version`, fix);
  if (rest.length > 0 || n === null || len === undefined || !/^(0|[1-9][0-9]?)$/.test(len) || Number(len) > 32)
    return fail(ctx, `"${s}" is not an IPv4 network (a.b.c.d/len)`, fix);
  const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
  if (((n & ~mask) >>> 0) !== 0) {
    const net = (n & mask) >>> 0;
    const text = [24, 16, 8, 0].map((b) => (net >>> b) & 255).join('.');
    fail(ctx, `"${s}" has host bits set`, `write the network address: ${text}/${len}`);
  }
});

const routeGateway = z.string().superRefine((s, ctx) => {
  if (parseIpv4Address(s) === null) fail(ctx, `"${s}" is not an IPv4 address`, 'write the next hop as a.b.c.d, e.g. 198.51.100.254');
});

export const RouteSchema = z.strictObject({
  to: routeDestination,
  via: routeGateway.optional(),
  dev: z.string().min(1).max(15).optional(), // default: the instance's interface
  metric: z.number().int().min(0).max(0xffffffff).optional(),
  table: z.number().int().min(1).max(0xffffffff).optional(), // default: main (254)
});

export type RouteConfig = z.output<typeof RouteSchema>;

export const SyncGroupSchema = z.strictObject({
  instances: z.array(z.string()).min(1),
  notify: NotifySchema.optional(),
});

export const SyncGroupsSchema = z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), SyncGroupSchema);

export type SyncGroupConfig = z.output<typeof SyncGroupSchema>;

/** Root refinement: each member names an instance, and no instance is in two groups (or twice in one). */
export function syncGroupsRule(cfg: { instances?: unknown; syncGroups?: unknown }, ctx: z.RefinementCtx): void {
  const groups = cfg.syncGroups as Record<string, { instances?: unknown }> | undefined;
  if (!groups || typeof groups !== 'object') return;
  const names = cfg.instances && typeof cfg.instances === 'object' ? Object.keys(cfg.instances) : [];
  const member = new Map<string, string>();
  for (const [g, group] of Object.entries(groups)) {
    if (!group || !Array.isArray(group.instances)) continue;
    group.instances.forEach((inst: unknown, i: number) => {
      if (typeof inst !== 'string') return;
      const path = ['syncGroups', g, 'instances', i];
      if (!names.includes(inst)) {
        const guess = didYouMean(inst, names);
        fail(ctx, `no instance named "${inst}"`, `${guess !== undefined ? `did you mean ${guess}? ` : ''}list instances defined under instances: (${names.join(', ')})`, path);
        return;
      }
      const def = (cfg.instances as Record<string, { election?: { type?: unknown } } | undefined>)[inst];
      if (def?.election?.type === 'etcd') {
        fail(ctx, `instance ${inst} is elected through etcd; a sync group coordinates VRRP instances only`, `take ${inst} out of the group, or give the group's instances one etcd election each and drop the group`, path);
        return;
      }
      const other = member.get(inst);
      if (other !== undefined)
        fail(ctx, other === g ? `lists ${inst} twice` : `instance ${inst} is already in sync group ${other}`, other === g ? 'list each instance once' : 'put an instance in at most one sync group (keepalived allows one)', path);
      else member.set(inst, g);
    });
  }
}
