// What a running node offers its client-facing API (src/api): the seam between the node process
// (src/node/node.ts: transport, consensus, ledger) and the REST gateway. The API never touches
// transport or storage directly; the in-process network can implement the same interface, so the
// API is testable without sockets.
import type { Bytes } from '../codec/index.ts';
import type { EngineStatus } from '../consensus/engine.ts';
import type { Msp, Policy } from '../identity/index.ts';
import type { StoredBlock } from '../ledger/block.ts';
import type { BlockCommitEvent } from '../ledger/ledger.ts';
import type { ConfigState } from '../ledger/config-update.ts';
import type { SignedProposal } from '../ledger/tx.ts';
import type { EndorserClient } from './gateway.ts';
import type { NodeMetrics } from './metrics.ts';
import type { BroadcastResult, ControlRequest, ControlRequester, ControlResult, KnownTx } from './orderer.ts';
import type { EvaluateResponse, TxStatusEvent } from './peer.ts';

export interface NodeStatus {
  readonly nodeId: string;
  readonly org: string;
  readonly roles: readonly ('peer' | 'orderer')[];
  /** Consensus view of this node's orderer (null for a peer-only node). */
  readonly consensus: (EngineStatus & { readonly engine: string }) | null;
  readonly height: number;
  readonly lastBlockHashHex: string;
  readonly stateHashHex: string;
  /** Other nodes this node currently has a live outbound connection to. */
  readonly connectedPeers: readonly string[];
  readonly startedAtMs: number;
  /** Sequence of the consortium config in force on this node (0 = genesis). */
  readonly configSequence: number;
  /** True while a newly added hospital's node catches up to the config update that admits it. */
  readonly joining: boolean;
  /** The node-to-node protocol it speaks (node/protocol.ts): nodes of different protocols keep no connection. */
  readonly protocol: string;
  /** The consortium's identity: the hash of its genesis block (hex), e.g. what a gpbft rating signs (decision 1387). */
  readonly genesisHashHex: string;
}

/** Another node as this node sees it (GET /v1/network): reachable over mTLS, and its own status. */
export interface PeerStatus {
  readonly nodeId: string;
  readonly org: string;
  readonly roles: readonly ('peer' | 'orderer')[];
  readonly apiUrl: string;
  readonly reachable: boolean;
  /** Round trip of the status request over the node-to-node link; null when unreachable. */
  readonly latencyMs: number | null;
  readonly status: NodeStatus | null;
  readonly error: string | null;
}

const STATUS_ANSWER_BYTES_MAX = 64 * 1024;

/** A peer's answer on the 'status' channel, checked for the fields the network view shows. */
export function parsePeerStatus(bytes: Bytes): NodeStatus {
  if (bytes.byteLength > STATUS_ANSWER_BYTES_MAX) throw new Error(`status answer of ${bytes.byteLength} bytes (at most ${STATUS_ANSWER_BYTES_MAX})`);
  const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<NodeStatus> | null;
  const ok =
    value !== null &&
    typeof value === 'object' &&
    typeof value.nodeId === 'string' &&
    typeof value.org === 'string' &&
    Array.isArray(value.roles) &&
    Number.isSafeInteger(value.height) &&
    typeof value.lastBlockHashHex === 'string' &&
    typeof value.stateHashHex === 'string' &&
    Array.isArray(value.connectedPeers) &&
    value.connectedPeers.every((p) => typeof p === 'string') &&
    Number.isSafeInteger(value.startedAtMs) &&
    Number.isSafeInteger(value.configSequence) &&
    typeof value.joining === 'boolean' &&
    typeof value.protocol === 'string' &&
    (value.consensus === null || (typeof value.consensus === 'object' && typeof value.consensus?.engine === 'string'));
  if (!ok) throw new Error('malformed status answer');
  return value as NodeStatus;
}

export interface NodeServices {
  readonly nodeId: string;
  readonly org: string;
  /** The consortium's identity: its genesis block hash, hex (decisions 1387, 1389). */
  readonly genesisHashHex: string;
  /** Authenticates API clients (certificate chain, validity, revocation, role). */
  readonly msp: Msp;
  /** contract → endorsement policy, from the current consortium configuration. */
  policies(): ReadonlyMap<string, Policy>;
  /** Endorsers to collect from: this node's peer first, then other organisations' peers. */
  endorsers(): readonly EndorserClient[];
  /** Evaluate (query) on this node's peer. */
  evaluate(signed: SignedProposal): Promise<EvaluateResponse>;
  /**
   * Hand a signed transaction envelope to the ordering service. An orderer refuses a txId it
   * knows (committed, ordered or pending) with `duplicate` (decision 1003).
   */
  broadcast(envelope: Bytes): Promise<BroadcastResult>;
  /** What this node knows of a txId without waiting: committed in its ledger, or ordered/pending at its orderer. */
  knownTx(txId: string): KnownTx | null;
  /** Resolves when the transaction is committed on this node's peer (or rejects on timeout). */
  waitForTx(txId: string, timeoutMs: number): Promise<TxStatusEvent>;
  /** A committed block with this peer's validation codes, or null past the height. */
  getBlock(number: number): StoredBlock | null;
  height(): number;
  /**
   * Blocks committed from now on whose number is ≥ `fromNumber`; returns unsubscribe. Callers that
   * need older blocks replay them with getBlock first (the REST event stream does).
   */
  subscribeBlocks(fromNumber: number, listener: (event: BlockCommitEvent) => void): () => void;
  status(): NodeStatus;
  /** The consortium config in force on this node and the state version it is stored at. */
  configState(): ConfigState;
  /** Every node of the config in force: reachable or not, and its status (bounded wait). */
  networkStatus(): Promise<PeerStatus[]>;
  /** Whether the node can serve its users now (readiness, distinct from liveness), and why not. */
  readiness(): Readiness;
  /** Prometheus metrics of this node (GET /metrics), if it keeps any. */
  readonly metrics?: NodeMetrics;
  /** gpbft's node update by an admin (rating, leave), through this node's orderer (decision 1280). */
  gpbftControl(request: ControlRequest, by: ControlRequester): ControlResult;
  /** The node's log level, changeable at runtime by an admin of its organisation. */
  logLevel: string;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not, one line each (empty when ready). */
  readonly reasons: readonly string[];
}
