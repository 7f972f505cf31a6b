// One MedLedger node process (DESIGN §2 node/): the organisation's peer and/or orderer, joined to
// the other nodes by the mTLS transport. It wires together what the lower layers provide:
//
//   transport 'consensus' messages  → orderer.step → engine (Ready: WAL fsync, then send)
//   orderer decided blocks          → orderer's block store → this node's peer (validate, commit)
//   transport requests              'endorse' / 'endorse-batch' / 'evaluate' → peer; 'broadcast' → orderer;
//                                   'blocks' → block sync for lagging orderers and peer-only nodes
//
// Configuration: the config in force is the one the node's own validated ledger has reached
// (genesis, then each committed config transaction, src/ledger/config-update.ts). When it
// changes, the node re-points its transport (new nodes, removed nodes), its peer authentication,
// its endorser list and its orderer (admission, block signing, engine membership). Every node
// keeps a validated ledger, an orderer-only node too (it just does not endorse or serve it).
//
// Joining: a hospital added at runtime starts its node with the consortium's genesis block and
// its own certificates. Its organisation is not in the config its empty ledger starts from, so
// it starts in joining mode: it pulls and validates the chain from the existing orderers (which
// accept its connection once they have committed the update that adds it), and starts its
// orderer once its own ledger reaches that update; Raft then takes it in as a learner and
// promotes it to voter when it has caught up.
//
// Recovery needs no manual step: the WAL restores the engine, the block stores truncate torn
// tails, the ledger re-applies a block whose state commit was interrupted, an orderer that fell
// behind a snapshot/checkpoint fetches and verifies the missing blocks, and the peer catches up
// from its own height through the delivery subscription.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesEqual, decode, encode, rememberingEncoder, toHex, utf8, type Bytes } from '../codec/index.ts';
import { EngineAssertionError, type EngineMessage, type Proposal } from '../consensus/engine.ts';
import { builtinContracts } from '../contracts/builtin.ts';
import { Msp, parsePolicy, type Policy } from '../identity/index.ts';
import type { ConfigState } from '../ledger/config-update.ts';
import { blockHash, decodeBlock, encodeBlock, type Block, type StoredBlock } from '../ledger/block.ts';
import { configOfGenesis, type ConsortiumConfig, type NodeEndpointConfig } from '../ledger/config.ts';
import type { ValidationCode } from '../ledger/codes.ts';
import type { BlockCommitEvent } from '../ledger/ledger.ts';
import { decodeSignedProposal, encodeSignedProposal, type SignedProposal } from '../ledger/tx.ts';
import { PeerUnavailableError, Transport, TransportError } from '../transport/transport.ts';
import type { NodeConfig } from './config.ts';
import { ConfigError, p2pReceiveLimitsOf, readPem } from './config.ts';
import type { EndorserClient } from './gateway.ts';
import { createLogger, RateLimitedLog, type Logger } from '../log/log.ts';
import { NodeMetrics, type MetricsSample } from './metrics.ts';
import { Orderer, type BroadcastResult, type ControlRequest, type ControlRequester, type ControlResult, type KnownTx } from './orderer.ts';
import { Peer, type EvaluateResponse, type TxStatusEvent } from './peer.ts';
import { ENDORSE_BATCH_CHANNEL, EndorseBatcher, serveEndorseBatch } from './endorse-batcher.ts';
import { parsePeerStatus, type NodeServices, type NodeStatus, type PeerStatus, type Readiness } from './services.ts';
import { NODE_PROTOCOL } from './protocol.ts';

const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Endorsement is a short simulation: a peer that has not answered in this long is treated as
 * unreachable and the gateway asks a spare (issue 11). Requests to a peer whose link is down fail
 * at once (transport.ts); this bounds the wait on one that is connected but stuck.
 */
const ENDORSE_TIMEOUT_MS = 5_000;
const NETWORK_STATUS_TIMEOUT_MS = 2_000;
/** An fsync this slow is logged: consensus progress waits for it. */
const SLOW_FSYNC_SECONDS = 0.2;
/** A peer this many blocks behind its own orderer is not ready to serve reads. */
const READY_LAG_BLOCKS_MAX = 10;
const BLOCKS_PER_REQUEST_MAX = 64;
const BLOCK_RESPONSE_BYTES_MAX = 8 * 1024 * 1024;
const PEER_PULL_INTERVAL_MS = 200;

export class NodeStartError extends Error {
  override readonly name = 'NodeStartError';
}

