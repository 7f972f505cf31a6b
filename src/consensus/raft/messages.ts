// Raft wire and storage types, and their validation. Every message a peer sends is checked
// field by field here before the engine looks at it: a malformed message is dropped (step()
// never throws on peer input). Types are plain DAG-CBOR-encodable objects (no undefined).
import type { Bytes } from '../../codec/index.ts';
import type { NodeId, Proposal } from '../engine.ts';
import { DEDUP_WINDOW_MAX } from '../dedup.ts';

/** A membership configuration. `outgoing` is non-empty only in the joint configuration C_old,new. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly outgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** The leader's signature over (term, height, digest) of the block an entry will become. */
export interface EntryCert {
  readonly leader: NodeId;
  readonly height: number;
  readonly digest: Bytes;
  readonly signature: Bytes;
}

/**
 * A leader's signature of the block an entry becomes, made after the entry left (decision 1414):
 * it travels with the commit index that lets a follower apply the entry. Since then an entry's own
 * `cert.signature` is empty; entries cut before carry it there.
 */
export interface EntrySig {
  readonly index: number;
  readonly term: number;
  readonly signature: Bytes;
}

export type EntryKind = 'normal' | 'noop' | 'conf';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly kind: EntryKind;
  /** The batch cut by the leader's BlockCutter (normal entries only). */
  readonly proposals: readonly Proposal[];
  /** The configuration this entry installs (conf entries only). */
  readonly conf: ConfState | null;
  readonly cert: EntryCert | null;
}

export type DedupJson = Array<[string, number, number[]]>;

/** A snapshot of the applied state at `index`: enough to resume without the log before it. */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
  /** Decided height and last block digest at `index`. */
  readonly height: number;
  readonly digest: Bytes;
  readonly dedup: DedupJson;
}

export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
  /** Highest log index whose decided blocks were handed out in a Ready. */
  readonly applied: number;
}

export type VoteType = 'raft/prevote' | 'raft/vote';
export type VoteRespType = 'raft/prevote-resp' | 'raft/vote-resp';

export type RaftMessage =
  | { readonly type: VoteType; readonly term: number; readonly lastIndex: number; readonly lastTerm: number; readonly transfer: boolean }
  | { readonly type: VoteRespType; readonly term: number; readonly reject: boolean }
  | {
      readonly type: 'raft/append';
      readonly term: number;
      readonly prevIndex: number;
      readonly prevTerm: number;
      readonly entries: readonly Entry[];
      readonly commit: number;
      /** Block signatures of entries up to `commit` not yet sent to this follower (decision 1414). */
      readonly sigs?: readonly EntrySig[];
    }
  | {
      readonly type: 'raft/append-resp';
      readonly term: number;
      /** Accepted: the follower's last matching index. Rejected: the rejected prevIndex. */
      readonly index: number;
      readonly reject: boolean;
      /** Fast backtracking: the largest index <= min(prevIndex, last) whose term <= the leader's prevTerm. */
      readonly hintIndex: number;
      readonly hintTerm: number;
    }
  | { readonly type: 'raft/heartbeat'; readonly term: number; readonly commit: number }
  /**
   * The leader's new commit index for a follower that has been sent every entry (decision 1370):
   * an append without entries whose success needs no answer. The follower checks prevIndex/prevTerm
   * as for an append; if they match it commits up to min(commit, prevIndex) and stays silent,
   * otherwise it rejects as it would the append (so the leader backtracks).
   */
  | {
      readonly type: 'raft/commit';
      readonly term: number;
      readonly prevIndex: number;
      readonly prevTerm: number;
      readonly commit: number;
      readonly sigs?: readonly EntrySig[];
    }
  | { readonly type: 'raft/heartbeat-resp'; readonly term: number }
  | { readonly type: 'raft/snapshot'; readonly term: number; readonly snapshot: Snapshot }
  | { readonly type: 'raft/timeout-now'; readonly term: number }
  | { readonly type: 'raft/forward'; readonly term: number; readonly proposals: readonly Proposal[] };

// Hard caps for anything a peer can send (the engine's own limits are lower).
export const NODE_ID_LENGTH_MAX = 256;
export const CLIENT_ID_LENGTH_MAX = 256;
export const MESSAGE_ENTRIES_MAX = 10_000;
/** Block signatures in one append or commit notice (a follower far behind gets the rest as it catches up, or certifies itself). */
export const MESSAGE_SIGS_MAX = 1024;
export const ENTRY_PROPOSALS_MAX = 100_000;
export const CONF_NODES_MAX = 1024;
export const SNAPSHOT_DEDUP_CLIENTS_MAX = 1_000_000;
export const SIGNATURE_BYTES_MAX = 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
export function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
export function isNodeId(v: unknown): v is NodeId {
  return typeof v === 'string' && v.length > 0 && v.length <= NODE_ID_LENGTH_MAX;
}
function isBytes(v: unknown, max: number): v is Bytes {
  return v instanceof Uint8Array && v.byteLength <= max;
}

