// The ordering node (DESIGN §4 step 4), transport-agnostic: it drives any consensus engine from
// the registry through the Ready contract, turns decided blocks into signed ledger blocks, keeps
// its own copy of the chain, and delivers blocks to subscribers (peers) in order.
//
// Driver loop (src/consensus/engine.ts):
//   while engine.hasReady():
//     rd = engine.ready()
//     send(rd.messages[0, rd.earlyMessages))   a Raft leader's appends: they leave while its own
//                                    copy is written (decision 1360; it counts itself once durable)
//     wal.apply(rd.persist)          fsync'd BEFORE any other message of rd leaves this node
//     send(the rest of rd.messages)  to the other orderers (none for a single solo orderer)
//     for each decided block: build the ledger block, sign it, append it (fsync), notify delivery
//     engine.advance(rd)
// It runs at once after a consensus message or a tick, and at the end of the event-loop turn after
// a broadcast (driveSoon, decision 1372), so that transactions arriving together are cut together.
//
// Restart: the engine is created with appliedHeight = the last block in this orderer's store, so
// an engine that decided a block which never reached the store re-emits it (solo does).
//
// Configuration: the orderer starts from the config in force (the node reads it from its
// validated ledger) and is told of each committed config update (setConfig). From it come the
// admission MSP, the orderer keys that fetched blocks may be signed with (every orderer it has
// known: blocks before a removal were signed by the removed one), and — for engines with
// Engine.reconfigure (Raft) — the member set the engine is moved toward on every tick. An
// orderer that is not (or no longer, or not yet) in the orderer set of the config in force does
// not sign blocks of its own: it fetches each decided block from the configured orderers, so
// every block it stores carries a signature peers accept.
//
// Admission (broadcast): size bound, decodable envelope, proposal timestamp within the skew bound
// of this orderer's clock (which bounds the block timestamp rule, block.ts), a txId this orderer
// does not already know (below), creator certificate valid now and envelope signature valid
// (Fabric's orderer signature filter). Peers re-check all of it at validation; the filter keeps
// garbage out of blocks.
//
// Duplicate txIds (decision 1003): a transaction resubmitted after a lost answer, or replayed by
// anyone who saw its envelope, would otherwise be ordered again and sit in every hospital's
// ledger as another DUPLICATE_TXID copy. The orderer refuses a txId that is committed (its
// node's ledger index), in a block it stored recently, or pending (admitted by it and not yet
// in a block), answering with what it knows so the gateway can report the truth. Pending ones
// are forgotten when they reach a block, or once their timestamp leaves the skew window (from
// then on admission refuses them anyway); the engines keep an admitted proposal until it is
// decided (decision 0403), so "pending" stays true until then, short of a crash, which empties
// both. Both sets are bounded.
import { join } from 'node:path';
import { bytesEqual, sha256, toHex, utf8, type Bytes } from '../codec/index.ts';
import '../consensus/engines.ts';
import { getEngine } from '../consensus/registry.ts';
import {
  assertInvariant,
  type DecidedBlock,
  type Engine,
  type EngineMessage,
  type EngineStatus,
  type MemberProfile,
  type NodeId,
  type Proposal,
} from '../consensus/engine.ts';
import { CONTROL_CLIENT_PREFIX, encodeControl, leaveSignedBytes, RATING_SIGNED_FORM, rateClientId, type RatingAuthority } from '../consensus/gpbft/config.ts';
import { gpbftRatingAuthority, RATING_NONCE_WINDOW_MS } from './gpbft-rating.ts';
import type { Signer } from '../crypto/index.ts';
import { SeededRng } from '../consensus/rng.ts';
import { Msp } from '../identity/index.ts';
import { directoryVerifier, keyPairSigner, parsePrivateKey, signAndRemember } from '../crypto/index.ts';
import type { VerifyFn } from '../ledger/sigcache.ts';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { blockHash, buildHeader, dataHash, decodeBlock, encodeBlock, ordererSignedBytes, type Block, type BlockHeader } from '../ledger/block.ts';
import { BlockStore, BlockStoreError } from '../ledger/blockstore.ts';
import { configOfGenesis, mspConfigOf, type ConsortiumConfig } from '../ledger/config.ts';
import { LEDGER_LIMITS } from '../ledger/limits.ts';
import type { ValidationCode } from '../ledger/codes.ts';
import { parseTx } from '../ledger/tx.ts';
import { validationContextFromConfig, wrongConsortium, type ValidationContext } from '../ledger/validator.ts';
import { WriteAheadLog } from './wal.ts';
import { HeldNoticesTimer } from './held-notices.ts';
import { insertedRecordKey } from '../contracts/health/record-insert.ts';
import { verifyBatchable } from '../crypto/batch-signature.ts';

/**
 * The engine options of the genesis config, plus what only code can give: EH-BFT's leader checks
 * each proposal against the health records it inserts (paper 001 enhancement b), so the node hands
 * it the function that reads that record from a transaction's read/write set.
 */
function engineOptions(config: ConsortiumConfig, ratingAuthority: RatingAuthority): { options?: Readonly<Record<string, unknown>> } {
  const options = config.ordering.options;
  if (config.ordering.engine === 'ehbft') return { options: { ...options, recordKey: insertedRecordKey } };
  // gpbft: every member checks an admin's rating against its MSP before voting for it (decision 1281).
  if (config.ordering.engine === 'gpbft') return { options: { ...options, ratingAuthority } };
  return options ? { options } : {};
}

