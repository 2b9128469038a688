// The IMDSv2 emulator (test/emulators/aws/imds.ts) against the REAL clients: MetadataService from
// @aws-sdk/ec2-metadata-service, the instance-role credential provider from @smithy/credential-provider-imds
// and the SDK's default credential chain from @aws-sdk/credential-provider-node; raw fetch for the protocol
// edges the SDK never sends. Every test passes the emulator's URL explicitly or sets
// AWS_EC2_METADATA_SERVICE_ENDPOINT to it (and restores it); while this file runs the variable otherwise
// points at a closed loopback port, so nothing can fall through to the real IMDS address.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataService } from '@aws-sdk/ec2-metadata-service';
import { fromInstanceMetadata } from '@smithy/credential-provider-imds';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import {
  startImdsEmulator,
  type ImdsEmulator,
  type ImdsEmulatorOptions,
  type ImdsInterface,
  type ImdsInstanceView,
  type ImdsRoleCredentials,
} from '../emulators/aws/imds.js';

// ---------------------------------------------------------------------------------------------------------
// Environment: hermetic for the whole file, restored afterwards.

type Env = Record<string, string | undefined>;

function setEnv(vars: Env): Env {
  const saved: Env = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return saved;
}

async function withEnv<T>(vars: Env, fn: () => Promise<T>): Promise<T> {
  const saved = setEnv(vars);
  try {
    return await fn();
  } finally {
    setEnv(saved);
  }
}

