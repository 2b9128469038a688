// Independent check of the encoder: wrap our adverts in Ethernet + our IPv4 header, write a pcap and
// let Wireshark's dissector (tshark) verify the IP and VRRP checksums and decode the fields.
// Skips loudly without tshark, except under CI=true, where a missing tshark is a failure.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAdvert, passwordToAuthData, type ChecksumForm, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { buildIpv4Header } from '../../src/vrrp/ipv4.js';
import { buildEthernet, ETHERTYPE_IPV4, ipv4MulticastMac, writePcap } from '../support/pcap.js';

const MCAST = '224.0.0.18';
const SRC = '198.51.100.1';
const PEER = '198.51.100.2';
const SRC_MAC = '02:00:c6:33:64:01';
const PEER_MAC = '02:00:c6:33:64:02';
const none8 = Buffer.alloc(8);
const noAuth = Buffer.alloc(0);

interface Case {
  name: string;
  advert: VrrpAdvert;
  dst: string;
  form: ChecksumForm;
  status: '1' | '0'; // tshark's vrrp.checksum.status with default preferences: 1 Good, 0 Bad
}

const cases: Case[] = [
  { name: 'v2 multicast, no auth, 2 VIPs', dst: MCAST, form: 'rfc', status: '1',
    advert: { version: 2, vrid: 51, priority: 150, addresses: ['198.51.100.100', '198.51.100.101'], advertIntervalCs: 100, authType: 0, authData: none8 } },
  { name: 'v2 multicast, PASS s3cret', dst: MCAST, form: 'rfc', status: '1',
    advert: { version: 2, vrid: 52, priority: 100, addresses: ['198.51.100.102'], advertIntervalCs: 200, authType: 1, authData: passwordToAuthData('s3cret') } },
  { name: 'v2 unicast, priority 0', dst: PEER, form: 'rfc', status: '1',
    advert: { version: 2, vrid: 55, priority: 0, addresses: ['198.51.100.105'], advertIntervalCs: 300, authType: 0, authData: none8 } },
  { name: 'v3 multicast', dst: MCAST, form: 'rfc', status: '1',
    advert: { version: 3, vrid: 54, priority: 100, addresses: ['198.51.100.104'], advertIntervalCs: 100, authType: 0, authData: noAuth } },
  { name: 'v3 unicast', dst: PEER, form: 'rfc', status: '1',
    advert: { version: 3, vrid: 53, priority: 200, addresses: ['198.51.100.103', '198.51.100.113', '198.51.100.123'], advertIntervalCs: 50, authType: 0, authData: noAuth } },
  // The two compatibility forms are wrong by RFC, so tshark must call them Bad: proof that it checks.
  { name: 'v3 unicast, old 224.0.0.18 pseudo-header', dst: PEER, form: 'mcast-pseudo', status: '0',
    advert: { version: 3, vrid: 53, priority: 200, addresses: ['198.51.100.103'], advertIntervalCs: 4095, authType: 0, authData: noAuth } },
  { name: 'v3 unicast, no pseudo-header', dst: PEER, form: 'no-pseudo', status: '0',
    advert: { version: 3, vrid: 53, priority: 254, addresses: ['198.51.100.103'], advertIntervalCs: 1, authType: 0, authData: noAuth } },
];

function frameFor(c: Case, id: number): Buffer {
  const vrrp = encodeAdvert(c.advert, { src: SRC, dst: c.dst }, c.form);
  const ip = buildIpv4Header({ src: SRC, dst: c.dst, id, payloadLength: vrrp.length });
  const dstMac = c.dst === MCAST ? ipv4MulticastMac(MCAST) : PEER_MAC;
  return buildEthernet(dstMac, SRC_MAC, ETHERTYPE_IPV4, Buffer.concat([ip, vrrp]));
}

