// keepalived.conf statements (keepalived-parser.ts) → ha-agent's YAML config, with a comment on every
// piece saying where it came from (`# keepalived.conf:23 vrrp_script chk_nginx`). Contract:
// - mapKeepalived(parsed, options) returns the YAML text and the findings: `unmapped` (something of
//   the config that ha-agent will not do, with what to do instead: keepalived-advice.ts) and `note`
//   (carried over, but worth knowing). It never throws except KeepalivedSyntaxError, for a keyword in
//   the wrong block or a block keyword without its block.
// - keepalived's semantics are kept where they differ from ha-agent's defaults: priority 255 for
//   `state MASTER` without a priority, nopreempt/preempt_delay ignored with `state MASTER`, global
//   vrrp_version / vrrp_garp_* / vrrp_check_unicast_src / vrrp_lower_prio_no_advert / script_user as
//   instance and check defaults, check_unicast_src off unless asked for, auth ignored with VRRPv3,
//   sync-group tracking applied to every member, weighted tracking of sync-group members (without
//   sync_group_tracking_weight) and of address owners dropped or made unweighted, the own interface
//   never tracked, a VIP listed twice held once, VIPs of the other family left out of the adverts.
// - A notify_master running `aws ec2 assign-private-ip-addresses` (aws-notify.ts) is replaced by the
//   aws provider with --provider aws (a comment says so), and pointed out otherwise.
// - Only settings the schema (src/config/schema.ts) has are written; the result is validated by the
//   caller (check-config's own parser).
import { Document, Pair, Scalar, YAMLMap, YAMLSeq, type Node } from 'yaml';
import { adviceFor, belongsTo, misplacedIn, type Context } from './keepalived-advice.js';
import { KeepalivedSyntaxError, type KaStatement, type ParsedConf, type Where } from './keepalived-parser.js';
import { findAwsMove, type AwsMove } from './aws-notify.js';
import { parseRouteLine, parseVipLine } from './keepalived-addresses.js';

export type ProviderChoice = 'garp' | 'aws' | 'alibaba';

export interface Finding {
  at: Where;
  keyword: string;
  text: string;
  kind: 'unmapped' | 'note';
}

export interface MapOptions {
  provider?: ProviderChoice;
  /** Reads a notify script to look for the AWS CLI (undefined: unreadable). */
  readScript?: (path: string) => string | undefined;
  /** Resolves a program name without '/' through PATH, as keepalived does at load time (null: not found). */
  findProgram?: (name: string) => string | null;
  /** First comment lines of the output. */
  header?: string[];
}

export interface MapResult {
  yaml: string;
  findings: Finding[];
  instances: string[];
}

const NAME_RE = /^[A-Za-z0-9_.-]+$/;
const src = (at: Where) => `${at.file}:${at.line}`;
const line = (st: KaStatement) => [st.keyword, ...st.args].join(' ');

/** keepalived's script string → argv (blanks split; '…' and "…" group; backslash escapes). */
export function splitCommand(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let q: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      has = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      has = true;
    } else if (c === ' ' || c === '\t') {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || !/^-?\d+(\.\d+)?$/.test(s)) return undefined;
  return Number(s);
}

interface Globals {
  version?: { v: number; at: Where };
  scriptUser?: { v: string; at: Where };
  garp: Partial<Record<'repeat' | 'delay' | 'refresh' | 'refreshRepeat' | 'lowerPrioRepeat', { v: number; at: Where; kw: string }>>;
  lowerPrioNoAdvert?: { v: boolean; at: Where };
  checkUnicastSrc?: Where;
  v3ChecksumAsV2?: Where;
}

interface CheckDef {
  kind: 'exec' | 'file' | 'process';
  node: YAMLMap;
  at: Where;
  /** The check's own weight (keepalived's defaults: 0 for scripts and processes, 1 for files). */
  weight: number;
}

/** One track_* entry, turned into YAML only at the end (sync groups and owners change weights). */
interface TrackEntry {
  kind: 'check' | 'interface';
  name: string;
  /** "weight N" on the entry itself (an override for checks). */
  weight?: number;
  st: KaStatement;
  what: string;
  /** From the vrrp_sync_group's own track_* (kept weighted, as keepalived does). */
  fromGroup?: boolean;
}

type Tracks = TrackEntry[];

const GARP_KEYS: Record<string, keyof Globals['garp']> = {
  garp_master_repeat: 'repeat',
  garp_master_delay: 'delay',
  garp_master_refresh: 'refresh',
  garp_master_refresh_repeat: 'refreshRepeat',
  garp_lower_prio_repeat: 'lowerPrioRepeat',
};

class Importer {
  readonly findings: Finding[] = [];
  readonly doc = new Document({});
  readonly globals: Globals = { garp: {} };
  readonly checks = new Map<string, CheckDef>();
  readonly checksMap = new YAMLMap();
  readonly instancesMap = new YAMLMap();
  readonly groupsMap = new YAMLMap();
  readonly instanceNames = new Set<string>();
  readonly instanceTracks = new Map<string, { tracks: Tracks; map: YAMLMap; owner: boolean; group?: { name: string; weighted: boolean } }>();
  notifyFifo?: Scalar;
  /** vrrp_rt_priority: advertThread.realtimePriority. */
  rtPriority?: Scalar;
  strict?: Where;

  constructor(readonly opts: MapOptions) {}

  unmapped(st: KaStatement, ctx: Context, text = adviceFor(ctx, st.keyword), keyword = st.keyword): void {
    this.findings.push({ at: st.at, keyword, text, kind: 'unmapped' });
  }

  note(st: KaStatement, text: string, keyword = st.keyword): void {
    this.findings.push({ at: st.at, keyword, text, kind: 'note' });
  }

  /** A scalar with a trailing "# file:line keyword args" comment. */
  s(value: unknown, st: KaStatement, what = line(st)): Scalar {
    const n = new Scalar(value);
    n.comment = ` ${src(st.at)} ${what}`;
    return n;
  }

