// The agent's logger: JSON lines, and secrets never reach them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('passwords, secrets and session tokens are redacted wherever they sit', () => {
  const out = capture();
  const log = createLogger('info', out.stream);
  log.info({ auth: { type: 'pass', password: 'secret12' }, password: 'p', creds: { secretAccessKey: 'AKS', sessionToken: 'tok' } }, 'configured');
  const [line] = out.lines();
  const text = JSON.stringify(line);
  for (const secret of ['secret12', '"p"', 'AKS', 'tok']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  assert.equal((line!.auth as Record<string, unknown>).password, '[redacted]');
  assert.equal((line!.auth as Record<string, unknown>).type, 'pass', 'non-secret fields stay');
  assert.equal(line!.msg, 'configured');
  assert.equal(line!.name, 'ha-agent');
});

test('log level filters', () => {
  const out = capture();
  const log = createLogger('warn', out.stream);
  log.info('hidden');
  log.warn('shown');
  assert.deepEqual(out.lines().map((l) => l.msg), ['shown']);
});

test('every line carries "time" as an ISO-8601 UTC timestamp (written without toISOString, see iso-time.ts)', () => {
  const out = capture();
  const log = createLogger('info', out.stream);
  const before = Date.now();
  log.info('tick');
  const [line] = out.lines();
  const time = String(line!.time);
  assert.match(time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.ok(Date.parse(time) >= before && Date.parse(time) <= Date.now(), time);
});
