// What the kernel says about every interface, kept up to date from rtnetlink messages, and what changed
// with each one. Pure: it takes parsed messages (netlink/message.ts) or whole snapshots and returns the
// changes; link-watch.ts feeds it from a socket (or, without the addon, from `ip -j addr show` polls).
//
// Changes are reported per interface: 'link' when it appeared, went away (also: re-created with a new
// index, renamed) or changed flags, operstate, MAC or MTU; 'address' when its set of IP addresses (or
// their prefix / secondary flag) changed. Messages that change nothing we expose report nothing
// (the kernel re-announces IPv6 addresses, and bridges send per-port views of a link).
import type { LinkAddress, LinkState } from './link.js';
import { IFA_F_SECONDARY, linkFlagBits, linkFlagNames, IFF_LOWER_UP, IFF_UP, type AddressMessage, type LinkMessage, type NlMessage } from './netlink/message.js';

export interface LinkChange {
  kind: 'link' | 'address';
  ifname: string;
  ifindex: number;
}

interface LinkEntry {
  index: number;
  name: string;
  mac: string;
  flags: number;
  mtu: number;
  operstate: string;
}

/** An address as link.ts reports it (`secondary` only for IPv4, like `ip`). null for a non-IP family. */
export function linkAddressOf(m: AddressMessage): LinkAddress | null {
  if (m.family === null || m.address === null) return null;
  return { address: m.address, prefixLen: m.prefixLen, secondary: m.family === 4 && (m.flags & IFA_F_SECONDARY) !== 0, family: m.family };
}

/** One interface as link.ts reports it, from its RTM_NEWLINK and its addresses. */
export function linkStateOf(m: LinkMessage, addresses: readonly LinkAddress[]): LinkState {
  return stateOf(entryOf(m, undefined), addresses);
}

function entryOf(m: LinkMessage, prev: LinkEntry | undefined): LinkEntry {
  return {
    index: m.index,
    name: m.name ?? prev?.name ?? '',
    mac: m.mac ?? prev?.mac ?? '',
    flags: m.flags,
    mtu: m.mtu ?? prev?.mtu ?? 0,
    operstate: m.operstate ?? prev?.operstate ?? 'unknown',
  };
}

function stateOf(e: LinkEntry, addresses: readonly LinkAddress[]): LinkState {
  return {
    name: e.name,
    index: e.index,
    mac: e.mac,
    up: (e.flags & IFF_UP) !== 0 && (e.flags & IFF_LOWER_UP) !== 0,
    mtu: e.mtu,
    flags: linkFlagNames(e.flags),
    addresses: [...addresses],
    operstate: e.operstate,
  };
}

const sameAddress = (a: LinkAddress, b: LinkAddress) => a.family === b.family && a.address === b.address && a.prefixLen === b.prefixLen;
const linkKey = (s: LinkState) => JSON.stringify([s.name, s.mac, s.flags, s.mtu, s.operstate, s.up]);
const addressKey = (s: LinkState) => JSON.stringify(s.addresses);

export class LinkCache {
  private readonly links = new Map<number, LinkEntry>();
  private readonly addrs = new Map<number, LinkAddress[]>();
  /** Messages about an interface we do not know (an address event racing its link's): counted, dropped. */
  orphans = 0;

  /** The interface called `ifname`, or null. */
  link(ifname: string): LinkState | null {
    for (const e of this.links.values()) if (e.name === ifname) return stateOf(e, this.addrs.get(e.index) ?? []);
    return null;
  }

  /** Every interface, in index order. */
  all(): LinkState[] {
    return [...this.links.values()].sort((a, b) => a.index - b.index).map((e) => stateOf(e, this.addrs.get(e.index) ?? []));
  }

  /** Applies one event or dump message; returns what it changed. */
  apply(m: NlMessage): LinkChange[] {
    if (m.kind === 'link') return m.family === 0 ? this.applyLink(m) : [];
    if (m.kind === 'address') return this.applyAddress(m);
    return [];
  }

  private applyLink(m: LinkMessage): LinkChange[] {
    const prev = this.links.get(m.index);
    if (m.op === 'del') {
      if (!prev) return [];
      this.links.delete(m.index);
      this.addrs.delete(m.index);
      return [{ kind: 'link', ifname: prev.name, ifindex: m.index }];
    }
    const next = entryOf(m, prev);
    this.links.set(m.index, next);
    if (!prev) return [{ kind: 'link', ifname: next.name, ifindex: m.index }];
    const changes: LinkChange[] = [];
    if (prev.name !== next.name) changes.push({ kind: 'link', ifname: prev.name, ifindex: m.index });
    if (linkKey(stateOf(prev, [])) !== linkKey(stateOf(next, []))) changes.push({ kind: 'link', ifname: next.name, ifindex: m.index });
    return changes;
  }

  private applyAddress(m: AddressMessage): LinkChange[] {
    const a = linkAddressOf(m);
    const link = this.links.get(m.index);
    if (!a) return [];
    if (!link) {
      this.orphans++;
      return [];
    }
    const list = this.addrs.get(m.index) ?? [];
    const at = list.findIndex((x) => sameAddress(x, a));
    if (m.op === 'del') {
      if (at < 0) return [];
      list.splice(at, 1);
    } else if (at >= 0) {
      if (list[at]!.secondary === a.secondary) return [];
      list[at] = a;
    } else list.push(a);
    this.addrs.set(m.index, list);
    return [{ kind: 'address', ifname: link.name, ifindex: m.index }];
  }

  /** Replaces everything with a full dump (netlink messages); returns the differences. */
  replaceFromDump(links: readonly LinkMessage[], addresses: readonly AddressMessage[]): LinkChange[] {
    const byIndex = new Map<number, LinkAddress[]>();
    for (const m of addresses) {
      const a = linkAddressOf(m);
      if (!a) continue;
      const l = byIndex.get(m.index) ?? [];
      l.push(a);
      byIndex.set(m.index, l);
    }
    return this.replace(links.filter((m) => m.family === 0 && m.op === 'new').map((m) => linkStateOf(m, byIndex.get(m.index) ?? [])));
  }

  /** Replaces everything with a full snapshot (from a dump or from `ip -j addr show`); returns the differences. */
  replace(snapshot: readonly LinkState[]): LinkChange[] {
    const before = new Map(this.all().map((s) => [s.index, s]));
    this.links.clear();
    this.addrs.clear();
    const changes: LinkChange[] = [];
    for (const s of snapshot) {
      this.links.set(s.index, {
        index: s.index,
        name: s.name,
        mac: s.mac,
        flags: linkFlagBits(s.flags),
        mtu: s.mtu,
        operstate: s.operstate,
      });
      this.addrs.set(s.index, [...s.addresses]);
    }
    const after = new Map(this.all().map((s) => [s.index, s]));
    for (const [index, old] of before) {
      const now = after.get(index);
      if (!now) {
        changes.push({ kind: 'link', ifname: old.name, ifindex: index });
        continue;
      }
      if (old.name !== now.name) changes.push({ kind: 'link', ifname: old.name, ifindex: index });
      if (linkKey(old) !== linkKey(now)) changes.push({ kind: 'link', ifname: now.name, ifindex: index });
      if (addressKey(old) !== addressKey(now)) changes.push({ kind: 'address', ifname: now.name, ifindex: index });
    }
    for (const [index, now] of after) if (!before.has(index)) changes.push({ kind: 'link', ifname: now.name, ifindex: index });
    return changes;
  }
}
