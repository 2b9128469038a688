#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's own test runner, one file at a
// time: the network-namespace suites measure real timers and must not compete for the two cores.
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern=interop).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const only = process.env.TEST_ONLY; // substring filter on file paths, for development
const files = collect('dist/test').filter((f) => !only || f.includes(only));
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/test (did the build run?)');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...process.argv.slice(2), ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
