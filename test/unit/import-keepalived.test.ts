// `ha-agent import-keepalived` on the corpus in test/fixtures/keepalived-conf/: for every file, the
// exact lines naming what was not carried over, the exit code, source comments in the YAML, and the
// YAML passing `check-config` (the same command users run). Also: --provider aws replacing an
// `aws ec2 assign-private-ip-addresses` notify_master (inline or in its script), keepalived semantics
// the importer must keep, and malformed files (file:line, nothing written, no stack trace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'yaml';
import { importKeepalivedCommand, type ImportOptions } from '../../src/commands/import-keepalived.js';
import { checkConfigCommand } from '../../src/commands/check-config.js';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'keepalived-conf');
const dir = mkdtempSync(join(tmpdir(), 'ha-import-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function sink(): { stream: Writable; text: () => string } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      cb();
    },
  });
  return { stream, text: () => buf };
}

let n = 0;
interface Imported {
  code: number;
  yaml: string;
  /** stderr lines naming something not carried over (neither notes nor the summary). */
  unmapped: string[];
  notes: string[];
  stderr: string;
  out: string;
}

async function importFile(file: string, o: Omit<ImportOptions, 'out'> = {}): Promise<Imported> {
  const out = join(dir, `out-${n++}.yaml`);
  const so = sink();
  const se = sink();
  const code = await importKeepalivedCommand(file, { ...o, out }, { stdout: so.stream, stderr: se.stream });
  const lines = se.text().split('\n').filter(Boolean);
  return {
    code,
    yaml: existsSync(out) ? readFileSync(out, 'utf8') : '',
    unmapped: lines.filter((l) => !/: note: /.test(l) && !/^imported /.test(l)),
    notes: lines.filter((l) => / note: /.test(l)),
    stderr: se.text(),
    out,
  };
}

async function checkConfig(file: string): Promise<{ code: number; text: string }> {
  const so = sink();
  const se = sink();
  const code = await checkConfigCommand(file, { stdout: so.stream, stderr: se.stream });
  return { code, text: so.text() + se.text() };
}

const fx = (...p: string[]) => join(FIXTURES, ...p);

// Every VRRP pair of the corpus is carried over completely (the netns suite runs them against keepalived).
const CLEAN = ['master-backup-pass', 'nopreempt', 'unicast-aws', 'health-script', 'sync-group-routes', 'include-glob'].flatMap((d) => [`${d}/ha1.conf`, `${d}/ha2.conf`]);

