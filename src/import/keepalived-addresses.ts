// One keepalived `virtual_ipaddress` line and one `virtual_routes` line → what ha-agent's schema can
// hold, plus a sentence for each part it cannot. Pure: words in, values and problems out (the mapper
// turns problems into "not carried over" lines). Contract:
// - parseVipLine: ADDR[/LEN] (keepalived's a.b.c.d-e ranges expanded) with dev (must be the
//   instance's interface, else the VIP is dropped), label, brd, scope, no_track, anything else.
// - parseRouteLine: [src A] [to] DEST|default [via|gw GW] [dev IF] [metric|preference|priority N]
//   [table N|main] [no_track]; blackhole/unreachable/prohibit/throw routes are dropped.

export interface VipLine {
  vips: string[];
  problems: string[];
}

export function parseVipLine(words: string[], iface: string | undefined): VipLine {
  const [addr = '', ...opts] = words;
  const problems: string[] = [];
  const bad: string[] = [];
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i]!;
    const v = opts[i + 1];
    if (o === 'dev') {
      i++;
      if (v !== iface) {
        problems.push(`VIP ${addr} on ${v} while the instance uses ${iface ?? 'no interface'}: ha-agent puts an instance's VIPs on its own interface; make a separate instance on ${v} (its own VRID, on every node)`);
        return { vips: [], problems };
      }
    } else if (o === 'label') {
      i++;
      problems.push(`VIP ${addr}: label ${v} is not carried over (ha-agent adds VIPs without a label); scripts that look for the label should look for the address`);
    } else if (o === 'brd' || o === 'broadcast') {
      i++;
      problems.push(`VIP ${addr}: brd ${v} is not carried over (ha-agent adds VIPs without a broadcast address)`);
    } else if (o === 'scope') {
      i++;
      if (v !== 'global') problems.push(`VIP ${addr}: scope ${v} is not carried over (ha-agent adds VIPs with scope global)`);
    } else if (o !== 'no_track') bad.push(o);
  }
  if (bad.length) problems.push(`VIP ${addr}: ${bad.join(' ')} not carried over (ha-agent takes the address and prefix length only)`);
  const range = /^(\d+\.\d+\.\d+\.)(\d+)-(\d+)(\/\d+)?$/.exec(addr);
  if (range && Number(range[3]) >= Number(range[2]) && Number(range[3]) <= 255) {
    const vips: string[] = [];
    for (let o = Number(range[2]); o <= Number(range[3]); o++) vips.push(`${range[1]}${o}${range[4] ?? ''}`);
    return { vips, problems };
  }
  return { vips: [addr], problems };
}

export interface RouteValue {
  to: string;
  via?: string;
  dev?: string;
  metric?: number;
  table?: number;
}

const int = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);

export function parseRouteLine(words: string[]): { route?: RouteValue; problems: string[] } {
  const problems: string[] = [];
  let i = 0;
  if (words[0] === 'src') {
    problems.push(`virtual_routes: src ${words[1]} is not supported (the kernel picks the source address)`);
    i = 2;
  }
  if (words[i] === 'to') i++;
  if (['blackhole', 'unreachable', 'prohibit', 'throw'].includes(words[i] ?? '')) {
    problems.push(`virtual_routes: ${words[i]} routes are not supported (unicast routes only)`);
    return { problems };
  }
  let to = words[i++];
  if (!to) return { problems: [...problems, 'virtual_routes: a route without a destination'] };
  if (to === 'default') to = '0.0.0.0/0';
  else if (!to.includes('/') && !to.includes(':')) to = `${to}/32`;
  const route: RouteValue = { to };
  const bad: string[] = [];
  for (; i < words.length; i++) {
    const o = words[i]!;
    const v = words[i + 1];
    if ((o === 'via' || o === 'gw') && v) [route.via, i] = [v, i + 1];
    else if (o === 'dev' && v) [route.dev, i] = [v, i + 1];
    else if ((o === 'metric' || o === 'preference' || o === 'priority') && int(v) !== undefined) [route.metric, i] = [int(v), i + 1];
    else if (o === 'table' && v) {
      i++;
      if (v === 'main' || v === '254') continue;
      if (int(v) !== undefined) route.table = int(v);
      else bad.push(`table ${v} (use the table's number)`);
    } else if (o !== 'no_track') bad.push(o);
  }
  if (bad.length) problems.push(`virtual_routes ${to}: ${bad.join(' ')} not carried over (ha-agent sets to, via, dev, metric and table)`);
  return { route, problems };
}
