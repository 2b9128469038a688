// keepalived.conf → a tree of statements with their file and line, read the way keepalived's own
// parser (lib/parser.c) reads it. Contract:
// - Comments start at an unquoted `#` or `!` (`\#`, `\!` escape them); a trailing `\` joins the next
//   line; words are split on blanks, "double quoted" text is one word (quotes removed); `{` and `}`
//   outside quotes are words of their own wherever they appear.
// - A statement is the words of a line up to `{`, `}` or the line's end; a `{` right after a statement
//   (same or next line) opens that statement's block; `}` closes the innermost block.
// - `include PATTERN` (also includer/includem/includew/includeb/includea) is replaced by the files it
//   matches, in sorted order, anywhere (even inside a block). A relative pattern is resolved against
//   the directory of the file that contains the include line: keepalived chdir()s into the directory
//   of each file it opens. Globs: * ? [..] and {a,b} (GLOB_BRACE). No match: nothing (keepalived only
//   logs it), reported as a note; an executable file is skipped, as keepalived does.
// - `$NAME=value` defines a parameter and `$NAME` / `${NAME}` is replaced by it in later lines;
//   `@id` / `@^id` lines (config ids) are reported and skipped.
// - Malformed input (an unclosed block, an extra `}`, a block keyword at the top level, an
//   unterminated quote, an unreadable or recursive include) throws KeepalivedSyntaxError naming the file and line, never anything else.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { misplacedIn } from './keepalived-advice.js';

/** Where a statement comes from: the file as shown to the user (see displayName) and its 1-based line. */
export interface Where {
  file: string;
  line: number;
}

export interface KaStatement {
  keyword: string;
  args: string[];
  at: Where;
  /** The statements inside `{ … }`, when the statement has a block. */
  block?: KaStatement[];
}

/** Something the parser skipped or could not follow, for the importer's report. */
export interface ParseNote {
  at: Where;
  keyword: string;
  text: string;
  /** true: something of the config was not carried over (an unmapped line); false: a remark. */
  unmapped: boolean;
}

export interface ParsedConf {
  statements: KaStatement[];
  notes: ParseNote[];
  /** Every file read, as display names, in order. */
  files: string[];
}

export class KeepalivedSyntaxError extends Error {
  constructor(
    readonly at: Where,
    readonly problem: string,
  ) {
    super(`${at.line > 0 ? `${at.file}:${at.line}` : at.file}: ${problem}`);
    this.name = 'KeepalivedSyntaxError';
  }
}

/** keepalived's MAXBUF-ish guard against runaway includes. */
const MAX_INCLUDE_DEPTH = 32;

interface Line {
  words: string[];
  at: Where;
}

