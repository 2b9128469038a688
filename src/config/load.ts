// Loads a YAML config: YAML text → plain data → ConfigSchema → typed Config, or every problem at
// once (with path, what was received and a fix). Never throws; a bad file yields no config at all.
// Warnings (legal but surprising settings) come back in both cases.
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type YAMLError } from 'yaml';
import { ConfigSchema, MANY_VIPS, MAX_VIPS, truncatePassword, type Config } from './schema.js';
import { formatPath, issuesFromZod, type ConfigIssue, type LocatedIssue, type PathSegment } from './errors.js';
import { readEnvSource } from './source.js';

export { formatIssue, type ConfigIssue } from './errors.js';

export type ParseResult =
  | { ok: true; config: Config; warnings: ConfigIssue[] }
  | { ok: false; errors: ConfigIssue[]; warnings: ConfigIssue[] };

export interface IssuePosition {
  line: number;
  column: number;
}

/** Where each issue returned by parseConfig points in the YAML text (1-based), when known. */
const positions = new WeakMap<ConfigIssue, IssuePosition>();

/** Line and column (1-based) of an issue returned by parseConfig/loadConfigFile, when known. */
export function issuePosition(issue: ConfigIssue): IssuePosition | undefined {
  return positions.get(issue);
}

/** Larger than any sensible config: probably the wrong file. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export function parseConfig(yamlText: string): ParseResult {
  try {
    return parseOrReport(yamlText);
  } catch (err) {
    const issue = {
      path: '(root)',
      message: `could not be checked: ${err instanceof Error ? err.message : String(err)}`,
      fix: 'this is a bug in ha-agent: please report it together with the config file (passwords removed)',
    };
    return { ok: false, errors: [issue], warnings: [] };
  }
}

/** `file` is a path, or "env:NAME" for the YAML in that environment variable (config/source.ts). */
export async function loadConfigFile(file: string): Promise<ParseResult> {
  const fromEnv = readEnvSource(file);
  if (fromEnv) return 'issue' in fromEnv ? { ok: false, errors: [fromEnv.issue], warnings: [] } : parseConfig(fromEnv.text);
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_CONFIG_BYTES) {
      const issue = { path: '(file)', message: `${file} is ${bytes.length} bytes, more than any config needs`, fix: 'check that --config names the YAML config file' };
      return { ok: false, errors: [issue], warnings: [] };
    }
    text = bytes.toString('utf8');
  } catch (err) {
    return { ok: false, errors: [fileIssue(file, err)], warnings: [] };
  }
  return parseConfig(text);
}