  put(map: YAMLMap, key: string, value: Node, before?: string): void {
    const k = new Scalar(key);
    if (before !== undefined) k.commentBefore = before;
    map.add(new Pair(k, value));
  }

  /** Statements of a block, after checking that each belongs there. */
  block(st: KaStatement, ctx: Context): KaStatement[] {
    if (!st.block) throw new KeepalivedSyntaxError(st.at, `\`${line(st)}\` needs a { … } block`);
    for (const inner of st.block) {
      const home = misplacedIn(ctx, inner.keyword);
      if (home !== undefined && !(ctx === 'top' && inner.keyword === 'include'))
        throw new KeepalivedSyntaxError(inner.at, `\`${inner.keyword}\` belongs in ${home}, not in ${ctx === 'top' ? 'the top level' : `this ${ctx} block (${line(st)}, ${src(st.at)})`}: is a \`}\` missing or misplaced before it?`);
    }
    return st.block;
  }

  unknown(st: KaStatement, ctx: Context): void {
    this.unmapped(st, ctx, `unknown keyword (keepalived ignores it too, with "Unknown keyword"); ${adviceFor(ctx, st.keyword)}`);
  }

  // -------------------------------------------------------------------------------------------

  run(parsed: ParsedConf): MapResult {
    for (const n of parsed.notes) this.findings.push({ at: n.at, keyword: n.keyword, text: n.text, kind: n.unmapped ? 'unmapped' : 'note' });
    const top = parsed.statements;
    for (const st of top) {
      const home = misplacedIn('top', st.keyword);
      if (home !== undefined) throw new KeepalivedSyntaxError(st.at, `\`${st.keyword}\` belongs in a ${home} block, not at the top level: is a \`{\` missing, or a \`}\` too many, before it?`);
    }
    for (const st of top) if (st.keyword === 'global_defs') this.globalDefs(st);
    for (const st of top) {
      if (st.keyword === 'vrrp_script') this.script(st);
      else if (st.keyword === 'vrrp_track_file' || st.keyword === 'track_file') this.trackFile(st);
      else if (st.keyword === 'vrrp_track_process') this.trackProcess(st);
    }
    const groups = top.filter((st) => st.keyword === 'vrrp_sync_group');
    for (const st of top) if (st.keyword === 'vrrp_instance') this.instance(st);
    for (const st of groups) this.syncGroup(st);
    for (const st of top) {
      if (['global_defs', 'vrrp_script', 'vrrp_track_file', 'track_file', 'vrrp_track_process', 'vrrp_instance', 'vrrp_sync_group'].includes(st.keyword)) continue;
      if (!belongsTo('top', st.keyword)) this.unknown(st, 'top');
      else this.unmapped(st, 'top');
    }
    this.finishTracks();
    if (this.instanceNames.size === 0 && top.length > 0) {
      const at = top[0]!.at;
      this.findings.push({ at, keyword: 'vrrp_instance', text: 'no vrrp_instance was imported: ha-agent needs at least one instance (VRRP); the result will not pass check-config', kind: 'unmapped' });
    }
    return this.emit(parsed);
  }

  emit(parsed: ParsedConf): MapResult {
    const seen = new Set<string>();
    const unique = this.findings.filter((f) => {
      const key = `${src(f.at)}\u0000${f.keyword}\u0000${f.text}`;
      return seen.has(key) ? false : (seen.add(key), true);
    });
    this.findings.splice(0, this.findings.length, ...unique);
    const order = (f: Finding) => parsed.files.indexOf(f.at.file);
    this.findings.sort((a, b) => order(a) - order(b) || a.at.line - b.at.line);
    const root = this.doc.contents as YAMLMap;
    const unmapped = this.findings.filter((f) => f.kind === 'unmapped');
    const head = [
      ...(this.opts.header ?? []),
      ` Read: ${parsed.files.join(', ')}`,
      unmapped.length === 0 ? ' Every keyword was carried over.' : ` NOT carried over (${unmapped.length}; also printed on stderr):`,
      ...unmapped.map((f) => `   ${src(f.at)} ${f.keyword}: ${f.text}`),
    ];
    this.doc.commentBefore = head.join('\n');
    if (this.notifyFifo) this.put(root, 'notifyFifo', this.notifyFifo);
    if (this.rtPriority) {
      const thread = new YAMLMap();
      this.put(thread, 'realtimePriority', this.rtPriority);
      this.put(root, 'advertThread', thread);
    }
    if (this.checksMap.items.length) this.put(root, 'checks', this.checksMap);
    if (this.groupsMap.items.length) this.put(root, 'syncGroups', this.groupsMap);
    this.put(root, 'instances', this.instancesMap);
    return { yaml: this.doc.toString({ lineWidth: 0, flowCollectionPadding: false }), findings: this.findings, instances: [...this.instanceNames] };
  }

  // -------------------------------------------------------------------------------------------