/** Read the genesis block a node is configured with. */
export function readGenesisBlock(path: string): Block {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read genesis block ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const block = decodeBlock(new Uint8Array(bytes));
    configOfGenesis(block);
    return block;
  } catch (err) {
    throw new ConfigError(`${path} is not a MedLedger genesis block: ${(err as Error).message}`);
  }
}

interface BlocksRequest {
  readonly from: number;
  readonly to: number;
}

export class MedLedgerNode implements NodeServices {
  readonly nodeId: string;
  readonly org: string;
  /** The node's validated ledger (exposed as `peer` when the node has the peer role). */
  private readonly chain: Peer;
  readonly peer: Peer | null;
  private ordererInstance: Orderer | null = null;
  readonly transport: Transport;
  readonly genesis: Block;
  readonly genesisHashHex: string;
  readonly log: Logger;
  /** Prometheus metrics of this node (GET /metrics on its API). */
  readonly metrics: NodeMetrics;
  /** Operator events that can repeat quickly under faults (view changes, slow disks): rate-limited. */
  private readonly events: RateLimitedLog;
  private readonly roles: ('peer' | 'orderer')[];
  private readonly policyCache = new Map<string, Policy>();
  private readonly clientId: string;
  private seq = 0;
  /** One encoding for the same consensus message to several orderers (decision 1406). */
  private readonly encodeConsensus = rememberingEncoder();
  private readonly startedAtMs = Date.now();
  private readonly cleanups: (() => void)[] = [];
  private stopped = false;
  private fatal: Error | null = null;
  private readonly fatalHandlers: Array<(err: Error) => void> = [];
  /** Request handlers other services register (off-chain record fetches, statistics partials). */
  private readonly extraHandlers = new Map<string, (from: string, payload: Bytes) => Promise<Bytes>>();

  private readonly certPem: string;
  private readonly keyPem: string;
  /** True until the ledger reaches a config that lists this node. */
  private joiningMode: boolean;

  private constructor(
    readonly nodeConfig: NodeConfig,
    genesis: Block,
    certPem: string,
    keyPem: string,
  ) {
    this.log = createLogger('node', { node: nodeConfig.node.id });
    this.events = new RateLimitedLog(this.log);
    this.nodeId = nodeConfig.node.id;
    this.org = nodeConfig.node.org;
    this.genesis = genesis;
    this.genesisHashHex = toHex(blockHash(genesis.header));
    this.certPem = certPem;
    this.keyPem = keyPem;
    const genesisConfig = configOfGenesis(genesis);
    // Our own certificate must chain to the consortium root through our organisation's CA, and
    // name this node — checked with our own org CA, which a joining hospital's config lacks yet.
    const orgCaPem = readPem(nodeConfig.identity.orgCa, 'organisation CA certificate');
    const knownOrgs = genesisConfig.orgs.some((o) => o.org === this.org) ? genesisConfig.orgs : [...genesisConfig.orgs, { org: this.org, caCertPem: orgCaPem }];
    const ownMsp = new Msp({ rootCertPem: genesisConfig.rootCertPem, orgs: knownOrgs.map((o) => ({ org: o.org, caCertPem: o.caCertPem })) });
    let me;
    try {
      me = ownMsp.validate(certPem, Date.now());
    } catch (err) {
      throw new NodeStartError(`certificate ${nodeConfig.identity.cert}: ${(err as Error).message}`);
    }
    if (me.id !== this.nodeId || me.org !== this.org) {
      throw new NodeStartError(
        `certificate ${nodeConfig.identity.cert} belongs to ${me.id} of ${me.org}, but this node is configured as ${this.nodeId} of ${this.org}`,
      );
    }
    this.roles = [...nodeConfig.node.roles];
    this.clientId = `${this.nodeId}/${toHex(randomBytes(6))}`;
    const contracts = builtinContracts();
    this.chain = new Peer({
      org: this.org,
      id: this.nodeId,
      certPem,
      keyPem,
      ledgerDir: join(nodeConfig.node.dataDir, 'ledger'),
      genesis,
      contracts,
      joining: true,
    });
    this.peer = this.roles.includes('peer') ? this.chain : null;
    this.metrics = new NodeMetrics(() => this.metricsSample());
    this.chain.ledger.onCommit((event) => {
      this.metrics.blocksCommitted.inc();
      for (const tx of event.txs) this.metrics.transactionsCommitted.inc({ code: tx.code });
    });
    const config = this.chain.ledger.config;
    this.joiningMode = !listsNode(config, this.nodeId, this.org);
    if (this.joiningMode) {
      const sequence = this.chain.ledger.configState.record.sequence;
      if (sequence > 0 && listsNode(genesisConfig, this.nodeId, this.org)) {
        // Listed at genesis, not in the config in force: removed from the consortium.
        this.chain.close();
        throw new NodeStartError(
          `node ${this.nodeId} of ${this.org} was removed from the consortium (config sequence ${sequence} does not list it); it cannot start`,
        );
      }
      this.log.warn(
        { orgs: config.orgs.map((o) => o.org) },
        'joining: this node is not in the consortium config its ledger has reached; syncing the chain until the config update that adds it',
      );
    } else {
      try {
        this.chain.ledger.validationContext.msp.validate(certPem, Date.now());
      } catch (err) {
        this.chain.close();
        throw new NodeStartError(`certificate ${nodeConfig.identity.cert}: ${(err as Error).message}`);
      }
    }

    this.transport = new Transport({
      protocol: NODE_PROTOCOL,
      selfId: this.nodeId,
      host: nodeConfig.listen.p2p.host,
      port: nodeConfig.listen.p2p.port,
      tls: {
        certChainPem: `${certPem.trim()}\n${orgCaPem.trim()}\n`,
        keyPem,
        caPems: [this.config.rootCertPem],
      },
      peers: this.peerEndpoints(config),
      authenticate: (pem) => this.authenticatePeer(pem),
      onMessage: (from, channel, payload) => this.onMessage(from, channel, payload),
      onRequest: (from, channel, payload) => this.onRequest(from, channel, payload),
      logger: this.log,
      messageBytesMax: nodeConfig.limits.p2pMessageBytesMax,
      ...p2pReceiveLimitsOf(nodeConfig),
    });

    if (!this.joiningMode) this.createOrderer();
    this.chain.ledger.onConfig((state, blockNumber) => this.onConfigChange(state, blockNumber));
  }

