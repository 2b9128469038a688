// The check drivers against real things: exec against small scripts in a temp dir (exit codes, the
// first line of stderr, a hung script's whole process group killed on abort, argv without a shell),
// http against a node:http server on 127.0.0.1, tcp against a listening and a closed port, file
// reads, process lookups in /proc; keepalived's script security; config errors for checks and track.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, chmodSync, mkdirSync, rmSync, readFileSync, existsSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { execProbe } from '../../src/checks/exec.js';
import { httpProbe } from '../../src/checks/http.js';
import { tcpProbe } from '../../src/checks/tcp.js';
import { fileProbe } from '../../src/checks/file.js';
import { processProbe } from '../../src/checks/process.js';
import { execProblem, resolveUser, writableByNonRoot } from '../../src/checks/security.js';
import { checkDefinitions, CheckSetupError } from '../../src/checks/index.js';
import { parseConfig } from '../../src/config/load.js';

let dir = '';
before(() => {
  dir = mkdtempSync('/tmp/ha-checks-');
  chmodSync(dir, 0o755);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string, mode = 0o755): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, mode);
  return p;
}

const never = new AbortController().signal;

/** Whether a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('exec', () => {
  test('exit 0 is success, with the exit code and a duration', async () => {
    const o = await execProbe({ command: [script('ok.sh', 'exit 0')], shell: false }).run(never);
    assert.equal(o.ok, true);
    assert.equal(o.exitCode, 0);
    assert.ok(o.durationMs >= 0);
  });

  test('a non-zero exit fails; the first non-empty line of stderr is kept', async () => {
    const o = await execProbe({ command: [script('fail.sh', 'echo >&2; echo "nginx: not running" >&2; echo second >&2; exit 3')], shell: false }).run(never);
    assert.equal(o.ok, false);
    assert.equal(o.exitCode, 3);
    assert.equal(o.stderr, 'nginx: not running');
    assert.equal(o.detail, 'exit 3: nginx: not running');
  });

  test('argv without a shell: arguments are passed as they are, never interpreted', async () => {
    const out = join(dir, 'argv.out');
    const p = script('argv.sh', `printf '%s|' "$@" > ${out}`);
    const o = await execProbe({ command: [p, 'a b', '$HOME', ';exit 1'], shell: false }).run(never);
    assert.equal(o.ok, true);
    assert.equal(readFileSync(out, 'utf8'), 'a b|$HOME|;exit 1|');
  });

  test('shell: true runs through /bin/sh -c', async () => {
    const o = await execProbe({ command: ['test "$((2+2))" = 4 && exit 0 || exit 9'], shell: true }).run(never);
    assert.equal(o.ok, true);
  });

  test('a program that cannot start fails with the reason', async () => {
    const o = await execProbe({ command: [join(dir, 'missing.sh')], shell: false }).run(never);
    assert.equal(o.ok, false);
    assert.match(o.detail, /cannot run .*missing\.sh: .*ENOENT/);
  });

  test('abort (the timeout) kills the whole process group: the script and its child', async () => {
    const pidFile = join(dir, 'child.pid');
    const p = script('hang.sh', `sleep 300 & echo $! > ${pidFile}; wait`);
    const ac = new AbortController();
    const run = execProbe({ command: [p], shell: false }).run(ac.signal);
    for (let i = 0; i < 500 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 10));
    const child = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(alive(child), 'the grandchild runs');
    ac.abort();
    const o = await run;
    assert.equal(o.ok, false);
    assert.equal(o.detail, 'killed at its timeout');
    for (let i = 0; i < 200 && alive(child); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(alive(child), false, 'the grandchild was killed with its group');
  });

  test('user: runs as that user', async () => {
    const out = join(dir, 'uid.out');
    const nobody = resolveUser('nobody');
    const outDir = join(dir, 'w');
    mkdirSync(outDir, { mode: 0o777 });
    chmodSync(outDir, 0o777);
    const p = script('id.sh', `id -u > ${outDir}/uid.out`);
    const o = await execProbe({ command: [p], shell: false, uid: nobody.uid, gid: nobody.gid }).run(never);
    assert.equal(o.ok, true, o.detail);
    assert.equal(readFileSync(join(outDir, 'uid.out'), 'utf8').trim(), String(nobody.uid));
    void out;
  });
});

describe('script security (keepalived enable_script_security)', () => {
  test('a root-owned script in root-owned, non-writable directories may run as root', () => {
    assert.equal(execProblem([script('safe.sh', 'exit 0')], false, 0), null);
    assert.equal(execProblem(['true'], false, 0), null, 'found in PATH');
  });

  test('a script writable by others, or owned by another user, is refused as root with a clear error', () => {
    const p = script('loose.sh', 'exit 0', 0o777);
    const why = execProblem([p], false, 0);
    assert.match(why ?? '', /refusing to run .*loose\.sh as root: .*writable by everyone.*fix:/);
    const q = script('owned.sh', 'exit 0');
    chownSync(q, 65534, 65534);
    assert.match(execProblem([q], false, 0) ?? '', /owned by uid 65534/);
    assert.equal(execProblem([q], false, 65534), null, 'fine when it runs as that user');
  });

  test('a directory above the script writable by a non-root user is refused', () => {
    const sub = join(dir, 'open');
    mkdirSync(sub);
    chmodSync(sub, 0o777);
    const p = join(sub, 'x.sh');
    writeFileSync(p, '#!/bin/sh\nexit 0\n');
    chmodSync(p, 0o755);
    assert.match(writableByNonRoot(p) ?? '', /directory .*open is writable by everyone/);
    // /tmp itself is world-writable but sticky: fine.
    assert.equal(writableByNonRoot(script('sticky-ok.sh', 'exit 0')), null);
  });

  test('start-up refuses the configuration with the check path in the message', () => {
    const p = script('cfg-loose.sh', 'exit 0', 0o777);
    const r = parseConfig(`checks:\n  chk:\n    type: exec\n    command: [${p}]\ninstances:\n  VI_1: { interface: eth0, vrid: 51, vips: [198.51.100.100], track: { checks: [chk] } }\n`);
    assert.ok(r.ok);
    assert.throws(() => checkDefinitions(r.config), (e: Error) => e instanceof CheckSetupError && /^checks\.chk\.command: refusing to run/.test(e.message));
  });

  test('a missing program or an unknown user is an error', () => {
    assert.match(execProblem(['no-such-program-xyz'], false, 0) ?? '', /not found in PATH/);
    assert.throws(() => resolveUser('no-such-user-xyz'), /not in \/etc\/passwd/);
  });
});

describe('http, tcp, file, process', () => {
  let server: http.Server;
  let port = 0;
  let code = 200;
  before(async () => {
    server = http.createServer((_req, res) => {
      res.statusCode = code;
      res.end('x');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('http: the expected status is success, another status fails with it', async () => {
    const probe = httpProbe({ url: `http://127.0.0.1:${port}/healthz`, expectStatus: 200 });
    code = 200;
    assert.deepEqual([(await probe.run(never)).ok, (await probe.run(never)).detail], [true, 'HTTP 200']);
    code = 503;
    const o = await probe.run(never);
    assert.equal(o.ok, false);
    assert.equal(o.detail, 'HTTP 503 (expected 200)');
  });

  test('http: a closed port fails; an abort ends a hanging request', async () => {
    const closed = await freePort();
    const o = await httpProbe({ url: `http://127.0.0.1:${closed}/`, expectStatus: 200 }).run(never);
    assert.equal(o.ok, false);
    assert.match(o.detail, /ECONNREFUSED/);
    const hang = net.createServer(() => {});
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const ac = new AbortController();
    const run = httpProbe({ url: `http://127.0.0.1:${(hang.address() as net.AddressInfo).port}/`, expectStatus: 200 }).run(ac.signal);
    ac.abort();
    const a = await run;
    assert.equal(a.ok, false);
    hang.close();
  });

  test('tcp: connect succeeds on a listening port, fails on a closed one', async () => {
    assert.equal((await tcpProbe({ host: '127.0.0.1', port }).run(never)).ok, true);
    const o = await tcpProbe({ host: '127.0.0.1', port: await freePort() }).run(never);
    assert.equal(o.ok, false);
    assert.match(o.detail, /ECONNREFUSED/);
  });

  test('file: the integer is read; a missing file reads 0; out of range is ignored', async () => {
    const f = join(dir, 'prio');
    writeFileSync(f, '-30\n');
    assert.equal((await fileProbe(f).run(never)).value, -30);
    assert.equal((await fileProbe(join(dir, 'nope')).run(never)).value, 0);
    writeFileSync(f, '99999999999');
    assert.equal((await fileProbe(f).run(never)).value, undefined);
  });

  test('process: found by comm name (this node process), not found otherwise', async () => {
    const comm = readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim();
    const o = await processProbe(comm).run(never);
    assert.equal(o.ok, true, o.detail);
    const none = await processProbe('no-such-proc-x').run(never);
    assert.equal(none.ok, false);
    assert.equal(none.detail, 'no process named no-such-proc-x');
    assert.equal((await processProbe(process.execPath).run(never)).ok, true, 'by full path (cmdline)');
  });
});

describe('config: checks and track', () => {
  const base = (extra: string, track = 'track: { checks: [chk_nginx] }') =>
    `checks:\n  chk_nginx: { type: exec, command: [/bin/true] }\n${extra}instances:\n  VI_1: { interface: eth0, vrid: 51, vips: [198.51.100.100], ${track} }\n`;

  test('the contract example parses with keepalived defaults', () => {
    const r = parseConfig(`checks:
  chk_nginx: { type: exec, command: [/etc/ha-agent/ck_ng.sh], interval: 2, timeout: 2, weight: -5, fall: 3, rise: 2 }
  web: { type: http, url: "http://127.0.0.1/healthz", expectStatus: 200, interval: 1, weight: -20 }
  db: { type: tcp, address: "127.0.0.1:5432", interval: 1, weight: 0 }
instances:
  VI_1:
    interface: eth0
    vrid: 51
    vips: [198.51.100.100]
    track:
      checks: [chk_nginx, { check: web, weight: -30 }]
      interfaces: [eth1, { interface: eth2, weight: -10 }]
      files: [{ path: /run/ha/prio, weight: 1 }]
`);
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
    assert.deepEqual(r.config.checks!['db'], { type: 'tcp', address: '127.0.0.1:5432', interval: 1, weight: 0, rise: 1, fall: 1, initFail: false });
    assert.deepEqual(r.config.instances['VI_1']!.track!.interfaces, ['eth1', { interface: 'eth2', weight: -10 }]);
  });

  test('an unknown check name is an error with a did-you-mean', () => {
    const r = parseConfig(base('', 'track: { checks: [chk_ngnix] }'));
    assert.equal(r.ok, false);
    const e = !r.ok ? r.errors.find((x) => x.path === 'instances.VI_1.track.checks[0]') : undefined;
    assert.ok(e, JSON.stringify(!r.ok && r.errors));
    assert.match(e.message, /no check named "chk_ngnix"/);
    assert.match(e.fix, /did you mean "chk_nginx"/);
  });

  test('weight out of -253..253, an unknown check type, and a one-word command with spaces are errors with fixes', () => {
    const w = parseConfig(base('').replace('command: [/bin/true]', 'command: [/bin/true], weight: -254'));
    assert.equal(w.ok, false);
    assert.match(JSON.stringify(!w.ok && w.errors), /checks\.chk_nginx\.weight/);
    const t = parseConfig(base('').replace('type: exec', 'type: exce'));
    assert.equal(t.ok, false);
    assert.match(JSON.stringify(!t.ok && t.errors), /unknown check type.*did you mean exec/);
    const c = parseConfig(base('').replace('command: [/bin/true]', 'command: ["/usr/bin/pgrep nginx"]'));
    assert.equal(c.ok, false);
    assert.match(JSON.stringify(!c.ok && c.errors), /split it into argv words/);
  });

  test('file checks take no rise/fall; track.files needs an absolute path', () => {
    const r = parseConfig(base('').replace('chk_nginx: { type: exec, command: [/bin/true] }', 'chk_nginx: { type: file, path: /run/x, fall: 2 }'));
    assert.equal(r.ok, false);
    assert.match(JSON.stringify(!r.ok && r.errors), /unknown key \\"fall\\"/);
    const f = parseConfig(base('', 'track: { files: [{ path: run/prio }] }'));
    assert.equal(f.ok, false);
    assert.match(JSON.stringify(!f.ok && f.errors), /not an absolute path/);
  });
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
