// The ARP side of the Alibaba netns cloud (test/emulators/alibaba/arp-watch.ts): tcpdump lines as
// captured from `arping -U` / `arping -A` / an ordinary request (spec §5.1; lab addresses) parse into
// sender MAC and IP, only gratuitous ones count, and fed to VpcState.announce they move
// MasterInstanceId for an associated instance only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGratuitous, parseTcpdumpArp } from '../emulators/alibaba/arp-watch.js';
import { VpcState } from '../emulators/alibaba/vpc-state.js';

const GARP = '19:14:01.100000 02:00:c6:33:64:0c > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.100 (ff:ff:ff:ff:ff:ff) tell 198.51.100.100, length 28';
const REPLY = '19:14:02.201167 62:a6:ff:53:18:ce > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Reply 198.51.100.11 is-at 62:A6:FF:53:18:CE, length 28';
const ASK = '19:14:03.254415 62:a6:ff:53:18:ce > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.250 (ff:ff:ff:ff:ff:ff) tell 198.51.100.11, length 28';
const ASK_NO_THA = '19:14:03.254415 62:a6:ff:53:18:ce > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.250 tell 198.51.100.11, length 28';

test('tcpdump ARP lines parse into sender MAC / IP; gratuitous = request for itself, or a reply', () => {
  const g = parseTcpdumpArp(GARP);
  assert.deepEqual(g, { op: 'request', senderMac: '02:00:c6:33:64:0c', senderIp: '198.51.100.100', targetIp: '198.51.100.100' });
  assert.ok(isGratuitous(g!));
  const r = parseTcpdumpArp(REPLY);
  assert.deepEqual(r, { op: 'reply', senderMac: '62:a6:ff:53:18:ce', senderIp: '198.51.100.11' });
  assert.ok(isGratuitous(r!));
  const a = parseTcpdumpArp(ASK);
  assert.deepEqual(a, { op: 'request', senderMac: '62:a6:ff:53:18:ce', senderIp: '198.51.100.11', targetIp: '198.51.100.250' });
  assert.ok(!isGratuitous(a!));
  assert.equal(parseTcpdumpArp(ASK_NO_THA)?.targetIp, '198.51.100.250');
  assert.equal(parseTcpdumpArp('listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes'), undefined);
  assert.equal(parseTcpdumpArp('19:14:03.254415 62:a6:ff:53:18:ce > 33:33:00:00:00:01, ethertype IPv6 (0x86dd), length 86: ...'), undefined);
});

test('a parsed GARP moves the master only when its sender is an associated instance', () => {
  const state = new VpcState();
  const vpc = state.addVpc({ cidr: '198.51.100.0/24' });
  const sw = state.addVSwitch({ vpcId: vpc.vpcId, cidr: '198.51.100.0/24' });
  const assoc = state.addInstance({ vSwitchId: sw.vSwitchId, mac: '02:00:c6:33:64:0c', privateIp: '198.51.100.12' });
  state.addInstance({ vSwitchId: sw.vSwitchId, mac: '62:a6:ff:53:18:ce', privateIp: '198.51.100.11' });
  const h = state.addHaVip({ vSwitchId: sw.vSwitchId, ipAddress: '198.51.100.100', associated: [assoc.instanceId] });
  const feed = (line: string) => {
    const a = parseTcpdumpArp(line)!;
    return isGratuitous(a) ? state.announce(a.senderMac, a.senderIp) : [];
  };
  assert.deepEqual(feed(REPLY), [], 'the unassociated sender, and not the HaVip address');
  assert.equal(state.haVip(h.haVipId)!.masterInstanceId, '');
  assert.deepEqual(feed(GARP), [h.haVipId]);
  assert.equal(state.haVip(h.haVipId)!.masterInstanceId, assoc.instanceId);
});
