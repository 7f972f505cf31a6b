// A deterministic in-process Raft cluster and an interpreter for scenario scripts in the style
// of etcd's raft interaction tests (datadriven): each block is a command, `----`, and the
// expected output up to a blank line. Messages move only when a command moves them, so a
// script can stage exactly the interleavings of the Raft paper's figures.
//
// Commands (ids are node ids; `all` where noted):
//   add-nodes N [option=value ...]   raft options (electionTicks=…, preVote=false, …) plus
//                                    batch=<cutter countMax> and seed=<n>; the first call sets
//                                    the initial membership, later nodes start outside it
//   campaign ID                      start an election on ID now
//   propose ID DATA [client=C] [seq=S] [ready=no]
//   propose-conf-change ID [add=a,b] [remove=c] [learners=d]
//   transfer-leader ID TO
//   reconfigure ID members=a,b,c     one Engine.reconfigure step toward that voter set (printed)
//   tick ID|all [xN]                 tick (and process ready) without delivering messages
//   run [xN]                         N rounds of: tick every live node, then stabilize
//   process-ready ID|all             persist + queue the messages of ID's Ready (printed)
//   deliver-msgs ID [from=X] [type=T]   step queued messages addressed to ID (printed)
//   drop-msgs ID [from=X] [type=T]      drop queued messages addressed to ID (printed)
//   stabilize [verbose]              process readies and deliver until nothing moves
//   partition A B | C D … / heal     messages across groups are dropped
//   crash ID / restart ID            crash loses everything not persisted
//   raft-state | status ID | log ID | decided [ID] | check-agreement
import { readFileSync, writeFileSync } from 'node:fs';
import { toHex, utf8 } from '../../codec/index.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner, type KeyPair, type SignatureVerifier } from '../../crypto/index.ts';
import type { KeyObject } from 'node:crypto';
import { DEFAULT_CUTTER_CONFIG } from '../cutter.ts';
import type { DecidedBlock, NodeId, Proposal } from '../engine.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import { RaftEngine, verifyRaftCertificate } from './raft.ts';
import type { Entry, RaftMessage } from './types.ts';

interface SimNode {
  readonly id: NodeId;
  engine: RaftEngine | null;
  readonly storage: MemoryStorage;
  readonly keyPair: KeyPair;
  readonly options: Record<string, unknown>;
  readonly batch: number;
  readonly seed: number;
  restarts: number;
  /** The application's view: digest per decided height (restores set only their height). */
  readonly chain: Map<number, string>;
  readonly blocks: DecidedBlock[];
  appHeight: number;
}

interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: RaftMessage;
}

const STABILIZE_ROUNDS_MAX = 10_000;
const TICKS_MAX = 100_000;

export class RaftCluster {
  readonly nodes = new Map<NodeId, SimNode>();
  private initialMembers: NodeId[] | null = null;
  private queue: InFlight[] = [];
  private groups: Map<NodeId, number> | null = null;
  private readonly seqs = new Map<string, number>();
  private readonly keys = new Map<string, KeyObject>();
  private readonly verifier: SignatureVerifier = directoryVerifier(this.keys);

  addNodes(count: number, options: Record<string, unknown>, batch: number, seed: number): NodeId[] {
    const ids: NodeId[] = [];
    for (let i = 0; i < count; i++) ids.push(String(this.nodes.size + i + 1));
    if (this.initialMembers === null) this.initialMembers = ids;
    for (const id of ids) {
      const keyPair = generateKeyPair();
      this.keys.set(id, keyPair.publicKey);
      const node: SimNode = {
        id, engine: null, storage: new MemoryStorage(), keyPair, options, batch, seed, restarts: 0,
        chain: new Map(), blocks: [], appHeight: 0,
      };
      this.nodes.set(id, node);
      this.start(node);
    }
    return ids;
  }