  globalDefs(st: KaStatement): void {
    for (const g of this.block(st, 'global_defs')) {
      const a = g.args[0];
      const garpKey = GARP_KEYS[g.keyword.replace(/^vrrp_/, '')];
      if (garpKey && g.keyword.startsWith('vrrp_') && num(a) !== undefined) {
        this.globals.garp[garpKey] = { v: num(a)!, at: g.at, kw: g.keyword };
        continue;
      }
      switch (g.keyword) {
        case 'router_id':
          this.note(g, 'ha-agent has no router id (its logs carry the host name); nothing to set');
          break;
        case 'vrrp_version':
          if (a === '2' || a === '3') this.globals.version = { v: Number(a), at: g.at };
          else this.unmapped(g, 'global_defs', `vrrp_version must be 2 or 3 (got ${a ?? 'nothing'})`);
          break;
        case 'script_user':
          if (a) this.globals.scriptUser = { v: a, at: g.at };
          if (g.args.length > 1) this.unmapped(g, 'global_defs', `the group ${g.args[1]} is not carried over: checks run with the user's primary group`);
          break;
        case 'enable_script_security':
          this.note(g, 'ha-agent always applies script security: as root it refuses a check script that a non-root user could modify');
          break;
        case 'vrrp_strict':
          this.strict = g.at;
          this.note(g, 'ha-agent always applies the RFC receive checks vrrp_strict enables, but adds no firewall rules blocking traffic to the VIPs and still allows unicast and VRRPv2 authentication');
          break;
        case 'vrrp_skip_check_adv_addr':
          this.note(g, 'ha-agent checks the addresses in every advert at no measurable cost; nothing to set');
          break;
        case 'vrrp_lower_prio_no_advert':
          this.globals.lowerPrioNoAdvert = { v: a === undefined || a === 'true', at: g.at };
          break;
        case 'vrrp_check_unicast_src':
          this.globals.checkUnicastSrc = g.at;
          break;
        case 'v3_checksum_as_v2':
          this.globals.v3ChecksumAsV2 = g.at;
          break;
        case 'vrrp_rt_priority': {
          // keepalived makes its whole VRRP process realtime; ha-agent, the thread that sends adverts.
          const n = num(a);
          if (n !== undefined && Number.isInteger(n) && n >= 1 && n <= 99) this.rtPriority = this.s(n, g);
          else this.unmapped(g, 'global_defs', `vrrp_rt_priority must be an integer 1..99 (got ${a ?? 'nothing'}); ha-agent's advert thread keeps its default, SCHED_FIFO priority 1`);
          break;
        }
        case 'notify_fifo':
        case 'vrrp_notify_fifo':
          if (a?.startsWith('/')) this.notifyFifo = this.s(a, g);
          else this.unmapped(g, 'global_defs', 'notifyFifo needs an absolute path');
          if (g.args.length > 1) this.unmapped(g, 'global_defs', `the FIFO owner ${g.args.slice(1).join(' ')} is not carried over: ha-agent creates it mode 0600 as its own user`);
          break;
        default:
          if (!belongsTo('global_defs', g.keyword)) this.unknown(g, 'global_defs');
          else this.unmapped(g, 'global_defs');
      }
    }
  }

  // -------------------------------------------------------------------------------------------

  checkName(st: KaStatement): string | undefined {
    const name = st.args[0];
    if (!name) {
      this.unmapped(st, 'top', `\`${st.keyword}\` without a name: keepalived cannot reference it either`);
      return undefined;
    }
    if (!NAME_RE.test(name)) {
      this.unmapped(st, 'top', `the name "${name}" has characters ha-agent does not allow in check names (letters, digits, _ - .): rename it`);
      return undefined;
    }
    if (this.checks.has(name)) {
      this.unmapped(st, 'top', `a second definition of ${name} (the first is at ${src(this.checks.get(name)!.at)}): rename one`);
      return undefined;
    }
    return name;
  }

  /** argv for a script string; relative program names resolved through PATH like keepalived does. */
  argv(text: string, st: KaStatement, ctx: Context, what: string): string[] | undefined {
    const argv = splitCommand(text);
    if (argv.length === 0) {
      this.unmapped(st, ctx, `empty ${what}`);
      return undefined;
    }
    const prog = argv[0]!;
    if (!prog.includes('/')) {
      const found = this.opts.findProgram?.(prog) ?? null;
      if (found) {
        argv[0] = found;
        this.note(st, `${prog} resolved through PATH to ${found} (as keepalived does when it loads the config)`);
      } else if (what !== 'script') {
        this.unmapped(st, ctx, `${prog} is not an absolute path and is not found in PATH here: write the full path of the program`);
        return undefined;
      }
    }
    return argv;
  }

  script(st: KaStatement): void {
    const body = this.block(st, 'vrrp_script');
    const name = this.checkName(st);
    if (!name) return;
    const m = new YAMLMap();
    let command: string[] | undefined;
    let user: Scalar | undefined;
    const rest: [string, Scalar][] = [];
    for (const b of body) {
      const a = b.args[0];
      switch (b.keyword) {
        case 'script': {
          command = this.argv(b.args.join(' '), b, 'vrrp_script', 'script');
          break;
        }
        case 'interval':
        case 'timeout':
        case 'rise':
        case 'fall': {
          const v = num(a);
          if (v === undefined) this.unmapped(b, 'vrrp_script', `${b.keyword} needs a number`);
          else rest.push([b.keyword, this.s(v, b)]);
          break;
        }
        case 'weight': {
          const v = num(a);
          if (v === undefined) this.unmapped(b, 'vrrp_script', 'weight needs a number');
          else rest.push(['weight', this.s(v, b)]);
          if (b.args[1] === 'reverse') this.unmapped(b, 'vrrp_script', adviceFor('vrrp_script', 'reverse'));
          break;
        }
        case 'init_fail':
          rest.push(['initFail', this.s(true, b)]);
          break;
        case 'user':
          if (a) user = this.s(a, b);
          if (b.args.length > 1) this.unmapped(b, 'vrrp_script', `the group ${b.args[1]} is not carried over: the check runs with the user's primary group`);
          break;
        default:
          this.unmapped(b, 'vrrp_script');
      }
    }
    if (!command) {
      this.unmapped(st, 'vrrp_script', `vrrp_script ${name} has no script line: keepalived ignores it, so it is left out`);
      return;
    }
    this.put(m, 'type', this.s('exec', st, `vrrp_script ${name}`));
    const cmd = new YAMLSeq();
    cmd.flow = true;
    for (const w of command) cmd.add(new Scalar(w));
    this.put(m, 'command', cmd);
    const scriptLine = body.find((b) => b.keyword === 'script')!;
    cmd.comment = ` ${src(scriptLine.at)} script`;
    if (user) this.put(m, 'user', user);
    else if (this.globals.scriptUser) {
      const u = new Scalar(this.globals.scriptUser.v);
      u.comment = ` ${src(this.globals.scriptUser.at)} script_user (global_defs)`;
      this.put(m, 'user', u);
    }
    for (const [k, v] of rest) this.put(m, k, v);
    this.checks.set(name, { kind: 'exec', node: m, at: st.at, weight: num(body.find((b) => b.keyword === 'weight')?.args[0]) ?? 0 });
    this.put(this.checksMap, name, m, ` ${src(st.at)} vrrp_script ${name}`);
  }

