// `ha-agent run` is read without commander (src/cli.ts: commander stays out of the agent's memory);
// every other command line, and any `run` line the small parser is unsure of, goes to commander.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_CONFIG, parseRunArgs } from '../../src/commands/run-args.js';

test('plain run command lines are parsed as commander would', () => {
  assert.deepEqual(parseRunArgs(['run']), { config: DEFAULT_CONFIG });
  assert.deepEqual(parseRunArgs(['run', '--config', '/a.yaml']), { config: '/a.yaml' });
  assert.deepEqual(parseRunArgs(['run', '-c', '/a.yaml', '--log-level', 'debug']), { config: '/a.yaml', logLevel: 'debug' });
  assert.deepEqual(parseRunArgs(['run', '--config=/a.yaml', '--log-level=warn']), { config: '/a.yaml', logLevel: 'warn' });
  assert.deepEqual(parseRunArgs(['run', '-c', '/a.yaml', '--config', '/b.yaml']), { config: '/b.yaml' }, 'the last one wins');
  assert.deepEqual(parseRunArgs(['run', '--config', 'x=y.yaml']), { config: 'x=y.yaml' });
});

test('anything else is left to commander', () => {
  for (const args of [
    [],
    ['status'],
    ['--help'],
    ['run', '--help'],
    ['run', '-h'],
    ['run', '--no-such-flag'],
    ['run', '--config'],
    ['run', '--config='],
    ['run', '--config', '--log-level'],
    ['run', '-c=/a.yaml'],
    ['run', 'extra'],
    ['run', '--', '--config', '/a.yaml'],
  ]) {
    assert.equal(parseRunArgs(args), null, JSON.stringify(args));
  }
});

test('run never loads commander; other commands still do', () => {
  const cli = join(process.cwd(), 'dist', 'src', 'cli.js');
  // At exit, the preloaded module says whether commander is among the loaded CommonJS modules.
  const probe = "import{createRequire}from'node:module';const r=createRequire(process.cwd()+'/');process.on('exit',()=>{if(Object.keys(r.cache).some((f)=>f.includes('/node_modules/commander/')))process.stderr.write('LOADED commander\\n')})";
  const ha = (...args: string[]) => spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(probe)}`, cli, ...args], { encoding: 'utf8', timeout: 20_000 });
  const run = ha('run', '--config', '/nonexistent/ha-agent.yaml');
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /nothing started/);
  assert.doesNotMatch(run.stderr, /LOADED commander/);
  const help = ha('--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stderr, /LOADED commander/, 'the hook works');
});