/**
 * Each orderer's node entry as the engines see it (gpbft places and ranks a joiner by it): the
 * position, and the rating scaled from the configuration's 0–1 to the engine's 0–100 (as init
 * writes the genesis options). Nodes without an entry get the engine's defaults.
 */
function memberProfiles(config: ConsortiumConfig): Record<string, MemberProfile> {
  const profiles: Record<string, MemberProfile> = {};
  for (const n of config.nodes ?? []) {
    if (!n.roles.includes('orderer')) continue;
    profiles[n.id] = {
      ...(n.location ? { lat: n.location.lat, lon: n.location.lon } : {}),
      ...(n.rating !== undefined ? { rating: Math.round(n.rating * 100) } : {}),
    };
  }
  return profiles;
}

/** What an orderer (or a gateway) knows of a txId it has seen (decision 1003). */
export type KnownTx =
  /** In the ledger of the orderer's node, with its validation code. */
  | { readonly state: 'committed'; readonly blockNumber: number; readonly code: ValidationCode }
  /** In a block this orderer stored, not yet committed by its node's ledger. */
  | { readonly state: 'ordered'; readonly blockNumber: number }
  /** Admitted by this orderer, not yet in a block. */
  | { readonly state: 'pending' };

/** gpbft's node update by an admin (decision 1280): a rating 0–100 of an orderer, or this orderer's hospital leaving. */
export type ControlRequest =
  | {
      readonly op: 'rate';
      readonly nodeId: string;
      readonly rating: number;
      /** The admin's nonce (ms clock) and signature over rateSignedBytes: the evidence every member checks (decision 1281). */
      readonly nonce: number;
      readonly signature: Bytes;
    }
  | { readonly op: 'leave' };
/** Who asks (authenticated by the caller against the MSP: the API's signed request). */
export interface ControlRequester {
  readonly org: string;
  readonly id: string;
  readonly role: string;
  /** The requester's certificate (a rating carries it for every member to check). */
  readonly certPem?: string;
}

export type ControlResult =
  | { readonly accepted: true; readonly nodeId: string; readonly clientId: string; readonly seq: number }
  | {
      readonly accepted: false;
      readonly code: 'NOT_GPBFT' | 'NOT_A_MEMBER' | 'NOT_ADMIN' | 'FOREIGN_ADMIN' | 'SELF_RATING' | 'UNKNOWN_NODE' | 'BAD_RATING' | 'REFUSED';
      readonly reason: string;
    };

/** `duplicate`: refused because the txId is already known; nothing was ordered again. */
export type BroadcastResult = { readonly accepted: true } | { readonly accepted: false; readonly reason: string; readonly duplicate?: KnownTx };

export class OrdererError extends Error {
  override readonly name = 'OrdererError';
}

/** Builds signed ledger blocks from decided blocks (deterministic header; own signature). */
export class BlockBuilder {
  constructor(
    private readonly ordererId: string,
    private readonly signMessage: (message: Bytes) => Bytes,
    private readonly engineName: string,
  ) {}

  build(previous: BlockHeader, decided: DecidedBlock): Block {
    const data = decided.proposals.map((p) => p.data);
    const header = buildHeader(decided.height, previous, data);
    return {
      header,
      data,
      metadata: {
        signatures: [{ ordererId: this.ordererId, signature: this.signMessage(ordererSignedBytes(header)) }],
        consensus: {
          engine: this.engineName,
          height: decided.height,
          digest: decided.digest,
          previousDigest: decided.previousDigest,
          proposalIds: decided.proposals.map((p) => ({ clientId: p.clientId, seq: p.seq })),
          certificate: decided.certificate,
          ...(decided.extra === undefined ? {} : { extra: decided.extra }),
        },
      },
    };
  }
}

export interface OrdererOptions {
  readonly id: string;
  readonly keyPem: string;
  readonly dir: string;
  readonly genesis: Block;
  /** Where to send engine messages for other orderers (multi-orderer engines; not needed for solo). */
  readonly send?: (to: NodeId, message: EngineMessage) => void;
  readonly clock?: () => number;
  /** Seed of the engine's randomness (election jitter); default derived from the id. */
  readonly seed?: number;
  /** Signature check; the in-process network shares a memo between its nodes (sigcache.ts). */
  readonly verify?: VerifyFn;
  /**
   * State transfer: fetch blocks [fromNumber, toNumber] from other orderers (the node runtime
   * asks them over mTLS). Needed when the engine installs a snapshot / stable checkpoint beyond
   * this orderer's chain (Ready.restore). Every fetched block is verified before it is stored.
   */
  readonly fetchBlocks?: (fromNumber: number, toNumber: number) => Promise<readonly Block[]>;
  /** Told about state-transfer progress and failures (logging). */
  readonly onEvent?: (event: string, detail: Record<string, unknown>) => void;
  /** Each fsync of the consensus WAL, in seconds. */
  readonly onWalFsync?: (seconds: number) => void;
  /** The config in force now (default: the genesis config). See setConfig. */
  readonly config?: ConsortiumConfig;
  /**
   * The committed status of a txId in this orderer's node's ledger (its txId index), to refuse
   * resubmissions of committed transactions. Without it only recent blocks are remembered.
   */
  readonly committedTx?: (txId: string) => { readonly blockNumber: number; readonly code: ValidationCode } | null;
  /**
   * The first height this orderer may sign its own copy of (default 1). A node joining the
   * consortium passes its ledger height + 1: blocks before its admission are fetched from the
   * orderers that were configured when they were decided.
   */
  readonly signFromHeight?: number;
}

type BlockListener = (block: Block) => void;