  private start(node: SimNode): void {
    node.engine = new RaftEngine({
      id: node.id,
      members: this.initialMembers!,
      // A fresh stream per (re)start: a restarted node does not replay its old jitter.
      rng: new SeededRng(node.seed * 7919 + Number.parseInt(node.id, 10) * 104_729 + node.restarts * 15_485_863),
      storage: node.storage,
      signer: keyPairSigner(node.id, node.keyPair),
      verifier: this.verifier,
      cutter: { ...DEFAULT_CUTTER_CONFIG, countMax: node.batch, timeoutTicks: 1 },
      options: node.options,
      appliedHeight: node.appHeight,
    });
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  engine(id: NodeId): RaftEngine {
    const e = this.node(id).engine;
    if (!e) throw new Error(`node ${id} is crashed`);
    return e;
  }

  liveIds(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.engine !== null).map((n) => n.id);
  }

  private connected(a: NodeId, b: NodeId): boolean {
    if (!this.groups) return true;
    return this.groups.get(a) === this.groups.get(b);
  }

  /** Persist and queue the node's Ready; returns the messages it sent. */
  processReady(id: NodeId): InFlight[] {
    const node = this.node(id);
    const engine = node.engine;
    if (!engine) return [];
    const sent: InFlight[] = [];
    while (engine.hasReady()) {
      const rd = engine.ready();
      node.storage.apply(rd.persist);
      for (const out of rd.messages) {
        const m = { from: id, to: out.to, message: out.message };
        sent.push(m);
        this.queue.push(m);
      }
      for (const b of rd.decided) {
        if (b.height !== node.appHeight + 1) throw new Error(`node ${id}: decided height ${b.height} after ${node.appHeight}`);
        if (!verifyRaftCertificate(b, this.verifier) && !engine.options.unsafeCommitPreviousTerm) {
          throw new Error(`node ${id}: block ${b.height} has no valid certificate`);
        }
        node.chain.set(b.height, toHex(b.digest));
        node.blocks.push(b);
        node.appHeight = b.height;
      }
      if (rd.restore) {
        node.chain.set(rd.restore.height, toHex(rd.restore.digest));
        node.appHeight = rd.restore.height;
      }
      engine.advance(rd);
    }
    return sent;
  }

  /** Step every queued message addressed to `to` matching the filter; returns them. */
  deliver(to: NodeId, filter: (m: InFlight) => boolean = () => true): InFlight[] {
    const picked = this.queue.filter((m) => m.to === to && filter(m));
    this.queue = this.queue.filter((m) => !picked.includes(m));
    const engine = this.node(to).engine;
    const delivered: InFlight[] = [];
    for (const m of picked) {
      if (!engine || !this.connected(m.from, m.to)) continue;
      engine.step(m.from, m.message);
      delivered.push(m);
    }
    this.processReady(to);
    return delivered;
  }

  drop(to: NodeId, filter: (m: InFlight) => boolean = () => true): InFlight[] {
    const picked = this.queue.filter((m) => m.to === to && filter(m));
    this.queue = this.queue.filter((m) => !picked.includes(m));
    return picked;
  }

