// `ha-agent provider test alibaba` as a command (src/commands/provider-test.ts), in process, through
// the registry and the real alibaba provider (its local part is the real garp provider, on `lo`)
// against the VPC and ECS metadata emulators on 127.0.0.1: text and --json describe the same checks
// with the same exit code; a correct config exits 0, a multicast one exits 1 on 'VRRP unicast'; the
// HaVip never moves (DescribeHaVips only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { providerTestCommand } from '../../src/commands/provider-test.js';
import { alibabaWorld, HAVIP_IP } from '../support/alibaba-world.js';

async function command(args: { config: string; json?: boolean }): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await providerTestCommand('alibaba', args, { stdout: out, stderr: err });
  return { code, stdout, stderr };
}

test('provider test alibaba: text and --json report the same checks with the same exit code (correct config, then multicast)', async (t) => {
  const saved = { ...process.env };
  for (const k of ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN', 'ALIBABA_CLOUD_CREDENTIALS_URI', 'ALIBABA_CLOUD_ROLE_ARN']) delete process.env[k];
  const dir = mkdtempSync(join(tmpdir(), 'ha-provider-test-alibaba-'));
  process.env.HOME = dir;
  const w = await alibabaWorld({ master: 'b' });
  t.after(async () => {
    await w.close();
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, unicast: boolean) => {
    const file = join(dir, name);
    writeFileSync(
      file,
      stringify({
        instances: {
          VI_1: {
            interface: 'lo',
            vrid: 56,
            priority: 150,
            vips: [`${HAVIP_IP}/32`],
            ...(unicast ? { unicast: { source: '198.51.100.11', peers: ['198.51.100.12'] } } : {}),
            provider: { type: 'alibaba', haVipId: w.haVipId, endpoint: w.vpc.endpoint, protocol: 'http', metadataEndpoint: w.a.metadata.url, peerInstanceIds: [w.b.instanceId] },
          },
        },
      }),
    );
    return file;
  };
  for (const [name, unicast] of [['ok.yaml', true], ['multicast.yaml', false]] as const) {
    const file = write(name, unicast);
    const text = await command({ config: file });
    const json = await command({ config: file, json: true });
    assert.equal(text.stderr + json.stderr, '');
    const doc = JSON.parse(json.stdout) as { ok: boolean; failed: number; instances: { name: string; type: string; checks: { check: string; ok: boolean; detail: string; fix?: string }[] }[] };
    assert.equal(doc.instances[0]!.type, 'alibaba');
    const checks = doc.instances[0]!.checks;
    const lines = text.stdout.split('\n').filter((l) => /^ {2}[✓✗] /.test(l));
    assert.deepEqual(lines, checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.check}: ${c.detail}`), 'one text line per check, in the same order');
    for (const c of checks.filter((x) => !x.ok)) assert.ok(text.stdout.includes(`  ✗ ${c.check}: ${c.detail}\n      fix: ${c.fix}\n`), `the fix follows its ✗ line: ${c.check}`);
    assert.equal(doc.failed, checks.filter((c) => !c.ok).length);
    assert.equal(text.code, json.code, 'same exit code in both modes');
    for (const name of ['ECS metadata (hardened mode)', 'credentials', 'VPC API', 'DescribeHaVips permitted', `HaVip ${w.haVipId}`, 'HaVip address', 'associated instances'])
      assert.ok(checks.find((c) => c.check === name)?.ok, `${name}: ${JSON.stringify(checks.find((c) => c.check === name))}`);
    assert.ok(checks.some((c) => c.check.startsWith('local: ')), 'the local capabilities are checked');
    assert.equal(checks.find((c) => c.check === 'VRRP unicast')!.ok, unicast);
    if (!unicast) assert.equal(json.code, 1, 'multicast is a ✗, so exit 1');
  }
  assert.ok(w.vpc.calls.every((c) => c.action === 'DescribeHaVips'), 'nothing moved');
  assert.equal(w.state.haVip(w.haVipId)!.masterInstanceId, w.b.instanceId);
});