const SUBSCRIBERS_MAX = 1024;
/** Admitted, not yet in a block: beyond this, admission refuses (above the engines' default queues: 20 000 dev, 50 000 `medledger init`). */
export const PENDING_TX_IDS_MAX = 100_000;
/** TxIds of the most recent stored blocks: covers the moment until the node's ledger commits them. */
export const RECENT_ORDERED_TX_IDS_MAX = 65_536;

export class Orderer {
  readonly id: string;
  /** The genesis config: the engine and its initial members come from it. */
  readonly genesisConfig: ConsortiumConfig;
  private currentConfig: ConsortiumConfig;
  private readonly store: BlockStore;
  private readonly wal: WriteAheadLog;
  private readonly engine: Engine;
  private readonly builder: BlockBuilder;
  /** This orderer's node key as the engine signs with it (a gpbft leave request is signed by the leaving node). */
  private readonly nodeSigner: Signer;
  /** The consortium's identity: its genesis block hash (a gpbft rating's signature names it, decision 1387). */
  private readonly consortiumId: Bytes;
  /** The same, hex: what a transaction's proposal names (decision 1389). */
  private readonly consortiumHex: string;
  /** Last seq used for a control client here (strictly increasing, from the clock). */
  private lastControlSeq = 0;
  private ctx: ValidationContext;
  private readonly verifyFn: VerifyFn | undefined;
  /** Every orderer of every config this orderer has known (engine verifier, fetched blocks). */
  private readonly knownOrdererKeys = new Map<string, KeyObject>();
  /** Heights ≥ this are signed by this orderer; null: not an orderer of the config in force. */
  private selfSignFrom: number | null;
  private readonly clock: () => number;
  private readonly send: (to: NodeId, message: EngineMessage) => void;
  private lastHeader: BlockHeader;
  private driving = false;
  private lastView: { leader: string | null; epoch: number; role: string } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly subscribers = new Set<Subscription>();
  private closed = false;
  /** While set, the chain is being filled up to this height from other orderers. */
  private restoring: { height: number; digest: Bytes } | null = null;
  /** Blocks the engine decided beyond the restore height, held until the gap is filled. */
  private readonly deferred: DecidedBlock[] = [];
  private readonly fetchBlocks: OrdererOptions['fetchBlocks'];
  private readonly onEvent: NonNullable<OrdererOptions['onEvent']>;
  private readonly committedTx: OrdererOptions['committedTx'];
  /** txId → when it can no longer be admitted (timestamp + skew): admitted, not yet in a block. */
  private readonly pendingTxIds = new Map<string, number>();
  /** txId → number of the stored block that holds it; the oldest are forgotten first. */
  private readonly orderedTxIds = new Map<string, number>();

  constructor(options: OrdererOptions) {
    this.id = options.id;
    this.genesisConfig = configOfGenesis(options.genesis);
    this.consortiumId = blockHash(options.genesis.header);
    this.consortiumHex = toHex(this.consortiumId);
    this.currentConfig = options.config ?? this.genesisConfig;
    this.verifyFn = options.verify;
    this.ctx = validationContextFromConfig(this.currentConfig, options.verify);
    this.clock = options.clock ?? (() => Date.now());
    this.send = options.send ?? (() => undefined);
    this.fetchBlocks = options.fetchBlocks;
    this.onEvent = options.onEvent ?? (() => undefined);
    this.committedTx = options.committedTx;
    const current = this.currentConfig.orderers.map((o) => o.id);
    if (!current.includes(this.id)) throw new OrdererError(`orderer ${this.id} is not in the consortium's orderer set (${current.join(', ')})`);
    // The engine's own membership starts from genesis: later changes are part of its replicated
    // state (Raft's conf entries), replayed or installed from a snapshot like everything else.
    const members = this.genesisConfig.orderers.map((o) => o.id);
    for (const config of [this.genesisConfig, this.currentConfig]) this.learnOrdererKeys(config);
    this.selfSignFrom = Math.max(1, options.signFromHeight ?? 1);
    this.store = BlockStore.open(join(options.dir, 'blocks'));
    if (this.store.count === 0) this.store.append(0, encodeBlock(options.genesis));
    const block0 = decodeBlock(this.store.read(0));
    if (!bytesEqual(blockHash(block0.header), blockHash(options.genesis.header))) {
      this.store.close();
      throw new OrdererError(`${options.dir} holds the chain of another consortium (genesis hash differs)`);
    }
    this.lastHeader = decodeBlock(this.store.read(this.store.count - 1)).header;
    this.wal = new WriteAheadLog(join(options.dir, 'wal'), options.onWalFsync ? { onFsync: options.onWalFsync } : {});
    const key = parsePrivateKey(options.keyPem);
    this.builder = new BlockBuilder(this.id, (m) => signAndRemember(key, m), this.genesisConfig.ordering.engine);
    this.nodeSigner = keyPairSigner(this.id, { privateKey: key, publicKey: createPublicKey(key) });
    const seed = options.seed ?? new DataView(sha256(this.id).buffer).getUint32(0);
    this.engine = getEngine(this.genesisConfig.ordering.engine).create({
      id: this.id,
      members,
      rng: new SeededRng(seed),
      storage: this.wal,
      signer: this.nodeSigner,
      verifier: directoryVerifier(this.knownOrdererKeys),
      cutter: {
        countMax: this.genesisConfig.ordering.countMax,
        sizeBytesMax: this.genesisConfig.ordering.sizeBytesMax,
        timeoutTicks: this.genesisConfig.ordering.timeoutTicks,
        pendingMax: this.genesisConfig.ordering.pendingMax,
      },
      appliedHeight: this.lastHeader.number,
      // This orderer's chain serves catch-up beyond the blocks the engine retains: a hospital that
      // joins a long chain replays it from genesis (EH-BFT, gpbft, hashgen).
      archive: { decided: (height) => this.archivedDecided(height) },
      ...engineOptions(this.genesisConfig, this.ratingAuthority()),
    });
    this.drive();
  }