/** Parses the file at `path` and everything it includes. */
export function parseKeepalivedFile(path: string): ParsedConf {
  const main = resolve(path);
  const baseDir = dirname(main);
  const displayName = (abs: string): string => {
    const rel = relative(baseDir, abs);
    return rel.startsWith('..') ? abs : rel;
  };
  const notes: ParseNote[] = [];
  const files: string[] = [];
  const params = new Map<string, string>();
  const lines: Line[] = [];

  const readOne = (abs: string, stack: string[], from: Where | undefined): void => {
    const shown = displayName(abs);
    if (stack.includes(abs)) throw new KeepalivedSyntaxError(from ?? { file: shown, line: 0 }, `include loop: ${shown} includes itself (through ${stack.map(displayName).join(' → ')})`);
    if (stack.length >= MAX_INCLUDE_DEPTH) throw new KeepalivedSyntaxError(from ?? { file: shown, line: 0 }, `includes nested more than ${MAX_INCLUDE_DEPTH} deep`);
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
      if (!from) throw new KeepalivedSyntaxError({ file: shown, line: 0 }, `cannot read ${path}: ${why}`);
      throw new KeepalivedSyntaxError(from, `cannot read included file ${shown}: ${why}`);
    }
    files.push(shown);
    const raw = text.split(/\r?\n/);
    for (let i = 0; i < raw.length; i++) {
      const at: Where = { file: shown, line: i + 1 };
      let line = raw[i] ?? '';
      // A trailing backslash (outside a comment) continues the statement on the next line.
      let body = decomment(line, at);
      while (body.endsWith('\\') && i + 1 < raw.length) {
        i++;
        line = raw[i] ?? '';
        body = body.slice(0, -1) + ' ' + decomment(line, { file: shown, line: i + 1 });
      }
      if (body.endsWith('\\')) body = body.slice(0, -1).trimEnd();
      if (body === '') continue;
      const def = /^\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(body);
      if (def) {
        params.set(def[1]!, def[2]!);
        continue;
      }
      if (params.size > 0 && body.includes('$')) body = substitute(body, params);
      if (body.startsWith('@')) {
        notes.push({ at, keyword: body.split(/\s+/)[0]!, text: 'config-id conditional line (@id): ha-agent has no config ids; import the file once per node and keep only the lines meant for that node', unmapped: true });
        continue;
      }
      const inc = /^include([rmwba])?[ \t]+(.+)$/.exec(body);
      if (inc) {
        const pattern = inc[2]!.trim();
        const full = isAbsolute(pattern) ? pattern : join(dirname(abs), pattern);
        const matches = globFiles(full);
        if (matches.length === 0) notes.push({ at, keyword: 'include', text: `no file matches ${pattern} (keepalived skips it too)`, unmapped: false });
        for (const m of matches) {
          // keepalived (parser.c check_glob_file) skips anything but a regular, non-executable file.
          if ((statSync(m).mode & 0o111) !== 0) {
            notes.push({ at, keyword: 'include', text: `${displayName(m)} is executable: keepalived skips it ("not a regular non-executable file"), so it is not read`, unmapped: false });
            continue;
          }
          readOne(m, [...stack, abs], at);
        }
        continue;
      }
      lines.push({ words: tokenize(body, at), at });
    }
  };

  readOne(main, [], undefined);
  return { statements: buildTree(lines, files[0] ?? path), notes, files };
}

/** Strips a comment (unquoted # or !), unescapes \# and \!, trims; throws on an unterminated quote. */
function decomment(line: string, at: Where): string {
  let out = '';
  let quote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') quote = !quote;
    else if (c === '\\' && !quote && (line[i + 1] === '#' || line[i + 1] === '!')) {
      out += line[++i];
      continue;
    } else if (!quote && (c === '#' || c === '!')) break;
    out += c;
  }
  if (quote) throw new KeepalivedSyntaxError(at, 'unterminated quote: a " is not closed on this line');
  return out.trim();
}

function substitute(body: string, params: Map<string, string>): string {
  return body.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, a: string | undefined, b: string | undefined) => params.get(a ?? b ?? '') ?? all);
}