let scratch = '';
let savedFileEnv: Env = {};
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'imds-emu-'));
  savedFileEnv = setEnv({
    // Port 9 (discard) on loopback: closed, so a client that is not pointed at an emulator fails fast.
    AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:9',
    AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: undefined,
    AWS_EC2_METADATA_DISABLED: undefined,
    AWS_EC2_METADATA_V1_DISABLED: undefined,
    AWS_CONFIG_FILE: join(scratch, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'credentials'),
    AWS_PROFILE: undefined,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    AWS_ROLE_ARN: undefined,
  });
});
after(() => {
  setEnv(savedFileEnv);
  rmSync(scratch, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// Fixtures

const MAC0 = '0a:1b:2c:3d:4e:5f';
const MAC1 = '0a:1b:2c:3d:4e:60';

/** A view whose interfaces a test can change, counting how often the emulator reads it. */
function makeView(): ImdsInstanceView & { ifcs: ImdsInterface[]; reads: number } {
  const v = {
    instanceId: 'i-0123456789abcdef0',
    region: 'us-east-1',
    availabilityZone: 'us-east-1a',
    reads: 0,
    ifcs: [
      // Device 1 first: the emulator must order by device number, not by the view's order.
      {
        mac: MAC1,
        interfaceId: 'eni-0a1b2c3d4e5f60002',
        subnetId: 'subnet-0bbb1111cccc2222d',
        subnetCidr: '198.51.100.128/25',
        vpcId: 'vpc-0123456789abcdef0',
        vpcCidrs: ['198.51.100.0/24', '203.0.113.0/24'],
        deviceNumber: 1,
        localIpv4s: ['198.51.100.148'],
      },
      {
        mac: MAC0,
        interfaceId: 'eni-0a1b2c3d4e5f60001',
        subnetId: 'subnet-0aaa1111bbbb2222c',
        subnetCidr: '198.51.100.0/25',
        vpcId: 'vpc-0123456789abcdef0',
        vpcCidrs: ['198.51.100.0/24', '203.0.113.0/24'],
        deviceNumber: 0,
        localIpv4s: ['198.51.100.10'],
      },
    ] as ImdsInterface[],
    interfaces(): ImdsInterface[] {
      v.reads += 1;
      return v.ifcs.map((i) => ({ ...i, vpcCidrs: [...i.vpcCidrs], localIpv4s: [...i.localIpv4s] }));
    },
  };
  return v;
}

const ROLE = 'ha-agent-role';
const T0 = Date.UTC(2026, 10, 23, 5, 0, 0);

function creds(n: number, expiration: Date): ImdsRoleCredentials {
  return {
    AccessKeyId: `ASIAEXAMPLEIMDS0000${n}`,
    SecretAccessKey: `imdsSecretKeyExample${n}`.padEnd(40, '0'),
    Token: `IQoJb3JpZ2luX2VjEXAMPLETOKEN${n}`,
    Expiration: expiration,
  };
}

/** Whole seconds (IMDS times carry no milliseconds). */
const wholeSecond = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);

interface Harness {
  emu: ImdsEmulator;
  view: ReturnType<typeof makeView>;
  clock: { now: number };
}

async function withEmulator(
  fn: (h: Harness) => Promise<void>,
  opts: Partial<Omit<ImdsEmulatorOptions, 'view' | 'clock'>> & { noRole?: boolean } = {},
): Promise<void> {
  const view = makeView();
  const clock = { now: T0 };
  const first = creds(1, new Date(Date.UTC(2099, 0, 1)));
  const { noRole, ...rest } = opts;
  const emu = await startImdsEmulator({
    view,
    clock: () => clock.now,
    ...(noRole ? {} : { role: { name: ROLE, credentials: () => first } }),
    ...rest,
  });
  try {
    await fn({ emu, view, clock });
  } finally {
    await emu.close();
  }
}

const svc = (url: string, extra: { timeout?: number; retries?: number } = {}): MetadataService =>
  new MetadataService({ endpoint: url, httpOptions: { timeout: extra.timeout ?? 1000 }, retries: extra.retries ?? 3, backoff: 0 });

const methods = (emu: ImdsEmulator): string[] => emu.requests.map((r) => r.method);
const statuses = (emu: ImdsEmulator): number[] => emu.requests.map((r) => r.status);

function httpStatusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

const silentLogger = () => {
  const warnings: string[] = [];
  const logger = {
    debug: () => {},
    info: () => {},
    trace: () => {},
    error: () => {},
    warn: (...args: unknown[]) => {
      warnings.push(args.map(String).join(' '));
    },
  };
  return { logger, warnings };
};

// ---------------------------------------------------------------------------------------------------------
// MetadataService (@aws-sdk/ec2-metadata-service)

test('MetadataService reads instance facts, the MAC listing and per-interface entries', async () => {
  await withEmulator(async ({ emu }) => {
    const md = svc(emu.url);
    let calls = 0;
    const get = (p: string) => {
      calls += 1;
      return md.request(`latest/meta-data/${p}`, {});
    };
    assert.equal(await get('instance-id'), 'i-0123456789abcdef0');
    assert.equal(await get('placement/region'), 'us-east-1');
    assert.equal(await get('placement/availability-zone'), 'us-east-1a');
    assert.equal(await get('mac'), MAC0);
    assert.equal(await get('local-ipv4'), '198.51.100.10');
    assert.equal(await get('network/interfaces/macs/'), `${MAC0}/\n${MAC1}/`);
    const m0 = `network/interfaces/macs/${MAC0}`;
    const m1 = `network/interfaces/macs/${MAC1}`;
    assert.equal(await get(`${m0}/`), [
      'device-number', 'interface-id', 'local-ipv4s', 'mac', 'subnet-id', 'subnet-ipv4-cidr-block',
      'vpc-id', 'vpc-ipv4-cidr-block', 'vpc-ipv4-cidr-blocks',
    ].join('\n'));
    assert.equal(await get(`${m0}/interface-id`), 'eni-0a1b2c3d4e5f60001');
    assert.equal(await get(`${m1}/interface-id`), 'eni-0a1b2c3d4e5f60002');
    assert.equal(await get(`${m0}/local-ipv4s`), '198.51.100.10');
    assert.equal(await get(`${m1}/device-number`), '1');
    assert.equal(await get(`${m0}/device-number`), '0');
    assert.equal(await get(`${m0}/subnet-id`), 'subnet-0aaa1111bbbb2222c');
    assert.equal(await get(`${m0}/subnet-ipv4-cidr-block`), '198.51.100.0/25');
    assert.equal(await get(`${m1}/subnet-ipv4-cidr-block`), '198.51.100.128/25');
    assert.equal(await get(`${m0}/vpc-id`), 'vpc-0123456789abcdef0');
    assert.equal(await get(`${m0}/vpc-ipv4-cidr-block`), '198.51.100.0/24');
    assert.equal(await get(`${m0}/vpc-ipv4-cidr-blocks`), '198.51.100.0/24\n203.0.113.0/24');
    assert.equal(await get(`${m0}/mac`), MAC0);
    assert.equal(await get('iam/security-credentials/'), ROLE);
    assert.equal(await get('placement/'), 'availability-zone\nregion');
    // Every GET above was preceded by its own token PUT (§0.7), and every one was answered 200.
    assert.equal(calls, 21);
    assert.deepEqual(methods(emu), Array.from({ length: calls }, () => ['PUT', 'GET']).flat());
    assert.ok(emu.requests.every((r) => r.status === 200));
    assert.ok(emu.requests.filter((r) => r.method === 'PUT').every((r) => r.path === '/latest/api/token'));
  });
});

test('MetadataService: the leading-slash path arrives as //latest/... and is served', async () => {
  await withEmulator(async ({ emu }) => {
    const md = svc(emu.url);
    assert.equal(await md.request('/latest/meta-data/instance-id', {}), 'i-0123456789abcdef0');
    assert.equal(await md.request('/latest/meta-data/placement/region', {}), 'us-east-1');
    assert.deepEqual(
      emu.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
      [
        'PUT /latest/api/token 200',
        'GET //latest/meta-data/instance-id 200',
        'PUT /latest/api/token 200',
        'GET //latest/meta-data/placement/region 200',
      ],
    );
  });
});

test('MetadataService: local-ipv4s follows the view between calls (interfaces() is read per request)', async () => {
  await withEmulator(async ({ emu, view }) => {
    const md = svc(emu.url);
    const path = `latest/meta-data/network/interfaces/macs/${MAC0}/local-ipv4s`;
    assert.equal(await md.request(path, {}), '198.51.100.10');
    const readsBefore = view.reads;
    view.ifcs.find((i) => i.deviceNumber === 0)!.localIpv4s.push('198.51.100.100'); // a VIP assigned
    assert.equal(await md.request(path, {}), '198.51.100.10\n198.51.100.100');
    assert.ok(view.reads > readsBefore, 'the emulator re-read the view');
    view.ifcs.find((i) => i.deviceNumber === 0)!.localIpv4s = ['198.51.100.10']; // moved away again
    view.ifcs.find((i) => i.deviceNumber === 1)!.localIpv4s.push('198.51.100.100');
    assert.equal(await md.request(path, {}), '198.51.100.10');
    assert.equal(await md.request(`latest/meta-data/network/interfaces/macs/${MAC1}/local-ipv4s`, {}), '198.51.100.148\n198.51.100.100');
    // An interface detached from the view disappears from the listing and its entries 404.
    view.ifcs = view.ifcs.filter((i) => i.deviceNumber === 0);
    assert.equal(await md.request('latest/meta-data/network/interfaces/macs/', {}), `${MAC0}/`);
    await assert.rejects(md.request(`latest/meta-data/network/interfaces/macs/${MAC1}/local-ipv4s`, {}), (e) => httpStatusOf(e) === 404);
  });
});

test('MetadataService: an unknown path is a 404 error, not retried', async () => {
  await withEmulator(async ({ emu }) => {
    const md = svc(emu.url, { retries: 3 });
    await assert.rejects(md.request('latest/meta-data/no-such-thing', {}), (e: Error) => {
      assert.equal(httpStatusOf(e), 404);
      assert.match(e.message, /status code 404/);
      return true;
    });
    assert.deepEqual(
      emu.requests.map((r) => `${r.method} ${r.status}`),
      ['PUT 200', 'GET 404'],
    );
  });
});

test('MetadataService: IMDS disabled → 403 (token PUT and the IMDSv1 fallback GET), not retried; re-enabled works', async () => {
  await withEmulator(async ({ emu }) => {
    emu.setDisabled(true);
    await assert.rejects(svc(emu.url).request('latest/meta-data/instance-id', {}), (e) => httpStatusOf(e) === 403);
    // The PUT's 403 makes the SDK drop to IMDSv1: one GET without a token, also 403, and no retry.
    assert.deepEqual(emu.requests.map((r) => `${r.method} ${r.status}`), ['PUT 403', 'GET 403']);
    emu.setDisabled(false);
    assert.equal(await svc(emu.url).request('latest/meta-data/instance-id', {}), 'i-0123456789abcdef0');
  });
});

test('MetadataService: a 503 fault on the GET once → the SDK retries (new token) and succeeds', async () => {
  await withEmulator(async ({ emu }) => {
    const f = emu.faults.add({ kind: 'status', status: 503, method: 'GET', path: /instance-id$/ });
    assert.equal(f.remaining, 1);
    assert.equal(await svc(emu.url).request('latest/meta-data/instance-id', {}), 'i-0123456789abcdef0');
    assert.deepEqual(emu.requests.map((r) => `${r.method} ${r.status}`), ['PUT 200', 'GET 503', 'PUT 200', 'GET 200']);
    assert.equal(f.remaining, 0);
    assert.equal(emu.faults.size, 0, 'the fault cleared itself');
  });
});

test('MetadataService: a 503 on the token PUT → unauthenticated GET gets 401 → retry succeeds', async () => {
  await withEmulator(async ({ emu }) => {
    emu.faults.add({ kind: 'status', status: 503, path: '/latest/api/token' });
    assert.equal(await svc(emu.url).request('latest/meta-data/placement/region', {}), 'us-east-1');
    assert.deepEqual(emu.requests.map((r) => `${r.method} ${r.status}`), ['PUT 503', 'GET 401', 'PUT 200', 'GET 200']);
  });
});

test('MetadataService: a 500 fault for two matching requests, then normal service', async () => {
  await withEmulator(async ({ emu }) => {
    emu.faults.add({ kind: 'status', status: 500, method: 'get', times: 2 });
    assert.equal(await svc(emu.url, { retries: 3 }).request('latest/meta-data/mac', {}), MAC0);
    assert.deepEqual(statuses(emu), [200, 500, 200, 500, 200, 200]);
    // With too few retries the same fault is fatal: the SDK reports the injected status.
    emu.faults.add({ kind: 'status', status: 500, method: 'GET', times: 2 });
    await assert.rejects(svc(emu.url, { retries: 1 }).request('latest/meta-data/mac', {}), (e) => httpStatusOf(e) === 500);
    // A fault for ever (times: Infinity) holds until removed; clear() disarms everything.
    const forever = emu.faults.add({ kind: 'status', status: 503, path: /\/placement\//, times: Infinity });
    emu.faults.add({ kind: 'status', status: 500, path: '/no/match' });
    await assert.rejects(svc(emu.url, { retries: 2 }).request('latest/meta-data/placement/region', {}), (e) => httpStatusOf(e) === 503);
    assert.equal(forever.remaining, Infinity);
    assert.equal(emu.faults.size, 2);
    forever.remove();
    assert.equal(forever.remaining, 0);
    assert.equal(await svc(emu.url).request('latest/meta-data/placement/region', {}), 'us-east-1');
    emu.faults.clear();
    assert.equal(emu.faults.size, 0);
    assert.deepEqual(statuses(emu).slice(-8), [200, 503, 200, 503, 200, 503, 200, 200]);
  });
});

test('MetadataService: latency beyond the client timeout → the SDK times out, retries and succeeds', async () => {
  await withEmulator(async ({ emu }) => {
    emu.faults.add({ kind: 'latency', ms: 2000, method: 'GET' });
    assert.equal(await svc(emu.url, { timeout: 150 }).request('latest/meta-data/instance-id', {}), 'i-0123456789abcdef0');
    assert.deepEqual(emu.requests.map((r) => `${r.method} ${r.status}`), ['PUT 200', 'GET 0', 'PUT 200', 'GET 200']);
    // Latency shorter than the timeout only delays the answer.
    emu.faults.add({ kind: 'latency', ms: 20, path: '/latest/meta-data/mac' });
    assert.equal(await svc(emu.url).request('latest/meta-data/mac', {}), MAC0);
    assert.equal(emu.requests.at(-1)!.status, 200);
  });
});

test('MetadataService: a hanging token PUT → IMDSv1 fallback, served only when tokens are optional', async () => {
  await withEmulator(async ({ emu }) => {
    emu.setRequireToken(false);
    emu.faults.add({ kind: 'hang', method: 'PUT' });
    assert.equal(await svc(emu.url, { timeout: 150 }).request('latest/meta-data/instance-id', {}), 'i-0123456789abcdef0');
    assert.deepEqual(emu.requests.map((r) => `${r.method} ${r.status}`), ['PUT 0', 'GET 200']);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Protocol edges, with raw fetch

async function putToken(url: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${url}/latest/api/token`, { method: 'PUT', headers });
}

test('token PUT: TTL 1..21600 accepted and echoed; missing, 0, 21601 or garbage → 400', async () => {
  await withEmulator(async ({ emu }) => {
    for (const ttl of ['1', '300', '21600']) {
      const r = await putToken(emu.url, { 'X-aws-ec2-metadata-token-ttl-seconds': ttl });
      assert.equal(r.status, 200, ttl);
      assert.equal(r.headers.get('x-aws-ec2-metadata-token-ttl-seconds'), ttl);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
      assert.ok((await r.text()).length > 20);
    }
    for (const ttl of [undefined, '0', '21601', '-1', 'abc', '1.5', '']) {
      const r = await putToken(emu.url, ttl === undefined ? {} : { 'X-aws-ec2-metadata-token-ttl-seconds': ttl });
      assert.equal(r.status, 400, String(ttl));
      assert.equal(r.headers.get('x-aws-ec2-metadata-token-ttl-seconds'), null);
      await r.arrayBuffer();
    }
  });
});

test('token PUT with X-Forwarded-For → 403; GET on the token path → 405', async () => {
  await withEmulator(async ({ emu }) => {
    const r = await putToken(emu.url, { 'X-aws-ec2-metadata-token-ttl-seconds': '60', 'X-Forwarded-For': '203.0.113.7' });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    const g = await fetch(`${emu.url}/latest/api/token`);
    assert.equal(g.status, 405);
    await g.arrayBuffer();
  });
});

test('GET without a token or with an unknown one → 401; IMDSv1 allowed only when tokens are optional', async () => {
  await withEmulator(async ({ emu }) => {
    const url = `${emu.url}/latest/meta-data/instance-id`;
    const none = await fetch(url);
    assert.equal(none.status, 401);
    await none.arrayBuffer();
    const bogus = await fetch(url, { headers: { 'X-aws-ec2-metadata-token': 'AQAEAnot-a-real-token==' } });
    assert.equal(bogus.status, 401);
    await bogus.arrayBuffer();
    emu.setRequireToken(false);
    const v1 = await fetch(url);
    assert.equal(v1.status, 200);
    assert.equal(await v1.text(), 'i-0123456789abcdef0');
    const bogus2 = await fetch(url, { headers: { 'X-aws-ec2-metadata-token': 'AQAEAnot-a-real-token==' } });
    assert.equal(bogus2.status, 401, 'a token that is sent must be valid even when tokens are optional');
    await bogus2.arrayBuffer();
    assert.deepEqual(statuses(emu), [401, 401, 200, 401]);
  });
});

test('a token expires after its TTL on the emulator clock → 401; a longer-lived token still works', async () => {
  await withEmulator(async ({ emu, clock }) => {
    const short = await (await putToken(emu.url, { 'X-aws-ec2-metadata-token-ttl-seconds': '60' })).text();
    const long = await (await putToken(emu.url, { 'X-aws-ec2-metadata-token-ttl-seconds': '21600' })).text();
    const get = async (token: string): Promise<number> => {
      const r = await fetch(`${emu.url}/latest/meta-data/placement/availability-zone`, { headers: { 'X-aws-ec2-metadata-token': token } });
      await r.arrayBuffer();
      return r.status;
    };
    assert.equal(await get(short), 200);
    clock.now = T0 + 59_999;
    assert.equal(await get(short), 200);
    clock.now = T0 + 60_000;
    assert.equal(await get(short), 401);
    clock.now = T0 - 1; // an expired token stays gone even if the clock steps back
    assert.equal(await get(short), 401);
    clock.now = T0 + 21_600_000 - 1;
    assert.equal(await get(long), 200);
    clock.now = T0 + 21_600_000;
    assert.equal(await get(long), 401);
    // The request log carries the emulator clock.
    assert.deepEqual(emu.requests.map((r) => r.at), [T0, T0, T0, T0 + 59_999, T0 + 60_000, T0 - 1, T0 + 21_600_000 - 1, T0 + 21_600_000]);
  });
});

test('paths: 404s, directories with and without the slash, leaf with a slash, non-GET → 405, query ignored', async () => {
  await withEmulator(async ({ emu }) => {
    const token = await (await putToken(emu.url, { 'X-aws-ec2-metadata-token-ttl-seconds': '600' })).text();
    const get = async (path: string, method = 'GET'): Promise<[number, string]> => {
      const r = await fetch(`${emu.url}${path}`, { method, headers: { 'X-aws-ec2-metadata-token': token } });
      return [r.status, await r.text()];
    };
    assert.deepEqual(await get('/latest/meta-data/'), [200, 'iam/\ninstance-id\nlocal-ipv4\nmac\nnetwork/\nplacement/']);
    assert.deepEqual(await get('/latest/meta-data/placement'), [200, 'availability-zone\nregion']);
    assert.deepEqual(await get('/latest/meta-data/iam/'), [200, 'security-credentials/']);
    assert.deepEqual(await get('/latest/meta-data/network/interfaces/'), [200, 'macs/']);
    assert.deepEqual(await get('/latest/meta-data/instance-id?x=1'), [200, 'i-0123456789abcdef0']);
    assert.deepEqual(await get('///latest/meta-data/instance-id'), [200, 'i-0123456789abcdef0']);
    assert.equal((await get('/latest/meta-data/instance-id/'))[0], 404);
    assert.equal((await get('/latest/meta-data/placement/nowhere'))[0], 404);
    assert.equal((await get('/latest/meta-data/network/interfaces/macs/ff:ff:ff:ff:ff:ff/local-ipv4s'))[0], 404);
    assert.equal((await get('/latest/meta-data/iam/security-credentials/other-role'))[0], 404);
    assert.equal((await get('/latest/user-data'))[0], 404);
    assert.equal((await get('/'))[0], 404);
    assert.equal((await get('/latest/meta-data/instance-id', 'POST'))[0], 405);
  });
});

test('no role: iam/ is absent (404) and rotateCredentials refuses', async () => {
  await withEmulator(
    async ({ emu }) => {
      const md = svc(emu.url);
      await assert.rejects(md.request('latest/meta-data/iam/security-credentials/', {}), (e) => httpStatusOf(e) === 404);
      assert.ok(!(await md.request('latest/meta-data/', {})).includes('iam'));
      assert.throws(() => emu.rotateCredentials(), /no role/);
    },
    { noRole: true },
  );
});

test('role credentials JSON is exactly the §2.1 document, with ISO times and no milliseconds', async () => {
  const view = makeView();
  const clock = { now: T0 + 123 };
  const emu = await startImdsEmulator({
    view,
    clock: () => clock.now,
    role: { name: ROLE, credentials: () => ({ ...creds(1, new Date(Date.UTC(2099, 0, 1, 0, 0, 0, 999))), AccountId: '123456789012' }) },
  });
  try {
    const body = await svc(emu.url).request(`latest/meta-data/iam/security-credentials/${ROLE}`, {});
    const doc = JSON.parse(body) as Record<string, string>;
    assert.deepEqual(Object.keys(doc), ['Code', 'LastUpdated', 'Type', 'AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration', 'AccountId']);
    assert.deepEqual(doc, {
      Code: 'Success',
      LastUpdated: '2026-11-23T05:00:00Z',
      Type: 'AWS-HMAC',
      AccessKeyId: 'ASIAEXAMPLEIMDS00001',
      SecretAccessKey: 'imdsSecretKeyExample10000000000000000000',
      Token: 'IQoJb3JpZ2luX2VjEXAMPLETOKEN1',
      Expiration: '2099-01-01T00:00:00Z',
      AccountId: '123456789012',
    });
    assert.equal(body, JSON.stringify(doc, null, 2));
    // A rotation moves LastUpdated to the clock time of the change.
    clock.now = T0 + 3_600_000;
    const next = emu.rotateCredentials();
    assert.match(next.AccessKeyId, /^ASIA[A-Z0-9]{16}$/);
    assert.equal(next.Expiration.getTime(), T0 + 3_600_000 + 6 * 3_600_000);
    const doc2 = JSON.parse(await svc(emu.url).request(`latest/meta-data/iam/security-credentials/${ROLE}`, {})) as Record<string, string>;
    assert.equal(doc2.LastUpdated, '2026-11-23T06:00:00Z');
    assert.equal(doc2.AccessKeyId, next.AccessKeyId);
    assert.equal(doc2.Expiration, '2026-11-23T12:00:00Z');
    assert.equal(doc2.AccountId, undefined);
  } finally {
    await emu.close();
  }
});

// ---------------------------------------------------------------------------------------------------------
// Credentials through the SDK

test('fromInstanceMetadata (the instance-role provider) returns the role credentials from the emulator', async () => {
  await withEmulator(async ({ emu }) => {
    const { logger, warnings } = silentLogger();
    const c = await withEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: emu.url }, () => fromInstanceMetadata({ logger })());
    assert.equal(c.accessKeyId, 'ASIAEXAMPLEIMDS00001');
    assert.equal(c.secretAccessKey, 'imdsSecretKeyExample10000000000000000000');
    assert.equal(c.sessionToken, 'IQoJb3JpZ2luX2VjEXAMPLETOKEN1');
    assert.equal(c.expiration?.toISOString(), '2099-01-01T00:00:00.000Z');
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      emu.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
      [
        'PUT /latest/api/token 200',
        'GET /latest/meta-data/iam/security-credentials/ 200',
        `GET /latest/meta-data/iam/security-credentials/${ROLE} 200`,
      ],
    );
  });
});

test('credential rotation: an expired first set, rotateCredentials, and the provider returns the new keys', async () => {
  await withEmulator(async ({ emu }) => {
    const expired = creds(1, wholeSecond(Date.now() - 60_000));
    emu.rotateCredentials(expired);
    const { logger, warnings } = silentLogger();
    await withEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: emu.url }, async () => {
      const provider = fromInstanceMetadata({ logger });
      // IMDS serving an already-expired set: the SDK keeps it but extends its expiry (static stability).
      const c1 = await provider();
      assert.equal(c1.accessKeyId, expired.AccessKeyId);
      assert.ok(c1.expiration!.getTime() > Date.now(), 'the SDK extended the expired set');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /expiration extension/);

      const fresh = creds(2, wholeSecond(Date.now() + 6 * 3_600_000));
      assert.deepEqual(emu.rotateCredentials(fresh), fresh);
      const c2 = await provider();
      assert.equal(c2.accessKeyId, 'ASIAEXAMPLEIMDS00002');
      assert.equal(c2.sessionToken, fresh.Token);
      assert.equal(c2.expiration?.getTime(), fresh.Expiration.getTime());
      const c3 = await fromInstanceMetadata({ logger })();
      assert.equal(c3.accessKeyId, 'ASIAEXAMPLEIMDS00002');
      assert.equal(warnings.length, 1, 'no extension for a valid set');
    });
    // Each provider call fetched a token and both credential documents again.
    assert.equal(emu.requests.filter((r) => r.method === 'PUT').length, 3);
    assert.equal(emu.requests.filter((r) => r.path.endsWith(`/${ROLE}`)).length, 3);
  });
});

test('default credential chain: instance role via IMDS, cached while valid, refreshed after rotation near expiry', async () => {
  await withEmulator(async ({ emu }) => {
    // Inside the SDK's 5-minute refresh window, so the chain treats it as expiring.
    const expiring = creds(1, wholeSecond(Date.now() + 120_000));
    emu.rotateCredentials(expiring);
    const { logger } = silentLogger();
    await withEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: emu.url, HOME: scratch }, async () => {
      const chain = defaultProvider({ logger });
      const c1 = await chain();
      assert.equal(c1.accessKeyId, expiring.AccessKeyId);
      assert.equal(c1.sessionToken, expiring.Token);

      const fresh = creds(2, wholeSecond(Date.now() + 6 * 3_600_000));
      emu.rotateCredentials(fresh);
      // The chain answers at once with what it has and refreshes in the background; poll until it lands.
      let c = await chain();
      for (let i = 0; i < 500 && c.accessKeyId !== fresh.AccessKeyId; i++) {
        await new Promise((r) => setTimeout(r, 10));
        c = await chain();
      }
      assert.equal(c.accessKeyId, 'ASIAEXAMPLEIMDS00002');
      assert.equal(c.sessionToken, fresh.Token);
      assert.equal(c.expiration?.getTime(), fresh.Expiration.getTime());

      // The new set is valid for hours: the chain caches it and IMDS hears nothing more.
      const seen = emu.requests.length;
      emu.rotateCredentials(creds(3, wholeSecond(Date.now() + 6 * 3_600_000)));
      assert.equal((await chain()).accessKeyId, 'ASIAEXAMPLEIMDS00002');
      assert.equal(emu.requests.length, seen);
    });
    assert.ok(emu.requests.every((r) => r.status === 200));
    assert.equal(emu.requests.filter((r) => r.path.endsWith(`/${ROLE}`)).length, 2);
  });
});