  trackFile(st: KaStatement): void {
    const body = this.block(st, 'track_file');
    const name = this.checkName(st);
    if (!name) return;
    const m = new YAMLMap();
    let path: Scalar | undefined;
    let weight: Scalar | undefined;
    for (const b of body) {
      if (b.keyword === 'file' && b.args[0]?.startsWith('/')) path = this.s(b.args[0], b);
      else if (b.keyword === 'file') this.unmapped(b, 'track_file', 'the file must be an absolute path');
      else if (b.keyword === 'weight' && num(b.args[0]) !== undefined) {
        weight = this.s(num(b.args[0]), b);
        if (b.args[1] === 'reverse') this.unmapped(b, 'vrrp_script', adviceFor('vrrp_script', 'reverse'));
      } else this.unmapped(b, 'track_file');
    }
    if (!path) {
      this.unmapped(st, 'track_file', `${st.keyword} ${name} has no file line: keepalived ignores it, so it is left out`);
      return;
    }
    this.put(m, 'type', this.s('file', st, `${st.keyword} ${name}`));
    this.put(m, 'path', path);
    if (weight) this.put(m, 'weight', weight);
    this.checks.set(name, { kind: 'file', node: m, at: st.at, weight: weight ? (weight.value as number) : 1 });
    this.put(this.checksMap, name, m, ` ${src(st.at)} ${st.keyword} ${name}`);
  }

  trackProcess(st: KaStatement): void {
    const body = this.block(st, 'track_process');
    const name = this.checkName(st);
    if (!name) return;
    const m = new YAMLMap();
    let proc: Scalar | undefined;
    let weight: Scalar | undefined;
    for (const b of body) {
      if (b.keyword === 'process' && b.args.length === 1) proc = this.s(b.args[0], b);
      else if (b.keyword === 'process') this.unmapped(b, 'track_process', 'ha-agent matches a process by its name only (no parameters): give just the name');
      else if (b.keyword === 'weight' && num(b.args[0]) !== undefined) weight = this.s(num(b.args[0]), b);
      else if (b.keyword === 'quorum' && b.args[0] === '1') continue;
      else this.unmapped(b, 'track_process');
    }
    if (!proc) {
      this.unmapped(st, 'track_process', `vrrp_track_process ${name} has no usable process line, so it is left out`);
      return;
    }
    this.put(m, 'type', this.s('process', st, `vrrp_track_process ${name}`));
    this.put(m, 'name', proc);
    if (weight) this.put(m, 'weight', weight);
    this.checks.set(name, { kind: 'process', node: m, at: st.at, weight: weight ? (weight.value as number) : 0 });
    this.put(this.checksMap, name, m, ` ${src(st.at)} vrrp_track_process ${name}`);
  }

  // -------------------------------------------------------------------------------------------

  /** track_script / track_file / track_process / track_interface entries into `tracks`. */
  track(b: KaStatement, tracks: Tracks, ctx: Context, ownInterface?: string): void {
    for (const e of b.block ?? []) {
      const name = e.keyword;
      let weight: number | undefined;
      if (e.args[0] === 'weight') {
        weight = num(e.args[1]);
        if (weight === undefined) {
          this.unmapped(e, ctx, `${b.keyword} ${name}: weight needs a number`, b.keyword);
          continue;
        }
        if (e.args[2] === 'reverse') this.unmapped(e, 'vrrp_script', adviceFor('vrrp_script', 'reverse'), b.keyword);
        else if (e.args.length > 2) this.unmapped(e, ctx, `${b.keyword} ${name}: ${e.args.slice(2).join(' ')} is not supported`, b.keyword);
      } else if (e.args.length > 0) {
        this.unmapped(e, ctx, `${b.keyword} ${name}: ${e.args.join(' ')} is not supported (only "weight N")`, b.keyword);
      }
      if (b.keyword === 'track_interface') {
        if (name === ownInterface) {
          this.note(e, `keepalived ignores tracking the instance's own interface ${name} ("Ignoring track_interface ${name} since own interface"); ha-agent puts the instance in FAULT while it is down anyway, so it is left out`, b.keyword);
          continue;
        }
        tracks.push({ kind: 'interface', name, ...(weight !== undefined ? { weight } : {}), st: e, what: `${b.keyword} ${line(e)}`, ...(ctx === 'vrrp_sync_group' ? { fromGroup: true } : {}) });
        continue;
      }
      const def = this.checks.get(name);
      const wanted = b.keyword === 'track_script' ? 'exec' : b.keyword === 'track_file' ? 'file' : 'process';
      if (!def || def.kind !== wanted) {
        const block = wanted === 'exec' ? 'vrrp_script' : wanted === 'file' ? 'track_file' : 'vrrp_track_process';
        this.unmapped(e, ctx, `${b.keyword} ${name}: no ${block} ${name} is defined (keepalived ignores this line too); left out`, b.keyword);
        continue;
      }
      tracks.push({ kind: 'check', name, ...(weight !== undefined ? { weight } : {}), st: e, what: `${b.keyword} ${line(e)}`, ...(ctx === 'vrrp_sync_group' ? { fromGroup: true } : {}) });
    }
    if (!b.block) this.unmapped(b, ctx, `${b.keyword} needs a { … } block`);
  }

  flowMap(entries: [string, unknown][], st: KaStatement, what: string): YAMLMap {
    const m = new YAMLMap();
    m.flow = true;
    for (const [k, v] of entries) m.add(new Pair(new Scalar(k), new Scalar(v)));
    m.comment = ` ${src(st.at)} ${what}`;
    return m;
  }

  // -------------------------------------------------------------------------------------------