export function validProposal(v: unknown): Proposal | null {
  if (!isObject(v)) return null;
  const { clientId, seq, data } = v;
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > CLIENT_ID_LENGTH_MAX) return null;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return null;
  if (!(data instanceof Uint8Array)) return null;
  return { clientId, seq, data };
}

function validNodeList(v: unknown): NodeId[] | null {
  if (!Array.isArray(v) || v.length > CONF_NODES_MAX) return null;
  const out: NodeId[] = [];
  for (const id of v) {
    if (!isNodeId(id) || out.includes(id)) return null;
    out.push(id);
  }
  return out;
}

export function validConf(v: unknown): ConfState | null {
  if (!isObject(v)) return null;
  const voters = validNodeList(v.voters);
  const outgoing = validNodeList(v.outgoing);
  const learners = validNodeList(v.learners);
  if (!voters || !outgoing || !learners || voters.length === 0) return null;
  // A learner is never a voter of either half (etcd's rule; keeps quorum math unambiguous).
  if (learners.some((l) => voters.includes(l) || outgoing.includes(l))) return null;
  return { voters, outgoing, learners };
}

function validCert(v: unknown): EntryCert | null {
  if (!isObject(v)) return null;
  const { leader, height, digest, signature } = v;
  if (!isNodeId(leader) || !isIndex(height) || height < 1) return null;
  if (!isBytes(digest, 64) || !isBytes(signature, SIGNATURE_BYTES_MAX)) return null;
  return { leader, height, digest, signature };
}

export function validEntry(v: unknown): Entry | null {
  if (!isObject(v)) return null;
  const { term, index, kind } = v;
  if (!isIndex(term) || !isIndex(index) || index < 1 || term < 1) return null;
  if (kind === 'noop') {
    if (!Array.isArray(v.proposals) || v.proposals.length !== 0 || v.conf !== null || v.cert !== null) return null;
    return { term, index, kind, proposals: [], conf: null, cert: null };
  }
  if (kind === 'conf') {
    const conf = validConf(v.conf);
    if (!conf || !Array.isArray(v.proposals) || v.proposals.length !== 0 || v.cert !== null) return null;
    return { term, index, kind, proposals: [], conf, cert: null };
  }
  if (kind !== 'normal' || v.conf !== null) return null;
  if (!Array.isArray(v.proposals) || v.proposals.length === 0 || v.proposals.length > ENTRY_PROPOSALS_MAX) return null;
  const proposals: Proposal[] = [];
  for (const p of v.proposals) {
    const ok = validProposal(p);
    if (!ok) return null;
    proposals.push(ok);
  }
  const cert = v.cert === null ? null : validCert(v.cert);
  if (v.cert !== null && cert === null) return null;
  return { term, index, kind, proposals, conf: null, cert };
}

function validDedup(v: unknown): DedupJson | null {
  if (!Array.isArray(v) || v.length > SNAPSHOT_DEDUP_CLIENTS_MAX) return null;
  const out: DedupJson = [];
  for (const row of v) {
    if (!Array.isArray(row) || row.length !== 3) return null;
    const [client, low, above] = row as unknown[];
    if (typeof client !== 'string' || !isIndex(low) || !Array.isArray(above) || above.length > DEDUP_WINDOW_MAX + 1) return null;
    if (!above.every((s) => isIndex(s) && s > low)) return null;
    out.push([client, low, above as number[]]);
  }
  return out;
}

export function validSnapshot(v: unknown): Snapshot | null {
  if (!isObject(v)) return null;
  const { index, term, height, digest } = v;
  if (!isIndex(index) || !isIndex(term) || !isIndex(height) || !isBytes(digest, 64)) return null;
  if (index < 1 || term < 1) return null;
  const conf = validConf(v.conf);
  const dedup = validDedup(v.dedup);
  if (!conf || !dedup) return null;
  return { index, term, conf, height, digest, dedup };
}

export function validHardState(v: unknown): HardState | null {
  if (!isObject(v)) return null;
  const { term, vote, commit, applied } = v;
  if (!isIndex(term) || !isIndex(commit) || !isIndex(applied)) return null;
  if (vote !== null && !isNodeId(vote)) return null;
  return { term, vote, commit, applied };
}