  stabilize(): InFlight[] {
    const log: InFlight[] = [];
    for (let round = 0; round < STABILIZE_ROUNDS_MAX; round++) {
      for (const id of this.liveIds()) this.processReady(id);
      if (this.queue.length === 0) return log;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        const engine = this.nodes.get(m.to)?.engine;
        if (!engine || !this.connected(m.from, m.to)) continue;
        engine.step(m.from, m.message);
        log.push(m);
      }
    }
    throw new Error(`stabilize: still moving after ${STABILIZE_ROUNDS_MAX} rounds`);
  }

  tick(id: NodeId): void {
    this.engine(id).tick();
    this.processReady(id);
  }

  partition(groups: NodeId[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((id) => this.groups!.set(id, i)));
    for (const id of this.nodes.keys()) if (!this.groups.has(id)) this.groups.set(id, groups.length);
  }

  heal(): void {
    this.groups = null;
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    node.engine = null; // its unprocessed Ready (not persisted, not sent) is lost
    this.queue = this.queue.filter((m) => m.to !== id);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.engine) throw new Error(`node ${id} is running`);
    node.restarts += 1;
    this.start(node);
    this.processReady(id);
  }

  propose(id: NodeId, data: string, client = 'c', seq?: number): string {
    const s = seq ?? (this.seqs.get(client) ?? 0) + 1;
    this.seqs.set(client, Math.max(s, this.seqs.get(client) ?? 0));
    const p: Proposal = { clientId: client, seq: s, data: utf8(data) };
    const r = this.engine(id).propose(p);
    return r.accepted ? `${client}#${s} accepted` : `${client}#${s} rejected: ${r.reason}`;
  }

  /** Agreement across all nodes' applications: one digest per height. */
  checkAgreement(): string[] {
    const byHeight = new Map<number, Map<string, NodeId[]>>();
    for (const n of this.nodes.values()) {
      for (const [h, d] of n.chain) {
        const m = byHeight.get(h) ?? new Map<string, NodeId[]>();
        m.set(d, [...(m.get(d) ?? []), n.id]);
        byHeight.set(h, m);
      }
    }
    const problems: string[] = [];
    for (const [h, m] of [...byHeight].sort((a, b) => a[0] - b[0])) {
      if (m.size > 1) {
        problems.push(`height ${h}: ` + [...m].map(([d, ids]) => `${d.slice(0, 8)} on (${ids.join(' ')})`).join(' vs '));
      }
    }
    return problems;
  }
}

// ------------------------------------------------------------------ formatting

function fmtEntry(e: Entry): string {
  const head = `${e.index}/${e.term}`;
  if (e.kind === 'noop') return `${head} noop`;
  if (e.kind === 'conf') return `${head} ${fmtConf(e.conf!)}`;
  return `${head} [${e.proposals.map(fmtProposal).join(' ')}]`;
}

function fmtProposal(p: Proposal): string {
  return `${p.clientId}#${p.seq}:${Buffer.from(p.data).toString('utf8')}`;
}

function fmtConf(c: { voters: readonly string[]; outgoing: readonly string[]; learners: readonly string[] }): string {
  let s = `voters=(${[...c.voters].sort().join(' ')})`;
  if (c.outgoing.length > 0) s += `&&(${[...c.outgoing].sort().join(' ')})`;
  if (c.learners.length > 0) s += ` learners=(${[...c.learners].sort().join(' ')})`;
  return s;
}

export function fmtMessage(m: InFlight): string {
  const msg = m.message;
  const head = `${m.from}->${m.to} ${msg.type.replace(/^raft\//, '')} term=${msg.term}`;
  switch (msg.type) {
    case 'raft/prevote':
    case 'raft/vote':
      return `${head} last=${msg.lastIndex}/${msg.lastTerm}${msg.transfer ? ' transfer' : ''}`;
    case 'raft/prevote-resp':
    case 'raft/vote-resp':
      return `${head}${msg.reject ? ' rejected' : ' granted'}`;
    case 'raft/append':
      return `${head} prev=${msg.prevIndex}/${msg.prevTerm} commit=${msg.commit} entries=[${msg.entries.map(fmtEntry).join(', ')}]`;
    case 'raft/append-resp':
      return msg.reject ? `${head} reject index=${msg.index} hint=${msg.hintIndex}/${msg.hintTerm}` : `${head} index=${msg.index}`;
    case 'raft/heartbeat':
      return `${head} commit=${msg.commit}`;
    case 'raft/snapshot':
      return `${head} snapshot=${msg.snapshot.index}/${msg.snapshot.term} height=${msg.snapshot.height} ${fmtConf(msg.snapshot.conf)}`;
    case 'raft/forward':
      return `${head} [${msg.proposals.map(fmtProposal).join(' ')}]`;
    default:
      return head;
  }
}

function fmtNodeState(c: RaftCluster, id: NodeId): string {
  const n = c.node(id);
  if (!n.engine) return `${id}: crashed`;
  const s = n.engine.raftStatus();
  return `${id}: ${s.role} term=${s.term} lead=${s.lead ?? '-'} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} height=${s.height} ${fmtConf(s.conf)}`;
}