  instance(st: KaStatement): void {
    const body = this.block(st, 'vrrp_instance');
    const name = st.args[0];
    if (!name || !NAME_RE.test(name) || this.instanceNames.has(name)) {
      this.unmapped(st, 'vrrp_instance', !name ? 'vrrp_instance without a name' : this.instanceNames.has(name) ? `a second vrrp_instance ${name}: keepalived refuses it; rename one` : `the name "${name}" has characters ha-agent does not allow (letters, digits, _ - .): rename it`);
      return;
    }
    const one = (kw: string) => body.filter((b) => b.keyword === kw).at(-1);
    const m = new YAMLMap();
    const put = (k: string, v: Node) => this.put(m, k, v);

    const stateSt = one('state');
    const prioSt = one('priority');
    const state = stateSt?.args[0]?.toUpperCase();
    if (stateSt) {
      if (state === 'MASTER' && num(prioSt?.args[0]) !== 255 && prioSt) this.note(stateSt, 'ha-agent starts every instance as BACKUP and lets the election decide, as keepalived does for a non-owner (priority < 255)');
      else if (state !== 'MASTER' && state !== 'BACKUP') this.unmapped(stateSt, 'vrrp_instance', `state must be MASTER or BACKUP (got ${stateSt.args[0] ?? 'nothing'})`);
    }

    // interface, vrid, priority, version, advertInterval
    const ifSt = one('interface');
    const iface = ifSt?.args[0];
    if (ifSt && iface) put('interface', this.s(iface, ifSt));
    else this.findings.push({ at: st.at, keyword: 'interface', text: `vrrp_instance ${name} has no interface: keepalived needs one too; add interface: to the output`, kind: 'unmapped' });
    const vridSt = one('virtual_router_id');
    if (vridSt && num(vridSt.args[0]) !== undefined) put('vrid', this.s(num(vridSt.args[0]), vridSt));
    else this.findings.push({ at: (vridSt ?? st).at, keyword: 'virtual_router_id', text: `vrrp_instance ${name} has no valid virtual_router_id: add vrid: (1..255) to the output`, kind: 'unmapped' });
    if (prioSt && num(prioSt.args[0]) !== undefined) put('priority', this.s(num(prioSt.args[0]), prioSt));
    else if (state === 'MASTER' && stateSt) put('priority', this.s(255, stateSt, `${line(stateSt)} without a priority: keepalived makes it the address owner (255)`));
    const verSt = one('version');
    if (verSt && (verSt.args[0] === '2' || verSt.args[0] === '3')) put('version', this.s(Number(verSt.args[0]), verSt));
    else if (verSt) this.unmapped(verSt, 'vrrp_instance', `version must be 2 or 3 (got ${verSt.args[0] ?? 'nothing'}); keepalived refuses it too`);
    else if (this.globals.version) put('version', this.commented(this.globals.version.v, this.globals.version.at, 'vrrp_version (global_defs)'));
    const version = verSt && num(verSt.args[0]) !== undefined ? num(verSt.args[0]) : (this.globals.version?.v ?? 2);
    const advSt = one('advert_int');
    if (advSt) put('advertInterval', this.s(num(advSt.args[0]) ?? advSt.args[0], advSt));

    // preempt
    const nopreempt = one('nopreempt');
    const pdelay = one('preempt_delay');
    if (nopreempt && state === 'MASTER') this.note(nopreempt, 'keepalived ignores nopreempt with state MASTER (it says "nopreempt will not work with initial state MASTER"), so preempt stays true');
    else if (nopreempt) put('preempt', this.s(false, nopreempt));
    if (pdelay && state === 'MASTER') this.note(pdelay, 'keepalived ignores preempt_delay with state MASTER, so it is left out');
    else if (pdelay && num(pdelay.args[0]) !== undefined) put('preemptDelay', this.s(num(pdelay.args[0]), pdelay));

    // unicast
    const peersSt = body.filter((b) => b.keyword === 'unicast_peer');
    const srcSt = one('unicast_src_ip');
    if (peersSt.length) {
      const u = new YAMLMap();
      if (srcSt?.args[0]) this.put(u, 'source', this.s(srcSt.args[0], srcSt));
      const peers = new YAMLSeq();
      for (const p of peersSt) {
        for (const e of p.block ?? []) {
          peers.add(this.s(e.keyword, e, 'unicast_peer'));
          if (e.args.length) this.unmapped(e, 'vrrp_instance', `unicast_peer ${e.keyword}: ${e.args.join(' ')} is not supported (adverts are sent and checked with TTL 255)`, 'unicast_peer');
        }
        if (!p.block) this.unmapped(p, 'vrrp_instance', 'unicast_peer needs a { … } block of addresses');
      }
      this.put(u, 'peers', peers);
      const check = one('check_unicast_src');
      if (check) this.put(u, 'checkSource', this.s(true, check));
      else if (this.globals.checkUnicastSrc) this.put(u, 'checkSource', this.commented(true, this.globals.checkUnicastSrc, 'vrrp_check_unicast_src (global_defs)'));
      else {
        const off = new Scalar(false);
        off.comment = ' keepalived accepts adverts from any source unless check_unicast_src is set; true is safer';
        this.put(u, 'checkSource', off);
      }
      put('unicast', u);
    } else if (srcSt) {
      this.unmapped(srcSt, 'vrrp_instance', 'unicast_src_ip without unicast_peer: ha-agent sends multicast adverts from the interface\'s primary IPv4 address; make that address the one given here');
    }

    // authentication
    const authSt = one('authentication');
    if (authSt) {
      const type = authSt.block?.find((a) => a.keyword === 'auth_type');
      const pass = authSt.block?.find((a) => a.keyword === 'auth_pass');
      for (const a of authSt.block ?? []) if (a.keyword !== 'auth_type' && a.keyword !== 'auth_pass') this.unmapped(a, 'vrrp_instance');
      if (version === 3) this.note(authSt, 'keepalived ignores authentication with VRRPv3 ("authentication not supported with VRRPv3"), so it is left out');
      else if (this.strict) this.note(authSt, 'keepalived ignores authentication with vrrp_strict ("Strict mode does not support authentication"), so it is left out');
      else if (type?.args[0]?.toUpperCase() === 'AH') this.unmapped(type, 'vrrp_instance', 'AH authentication is not supported: use auth_type PASS or none on every node');
      else if (pass?.args[0]) {
        const a = new YAMLMap();
        this.put(a, 'type', this.s('pass', type ?? authSt, type ? line(type) : 'authentication'));
        this.put(a, 'password', this.s(pass.args[0], pass, 'auth_pass'));
        put('auth', a);
      } else this.unmapped(authSt, 'vrrp_instance', 'authentication without auth_pass: keepalived sends no password either; left out');
    }

    // tracking
    const tracks: Tracks = [];
    for (const b of body) if (['track_script', 'track_file', 'track_process', 'track_interface'].includes(b.keyword)) this.track(b, tracks, 'vrrp_instance', iface);
    const trackMap = new YAMLMap();
    put('track', trackMap);
    this.instanceTracks.set(name, { tracks, map: trackMap, owner: num(prioSt?.args[0]) === 255 || (!prioSt && state === 'MASTER') });

    // VIPs
    const vips = new YAMLSeq();
    const vipAt = new Map<Scalar, Where>();
    for (const b of body.filter((x) => x.keyword === 'virtual_ipaddress')) {
      if (!b.block) this.unmapped(b, 'vrrp_instance', 'virtual_ipaddress needs a { … } block');
      for (const e of b.block ?? [])
        for (const v of this.vip(e, iface)) {
          const addr = String(v.value).split('/')[0]!;
          const before = [...vipAt.entries()].find(([x]) => String(x.value).split('/')[0] === addr);
          if (before) {
            this.note(e, `${addr} is already listed at ${src(before[1])}; keepalived holds it once, so it is listed once`, 'virtual_ipaddress');
            continue;
          }
          vips.add(v);
          vipAt.set(v, e.at);
        }
    }
    // keepalived: an instance is of the family of its first VIP; VIPs of the other family are
    // handled like virtual_ipaddress_excluded (not in the adverts).
    const family = (x: Scalar) => (String(x.value).includes(':') ? 6 : 4);
    const first = vips.items[0] as Scalar | undefined;
    if (first) {
      for (const x of [...(vips.items as Scalar[])]) {
        if (family(x) === family(first)) continue;
        vips.delete(vips.items.indexOf(x));
        this.findings.push({ at: vipAt.get(x)!, keyword: 'virtual_ipaddress', text: `VIP ${String(x.value)} is IPv${family(x)} in an IPv${family(first)} instance: keepalived leaves it out of the adverts (as if excluded); ${adviceFor('vrrp_instance', 'virtual_ipaddress_excluded')}`, kind: 'unmapped' });
      }
    }
    for (const b of body.filter((x) => x.keyword === 'virtual_ipaddress_excluded')) this.unmapped(b, 'vrrp_instance');
    if (vips.items.length) put('vips', vips);
    else this.findings.push({ at: st.at, keyword: 'virtual_ipaddress', text: `vrrp_instance ${name} has no virtual_ipaddress ha-agent can carry: every ha-agent instance needs at least one VIP; the result will not pass check-config until you add vips:`, kind: 'unmapped' });

    // notify
    const notify = new YAMLMap();
    let awsDropped = false;
    for (const [kw, key] of [['notify_master', 'master'], ['notify_backup', 'backup'], ['notify_fault', 'fault'], ['notify_stop', 'stop'], ['notify', 'any']] as const) {
      const b = one(kw);
      if (!b) continue;
      const r = this.notifyHook(b, 'vrrp_instance');
      if (!r) continue;
      if (kw === 'notify_master' && r.aws) {
        const hint = r.aws.call === 'assign-private-ip-addresses' ? 'the aws provider (mode secondary-ip) replaces it: it calls AssignPrivateIpAddresses with AllowReassignment itself and confirms it through IMDS' : r.aws.call === 'replace-route' ? 'the aws provider in mode route-table replaces it (set routeTableIds)' : 'the aws provider in mode elastic-ip replaces it (set allocationId)';
        if (this.opts.provider === 'aws' && r.aws.call === 'assign-private-ip-addresses') {
          awsDropped = true;
          this.note(b, `notify_master runs \`aws ec2 ${r.aws.call}\`${r.aws.where === 'script' ? ` (in ${r.argv[0]})` : ''}: not carried over, ${hint}`);
          this.awsFound = { ...r.aws, at: b.at, argv: r.argv };
          continue;
        }
        this.note(b, `notify_master runs \`aws ec2 ${r.aws.call}\`${r.aws.where === 'script' ? ` (in ${r.argv[0]})` : ''}: ${hint}${this.opts.provider === 'aws' ? '' : '; import with --provider aws to use it'}`);
      }
      this.put(notify, key, r.node);
    }
    if (notify.items.length) put('notify', notify);

    // routes
    const routes = new YAMLSeq();
    for (const b of body.filter((x) => x.keyword === 'virtual_routes')) {
      if (!b.block) this.unmapped(b, 'vrrp_instance', 'virtual_routes needs a { … } block');
      for (const e of b.block ?? []) {
        const r = this.route(e);
        if (r) routes.add(r);
      }
    }
    if (routes.items.length) put('routes', routes);

    // provider
    const prov = this.provider(st, name, awsDropped);
    if (prov) put('provider', prov);

    // garp
    const garp = new YAMLMap();
    for (const [kw, key] of Object.entries(GARP_KEYS)) {
      const b = one(kw);
      if (b && num(b.args[0]) !== undefined) this.put(garp, key, this.s(num(b.args[0]), b));
      else if (b) this.unmapped(b, 'vrrp_instance', `${kw} needs a number`);
      else {
        const g = this.globals.garp[key];
        if (g) this.put(garp, key, this.commented(g.v, g.at, `${g.kw} (global_defs)`));
      }
    }
    if (garp.items.length) put('garp', garp);
    const lpna = one('lower_prio_no_advert');
    if (lpna) put('lowerPrioNoAdvert', this.s(lpna.args[0] !== 'false', lpna));
    else if (this.globals.lowerPrioNoAdvert) put('lowerPrioNoAdvert', this.commented(this.globals.lowerPrioNoAdvert.v, this.globals.lowerPrioNoAdvert.at, 'vrrp_lower_prio_no_advert (global_defs)'));
    const v3 = one('v3_checksum_as_v2');
    if (v3) put('v3ChecksumAsV2', this.s(true, v3));
    else if (this.globals.v3ChecksumAsV2) put('v3ChecksumAsV2', this.commented(true, this.globals.v3ChecksumAsV2, 'v3_checksum_as_v2 (global_defs)'));

    // everything else
    const handled = new Set(['state', 'interface', 'virtual_router_id', 'priority', 'version', 'advert_int', 'nopreempt', 'preempt_delay', 'unicast_peer', 'unicast_src_ip', 'check_unicast_src', 'authentication', 'track_script', 'track_file', 'track_process', 'track_interface', 'virtual_ipaddress', 'virtual_ipaddress_excluded', 'notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify', 'virtual_routes', ...Object.keys(GARP_KEYS), 'lower_prio_no_advert', 'v3_checksum_as_v2']);
    for (const b of body) {
      if (handled.has(b.keyword)) continue;
      if (b.keyword === 'preempt') continue; // keepalived's default
      if (b.keyword === 'accept') this.note(b, 'ha-agent never blocks traffic to the VIPs (keepalived\'s accept); nothing to set');
      else if (b.keyword === 'skip_check_adv_addr') this.note(b, 'ha-agent checks the addresses in every advert at no measurable cost; nothing to set');
      else if (b.keyword === 'strict_mode') this.note(b, 'ha-agent always applies the RFC receive checks; it adds no firewall rules blocking traffic to the VIPs');
      else if (!belongsTo('vrrp_instance', b.keyword)) this.unknown(b, 'vrrp_instance');
      else this.unmapped(b, 'vrrp_instance');
    }
    this.instanceNames.add(name);
    this.put(this.instancesMap, name, m, ` ${src(st.at)} vrrp_instance ${name}`);
  }

