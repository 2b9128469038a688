// The container image as a real sidecar, offline (issue #10): podman builds the unchanged Dockerfile
// on a stand-in node:20-bookworm-slim (test/container/image.ts), then runs it in a lab node's network
// namespace with every capability dropped but NET_RAW and NET_ADMIN, next to Debian's keepalived on
// another node:
//   1. start-up after a crash: a stale copy of the VIP is on the node and keepalived is MASTER; the
//      container removes the stale VIP, listens, settles as BACKUP (/readyz 200) and never claims
//      MASTER while keepalived advertises (nothing of ours on the wire). Config from HA_AGENT_CONFIG,
//      read-only root filesystem, no-new-privileges.
//   2. failover: keepalived is killed (-9); the container takes over on its Master_Down_Timer: VIP on
//      the node, gratuitous ARPs from its MAC.
//   3. `podman stop` (SIGTERM through tini): the container sends priority 0 (seen in the capture),
//      releases the VIP and exits 0 inside the grace period; keepalived (restarted as BACKUP) takes
//      over because of that advert.
//   4. the same image as a non-root user (`--user node`, config mounted at the default path): the
//      two capabilities still suffice (podman makes them ambient): it preempts keepalived, holds the
//      VIP, sends GARPs, and hands back on `podman stop`.
// Plus the image itself: HEALTHCHECK on /healthz (run by hand: podman healthcheck run), tini as
// PID 1, iproute2 present, no compiler in the runtime stage.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Lab } from '../../src/lab/lab.js';
import { agentConfig, eventually, expectSteady, requireRoot, settle, waitVipHolders, withLab, TAKEOVER_REASON, reasonOf, type VrrpParams } from './harness.js';
import { keepalivedTakeover, startKeepalived } from './keepalived.js';
import { decodeArp, decodeVrrp, firstAdvert, firstGarp, startCapture } from './capture.js';
import { BASE_IMAGE, buildImage, cmd, ensureBaseImage, ensureContainersConf, must } from '../container/image.js';
import { runSidecar } from '../container/sidecar.js';
import { repoRoot } from '../support/fixtures.js';

const IMAGE = 'localhost/ha-agent:test';
const VIP = '198.51.100.100/24';
const VIP_ADDR = '198.51.100.100';
const NODES = [
  { name: 'ka', octet: 1 },
  { name: 'ctr', octet: 2 },
];
const GRACE_S = 10;
const WAIT = 15_000;

function params(lab: Lab, priority: number): VrrpParams {
  void lab;
  return { version: 2, vrid: 61, priority, advertInterval: 1, vips: [VIP] };
}

/** podman and friends are installed; under CI=true their absence is a failure, otherwise a loud skip. */
function requirePodman(t: import('node:test').TestContext): boolean {
  const missing = ['podman', 'buildah', 'runc', 'debootstrap'].filter((b) => spawnSync('sh', ['-c', 'command -v "$0"', b]).status !== 0);
  if (missing.length === 0) return true;
  const why = `needs ${missing.join(', ')} (apt-get install podman buildah runc debootstrap uidmap fuse-overlayfs)`;
  if (process.env.CI === 'true') throw new Error(`${why} (CI=true, so this is a failure, not a skip)`);
  console.warn(`\n!!!!! SKIPPED ${t.name}: ${why} !!!!!\n`);
  t.skip(why);
  return false;
}

let built: { log: string; baseMs: number; buildMs: number } | null = null;
let setupError: Error | null = null;

before(async () => {
  if (process.getuid?.() !== 0) return;
  if (['podman', 'debootstrap'].some((b) => spawnSync('sh', ['-c', 'command -v "$0"', b]).status !== 0)) return;
  try {
    ensureContainersConf();
    const baseMs = await ensureBaseImage((s) => console.log(`# container image: ${s}`));
    const { log, ms, steps } = await buildImage(IMAGE, repoRoot());
    built = { log, baseMs, buildMs: ms };
    console.log(`# container image: base ${baseMs ? `built in ${(baseMs / 1000).toFixed(1)} s` : 'reused'}, ${IMAGE} built in ${(ms / 1000).toFixed(1)} s`);
    const slow = steps.filter((s) => s.ms >= 2_000).map((s) => `${s.step} ${(s.ms / 1000).toFixed(1)} s`);
    if (slow.length) console.log(`# container image: slow steps: ${slow.join('; ')}`);
  } catch (e) {
    setupError = e as Error;
  }
});

function image(t: import('node:test').TestContext): boolean {
  if (!requireRoot(t) || !requirePodman(t)) return false;
  if (setupError) throw setupError;
  assert.ok(built, 'the image was built');
  return true;
}