function fileIssue(file: string, err: unknown): ConfigIssue {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return { path: '(file)', message: `cannot read ${file}: no such file`, fix: 'check the path given to --config, or create the file from config.example.yaml' };
    case 'EACCES':
    case 'EPERM':
      return { path: '(file)', message: `cannot read ${file}: permission denied`, fix: 'run as a user that can read it, or fix its owner/permissions (chown, chmod)' };
    case 'EISDIR':
      return { path: '(file)', message: `cannot read ${file}: it is a directory`, fix: 'pass the YAML file itself, e.g. --config /etc/ha-agent/config.yaml' };
    default:
      return { path: '(file)', message: `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, fix: 'check the path given to --config and that the file is readable' };
  }
}

// ---------------------------------------------------------------------------------------------

function parseOrReport(text: string): ParseResult {
  const lines = new LineCounter();
  let doc: Document;
  try {
    // logLevel 'error': the parser must not print its own warnings on stderr (process.emitWarning).
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true, logLevel: 'error' });
  } catch (err) {
    // Its lexer/parser recurse per nesting level; thousands of levels throw instead of reporting.
    if (!(err instanceof RangeError)) throw err;
    return { ok: false, errors: [{ path: '(yaml)', message: 'nested too deeply for the YAML parser', fix: YAML_FIXES.RESOURCE_EXHAUSTION! }], warnings: [] };
  }
  const firstError = doc.errors[0];
  if (firstError) return { ok: false, errors: [yamlIssue(firstError, lines, text)], warnings: [] };
  const deep = tooDeep(doc.contents);
  if (deep) {
    const issue = {
      path: formatPath(deep),
      message: `nests more than ${MAX_DEPTH} levels deep`,
      fix: YAML_FIXES.RESOURCE_EXHAUSTION!,
    };
    const pos = positionOf(doc, lines, deep);
    if (pos) positions.set(issue, pos);
    return { ok: false, errors: [issue], warnings: [] };
  }
  const complex = collectionKey(doc.contents, []);
  if (complex) {
    const issue = {
      path: formatPath(complex.at),
      message: `has a key that is a ${isMap(complex.key) ? 'mapping' : 'list'} (${String(complex.key).slice(0, 60).replace(/\s+/g, ' ')}): YAML allows it, a config does not`,
      fix: 'write every key as a plain word followed by ": " (a "? " at the start of a line makes the next value a key)',
    };
    const r = (complex.key as { range?: [number, number, number] }).range;
    if (r) positions.set(issue, { line: lines.linePos(r[0]).line, column: lines.linePos(r[0]).col });
    return { ok: false, errors: [issue], warnings: [] };
  }

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const issue = { path: '(yaml)', message: err instanceof Error ? err.message : String(err), fix: 'expand the YAML aliases (*name) into plain values' };
    return { ok: false, errors: [issue], warnings: [] };
  }

  const cycle = aliasCycle(raw, []);
  if (cycle) {
    const at = cycle;
    const issue = { path: formatPath(at), message: 'is an alias (*name) of a node that contains it: the value would be infinitely deep', fix: 'replace the alias with a plain value, or point it at a node outside this one' };
    const pos = positionOf(doc, lines, at);
    if (pos) positions.set(issue, pos);
    return { ok: false, errors: [issue], warnings: [] };
  }

  const locate = (li: LocatedIssue): ConfigIssue => {
    const pos = positionOf(doc, lines, li.at);
    if (pos) positions.set(li.issue, pos);
    return li.issue;
  };
  const warnings = [...yamlWarnings(doc, lines), ...collectWarnings(raw).map(locate)];

  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const located = [...protoKeyIssues(raw, []), ...issuesFromZod(result.error.issues, raw)];
    const errors = sortByPosition(located.map(locate));
    if (looksLikeKeepalivedConf(text)) errors.forEach((e) => e.path === '(root)' && (e.fix = KEEPALIVED_CONF_FIX));
    return { ok: false, errors, warnings };
  }
  const protoIssues = protoKeyIssues(raw, []);
  if (protoIssues.length > 0) return { ok: false, errors: protoIssues.map(locate), warnings };
  return { ok: true, config: result.data, warnings };
}

/** There is no importer yet: say how to translate by hand (the did-you-mean knows keepalived's keywords). */
const KEEPALIVED_CONF_FIX =
  'this looks like a keepalived.conf; this file is YAML: translate it by hand, starting from config.example.yaml — each ' +
  'vrrp_instance NAME { … } becomes an entry NAME: under instances:, and each keyword becomes a key ' +
  '(virtual_router_id → vrid, advert_int → advertInterval, virtual_ipaddress → vips, unicast_peer → unicast.peers, ' +
  'nopreempt → preempt: false); check-config names the key for any keepalived keyword left in. ' +
  'An automatic importer is planned but not available yet';

function looksLikeKeepalivedConf(text: string): boolean {
  return /^\s*(vrrp_instance|global_defs|vrrp_sync_group|virtual_server)\b[^\n]*\{/m.test(text);
}

function yamlIssue(err: YAMLError, lines: LineCounter, text: string): ConfigIssue {
  const { line, col } = lines.linePos(err.pos[0]);
  const first = err.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? err.code;
  // The parser ran out of stack (nesting thousands deep): say what that means, not the JS error.
  const reason = err.code === 'RESOURCE_EXHAUSTION' ? 'nested too deeply for the YAML parser' : first;
  const issue = { path: '(yaml)', message: `line ${line}, column ${col}: ${reason}`, fix: YAML_FIXES[err.code] ?? YAML_DEFAULT_FIX };
  if (looksLikeKeepalivedConf(text)) issue.fix = KEEPALIVED_CONF_FIX;
  positions.set(issue, { line, column: col });
  return issue;
}

const YAML_DEFAULT_FIX = 'check indentation and quoting near this position (quote values that contain ": " or " #")';

const YAML_FIXES: Readonly<Record<string, string>> = {
  DUPLICATE_KEY: 'remove or rename one of the two keys: YAML would silently keep only one of them',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  BAD_INDENT: 'indent keys of the same mapping by the same number of spaces, and close every [ or {',
  MULTIPLE_DOCS: 'keep one YAML document per file (remove the extra ---)',
  MISSING_CHAR: 'close every [ { and quote that was opened',
  BLOCK_AS_IMPLICIT_KEY: 'put a space after the colon and check the indentation of the line above',
  MULTILINE_IMPLICIT_KEY: 'put each key: value on its own line, with a space after the colon',
  RESOURCE_EXHAUSTION: 'a config is only a few levels deep: look for a run of "- ", [ or { (or of indentation) that never ends near this position',
};

function yamlWarnings(doc: Document, lines: LineCounter): ConfigIssue[] {
  return doc.warnings.map((w) => {
    const { line, col } = lines.linePos(w.pos[0]);
    const issue = { path: '(yaml)', message: `line ${line}, column ${col}: ${w.message.split('\n')[0] ?? w.code}`, fix: 'remove the YAML tag (!…); plain values are enough' };
    positions.set(issue, { line, column: col });
    return issue;
  });
}

/** Deeper than any config (a handful of levels); the recursive checks below and toJS would run out of stack. */
const MAX_DEPTH = 64;

/** The path of the first node nested deeper than MAX_DEPTH, or null. Iterative: depth costs no stack. */
function tooDeep(root: unknown): PathSegment[] | null {
  const todo: [unknown, PathSegment[]][] = [[root, []]];
  while (todo.length > 0) {
    const [node, at] = todo.pop()!;
    if (at.length > MAX_DEPTH) return at;
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        todo.push([pair.value, [...at, key]]);
        if (isMap(pair.key) || isSeq(pair.key)) todo.push([pair.key, [...at, key]]);
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => todo.push([item, [...at, i]]));
  }
  return null;
}

/** The first mapping key that is itself a mapping or a list (`? {a: 1}` or `[a]: 1`), with the path of its mapping. */
function collectionKey(node: unknown, at: PathSegment[]): { at: PathSegment[]; key: unknown } | null {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (isMap(pair.key) || isSeq(pair.key)) return { at, key: pair.key };
      const found = collectionKey(pair.value, [...at, isScalar(pair.key) ? String(pair.key.value) : String(pair.key)]);
      if (found) return found;
    }
  } else if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      const found = collectionKey(node.items[i], [...at, i]);
      if (found) return found;
    }
  }
  return null;
}

/**
 * The path of the first value that contains itself (a YAML alias to one of its own ancestors, e.g.
 * `a: &a { b: *a }`: toJS makes it a circular object, which every later walk would follow forever),
 * or null.
 */
function aliasCycle(value: unknown, at: PathSegment[], ancestors = new Set<object>()): PathSegment[] | null {
  if (value === null || typeof value !== 'object') return null;
  if (ancestors.has(value)) return at;
  ancestors.add(value);
  for (const key of Object.keys(value)) {
    const here = Array.isArray(value) ? [...at, Number(key)] : [...at, key];
    const found = aliasCycle((value as Record<string, unknown>)[key], here, ancestors);
    if (found) return found;
  }
  ancestors.delete(value);
  return null;
}

/** A key named __proto__ would vanish silently in JavaScript objects: refuse it. */
function protoKeyIssues(value: unknown, at: PathSegment[]): LocatedIssue[] {
  if (value === null || typeof value !== 'object') return [];
  const out: LocatedIssue[] = [];
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    const here = Array.isArray(value) ? [...at, Number(key)] : [...at, key];
    if (key === '__proto__') {
      out.push({ issue: { path: formatPath(here), message: 'unknown key "__proto__"', fix: 'remove it' }, at: here });
    } else out.push(...protoKeyIssues(child, here));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Warnings: legal settings that do not do what they seem to
// ---------------------------------------------------------------------------------------------

function collectWarnings(raw: unknown): LocatedIssue[] {
  const out: LocatedIssue[] = [];
  const instances = objectAt(raw, 'instances');
  if (!instances) return out;
  for (const [name, value] of Object.entries(instances)) {
    const inst = objectAt({ value }, 'value');
    if (!inst) continue;
    const at = (...rest: PathSegment[]) => ['instances', name, ...rest];
    const warn = (path: PathSegment[], message: string, fix: string) => out.push({ issue: { path: formatPath(path), message, fix }, at: path });

    if (inst['preempt'] === false && typeof inst['preemptDelay'] === 'number') {
      warn(at('preemptDelay'), `has no effect because preempt is false`, 'remove preemptDelay, or set preempt: true');
    }
    if (inst['priority'] === 255 && inst['preempt'] === false) {
      warn(at('preempt'), 'is ignored: priority 255 marks the address owner, which always preempts', 'remove preempt: false, or use a priority below 255');
    }
    const vips = inst['vips'];
    if (Array.isArray(vips) && vips.length > MANY_VIPS && vips.length <= MAX_VIPS) {
      warn(
        at('vips'),
        `lists ${vips.length} VIPs; each one is a separate address add when this node takes over, so the takeover (and the first gratuitous ARPs) takes longer`,
        `fine if every node really needs them all (keepalived requires the same VIP set in every advert, so the set cannot be split across instances); otherwise list fewer (up to ${MANY_VIPS} without this warning)`,
      );
    }
    const providerType = objectAt(inst, 'provider')?.['type'];
    const leaseElection = objectAt(inst, 'election')?.['type'] === 'etcd'; // no adverts at all
    if ((providerType === 'aws' || providerType === 'alibaba') && inst['unicast'] === undefined && !leaseElection) {
      warn(
        at('unicast'),
        `is not set, so adverts go to multicast 224.0.0.18, which a cloud VPC does not carry: every node would become MASTER and fight over the VIP`,
        `add unicast: { peers: [<the other nodes' addresses>] } on every node (\`ha-agent provider test ${providerType}\` checks it too)`,
      );
    }
    const password = objectAt(inst, 'auth')?.['password'];
    if (typeof password === 'string') {
      const bytes = Buffer.byteLength(password);
      if (bytes > 8 && Buffer.byteLength(truncatePassword(password)) === 8) {
        warn(
          at('auth', 'password'),
          `is ${bytes} bytes long; only the first 8 are used (keepalived truncates auth_pass the same way)`,
          'shorten it to 8 characters on every node, so the file says what is really used',
        );
      }
    }
  }
  return out;
}

function objectAt(value: unknown, key: string): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = Object.prototype.hasOwnProperty.call(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Positions
// ---------------------------------------------------------------------------------------------

/** Line/column of the deepest YAML node on `path` (the key itself for mappings). */
function positionOf(doc: Document, lines: LineCounter, path: readonly PathSegment[]): IssuePosition | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = rangeStart(node);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else break;
  }
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range?.[0];
}

function sortByPosition(issues: ConfigIssue[]): ConfigIssue[] {
  const key = (i: ConfigIssue) => {
    const p = positions.get(i);
    return p ? p.line * 1e6 + p.column : Number.MAX_SAFE_INTEGER;
  };
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => key(a.issue) - key(b.issue) || a.index - b.index)
    .map((x) => x.issue);
}
