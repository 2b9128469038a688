// Failure policy (issue #5, item 6), with the real CLI in a lab namespace:
// - a bug (an uncaught exception, an unhandled rejection) in a running agent is logged at fatal with
//   its stack and the agent exits 70 (EXIT_SOFTWARE) instead of running on in an unknown state;
// - a stdout that does not move (a full pipe nobody reads) does not hold the adverts back: the logs
//   wait (asynchronous destination), the VRRP timers do not; and it does not hold the exit either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import type { Lab } from '../../src/lab/lab.js';
import { EXIT_SOFTWARE } from '../../src/commands/run.js';
import { AgentHandle, adoptProcess, agentCli, agentConfig, agentRunArgs, eventually, labDir, requireRoot, sleep, vipHolder, withLab, type AgentConfig } from './harness.js';
import { decodeVrrp, startCapture } from './capture.js';
import { fullPipe, jsonLines } from '../support/full-pipe.js';

const here = dirname(fileURLToPath(import.meta.url));
const preload = pathToFileURL(join(here, 'fixtures', 'fail-on-signal.js')).href;
const VIP = '198.51.100.100/24';
const NODES = [{ name: 'ha1', octet: 1 }];

function config(advertInterval: number): AgentConfig {
  return agentConfig({ version: 3, vrid: 51, priority: 150, advertInterval, vips: [VIP] });
}

function writeConfig(lab: Lab, cfg: AgentConfig, name: string): string {
  const file = join(labDir(lab), name);
  writeFileSync(file, stringify(cfg), { mode: 0o600 });
  return file;
}

for (const mode of ['throw', 'reject'] as const) {
  const origin = mode === 'throw' ? 'uncaughtException' : 'unhandledRejection';
  test(`${origin} in a running agent: one fatal line with the stack, exit ${EXIT_SOFTWARE}`, async (t) => {
    if (!requireRoot(t)) return;
    await withLab(NODES, async (lab) => {
      const cfg = config(1);
      const file = writeConfig(lab, cfg, `agent-${mode}.yaml`);
      const proc = lab.spawn('ha1', [process.execPath, '--import', preload, agentCli(), ...agentRunArgs(file)], {
        env: { ...process.env, FAIL_MODE: mode },
      });
      const agent = new AgentHandle(lab, lab.node('ha1'), file, cfg, proc);
      adoptProcess(lab, agent);
      await agent.ready();
      await agent.waitState('VI_1', 'MASTER', 10_000);

      proc.kill('SIGUSR2');
      const exit = await agent.closed;

      assert.equal(exit.signal, null, agent.logs(20));
      assert.equal(exit.code, EXIT_SOFTWARE, `exit code\n${agent.logs(20)}`);
      const out = agent.events.filter((e) => e.stream === 'stdout');
      const fatal = out.filter((e) => e.level === 60);
      assert.equal(fatal.length, 1, `exactly one fatal line\n${agent.logs(20)}`);
      const f = fatal[0]!;
      assert.equal(f, out.at(-1), 'the fatal line is the last thing the agent says');
      assert.equal(f.evt, 'fatal');
      assert.equal(f.origin, origin);
      assert.equal(f.exitCode, EXIT_SOFTWARE);
      const err = f.err as { type?: string; message?: string; stack?: string };
      assert.equal(err.type, 'Error');
      assert.match(err.message ?? '', /^injected bug: (thrown|rejected) from a timer$/);
      assert.match(err.stack ?? '', /fail-on-signal\.js/, 'the stack points at the failing code');
      assert.match(String(f.msg), new RegExp(`exiting ${EXIT_SOFTWARE}`));
    });
  });
}

test('stdout is a full pipe nobody reads: adverts keep leaving at 0.1 s, the logs wait', async (t) => {
  if (!requireRoot(t)) return;
  await withLab(NODES, async (lab) => {
    const pipe = fullPipe(labDir(lab));
    try {
      const cfg = config(0.1);
      const file = writeConfig(lab, cfg, 'agent-stalled.yaml');
      const cap = await startCapture(lab, { filter: 'ip proto 112' });
      // stdout: the full pipe; stderr is read (the agent writes nothing there unless it breaks).
      const proc = lab.spawn('ha1', [process.execPath, agentCli(), ...agentRunArgs(file)], { stdio: ['ignore', pipe.writeFd, 'pipe'] });
      let stderr = '';
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      let exited: string | null = null;
      proc.on('exit', (code, signal) => (exited = `code ${code} signal ${signal}`));

      // Its logs cannot tell us anything: watch the network. The VIP goes on after the first advert.
      await eventually(() => vipHolder(lab, VIP), (h) => h.includes('ha1') || exited !== null, 15_000, 'ha1 takes the VIP');
      assert.equal(exited, null, `the agent exited: ${exited}\n${stderr}`);
      await sleep(3_500);
      const rows = await decodeVrrp(await cap.stop());

      const ip = lab.node('ha1').ip;
      const adverts = rows.filter((r) => r.src === ip && r.vrid === 51 && r.priority === 150);
      const first = adverts[0];
      assert.ok(first, `no advert from ha1 captured (stderr: ${stderr})`);
      const WINDOW_MS = 3_000;
      const expected = WINDOW_MS / 100;
      const inWindow = adverts.filter((r) => r.time >= first.time && r.time < first.time + WINDOW_MS).length;
      console.log(`stalled stdout: ${inWindow} adverts in the ${WINDOW_MS} ms after the first (expected ${expected})`);
      assert.ok(inWindow >= 0.8 * expected, `only ${inWindow} of ${expected} adverts left while stdout was stalled`);
      assert.equal(exited, null, `the agent exited: ${exited}\n${stderr}`);

      // Only now let stdout move: the logs were held, not lost, and come out behind the filler.
      const held = pipe.drain();
      assert.equal(held.length, pipe.filled, 'nothing but the filler got into the pipe while it was full');
      const seen: Record<string, unknown>[] = [];
      await eventually(
        async () => {
          seen.push(...jsonLines(pipe.drain()));
          return seen;
        },
        (lines) => lines.some((l) => l.evt === 'ready') && lines.some((l) => l.evt === 'transition' && l.to === 'MASTER'),
        10_000,
        'the held log lines (ready, transition to MASTER) once stdout moves',
      );

      // Stall it again and stop it: the priority-0 advert leaves, and the exit flush gives up after
      // EXIT_FLUSH_MS instead of retrying the full pipe forever (pino's own exit hook would).
      pipe.refill();
      const cap2 = await startCapture(lab, { filter: 'ip proto 112' });
      proc.kill('SIGTERM');
      await eventually(async () => exited, (x) => x !== null, 10_000, 'the agent exits on SIGTERM although stdout is stalled');
      assert.equal(exited, 'code 0 signal null', stderr);
      const goodbye = (await decodeVrrp(await cap2.stop())).filter((r) => r.src === ip && r.priority === 0);
      assert.ok(goodbye.length >= 1, 'the priority-0 advert left on the way out');
    } finally {
      pipe.close();
    }
  });
});