test('image: built from the unchanged Dockerfile on the stand-in base; tini, HEALTHCHECK /healthz, iproute2, no compiler, node-gyp offline', { timeout: 900_000 }, async (t) => {
  if (!image(t)) return;
  assert.equal((await cmd(['podman', 'image', 'exists', BASE_IMAGE])).code, 0);
  const [info] = JSON.parse(await must(['podman', 'image', 'inspect', IMAGE])) as { Config: Record<string, any>; User?: string }[];
  assert.deepEqual(info!.Config.Entrypoint?.slice(0, 3), ['/usr/bin/tini', '--', 'node']);
  assert.deepEqual(info!.Config.Cmd, ['run']);
  assert.ok(!info!.Config.User || info!.Config.User === 'root' || info!.Config.User === '0', `runs as UID 0 (User=${info!.Config.User})`);
  const hc = (await must(['podman', 'image', 'inspect', '--format', '{{json .HealthCheck}}', IMAGE])).trim();
  assert.match(hc, /healthz/, `HEALTHCHECK on /healthz (docker format keeps it): ${hc}`);

  // Runtime stage: iproute2 and tini are there, compilers are not.
  const run = (entry: string, ...args: string[]) => cmd(['podman', 'run', '--rm', '--network', 'none', '--entrypoint', entry, IMAGE, ...args]);
  assert.match((await run('ip', '-V')).stdout, /ip utility/);
  const dpkg = await run('dpkg-query', '-W', '-f', '${Package} ${Status}\\n', 'gcc', 'g++', 'make', 'cpp', 'python3');
  assert.doesNotMatch(dpkg.stdout, /install ok installed/, `no compiler in the runtime image:\n${dpkg.stdout}`);
  // The host's npm cache lent to the build (image.ts npmCacheVolume) is in no layer of the image:
  // its mount point /mnt is empty, and npm's default cache was never written.
  const npmCache = await run('sh', '-c', 'test ! -e /root/.npm || echo /root/.npm; ls -A /mnt; echo end');
  assert.equal(npmCache.stdout, 'end\n', `nothing of an npm cache in the image:\n${npmCache.stdout}${npmCache.stderr}`);
  const addons = await run('node', '-e', "for (const n of ['netlink','packet_socket','vrrp_offload']) require('/app/build/Release/' + n + '.node'); require('raw-socket'); console.log('addons ok')");
  assert.match(addons.stdout, /addons ok/, addons.stderr);

  // Without the capabilities: one line naming the missing one and the container flags, exit 1.
  const config = 'instances:\n  VI_1: { interface: lo, vrid: 51, priority: 100, vips: [198.51.100.100/32], provider: { type: garp } }\n';
  const nocaps = await cmd(['podman', 'run', '--rm', '--network', 'none', '--cap-drop', 'ALL', '--health-interval', 'disable', '--env', `HA_AGENT_CONFIG=${config}`, IMAGE]);
  assert.equal(nocaps.code, 1, nocaps.stdout + nocaps.stderr);
  assert.match(nocaps.stderr, /^ha-agent: missing capability .*CAP_NET_RAW.*--cap-add NET_RAW --cap-add NET_ADMIN/m);

  // node-gyp compiled against the image's own headers (npm_config_nodedir): shown when the npm ci
  // layer was built in this run; the Dockerfile itself fails the build if node-gyp downloaded anything.
  if (/gyp info/.test(built!.log)) {
    assert.match(built!.log, /node_root_dir=\/usr\/local/);
    assert.doesNotMatch(built!.log, /gyp http GET/);
  } else assert.match(built!.log, /Using cache/, 'the npm ci layer came from the cache');
});

