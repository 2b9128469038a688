// Adds and removes one IPv4 route, idempotently (adding a route that is there, or removing one that is
// gone, is success), through the same in-process rtnetlink socket as addresses (RTM_NEWROUTE /
// RTM_DELROUTE, netlink/message.ts routeRequest); on the `ip` fallback (see netBackend() in link.ts)
// with `ip route add|del …`, logged by the caller as the fallback. Synchronous: one syscall each.
import type { RouteConfig } from '../config/hooks-schema.js';
import { ipCommandSync, ipSaid, NetError, routeSocket } from './link.js';
import { NetlinkError } from './netlink/route-socket.js';
import type { RouteSpec } from './netlink/message.js';

/** `203.0.113.0/24 via 198.51.100.254 dev eth0 metric 10 table 100`, as `ip route` would show it. */
export function routeText(r: RouteConfig, dev: string): string {
  return [r.to, r.via ? `via ${r.via}` : '', `dev ${dev}`, r.metric !== undefined ? `metric ${r.metric}` : '', r.table !== undefined ? `table ${r.table}` : ''].filter(Boolean).join(' ');
}

function ipArgs(op: 'add' | 'del', r: RouteConfig, dev: string): string[] {
  return ['route', op, ...routeText(r, dev).split(' ')];
}

function spec(r: RouteConfig, index: number): RouteSpec {
  const [dst = '', len = '32'] = r.to.split('/');
  return { dst, dstLen: Number(len), gateway: r.via, index, metric: r.metric, table: r.table };
}

const fixFor = (text: string) => `check the route (ip route add ${text}): the gateway must be reachable on the interface, e.g. a VIP's subnet once the VIPs are on`;

/** Puts the route in place. Throws a NetError (interface gone, unreachable gateway, no permission). */
export function addRouteSync(r: RouteConfig, dev: string): 'added' | 'present' {
  const text = routeText(r, dev);
  const sock = routeSocket();
  if (!sock) {
    const out = ipCommandSync(ipArgs('add', r, dev));
    if (out.code === 0) return 'added';
    if (/File exists/i.test(out.stderr)) return 'present';
    throw new NetError(`cannot add route ${text}: ${ipSaid(out)}`, fixFor(text));
  }
  const link = sock.getLink(dev);
  if (!link) throw new NetError(`cannot add route ${text}: interface ${dev} not found`, `check the route's dev (ip link show ${dev})`);
  try {
    return sock.addRoute(spec(r, link.index));
  } catch (e) {
    if (e instanceof NetlinkError) throw new NetError(`cannot add route ${text}: ${e.message}`, e.code === 'EPERM' ? 'run as root or grant CAP_NET_ADMIN' : fixFor(text));
    throw e;
  }
}

/** Takes the route away; 'absent' when it (or its interface) is gone already. */
export function removeRouteSync(r: RouteConfig, dev: string): 'removed' | 'absent' {
  const text = routeText(r, dev);
  const sock = routeSocket();
  if (!sock) {
    const out = ipCommandSync(ipArgs('del', r, dev));
    if (out.code === 0) return 'removed';
    if (/No such process|Cannot find device|not found/i.test(out.stderr)) return 'absent';
    throw new NetError(`cannot remove route ${text}: ${ipSaid(out)}`, `remove it by hand (ip route del ${text})`);
  }
  const link = sock.getLink(dev);
  if (!link) return 'absent';
  try {
    return sock.deleteRoute(spec(r, link.index));
  } catch (e) {
    if (e instanceof NetlinkError) throw new NetError(`cannot remove route ${text}: ${e.message}`, `remove it by hand (ip route del ${text})`);
    throw e;
  }
}
