// Config loading: defaults, normalisation, every error with its path and fix, did-you-mean and
// keepalived aliases, cross-field rules, warnings, YAML positions, check-config, and fuzzing
// (parseConfig never throws).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseConfig, loadConfigFile, formatIssue, issuePosition, type ConfigIssue, type ParseResult } from '../../src/config/load.js';
import { didYouMean, editDistance, formatPath } from '../../src/config/errors.js';
import { MANY_VIPS, MAX_VIPS, parseListen, truncatePassword, vipAddress } from '../../src/config/schema.js';
import { decodeAdvert, encodeAdvert, passwordToAuthData } from '../../src/vrrp/packet.js';
import { checkConfigCommand } from '../../src/commands/check-config.js';

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

const base = (extra: Obj = {}): Obj => ({ interface: 'eth0', vrid: 51, vips: ['198.51.100.100/24'], ...extra });

/** YAML for a config with the given instances (and optional top-level keys). */
function yamlOf(instances: Record<string, Obj>, top: Obj = {}): string {
  return stringify({ ...top, instances });
}

function ok(text: string) {
  const r = parseConfig(text);
  assert.ok(r.ok, r.ok ? '' : `expected ok, got:\n${r.errors.map(formatIssue).join('\n')}`);
  return r;
}

function errors(text: string): ConfigIssue[] {
  const r = parseConfig(text);
  assert.equal(r.ok, false, 'expected errors');
  assert.ok(!r.ok);
  assert.equal('config' in r, false, 'a bad file must not return a config');
  assert.ok(r.errors.length > 0);
  return r.errors;
}

/** The single error at `path` (fails if there is none or several). */
function errorAt(text: string, path: string): ConfigIssue {
  const all = errors(text);
  const hits = all.filter((e) => e.path === path);
  assert.equal(hits.length, 1, `expected one error at ${path}, got:\n${all.map(formatIssue).join('\n')}`);
  return hits[0]!;
}

const one = (extra: Obj) => yamlOf({ VI_1: base(extra) });

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ha-agent-config-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// defaults and normalisation
// ---------------------------------------------------------------------------------------------

describe('defaults and normalised shape', () => {
  test('a minimal instance gets keepalived defaults everywhere', () => {
    const r = ok(yamlOf({ VI_1: { interface: 'eth0', vrid: 51, vips: ['198.51.100.100'] } }));
    assert.deepEqual(r.config, {
      log: { level: 'info' },
      status: { listen: '127.0.0.1:9721' },
      advertThread: { realtimePriority: 1 },
      instances: {
        VI_1: {
          interface: 'eth0',
          vrid: 51,
          priority: 100,
          version: 2,
          advertInterval: 1,
          preempt: true,
          preemptDelay: 0,
          vips: ['198.51.100.100/32'],
          provider: { type: 'garp' },
          garp: { repeat: 5, delay: 5, refresh: 0, refreshRepeat: 1, lowerPrioRepeat: 5 },
          lowerPrioNoAdvert: false,
          v3ChecksumAsV2: false,
        },
      },
    });
    assert.deepEqual(r.warnings, []);
  });

  test('vips are normalised to a.b.c.d/len, written prefixes are kept', () => {
    const r = ok(one({ vips: ['198.51.100.10', '198.51.100.11/24', '198.51.100.12/32'] }));
    assert.deepEqual(r.config.instances['VI_1']!.vips, ['198.51.100.10/32', '198.51.100.11/24', '198.51.100.12/32']);
  });

  test('unicast defaults checkSource to true and leaves source unset', () => {
    const r = ok(one({ unicast: { peers: ['198.51.100.2'] } }));
    assert.deepEqual(r.config.instances['VI_1']!.unicast, { peers: ['198.51.100.2'], checkSource: true });
  });

  test('partial garp settings keep the other defaults', () => {
    const r = ok(one({ garp: { refresh: 30 } }));
    assert.deepEqual(r.config.instances['VI_1']!.garp, { repeat: 5, delay: 5, refresh: 30, refreshRepeat: 1, lowerPrioRepeat: 5 });
  });

  test('every explicit value is kept as written', () => {
    const inst = {
      interface: 'eth1',
      vrid: 7,
      priority: 254,
      version: 3,
      advertInterval: 0.25,
      preempt: true,
      preemptDelay: 10,
      unicast: { source: '198.51.100.1', peers: ['198.51.100.2', '198.51.100.3'], checkSource: false },
      vips: ['198.51.100.50/25'],
      provider: { type: 'garp' },
      garp: { repeat: 3, delay: 0, refresh: 10, refreshRepeat: 2, lowerPrioRepeat: 0 },
      lowerPrioNoAdvert: true,
      v3ChecksumAsV2: true,
    };
    const r = ok(yamlOf({ 'edge-1.lan': inst }, { log: { level: 'debug' }, status: { listen: 'off' } }));
    assert.deepEqual(r.config.instances['edge-1.lan'], inst);
    assert.equal(r.config.log.level, 'debug');
    assert.equal(r.config.status.listen, 'off');
  });

  test('YAML anchors and merge keys work (shared settings between instances)', () => {
    const text = `
common: &common
  interface: eth0
  vips: [198.51.100.9]
instances:
  A: { <<: *common, vrid: 1 }
  B: { <<: *common, vrid: 2 }
`;
    // "common" is not a config key: the anchor has to live somewhere allowed (and the two instances share a VIP)
    const e = errors(text);
    assert.deepEqual(e.map((x) => x.path), ['common', 'instances.A.vips[0], instances.B.vips[0]']);
    const good = `
instances:
  A: &a { interface: eth0, vrid: 1, vips: [198.51.100.9] }
  B: { <<: *a, vrid: 2, vips: [198.51.100.10] }
`;
    const r = ok(good);
    assert.equal(r.config.instances['B']!.interface, 'eth0');
    assert.equal(r.config.instances['B']!.vrid, 2);
  });
});

// ---------------------------------------------------------------------------------------------
// per-field errors
// ---------------------------------------------------------------------------------------------