/** Words of a decommented line: blanks split, "quoted text" is one word, braces stand alone. */
function tokenize(body: string, at: Where): string[] {
  const words: string[] = [];
  let cur = '';
  let has = false;
  let quote = false;
  const flush = () => {
    if (has) words.push(cur);
    cur = '';
    has = false;
  };
  for (const c of body) {
    if (quote) {
      if (c === '"') quote = false;
      else cur += c;
      continue;
    }
    if (c === '"') {
      quote = true;
      has = true;
    } else if (c === ' ' || c === '\t') flush();
    else if (c === '{' || c === '}') {
      flush();
      words.push(c);
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) throw new KeepalivedSyntaxError(at, 'unterminated quote');
  flush();
  return words;
}

/** Blocks that only exist at the top level: one of them inside another block means a missing `}`. */
const TOP_ONLY = new Set(['global_defs', 'vrrp_instance', 'vrrp_script', 'vrrp_sync_group', 'vrrp_track_file', 'vrrp_track_process', 'virtual_server', 'virtual_server_group', 'static_ipaddress', 'static_routes', 'static_rules']);

function buildTree(lines: Line[], mainFile: string): KaStatement[] {
  const root: KaStatement[] = [];
  const stack: { list: KaStatement[]; owner?: KaStatement }[] = [{ list: root }];
  let last: KaStatement | undefined; // the statement a following `{` would open
  let lastAt: Where = { file: mainFile, line: 0 };
  let lastClose: Where | undefined; // where the latest block closed, for the hint below
  for (const { words, at } of lines) {
    lastAt = at;
    let i = 0;
    while (i < words.length) {
      const w = words[i]!;
      if (w === '{') {
        if (!last || last.block) throw new KeepalivedSyntaxError(at, '`{` with no keyword before it');
        last.block = [];
        stack.push({ list: last.block, owner: last });
        last = undefined;
        i++;
      } else if (w === '}') {
        if (stack.length === 1) throw new KeepalivedSyntaxError(at, 'extra `}`: no block is open here');
        stack.pop();
        lastClose = at;
        last = undefined;
        i++;
      } else {
        let j = i;
        while (j < words.length && words[j] !== '{' && words[j] !== '}') j++;
        const st: KaStatement = { keyword: w, args: words.slice(i + 1, j), at };
        const owner = stack.at(-1)!.owner;
        if (owner && TOP_ONLY.has(w))
          throw new KeepalivedSyntaxError(at, `\`${w}\` is inside the \`${[owner.keyword, ...owner.args].join(' ')}\` block opened at ${owner.at.file}:${owner.at.line}: it belongs at the top level (is that block's \`}\` missing?)`);
        const home = stack.length === 1 ? misplacedIn('top', w) : undefined;
        if (home !== undefined) {
          const hint = lastClose ? `is the \`}\` at ${lastClose.file}:${lastClose.line} one too many, or a \`{\` missing?` : 'is a `{` missing before it?';
          throw new KeepalivedSyntaxError(at, `\`${w}\` is outside its block: it belongs in ${home === 'the top level' ? home : `a ${home} block`}, not at the top level (${hint})`);
        }
        stack.at(-1)!.list.push(st);
        last = st;
        i = j;
      }
    }
  }
  if (stack.length > 1) {
    const open = stack.at(-1)!.owner!;
    throw new KeepalivedSyntaxError(open.at, `block \`${[open.keyword, ...open.args].join(' ')}\` is never closed: a \`}\` is missing (the file ends at ${lastAt.file}:${lastAt.line})`);
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// glob(3) with GLOB_BRACE, enough for keepalived's include: * ? [set] {a,b}; sorted; files only.

/** Expands {a,b} (nested allowed) into every alternative. */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && depth > 0 && --depth === 0) {
      const inner = pattern.slice(start + 1, i);
      const parts: string[] = [];
      let d = 0;
      let from = 0;
      for (let k = 0; k < inner.length; k++) {
        if (inner[k] === '{') d++;
        else if (inner[k] === '}') d--;
        else if (inner[k] === ',' && d === 0) {
          parts.push(inner.slice(from, k));
          from = k + 1;
        }
      }
      parts.push(inner.slice(from));
      if (parts.length === 1) continue; // "{x}" is literal, as in glob(3)
      const head = pattern.slice(0, start);
      const tail = pattern.slice(i + 1);
      return parts.flatMap((p) => expandBraces(head + p + tail));
    }
  }
  return [pattern];
}

function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let set = seg.slice(i + 1, end);
        if (set.startsWith('!')) set = '^' + set.slice(1);
        re += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const hasMagic = (s: string) => /[*?[]/.test(s);

/** Absolute files matching an absolute pattern, sorted like glob(3) (per brace alternative). */
export function globFiles(pattern: string): string[] {
  const out: string[] = [];
  for (const alt of expandBraces(pattern)) {
    const segs = alt.split('/').filter((s, i) => s !== '' || i === 0);
    let paths = ['/'];
    for (const seg of segs.slice(1)) {
      const next: string[] = [];
      for (const p of paths) {
        if (!hasMagic(seg)) {
          next.push(join(p, seg));
          continue;
        }
        let names: string[] = [];
        try {
          names = readdirSync(p);
        } catch {
          continue;
        }
        const re = segmentRegex(seg);
        for (const n of names.sort()) if (re.test(n) && (seg.startsWith('.') || !n.startsWith('.'))) next.push(join(p, n));
      }
      paths = next;
    }
    for (const p of paths) {
      try {
        if (statSync(p).isFile()) out.push(p);
      } catch {
        /* no such file: no match */
      }
    }
  }
  return out;
}
