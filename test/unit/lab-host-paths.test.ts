// src/lab/host-paths.ts: an agent a lab starts never writes the host's /run/ha-agent.pid. The argv the
// harness builds (agentRunArgs) passes the guard Lab.spawn / Lab.exec apply; a `run` without a pid
// file, or with one outside the temp dir, is refused before anything starts; other commands pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { agentRunArgs, assertLabRunArgv } from '../../src/lab/host-paths.js';

const TMP = '/tmp';
const CLI = '/repo/dist/src/cli.js';
const config = join(TMP, 'ha-netns-lab1-abc', 'agent-ha1-0.yaml');

test('the harness argv: --pid-file next to the config, inside the temp dir, and the guard lets it run', () => {
  const args = agentRunArgs(config);
  assert.deepEqual(args, ['run', '--config', config, '--pid-file', `${config}.pid`]);
  assert.doesNotThrow(() => assertLabRunArgv([process.execPath, CLI, ...args], TMP));
  assert.doesNotThrow(() => assertLabRunArgv(['setpriv', '--reuid=65534', '--', process.execPath, '--import', 'x.js', CLI, ...args], TMP), 'behind a wrapper and a preload');
  assert.doesNotThrow(() => assertLabRunArgv([process.execPath, CLI, 'run', '--config', config, `--pid-file=${TMP}/x/a.pid`], TMP), '--pid-file=FILE');
});

test('a run that would write the host pid file is refused, saying why', () => {
  assert.throws(() => assertLabRunArgv([process.execPath, CLI, 'run', '--config', config], TMP), /without --pid-file would write the host's \/run\/ha-agent\.pid/);
  assert.throws(() => assertLabRunArgv(['ha-agent', 'run'], TMP), /without --pid-file/);
  assert.throws(() => assertLabRunArgv([process.execPath, CLI, 'run', '--pid-file', '/run/ha-agent.pid'], TMP), /not inside the temp dir/);
  assert.throws(() => assertLabRunArgv([process.execPath, CLI, 'run', '--pid-file', `${TMP}/../run/x.pid`], TMP), /not inside the temp dir/);
  assert.throws(() => assertLabRunArgv([process.execPath, CLI, 'run', '--pid-file', 'relative.pid'], TMP), /not inside the temp dir/);
  assert.throws(() => assertLabRunArgv([process.execPath, CLI, 'run', '--pid-file'], TMP), /without --pid-file/);
});

test('other commands pass: status, reload, keepalived, a shell word "run" that is not the CLI', () => {
  for (const argv of [
    [process.execPath, CLI, 'status', '--json'],
    [process.execPath, CLI, 'reload', '--pid-file', `${config}.pid`, '--wait'],
    ['keepalived', '-n', '-f', '/tmp/k.conf', '-p', '/tmp/k.pid'],
    ['podman', 'run', '--rm', 'image'],
    ['ip', 'link'],
  ])
    assert.doesNotThrow(() => assertLabRunArgv(argv, TMP), argv.join(' '));
});