test('the VRRP pairs of the corpus are carried over completely and pass check-config', async () => {
  for (const f of CLEAN) {
    const r = await importFile(fx(f));
    assert.deepEqual(r.unmapped, [], `${f}: nothing left behind`);
    assert.equal(r.code, 0, `${f}: exit 0\n${r.stderr}`);
    const cc = await checkConfig(r.out);
    assert.equal(cc.code, 0, `${f}: check-config accepts the import:\n${cc.text}\n${r.yaml}`);
    assert.match(r.yaml, /^# ha-agent config imported from /, `${f}: header`);
    assert.match(r.yaml, /# Every keyword was carried over\./);
    assert.match(r.yaml, /\n  # [\w./-]+\.conf:\d+ vrrp_instance \w+\n/, `${f}: the instance says where it came from`);
    assert.match(r.yaml, /vrid: \d+ # [\w./-]+\.conf:\d+ virtual_router_id \d+/, `${f}: each setting names its line`);
  }
});

test('master-backup-pass: the values and their source lines', async () => {
  const r = await importFile(fx('master-backup-pass', 'ha1.conf'));
  const c = parse(r.yaml);
  assert.deepEqual(c, {
    instances: { VI_1: { interface: 'eth0', vrid: 51, priority: 150, advertInterval: 1, auth: { type: 'pass', password: 's3cret12' }, vips: ['198.51.100.100/24'] } },
  });
  assert.match(r.yaml, /password: s3cret12 # ha1\.conf:16 auth_pass\n/);
  assert.match(r.yaml, /- 198\.51\.100\.100\/24 # ha1\.conf:19 virtual_ipaddress 198\.51\.100\.100\/24 dev eth0\n/);
});

test('health-script: vrrp_script → exec check with script_user; track_script weight override', async () => {
  const r = await importFile(fx('health-script', 'ha2.conf'));
  const c = parse(r.yaml);
  assert.deepEqual(c.checks.chk_web, { type: 'exec', command: ['/usr/bin/curl', '-sf', '-m', '1', 'http://127.0.0.1:8080/healthz'], user: 'root', interval: 1, timeout: 2, weight: -60, fall: 2, rise: 2 });
  assert.deepEqual(c.instances.VI_WEB.track, { checks: [{ check: 'chk_web', weight: -10 }, 'chk_true'] });
  assert.match(r.yaml, /# ha2\.conf:9 vrrp_script chk_web\n  chk_web:/);
  const one = await importFile(fx('health-script', 'ha1.conf'));
  assert.equal(parse(one.yaml).instances.VI_WEB.track.interfaces, undefined, "keepalived ignores tracking the instance's own interface");
  assert.ok(one.notes.some((l) => l.startsWith('ha1.conf:32: note: track_interface: keepalived ignores tracking')));
});

test('sync-group-routes, include-glob, nopreempt: groups, routes, includes, global defaults', async () => {
  const s = parse((await importFile(fx('sync-group-routes', 'ha1.conf'))).yaml);
  assert.deepEqual(s.syncGroups, { VG_1: { instances: ['VI_FRONT', 'VI_BACK'] } });
  assert.deepEqual(s.instances.VI_FRONT.routes, [
    { to: '203.0.113.0/24', via: '198.51.100.254', dev: 'eth0' },
    { to: '203.0.113.128/25', via: '198.51.100.254', metric: 10, table: 100 },
  ]);
  const inc = await importFile(fx('include-glob', 'ha1.conf'));
  assert.match(inc.yaml, /# Read: ha1\.conf, conf\.d\/10-vi-inc\.conf, common\/auth\.inc, common\/vips\.inc\n/);
  assert.match(inc.yaml, /password: incl8pw # common\/auth\.inc:3 auth_pass/);
  assert.match(inc.yaml, /delay: 2 # ha1\.conf:6 vrrp_garp_master_delay \(global_defs\)/);
  const np = parse((await importFile(fx('nopreempt', 'ha2.conf'))).yaml);
  assert.deepEqual(np.instances.VI_APP, { interface: 'eth0', vrid: 52, priority: 100, version: 3, advertInterval: 1, preempt: false, vips: ['198.51.100.101/24'], garp: { repeat: 3, delay: 1, refresh: 30 } });
});

test('lvs: exactly the keywords ha-agent cannot carry over, each with what to do instead; exit 1, YAML still written', async () => {
  const r = await importFile(fx('lvs', 'keepalived.conf'));
  const MAIL = 'ha-agent sends no mail: use a notify hook (e.g. notify.any: [/usr/local/sbin/mail-state-change]) that sends it';
  const GARP = 'ha-agent sends each gratuitous-ARP burst back to back; garp: repeat, delay, refresh and refreshRepeat set its schedule';
  assert.deepEqual(r.unmapped, [
    `keepalived.conf:6: notification_email: ${MAIL}`,
    `keepalived.conf:9: notification_email_from: ${MAIL}`,
    `keepalived.conf:10: smtp_server: ${MAIL}`,
    `keepalived.conf:11: smtp_connect_timeout: ${MAIL}`,
    `keepalived.conf:15: vrrp_garp_interval: ${GARP}`,
    `keepalived.conf:16: vrrp_gna_interval: ${GARP}`,
    `keepalived.conf:25: smtp_alert: ${MAIL}`,
    'keepalived.conf:31: virtual_ipaddress: VIP 198.51.100.200/24: label eth0:1 is not carried over (ha-agent adds VIPs without a label); scripts that look for the label should look for the address',
    'keepalived.conf:35: virtual_server: ha-agent does not do load balancing; keep LVS/IPVS for it (keepalived with only its LVS blocks, or ipvsadm/ldirectord)',
  ]);
  assert.equal(r.code, 1);
  assert.ok(r.notes.some((l) => l.startsWith('keepalived.conf:14: note: vrrp_strict: ')), 'vrrp_strict is a note');
  assert.ok(r.notes.some((l) => l.startsWith('keepalived.conf:26: note: authentication: keepalived ignores authentication with vrrp_strict')));
  assert.match(r.yaml, /# NOT carried over \(9; also printed on stderr\):\n#   keepalived\.conf:6 notification_email: /);
  assert.equal((await checkConfig(r.out)).code, 0, 'what was carried over passes check-config');
  assert.deepEqual(parse(r.yaml).instances.VI_1, { interface: 'eth0', vrid: 51, priority: 100, advertInterval: 1, vips: ['198.51.100.200/24'] });
});

test('kitchen-sink: the man page settings ha-agent has no equivalent for, and keepalived rules that change the mapping', async () => {
  const r = await importFile(fx('kitchen-sink', 'keepalived.conf'));
  assert.deepEqual(
    r.unmapped.map((l) => l.split(': ').slice(0, 2).join(': ')),
    [
      'keepalived.conf:13: enable_snmp_vrrp',
      'keepalived.conf:14: vrrp_mcast_group4',
      'keepalived.conf:20: weight',
      'keepalived.conf:27: init_file',
      'keepalived.conf:34: delay',
      'keepalived.conf:45: smtp_alert',
      'keepalived.conf:51: mcast_src_ip',
      'keepalived.conf:55: use_vmac',
      'keepalived.conf:67: virtual_ipaddress',
      'keepalived.conf:67: virtual_ipaddress',
      'keepalived.conf:68: virtual_ipaddress',
      'keepalived.conf:70: virtual_ipaddress_excluded',
      'keepalived.conf:74: virtual_routes',
      'keepalived.conf:76: virtual_routes',
      'keepalived.conf:79: notify_backup',
      'keepalived.conf:80: notify',
      'keepalived.conf:82: colour',
      'keepalived.conf:104: static_routes',
    ],
  );
  assert.ok(r.unmapped.includes('keepalived.conf:82: colour: unknown keyword (keepalived ignores it too, with "Unknown keyword"); ha-agent has no such instance setting: remove it'));
  assert.ok(r.unmapped.includes('keepalived.conf:104: static_routes: add static routes with the system network configuration (systemd-networkd, ifupdown, netplan)'));
  assert.equal(r.code, 1);
  assert.equal((await checkConfig(r.out)).code, 0);
  const c = parse(r.yaml);
  assert.equal(c.notifyFifo, '/run/keepalived/notify.fifo');
  const ext = c.instances.VI_EXT;
  assert.equal(ext.priority, 255, 'state MASTER without a priority: keepalived makes it the owner');
  assert.equal(ext.preempt, undefined, 'nopreempt is ignored with state MASTER');
  assert.deepEqual(ext.vips, ['198.51.100.130/24'], 'the VIP on another device is left out');
  assert.deepEqual(ext.routes, [{ to: '203.0.113.0/24', via: '198.51.100.254' }, { to: '0.0.0.0/0', via: '198.51.100.254' }]);
  assert.deepEqual(ext.garp, { repeat: 2, delay: 3, lowerPrioRepeat: 1 }, 'instance garp_* over global vrrp_garp_*');
  assert.equal(ext.lowerPrioNoAdvert, true);
  // Owner: its own weighted tracking is dropped, the group's gets weight 0 (keepalived vrrp.c).
  assert.deepEqual(ext.track, { checks: [{ check: 'chk_haproxy', weight: 0 }], interfaces: ['eth2'] });
  const int = c.instances.VI_INT;
  assert.equal(int.auth, undefined, 'keepalived ignores authentication with VRRPv3');
  assert.deepEqual(int.track, { checks: [{ check: 'chk_haproxy', weight: 0 }], interfaces: ['eth1'] }, 'a sync-group member: interface weights ignored');
  assert.deepEqual(c.checks.maintenance, { type: 'file', path: '/run/keepalived/maintenance', weight: -100 });
  assert.deepEqual(c.checks.nginx, { type: 'process', name: 'nginx', weight: -30 });
  assert.deepEqual(c.syncGroups.VG_EDGE, { instances: ['VI_EXT', 'VI_INT'], notify: { master: ['/etc/keepalived/group.sh', 'MASTER'] } });
});

test('unicast-aws: --provider aws replaces the aws CLI notify_master (inline), and says so', async () => {
  const plain = await importFile(fx('unicast-aws', 'ha1.conf'));
  assert.equal(plain.code, 0);
  assert.ok(plain.notes.some((l) => /^ha1\.conf:21: note: notify_master: .*aws ec2 assign-private-ip-addresses.*the aws provider.*replaces it.*--provider aws/.test(l)), plain.stderr);
  assert.equal(parse(plain.yaml).instances.VI_AWS.notify.master[0], '/usr/bin/aws', 'without --provider aws the hook stays');
  const aws = await importFile(fx('unicast-aws', 'ha1.conf'), { provider: 'aws' });
  assert.equal(aws.code, 0, aws.stderr);
  const inst = parse(aws.yaml).instances.VI_AWS;
  assert.equal(inst.notify, undefined, 'the notify_master is not carried over');
  assert.deepEqual(inst.provider, { type: 'aws', networkInterfaceId: 'eni-0a1b2c3d4e5f67890', region: 'eu-west-1' });
  assert.deepEqual(inst.unicast, { source: '198.51.100.1', peers: ['198.51.100.2'], checkSource: true });
  assert.match(aws.yaml, /type: aws # --provider aws: replaces notify_master at ha1\.conf:21 \(\/usr\/bin\/aws ec2 assign-private-ip-addresses .*\), not carried over/);
  assert.equal((await checkConfig(aws.out)).code, 0);
});

test('--provider aws recognises the aws CLI inside the notify_master script; other providers', async () => {
  const script = join(dir, 'move-vip.sh');
  writeFileSync(script, '#!/bin/sh\n# move the VIP to this instance\nset -e\naws --region us-east-1 ec2 assign-private-ip-addresses \\\n  --network-interface-id eni-0123456789abcdef0 \\\n  --private-ip-addresses 198.51.100.60 --allow-reassignment\n', { mode: 0o755 });
  const conf = join(dir, 'aws-script.conf');
  writeFileSync(conf, `vrrp_instance VI_S {\n  interface eth0\n  virtual_router_id 70\n  unicast_peer {\n    198.51.100.2\n  }\n  virtual_ipaddress {\n    198.51.100.60/24\n  }\n  notify_master ${script}\n  notify_backup "${script} backup"\n}\n`);
  const r = await importFile(conf, { provider: 'aws' });
  assert.equal(r.code, 0, r.stderr);
  const inst = parse(r.yaml).instances.VI_S;
  assert.deepEqual(inst.provider, { type: 'aws', networkInterfaceId: 'eni-0123456789abcdef0', region: 'us-east-1' });
  assert.deepEqual(inst.notify, { backup: [script, 'backup'] }, 'only the notify_master is replaced');
  assert.deepEqual(inst.unicast.checkSource, false, 'keepalived checks the unicast source only with check_unicast_src');
  assert.ok(r.notes.some((l) => l.includes(`(in ${script}): not carried over`)));

  const garp = parse((await importFile(conf, { provider: 'garp' })).yaml).instances.VI_S;
  assert.deepEqual(garp.provider, { type: 'garp' });
  assert.equal(garp.notify.master[0], script);
  const ali = await importFile(conf, { provider: 'alibaba' });
  assert.equal(ali.code, 1, 'the HaVip id is missing');
  assert.deepEqual(ali.unmapped, ['aws-script.conf:1: vrrp_instance VI_S: set provider.haVipId in the output (a placeholder havip-changeme is written): keepalived.conf does not name the HaVip']);
  assert.equal(parse(ali.yaml).instances.VI_S.provider.type, 'alibaba');
  const bad = await importFile(conf, { provider: 'gcp' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--provider must be one of garp, aws, alibaba/);
});

test('malformed files: file:line, nothing written, exit 1', async () => {
  const cases: [string, string][] = [
    ['unclosed.conf', 'unclosed.conf:5: error: block `vrrp_instance VI_1` is never closed: a `}` is missing (the file ends at unclosed.conf:12)'],
    ['outside.conf', 'outside.conf:9: error: `priority` is outside its block: it belongs in a vrrp_instance block, not at the top level (is the `}` at outside.conf:8 one too many, or a `{` missing?)'],
    ['misplaced.conf', "misplaced.conf:4: error: `vrrp_instance` is inside the `global_defs` block opened at misplaced.conf:1: it belongs at the top level (is that block's `}` missing?)"],
    ['extra-brace.conf', 'extra-brace.conf:4: error: extra `}`: no block is open here'],
    ['quote.conf', 'quote.conf:2: error: unterminated quote: a " is not closed on this line'],
  ];
  for (const [file, first] of cases) {
    const r = await importFile(fx('malformed', file));
    assert.equal(r.code, 1, file);
    assert.equal(r.stderr.split('\n')[0], first);
    assert.equal(r.yaml, '', `${file}: nothing written`);
  }
  const wrongBlock = join(dir, 'wrong-block.conf');
  writeFileSync(wrongBlock, 'vrrp_instance VI_1 {\n  interface eth0\n  router_id x\n}\n');
  assert.match((await importFile(wrongBlock)).stderr, /^wrong-block\.conf:3: error: `router_id` belongs in global_defs, not in this vrrp_instance block \(vrrp_instance VI_1, wrong-block\.conf:1\)/);
});

test('the installed command: help lists it, exit codes, no stack trace', () => {
  const cli = join(process.cwd(), 'dist', 'src', 'cli.js');
  const run = (...a: string[]) => spawnSync(process.execPath, [cli, ...a], { encoding: 'utf8', timeout: 20_000 });
  assert.match(run('--help').stdout, /import-keepalived/);
  const ok = run('import-keepalived', fx('master-backup-pass', 'ha2.conf'));
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^# ha-agent config imported from ha2\.conf/);
  assert.match(ok.stderr, /imported 1 instance\(s\) \(VI_1\); 0 keyword\(s\) not carried over, 1 note\(s\); the result passes check-config/);
  const bad = run('import-keepalived', fx('malformed', 'unclosed.conf'));
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout, '');
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  const missing = run('import-keepalived', join(dir, 'nope.conf'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^nope\.conf: error: cannot read .*nope\.conf: no such file/);
  assert.equal(run('import-keepalived').status, 2, 'FILE is required');
});

test('VIP ranges are expanded; a VIP of the other family is left out like keepalived does', async () => {
  const conf = join(dir, 'ranges.conf');
  writeFileSync(conf, 'vrrp_instance VI_R {\n  interface eth0\n  virtual_router_id 80\n  virtual_ipaddress {\n    198.51.100.150-152/24\n    2001:db8::15/64\n  }\n}\n');
  const r = await importFile(conf);
  assert.deepEqual(parse(r.yaml).instances.VI_R.vips, ['198.51.100.150/24', '198.51.100.151/24', '198.51.100.152/24']);
  assert.equal(r.unmapped.length, 1);
  assert.match(r.unmapped[0]!, /^ranges\.conf:6: virtual_ipaddress: VIP 2001:db8::15\/64 is IPv6 in an IPv4 instance: keepalived leaves it out of the adverts/);
  assert.equal(r.code, 1);
});

test("check-config's warnings on the result are shown (a long auth_pass, truncated like keepalived does)", async () => {
  const conf = join(dir, 'longpass.conf');
  writeFileSync(conf, 'vrrp_instance VI_P {\n  interface eth0\n  virtual_router_id 9\n  authentication {\n    auth_type PASS\n    auth_pass longpassword\n  }\n  virtual_ipaddress {\n    198.51.100.9\n  }\n}\n');
  const r = await importFile(conf);
  assert.equal(r.code, 0, 'keepalived truncates too: carried over');
  assert.match(r.stderr, /check-config warning: instances\.VI_P\.auth\.password: is 12 bytes long; only the first 8 are used/);
});

test('a VIP listed twice is carried over once, with a note (keepalived holds it once)', async () => {
  const conf = join(dir, 'dup.conf');
  writeFileSync(conf, 'vrrp_instance VI_D {\n  interface eth0\n  virtual_router_id 10\n  virtual_ipaddress {\n    198.51.100.20\n    198.51.100.21/24\n    198.51.100.20/32 dev eth0\n  }\n}\n');
  const r = await importFile(conf);
  assert.deepEqual(parse(r.yaml).instances.VI_D.vips, ['198.51.100.20', '198.51.100.21/24']);
  assert.ok(r.notes.includes('dup.conf:7: note: virtual_ipaddress: 198.51.100.20 is already listed at dup.conf:5; keepalived holds it once, so it is listed once'), r.stderr);
  assert.equal(r.code, 0);
  assert.equal((await checkConfig(r.out)).code, 0);
});

test("--provider aws also replaces a sync group's aws CLI notify_master", async () => {
  const conf = join(dir, 'group-aws.conf');
  writeFileSync(conf, 'vrrp_sync_group VG {\n  group {\n    VI_A\n  }\n  notify_master "/usr/bin/aws ec2 assign-private-ip-addresses --network-interface-id eni-0123456789abcdef0 --private-ip-addresses 198.51.100.30 --allow-reassignment"\n}\nvrrp_instance VI_A {\n  interface eth0\n  virtual_router_id 30\n  unicast_peer {\n    198.51.100.2\n  }\n  virtual_ipaddress {\n    198.51.100.30/24\n  }\n}\n');
  const aws = await importFile(conf, { provider: 'aws' });
  assert.equal(aws.code, 0, aws.stderr);
  const c = parse(aws.yaml);
  assert.deepEqual(c.syncGroups.VG, { instances: ['VI_A'] }, 'the group notify_master is not carried over');
  assert.deepEqual(c.instances.VI_A.provider, { type: 'aws' });
  assert.match(aws.yaml, /# group-aws\.conf:5 notify_master \(\/usr\/bin\/aws ec2 assign-private-ip-addresses .*\): not carried over, the aws provider of each member replaces it\n  VG:/);
  const plain = await importFile(conf);
  assert.equal(parse(plain.yaml).syncGroups.VG.notify.master[0], '/usr/bin/aws');
  assert.ok(plain.notes.some((l) => l.startsWith('group-aws.conf:5: note: notify_master: notify_master runs `aws ec2 assign-private-ip-addresses`: the aws provider replaces it; import with --provider aws')));
});

test('vrrp_rt_priority becomes advertThread.realtimePriority; a value outside 1..99 is not carried over', async () => {
  const conf = join(dir, 'rt.conf');
  const body = 'vrrp_instance VI_T {\n  interface eth0\n  virtual_router_id 11\n  virtual_ipaddress {\n    198.51.100.11\n  }\n}\n';
  writeFileSync(conf, `global_defs {\n  vrrp_rt_priority 50\n}\n${body}`);
  const r = await importFile(conf);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(parse(r.yaml).advertThread, { realtimePriority: 50 });
  assert.match(r.yaml, /realtimePriority: 50 # rt\.conf:2 vrrp_rt_priority 50/);
  assert.equal((await checkConfig(r.out)).code, 0);
  writeFileSync(conf, `global_defs {\n  vrrp_rt_priority 120\n}\n${body}`);
  const bad = await importFile(conf);
  assert.equal(bad.code, 1);
  assert.deepEqual(bad.unmapped, ["rt.conf:2: vrrp_rt_priority: vrrp_rt_priority must be an integer 1..99 (got 120); ha-agent's advert thread keeps its default, SCHED_FIFO priority 1"]);
  assert.equal(parse(bad.yaml).advertThread, undefined);
});