// ------------------------------------------------------------------ interpreter

interface Args {
  readonly positional: string[];
  readonly kv: Map<string, string>;
}

function parseArgs(words: string[]): Args {
  const positional: string[] = [];
  const kv = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq > 0) kv.set(w.slice(0, eq), w.slice(eq + 1));
    else positional.push(w);
  }
  return { positional, kv };
}

function parseValue(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^-?\d+$/.test(v)) return Number.parseInt(v, 10);
  return v;
}

function count(arg: string | undefined, dflt: number): number {
  if (arg === undefined) return dflt;
  const m = /^x(\d+)$/.exec(arg);
  if (!m) throw new Error(`expected xN, got "${arg}"`);
  const n = Number.parseInt(m[1]!, 10);
  if (n > TICKS_MAX) throw new Error(`at most x${TICKS_MAX}`);
  return n;
}

function messageFilter(kv: Map<string, string>): (m: InFlight) => boolean {
  const from = kv.get('from');
  const type = kv.get('type');
  return (m) => (from === undefined || m.from === from) && (type === undefined || m.message.type === `raft/${type}`);
}

export class Interpreter {
  readonly cluster = new RaftCluster();

  run(line: string): string[] {
    const words = line.trim().split(/\s+/);
    const cmd = words.shift()!;
    const { positional, kv } = parseArgs(words);
    const c = this.cluster;
    const id = positional[0];
    const need = (v: string | undefined, what: string): string => {
      if (v === undefined) throw new Error(`${cmd}: missing ${what}`);
      return v;
    };
    const ids = (v: string | undefined): NodeId[] => (v === 'all' ? c.liveIds() : [need(v, 'node id')]);
    switch (cmd) {
      case 'add-nodes': {
        const n = Number.parseInt(need(id, 'count'), 10);
        const options: Record<string, unknown> = {};
        let batch = 1;
        let seed = 1;
        for (const [k, v] of kv) {
          if (k === 'batch') batch = Number.parseInt(v, 10);
          else if (k === 'seed') seed = Number.parseInt(v, 10);
          else options[k] = parseValue(v);
        }
        return [`added ${c.addNodes(n, options, batch, seed).join(' ')}`];
      }
      case 'campaign':
        c.engine(need(id, 'node id')).campaignNow();
        return c.processReady(id!).map(fmtMessage);
      case 'propose': {
        const out = c.propose(need(id, 'node id'), need(positional[1], 'data'), kv.get('client'), kv.has('seq') ? Number(kv.get('seq')) : undefined);
        // ready=no leaves the Ready unprocessed (nothing persisted or sent yet), e.g. before a crash.
        if (kv.get('ready') !== 'no') c.processReady(id!);
        return [out];
      }
      case 'propose-conf-change': {
        const list = (k: string): string[] => (kv.get(k) ?? '').split(',').filter((s) => s.length > 0);
        const r = c.engine(need(id, 'node id')).proposeConfChange({ add: list('add'), remove: list('remove'), addLearners: list('learners') });
        c.processReady(id!);
        return [r.accepted ? `accepted at index ${r.index}` : `rejected: ${r.reason}`];
      }
      case 'reconfigure': {
        const members = (kv.get('members') ?? '').split(',').filter((s) => s.length > 0);
        const r = c.engine(need(id, 'node id')).reconfigure(members);
        c.processReady(id!);
        return [r];
      }
      case 'transfer-leader': {
        const ok = c.engine(need(id, 'node id')).transferLeadership(need(positional[1], 'target'));
        return [ok ? 'transfer started' : 'transfer refused', ...c.processReady(id!).map(fmtMessage)];
      }
      case 'tick': {
        const n = count(positional[1], 1);
        for (let i = 0; i < n; i++) for (const t of ids(id)) c.tick(t);
        return [];
      }
      case 'run': {
        const n = count(positional[0], 1);
        for (let i = 0; i < n; i++) {
          for (const t of c.liveIds()) c.tick(t);
          c.stabilize();
        }
        return [];
      }
      case 'process-ready':
        return ids(id).flatMap((t) => c.processReady(t)).map(fmtMessage);
      case 'deliver-msgs':
        return c.deliver(need(id, 'node id'), messageFilter(kv)).map(fmtMessage);
      case 'drop-msgs':
        return c.drop(need(id, 'node id'), messageFilter(kv)).map((m) => `dropped: ${fmtMessage(m)}`);
      case 'stabilize': {
        const log = c.stabilize();
        return positional[0] === 'verbose' ? log.map(fmtMessage) : [];
      }
      case 'partition': {
        const groups: NodeId[][] = [[]];
        for (const w of positional) {
          if (w === '|') groups.push([]);
          else groups[groups.length - 1]!.push(w);
        }
        c.partition(groups);
        return [];
      }
      case 'heal':
        c.heal();
        return [];
      case 'crash':
        c.crash(need(id, 'node id'));
        return [];
      case 'restart':
        c.restart(need(id, 'node id'));
        return [fmtNodeState(c, id!)];
      case 'raft-state':
        return [...c.nodes.keys()].map((n) => fmtNodeState(c, n));
      case 'status': {
        const s = c.engine(need(id, 'node id')).raftStatus();
        const lines = [fmtNodeState(c, id!), `vote=${s.vote ?? '-'} first=${s.firstIndex} snapshot=${s.snapshotIndex} submitted=${s.submitted}`];
        for (const [pid, p] of s.progress) {
          lines.push(`  ${pid}: ${p.state} match=${p.match} next=${p.next}${p.inflight ? ` inflight=${p.inflight}` : ''}${p.paused ? ' paused' : ''}`);
        }
        return lines;
      }
      case 'log': {
        const e = c.engine(need(id, 'node id'));
        const s = e.raftStatus();
        const lines = e.entries(s.firstIndex, s.lastIndex).map(fmtEntry);
        return lines.length > 0 ? lines : [`(empty, snapshot at ${s.snapshotIndex})`];
      }
      case 'decided': {
        const which = id === undefined ? [...c.nodes.keys()] : [id];
        return which.map((n) => {
          const node = c.node(n);
          const blocks = node.blocks.map((b) => `${b.height}:[${b.proposals.map(fmtProposal).join(' ')}]`);
          return `${n}: height=${node.appHeight} ${blocks.join(' ')}`.trimEnd();
        });
      }
      case 'check-agreement': {
        const problems = c.checkAgreement();
        return problems.length === 0 ? ['agreement: ok'] : ['agreement: VIOLATED', ...problems];
      }
      default:
        throw new Error(`unknown command "${cmd}"`);
    }
  }
}