  /** The config in force (genesis, or the last config update this node's ledger committed). */
  get config(): ConsortiumConfig {
    return this.chain.ledger.config;
  }

  /** Authenticates identities against the organisations of the config in force. */
  get msp(): Msp {
    return this.chain.ledger.validationContext.msp;
  }

  get orderer(): Orderer | null {
    return this.ordererInstance;
  }

  /** Whether the node is still catching up to the config update that admits it. */
  get joining(): boolean {
    return this.joiningMode;
  }

  private peerEndpoints(config: ConsortiumConfig): Map<string, string> {
    return new Map((config.nodes ?? []).filter((n) => n.id !== this.nodeId).map((n) => [n.id, n.p2pUrl]));
  }

  /** Start the orderer if this node orders and the config in force lists it as an orderer. */
  private createOrderer(): void {
    if (this.ordererInstance || !this.roles.includes('orderer') || !this.config.orderers.some((o) => o.id === this.nodeId)) return;
    this.ordererInstance = new Orderer({
      id: this.nodeId,
      keyPem: this.keyPem,
      dir: join(this.nodeConfig.node.dataDir, 'orderer'),
      genesis: this.genesis,
      config: this.config,
      // Blocks up to what the ledger already holds were decided before this node could sign.
      signFromHeight: this.chain.ledger.height + 1,
      send: (to, message) => this.sendConsensus(to, message),
      fetchBlocks: (from, to) => this.fetchBlocksFromOrderers(from, to),
      onEvent: (event, detail) => this.onOrdererEvent(event, detail),
      onWalFsync: (seconds) => {
        this.metrics.walFsyncSeconds.observe(seconds);
        if (seconds >= SLOW_FSYNC_SECONDS)
          this.events.write(
            'warn',
            'slow-fsync',
            { seconds: Math.round(seconds * 1000) / 1000 },
            'slow fsync of the consensus write-ahead log: consensus waits for this disk',
          );
      },
      committedTx: (txId) => this.committedTx(txId),
    });
  }

  /** What the orderer reports, in the log and the metrics. */
  private onOrdererEvent(event: string, detail: Record<string, unknown>): void {
    if (event === 'storage-failure') {
      this.fatal = new Error(String(detail.reason));
      this.log.fatal(
        detail,
        detail['store'] === 'blocks'
          ? 'storage failure: a block could not be written durably; the node stops'
          : 'storage failure: the consensus write-ahead log could not be written durably; the node stops',
      );
      for (const h of this.fatalHandlers) h(this.fatal);
      return;
    }
    if (event === 'leader-change') {
      this.metrics.leaderChanges.inc();
      this.events.write(
        detail['to'] === null ? 'warn' : 'info',
        event,
        detail,
        detail['to'] === null ? 'consensus: no leader/primary known' : `consensus: leader/primary is now ${String(detail['to'])}`,
      );
      return;
    }
    if (event === 'epoch-change') {
      this.metrics.epochChanges.inc();
      this.events.write('info', event, detail, `consensus: epoch (term/view) ${String(detail['from'])} → ${String(detail['to'])}`);
      return;
    }
    this.log.info(detail, event);
  }