  /** The config in force as far as this orderer knows (admission, orderer set). */
  get config(): ConsortiumConfig {
    return this.currentConfig;
  }

  /** Whether this orderer is in the orderer set of the config in force (it signs its own blocks). */
  get configured(): boolean {
    return this.currentConfig.orderers.some((o) => o.id === this.id);
  }

  /**
   * Send now what the engine holds back for NOTICES_HOLD_MS (decision 1405). The node calls it
   * before a committed config update changes its transport's peers: a hospital the update removes
   * must still be told the commit index of the block that removes it, or it never stores that
   * block (and would start again as a member).
   */
  flushNotices(): void {
    if (this.closed || !this.engine.flushNotices) return;
    this.engine.flushNotices();
    this.driveReportingFailure();
  }

  /**
   * A committed config update (the node's ledger tells it), in force from block
   * `effectiveFromHeight`. Takes effect at once for admission and block signing; the engine is
   * moved toward the new orderer set on the following ticks.
   */
  setConfig(config: ConsortiumConfig, effectiveFromHeight: number): void {
    if (this.closed) return;
    this.currentConfig = config;
    if (!this.configured) this.selfSignFrom = null;
    else if (this.selfSignFrom === null) this.selfSignFrom = Math.max(1, effectiveFromHeight);
    this.ctx = validationContextFromConfig(config, this.verifyFn);
    this.learnOrdererKeys(config);
    this.onEvent('config', { orderers: config.orderers.map((o) => o.id), configured: this.configured });
    this.reconfigureEngine();
    this.drive();
  }

  private learnOrdererKeys(config: ConsortiumConfig): void {
    const msp = new Msp(mspConfigOf(config));
    for (const o of config.orderers) this.knownOrdererKeys.set(o.id, msp.identify(o.certPem).publicKey);
  }

  private lastReconfigure: string | null = null;

  private reconfigureEngine(): void {
    if (!this.engine.reconfigure) return;
    const result = this.engine.reconfigure(
      this.currentConfig.orderers.map((o) => o.id),
      memberProfiles(this.currentConfig),
    );
    if (result !== this.lastReconfigure) {
      this.lastReconfigure = result;
      if (result !== 'not-leader') this.onEvent('membership', { state: result, members: this.engine.status().members });
    }
  }

  /** The consensus engine's own view (role, leader, epoch, decided height). */
  engineStatus(): EngineStatus {
    return this.engine.status();
  }

  /** Number of the last block in this orderer's chain. */
  get height(): number {
    return this.lastHeader.number;
  }