export interface ScriptResult {
  readonly mismatches: { line: number; command: string; expected: string; actual: string }[];
  readonly rewritten: string;
}

/** Run a script; returns the mismatches and the script text with actual outputs filled in. */
export function runScript(text: string): ScriptResult {
  const lines = text.split('\n');
  const out: string[] = [];
  const mismatches: ScriptResult['mismatches'] = [];
  const interp = new Interpreter();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      out.push(line);
      i += 1;
      continue;
    }
    const command = line;
    const lineNo = i + 1;
    if (lines[i + 1] !== '----') throw new Error(`line ${lineNo + 1}: expected "----" after command "${command}"`);
    i += 2;
    const expected: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') expected.push(lines[i++]!);
    let actual: string[];
    try {
      actual = interp.run(command);
    } catch (err) {
      actual = [`error: ${(err as Error).message}`];
    }
    if (actual.length === 0) actual = ['ok'];
    if (actual.join('\n') !== expected.join('\n')) {
      mismatches.push({ line: lineNo, command, expected: expected.join('\n'), actual: actual.join('\n') });
    }
    out.push(command, '----', ...actual);
  }
  return { mismatches, rewritten: out.join('\n') };
}

export function runScriptFile(path: string, rewrite: boolean): ScriptResult {
  const text = readFileSync(path, 'utf8');
  const result = runScript(text);
  if (rewrite && result.rewritten !== text) writeFileSync(path, result.rewritten);
  return result;
}
