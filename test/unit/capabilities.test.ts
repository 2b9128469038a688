// src/net/capabilities.ts: which missing capability stops `ha-agent run`, which only warns, and the
// one line that says how to grant it (systemd unit, container flags, setpriv).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capabilityProblem } from '../../src/net/capabilities.js';
import type { Config } from '../../src/config/schema.js';

const caps = (hex: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${hex}\n`;
const NONE = '0000000000000000';
const RAW = '0000000000002000';
const ADMIN = '0000000000001000';
const BOTH = '0000000000003000';

function config(...providers: Record<string, unknown>[]): Config {
  return { instances: Object.fromEntries(providers.map((p, i) => [`VI_${i}`, { provider: p }])) } as unknown as Config;
}

test('capabilityProblem: CAP_NET_RAW missing is fatal, CAP_NET_ADMIN missing only warns; both present or unreadable: nothing', () => {
  const garp = config({ type: 'garp' });
  assert.equal(capabilityProblem(garp, caps(BOTH)), null);
  assert.equal(capabilityProblem(garp, null), null);
  const noRaw = capabilityProblem(garp, caps(ADMIN));
  assert.equal(noRaw?.fatal, true);
  assert.match(noRaw!.line, /^missing capability CAP_NET_RAW \(the VRRP raw socket and gratuitous ARP\) — grant it: systemd unit AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW .*container --cap-add NET_RAW --cap-add NET_ADMIN/);
  const noAdmin = capabilityProblem(garp, caps(RAW));
  assert.equal(noAdmin?.fatal, false);
  assert.match(noAdmin!.line, /^missing capability CAP_NET_ADMIN \(adding the VIPs and routes to the interface\) — .*; running on:/);
  const none = capabilityProblem(garp, caps(NONE));
  assert.equal(none?.fatal, true);
  assert.match(none!.line, /CAP_NET_ADMIN .* and CAP_NET_RAW /);
});

test('capabilityProblem: aws elastic-ip alone never touches the interface, so CAP_NET_ADMIN is not needed', () => {
  assert.equal(capabilityProblem(config({ type: 'aws', mode: 'elastic-ip' }), caps(RAW)), null);
  assert.equal(capabilityProblem(config({ type: 'aws', mode: 'elastic-ip' }, { type: 'garp' }), caps(RAW))?.fatal, false);
  assert.equal(capabilityProblem(config({ type: 'aws', mode: 'secondary-ip' }), caps(RAW))?.fatal, false);
});