/** Absent (a node before decision 1414, or nothing to send): none. Null when malformed. */
function validSigs(v: unknown): EntrySig[] | null {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MESSAGE_SIGS_MAX) return null;
  const out: EntrySig[] = [];
  for (const s of v) {
    if (!isObject(s)) return null;
    const { index, term, signature } = s;
    if (!isIndex(index) || index < 1 || !isIndex(term) || term < 1 || !isBytes(signature, SIGNATURE_BYTES_MAX)) return null;
    out.push({ index, term, signature });
  }
  return out;
}

/** The message, re-built from checked fields only, or null when anything is malformed. */
export function validMessage(v: unknown): RaftMessage | null {
  if (!isObject(v) || typeof v.type !== 'string' || !isIndex(v.term)) return null;
  const term = v.term;
  switch (v.type) {
    case 'raft/prevote':
    case 'raft/vote':
      if (!isIndex(v.lastIndex) || !isIndex(v.lastTerm) || typeof v.transfer !== 'boolean') return null;
      return { type: v.type, term, lastIndex: v.lastIndex, lastTerm: v.lastTerm, transfer: v.transfer };
    case 'raft/prevote-resp':
    case 'raft/vote-resp':
      if (typeof v.reject !== 'boolean') return null;
      return { type: v.type, term, reject: v.reject };
    case 'raft/append': {
      if (!isIndex(v.prevIndex) || !isIndex(v.prevTerm) || !isIndex(v.commit)) return null;
      if (!Array.isArray(v.entries) || v.entries.length > MESSAGE_ENTRIES_MAX) return null;
      const entries: Entry[] = [];
      let expected = v.prevIndex + 1;
      for (const raw of v.entries) {
        const e = validEntry(raw);
        // Entries must be contiguous after prevIndex and never older than the message's term.
        if (!e || e.index !== expected || e.term > term) return null;
        if (entries.length > 0 && e.term < entries[entries.length - 1]!.term) return null;
        entries.push(e);
        expected += 1;
      }
      const sigs = validSigs(v.sigs);
      if (!sigs) return null;
      return { type: v.type, term, prevIndex: v.prevIndex, prevTerm: v.prevTerm, entries, commit: v.commit, sigs };
    }
    case 'raft/append-resp':
      if (!isIndex(v.index) || typeof v.reject !== 'boolean' || !isIndex(v.hintIndex) || !isIndex(v.hintTerm)) return null;
      return { type: v.type, term, index: v.index, reject: v.reject, hintIndex: v.hintIndex, hintTerm: v.hintTerm };
    case 'raft/heartbeat':
      if (!isIndex(v.commit)) return null;
      return { type: v.type, term, commit: v.commit };
    case 'raft/commit': {
      if (!isIndex(v.prevIndex) || !isIndex(v.prevTerm) || !isIndex(v.commit)) return null;
      const sigs = validSigs(v.sigs);
      if (!sigs) return null;
      return { type: v.type, term, prevIndex: v.prevIndex, prevTerm: v.prevTerm, commit: v.commit, sigs };
    }
    case 'raft/heartbeat-resp':
    case 'raft/timeout-now':
      return { type: v.type, term };
    case 'raft/snapshot': {
      const snapshot = validSnapshot(v.snapshot);
      if (!snapshot) return null;
      return { type: v.type, term, snapshot };
    }
    case 'raft/forward': {
      if (!Array.isArray(v.proposals) || v.proposals.length > ENTRY_PROPOSALS_MAX) return null;
      const proposals: Proposal[] = [];
      for (const p of v.proposals) {
        const ok = validProposal(p);
        if (!ok) return null;
        proposals.push(ok);
      }
      return { type: v.type, term, proposals };
    }
    default:
      return null;
  }
}

/** Approximate encoded size of an entry (flow control budgets, not exact wire bytes). */
export function entrySizeBytes(e: Entry): number {
  let n = 24;
  for (const p of e.proposals) n += p.data.byteLength + p.clientId.length + 16;
  if (e.cert) n += e.cert.signature.byteLength + e.cert.digest.byteLength + e.cert.leader.length + 8;
  if (e.conf) n += 8 * (e.conf.voters.length + e.conf.outgoing.length + e.conf.learners.length);
  return n;
}

export function confNodes(conf: ConfState): NodeId[] {
  const all = new Set<NodeId>([...conf.voters, ...conf.outgoing, ...conf.learners]);
  return [...all].sort();
}

export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.outgoing.includes(id);
}
