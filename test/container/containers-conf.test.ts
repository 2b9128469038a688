// The containers.conf edit the container test makes (test/container/image.ts): only runtime and
// default_ulimits are set, everything else in an existing file stays, and a second run changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureContainersConf, setTomlKey } from './image.js';

test('setTomlKey: replaces the key in its section, adds it under an existing header, or appends the section', () => {
  const text = '# mine\n[containers]\nlog_size_max = 100\n\n[engine]\nruntime = "crun"\nevents_logger = "file"\n';
  assert.equal(setTomlKey(text, 'engine', 'runtime', '"runc"'), text.replace('"crun"', '"runc"'));
  assert.equal(setTomlKey(text, 'containers', 'pids_limit', '0'), text.replace('[containers]\n', '[containers]\npids_limit = 0\n'));
  assert.equal(setTomlKey('[network]\nx = 1\n', 'engine', 'runtime', '"runc"'), '[network]\nx = 1\n\n[engine]\nruntime = "runc"\n');
  assert.equal(setTomlKey('', 'engine', 'runtime', '"runc"'), '[engine]\nruntime = "runc"\n');
  // A key of the same name in another section is left alone.
  assert.equal(setTomlKey('[a]\nruntime = 1\n[engine]\n', 'engine', 'runtime', '2'), '[a]\nruntime = 1\n[engine]\nruntime = 2\n');
});

test('ensureContainersConf: keeps the rest of an existing file; idempotent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-conf-'));
  try {
    const path = join(dir, 'containers.conf');
    writeFileSync(path, '[containers]\nlog_size_max = 100\ndefault_ulimits = ["nofile=1024:1024"]\n\n[engine]\ncgroup_manager = "cgroupfs"\n');
    assert.equal(ensureContainersConf(path), true);
    const text = readFileSync(path, 'utf8');
    assert.match(text, /^log_size_max = 100$/m);
    assert.match(text, /^cgroup_manager = "cgroupfs"$/m);
    assert.match(text, /^\[engine\]\nruntime = "runc"$/m);
    assert.match(text, /^default_ulimits = \["nofile=20000:20000", "nproc=32768:32768"\]$/m);
    assert.doesNotMatch(text, /nofile=1024/);
    assert.equal(ensureContainersConf(path), false, 'the second run changes nothing');
    assert.equal(readFileSync(path, 'utf8'), text);
    const fresh = join(dir, 'sub', 'containers.conf');
    assert.equal(ensureContainersConf(fresh), true);
    assert.match(readFileSync(fresh, 'utf8'), /\[engine\]\nruntime = "runc"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
