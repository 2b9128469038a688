// The difference between the running config and a reloaded one (SIGHUP, `ha-agent reload`): pure,
// config in → plan out; src/reload/ carries the plan out through the Agent. Contract:
// - unchanged: deep-equal definition (key order in the YAML does not matter) → not touched at all.
// - removed / added: by instance name.
// - changed: one kind per instance, the strongest its changed keys call for:
//
//   key                                  kind       what happens (src/reload/apply.ts, agent.ts)
//   ------------------------------------ ---------- ---------------------------------------------------
//   interface, vrid, family              replace    its identity on the wire changed: a MASTER sends
//                                                   priority 0 and releases the VIPs (the peers take
//                                                   over after Skew_Time), then the new one starts
//   priority (neither old nor new 255)   in-place   the next advert carries it (keepalived after a
//                                                   reload); state, timers and VIPs untouched
//   vips (same family)                   in-place   adverts and receive checks use the new list at once;
//                                                   a MASTER acquires the new list (added VIPs come up
//                                                   and are announced, kept ones stay up) and releases
//                                                   the removed ones only
//   priority to or from 255 (owner)      restart    owner semantics (preempt always, never moved)
//   version, advertInterval, preempt,    restart    a clean restart that keeps the state: no priority 0;
//   preemptDelay, unicast, auth, track,             a MASTER comes back as MASTER at once (advert +
//   notify, routes, provider, garp,                 announce, like keepalived after a reload) holding the
//   lowerPrioNoAdvert, v3ChecksumAsV2,              VIPs it keeps; removed VIPs released; a BACKUP or
//   any key this file does not know                 FAULT starts again as at start-up
//
// - global (top-level keys other than `instances`): none is applied live; each difference is
//   reported with what to do (restart the agent), and the running value stays in effect:
//   log.level, status.listen, advertThread, checks, syncGroups, notifyFifo and any other top-level key.
import type { Config, InstanceConfig } from './schema.js';

export type ChangeKind = 'in-place' | 'restart' | 'replace';

export interface InstanceChange {
  name: string;
  kind: ChangeKind;
  /** The changed keys (top-level keys of the instance), sorted. */
  keys: string[];
}

export interface GlobalChange {
  /** Top-level key, e.g. "log", "status", "checks". */
  key: string;
  /** What the user should know: it needs a restart of the agent, and why. */
  note: string;
}

export interface ConfigDiff {
  added: string[];
  removed: string[];
  unchanged: string[];
  changed: InstanceChange[];
  global: GlobalChange[];
}

/** Keys whose change moves the instance to another VRRP router on the wire. */
const IDENTITY_KEYS = new Set(['interface', 'vrid', 'family']);
const OWNER_PRIORITY = 255;

const GLOBAL_NOTES: Record<string, string> = {
  log: 'log.level changed: restart the agent (systemctl restart ha-agent) to apply it, or run with --log-level',
  status: 'status.listen changed: the status server keeps its address until the agent restarts',
  checks: 'checks changed: the running checks keep their old definitions until the agent restarts; instances tracking them are not restarted for it',
  syncGroups: 'syncGroups changed: sync groups keep their old members until the agent restarts',
  notifyFifo: 'notifyFifo changed: the old FIFO stays in use until the agent restarts',
  advertThread: 'advertThread.realtimePriority changed: the advert threads keep their scheduling until the agent restarts',
};

/** The instance's address family: an explicit `family` key when there is one, else its first VIP's. */
export function instanceFamily(cfg: InstanceConfig): 4 | 6 {
  const explicit = (cfg as { family?: unknown }).family;
  if (explicit === 4 || explicit === 6) return explicit;
  if (explicit === 'ipv4' || explicit === 'inet') return 4;
  if (explicit === 'ipv6' || explicit === 'inet6') return 6;
  return (cfg.vips[0] ?? '').includes(':') ? 6 : 4;
}

/** Which kind of change one instance went through (null: none). */
export function classifyInstance(before: InstanceConfig, after: InstanceConfig): { kind: ChangeKind; keys: string[] } | null {
  const keys = changedKeys(before as unknown as Record<string, unknown>, after as unknown as Record<string, unknown>);
  if (instanceFamily(before) !== instanceFamily(after) && !keys.includes('family')) keys.push('family');
  keys.sort();
  if (keys.length === 0) return null;
  let kind: ChangeKind = 'in-place';
  for (const k of keys) {
    if (IDENTITY_KEYS.has(k)) return { kind: 'replace', keys };
    if (k === 'vips') continue;
    if (k === 'priority' && before.priority !== OWNER_PRIORITY && after.priority !== OWNER_PRIORITY) continue;
    kind = 'restart';
  }
  return { kind, keys };
}

export function diffConfig(before: Config, after: Config): ConfigDiff {
  const diff: ConfigDiff = { added: [], removed: [], unchanged: [], changed: [], global: [] };
  for (const name of Object.keys(before.instances)) if (!(name in after.instances)) diff.removed.push(name);
  for (const [name, cfg] of Object.entries(after.instances)) {
    const old = before.instances[name];
    if (!old) {
      diff.added.push(name);
      continue;
    }
    const c = classifyInstance(old, cfg);
    if (c) diff.changed.push({ name, ...c });
    else diff.unchanged.push(name);
  }
  for (const key of changedKeys(before as unknown as Record<string, unknown>, after as unknown as Record<string, unknown>).sort()) {
    if (key === 'instances') continue;
    diff.global.push({ key, note: GLOBAL_NOTES[key] ?? `${key} changed: it takes effect when the agent restarts` });
  }
  return diff;
}

/**
 * The config that runs after a reload that applied `diff`: the new instances, with the old value of
 * every global key (none is applied live). Diffing the next reload against it names them again.
 */
export function effectiveConfig(before: Config, after: Config): Config {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(before)) if (k !== 'instances') out[k] = v;
  out['instances'] = after.instances;
  return out as Config;
}

/** True when the diff changes nothing that runs (a reload of the same file). */
export function isEmptyDiff(d: ConfigDiff): boolean {
  return d.added.length === 0 && d.removed.length === 0 && d.changed.length === 0;
}

/** The top-level keys of two plain objects whose values differ (deep, key order ignored). */
function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (!deepEqual(a[k], b[k])) out.push(k);
  return out;
}

/** Structural equality of JSON-like values; object key order ignored, array order kept. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}