  awsFound?: AwsMove & { at: Where; argv: string[] };

  commented(value: unknown, at: Where, what: string): Scalar {
    const n = new Scalar(value);
    n.comment = ` ${src(at)} ${what}`;
    return n;
  }

  provider(st: KaStatement, instance: string, awsDropped: boolean): YAMLMap | undefined {
    const choice = this.opts.provider;
    if (!choice) return undefined;
    const p = new YAMLMap();
    const t = new Scalar(choice);
    t.comment = ' --provider ' + choice;
    this.put(p, 'type', t);
    if (choice === 'aws') {
      const found = this.awsFound;
      if (awsDropped && found) {
        t.comment = ` --provider aws: replaces notify_master at ${src(found.at)} (${found.argv.join(' ')}), not carried over; if that script did more than move the VIP, add a notify.master hook for the rest`;
        if (found.networkInterfaceId) this.put(p, 'networkInterfaceId', this.commented(found.networkInterfaceId, found.at, `--network-interface-id in ${found.where === 'script' ? found.argv[0] : 'notify_master'}`));
        if (found.region) this.put(p, 'region', this.commented(found.region, found.at, `--region in ${found.where === 'script' ? found.argv[0] : 'notify_master'}`));
      }
      this.awsFound = undefined;
    }
    if (choice === 'alibaba') {
      const id = new Scalar('havip-changeme');
      id.comment = ' placeholder: the id of the HaVip that carries this VIP (aliyun vpc DescribeHaVips)';
      this.put(p, 'haVipId', id);
      this.findings.push({ at: st.at, keyword: `vrrp_instance ${instance}`, text: 'set provider.haVipId in the output (a placeholder havip-changeme is written): keepalived.conf does not name the HaVip', kind: 'unmapped' });
    }
    return p;
  }