describe('field errors: path, what was received, and a fix', () => {
  test('vrid out of range, formatted exactly', () => {
    const e = errorAt(one({ vrid: 300 }), 'instances.VI_1.vrid');
    assert.equal(
      formatIssue(e),
      'instances.VI_1.vrid: must be between 1 and 255 (got 300) — fix: use the same VRID (1..255) on every node of this virtual router',
    );
  });

  test('vrid 0 and non-integer vrid', () => {
    assert.match(errorAt(one({ vrid: 0 }), 'instances.VI_1.vrid').message, /between 1 and 255 \(got 0\)/);
    assert.match(errorAt(one({ vrid: 5.5 }), 'instances.VI_1.vrid').message, /whole number.*5\.5/);
  });

  test('missing required keys are each reported', () => {
    const e = errors(yamlOf({ VI_1: {} }));
    assert.deepEqual(e.map((x) => x.path).sort(), ['instances.VI_1.interface', 'instances.VI_1.vips', 'instances.VI_1.vrid']);
    for (const x of e) {
      assert.equal(x.message, 'is required');
      assert.match(x.fix, /^add \w+: … — /);
    }
  });

  test('priority range names its rule', () => {
    const e = errorAt(one({ priority: 256 }), 'instances.VI_1.priority');
    assert.match(e.message, /between 1 and 255 \(got 256\)/);
    assert.match(e.fix, /255 only on the node that owns the addresses/);
  });

  test('a quoted number is explained', () => {
    const e = errorAt(one({ priority: '100' }), 'instances.VI_1.priority');
    assert.equal(e.message, 'must be a number, got "100"');
    assert.equal(e.fix, 'write the number without quotes: 100');
  });

  test('yes/no are not booleans in YAML 1.2, and the fix says so', () => {
    const e = errorAt(`instances:\n  VI_1:\n    interface: eth0\n    vrid: 1\n    vips: [198.51.100.1]\n    preempt: yes\n`, 'instances.VI_1.preempt');
    assert.equal(e.message, 'must be true or false, got "yes"');
    assert.match(e.fix, /YAML 1\.2 reads yes\/no/);
  });

  test('version must be 2 or 3', () => {
    const e = errorAt(one({ version: 4 }), 'instances.VI_1.version');
    assert.equal(e.message, 'must be one of 2, 3 (got 4)');
  });

  test('log level suggests the closest value', () => {
    const e = errorAt(yamlOf({ VI_1: base() }, { log: { level: 'warning' } }), 'log.level');
    assert.match(e.message, /must be one of trace, debug, info, warn, error, fatal, silent \(got "warning"\)/);
    assert.match(e.fix, /did you mean warn\?/);
  });

  test('auth type PASS (keepalived spelling) suggests pass', () => {
    const e = errorAt(one({ auth: { type: 'PASS', password: 'secret' } }), 'instances.VI_1.auth.type');
    assert.match(e.fix, /did you mean pass\?/);
  });

  test('empty password', () => {
    assert.equal(errorAt(one({ auth: { type: 'pass', password: '' } }), 'instances.VI_1.auth.password').message, 'must not be empty');
  });

  test('a password is never echoed in a message', () => {
    const e = errorAt(one({ auth: { type: 'pass', password: 12345678 } }), 'instances.VI_1.auth.password');
    assert.doesNotMatch(formatIssue(e), /12345678/);
    const w = ok(one({ auth: { type: 'pass', password: 'topsecretpassword' } })).warnings;
    assert.doesNotMatch(w.map(formatIssue).join('\n'), /topsecret/);
  });

  test('interface names follow Linux rules', () => {
    assert.match(errorAt(one({ interface: 'a-very-long-interface0' }), 'instances.VI_1.interface').message, /longer than 15/);
    assert.match(errorAt(one({ interface: 'eth0:1' }), 'instances.VI_1.interface').message, /not a valid interface name/);
    assert.equal(errorAt(one({ interface: '' }), 'instances.VI_1.interface').message, 'must not be empty');
  });

  test('preemptDelay range', () => {
    assert.match(errorAt(one({ preemptDelay: 1001 }), 'instances.VI_1.preemptDelay').message, /between 0 and 1000 \(got 1001\)/);
  });

  test('garp ranges', () => {
    assert.match(errorAt(one({ garp: { repeat: 0 } }), 'instances.VI_1.garp.repeat').message, /between 1 and 100 \(got 0\)/);
    assert.match(errorAt(one({ garp: { delay: -1 } }), 'instances.VI_1.garp.delay').message, /between 0 and 3600/);
    assert.match(errorAt(one({ garp: { refreshRepeat: 101 } }), 'instances.VI_1.garp.refreshRepeat').fix, /garp_master_refresh_repeat/);
  });

  test('status.listen accepts host:port, [v6]:port and off; rejects the rest', () => {
    for (const listen of ['127.0.0.1:9721', '0.0.0.0:80', 'localhost:9721', '[::1]:9721', 'off']) {
      ok(yamlOf({ VI_1: base() }, { status: { listen } }));
    }
    for (const listen of ['localhost', '127.0.0.1:0', '127.0.0.1:70000', ':9721', 'on']) {
      const e = errorAt(yamlOf({ VI_1: base() }, { status: { listen } }), 'status.listen');
      assert.match(e.message, /is not "host:port" or "off"/);
    }
    assert.deepEqual(parseListen('[::1]:9721'), { host: '::1', port: 9721 });
    assert.deepEqual(parseListen('127.0.0.1:9721'), { host: '127.0.0.1', port: 9721 });
    assert.equal(parseListen('off'), undefined);
  });
});

describe('advertThread', () => {
  test('realtimePriority: 1 by default (the lowest SCHED_FIFO priority), 0 turns it off, 1..99; anything else is an error with a fix', () => {
    assert.deepEqual(ok(yamlOf({ VI_1: base() })).config.advertThread, { realtimePriority: 1 });
    assert.deepEqual(ok(yamlOf({ VI_1: base() }, { advertThread: {} })).config.advertThread, { realtimePriority: 1 });
    for (const p of [0, 1, 50, 99]) assert.equal(ok(yamlOf({ VI_1: base() }, { advertThread: { realtimePriority: p } })).config.advertThread.realtimePriority, p);
    for (const p of [-1, 100, 1.5, 'high']) {
      const e = errorAt(yamlOf({ VI_1: base() }, { advertThread: { realtimePriority: p } }), 'advertThread.realtimePriority');
      assert.ok(e.fix.length > 0, formatIssue(e));
    }
    assert.match(formatIssue(errorAt(yamlOf({ VI_1: base() }, { advertThread: { realtimePriority: 100 } }), 'advertThread.realtimePriority')), /99/);
    errorAt(yamlOf({ VI_1: base() }, { advertThread: { priority: 5 } }), 'advertThread.priority');
  });
});

