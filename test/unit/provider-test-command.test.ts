// `ha-agent provider test aws` as a command (src/commands/provider-test.ts), in process, through the
// registry and the real aws provider against the EC2 and IMDSv2 emulators on 127.0.0.1: the text
// output (one ✓/✗ line per check, `fix:` under a ✗, the count) and the --json document describe the
// same checks, and both give the same exit code. The interface is `lo` (its MAC, 00:00:00:00:00:00,
// is the emulated ENI's), so no namespace is needed; the capability check follows this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { Ec2State } from '../emulators/aws/ec2-state.js';
import { startEc2Emulator } from '../emulators/aws/ec2-server.js';
import { startImdsEmulator } from '../emulators/aws/imds.js';
import { providerTestCommand } from '../../src/commands/provider-test.js';

const KEY = { accessKeyId: 'AKIDCOMMAND000000001', secretAccessKey: 'commandSecret0000000000000000000000000000' };

async function command(args: { config: string; json?: boolean }): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await providerTestCommand('aws', args, { stdout: out, stderr: err });
  return { code, stdout, stderr };
}

test('provider test aws: text and --json report the same checks with the same exit code (correct config, then multicast)', async (t) => {
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' });
  delete process.env.AWS_PROFILE;
  const dir = mkdtempSync(join(tmpdir(), 'ha-provider-test-'));
  process.env.HOME = dir;
  const state = new Ec2State({ region: 'eu-west-1' });
  const vpc = state.addVpc({ cidrs: ['198.51.100.0/24'] });
  const subnet = state.addSubnet({ vpcId: vpc.vpcId, cidr: '198.51.100.0/24' });
  const sg = state.addSecurityGroup({ groupName: 'ha-vrrp', vpcId: vpc.vpcId, ingress: [{ ipProtocol: '112', cidrs: ['198.51.100.0/24'] }] });
  const a = state.addInstance({ subnetId: subnet.subnetId, privateIp: '198.51.100.11', macAddress: '00:00:00:00:00:00', securityGroupIds: [sg.groupId] });
  state.addInstance({ subnetId: subnet.subnetId, privateIp: '198.51.100.12', securityGroupIds: [sg.groupId] });
  const ec2 = await startEc2Emulator({ state, credentials: [KEY] });
  const imds = await startImdsEmulator({ view: state.imdsView(a.instance.instanceId) });
  t.after(async () => {
    await Promise.all([ec2.close(), imds.close()]);
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
            vrid: 51,
            priority: 150,
            vips: ['198.51.100.100/32'],
            ...(unicast ? { unicast: { source: '198.51.100.11', peers: ['198.51.100.12'] } } : {}),
            provider: { type: 'aws', endpoint: ec2.url, imdsEndpoint: imds.url },
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
    const doc = JSON.parse(json.stdout) as { ok: boolean; failed: number; instances: { name: string; checks: { check: string; ok: boolean; detail: string; fix?: string }[] }[] };
    const checks = doc.instances[0]!.checks;
    const lines = text.stdout.split('\n').filter((l) => /^ {2}[✓✗] /.test(l));
    assert.deepEqual(lines, checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.check}: ${c.detail}`), 'one text line per check, in the same order');
    for (const c of checks.filter((x) => !x.ok)) assert.ok(text.stdout.includes(`  ✗ ${c.check}: ${c.detail}\n      fix: ${c.fix}\n`), `the fix follows its ✗ line: ${c.check}`);
    assert.equal(doc.failed, checks.filter((c) => !c.ok).length);
    assert.equal(json.code, doc.ok ? 0 : 1);
    assert.equal(text.code, json.code, 'same exit code in both modes');
    assert.match(text.stdout, doc.ok ? /all checks passed\n$/ : new RegExp(`${doc.failed} check\\(s\\) failed\\n$`));
    assert.ok(checks.some((c) => c.check === 'EC2 API' && c.ok), JSON.stringify(checks));
    const unicastCheck = checks.find((c) => c.check === 'VRRP unicast')!;
    assert.equal(unicastCheck.ok, unicast);
    if (!unicast) assert.equal(json.code, 1, 'multicast is a ✗, so exit 1');
  }
  assert.ok(!ec2.calls.some((c) => c.action === 'AssignPrivateIpAddresses'), 'nothing moved');
});
