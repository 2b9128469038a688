// keepalived against keepalived in a lab (VRRPv2 multicast, PASS auth): proves the harness itself
// (lab, keepalived runner, capture, VIP and ARP helpers) independently of our agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientNeighbour, clientSees, eventually, requireRoot, settle, vipHolder, waitVipHolders, waitVipOn, withLab } from './harness.js';
import { keepalivedTakeover, startKeepalived } from './keepalived.js';
import { decodeArp, decodeVrrp, firstAdvert, firstGarp, startCapture } from './capture.js';

const VIP = '198.51.100.100/24';
const NODES = [
  { name: 'ha1', octet: 1 },
  { name: 'ha2', octet: 2 },
  { name: 'client', octet: 10 },
];

test('keepalived pair: one MASTER holding the VIP; kill -9 of it hands the VIP to the other', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cap = await startCapture(lab);
    const params = { version: 2 as const, vrid: 51, advertInterval: 1, vips: [VIP], auth: { type: 'pass' as const, password: 'secret12' } };
    const ha1 = startKeepalived(lab, 'ha1', { ...params, priority: 150 });
    const ha2 = startKeepalived(lab, 'ha2', { ...params, priority: 100 });

    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], 1_200);
    await waitVipHolders(lab, VIP, ['ha1']);
    assert.equal(await clientSees(lab, 'client', VIP), 'ha1');

    const beforeKill = ha2.mark();
    const killed = await ha1.kill9();
    assert.equal(killed.signal, 'SIGKILL');
    await lab.setLink('ha1', false); // the machine is gone: its kernel no longer answers ARP for the stale VIP
    await ha2.waitState('VI_1', 'MASTER', 15_000);
    assert.deepEqual(keepalivedTakeover(ha2, beforeKill), { priorityZero: false, timerFired: true }, 'kill -9: ha2 took over on its timer alone');
    // The new master's gratuitous ARP rewrites the client's existing entry, without the client asking.
    assert.equal(await eventually(() => clientNeighbour(lab, 'client', VIP), (n) => n === 'ha2', 5_000, 'client entry → ha2'), 'ha2');
    await waitVipOn(lab, VIP, 'ha2');
    assert.deepEqual(await vipHolder(lab, VIP), ['ha1', 'ha2'], 'kill -9 left the VIP on ha1');
    assert.equal(await clientSees(lab, 'client', VIP), 'ha2');

    const pcap = await cap.stop();
    const adverts = await decodeVrrp(pcap);
    const fromHa1 = firstAdvert(adverts, { src: lab.node('ha1').ip });
    assert.ok(fromHa1, 'ha1 advertised');
    assert.equal(fromHa1.version, 2);
    assert.equal(fromHa1.vrid, 51);
    assert.equal(fromHa1.priority, 150);
    assert.equal(fromHa1.ttl, 255);
    assert.equal(fromHa1.dst, '224.0.0.18');
    assert.equal(fromHa1.checksumStatus, 1);
    assert.equal(fromHa1.authString, 'secret12');
    assert.equal(adverts.filter((a) => a.priority === 0).length, 0, 'kill -9 sends no priority-0 advert');
    const takeover = firstAdvert(adverts, { src: lab.node('ha2').ip, after: killed.sentAt });
    assert.ok(takeover, 'ha2 advertised after the kill');
    assert.ok(firstGarp(await decodeArp(pcap), '198.51.100.100', lab.node('ha2').mac, killed.sentAt), 'ha2 sent a gratuitous ARP');
  });
});

test('keepalived pair: SIGTERM of the MASTER sends priority 0 and the BACKUP takes over because of it', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const cap = await startCapture(lab);
    const params = { version: 2 as const, vrid: 52, advertInterval: 1, vips: [VIP] };
    const ha1 = startKeepalived(lab, 'ha1', { ...params, priority: 150 });
    const ha2 = startKeepalived(lab, 'ha2', { ...params, priority: 100 });
    await settle([[ha1, 'MASTER'], [ha2, 'BACKUP']], 1_200);

    const beforeTerm = ha2.mark();
    const stopped = await ha1.stop('SIGTERM');
    assert.equal(stopped.code, 0);
    await ha2.waitState('VI_1', 'MASTER', 15_000);
    // keepalived -D logs the priority-0 advert that cut its Master_Down_Timer to Skew_Time (vrrp.c).
    assert.deepEqual(keepalivedTakeover(ha2, beforeTerm), { priorityZero: true, timerFired: true }, 'ha2 received the priority-0 advert, then took over');
    await waitVipHolders(lab, VIP, ['ha2']); // a clean stop removes the VIP
    assert.equal(await clientSees(lab, 'client', VIP), 'ha2');

    const adverts = await decodeVrrp(await cap.stop());
    const goodbye = firstAdvert(adverts, { src: lab.node('ha1').ip, priority: 0 });
    assert.ok(goodbye, 'priority-0 advert on the wire');
    const takeover = firstAdvert(adverts, { src: lab.node('ha2').ip, after: stopped.sentAt });
    assert.ok(takeover, 'ha2 advertised after the signal');
    assert.ok(takeover.time > goodbye.time, "ha2's first advert as master follows the goodbye");
  });
});