  private metricsSample(): MetricsSample {
    const engine = this.orderer?.engineStatus() ?? null;
    const transport = this.transport.getStats();
    return {
      height: this.chain.height,
      configSequence: this.chain.ledger.configState.record.sequence,
      joining: this.joiningMode,
      role: engine?.role ?? null,
      epoch: engine?.epoch ?? null,
      leaderKnown: engine !== null && engine.leader !== null && engine.leader !== '',
      connectedPeers: transport.connectedPeers.length,
      pendingTransactions: this.orderer?.pendingCount ?? 0,
      p2pReceivePauses: transport.receivePauses,
    };
  }

  /** Validate and commit one block on this node's peer, timed for the metrics. */
  private deliver(block: Block): void {
    const startedNs = process.hrtime.bigint();
    this.chain.deliver(block);
    this.metrics.blockCommitSeconds.observe(Number(process.hrtime.bigint() - startedNs) / 1e9);
  }

  private onConfigChange(state: ConfigState, blockNumber: number): void {
    const config = state.record.config;
    this.policyCache.clear();
    // Before the links of removed hospitals close: they must learn that this block is committed.
    this.ordererInstance?.flushNotices();
    this.transport.setPeers(this.peerEndpoints(config));
    const listed = listsNode(config, this.nodeId, this.org);
    this.log.info(
      { sequence: state.record.sequence, block: blockNumber, orgs: config.orgs.map((o) => o.org), orderers: config.orderers.map((o) => o.id), listed },
      'config update in force',
    );
    if (this.joiningMode && listed) {
      this.joiningMode = false;
      this.log.info({ block: blockNumber }, 'joined: the consortium config now lists this node');
    } else if (!listed) {
      this.log.warn({ sequence: state.record.sequence }, 'this node is no longer in the consortium config: it stops ordering and keeps its ledger read-only');
    }
    if (this.ordererInstance) {
      this.ordererInstance.setConfig(config, blockNumber + 1);
    } else if (!this.stopped) {
      this.createOrderer();
      const orderer = this.ordererInstance as Orderer | null;
      if (orderer) {
        this.attachOrderer(orderer);
        orderer.start();
      }
    }
  }

  static async start(nodeConfig: NodeConfig): Promise<MedLedgerNode> {
    const certPem = readPem(nodeConfig.identity.cert, 'node certificate');
    const keyPem = readPem(nodeConfig.identity.key, 'node key');
    const genesis = readGenesisBlock(nodeConfig.genesis);
    const node = new MedLedgerNode(nodeConfig, genesis, certPem, keyPem);
    try {
      await node.transport.start();
    } catch (err) {
      node.closeStores();
      throw new NodeStartError(`cannot listen on ${nodeConfig.listen.p2p.host}:${nodeConfig.listen.p2p.port}: ${(err as Error).message}`);
    }
    node.startDelivery();
    node.ordererInstance?.start();
    node.log.info(
      {
        roles: node.roles,
        height: node.height(),
        engine: node.config.ordering.engine,
        configSequence: node.chain.ledger.configState.record.sequence,
        joining: node.joiningMode,
      },
      'node started',
    );
    return node;
  }

  // --- NodeServices ----------------------------------------------------------------------------

  policies(): ReadonlyMap<string, Policy> {
    if (this.policyCache.size === 0) for (const c of this.config.contracts) this.policyCache.set(c.name, parsePolicy(c.endorsementPolicy));
    return this.policyCache;
  }

  endorsers(): readonly EndorserClient[] {
    const list: EndorserClient[] = [];
    const peer = this.peer;
    if (peer) {
      // Through a batcher: the proposals of one loop turn are endorsed with one batch signature.
      this.localEndorseBatcher ??= EndorseBatcher.local((signed) => peer.endorseMany(signed));
      const batcher = this.localEndorseBatcher;
      list.push({ org: this.org, endorse: (sp) => batcher.endorse(sp), evaluate: async (sp) => peer.evaluate(sp) });
    }
    for (const n of this.config.nodes ?? []) {
      if (n.id === this.nodeId || !n.roles.includes('peer')) continue;
      list.push(this.remoteEndorser(n));
    }
    return list;
  }

  async evaluate(signed: SignedProposal): Promise<EvaluateResponse> {
    if (this.peer) return this.peer.evaluate(signed);
    const target = (this.config.nodes ?? []).find((n) => n.org === this.org && n.roles.includes('peer') && n.id !== this.nodeId);
    if (!target) throw new NodeStartError('this node has no peer to evaluate on');
    return this.remoteEndorser(target).evaluate(signed);
  }