describe('addresses', () => {
  test('bad VIPs are named with what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['198.51.100.1/33', /invalid prefix length \/33/],
      ['198.51.100.1/0', /invalid prefix length \/0/],
      ['198.51.100.256', /not an IPv4 address/],
      ['198.51.100', /not an IPv4 address/],
      ['198.51.100.01', /not an IPv4 address/],
      ['2001:db8::1/129', /invalid prefix length \/129/],
      ['224.0.0.18', /multicast/],
      ['127.0.0.1', /loopback/],
      ['0.0.0.0', /unspecified/],
    ];
    for (const [vip, re] of cases) {
      const e = errorAt(one({ vips: [vip] }), 'instances.VI_1.vips[0]');
      assert.match(e.message, re, vip);
      assert.match(e.fix, /a\.b\.c\.d\/len/);
    }
  });

  test('duplicate VIPs (same address, any prefix) are an error at the second one', () => {
    const e = errorAt(one({ vips: ['198.51.100.1/24', '198.51.100.2', '198.51.100.1'] }), 'instances.VI_1.vips[2]');
    assert.match(e.message, /lists 198\.51\.100\.1 twice/);
  });

  /** `n` distinct VIPs (n ≤ 256), all in 198.51.100.0/24. */
  const vipsN = (n: number) => Array.from({ length: n }, (_, i) => `198.51.100.${i}`);

  test('1..255 VIPs, as many as keepalived carries in one advert', () => {
    assert.equal(MAX_VIPS, 255);
    const r = ok(one({ vips: vipsN(255) }));
    assert.equal(r.config.instances['VI_1']!.vips.length, 255);
    const e = errorAt(one({ vips: vipsN(256) }), 'instances.VI_1.vips');
    assert.equal(e.message, 'must list at most 255 entries (got 256)');
    assert.match(e.fix, /list 1\.\.255 IPv4 addresses/);
    assert.equal(errorAt(one({ vips: [] }), 'instances.VI_1.vips').message, 'must list at least 1 entry (got an empty list)');
  });

  test('255 VIPs fit the advert codec, v2 and v3, both ways, within an Ethernet MTU', () => {
    const vips = ok(one({ vips: vipsN(255) })).config.instances['VI_1']!.vips.map(vipAddress);
    const ip = { src: '198.51.100.1', dst: '224.0.0.18' };
    const v2 = encodeAdvert({ version: 2, vrid: 51, priority: 100, addresses: vips, advertIntervalCs: 100, authType: 1, authData: passwordToAuthData('secret12') }, ip);
    const v3 = encodeAdvert({ version: 3, vrid: 51, priority: 100, addresses: vips, advertIntervalCs: 100, authType: 0, authData: Buffer.alloc(0) }, ip);
    assert.equal(v2.length, 16 + 4 * 255);
    assert.equal(v3.length, 8 + 4 * 255);
    assert.ok(20 + v2.length <= 1500, 'one IPv4 packet on a 1500-byte link');
    for (const wire of [v2, v3]) {
      assert.equal(wire[3], 255, 'count field');
      const d = decodeAdvert(wire, ip);
      assert.ok(d.ok, d.ok ? '' : d.detail);
      assert.deepEqual(d.advert.addresses, vips);
    }
  });

  test(`more than ${MANY_VIPS} VIPs: a warning (each is an address add at takeover), not an error`, () => {
    assert.equal(MANY_VIPS, 100);
    assert.deepEqual(ok(one({ vips: vipsN(100) })).warnings, []);
    const r = ok(one({ vips: vipsN(101) }));
    assert.equal(r.warnings.length, 1);
    const w = r.warnings[0]!;
    assert.equal(w.path, 'instances.VI_1.vips');
    assert.match(w.message, /^lists 101 VIPs; each one is a separate address add when this node takes over/);
    assert.match(w.fix, /cannot be split across instances/);
    assert.deepEqual(parseConfig(one({ vips: vipsN(256) })).warnings, [], 'too many is an error, not also a warning');
  });

  test('a single VIP written without a list says how to write a list', () => {
    const e = errorAt(one({ vips: '198.51.100.1' }), 'instances.VI_1.vips');
    assert.equal(e.message, 'must be a list, got "198.51.100.1"');
    assert.equal(e.fix, 'write a list: [198.51.100.1]');
  });

  test('peers and source must be bare IPv4 host addresses', () => {
    assert.match(errorAt(one({ unicast: { peers: ['198.51.100.2/24'] } }), 'instances.VI_1.unicast.peers[0]').message, /has a \/len/);
    assert.match(errorAt(one({ unicast: { source: 'eth0', peers: ['198.51.100.2'] } }), 'instances.VI_1.unicast.source').message, /not an IPv4/);
    assert.equal(errorAt(one({ unicast: { peers: [] } }), 'instances.VI_1.unicast.peers').message, 'must list at least 1 entry (got an empty list)');
    assert.equal(errorAt(one({ unicast: {} }), 'instances.VI_1.unicast.peers').message, 'is required');
  });
});

// ---------------------------------------------------------------------------------------------
// unknown keys, did-you-mean, keepalived aliases
// ---------------------------------------------------------------------------------------------