  notifyHook(b: KaStatement, ctx: Context): { node: YAMLSeq; argv: string[]; aws?: AwsMove } | undefined {
    if (b.args.length === 0) {
      this.unmapped(b, ctx, `${b.keyword} without a command`);
      return undefined;
    }
    // keepalived: notify_x SCRIPT [USERNAME [GROUPNAME]] — the script is one (usually quoted) word.
    if (b.args.length > 1) this.unmapped(b, ctx, `${b.keyword}: the user ${b.args.slice(1).join(' ')} is not carried over: hooks run as the agent's user (wrap the command: [/usr/bin/setpriv, --reuid=${b.args[1]}, --init-groups, …])`);
    const argv = this.argv(b.args[0]!, b, ctx, b.keyword);
    if (!argv) return undefined;
    const node = new YAMLSeq();
    node.flow = true;
    for (const w of argv) node.add(new Scalar(w));
    node.comment = ` ${src(b.at)} ${b.keyword}`;
    const aws = findAwsMove(argv, this.opts.readScript ?? (() => undefined));
    return aws ? { node, argv, aws } : { node, argv };
  }

  /** One virtual_ipaddress line → its VIPs; what cannot be carried over is reported. */
  vip(e: KaStatement, iface: string | undefined): Scalar[] {
    const r = parseVipLine([e.keyword, ...e.args], iface);
    for (const p of r.problems) this.unmapped(e, 'vrrp_instance', p, 'virtual_ipaddress');
    return r.vips.map((v) => this.s(v, e, `virtual_ipaddress ${line(e)}`));
  }

  route(e: KaStatement): YAMLMap | undefined {
    const r = parseRouteLine([e.keyword, ...e.args]);
    for (const p of r.problems) this.unmapped(e, 'vrrp_instance', p, 'virtual_routes');
    if (!r.route) return undefined;
    const m = this.doc.createNode(r.route) as YAMLMap;
    m.flow = true;
    m.comment = ` ${src(e.at)} virtual_routes ${line(e)}`;
    return m;
  }

  // -------------------------------------------------------------------------------------------