  async broadcast(envelope: Bytes): Promise<BroadcastResult> {
    const proposal: Proposal = { clientId: this.clientId, seq: ++this.seq, data: envelope };
    if (this.orderer) return this.orderer.broadcast(proposal);
    // A peer-only node hands the transaction to an orderer of the consortium.
    let maybeOrdered: Error | null = null;
    for (const o of this.config.orderers) {
      try {
        const answer = await this.transport.request(o.id, 'broadcast', encode(proposal), REQUEST_TIMEOUT_MS);
        return decode<BroadcastResult>(answer);
      } catch (err) {
        // Not connected: the request never left. Anything else (a timeout, a drop mid-request):
        // that orderer may have ordered it, and the caller must hear "unknown", not "refused".
        if (!(err instanceof PeerUnavailableError) || err.sent) maybeOrdered = err as Error;
        this.log.warn({ orderer: o.id, reason: (err as Error).message }, 'broadcast failed, trying the next orderer');
      }
    }
    if (maybeOrdered) throw maybeOrdered;
    return { accepted: false, reason: 'no orderer reachable' };
  }

  knownTx(txId: string): KnownTx | null {
    const committed = this.committedTx(txId);
    if (committed) return { state: 'committed', ...committed };
    return this.orderer?.knownTx(txId) ?? null;
  }

  /** A txId in this node's ledger index (every node keeps a validated ledger, orderer-only ones too). */
  private committedTx(txId: string): { blockNumber: number; code: ValidationCode } | null {
    const s = this.chain.ledger.txStatus(txId);
    return s ? { blockNumber: s.block, code: s.code } : null;
  }

  waitForTx(txId: string, timeoutMs: number): Promise<TxStatusEvent> {
    if (!this.peer) return Promise.reject(new NodeStartError('this node has no peer'));
    return this.peer.waitForTx(txId, timeoutMs);
  }

  getBlock(number: number): StoredBlock | null {
    if (!this.peer || !Number.isSafeInteger(number) || number < 0 || number > this.peer.height) return null;
    return this.peer.ledger.getBlock(number);
  }

  height(): number {
    return this.chain.height;
  }

  subscribeBlocks(fromNumber: number, listener: (event: BlockCommitEvent) => void): () => void {
    const peer = this.peer;
    if (!peer) throw new NodeStartError('this node has no peer');
    return peer.ledger.onCommit((event) => {
      if (event.number >= fromNumber) listener(event);
    });
  }

  status(): NodeStatus {
    const engine = this.orderer?.engineStatus() ?? null;
    const height = this.height();
    const lastHash = this.chain.ledger.lastBlockHash;
    return {
      nodeId: this.nodeId,
      org: this.org,
      roles: this.roles,
      consensus: engine ? { ...engine, engine: this.config.ordering.engine } : null,
      height,
      lastBlockHashHex: toHex(lastHash),
      stateHashHex: toHex(this.chain.ledger.stateHash()),
      connectedPeers: this.transport.getStats().connectedPeers,
      startedAtMs: this.startedAtMs,
      configSequence: this.chain.ledger.configState.record.sequence,
      joining: this.joiningMode,
      protocol: NODE_PROTOCOL,
      genesisHashHex: this.genesisHashHex,
    };
  }

  configState(): ConfigState {
    return this.chain.ledger.configState;
  }

  /**
   * Every node of the consortium config in force as this node sees it: its own status, and each
   * other node's status asked over mTLS ('status' channel) with a short timeout, so an unreachable
   * hospital shows as such within `timeoutMs` instead of stalling the answer.
   */
  async networkStatus(timeoutMs = NETWORK_STATUS_TIMEOUT_MS): Promise<PeerStatus[]> {
    const nodes = this.config.nodes ?? [];
    return Promise.all(
      nodes.map(async (n): Promise<PeerStatus> => {
        const base = { nodeId: n.id, org: n.org, roles: [...n.roles], apiUrl: n.apiUrl };
        if (n.id === this.nodeId) return { ...base, reachable: true, latencyMs: 0, status: this.status(), error: null };
        const startedAtMs = Date.now();
        try {
          const answer = await this.transport.request(n.id, 'status', new Uint8Array(0), timeoutMs);
          const status = parsePeerStatus(answer);
          return { ...base, reachable: true, latencyMs: Date.now() - startedAtMs, status, error: null };
        } catch (err) {
          const error = this.transport.speaksOtherProtocol(n.id)
            ? `it does not speak this node's protocol ${NODE_PROTOCOL}: a node of another MedLedger version (nodes of different versions keep no connection; upgrade every node)`
            : (err as Error).message.slice(0, 300);
          return { ...base, reachable: false, latencyMs: null, status: null, error };
        }
      }),
    );
  }

