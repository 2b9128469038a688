// Replays every capture in test/fixtures/pcap through Ethernet → IPv4 → checkDatagram, the way the
// raw socket would deliver each datagram: all VRRP adverts must be accepted, ARP skipped, other IPv4
// (IGMP joins, ICMP unreachables quoting VRRP) dropped as wrong-protocol. Also tests the pcap helper.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { checkDatagram, type InstanceView } from '../../src/vrrp/validate.js';
import { passwordToAuthData } from '../../src/vrrp/packet.js';
import { parseIpv4 } from '../../src/vrrp/ipv4.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, LINKTYPE_ETHERNET, parseEthernet, readPcap, writePcap } from '../support/pcap.js';
import { loadKeepalivedVectors, fixturePath } from '../support/fixtures.js';

// The lab behind the captures (shared/README.md): two nodes, VRID 51, one VIP, v2 at 1 s, v3 at 0.1 s.
const NODES = ['192.0.2.1', '192.0.2.2'];

/** The instance on the node that receives an advert from `src`, for the lab config named by the file. */
function receiverView(file: string, src: string): InstanceView {
  const v2 = file.startsWith('v2-');
  const pass = file.includes('-pass');
  const other = NODES.find((n) => n !== src) ?? NODES[0]!;
  return {
    version: v2 ? 2 : 3,
    vrid: 51,
    advertIntervalCs: v2 ? 100 : 10,
    authType: pass ? 1 : 0,
    authData: passwordToAuthData(pass ? 'secret12' : ''),
    vips: ['192.0.2.100'],
    unicast: file.includes('-ucast') ? { peers: [src], checkSource: true } : null,
    localAddresses: [other],
  };
}

const pcapDir = fixturePath('pcap');
const files = readdirSync(pcapDir).filter((f) => f.endsWith('.pcap')).sort();

describe('pcap replay (test/fixtures/pcap)', () => {
  it('finds the 16 captures', () => assert.equal(files.length, 16));

  const totals = { vrrp: 0, arp: 0, other: 0 };
  for (const file of files) {
    it(file, () => {
      const pcap = readPcap(readFileSync(`${pcapDir}/${file}`));
      assert.equal(pcap.linktype, LINKTYPE_ETHERNET);
      const counts = { vrrp: 0, arp: 0, other: 0 };
      const prio0From: string[] = [];
      const senders = new Set<string>();
      pcap.records.forEach((rec, i) => {
        const eth = parseEthernet(rec.data);
        assert.ok(eth, `frame ${i + 1}: shorter than an Ethernet header`);
        if (eth.ethertype === ETHERTYPE_ARP) {
          counts.arp++;
          const r = checkDatagram(receiverView(file, NODES[0]!), eth.payload); // what a stray ARP would get
          assert.deepEqual([r.ok, r.ok ? '' : r.reason], [false, 'not-ipv4']);
          return;
        }
        assert.equal(eth.ethertype, ETHERTYPE_IPV4, `frame ${i + 1}: unexpected ethertype`);
        const ip = parseIpv4(eth.payload);
        assert.ok(ip.ok, `frame ${i + 1}: ${ip.ok ? '' : ip.reason}`);
        // A raw socket hands over exactly tot_len bytes: drop any Ethernet padding.
        const datagram = eth.payload.subarray(0, ip.header.totalLength);
        const r = checkDatagram(receiverView(file, ip.header.src), datagram);
        if (ip.header.protocol !== 112) {
          counts.other++;
          assert.deepEqual([r.ok, r.ok ? '' : r.reason], [false, 'wrong-protocol'], `frame ${i + 1}`);
          return;
        }
        assert.ok(r.ok, `frame ${i + 1}: ${r.ok ? '' : `${r.reason}: ${r.detail}`}`);
        assert.equal(r.checksumForm, 'rfc');
        counts.vrrp++;
        senders.add(r.src);
        if (r.advert.priority === 0) prio0From.push(r.src);
        // The sender's own instance sees the same datagram as its own packet.
        const own = checkDatagram({ ...receiverView(file, ip.header.src), localAddresses: [ip.header.src] }, datagram);
        assert.deepEqual([own.ok, own.ok ? '' : own.reason], [false, 'own-packet']);
      });
      assert.ok(counts.vrrp > 0 && counts.arp > 0 && counts.other > 0, JSON.stringify(counts));
      assert.equal(counts.vrrp + counts.arp + counts.other, pcap.records.length);
      assert.deepEqual([...senders].sort(), NODES, 'both nodes advertised (failover happened)');
      // SIGTERM sends exactly one priority-0 advert; the lab also stops the surviving node at the end.
      assert.equal(prio0From.length, file.includes('.term.') ? 2 : 1, 'priority-0 adverts');
      assert.equal(new Set(prio0From).size, prio0From.length, 'one priority-0 advert per node');
      totals.vrrp += counts.vrrp;
      totals.arp += counts.arp;
      totals.other += counts.other;
    });
  }

  it('replayed hundreds of adverts in all', () => {
    assert.ok(totals.vrrp >= 16 * 17, JSON.stringify(totals));
    assert.ok(totals.arp > 0 && totals.other > 0);
  });

  it('each golden vector is the frame it names in its source pcap', () => {
    for (const v of loadKeepalivedVectors()) {
      const rec = readPcap(readFileSync(fixturePath(v.source_pcap))).records[v.frame_number - 1];
      assert.ok(rec, v.name);
      assert.equal(rec.data.toString('hex'), v.frame_hex, v.name);
    }
  });
});

describe('test/support/pcap.ts', () => {
  it('writePcap output reads back (microsecond, little-endian), and a capture survives a rewrite', () => {
    const frames = [Buffer.from('0102030405060708090a0b0c0800', 'hex'), Buffer.alloc(60, 7)];
    const back = readPcap(writePcap([{ data: frames[0]!, tsSec: 42, tsUsec: 999999 }, frames[1]!]));
    assert.deepEqual([back.linktype, back.nanosecond, back.snaplen], [LINKTYPE_ETHERNET, false, 65535]);
    assert.deepEqual(back.records.map((r) => r.data), frames);
    assert.deepEqual([back.records[0]!.tsSec, back.records[0]!.tsFrac, back.records[0]!.origLen], [42, 999999, 14]);

    const original = readPcap(readFileSync(`${pcapDir}/${files[0]}`));
    assert.equal(original.nanosecond, true, 'the lab captures are nanosecond pcaps');
    const rewritten = readPcap(writePcap(original.records.map((r) => r.data)));
    assert.deepEqual(rewritten.records.map((r) => r.data), original.records.map((r) => r.data));
  });

  it('reads big-endian files and rejects garbage', () => {
    const le = writePcap([Buffer.from('abcd', 'hex')]);
    const be = Buffer.from(le);
    for (const [off, size] of [[0, 4], [4, 2], [6, 2], [8, 4], [12, 4], [16, 4], [20, 4], [24, 4], [28, 4], [32, 4], [36, 4]] as const)
      be.subarray(off, off + size).reverse();
    assert.deepEqual(readPcap(be).records.map((r) => r.data.toString('hex')), ['abcd']);
    assert.throws(() => readPcap(Buffer.alloc(10)), /too short/);
    assert.throws(() => readPcap(Buffer.alloc(24)), /bad magic/);
    assert.throws(() => readPcap(le.subarray(0, le.length - 1)), /truncated/);
  });
});
