// Schema of an instance's `election:` (issue #12), wired into schema.ts (the single source of truth).
// Contract:
// - absent or `{ type: vrrp }`: the VRRP election, everything as before (vrid required).
// - `{ type: etcd, endpoints, key?, ttl, tls?, username?/password?, onStoreLost, id?, preempt,
//   resignBelow }`: a lease-based election in etcd (src/election/etcd.ts). endpoints are http(s)://host:port
//   URLs; key is the election's key prefix (default /ha-agent/<instance>); ttl the lease in whole seconds
//   (etcd leases are whole seconds); tls needs an absolute ca path, and cert+key together; username and
//   password together; onStoreLost says what a leader does when etcd stays unreachable for ttl.
// - electionRule: the VRRP-only keys (vrid, unicast, auth) are required/allowed per election type.
import { z } from 'zod';

function fail(ctx: z.RefinementCtx, message: string, fix: string, path: (string | number)[] = []): void {
  ctx.addIssue({ code: 'custom', message, path, params: { fix } });
}

const absolute = z.string().superRefine((s, ctx) => {
  if (!s.startsWith('/')) fail(ctx, `"${s}" is not an absolute path`, 'write the absolute path of the PEM file, e.g. /etc/ha-agent/etcd-ca.pem');
});

const endpoint = z.string().superRefine((s, ctx) => {
  let u: URL | null = null;
  try {
    u = new URL(s);
  } catch {
    u = null;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname || (u.pathname !== '/' && u.pathname !== ''))
    fail(ctx, `"${s}" is not an etcd endpoint URL`, 'write http://host:2379 or https://host:2379 (one etcd member each)');
});

export const ON_STORE_LOST = ['release', 'hold'] as const;

export const VrrpElectionSchema = z.strictObject({ type: z.literal('vrrp') });

export const EtcdElectionSchema = z
  .strictObject({
    type: z.literal('etcd'),
    endpoints: z.array(endpoint).min(1),
    /** The election's key prefix; candidates are `<key>/<lease id>`. Default /ha-agent/<instance>. */
    key: z
      .string()
      .regex(/^\/[^\s]*[^/\s]$/, { message: 'must start with / and not end with /' })
      .optional(),
    ttl: z.number().int().min(1).max(300).default(3),
    tls: z
      .strictObject({ ca: absolute, cert: absolute.optional(), key: absolute.optional() })
      .superRefine((t, ctx) => {
        if ((t.cert === undefined) !== (t.key === undefined)) fail(ctx, 'cert and key go together', 'give both cert: and key: (client certificate authentication), or neither');
      })
      .optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    onStoreLost: z.enum(ON_STORE_LOST).default('release'),
    /** This candidate's name in the election (what the others see as leader). Default: the hostname. */
    id: z.string().min(1).max(200).optional(),
    /** A candidate of higher effective priority makes the leader resign (see README: trade-offs). */
    preempt: z.boolean().default(false),
    /** Resign (and stay out) while the effective priority is below this; 0 = never (weight-0 checks still resign). */
    resignBelow: z.number().int().min(0).max(255).default(0),
  })
  .superRefine((e, ctx) => {
    if ((e.username === undefined) !== (e.password === undefined)) fail(ctx, 'username and password go together', 'give both username: and password: (etcd auth), or neither');
    if (e.endpoints.some((u) => u.startsWith('https:')) && !e.tls) fail(ctx, 'https endpoints need tls: { ca: … }', 'add tls: { ca: /path/to/etcd-ca.pem } (and cert/key for client certificates)', ['tls']);
  });

export const ElectionSchema = z.discriminatedUnion('type', [VrrpElectionSchema, EtcdElectionSchema]);
export type ElectionConfig = z.infer<typeof ElectionSchema>;
export type EtcdElectionConfig = z.infer<typeof EtcdElectionSchema>;

/** vrid is required with VRRP; unicast and auth only mean something there. */
export function electionRule(inst: { election?: { type: string }; vrid?: number; unicast?: unknown; auth?: unknown }, ctx: z.RefinementCtx): void {
  const etcd = inst.election?.type === 'etcd';
  if (!etcd && inst.vrid === undefined) fail(ctx, 'is required', 'add vrid: … — use the same VRID (1..255) on every node of this virtual router (or set election: { type: etcd, … })', ['vrid']);
  if (etcd && inst.unicast !== undefined) fail(ctx, 'belongs to the VRRP election, not to election.type etcd', 'remove unicast: (etcd elects the leader; no adverts are sent)', ['unicast']);
  if (etcd && inst.auth !== undefined) fail(ctx, 'belongs to the VRRP election, not to election.type etcd', 'remove auth: (protect etcd with tls: and username/password instead)', ['auth']);
}