describe('unknown keys', () => {
  test('typos get a did-you-mean', () => {
    const cases: [Obj, string, string][] = [
      [{ prioirty: 100 }, 'instances.VI_1.prioirty', 'priority'],
      [{ advert_interval: 1 }, 'instances.VI_1.advert_interval', 'advertInterval'],
      [{ Priority: 100 }, 'instances.VI_1.Priority', 'priority'],
      [{ vird: 5 }, 'instances.VI_1.vird', 'vrid'],
      [{ garp: { repaet: 3 } }, 'instances.VI_1.garp.repaet', 'repeat'],
      [{ unicast: { peers: ['198.51.100.2'], check_source: true } }, 'instances.VI_1.unicast.check_source', 'checkSource'],
      [{ lowerPrioNoAdvrt: true }, 'instances.VI_1.lowerPrioNoAdvrt', 'lowerPrioNoAdvert'],
    ];
    for (const [extra, path, want] of cases) {
      const e = errorAt(one(extra), path);
      assert.match(e.message, /^unknown key "/);
      assert.ok(e.fix.startsWith(`did you mean "${want}"?`), `${path}: ${e.fix}`);
    }
  });

  test('top-level typos', () => {
    assert.match(errorAt(yamlOf({ VI_1: base() }, { stauts: { listen: 'off' } }), 'stauts').fix, /did you mean "status"/);
    assert.match(errorAt(stringify({ instance: { VI_1: base() } }), 'instance').fix, /did you mean "instances"/);
  });

  test('keepalived keywords map to our keys', () => {
    const cases: [Obj, string, RegExp][] = [
      [{ advert_int: 1 }, 'instances.VI_1.advert_int', /did you mean "advertInterval"\?/],
      [{ virtual_router_id: 51 }, 'instances.VI_1.virtual_router_id', /did you mean "vrid"\?/],
      [{ virtual_ipaddress: ['198.51.100.1'] }, 'instances.VI_1.virtual_ipaddress', /did you mean "vips"\?/],
      [{ unicast_peer: ['198.51.100.2'] }, 'instances.VI_1.unicast_peer', /did you mean "unicast\.peers"\? — write it as unicast: \{ peers: … \}/],
      [{ unicast_src_ip: '198.51.100.1' }, 'instances.VI_1.unicast_src_ip', /"unicast\.source"/],
      [{ auth_pass: 'x' }, 'instances.VI_1.auth_pass', /"auth\.password"/],
      [{ authentication: {} }, 'instances.VI_1.authentication', /did you mean "auth"\?/],
      [{ preempt_delay: 5 }, 'instances.VI_1.preempt_delay', /"preemptDelay"/],
      [{ garp_master_refresh: 5 }, 'instances.VI_1.garp_master_refresh', /"garp\.refresh"/],
      [{ v3_checksum_as_v2: true }, 'instances.VI_1.v3_checksum_as_v2', /"v3ChecksumAsV2"/],
      [{ unicast: { peers: ['198.51.100.2'], unicast_peer: [] } }, 'instances.VI_1.unicast.unicast_peer', /did you mean "peers"\?/],
      [{ auth: { type: 'pass', password: 'x', auth_type: 'PASS' } }, 'instances.VI_1.auth.auth_type', /did you mean "type"\?/],
      [{ garp: { garp_master_delay: 1 } }, 'instances.VI_1.garp.garp_master_delay', /did you mean "delay"\?/],
    ];
    for (const [extra, path, re] of cases) {
      const e = errorAt(one(extra), path);
      assert.match(e.message, /keepalived's name/, path);
      assert.match(e.fix, re, path);
    }
  });

  test('keepalived keywords without an equivalent say what to do instead', () => {
    assert.match(errorAt(one({ nopreempt: true }), 'instances.VI_1.nopreempt').fix, /preempt: false/);
    assert.match(errorAt(one({ state: 'MASTER' }), 'instances.VI_1.state').fix, /highest priority becomes MASTER/);
    assert.match(errorAt(stringify({ vrrp_instance: { VI_1: base() } }), 'vrrp_instance').fix, /did you mean "instances"/);
  });

  test('a key written one level too high is found one level down', () => {
    assert.match(errorAt(one({ peers: ['198.51.100.2'] }), 'instances.VI_1.peers').fix, /did you mean "unicast\.peers"/);
    assert.match(errorAt(one({ refresh: 5 }), 'instances.VI_1.refresh').fix, /did you mean "garp\.refresh"/);
  });

  test('an instance written outside instances: is pointed back', () => {
    const e = errorAt(stringify({ instances: { VI_1: base() }, VI_2: base({ vrid: 52 }) }), 'VI_2');
    assert.match(e.fix, /instances go under instances:/);
  });

  test('without a plausible match, the allowed keys are listed', () => {
    const e = errorAt(one({ zzzzzz: 1 }), 'instances.VI_1.zzzzzz');
    assert.match(e.fix, /^remove it \(allowed here: interface, vrid, priority/);
  });

  test('keys that name Object.prototype members are plain unknown keys', () => {
    for (const key of ['constructor', 'toString', 'hasOwnProperty']) {
      const e = errorAt(one({ [key]: 1 }), `instances.VI_1.${key}`);
      assert.match(e.message, /^unknown key/);
      assert.equal(typeof e.fix, 'string');
    }
  });

  test('__proto__ keys are refused, not silently dropped', () => {
    const e = errors('instances:\n  __proto__: { interface: eth0 }\n  V: { interface: eth0, vrid: 1, vips: [198.51.100.1], __proto__: { a: 1 } }\n');
    assert.deepEqual(e.map((x) => x.path), ['instances.__proto__', 'instances.V.__proto__']);
  });

  test('instance names follow keepalived rules', () => {
    const e = errorAt(yamlOf({ 'bad name!': base() }), 'instances["bad name!"]');
    assert.match(e.message, /instance name "bad name!" may only contain letters, digits, _ - \./);
    assert.match(e.fix, /bad_name_/);
  });
});

// ---------------------------------------------------------------------------------------------
// providers
// ---------------------------------------------------------------------------------------------

describe('provider', () => {
  test('alibaba: haVipId required, defaults, every fact optional, endpoint as host[:port]', () => {
    assert.match(errorAt(one({ provider: { type: 'alibaba' } }), 'instances.VI_1.provider.haVipId').message, /required|expected string/i);
    const r = ok(one({ provider: { type: 'alibaba', haVipId: 'havip-bp1abcdefghij' } }));
    assert.deepEqual(r.config.instances['VI_1']!.provider, { type: 'alibaba', haVipId: 'havip-bp1abcdefghij', peerInstanceIds: [], protocol: 'https', associate: 'never' });
    const full = {
      type: 'alibaba',
      haVipId: 'havip-bp1abcdefghij',
      regionId: 'cn-hangzhou',
      instanceId: 'i-bp1instancea0001',
      peerInstanceIds: ['i-bp1instanceb0002'],
      endpoint: '127.0.0.1:7001',
      protocol: 'http',
      metadataEndpoint: 'http://127.0.0.1:7101',
      associate: 'at-start',
      timing: { confirmTimeout: 5 },
    };
    assert.deepEqual(ok(one({ provider: full })).config.instances['VI_1']!.provider, full);
  });

  test('alibaba: ids, region, endpoint and URL are checked, each error names the key and the fix', () => {
    const r = one({ provider: { type: 'alibaba', haVipId: 'vip-1', regionId: 'Hangzhou', instanceId: 'bp1', endpoint: 'http://127.0.0.1:7001', metadataEndpoint: '127.0.0.1:7101', associate: 'always' } });
    assert.match(errorAt(r, 'instances.VI_1.provider.haVipId').message, /not a HaVip id/);
    assert.match(errorAt(r, 'instances.VI_1.provider.regionId').fix, /cn-hangzhou/);
    assert.match(errorAt(r, 'instances.VI_1.provider.instanceId').message, /not an ECS instance id/);
    assert.match(errorAt(r, 'instances.VI_1.provider.endpoint').fix, /without a scheme/);
    assert.match(errorAt(r, 'instances.VI_1.provider.metadataEndpoint').message, /not an http/);
    errorAt(r, 'instances.VI_1.provider.associate');
  });

  test('alibaba: one VIP (a HaVip has one address); peers are not this instance', () => {
    const p = { type: 'alibaba', haVipId: 'havip-bp1abcdefghij' };
    assert.match(errorAt(one({ provider: p, vips: ['198.51.100.70', '198.51.100.71'] }), 'instances.VI_1.vips').message, /one HaVip, which has one address, but 2 VIPs/);
    const self = one({ provider: { ...p, instanceId: 'i-bp1instancea0001', peerInstanceIds: ['i-bp1instancea0001'] } });
    assert.match(errorAt(self, 'instances.VI_1.provider.peerInstanceIds').fix, /other nodes/);
  });

  test('aws: defaults, every fact optional, endpoints as URLs', () => {
    const r = ok(one({ provider: { type: 'aws' } }));
    assert.deepEqual(r.config.instances['VI_1']!.provider, { type: 'aws', mode: 'secondary-ip', unassignOnRelease: false });
    const full = {
      type: 'aws',
      region: 'eu-west-1',
      instanceId: 'i-0123456789abcdef0',
      networkInterfaceId: 'eni-0123abcd',
      endpoint: 'http://127.0.0.1:5055',
      imdsEndpoint: 'http://127.0.0.1:8001',
      unassignOnRelease: true,
      timing: { faultAfter: 60 },
    };
    assert.deepEqual(ok(one({ provider: full })).config.instances['VI_1']!.provider, { ...full, mode: 'secondary-ip' });
  });

  test('aws: ids, region and URLs are checked, each error names the key and the fix', () => {
    const r = one({ provider: { type: 'aws', region: 'Ireland', instanceId: 'i-123', networkInterfaceId: 'eth0', endpoint: '127.0.0.1:5055' } });
    assert.match(errorAt(r, 'instances.VI_1.provider.region').fix, /eu-west-1/);
    assert.match(errorAt(r, 'instances.VI_1.provider.instanceId').message, /not an EC2 instance id/);
    assert.match(errorAt(r, 'instances.VI_1.provider.networkInterfaceId').message, /not a network interface id/);
    assert.match(errorAt(r, 'instances.VI_1.provider.endpoint').fix, /http:\/\/127\.0\.0\.1:5055/);
  });

  test('aws: each mode needs its own keys and refuses the others', () => {
    assert.match(errorAt(one({ provider: { type: 'aws', mode: 'route-table' } }), 'instances.VI_1.provider.routeTableIds').fix, /rtb-/);
    assert.match(errorAt(one({ provider: { type: 'aws', mode: 'elastic-ip' } }), 'instances.VI_1.provider.allocationId').fix, /eipalloc-/);
    assert.match(errorAt(one({ provider: { type: 'aws', routeTableIds: ['rtb-0123abcd'] } }), 'instances.VI_1.provider.routeTableIds').fix, /mode: route-table/);
    assert.match(errorAt(one({ provider: { type: 'aws', mode: 'route-table', routeTableIds: ['rtb-0123abcd'], unassignOnRelease: true } }), 'instances.VI_1.provider.unassignOnRelease').message, /only used with mode secondary-ip/);
    const rt = ok(one({ provider: { type: 'aws', mode: 'route-table', routeTableIds: ['rtb-0123abcd', 'rtb-0123456789abcdef0'] } }));
    assert.deepEqual((rt.config.instances['VI_1']!.provider as { routeTableIds?: string[] }).routeTableIds, ['rtb-0123abcd', 'rtb-0123456789abcdef0']);
  });

  test('aws without unicast: a warning that a VPC carries no multicast, naming the fix', () => {
    const r = ok(one({ provider: { type: 'aws' } }));
    const w = r.warnings.find((x) => x.path === 'instances.VI_1.unicast');
    assert.ok(w, JSON.stringify(r.warnings));
    assert.match(w.message, /multicast/);
    assert.match(w.fix, /unicast: \{ peers:/);
    assert.equal(ok(one({ provider: { type: 'aws' }, unicast: { peers: ['198.51.100.12'] } })).warnings.length, 0);
  });

  test('aws elastic-ip: exactly one VIP, a single address', () => {
    const eip = { type: 'aws', mode: 'elastic-ip', allocationId: 'eipalloc-0123abcd' };
    ok(one({ provider: eip, vips: ['203.0.113.10'] }));
    assert.match(errorAt(one({ provider: eip, vips: ['203.0.113.10', '203.0.113.11'] }), 'instances.VI_1.vips').message, /one Elastic IP, but 2 VIPs/);
    assert.match(errorAt(one({ provider: eip, vips: ['203.0.113.10/24'] }), 'instances.VI_1.vips[0]').fix, /public address/);
  });

  test('unknown provider type suggests the closest', () => {
    const e = errorAt(one({ provider: { type: 'gapr' } }), 'instances.VI_1.provider.type');
    assert.equal(e.message, 'unknown provider type "gapr" (available: garp, aws, alibaba)');
    assert.match(e.fix, /did you mean garp\?/);
  });

  test('provider.timing overrides are seconds, each optional, ranges checked', () => {
    const r = ok(one({ provider: { type: 'garp', timing: { faultAfter: 10, reconcile: 30 } } }));
    assert.deepEqual(r.config.instances['VI_1']!.provider, { type: 'garp', timing: { faultAfter: 10, reconcile: 30 } });
    assert.deepEqual(ok(one({})).config.instances['VI_1']!.provider, { type: 'garp' });
    const e = errorAt(one({ provider: { type: 'garp', timing: { faultAfter: 0 } } }), 'instances.VI_1.provider.timing.faultAfter');
    assert.match(e.fix, /seconds/);
    assert.match(errorAt(one({ provider: { type: 'garp', timing: { fualtAfter: 1 } } }), 'instances.VI_1.provider.timing.fualtAfter').fix, /faultAfter/);
  });

  test('provider without type, and unknown garp provider keys', () => {
    assert.equal(errorAt(one({ provider: {} }), 'instances.VI_1.provider.type').message, 'is required');
    assert.match(errorAt(one({ provider: { type: 'garp', region: 'x' } }), 'instances.VI_1.provider.region').message, /unknown key "region"/);
  });
});

// ---------------------------------------------------------------------------------------------
// cross-field rules
// ---------------------------------------------------------------------------------------------

describe('cross-field rules', () => {
  test('v2 intervals are whole seconds 1..255', () => {
    ok(one({ advertInterval: 1 }));
    ok(one({ advertInterval: 255 }));
    for (const t of [1.5, 0.5]) {
      const e = errorAt(one({ advertInterval: t }), 'instances.VI_1.advertInterval');
      assert.equal(e.message, `must be a whole number of seconds from 1 to 255 with version 2 (got ${t})`);
      assert.match(e.fix, /version: 3/);
    }
    assert.match(errorAt(one({ advertInterval: 256 }), 'instances.VI_1.advertInterval').message, /got 256/);
  });

  test('v3 intervals are 0.01..40.95 in steps of 0.01', () => {
    for (const t of [0.01, 0.5, 1, 2.37, 40.95]) ok(one({ version: 3, advertInterval: t }));
    for (const t of [0.015, 41, 100, 1.234]) {
      const e = errorAt(one({ version: 3, advertInterval: t }), 'instances.VI_1.advertInterval');
      assert.equal(e.message, `must be from 0.01 to 40.95 seconds in steps of 0.01 with version 3 (got ${t})`);
    }
  });

  test('auth only with version 2', () => {
    ok(one({ version: 2, auth: { type: 'pass', password: 'secret12' } }));
    const e = errorAt(one({ version: 3, auth: { type: 'pass', password: 'secret12' } }), 'instances.VI_1.auth');
    assert.equal(e.message, 'auth is only available with version 2 (this instance uses version 3)');
  });

  test('a VIP must not be unicast.source: error naming both places', () => {
    const e = errorAt(
      one({ vips: ['198.51.100.100/24', '198.51.100.1/24'], unicast: { source: '198.51.100.1', peers: ['198.51.100.2'] } }),
      'instances.VI_1.unicast.source, instances.VI_1.vips[1]',
    );
    assert.equal(e.message, "VIP 198.51.100.1 is also unicast.source, this node's own address");
    assert.match(e.fix, /^choose another VIP, or correct unicast\.source \(a VIP must be an address no node owns/);
    assert.match(e.fix, /take that node's own address away/);
  });

  test('a VIP must not be one of unicast.peers (any prefix): error naming both places', () => {
    const e = errorAt(one({ vips: ['198.51.100.3'], unicast: { peers: ['198.51.100.2', '198.51.100.3'] } }), 'instances.VI_1.unicast.peers[1], instances.VI_1.vips[0]');
    assert.equal(e.message, "VIP 198.51.100.3 is also listed in unicast.peers, another node's own address");
    assert.match(e.fix, /correct unicast\.peers/);
    // Both at once, and the prefix does not hide it.
    const all = errors(one({ vips: ['198.51.100.1/24', '198.51.100.2/32'], unicast: { source: '198.51.100.1', peers: ['198.51.100.2'] } }));
    assert.deepEqual(all.map((x) => x.path), ['instances.VI_1.unicast.source, instances.VI_1.vips[0]', 'instances.VI_1.unicast.peers[0], instances.VI_1.vips[1]']);
    // Positions point at the VIP.
    const text = one({ vips: ['198.51.100.2'], unicast: { peers: ['198.51.100.2'] } });
    const hit = errors(text)[0]!;
    const line = text.split('\n')[issuePosition(hit)!.line - 1]!;
    assert.match(line, /- 198\.51\.100\.2$/);
    assert.ok(text.split('\n').slice(0, issuePosition(hit)!.line - 1).some((l) => /vips:/.test(l)));
  });

  test('VIPs next to, but not equal to, node addresses are fine; multicast has nothing to compare', () => {
    ok(one({ vips: ['198.51.100.100/24'], unicast: { source: '198.51.100.1', peers: ['198.51.100.2'] } }));
    ok(one({ vips: ['198.51.100.1/24'] }));
  });

  test('unicast peers must not contain the source, nor repeat', () => {
    const e = errorAt(one({ unicast: { source: '198.51.100.1', peers: ['198.51.100.2', '198.51.100.1'] } }), 'instances.VI_1.unicast.peers[1]');
    assert.match(e.message, /must not contain this node's own address 198\.51\.100\.1/);
    const d = errorAt(one({ unicast: { peers: ['198.51.100.2', '198.51.100.2'] } }), 'instances.VI_1.unicast.peers[1]');
    assert.equal(d.message, 'lists 198.51.100.2 twice');
  });

  test('the same VIP in two instances is an error naming both places (any prefix, any interface)', () => {
    const e = errorAt(yamlOf({ A: base({ vrid: 5 }), B: base({ vrid: 6, interface: 'eth1', vips: ['198.51.100.7', '198.51.100.100/32'] }) }), 'instances.A.vips[0], instances.B.vips[1]');
    assert.equal(e.message, 'VIP 198.51.100.100 is in instances A and B');
    assert.match(e.fix, /exactly one instance/);
  });

  describe('VRID unique per interface', () => {
    let nextVip = 1;
    /** A base instance with a VIP of its own (VIPs are unique across instances). */
    const own = (extra: Obj = {}) => base({ vips: [`203.0.113.${nextVip++}`], ...extra });
    const uni = (vrid: number, peers: string[], iface = 'eth0') => own({ interface: iface, vrid, unicast: { peers } });

    test('two multicast instances with one VRID on one interface: error naming both', () => {
      const e = errorAt(yamlOf({ A: own({ vrid: 5 }), B: own({ vrid: 5, vips: ['198.51.100.7'] }) }), 'instances.A.vrid, instances.B.vrid');
      assert.match(e.message, /instances A and B both use vrid 5 on eth0/);
    });

    test('same VRID on different interfaces is fine', () => {
      ok(yamlOf({ A: own({ vrid: 5 }), B: own({ vrid: 5, interface: 'eth1' }) }));
    });

    test('both unicast with disjoint peers is fine (keepalived allows it)', () => {
      ok(yamlOf({ A: uni(5, ['198.51.100.2']), B: uni(5, ['198.51.100.3', '198.51.100.4']) }));
    });

    test('both unicast with a shared peer is an error', () => {
      const e = errorAt(yamlOf({ A: uni(5, ['198.51.100.2', '198.51.100.3']), B: uni(5, ['198.51.100.3']) }), 'instances.A.vrid, instances.B.vrid');
      assert.match(e.message, /both list peer 198\.51\.100\.3/);
    });

    test('one unicast and one multicast is an error', () => {
      errorAt(yamlOf({ A: uni(5, ['198.51.100.2']), B: own({ vrid: 5 }) }), 'instances.A.vrid, instances.B.vrid');
    });

    test('three instances sharing a VRID give two errors, one per later instance', () => {
      const e = errors(yamlOf({ A: own({ vrid: 5 }), B: own({ vrid: 5 }), C: own({ vrid: 6 }), D: own({ vrid: 5 }) }));
      assert.deepEqual(e.map((x) => x.path), ['instances.A.vrid, instances.B.vrid', 'instances.A.vrid, instances.D.vrid', 'instances.B.vrid, instances.D.vrid']);
    });

    test('the rule still runs when another instance has unrelated errors', () => {
      const e = errors(yamlOf({ A: own({ vrid: 5 }), B: own({ vrid: 5 }), C: own({ vrid: 999 }) }));
      assert.deepEqual(e.map((x) => x.path).sort(), ['instances.A.vrid, instances.B.vrid', 'instances.C.vrid']);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// warnings
// ---------------------------------------------------------------------------------------------

describe('warnings', () => {
  test('long passwords are truncated to 8 bytes with a warning, like keepalived', () => {
    const r = ok(one({ auth: { type: 'pass', password: 'secret12345' } }));
    assert.equal(r.config.instances['VI_1']!.auth?.password, 'secret12');
    assert.equal(r.warnings.length, 1);
    assert.equal(r.warnings[0]!.path, 'instances.VI_1.auth.password');
    assert.match(r.warnings[0]!.message, /is 11 bytes long; only the first 8 are used/);
  });

  test('8-byte passwords are untouched; multi-byte truncation on a character boundary works', () => {
    const r = ok(one({ auth: { type: 'pass', password: 'secret12' } }));
    assert.equal(r.config.instances['VI_1']!.auth?.password, 'secret12');
    assert.deepEqual(r.warnings, []);
    assert.equal(truncatePassword('ééééé'), 'éééé');
    assert.equal(ok(one({ auth: { type: 'pass', password: 'ééééé' } })).warnings.length, 1);
  });

  test('a password whose 8th byte is mid-character is an error, not a silent mangle', () => {
    const e = errorAt(one({ auth: { type: 'pass', password: 'abcdefgé' + 'x' } }), 'instances.VI_1.auth.password');
    assert.match(e.message, /multi-byte character/);
  });

  test('preemptDelay without preempt', () => {
    const r = ok(one({ preempt: false, preemptDelay: 5 }));
    assert.deepEqual(r.warnings.map((w) => w.path), ['instances.VI_1.preemptDelay']);
    assert.match(r.warnings[0]!.message, /no effect because preempt is false/);
  });

  test('priority 255 with preempt false', () => {
    const r = ok(one({ priority: 255, preempt: false }));
    assert.deepEqual(r.warnings.map((w) => w.path), ['instances.VI_1.preempt']);
    assert.match(r.warnings[0]!.message, /always preempts/);
  });

  test('warnings come back with errors too', () => {
    const r = parseConfig(one({ priority: 255, preempt: false, vrid: 0 }));
    assert.ok(!r.ok);
    assert.equal(r.errors.length, 1);
    assert.equal(r.warnings.length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// every error at once, nothing half-applied
// ---------------------------------------------------------------------------------------------

describe('all errors at once', () => {
  test('many problems in many places are reported together, in file order', () => {
    const text = `log:
  level: loud
instances:
  VI_1:
    interface: eth0
    vrid: 300
    prioirty: 100
    vips: [198.51.100.1/40]
  VI_2:
    interface: eth0
    vrid: 52
    version: 3
    advertInterval: 50
    auth: { type: pass, password: secret }
    vips: [198.51.100.2]
    provider: { type: alibab }
status:
  listen: nowhere
`;
    const e = errors(text);
    assert.deepEqual(
      e.map((x) => x.path),
      [
        'log.level',
        'instances.VI_1.vrid',
        'instances.VI_1.prioirty',
        'instances.VI_1.vips[0]',
        'instances.VI_2.advertInterval',
        'instances.VI_2.auth',
        'instances.VI_2.provider.type',
        'status.listen',
      ],
    );
    for (const x of e) {
      assert.ok(x.message.length > 0 && x.fix.length > 0, formatIssue(x));
      assert.ok(issuePosition(x), `no position for ${x.path}`);
    }
  });

  test('positions point at the offending key', () => {
    const e = errorAt('instances:\n  VI_1:\n    interface: eth0\n    vrid: 300\n    vips: [198.51.100.1]\n', 'instances.VI_1.vrid');
    assert.deepEqual(issuePosition(e), { line: 4, column: 5 });
    const v = errorAt('instances:\n  VI_1:\n    interface: eth0\n    vrid: 3\n    vips: [198.51.100.1, 198.51.100.300]\n', 'instances.VI_1.vips[1]');
    assert.deepEqual(issuePosition(v), { line: 5, column: 26 });
  });
});

// ---------------------------------------------------------------------------------------------
// YAML and file level
// ---------------------------------------------------------------------------------------------

describe('YAML and files', () => {
  test('YAML syntax errors: one issue with line and column', () => {
    const e = errors('instances:\n  VI_1:\n    vips: [198.51.100.1\n    vrid: 3\n');
    assert.equal(e.length, 1);
    assert.equal(e[0]!.path, '(yaml)');
    assert.match(e[0]!.message, /^line \d+, column \d+: /);
    assert.ok(issuePosition(e[0]!));
    assert.ok(e[0]!.fix.length > 0);
  });

  test('tabs and duplicate keys are YAML errors with a specific fix', () => {
    const tab = errors('instances:\n\tVI_1: {}\n')[0]!;
    assert.match(tab.message, /^line 2, column 1: /);
    const dup = errors('instances:\n  VI_1:\n    vrid: 1\n    vrid: 2\n')[0]!;
    assert.match(dup.message, /^line 4, column 5: /);
    assert.match(dup.fix, /only one of them/);
  });

  test('empty file, a list, a scalar, empty instances', () => {
    assert.equal(errors('')[0]!.message, 'the file is empty');
    assert.equal(errors('# only a comment\n')[0]!.message, 'the file is empty');
    assert.equal(errors('- a\n- b\n')[0]!.message, 'must be a mapping (key: value), got a list of 2');
    assert.equal(errorAt('instances: {}\n', 'instances').message, 'must define at least one instance');
    assert.equal(errorAt('log: {}\n', 'instances').message, 'is required');
  });

  test('a pasted keepalived.conf: how to translate it by hand, naming no command that does not exist', () => {
    const confs = [
      'vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n}\n',
      'global_defs {\n  router_id LVS_1\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    198.51.100.100/24\n  }\n}\n',
      'vrrp_instance VI_1 {\n  interface: eth0\n}\n',
    ];
    for (const conf of confs) {
      const e = errors(conf);
      assert.equal(e.length, 1, conf);
      const fix = e[0]!.fix;
      assert.match(fix, /^this looks like a keepalived\.conf; this file is YAML: translate it by hand, starting from config\.example\.yaml/);
      assert.match(fix, /virtual_router_id → vrid/);
      assert.match(fix, /virtual_ipaddress → vips/);
      assert.match(fix, /importer is planned but not available yet/);
      assert.doesNotMatch(fix, /import-keepalived|ha-agent import/);
    }
  });

  test('loadConfigFile: missing file, directory, valid file', async () => {
    await withTmp(async (dir) => {
      const missing = await loadConfigFile(join(dir, 'nope.yaml'));
      assert.ok(!missing.ok);
      assert.equal(missing.errors.length, 1);
      assert.equal(missing.errors[0]!.path, '(file)');
      assert.match(missing.errors[0]!.message, /no such file/);
      assert.match(missing.errors[0]!.fix, /--config/);

      await mkdir(join(dir, 'sub'));
      const isDir = await loadConfigFile(join(dir, 'sub'));
      assert.ok(!isDir.ok);
      assert.match(isDir.errors[0]!.message, /directory/);

      await writeFile(join(dir, 'good.yaml'), one({}));
      const good = await loadConfigFile(join(dir, 'good.yaml'));
      assert.ok(good.ok);
      assert.equal(good.config.instances['VI_1']!.vrid, 51);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// check-config
// ---------------------------------------------------------------------------------------------

describe('check-config', () => {
  test('valid file: OK line with instance names, exit 0', async () => {
    await withTmp(async (dir) => {
      const file = join(dir, 'c.yaml');
      await writeFile(file, yamlOf({ VI_1: base(), VI_2: base({ vrid: 52, vips: ['198.51.100.101/24'] }) }));
      const out = sink();
      const err = sink();
      assert.equal(await checkConfigCommand(file, { stdout: out.stream, stderr: err.stream }), 0);
      assert.equal(out.text(), 'config OK: 2 instance(s) (VI_1, VI_2)\n');
      assert.equal(err.text(), '');
    });
  });

  test('valid file with warnings: printed after the OK line, still exit 0', async () => {
    await withTmp(async (dir) => {
      const file = join(dir, 'c.yaml');
      await writeFile(file, one({ priority: 255, preempt: false }));
      const out = sink();
      const err = sink();
      assert.equal(await checkConfigCommand(file, { stdout: out.stream, stderr: err.stream }), 0);
      const lines = out.text().trim().split('\n');
      assert.equal(lines[0], 'config OK: 1 instance(s) (VI_1)');
      assert.match(lines[1]!, /c\.yaml:\d+:\d+: warning: instances\.VI_1\.preempt: is ignored/);
    });
  });

  test('invalid file: every error on stderr with file:line:col, exit 1, no stack trace', async () => {
    await withTmp(async (dir) => {
      const file = join(dir, 'bad.yaml');
      await writeFile(file, 'instances:\n  VI_1:\n    interface: eth0\n    vrid: 300\n    prioirty: 1\n    vips: [198.51.100.1]\n');
      const out = sink();
      const err = sink();
      assert.equal(await checkConfigCommand(file, { stdout: out.stream, stderr: err.stream }), 1);
      assert.equal(out.text(), '');
      const lines = err.text().trim().split('\n');
      assert.equal(
        lines[0],
        `${file}:4:5: error: instances.VI_1.vrid: must be between 1 and 255 (got 300) — fix: use the same VRID (1..255) on every node of this virtual router`,
      );
      assert.match(lines[1]!, /:5:5: error: instances\.VI_1\.prioirty: unknown key "prioirty" — fix: did you mean "priority"\?/);
      assert.equal(lines[2], `config INVALID: 2 error(s) in ${file}`);
      assert.doesNotMatch(err.text(), /\n\s+at /);
    });
  });

  test('missing file: exit 1 with a (file) error', async () => {
    const out = sink();
    const err = sink();
    assert.equal(await checkConfigCommand('/nonexistent/ha-agent.yaml', { stdout: out.stream, stderr: err.stream }), 1);
    assert.match(err.text(), /^\/nonexistent\/ha-agent\.yaml: error: \(file\): cannot read \/nonexistent\/ha-agent\.yaml: no such file — fix: /);
  });
});

// ---------------------------------------------------------------------------------------------
// helpers: did-you-mean, paths
// ---------------------------------------------------------------------------------------------

describe('did-you-mean and paths', () => {
  test('editDistance counts adjacent swaps as one edit', () => {
    assert.equal(editDistance('prioirty', 'priority'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('same', 'same'), 0);
  });

  test('didYouMean ignores case, _ and -; refuses far-off words', () => {
    assert.equal(didYouMean('advert_interval', ['vrid', 'advertInterval']), 'advertInterval');
    assert.equal(didYouMean('PRIORITY', ['priority']), 'priority');
    assert.equal(didYouMean('intrface', ['interface', 'vrid']), 'interface');
    assert.equal(didYouMean('banana', ['vrid', 'vips', 'interface']), undefined);
    assert.equal(didYouMean('', ['vrid']), undefined);
  });

  test('formatPath', () => {
    assert.equal(formatPath(['instances', 'VI_1', 'vips', 2]), 'instances.VI_1.vips[2]');
    assert.equal(formatPath(['instances', 'a.b', 'vrid']), 'instances["a.b"].vrid');
    assert.equal(formatPath([]), '(root)');
  });
});

// ---------------------------------------------------------------------------------------------
// fuzzing: parseConfig never throws, and its result is always well-formed
// ---------------------------------------------------------------------------------------------

function wellFormed(r: ParseResult): void {
  assert.ok(Array.isArray(r.warnings));
  if (r.ok) {
    assert.ok(Object.keys(r.config.instances).length >= 1);
    for (const inst of Object.values(r.config.instances)) for (const v of inst.vips) assert.match(v, /^\d+\.\d+\.\d+\.\d+\/\d+$/);
  } else {
    assert.ok(r.errors.length >= 1);
    for (const e of [...r.errors, ...r.warnings]) {
      assert.equal(typeof e.path, 'string');
      assert.ok(e.message.length > 0 && e.fix.length > 0, JSON.stringify(e));
      assert.doesNotThrow(() => formatIssue(e));
    }
  }
}

describe('fuzz', () => {
  test('arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => wellFormed(parseConfig(s))),
      { numRuns: 500 },
    );
  });

  test('arbitrary YAML-ish lines', () => {
    const token = fc.constantFrom('instances:', '  VI_1:', '    vrid: 1', '    vips: [198.51.100.1]', '- a', '{', '}', '[', ': x', '&a', '*a', '<<: *a', '!!int x', '"', "'", '\t', '#c', '---', '...', '? k');
    fc.assert(
      fc.property(fc.array(token, { maxLength: 12 }), (lines) => wellFormed(parseConfig(lines.join('\n')))),
      { numRuns: 500 },
    );
  });

  test('arbitrary JSON-ish objects dumped to YAML', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => wellFormed(parseConfig(stringify(v)))),
      { numRuns: 300 },
    );
  });

  test('a valid config with one instance field replaced by anything', () => {
    const keys = ['interface', 'vrid', 'priority', 'version', 'advertInterval', 'preempt', 'preemptDelay', 'unicast', 'auth', 'vips', 'provider', 'garp', 'lowerPrioNoAdvert', 'v3ChecksumAsV2', 'extra', '__proto__', 'constructor'];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 }), (key, value) => {
        const inst: Obj = { ...base() };
        Object.defineProperty(inst, key, { value, enumerable: true, configurable: true, writable: true });
        wellFormed(parseConfig(stringify({ instances: { VI_1: inst } })));
      }),
      { numRuns: 500 },
    );
  });

  test('structured random instances: ok results always satisfy the rules', () => {
    const instArb = fc.record(
      {
        interface: fc.constantFrom('eth0', 'eth1'),
        vrid: fc.integer({ min: -1, max: 257 }),
        version: fc.constantFrom(2, 3, 4),
        advertInterval: fc.constantFrom(0, 0.01, 0.5, 1, 1.5, 40.95, 41, 255),
        auth: fc.constantFrom(undefined, { type: 'pass', password: 'secret' }),
        unicast: fc.constantFrom(undefined, { peers: ['198.51.100.2'] }, { peers: ['198.51.100.3'] }),
        vips: fc.constantFrom(['198.51.100.10'], ['198.51.100.11/24'], ['198.51.100.2/24'], []),
      },
      { requiredKeys: ['interface', 'vrid', 'vips'] },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('A', 'B', 'C'), instArb, { minKeys: 1 }), (instances) => {
        const r = parseConfig(stringify({ instances }));
        wellFormed(r);
        if (!r.ok) return;
        const list = Object.values(r.config.instances);
        for (const i of list) {
          assert.ok(i.vrid !== undefined && i.vrid >= 1 && i.vrid <= 255);
          if (i.version === 2) assert.ok(Number.isInteger(i.advertInterval));
          else assert.ok(i.advertInterval <= 40.95);
          if (i.auth) assert.equal(i.version, 2);
          for (const v of i.vips) assert.ok(!i.unicast?.peers.includes(vipAddress(v)) && i.unicast?.source !== vipAddress(v), 'a VIP is never a node address');
        }
        for (let a = 0; a < list.length; a++) {
          for (let b = a + 1; b < list.length; b++) {
            const x = list[a]!;
            const y = list[b]!;
            if (x.interface === y.interface && x.vrid === y.vrid) {
              assert.ok(x.unicast && y.unicast && !x.unicast.peers.some((p) => y.unicast!.peers.includes(p)));
            }
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

// Found by `npm run fuzz` (bench/fuzz/config.ts): an alias to one of its own ancestors made toJS
// return a circular object, and the loader's walks overflowed the stack ("could not be checked …
// this is a bug in ha-agent"). Now it is an error at the alias's path.
describe('a YAML alias that contains itself', () => {
  for (const [yaml, path, line] of [
    ['a: &a\n  b: *a\n', 'a.b', 2],
    ['instances:\n  VI_1: &x\n    vrid: 1\n    vips: [*x]\n', 'instances.VI_1.vips[0]', 4],
  ] as const) {
    test(`${JSON.stringify(yaml)} → error at ${path}`, () => {
      const r = parseConfig(yaml);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]!.path, path);
      assert.match(r.errors[0]!.message, /alias .* contains it/);
      assert.doesNotMatch(formatIssue(r.errors[0]!), /bug in ha-agent/);
      assert.equal(issuePosition(r.errors[0]!)?.line, line);
    });
  }
});

// Found by `npm run fuzz`: thousands of nested [ made the YAML parser run out of stack, reported as a
// bare "Maximum call stack size exceeded" with the generic indentation fix.
test('YAML nested thousands deep: a (yaml) error that says so, with a fix about unclosed brackets', () => {
  const r = parseConfig(`instances:\n  VI_1:\n    vips: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.errors[0]!.path, '(yaml)');
  assert.match(r.errors[0]!.message, /^line 3, column \d+: nested too deeply for the YAML parser$/);
  assert.match(r.errors[0]!.fix, /\[ or \{/);
});

// Found by `npm run fuzz`: a mapping used as a key ("? {level: debug}") made the YAML library print
// a node warning ("Keys with collection values will be stringified…") on check-config's stderr.
test('a key that is a mapping or a list: an error at its mapping, and nothing printed by the YAML library', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    for (const [yaml, path] of [
      ['log:\n  ? {level: debug}\n  : 1\n', 'log'],
      ['instances:\n  VI_1:\n    [vrid]: 5\n', 'instances.VI_1'],
      ['? [a, b]\n: 1\n', '(root)'],
    ] as const) {
      const r = parseConfig(yaml);
      assert.equal(r.ok, false, yaml);
      if (r.ok) continue;
      assert.equal(r.errors[0]!.path, path, yaml);
      assert.match(r.errors[0]!.message, /has a key that is a (mapping|list)/);
      assert.ok(issuePosition(r.errors[0]!), 'positioned');
    }
    await new Promise((resolve) => setImmediate(resolve)); // process.emitWarning emits on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings, []);
});

// Found by `npm run fuzz` (10⁴ configs): YAML the parser accepts but nested a thousand levels deep
// ("- - - - …") overflowed the stack in the checks after parsing ("could not be checked … a bug").
test('a config nested more than 64 levels deep: an error at the path where it gets too deep', () => {
  const r = parseConfig(`instances:\n  VI_1:\n    vips:\n      ${'- '.repeat(1500)}1\n`);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!.path, /^instances\.VI_1\.vips(\[0\]){62}$/);
  assert.equal(r.errors[0]!.message, 'nests more than 64 levels deep');
  assert.doesNotMatch(formatIssue(r.errors[0]!), /bug in ha-agent/);
  assert.equal(parseConfig(`a:\n  ${'- '.repeat(20)}1\n`).ok, false, 'shallower nesting is an ordinary error');
  const shallow = parseConfig(`a:\n  ${'- '.repeat(20)}1\n`);
  assert.ok(!shallow.ok && !shallow.errors.some((e) => /levels deep/.test(e.message)));
});