  /**
   * Write status() (plus `extra`) to `path` every `intervalMs`, atomically (tmp + rename), for
   * supervisors such as `medledger up` and for operators: it needs no credentials to read.
   */
  reportStatusTo(path: string, extra: Record<string, unknown>, intervalMs = 1_000): void {
    const write = (): void => {
      try {
        const tmp = `${path}.tmp`;
        writeFileSync(tmp, JSON.stringify({ ...this.status(), ...extra, fatal: this.fatal?.message ?? null, writtenAtMs: Date.now() }, null, 2));
        renameSync(tmp, path);
      } catch (err) {
        this.log.warn({ reason: (err as Error).message }, 'cannot write the status file');
      }
    };
    write();
    const timer = setInterval(write, intervalMs);
    timer.unref();
    this.cleanups.push(() => clearInterval(timer));
  }

  /**
   * Serve requests on a channel of the node-to-node transport (the caller's node id comes from
   * its mTLS certificate). Built-in channels cannot be taken over.
   */
  handleRequests(channel: string, handler: (from: string, payload: Bytes) => Promise<Bytes>): void {
    if (['endorse', ENDORSE_BATCH_CHANNEL, 'evaluate', 'broadcast', 'blocks', 'consensus', 'status'].includes(channel) || this.extraHandlers.has(channel)) {
      throw new Error(`request channel ${channel} is already taken`);
    }
    this.extraHandlers.set(channel, handler);
  }