test('sidecar next to keepalived: stale VIP removed, listens, BACKUP; failover; podman stop → priority 0 → keepalived; non-root', { timeout: 300_000 }, async (t) => {
  if (!image(t)) return;
  await withLab(NODES, async (lab) => {
    const cap = await startCapture(lab);
    const ctrIp = lab.node('ctr').ip;

    // 1. keepalived is MASTER; a crashed run left the VIP on the container's node.
    const ka = startKeepalived(lab, 'ka', params(lab, 150));
    await ka.waitState('VI_1', 'MASTER', WAIT);
    await lab.run('ctr', ['ip', 'addr', 'add', VIP, 'dev', 'eth0']);
    assert.deepEqual((await lab.holdersOf(VIP)).sort(), ['ctr', 'ka']);
    const started = Date.now();
    const a = runSidecar(lab, 'ctr', { image: IMAGE, config: agentConfig(params(lab, 100)), configVia: 'env', extra: ['--read-only', '--security-opt', 'no-new-privileges'] }, GRACE_S);
    await a.waitFor((e) => e.evt === 'ready', 60_000, 0, '"ready" from the container');
    await waitVipHolders(lab, VIP, ['ka']); // the stale copy is gone
    await settle([[ka, 'MASTER'], [a, 'BACKUP']], 1_000, WAIT);
    const ready = await eventually(() => lab.exec('ctr', ['curl', '-s', '-w', ' %{http_code}', 'http://127.0.0.1:9721/readyz']), (r) => r.stdout.endsWith(' 200'), WAIT, '/readyz 200');
    assert.equal(ready.stdout, 'ready: VI_1 BACKUP\n 200');
    // Listening, not claiming: three Master_Down_Intervals' worth of keepalived adverts and no move.
    await expectSteady([a, ka], 3 * 3_700);
    assert.ok(!a.events.some((e) => /netlink unavailable/.test(e.line)), 'the netlink addon works in the image');
    const health = await cmd(['podman', 'healthcheck', 'run', a.name]);
    assert.equal(health.code, 0, `HEALTHCHECK: ${health.stdout}${health.stderr}`);

    // 2. keepalived dies without a word: the container takes over on its Master_Down_Timer.
    const killed = await ka.kill9();
    await a.waitState('VI_1', 'MASTER', WAIT);
    assert.equal(reasonOf(a, 'MASTER'), TAKEOVER_REASON.masterDown);
    await lab.run('ka', ['ip', 'addr', 'del', VIP, 'dev', 'eth0']); // what keepalived's host cleans up on its restart
    await waitVipHolders(lab, VIP, ['ctr']);

    // 3. keepalived back as the lower priority (BACKUP), then `podman stop`: priority 0, hand-over.
    const ka2 = startKeepalived(lab, 'ka', params(lab, 50));
    await ka2.waitState('VI_1', 'BACKUP', WAIT);
    await expectSteady([a, ka2], 2_500);
    const kaMark = ka2.mark();
    const stopA = await a.stop();
    assert.equal(stopA.code, 0, `the container exited 0 by itself, inside the ${GRACE_S} s grace period (podman stop took ${a.lastStop?.ms} ms)`);
    assert.equal(a.lastStop?.code, 0);
    assert.ok(a.events.some((e) => e.evt === 'transition' && e.to === 'INIT' && e.reason === 'shutdown'), 'the agent shut down its instance (SIGTERM reached it through tini)');
    await ka2.waitState('VI_1', 'MASTER', WAIT);
    assert.deepEqual(keepalivedTakeover(ka2, kaMark), { priorityZero: true, timerFired: true }, "keepalived took over on the container's priority-0 advert (Skew_Time)");
    await waitVipHolders(lab, VIP, ['ka']);
    const handoverMs = ka2.transitions().at(-1)!.at - stopA.sentAt;

    // 4. Non-root (`--user node`), config file mounted at the default path, higher priority: preempts.
    const bStarted = Date.now();
    const b = runSidecar(lab, 'ctr', { image: IMAGE, config: agentConfig(params(lab, 200)), configVia: 'file', user: 'node' }, GRACE_S);
    await b.waitState('VI_1', 'MASTER', 60_000);
    await ka2.waitState('VI_1', 'BACKUP', WAIT);
    await waitVipHolders(lab, VIP, ['ctr']);
    const uid = await cmd(['podman', 'exec', b.name, 'id', '-u']);
    assert.equal(uid.stdout.trim(), '1000', 'the agent runs as node (1000)');
    const stopB = await b.stop();
    assert.equal(stopB.code, 0);
    await ka2.waitState('VI_1', 'MASTER', WAIT);
    await waitVipHolders(lab, VIP, ['ka']);

    // The wire.
    const pcap = await cap.stop(1_500);
    const vrrp = await decodeVrrp(pcap);
    const arp = await decodeArp(pcap);
    assert.equal(firstAdvert(vrrp, { src: ctrIp }) !== undefined, true);
    const firstOurs = firstAdvert(vrrp, { src: ctrIp })!;
    assert.ok(firstOurs.time > killed.sentAt, 'the container sent nothing while keepalived was MASTER (it listened, then stayed BACKUP)');
    assert.ok(started < killed.sentAt);
    assert.ok(firstGarp(arp, VIP_ADDR, lab.node('ctr').mac, killed.sentAt), 'GARP from the container after the failover');
    assert.ok(firstAdvert(vrrp, { src: ctrIp, priority: 0, after: stopA.sentAt }), "the container's priority-0 advert on podman stop");
    assert.ok(firstGarp(arp, VIP_ADDR, lab.node('ctr').mac, bStarted), 'GARP from the non-root container');
    assert.ok(firstAdvert(vrrp, { src: ctrIp, priority: 0, after: stopB.sentAt }), "the non-root container's priority-0 advert");
    console.log(`# sidecar: podman stop → keepalived MASTER in ${handoverMs} ms; podman stop took ${a.lastStop?.ms} ms (root) and ${b.lastStop?.ms} ms (non-root), grace ${GRACE_S} s`);
  });
});