  /** Start ticking the engine on the configured interval (partial blocks, elections). */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.tick(), this.genesisConfig.ordering.tickMs);
    this.timer.unref();
  }

  tick(): void {
    if (this.closed) return;
    try {
      this.engine.tick();
      this.reconfigureEngine();
      this.drive();
      this.observeView();
    } catch (err) {
      // A storage failure was reported to the owner (who stops the process); rethrowing it from a
      // timer would only replace that orderly stop with an uncaught-exception crash.
      if (this.storageFailed) return;
      throw err;
    }
  }

  /** Transactions admitted by this orderer and not yet in a block. */
  get pendingCount(): number {
    return this.pendingTxIds.size;
  }

  /**
   * Tell the node when the leader/primary or the epoch (term, view) this orderer follows changed:
   * what an operator needs to see in the log and the metrics. Checked once per tick.
   */
  private observeView(): void {
    const s = this.engine.status();
    const seen = this.lastView;
    this.lastView = { leader: s.leader, epoch: s.epoch, role: s.role };
    if (!seen) return;
    if (s.leader !== seen.leader) this.onEvent('leader-change', { from: seen.leader, to: s.leader, epoch: s.epoch, role: s.role });
    if (s.epoch !== seen.epoch) this.onEvent('epoch-change', { from: seen.epoch, to: s.epoch, leader: s.leader, role: s.role });
  }

  /**
   * Submit a transaction for ordering (see Admission in the file comment). Synchronous from the
   * duplicate check to recording the txId as pending, so two identical broadcasts at once
   * cannot both be admitted.
   */
  broadcast(proposal: Proposal): BroadcastResult {
    if (this.closed) return { accepted: false, reason: 'orderer is stopped' };
    const admitted = this.admit(proposal);
    if ('problem' in admitted) return { accepted: false, reason: admitted.problem, ...(admitted.duplicate ? { duplicate: admitted.duplicate } : {}) };
    const result = this.engine.propose({ clientId: proposal.clientId, seq: proposal.seq, data: proposal.data });
    if (result.accepted) this.pendingTxIds.set(admitted.txId, admitted.admissibleUntilMs);
    this.driveSoon();
    return result.accepted ? { accepted: true } : { accepted: false, reason: result.reason };
  }

  /**
   * gpbft's node update asked for by an admin (decision 1280), ordered as a control entry:
   * - rate: an admin of a member hospital rates another hospital's orderer (never its own);
   *   the rating takes effect in the block that decides it, and below the engine's
   *   ratingThreshold the hospital is removed (paper 002 §2.2.2 step 4);
   * - leave: an admin of this orderer's hospital asks it to quit; the quit request is signed with
   *   this orderer's node key, which every member verifies before removing it.
   * The requester was authenticated against the MSP by the caller (the API's signed request).
   */
  submitControl(request: ControlRequest, by: ControlRequester): ControlResult {
    const refuse = (code: Extract<ControlResult, { accepted: false }>['code'], reason: string): ControlResult => ({ accepted: false, code, reason });
    if (this.closed) return refuse('REFUSED', 'orderer is stopped');
    if (this.genesisConfig.ordering.engine !== 'gpbft')
      return refuse('NOT_GPBFT', `this consortium orders with ${this.genesisConfig.ordering.engine}; ratings and leave requests are gpbft's node update`);
    if (by.role !== 'admin')
      return refuse(
        'NOT_ADMIN',
        `only a hospital's admin may ${request.op === 'rate' ? 'rate a hospital' : 'ask its node to leave'}; ${by.org}/${by.id} is a ${by.role}`,
      );
    if (!this.currentConfig.orgs.some((o) => o.org === by.org)) return refuse('FOREIGN_ADMIN', `${by.org} is not a member of the consortium`);
    const members = this.engine.status().members;
    let nodeId: string;
    let clientId: string;
    let op: Parameters<typeof encodeControl>[0];
    if (request.op === 'rate') {
      nodeId = request.nodeId;
      const rated = this.currentConfig.orderers.find((o) => o.id === nodeId);
      if (!rated || !members.includes(nodeId))
        return refuse('UNKNOWN_NODE', `${nodeId} is not a member of the gpbft consortium (members: ${members.join(', ')})`);
      if (rated.org === by.org) return refuse('SELF_RATING', `an admin of ${by.org} cannot rate its own hospital's node ${nodeId}`);
      if (by.certPem === undefined) return refuse('BAD_RATING', "a rating carries its admin's certificate: none was given");
      clientId = rateClientId(by.org, by.id);
      const rating = {
        op: 'rate' as const,
        id: nodeId,
        rating: request.rating,
        by: { org: by.org, admin: by.id, nonce: request.nonce, cert: utf8(by.certPem), signature: request.signature, v: RATING_SIGNED_FORM },
      };
      const authority = this.ratingAuthority();
      if (!authority.authentic(rating) || !authority.authorised(rating))
        return refuse(
          'BAD_RATING',
          `the rating's signature does not verify with ${by.org}/${by.id}'s certificate, or its nonce is more than ${RATING_NONCE_WINDOW_MS / 60_000} min from this node's clock (sign the DAG-CBOR of {s: 'gpbft-rate/2', consortium, id, rating, nonce}: consortium = the genesis block hash, genesisHashHex in GET /v1/status; nonce = now in ms)`,
        );
      op = rating;
    } else {
      nodeId = this.id;
      const mine = this.currentConfig.orderers.find((o) => o.id === this.id);
      if (!mine || mine.org !== by.org)
        return refuse('FOREIGN_ADMIN', `only an admin of ${mine?.org ?? "this node's hospital"} may ask ${this.id} to leave; ${by.org}/${by.id} is not`);
      if (!members.includes(this.id)) return refuse('NOT_A_MEMBER', `${this.id} is not (or no longer) a member of the gpbft consortium`);
      clientId = `${CONTROL_CLIENT_PREFIX}leave/${this.id}`;
      op = { op: 'leave', id: this.id, signature: this.nodeSigner.sign(leaveSignedBytes(this.id)) };
    }
    // A rating is ordered at its signed nonce (members check it); a leave at this orderer's clock.
    const seq = request.op === 'rate' ? request.nonce : Math.max(this.clock(), this.lastControlSeq + 1);
    if (request.op !== 'rate') this.lastControlSeq = seq;
    const result = this.engine.propose({ clientId, seq, data: encodeControl(op) });
    this.drive();
    if (!result.accepted) return refuse(result.reason === 'not-member' ? 'NOT_A_MEMBER' : 'REFUSED', `the engine refused it: ${result.reason}`);
    this.onEvent('control', { op: request.op, nodeId, clientId, seq });
    return { accepted: true, nodeId, clientId, seq };
  }

  /** gpbft's rating check (decision 1281) against this orderer's MSP and config in force, given to the engine. */
  private ratingAuthority(): RatingAuthority {
    return gpbftRatingAuthority({ consortium: this.consortiumId, config: () => this.currentConfig, msp: () => this.ctx.msp, clock: () => this.clock() });
  }

  /** What this orderer knows of a txId: committed on its node, in a recent block, pending; or null. */
  knownTx(txId: string): KnownTx | null {
    const committed = this.committedTx?.(txId);
    if (committed) return { state: 'committed', blockNumber: committed.blockNumber, code: committed.code };
    const blockNumber = this.orderedTxIds.get(txId);
    if (blockNumber !== undefined) return { state: 'ordered', blockNumber };
    const until = this.pendingTxIds.get(txId);
    if (until === undefined) return null;
    if (this.clock() > until) {
      this.pendingTxIds.delete(txId); // can no longer be admitted by anyone's clock near ours
      return null;
    }
    return { state: 'pending' };
  }

  /** A message from another orderer (multi-orderer engines). */
  step(from: NodeId, message: EngineMessage): void {
    if (this.closed) return;
    this.engine.step(from, message);
    this.drive();
  }

  getBlock(number: number): Block {
    // The blocks just cut are what the subscriptions (this node's peer) read next: hand them the
    // object that was stored instead of reading and decoding the record again (issue 13). The
    // same envelope objects then reach the peer, whose parse memo finds them without hashing.
    return this.recentBlocks.get(number) ?? decodeBlock(this.store.read(number));
  }

  /**
   * A block as stored (its DAG-CBOR encoding, checksum-checked on read): what another node fetching
   * blocks is sent, without decoding and encoding each again (decision 1397).
   */
  getEncodedBlock(number: number): Bytes {
    return this.store.read(number);
  }

  /**
   * The decided block behind a stored block (EngineContext.archive): its consensus proof and data
   * give the engine's DecidedBlock back. Undefined beyond the chain or for a block without a proof
   * of this height (genesis; a chain cut before proofs were kept).
   */
  private archivedDecided(height: number): DecidedBlock | undefined {
    if (!Number.isSafeInteger(height) || height < 1 || height >= this.store.count) return undefined;
    const block = this.getBlock(height);
    const proof = block.metadata.consensus;
    if (proof === null || proof.height !== height || proof.proposalIds.length !== block.data.length) return undefined;
    return {
      height,
      proposals: block.data.map((data, i) => ({ clientId: proof.proposalIds[i]!.clientId, seq: proof.proposalIds[i]!.seq, data })),
      digest: proof.digest,
      previousDigest: proof.previousDigest,
      certificate: proof.certificate,
      ...(proof.extra === undefined ? {} : { extra: proof.extra }),
    };
  }

  /** The last RECENT_BLOCKS_MAX blocks stored, by number (treated as immutable, as every Block is). */
  private readonly recentBlocks = new Map<number, Block>();

  private storeBlock(block: Block): void {
    this.store.append(block.header.number, encodeBlock(block));
    this.recentBlocks.set(block.header.number, block);
    if (this.recentBlocks.size > RECENT_BLOCKS_MAX) this.recentBlocks.delete(this.recentBlocks.keys().next().value!);
  }

  /**
   * Deliver every block from `fromNumber` on, in order, then each new block as it is cut.
   * The listener runs asynchronously (never inside the engine loop); a listener that throws
   * ends its subscription (onError is told why).
   */
  subscribe(fromNumber: number, listener: BlockListener, onError?: (err: Error) => void): () => void {
    if (this.subscribers.size >= SUBSCRIBERS_MAX) throw new OrdererError(`too many subscribers (${SUBSCRIBERS_MAX})`);
    const sub = new Subscription(this, fromNumber, listener, (err) => {
      this.subscribers.delete(sub);
      onError?.(err);
    });
    this.subscribers.add(sub);
    sub.wake();
    return () => {
      sub.cancel();
      this.subscribers.delete(sub);
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.heldNotices.cancel();
    for (const sub of this.subscribers) sub.cancel();
    this.subscribers.clear();
    this.wal.close();
    this.store.close();
  }

  // -------------------------------------------------------------------------------------------

  private admit(p: Proposal): { txId: string; admissibleUntilMs: number } | { problem: string; duplicate?: KnownTx } {
    if (typeof p?.clientId !== 'string' || p.clientId.length === 0 || p.clientId.length > 256) return { problem: 'clientId must be 1..256 characters' };
    // The engines' own control entries (gpbft's node update) are never a client's to submit.
    if (p.clientId.startsWith(CONTROL_CLIENT_PREFIX))
      return { problem: `clientId prefix ${CONTROL_CLIENT_PREFIX} is reserved for the ordering engine's own entries` };
    if (!Number.isSafeInteger(p.seq) || p.seq < 1) return { problem: 'seq must be a positive integer' };
    if (!(p.data instanceof Uint8Array)) return { problem: 'data must be bytes' };
    if (p.data.byteLength > LEDGER_LIMITS.envelopeSizeBytesMax)
      return { problem: `transaction of ${p.data.byteLength} bytes exceeds ${LEDGER_LIMITS.envelopeSizeBytesMax}` };
    let tx;
    try {
      tx = parseTx(p.data);
    } catch (err) {
      return { problem: `malformed transaction: ${(err as Error).message}` };
    }
    const now = this.clock();
    const skew = this.genesisConfig.ordering.clockSkewMsMax;
    if (Math.abs(tx.proposal.timestampMs - now) > skew) return { problem: `transaction timestamp is more than ${skew} ms from the orderer's clock` };
    // Before the signature check: a known txId costs no verification. Only a txId admitted with
    // a valid signature is ever recorded, so a forged envelope cannot squat someone's txId.
    const txId = tx.proposal.txId;
    const known = this.knownTx(txId);
    if (known) return { problem: `transaction ${txId} ${describeKnown(known)}: not ordered again`, duplicate: known };
    if (this.pendingTxIds.size >= PENDING_TX_IDS_MAX) {
      for (const [id, until] of this.pendingTxIds) if (now > until) this.pendingTxIds.delete(id);
      if (this.pendingTxIds.size >= PENDING_TX_IDS_MAX) return { problem: `${PENDING_TX_IDS_MAX} transactions are pending at this orderer; retry shortly` };
    }
    // Another consortium's transaction (decision 1389) is not ordered; validation would mark it WRONG_CONSORTIUM.
    const foreign = wrongConsortium(tx.proposal, this.consortiumHex, this.currentConfig);
    if (foreign !== null) return { problem: foreign };
    try {
      const creator = this.ctx.msp.validate(tx.proposal.creator, now);
      if (!verifyBatchable(this.ctx.verify, creator.publicKey, tx.envelope.payload, tx.envelope.signature))
        return { problem: 'transaction signature does not verify' };
    } catch (err) {
      return { problem: `creator: ${(err as Error).message}` };
    }
    return { txId, admissibleUntilMs: tx.proposal.timestampMs + skew };
  }

  /** A block entered this orderer's chain: its txIds are no longer pending but ordered. */
  private noteOrdered(block: Block): void {
    for (const envelope of block.data) {
      let txId: string;
      try {
        txId = parseTx(envelope).proposal.txId;
      } catch {
        continue; // peers mark it BAD_PAYLOAD; nothing to remember
      }
      this.pendingTxIds.delete(txId);
      if (this.orderedTxIds.has(txId)) continue; // the first block that holds it is the one that counts
      if (this.orderedTxIds.size >= RECENT_ORDERED_TX_IDS_MAX) {
        const oldest = this.orderedTxIds.keys().next().value;
        if (oldest !== undefined) this.orderedTxIds.delete(oldest);
      }
      this.orderedTxIds.set(txId, block.header.number);
    }
  }

  /** Set once a durable write failed and was reported: the orderer is closed for good. */
  private storageFailed = false;
  private driveScheduled = false;
  /**
   * Ready.noticesHeld (decisions 1405, 1416): what the engine held back goes NOTICES_HOLD_MS later
   * — by then a client waiting on its answer has usually sent the next request, whose entry
   * carried the commit index — and the flush is called off when a Ready says an entry did.
   */
  private readonly heldNotices = new HeldNoticesTimer(() => this.flushNotices());

  /**
   * Drive once at the end of this event-loop turn (decision 1372): transactions that arrive
   * together (one read of a client connection, a batch submit) reach the engine before it is asked
   * for a Ready, so a Raft leader that cuts partial batches at once (eagerCutUncommittedMax) puts
   * them in one entry — one WAL write and one round — instead of the first alone. Consensus
   * messages and ticks still drive at once: they carry no proposals to gather.
   */
  private driveSoon(): void {
    if (this.driveScheduled) return;
    this.driveScheduled = true;
    setImmediate(() => {
      this.driveScheduled = false;
      if (this.closed) return;
      this.driveReportingFailure();
    });
  }

  private driveReportingFailure(): void {
    try {
      this.drive();
    } catch (err) {
      // As in tick(): a storage failure was reported to the owner, who stops the process.
      if (this.storageFailed) return;
      throw err;
    }
  }

  private drive(): void {
    if (this.driving) return; // re-entrant call from inside the loop: the loop picks the work up
    this.driving = true;
    try {
      while (this.engine.hasReady()) {
        const rd = this.engine.ready();
        // The leader's appends go out first, so that followers write the entries while this node
        // does (thesis §10.2.1); the engine counts this node's copy only after advance().
        const early = rd.earlyMessages ?? 0;
        for (let i = 0; i < early; i++) this.send(rd.messages[i]!.to, rd.messages[i]!.message);
        try {
          this.wal.apply(rd.persist);
        } catch (err) {
          // A failed durable write: nothing of this Ready may leave the node, and the engine must
          // not advance past state that is not on disk. The orderer stops for good; the owner is
          // told (the node process exits) and a restart recovers from the WAL as written.
          this.storageFailed = true;
          this.close();
          this.onEvent('storage-failure', { store: 'wal', reason: (err as Error).message });
          throw err;
        }
        for (let i = early; i < rd.messages.length; i++) this.send(rd.messages[i]!.to, rd.messages[i]!.message);
        if (rd.restore) this.beginRestore(rd.restore.height, rd.restore.digest);
        try {
          for (const decided of rd.decided) this.onDecided(decided);
        } catch (err) {
          // The orderer's block store failed to write a decided block: the same rule as the WAL
          // (never carried past). Reported here, whichever path (tick or message) was driving, so
          // the node stops with the reason instead of a later call tripping over the failed store.
          if (err instanceof BlockStoreError) {
            this.storageFailed = true;
            this.close();
            this.onEvent('storage-failure', { store: 'blocks', reason: err.message });
          }
          throw err;
        }
        this.engine.advance(rd);
        this.heldNotices.afterReady(rd.noticesHeld);
      }
    } finally {
      this.driving = false;
    }
  }

  /** Fill the chain up to `height` from other orderers, then release deferred decisions. */
  private beginRestore(height: number, digest: Bytes): void {
    if (height <= this.lastHeader.number) return;
    if (this.restoring && this.restoring.height >= height) return;
    if (!this.fetchBlocks) throw new OrdererError(`engine asked for state transfer to height ${height}, but this orderer has no peers to fetch blocks from`);
    const already = this.restoring !== null;
    this.restoring = { height, digest };
    this.onEvent('state-transfer-start', { from: this.lastHeader.number + 1, to: height });
    if (!already) void this.runRestore();
  }

  private async runRestore(): Promise<void> {
    let retryMs = 100;
    const orderers = this.knownOrdererKeys;
    while (this.restoring && !this.closed) {
      const target = this.restoring;
      if (this.lastHeader.number >= target.height) break;
      const from = this.lastHeader.number + 1;
      const to = Math.min(target.height, from + FETCH_BATCH_BLOCKS - 1);
      try {
        const blocks = await this.fetchBlocks!(from, to);
        if (this.closed) return;
        if (blocks.length === 0) throw new OrdererError(`no blocks from ${from}`);
        let previousDigest = this.lastDigest();
        for (const block of blocks) {
          if (block.header.number > target.height) break;
          const problem = checkFetchedBlock(block, this.lastHeader, previousDigest, orderers, this.ctx.verify);
          if (problem) throw new OrdererError(problem);
          if (block.header.number === target.height && !bytesEqual(block.metadata.consensus!.digest, target.digest)) {
            throw new OrdererError(`block ${block.header.number} does not carry the digest consensus restored to`);
          }
          this.storeBlock(block);
          this.lastHeader = block.header;
          this.noteOrdered(block);
          previousDigest = block.metadata.consensus!.digest;
          for (const sub of this.subscribers) sub.wake();
        }
        retryMs = 100;
      } catch (err) {
        this.onEvent('state-transfer-retry', { from, reason: (err as Error).message });
        await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
        retryMs = Math.min(FETCH_RETRY_MS_MAX, retryMs * 2);
      }
    }
    if (this.closed || !this.restoring) return;
    this.onEvent('state-transfer-done', { height: this.lastHeader.number });
    this.restoring = null;
    const held = this.deferred.splice(0);
    for (const decided of held) this.onDecided(decided);
  }

  /** The consensus digest of the last stored block (genesis: the engines' GENESIS_DIGEST). */
  private lastDigest(): Bytes | null {
    if (this.lastHeader.number === 0) return null;
    return decodeBlock(this.store.read(this.lastHeader.number)).metadata.consensus?.digest ?? null;
  }

  private onDecided(decided: DecidedBlock): void {
    if (decided.height <= this.lastHeader.number) return; // re-delivered after a restart: already stored
    if (this.restoring) {
      if (this.deferred.length >= DEFERRED_BLOCKS_MAX) throw new OrdererError(`more than ${DEFERRED_BLOCKS_MAX} blocks decided during state transfer`);
      this.deferred.push(decided);
      return;
    }
    assertInvariant(decided.height === this.lastHeader.number + 1, `orderer ${this.id}: decided height ${decided.height} follows ${this.lastHeader.number}`);
    if ((this.selfSignFrom === null || decided.height < this.selfSignFrom) && this.fetchBlocks) {
      // Not an orderer of the config in force (joining, or removed): a block signed by this
      // node would not be accepted, so take the configured orderers' copy of what was decided.
      this.beginRestore(decided.height, decided.digest);
      return;
    }
    const block = this.builder.build(this.lastHeader, decided);
    this.storeBlock(block);
    this.lastHeader = block.header;
    this.noteOrdered(block);
    for (const sub of this.subscribers) sub.wake();
  }
}

