// The election section of `ha-agent provider test` for instances with election.type etcd (issue
// #12). Read-only apart from one probe key under the election's prefix (on a short lease, deleted
// at once). Checks, each a PreflightCheck:
//   TLS files (each readable and a valid, unexpired PEM certificate/key) · each endpoint reachable
//   (a range under the prefix, its round trip) · clock skew against each member (HTTP Date of
//   /version; informational unless above 5 s: leases use the server's clock, logs and notify do not)
//   · read/write permission on the prefix (lease grant, put of a probe key, read back, delete, revoke).
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EtcdElectionConfig } from '../config/election-schema.js';
import type { PreflightCheck } from '../provider/types.js';
import { EtcdClient } from './etcd-client.js';
import { defaultKey } from './etcd.js';

const SKEW_FAIL_MS = 5_000;
const DEADLINE_MS = 3_000;

export async function* etcdPreflight(instance: string, cfg: EtcdElectionConfig): AsyncGenerator<PreflightCheck> {
  const key = cfg.key ?? defaultKey(instance);
  const pass = (check: string, detail: string): PreflightCheck => ({ check: `election ${check}`, ok: true, detail });
  const fail = (check: string, detail: string, fix: string): PreflightCheck => ({ check: `election ${check}`, ok: false, detail, fix });

  // TLS files
  let tlsOk = true;
  if (cfg.tls) {
    for (const [what, path] of [['ca', cfg.tls.ca], ['cert', cfg.tls.cert], ['key', cfg.tls.key]] as const) {
      if (!path) continue;
      try {
        const pem = readFileSync(path);
        if (what === 'key') {
          createPrivateKey(pem);
          yield pass(`TLS ${what}`, `${path}: a private key`);
        } else {
          const c = new X509Certificate(pem);
          const until = Date.parse(c.validTo);
          if (until < Date.now()) {
            tlsOk = false;
            yield fail(`TLS ${what}`, `${path}: expired ${c.validTo}`, 'renew the certificate');
          } else yield pass(`TLS ${what}`, `${path}: ${c.subject.replace(/\n/g, ', ')}, valid until ${c.validTo}`);
        }
      } catch (e) {
        tlsOk = false;
        yield fail(`TLS ${what}`, `${path}: ${(e as Error).message}`, `give election.tls.${what} a readable PEM file`);
      }
    }
  }
  if (!tlsOk) return;

  // Each endpoint: reachable, and its clock.
  let reachable = 0;
  for (const endpoint of cfg.endpoints) {
    let client: EtcdClient | null = null;
    try {
      client = await EtcdClient.open({ ...cfg, endpoints: [endpoint] }, DEADLINE_MS);
      const t0 = performance.now();
      const r = await client.candidates(key);
      reachable++;
      yield pass(`endpoint ${endpoint}`, `reachable, ${Math.round(performance.now() - t0)} ms; ${r.list.length} candidate(s) under ${key}/`);
    } catch (e) {
      yield fail(`endpoint ${endpoint}`, (e as Error).message, 'check the address, the port (2379), the firewall, TLS (https needs tls.ca) and the credentials');
      client?.close();
      continue;
    }
    client.close();
    try {
      const skew = await clockSkew(endpoint, cfg);
      const text = `${skew >= 0 ? '+' : ''}${Math.round(skew)} ms against ${endpoint} (HTTP Date, 1 s resolution)`;
      if (Math.abs(skew) > SKEW_FAIL_MS) yield fail('clock skew', text, 'run NTP (chrony/systemd-timesyncd) on this node and on the etcd members');
      else yield pass('clock skew', text);
    } catch (e) {
      yield pass('clock skew', `not measured against ${endpoint}: ${(e as Error).message}`);
    }
  }
  if (reachable === 0) return;

  // Read/write on the prefix, with a probe key on its own short lease.
  let client: EtcdClient | null = null;
  try {
    client = await EtcdClient.open(cfg, DEADLINE_MS);
    const lease = await client.grant(Math.max(cfg.ttl, 5));
    const probe = `${key}/preflight-${randomBytes(4).toString('hex')}`;
    try {
      await client.update(probe, 'ha-agent provider test', lease.id);
      const seen = (await client.candidates(key)).list.some((c) => c.key === probe);
      await client.remove(probe);
      if (!seen) yield fail('read/write', `wrote ${probe} but could not read it back`, `grant this user read on ${key}/ (etcdctl role grant-permission --prefix ROLE readwrite ${key}/)`);
      else yield pass('read/write', `put, read and deleted ${probe} (lease ${lease.ttl} s)`);
    } finally {
      await client.revoke(lease.id).catch(() => {});
    }
  } catch (e) {
    yield fail('read/write', (e as Error).message, `grant this user readwrite on ${key}/ and lease permissions (etcdctl role grant-permission --prefix ROLE readwrite ${key}/)`);
  } finally {
    client?.close();
  }
}

/** Server Date minus our clock at the midpoint of the request (ms). */
function clockSkew(endpoint: string, cfg: EtcdElectionConfig): Promise<number> {
  const url = new URL('/version', endpoint);
  const tls = cfg.tls;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const opts = {
      timeout: DEADLINE_MS,
      ...(url.protocol === 'https:' && tls ? { ca: readFileSync(tls.ca), ...(tls.cert && tls.key ? { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } : {}) } : {}),
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, (res) => {
      res.resume();
      const date = Date.parse(res.headers.date ?? '');
      if (!Number.isFinite(date)) return reject(new Error('no Date header'));
      resolve(date + 500 - (t0 + Date.now()) / 2);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