  syncGroup(st: KaStatement): void {
    const body = this.block(st, 'vrrp_sync_group');
    const name = st.args[0];
    if (!name || !NAME_RE.test(name)) {
      this.unmapped(st, 'vrrp_sync_group', !name ? 'vrrp_sync_group without a name' : `the name "${name}" has characters ha-agent does not allow (letters, digits, _ - .): rename it`);
      return;
    }
    const g = new YAMLMap();
    const members = new YAMLSeq();
    members.flow = true;
    const memberNames: string[] = [];
    const tracks: Tracks = [];
    const notify = new YAMLMap();
    let weighted = false;
    let awsReplaced = '';
    for (const b of body) {
      if (b.keyword === 'group') {
        for (const e of b.block ?? []) {
          for (const n of [e.keyword, ...e.args]) {
            if (this.instanceNames.has(n)) {
              members.add(new Scalar(n));
              memberNames.push(n);
            } else this.unmapped(e, 'vrrp_sync_group', `vrrp_sync_group ${name}: no vrrp_instance ${n} was imported (keepalived drops it too); left out`, 'group');
          }
        }
        members.comment = ` ${src(b.at)} group`;
        if (!b.block) this.unmapped(b, 'vrrp_sync_group', 'group needs a { … } block of instance names');
      } else if (['track_script', 'track_file', 'track_process', 'track_interface'].includes(b.keyword)) {
        this.track(b, tracks, 'vrrp_sync_group');
      } else if (['notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify'].includes(b.keyword)) {
        const r = this.notifyHook(b, 'vrrp_sync_group');
        if (r?.aws && b.keyword === 'notify_master') {
          const what = `notify_master runs \`aws ec2 ${r.aws.call}\`${r.aws.where === 'script' ? ` (in ${r.argv[0]})` : ''}`;
          if (this.opts.provider === 'aws' && r.aws.call === 'assign-private-ip-addresses') {
            this.note(b, `${what}: not carried over, the aws provider of each member instance moves its VIPs itself; if that script did more than move the VIPs, add a notify.master hook for the rest`);
            awsReplaced = ` ${src(b.at)} notify_master (${r.argv.join(' ')}): not carried over, the aws provider of each member replaces it`;
            continue;
          }
          this.note(b, `${what}: the aws provider replaces it; import with --provider aws to use it`);
        }
        if (r) this.put(notify, b.keyword === 'notify' ? 'any' : b.keyword.replace('notify_', ''), r.node);
      } else if (b.keyword === 'sync_group_tracking_weight' || b.keyword === 'global_tracking') weighted = true;
      else this.unmapped(b, 'vrrp_sync_group');
    }
    if (memberNames.length === 0) {
      this.unmapped(st, 'vrrp_sync_group', `vrrp_sync_group ${name} has no imported members; left out`);
      return;
    }
    // keepalived applies a sync group's track_* to every member instance.
    for (const member of memberNames) {
      const t = this.instanceTracks.get(member);
      if (!t) continue;
      t.group = { name, weighted };
      t.tracks.push(...tracks);
    }
    this.put(g, 'instances', members);
    if (notify.items.length) this.put(g, 'notify', notify);
    this.put(this.groupsMap, name, g, ` ${src(st.at)} vrrp_sync_group ${name}${awsReplaced ? `\n${awsReplaced}` : ''}`);
  }

  /** Fills each instance's track: map (after sync groups added theirs), or removes an empty one. */
  finishTracks(): void {
    for (const [name, { tracks, map, owner, group }] of this.instanceTracks) {
      const checks = new YAMLSeq();
      const interfaces = new YAMLSeq();
      const groupOwner = group && [...this.instanceTracks.values()].some((t) => t.group?.name === group.name && t.owner);
      for (const e of tracks) {
        const def = e.kind === 'check' ? this.checks.get(e.name) : undefined;
        let weight = e.weight ?? def?.weight ?? 0;
        const why = owner ? 'the instance is the address owner (priority 255)' : `it is in vrrp_sync_group ${group?.name} (without sync_group_tracking_weight)`;
        // keepalived (vrrp.c vrrp_complete_instance, sync_group_tracking_init): in a sync group without
        // sync_group_tracking_weight, and for an address owner, an instance's own weighted tracking is
        // dropped (interfaces in a sync group become unweighted: FAULT while down; files with the
        // default weight 1 become weight 0: FAULT on a non-zero value); a group's own entries keep
        // their weights unless a member is an owner (then 0).
        if (e.fromGroup) {
          if (groupOwner && weight !== 0) {
            this.note(e.st, `keepalived clears the weight of a sync group's tracking when a member is the address owner ("Cannot have weighted track …"), so weight 0 (FAULT on failure)`, e.what.split(' ')[0]);
            weight = 0;
          }
        } else if ((owner || (group && !group.weighted)) && weight !== 0) {
          const fileDefault = def?.kind === 'file' && weight === 1;
          if (e.kind === 'interface' && !owner) {
            this.note(e.st, `keepalived ignores this interface's weight because ${why}: a plain track (FAULT while down)`, e.what.split(' ')[0]);
            weight = 0;
          } else if (fileDefault) {
            this.note(e.st, `keepalived tracks this file with weight 0 because ${why} (FAULT on a non-zero value)`, e.what.split(' ')[0]);
            weight = 0;
          } else {
            this.note(e.st, `keepalived ignores this weighted tracking because ${why}, so it is left out`, e.what.split(' ')[0]);
            continue;
          }
        }
        const explicit = e.weight !== undefined || weight !== (def?.weight ?? 0);
        if (e.kind === 'interface') interfaces.add(weight !== 0 ? this.flowMap([['interface', e.name], ['weight', weight]], e.st, e.what) : this.s(e.name, e.st, e.what));
        else checks.add(explicit ? this.flowMap([['check', e.name], ['weight', weight]], e.st, e.what) : this.s(e.name, e.st, e.what));
      }
      if (checks.items.length) this.put(map, 'checks', checks);
      if (interfaces.items.length) this.put(map, 'interfaces', interfaces);
      if (map.items.length === 0) {
        const inst = this.instancesMap.get(name, true) as YAMLMap | undefined;
        inst?.delete('track');
      }
    }
  }
}


export function mapKeepalived(parsed: ParsedConf, opts: MapOptions = {}): MapResult {
  return new Importer(opts).run(parsed);
}