const FIELDS = [
  'eth.dst', 'ip.src', 'ip.dst', 'ip.ttl', 'ip.proto', 'ip.dsfield', 'ip.flags.df', 'ip.id', 'ip.checksum.status',
  'vrrp.version', 'vrrp.type', 'vrrp.virt_rtr_id', 'vrrp.prio', 'vrrp.addr_count', 'vrrp.auth_type', 'vrrp.adver_int',
  'vrrp.short_adver_int', 'vrrp.checksum', 'vrrp.checksum.status', 'vrrp.auth_string', 'vrrp.ip_addr',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

/** Runs tshark over the pcap and returns one record of FIELDS per frame. */
function tsharkRows(pcap: string, prefs: string[]): Row[] {
  const args = ['-r', pcap, '-n', ...prefs.flatMap((p) => ['-o', p]), '-T', 'fields', '-E', 'separator=/t', ...FIELDS.flatMap((f) => ['-e', f])];
  const r = spawnSync('tshark', args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `tshark failed: ${r.error ?? ''} ${r.stderr}`);
  return r.stdout.trimEnd().split('\n').map((line) => {
    const cols = line.split('\t');
    return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as Row;
  });
}

const probe = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
const haveTshark = !probe.error && probe.status === 0;
const inCi = process.env.CI === 'true';
const skip = !haveTshark && !inCi ? 'tshark is not installed (Debian: apt-get install tshark); the Wireshark cross-check did NOT run' : false;
if (skip) console.warn(`\n*** SKIPPING test/unit/tshark.test.ts: ${skip} ***\n`);

describe('tshark decodes our frames', { skip }, () => {
  it('tshark is available (required under CI=true)', () => {
    assert.ok(haveTshark, `tshark not runnable: ${probe.error?.message ?? probe.stderr}`);
  });

  const dir = mkdtempSync(join(tmpdir(), 'ha-agent-tshark-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const pcap = join(dir, 'adverts.pcap');
  writeFileSync(pcap, writePcap(cases.map((c, i) => frameFor(c, i + 1))));

  it('every field matches what we encoded, and the IP header checksum is Good', { skip: !haveTshark }, () => {
    const rows = tsharkRows(pcap, ['ip.check_checksum:TRUE']);
    assert.equal(rows.length, cases.length);
    cases.forEach((c, i) => {
      const row = rows[i]!;
      const a = c.advert;
      const vrrp = encodeAdvert(a, { src: SRC, dst: c.dst }, c.form);
      const expected: Partial<Row> = {
        'eth.dst': c.dst === MCAST ? '01:00:5e:00:00:12' : PEER_MAC,
        'ip.src': SRC, 'ip.dst': c.dst, 'ip.ttl': '255', 'ip.proto': '112', 'ip.dsfield': '0xc0',
        'ip.id': `0x${(i + 1).toString(16).padStart(4, '0')}`, 'ip.checksum.status': '1',
        'vrrp.version': String(a.version), 'vrrp.type': '1', 'vrrp.virt_rtr_id': String(a.vrid), 'vrrp.prio': String(a.priority),
        'vrrp.addr_count': String(a.addresses.length), 'vrrp.ip_addr': a.addresses.join(','),
        'vrrp.checksum': `0x${vrrp.readUInt16BE(6).toString(16).padStart(4, '0')}`, 'vrrp.checksum.status': c.status,
        'vrrp.auth_type': a.version === 2 ? String(a.authType) : '',
        'vrrp.adver_int': a.version === 2 ? String(a.advertIntervalCs / 100) : '',
        'vrrp.short_adver_int': a.version === 3 ? String(a.advertIntervalCs) : '',
        'vrrp.auth_string': a.authType === 1 ? 's3cret' : '',
      };
      for (const [k, v] of Object.entries(expected)) assert.equal(row[k as keyof Row], v, `${c.name}: ${k}`);
      assert.ok(['0', 'False'].includes(row['ip.flags.df']), `${c.name}: DF must be off, got ${row['ip.flags.df']}`);
    });
  });

  it("with vrrp.v3_checksum_as_in_v2 on, tshark accepts exactly the v2 and 'no-pseudo' checksums", { skip: !haveTshark }, () => {
    const rows = tsharkRows(pcap, ['vrrp.v3_checksum_as_in_v2:TRUE']);
    const expected = cases.map((c) => (c.advert.version === 2 || c.form === 'no-pseudo' ? '1' : '0'));
    assert.deepEqual(rows.map((r) => r['vrrp.checksum.status']), expected);
  });
});
