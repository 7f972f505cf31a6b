// The engine contract every consensus algorithm implements (DESIGN §3, after etcd/raft).
//
// An engine is a deterministic state machine. Its only inputs are `tick()`, `step(from, msg)`
// and `propose(proposal)`; its only output is a `Ready` batch. It owns no timers, no clock, no
// randomness (a seeded `Rng` is injected), no file system and no network. The same code runs
// under the simulator (virtual time) and inside a node (real clock, mTLS transport, fsync'd WAL).
//
// Driver loop:
//   while (engine.hasReady()) {
//     const rd = engine.ready();
//     send(rd.messages.slice(0, rd.earlyMessages ?? 0));   // may leave before persist (below)
//     storage.apply(rd.persist);   // MUST be durable before any other message of rd is sent
//     send(rd.messages.slice(rd.earlyMessages ?? 0));
//     deliver(rd.decided); if (rd.restore) restoreApp(rd.restore);
//     engine.advance(rd);
//   }
import type { Bytes } from '../codec/index.ts';
import type { Signer } from '../crypto/index.ts';

export type NodeId = string;

/** A client request to be ordered. (clientId, seq) identifies it; engines never decide it twice. */
export interface Proposal {
  /** Who submits (a gateway, a simulated client). */
  readonly clientId: string;
  /** Strictly increasing per client, starting at 1 (PBFT's client timestamp). */
  readonly seq: number;
  /** Opaque bytes: a signed transaction envelope, in a real node. */
  readonly data: Bytes;
}

/** One signature in a certificate. */
export interface CertificateSignature {
  readonly nodeId: NodeId;
  readonly signature: Bytes;
}

/**
 * Proof that a block was decided, as far as the engine can give one. Crash-fault engines (solo,
 * raft) give a leader signature or none; BFT engines give a quorum (2f+1) of signatures over the
 * `signedFields` they list. `verifyCertificate` of the engine's module checks it.
 */
export interface Certificate {
  /** e.g. 'raft-leader', 'pbft-commit', 'gpbft-bundle', 'ehbft-commit', 'hashgen-seal'. */
  readonly scheme: string;
  /** Engine-specific fields that were signed besides the block digest (view, term, nonce…). */
  readonly fields: Readonly<Record<string, number | string | Bytes>>;
  readonly signatures: readonly CertificateSignature[];
}

/** A decided block: an ordered batch of proposals at a height (1, 2, 3, … with no gaps). */
export interface DecidedBlock {
  readonly height: number;
  readonly proposals: readonly Proposal[];
  /** blockDigest(height, previousDigest, proposals) — chains decided blocks together. */
  readonly digest: Bytes;
  readonly previousDigest: Bytes;
  readonly certificate: Certificate | null;
  /**
   * What else the engine needs to serve this block to a node that catches up, kept by the
   * application beside the block (ledger metadata, outside the block hash) and handed back through
   * EngineContext.archive (EH-BFT: the block's metadata, which its certificate signs by digest).
   */
  readonly extra?: Bytes;
}

/**
 * The application's copy of the blocks this node decided (the ledger), read by an engine to serve
 * a node that is behind by more than the blocks the engine itself retains — a hospital that joins a
 * long chain replays it from genesis (decided-chain.ts). Reads are synchronous, like DurableState's.
 */
export interface DecidedArchive {
  /** The decided block of this height as the application stored it, or undefined. */
  decided(height: number): DecidedBlock | undefined;
}

/** A durable write the driver must make before sending the Ready's messages. */
export type PersistOp =
  | { readonly op: 'put'; readonly key: string; readonly value: Bytes }
  | { readonly op: 'delete'; readonly key: string }
  /** Delete every key starting with prefix (log truncation, compaction). */
  | { readonly op: 'deletePrefix'; readonly prefix: string };

/** What an engine finds on restart: the keys it persisted before the crash, nothing else. */
export interface DurableState {
  get(key: string): Bytes | undefined;
  /** Keys with this prefix in ascending (UTF-16 code unit) order. */
  keysWithPrefix(prefix: string): readonly string[];
}

export interface Outbound<M> {
  readonly to: NodeId;
  readonly message: M;
}

/**
 * The application must replace its state by "everything up to `height`", whose last digest is
 * `digest` (snapshot install in Raft, state transfer in PBFT). The driver fetches the missing
 * blocks from peers (node runtime: block sync; simulator: from a correct node) and checks them
 * against `digest`. Decided blocks after this continue at height + 1.
 */
export interface RestoreRequest {
  readonly height: number;
  readonly digest: Bytes;
}

export interface Ready<M> {
  readonly persist: readonly PersistOp[];
  readonly messages: readonly Outbound<M>[];
  /**
   * How many of `messages`, from the start, do not depend on `persist` being durable and may be
   * sent before or while it is written (a Raft leader's appends: its own new entries are written
   * in parallel with replication, thesis §10.2.1, decision 1360). Absent or 0: none. A driver that
   * ignores it and sends everything after the persist is also correct, only slower. The engine
   * learns that `persist` is durable from advance(), and only then relies on it.
   */
  readonly earlyMessages?: number;
  /**
   * The engine holds notices back that a message it will probably send soon carries anyway (a
   * Raft leader's commit index, decision 1405). The driver calls engine.flushNotices() once
   * NOTICES_HOLD_MS after the first Ready that says so (not again while that call is pending);
   * whatever is still untold then goes out in the next Ready. A Ready that says false (the
   * message came first and carried them) calls the pending call off (decision 1416). Never needed
   * for safety: without the call the engine tells them with its next message of that kind or tick.
   */
  readonly noticesHeld?: boolean;
  readonly decided: readonly DecidedBlock[];
  readonly restore: RestoreRequest | null;
}

