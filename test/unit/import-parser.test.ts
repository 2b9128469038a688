// The keepalived.conf reader (src/import/keepalived-parser.ts): keepalived's lexical rules (comments,
// quotes, braces glued to words, line continuation, $parameters), include with globs and braces
// resolved against the including file's directory (keepalived chdir()s there), and malformed input
// reported with file:line, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandBraces, KeepalivedSyntaxError, parseKeepalivedFile, type KaStatement } from '../../src/import/keepalived-parser.js';

const dir = mkdtempSync(join(tmpdir(), 'ha-import-parser-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function write(rel: string, text: string): string {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** "keyword args… @line" per statement, nested blocks indented: easy to compare. */
function dump(sts: KaStatement[], indent = ''): string[] {
  return sts.flatMap((s) => [`${indent}${[s.keyword, ...s.args].join(' ')} @${s.at.file}:${s.at.line}`, ...(s.block ? dump(s.block, indent + '  ') : [])]);
}

test('comments, quotes, glued braces, one-line blocks, continuation and $parameters', () => {
  const f = write(
    'lex/keepalived.conf',
    [
      '! a comment line',
      '$NET=198.51.100   # a parameter',
      'vrrp_script chk{',
      '  script "/usr/bin/curl -sf http://127.0.0.1/#frag"  # quoted # is not a comment',
      '  weight -5 ! bang comment',
      '}',
      'vrrp_instance VI_1',
      '{',
      '  virtual_ipaddress { ${NET}.10/24 dev eth0 }',
      '  unicast_peer {',
      '    $NET.2',
      '  }',
      '  notify_master /etc/k/a\\#b.sh',
      '  priority \\',
      '    150',
      '}',
    ].join('\n'),
  );
  const p = parseKeepalivedFile(f);
  assert.deepEqual(dump(p.statements), [
    'vrrp_script chk @keepalived.conf:3',
    '  script /usr/bin/curl -sf http://127.0.0.1/#frag @keepalived.conf:4',
    '  weight -5 @keepalived.conf:5',
    'vrrp_instance VI_1 @keepalived.conf:7',
    '  virtual_ipaddress @keepalived.conf:9',
    '    198.51.100.10/24 dev eth0 @keepalived.conf:9',
    '  unicast_peer @keepalived.conf:10',
    '    198.51.100.2 @keepalived.conf:11',
    '  notify_master /etc/k/a#b.sh @keepalived.conf:13',
    '  priority 150 @keepalived.conf:14',
  ]);
  assert.deepEqual(p.files, ['keepalived.conf']);
});

test('include: globs in sorted order, {a,b} braces, relative to the including file, inside blocks', () => {
  const main = write('inc/keepalived.conf', 'global_defs {\n  router_id x\n}\ninclude conf.d/*.conf\ninclude /nonexistent-dir-for-test/*.conf\n');
  write('inc/conf.d/20-b.conf', 'vrrp_instance B {\n  include ../parts/{one,two}.inc\n}\n');
  write('inc/conf.d/10-a.conf', 'vrrp_instance A {\n  priority 1\n}\n');
  write('inc/conf.d/skip.txt', 'not read {\n');
  writeFileSync(join(dir, 'inc/conf.d/30-exec.conf'), 'not read either {\n', { mode: 0o755 });
  write('inc/parts/one.inc', 'priority 2\n');
  write('inc/parts/two.inc', 'virtual_ipaddress {\n  198.51.100.3\n}\n');
  const p = parseKeepalivedFile(main);
  assert.deepEqual(dump(p.statements), [
    'global_defs @keepalived.conf:1',
    '  router_id x @keepalived.conf:2',
    'vrrp_instance A @conf.d/10-a.conf:1',
    '  priority 1 @conf.d/10-a.conf:2',
    'vrrp_instance B @conf.d/20-b.conf:1',
    '  priority 2 @parts/one.inc:1',
    '  virtual_ipaddress @parts/two.inc:1',
    '    198.51.100.3 @parts/two.inc:2',
  ]);
  assert.deepEqual(p.files, ['keepalived.conf', 'conf.d/10-a.conf', 'conf.d/20-b.conf', 'parts/one.inc', 'parts/two.inc']);
  assert.deepEqual(
    p.notes.map((n) => `${n.at.file}:${n.at.line} ${n.keyword} ${n.unmapped}`),
    ['keepalived.conf:4 include false', 'keepalived.conf:5 include false'],
    'an include matching nothing is a note (keepalived only logs it)',
  );
});

test('brace expansion follows glob(3): nested, and a single alternative stays literal', () => {
  assert.deepEqual(expandBraces('a{b,c{d,e}}f'), ['abf', 'acdf', 'acef']);
  assert.deepEqual(expandBraces('x{y}z'), ['x{y}z']);
});

function syntaxError(text: string, name = 'bad.conf'): string {
  const f = write(`bad/${name}`, text);
  try {
    parseKeepalivedFile(f);
  } catch (e) {
    assert.ok(e instanceof KeepalivedSyntaxError, `a KeepalivedSyntaxError, not ${String(e)}`);
    return e.message;
  }
  assert.fail('no error');
}

test('malformed input: every error names the file and line', () => {
  assert.equal(syntaxError('vrrp_instance VI_1 {\n  priority 1\n'), 'bad.conf:1: block `vrrp_instance VI_1` is never closed: a `}` is missing (the file ends at bad.conf:2)');
  assert.equal(syntaxError('global_defs {\n}\n}\n'), 'bad.conf:3: extra `}`: no block is open here');
  assert.equal(syntaxError('{\n'), 'bad.conf:1: `{` with no keyword before it');
  assert.equal(
    syntaxError('vrrp_instance VI_1 {\n  interface eth0\n}\n  advert_int 1\n'),
    'bad.conf:4: `advert_int` is outside its block: it belongs in a vrrp_instance block, not at the top level (is the `}` at bad.conf:3 one too many, or a `{` missing?)',
  );
  assert.equal(
    syntaxError('global_defs {\n  router_id a\nvrrp_instance VI_1 {\n}\n'),
    'bad.conf:3: `vrrp_instance` is inside the `global_defs` block opened at bad.conf:1: it belongs at the top level (is that block\'s `}` missing?)',
  );
  assert.equal(syntaxError('vrrp_script x {\n  script "/bin/true\n}\n'), 'bad.conf:2: unterminated quote: a " is not closed on this line');
  const loop = write('bad/loop.conf', 'include loop.conf\n');
  assert.throws(() => parseKeepalivedFile(loop), /loop\.conf:1: include loop: loop\.conf includes itself/);
  assert.throws(() => parseKeepalivedFile(join(dir, 'bad', 'missing.conf')), (e: Error) => e instanceof KeepalivedSyntaxError && /cannot read .*missing\.conf: no such file/.test(e.message));
});

test('any text: the importer either maps it or reports a KeepalivedSyntaxError, never anything else', async () => {
  const fc = (await import('fast-check')).default;
  const { mapKeepalived } = await import('../../src/import/keepalived-map.js');
  const words = ['{', '}', '"', '#', '!', '\\', '\n', ' ', 'vrrp_instance', 'VI_1', 'global_defs', 'vrrp_script', 'chk', 'script', 'track_script', 'weight', '-10', 'reverse',
    'virtual_ipaddress', '198.51.100.7/24', '198.51.100.1-3', 'dev', 'eth0', 'label', 'interface', 'priority', '255', 'state', 'MASTER', 'nopreempt', 'unicast_peer', 'authentication',
    'auth_type', 'PASS', 'auth_pass', 'vrrp_sync_group', 'group', 'virtual_routes', 'via', 'default', 'src', 'notify_master', '/bin/true', 'include', '$X=1', '$X', '@id', 'virtual_server',
    'track_interface', 'track_file', 'vrrp_track_file', 'file', 'version', '3', 'advert_int', 'garp_master_delay', 'x'];
  const f = join(dir, 'fuzz.conf');
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...words), { maxLength: 60 }), (ws) => {
      writeFileSync(f, ws.join(' '));
      try {
        mapKeepalived(parseKeepalivedFile(f), { findProgram: () => null });
      } catch (e) {
        if (!(e instanceof KeepalivedSyntaxError)) throw e;
        assert.match(e.message, /^[^\s:]+(:\d+)?: \S/, 'the error names the file (and line)');
      }
    }),
    { numRuns: 400 },
  );
});
