// deploy/systemd: the unit passes `systemd-analyze verify`, its hardening scores "OK" in
// `systemd-analyze security` (Debian's keepalived unit, scored in the same run, is printed next to
// it), it carries what the agent relies on (Type=notify, watchdog, exactly two capabilities…), and
// the sysusers file creates its user. Everything runs offline against a throw-away root directory
// (--root): systemd need not be PID 1, and the host's users and units are never touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADVERT_THREAD_RT_PRIORITY } from '../../src/config/schema.js';

const UNIT = join(process.cwd(), 'deploy', 'systemd', 'ha-agent.service');
const SYSUSERS = join(process.cwd(), 'deploy', 'systemd', 'ha-agent.sysusers');
const SYSTEM_UNITS = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'sysinit.target')));

function haveSystemd(t: { skip: (why: string) => void; name: string }): boolean {
  const r = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (r.status === 0 && SYSTEM_UNITS) return true;
  const why = "needs Debian's systemd package (systemd-analyze and its units): apt-get install systemd";
  if (process.env.CI === 'true') throw new Error(`${why} (CI=true, so this is a failure, not a skip)`);
  console.warn(`\n!!!!! SKIPPED ${t.name}: ${why} !!!!!\n`);
  t.skip(why);
  return false;
}

/** A root directory holding the distribution's units, our unit unchanged, and stub ExecStart= binaries. */
function fakeRoot(t: { after: (fn: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), 'ha-systemd-root-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'usr', 'lib', 'systemd'), { recursive: true });
  cpSync(SYSTEM_UNITS!, join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, 'etc', 'systemd', 'system'), { recursive: true });
  copyFileSync(UNIT, join(root, 'etc', 'systemd', 'system', 'ha-agent.service'));
  if (existsSync('/usr/lib/os-release')) copyFileSync('/usr/lib/os-release', join(root, 'etc', 'os-release'));
  for (const bin of ['usr/bin/ha-agent', 'bin/kill']) {
    mkdirSync(join(root, bin, '..'), { recursive: true });
    writeFileSync(join(root, bin), '#!/bin/sh\nexit 0\n');
    chmodSync(join(root, bin), 0o755);
  }
  return root;
}

/** [Service] and [Unit] settings as key → values (repeated keys collected). */
function settings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

test('deploy/systemd/ha-agent.service: systemd-analyze verify finds nothing', (t) => {
  if (!haveSystemd(t)) return;
  const root = fakeRoot(t);
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '/etc/systemd/system/ha-agent.service'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings (unknown keys and bad values are only warnings)');
});

test('deploy/systemd/ha-agent.service: the verification catches a broken unit (the check is real)', (t) => {
  if (!haveSystemd(t)) return;
  const root = fakeRoot(t);
  const file = join(root, 'etc', 'systemd', 'system', 'ha-agent.service');
  writeFileSync(file, readFileSync(file, 'utf8').replace('RestrictAddressFamilies=AF_UNIX', 'RestrictAddressFamilies=AF_NOPE AF_UNIX').replace('ExecStart=/usr/bin/ha-agent', 'ExecStart=/usr/bin/ha-agnet'));
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '/etc/systemd/system/ha-agent.service'], { encoding: 'utf8' });
  assert.match(r.stderr, /AF_NOPE/);
  assert.match(r.stderr, /ha-agnet is not executable/);
});

test('deploy/systemd/ha-agent.service: systemd-analyze security rates it OK (keepalived\'s unit for comparison)', (t) => {
  if (!haveSystemd(t)) return;
  const root = fakeRoot(t);
  const score = (unit: string): { level: number; rating: string } => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', `--root=${root}`, '--no-pager', unit], { encoding: 'utf8' });
    const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout + r.stderr);
    return { level: Number(m[1]), rating: m[2]! };
  };
  const ours = score('ha-agent.service');
  const keepalived = existsSync(join(root, 'usr/lib/systemd/system/keepalived.service')) ? score('keepalived.service') : null;
  console.log(`systemd-analyze security exposure: ha-agent ${ours.level} ${ours.rating}; Debian's keepalived ${keepalived ? `${keepalived.level} ${keepalived.rating}` : 'not installed'}`);
  assert.ok(ours.level <= 4.0, `exposure ${ours.level} ${ours.rating}`);
  assert.equal(ours.rating, 'OK');
});

test('deploy/systemd/ha-agent.service: notify, watchdog, reload, restart, a non-root user with exactly CAP_NET_ADMIN + CAP_NET_RAW', () => {
  const s = settings(readFileSync(UNIT, 'utf8'));
  const one = (k: string) => {
    const v = s.get(k);
    assert.equal(v?.length, 1, `${k} set once`);
    return v![0]!;
  };
  assert.equal(one('Type'), 'notify');
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  // The non-root user cannot write /run/ha-agent.pid (the default): the pid file goes in the RuntimeDirectory.
  const pidFile = /--pid-file (\S+)/.exec(one('ExecStart'))?.[1];
  assert.equal(pidFile, `/run/${one('RuntimeDirectory')}/ha-agent.pid`, 'ExecStart names a pid file inside RuntimeDirectory');
  assert.match(one('WatchdogSec'), /^\d+s$/);
  assert.equal(one('Restart'), 'on-failure');
  assert.notEqual(one('User'), 'root');
  const caps = (k: string) => one(k).split(/\s+/).sort();
  assert.deepEqual(caps('AmbientCapabilities'), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
  assert.deepEqual(caps('CapabilityBoundingSet'), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.deepEqual(one('RestrictAddressFamilies').split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET', 'AF_UNIX']);
  assert.equal(s.has('MemoryDenyWriteExecute'), false, "V8's JIT needs writable executable memory");
  assert.equal(one('LimitRTPRIO'), String(ADVERT_THREAD_RT_PRIORITY), "the advert thread may take advertThread.realtimePriority's default without CAP_SYS_NICE");
  assert.equal(s.has('RestrictRealtime'), false, 'RestrictRealtime= would refuse that priority');
});

test('deploy/systemd/ha-agent.sysusers creates the unit\'s user and group (in a scratch root)', (t) => {
  if (!haveSystemd(t)) return;
  const root = mkdtempSync(join(tmpdir(), 'ha-sysusers-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'etc'));
  mkdirSync(join(root, 'usr', 'lib', 'sysusers.d'), { recursive: true });
  copyFileSync(SYSUSERS, join(root, 'usr', 'lib', 'sysusers.d', 'ha-agent.conf'));
  const r = spawnSync('systemd-sysusers', [`--root=${root}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const user = settings(readFileSync(UNIT, 'utf8')).get('User')![0]!;
  const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8');
  assert.match(passwd, new RegExp(`^${user}:x:\\d+:\\d+:[^:]*:/:/usr/sbin/nologin$`, 'm'));
  assert.match(readFileSync(join(root, 'etc', 'group'), 'utf8'), new RegExp(`^${settings(readFileSync(UNIT, 'utf8')).get('Group')![0]}:x:\\d+:`, 'm'));
});