export type ProposeResult =
  { readonly accepted: true } | { readonly accepted: false; readonly reason: 'queue-full' | 'not-member' | 'too-large' | 'stopped' | 'invalid' };

export interface EngineStatus {
  readonly id: NodeId;
  /** 'leader' | 'follower' | 'candidate' | 'primary' | 'backup' | 'acceptor' | 'verifier' … */
  readonly role: string;
  /** The node this one believes leads / is primary, if any. */
  readonly leader: NodeId | null;
  /** Raft term, PBFT view, or the engine's equivalent epoch. */
  readonly epoch: number;
  readonly decidedHeight: number;
  readonly members: readonly NodeId[];
}

/**
 * Every message has a `type` (its phase), used for metrics and routing. Messages are plain
 * DAG-CBOR-encodable objects (no undefined, no class instances, integers not floats) because the
 * transport encodes them with codec.encode and the simulator measures their encoded bytes.
 */
export interface EngineMessage {
  readonly type: string;
}

export interface Engine<M extends EngineMessage = EngineMessage> {
  readonly id: NodeId;
  /** Advance logical time by one tick (the driver decides how long a tick is). */
  tick(): void;
  /** Handle a message from a peer. Malformed or unauthenticated messages are dropped, never thrown. */
  step(from: NodeId, message: M): void;
  /** Submit a proposal; followers/backups forward it to the leader/primary. */
  propose(proposal: Proposal): ProposeResult;
  hasReady(): boolean;
  /** The pending batch. Calling it twice without advance() returns the same batch. */
  ready(): Ready<M>;
  /** The driver has persisted, sent and applied `ready`. */
  advance(ready: Ready<M>): void;
  status(): EngineStatus;
  /**
   * Optional, for engines whose member set can change at runtime (Raft): move the members toward
   * `members` (the orderer set of the configuration in force, decided on the ledger by a config
   * transaction). The driver calls it on every tick; the engine takes one safe step at a time
   * and says where it stands. Engines without it have a fixed member set.
   */
  reconfigure?(members: readonly NodeId[], profiles?: Readonly<Record<NodeId, MemberProfile>>): ReconfigureResult;
  /** Optional: tell the notices a Ready said were held (Ready.noticesHeld); see there. */
  flushNotices?(): void;
}

/**
 * How long a driver lets an engine hold notices back (Ready.noticesHeld, decision 1405): long
 * enough for the next request of a client waiting on the answer to arrive (its entry then carries
 * them), short against a block's commit latency at the nodes that learn from the notice.
 */
export const NOTICES_HOLD_MS = 2;

/**
 * What the configuration says of a member besides its id, for engines that place or rank members
 * (gpbft: a joiner's position and rating, paper 002). Engines that do not need it ignore it.
 */
export interface MemberProfile {
  readonly lat?: number;
  readonly lon?: number;
  readonly rating?: number;
}

/** 'settled': the members are `members`; 'stepping': a change is under way (or must wait for
 *  a newcomer to catch up); 'not-leader': only the leader changes the membership. */
export type ReconfigureResult = 'settled' | 'stepping' | 'not-leader';

/** Seeded randomness injected into engines (election jitter). Never Math.random. */
export interface Rng {
  /** Uniform integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
  /** Uniform float in [0, 1). */
  nextFloat(): number;
}

export class EngineAssertionError extends Error {
  override readonly name = 'EngineAssertionError';
}

/** TigerBeetle-style invariant check: a violated invariant is a bug, so stop loudly. */
export function assertInvariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new EngineAssertionError(`invariant violated: ${message}`);
}

export const EMPTY_READY: Ready<never> = Object.freeze({
  persist: Object.freeze([]),
  messages: Object.freeze([]),
  decided: Object.freeze([]),
  restore: null,
});

/**
 * What an engine module offers the simulator to play a Byzantine node with its own (valid) key:
 * a Byzantine node runs the real engine and tampers with what it sends. Each hook returns a new
 * message (never mutates its input), or null when the message has nothing to tamper with.
 */
export interface ByzantineSupport<M extends EngineMessage> {
  /** Re-sign a message as `signer` (a Byzantine node can sign anything with its own key). */
  resign(message: M, signer: Signer): M;
  /** A conflicting variant of a proposing message (pre-prepare, append…) for equivocation. */
  equivocate(message: M, rng: Rng, signer: Signer): M | null;
  /** A re-signed copy with a field off by one (view, sequence) or a wrong digest. */
  mutate(message: M, rng: Rng, signer: Signer): M | null;
  /**
   * The same signed statement without the unsigned data that should back it (a lock reported
   * without its block, decisions 1394 and 1395), or null when the message carries none. A concealing
   * node does it to every message, so a protocol that waits for the missing data waits for ever.
   */
  conceal?(message: M): M | null;
}