  /** Ask another node on a registered channel (mTLS; bounded by a timeout). */
  request(nodeId: string, channel: string, payload: Bytes, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Bytes> {
    return this.transport.request(nodeId, channel, payload, timeoutMs);
  }

  /** The first error that stopped block delivery, if any (the node keeps serving reads). */
  /**
   * Ready to serve users: block delivery running, not catching up to its own admission, the
   * consensus view knows a leader/primary (an orderer), and the peer no more than a few blocks
   * behind what this node's orderer has. Liveness (GET /v1/health) is only "the process answers".
   */
  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.fatal) reasons.push(`block delivery stopped: ${this.fatal.message}`);
    if (this.joiningMode) reasons.push('joining: catching up to the config update that admits this node');
    const engine = this.orderer?.engineStatus() ?? null;
    if (this.orderer && (!engine || engine.leader === null || engine.leader === '')) reasons.push('consensus: no leader or primary known yet');
    const behind = (this.orderer?.height ?? this.chain.height) - this.chain.height;
    if (behind > READY_LAG_BLOCKS_MAX) reasons.push(`the peer is ${behind} blocks behind this node's orderer`);
    return { ready: reasons.length === 0, reasons };
  }

  gpbftControl(request: ControlRequest, by: ControlRequester): ControlResult {
    if (!this.orderer)
      return { accepted: false, code: 'NOT_A_MEMBER', reason: `${this.nodeId} runs no orderer of the consortium: send it to a node that orders` };
    return this.orderer.submitControl(request, by);
  }

  get logLevel(): string {
    return this.log.level;
  }

  /** Change this node's log level at runtime (its transport and API loggers are children of it or follow it). */
  set logLevel(level: string) {
    this.log.level = level;
  }

  get fatalError(): Error | null {
    return this.fatal;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const c of this.cleanups) c();
    await this.transport.stop();
    this.closeStores();
    this.log.info('node stopped');
  }

  // --- internals -------------------------------------------------------------------------------

  private closeStores(): void {
    this.ordererInstance?.close();
    this.chain.close();
  }

  private authenticatePeer(certPem: string): { ok: true; nodeId: string } | { ok: false; reason: string } {
    try {
      const id = this.msp.validate(certPem, Date.now());
      const member = (this.config.nodes ?? []).find((n) => n.id === id.id && n.org === id.org);
      if (!member) return { ok: false, reason: `${id.id} of ${id.org} is not a node of this consortium` };
      if (id.role !== 'peer' && id.role !== 'orderer') return { ok: false, reason: `${id.id} has role ${id.role}, not a node role` };
      return { ok: true, nodeId: id.id };
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
  }

  private sendConsensus(to: string, message: EngineMessage): void {
    try {
      if (!this.transport.send(to, 'consensus', this.encodeConsensus(message))) this.log.debug({ to }, 'consensus message dropped: queue full or unknown peer');
    } catch (err) {
      this.log.warn({ to, reason: (err as Error).message }, 'consensus message not sent');
    }
  }

  private onMessage(from: string, channel: string, payload: Bytes): void {
    if (channel !== 'consensus' || !this.orderer) return;
    if (!this.config.orderers.some((o) => o.id === from)) return;
    let message: EngineMessage;
    try {
      message = decode<EngineMessage>(payload);
    } catch {
      return; // engines only ever see decodable messages; garbage is dropped here
    }
    if (typeof message !== 'object' || message === null || typeof message.type !== 'string') return;
    try {
      this.orderer.step(from, message);
    } catch (err) {
      // A broken invariant (or a failed durable write, already reported by the orderer) means
      // this node's state can no longer be trusted: stop, and let a restart recover from the
      // durable state (TigerBeetle's rule). Anything else an engine throws on a peer's message is
      // a bug worth a loud log, but must not let a peer stop this node.
      if (err instanceof EngineAssertionError) {
        this.fatal = err;
        this.log.fatal({ from, reason: err.message }, 'consensus invariant violated: the node stops');
        for (const h of this.fatalHandlers) h(err);
        return;
      }
      if (isStorageFailure(err)) return;
      this.log.error({ from, reason: (err as Error).message }, 'engine failed on a message');
    }
  }

  private async onRequest(_from: string, channel: string, payload: Bytes): Promise<Bytes> {
    switch (channel) {
      case 'endorse': {
        if (!this.peer) throw new Error('no peer on this node');
        return encode(this.peer.endorse(decodeSignedProposal(payload)));
      }
      case ENDORSE_BATCH_CHANNEL: {
        const peer = this.peer;
        if (!peer) throw new Error('no peer on this node');
        return serveEndorseBatch(payload, (signed) => peer.endorseMany(signed));
      }
      case 'evaluate': {
        if (!this.peer) throw new Error('no peer on this node');
        return encode(this.peer.evaluate(decodeSignedProposal(payload)));
      }
      case 'broadcast': {
        if (!this.orderer) throw new Error('no orderer on this node');
        const p = decode<Proposal>(payload);
        return encode(this.orderer.broadcast(p));
      }
      case 'status':
        // JSON, not DAG-CBOR: an engine's status may hold fields DAG-CBOR cannot encode (undefined).
        return utf8(JSON.stringify(this.status()));
      case 'blocks': {
        const req = decode<BlocksRequest>(payload);
        if (!Number.isSafeInteger(req?.from) || !Number.isSafeInteger(req?.to) || req.from < 1 || req.to < req.from)
          throw new Error('blocks request needs 1 <= from <= to');
        return encode(this.serveBlocks(req.from, Math.min(req.to, req.from + BLOCKS_PER_REQUEST_MAX - 1)));
      }
      default: {
        const handler = this.extraHandlers.get(channel);
        if (!handler) throw new Error(`unknown request channel ${channel}`);
        return handler(_from, payload);
      }
    }
  }

  /** Blocks as ordered (what the orderer stored), bounded in count and bytes. */
  private serveBlocks(from: number, to: number): Bytes[] {
    const out: Bytes[] = [];
    let bytes = 0;
    // The orderer's copy when it has the block (as ordered, its own signature), else the ledger's.
    const orderer = this.ordererInstance;
    const height = Math.max(orderer?.height ?? 0, this.chain.height);
    for (let n = from; n <= Math.min(to, height); n++) {
      const encoded = orderer && n <= orderer.height ? orderer.getEncodedBlock(n) : encodeBlock(this.chain.ledger.getBlock(n).block);
      if (out.length > 0 && bytes + encoded.byteLength > BLOCK_RESPONSE_BYTES_MAX) break;
      out.push(encoded);
      bytes += encoded.byteLength;
    }
    return out;
  }

  private async fetchBlocks(nodeId: string, from: number, to: number): Promise<Block[]> {
    const answer = await this.transport.request(nodeId, 'blocks', encode({ from, to }), REQUEST_TIMEOUT_MS);
    const list = decode<Bytes[]>(answer);
    if (!Array.isArray(list)) throw new TransportError(`${nodeId} answered a blocks request with garbage`);
    return list.map((b) => decodeBlock(b));
  }

  /** State transfer: ask the other orderers in turn (the orderer verifies what comes back). */
  private async fetchBlocksFromOrderers(from: number, to: number): Promise<Block[]> {
    const others = this.config.orderers.filter((o) => o.id !== this.nodeId);
    const start = Math.floor(Math.random() * Math.max(1, others.length));
    let lastError: Error = new TransportError('no other orderer');
    for (let i = 0; i < others.length; i++) {
      const o = others[(start + i) % others.length]!;
      try {
        const blocks = await this.fetchBlocks(o.id, from, to);
        if (blocks.length > 0) return blocks;
      } catch (err) {
        lastError = err as Error;
      }
    }
    throw lastError;
  }

  /** One batcher per remote peer node: the asks of one event-loop turn leave as one request. */
  private readonly endorseBatchers = new Map<string, EndorseBatcher>();
  private localEndorseBatcher: EndorseBatcher | null = null;

  private endorseBatcher(nodeId: string): EndorseBatcher {
    let batcher = this.endorseBatchers.get(nodeId);
    if (!batcher) {
      batcher = EndorseBatcher.remote((channel, payload) => this.transport.request(nodeId, channel, payload, ENDORSE_TIMEOUT_MS));
      this.endorseBatchers.set(nodeId, batcher);
    }
    return batcher;
  }

  private remoteEndorser(n: NodeEndpointConfig): EndorserClient {
    return {
      org: n.org,
      available: () => this.transport.isConnected(n.id),
      endorse: (sp) => this.endorseBatcher(n.id).endorse(sp),
      evaluate: async (sp) => decode<EvaluateResponse>(await this.transport.request(n.id, 'evaluate', encodeSignedProposal(sp), REQUEST_TIMEOUT_MS)),
    };
  }

  private deliveryFailed(err: Error): void {
    this.fatal = err;
    if (isStorageFailure(err)) {
      // A failed durable write (DESIGN §4): never retried, never carried past. The process stops
      // (the CLI exits on onFatal); a restart recovers from what was durably written.
      this.log.fatal({ reason: err.message }, 'storage failure: a block could not be written durably; the node stops');
      for (const h of this.fatalHandlers) h(err);
      return;
    }
    this.log.fatal({ reason: err.message }, 'block delivery stopped: the ordering service delivered a block this peer rejects');
  }

  /** Called when the node must stop (a failed durable write): the process owner exits. */
  onFatal(handler: (err: Error) => void): void {
    this.fatalHandlers.push(handler);
  }

  /** The ledger follows this node's own orderer (from the ledger's height on). */
  private attachOrderer(orderer: Orderer): void {
    const chain = this.chain;
    this.cleanups.push(
      orderer.subscribe(
        chain.height + 1,
        (block) => {
          // Blocks pulled while joining may already be in the ledger.
          if (block.header.number <= chain.height) return;
          this.deliver(block);
        },
        (err) => this.deliveryFailed(err),
      ),
    );
  }

  private startDelivery(): void {
    if (this.ordererInstance) this.attachOrderer(this.ordererInstance);
    // Without an orderer of its own (peer-only, or joining): pull from the orderers, verifying
    // each block through Ledger.commitBlock. Stops pulling once an orderer of its own runs.
    const chain = this.chain;
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.fatal || this.ordererInstance) return;
      busy = true;
      this.fetchBlocksFromOrderers(chain.height + 1, chain.height + BLOCKS_PER_REQUEST_MAX)
        .then((blocks) => {
          for (const b of blocks) {
            if (this.ordererInstance || b.header.number !== chain.height + 1) break;
            this.deliver(b);
          }
        })
        .catch((err: Error) => {
          // An unreachable orderer is retried; a block the ledger rejects stops delivery —
          // unless this node is joining, when another orderer's copy is tried next time.
          if (err instanceof TransportError) return;
          if (this.joiningMode) {
            this.log.warn({ reason: err.message }, 'joining: a fetched block was rejected; trying again');
            return;
          }
          this.deliveryFailed(err);
        })
        .finally(() => {
          busy = false;
        });
    }, PEER_PULL_INTERVAL_MS);
    timer.unref();
    this.cleanups.push(() => clearInterval(timer));
  }
}

/** Whether `config` lists node `nodeId` of `org` (its organisation and its node entry). */
function listsNode(config: ConsortiumConfig, nodeId: string, org: string): boolean {
  return config.orgs.some((o) => o.org === org) && (config.nodes ?? []).some((n) => n.id === nodeId && n.org === org);
}

/** Same chain? (used by tests and `status`): equal heights and last block hashes. */
export function sameChain(a: NodeStatus, b: NodeStatus): boolean {
  return a.height === b.height && bytesEqual(Buffer.from(a.lastBlockHashHex, 'hex'), Buffer.from(b.lastBlockHashHex, 'hex'));
}

/** An error from the disk under the ledger (a failed write or fsync), through any wrapping. */
function isStorageFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e.name === 'BlockStoreError') return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E(IO|NOSPC|ROFS|DQUOT|BADF|FBIG)$/.test(code)) return true;
  }
  return false;
}