function describeKnown(known: KnownTx): string {
  switch (known.state) {
    case 'committed':
      return `is already committed in block ${known.blockNumber} (${known.code})`;
    case 'ordered':
      return `is already ordered in block ${known.blockNumber}`;
    case 'pending':
      return 'is already pending';
  }
}

const DEFERRED_BLOCKS_MAX = 100_000;
/** Blocks kept decoded for the delivery streams: a few blocks' worth of lag behind the cutter. */
const RECENT_BLOCKS_MAX = 32;
const FETCH_BATCH_BLOCKS = 64;
const FETCH_RETRY_MS_MAX = 5_000;

export interface RestoreTarget {
  readonly height: number;
  readonly digest: Bytes;
}

/**
 * Check a fetched block against the chain so far: number, hash link, data hash, a valid
 * signature of a configured orderer, and the consensus digest chain. Returns a reason or null.
 */
export function checkFetchedBlock(
  block: Block,
  previous: BlockHeader,
  previousDigest: Bytes | null,
  orderers: ReadonlyMap<string, KeyObject>,
  verifyFn: VerifyFn,
): string | null {
  if (block.header.number !== previous.number + 1) return `expected block ${previous.number + 1}, got ${block.header.number}`;
  if (!bytesEqual(block.header.previousHash, blockHash(previous))) return `block ${block.header.number} does not link to block ${previous.number}`;
  if (!bytesEqual(block.header.dataHash, dataHash(block.data))) return `block ${block.header.number}: data hash mismatch`;
  const signed = block.metadata.signatures.some((s) => {
    const key = orderers.get(s.ordererId);
    return key !== undefined && verifyFn(key, ordererSignedBytes(block.header), s.signature);
  });
  if (!signed) return `block ${block.header.number} carries no valid orderer signature`;
  const consensus = block.metadata.consensus;
  if (!consensus || consensus.height !== block.header.number) return `block ${block.header.number}: missing consensus metadata`;
  if (previousDigest && !bytesEqual(consensus.previousDigest, previousDigest)) return `block ${block.header.number}: consensus digest chain broken`;
  return null;
}

/** One delivery stream: blocks fromNumber.. in order, pumped asynchronously. */
class Subscription {
  private next: number;
  private pumping = false;
  private cancelled = false;

  constructor(
    private readonly orderer: Orderer,
    fromNumber: number,
    private readonly listener: BlockListener,
    private readonly fail: (err: Error) => void,
  ) {
    this.next = fromNumber;
  }

  wake(): void {
    if (this.pumping || this.cancelled) return;
    this.pumping = true;
    setImmediate(() => this.pump());
  }

  cancel(): void {
    this.cancelled = true;
  }

  private pump(): void {
    try {
      // Deliver a bounded batch per turn so other work (endorsements, timers) interleaves.
      for (let i = 0; i < 8 && !this.cancelled && this.next <= this.orderer.height; i++) {
        const block = this.orderer.getBlock(this.next);
        this.listener(block);
        this.next += 1;
      }
    } catch (err) {
      this.cancelled = true;
      this.pumping = false;
      this.fail(err as Error);
      return;
    }
    this.pumping = false;
    if (!this.cancelled && this.next <= this.orderer.height) this.wake();
  }
}
