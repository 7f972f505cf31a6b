// A whole consortium in one process: one peer per organisation, one solo orderer (run by the
// first organisation), and gateways for the organisations' users — the lifecycle of DESIGN §4
// without a network. The classes are the real ones (Peer, Orderer, Gateway); only the
// "transport" is a direct method call wrapped in a Promise.
//
// Directory layout (one directory per organisation, like one node each):
//   <dir>/<org>/ledger/blocks/blocks-NNNNNN.bin   the peer's block store
//   <dir>/<org>/ledger/state.sqlite               the peer's world state, history, tx index
//   <dir>/<org1>/orderer/blocks/…, orderer/wal/   the orderer's chain and consensus WAL
import { join } from 'node:path';
import { createConsortium, type Consortium, type ConsortiumIdentity } from '../identity/index.ts';
import type { Contract } from '../contracts/runtime.ts';
import { ContractRegistry } from '../contracts/runtime.ts';
import { assetsContract } from '../contracts/samples/assets.ts';
import { blockHash, type Block } from '../ledger/block.ts';
import { toHex } from '../codec/index.ts';
import { genesisBlock, type ConsortiumConfig, type OrderingConfig } from '../ledger/config.ts';
import { VerifiedSignatureCache } from '../ledger/sigcache.ts';
import { validationContextFromConfig, type ValidationContext } from '../ledger/validator.ts';
import { SeededRng } from '../consensus/rng.ts';
import { Gateway, GatewayError, type EndorserClient } from './gateway.ts';
import { Orderer } from './orderer.ts';
import { Peer } from './peer.ts';
import { EndorseBatcher } from './endorse-batcher.ts';

export const DEFAULT_ORDERING: OrderingConfig = {
  engine: 'solo',
  countMax: 100,
  sizeBytesMax: 4 * 1024 * 1024,
  timeoutTicks: 2,
  pendingMax: 20_000,
  tickMs: 10,
  clockSkewMsMax: 5 * 60_000,
};

/** Majority of the organisations' peers: OutOf(⌊n/2⌋+1, 'Org1.peer', …). */
export function majorityPolicy(orgs: readonly string[]): string {
  return `OutOf(${Math.floor(orgs.length / 2) + 1}, ${orgs.map((o) => `'${o}.peer'`).join(', ')})`;
}

export function orgNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `Hospital${i + 1}`);
}

/** Users every organisation gets in the in-process network. */
export const DEFAULT_USERS = [
  { commonName: 'doctor1', role: 'doctor' as const },
  { commonName: 'admin1', role: 'admin' as const },
];

export async function createDevConsortium(orgs: readonly string[]): Promise<Consortium> {
  return createConsortium({
    orgs: [...orgs],
    users: orgs.flatMap((org) => DEFAULT_USERS.map((u) => ({ org, commonName: u.commonName, role: u.role }))),
  });
}

export interface InProcessOptions {
  readonly dir: string;
  readonly orgs: readonly string[];
  /** Reuse identities (tests create one consortium per file; certificates are slow-ish to make). */
  readonly consortium?: Consortium;
  readonly contracts?: readonly Contract[];
  /** contract name → policy text; default majorityPolicy for every contract. */
  readonly policies?: Readonly<Record<string, string>>;
  readonly ordering?: Partial<OrderingConfig>;
  readonly clock?: () => number;
  /** Start the orderer's tick timer (partial blocks after timeoutTicks × tickMs). Default true. */
  readonly autoTick?: boolean;
  /**
   * Share one memo of verified signatures between the nodes of this process (default true):
   * otherwise each of N peers re-verifies every signature the others already checked. See
   * src/ledger/sigcache.ts and decision 0203.
   */
  readonly shareVerifiedSignatures?: boolean;
  /** Genesis time; pass the first run's value to reopen the same network's directories. */
  readonly createdAtMs?: number;
}

export class InProcessNetwork {
  readonly peers: readonly Peer[];
  /**
   * One batcher per peer, shared by every gateway: the proposals of one loop turn are endorsed
   * together and signed with one batch signature, as a node does for its own peer (decision 1384).
   */
  private readonly endorseBatchers: readonly EndorseBatcher[];
  readonly orderer: Orderer;
  readonly signatureCache: VerifiedSignatureCache | null;
  private readonly ctx: ValidationContext;
  private readonly unsubscribes: (() => void)[] = [];
  private readonly deliveryErrors: Error[] = [];
  private closed = false;

  private constructor(
    readonly config: ConsortiumConfig,
    readonly genesis: Block,
    readonly consortium: Consortium,
    contracts: ContractRegistry,
    private readonly options: InProcessOptions,
  ) {
    const org0 = options.orgs[0]!;
    this.signatureCache = (options.shareVerifiedSignatures ?? true) ? new VerifiedSignatureCache() : null;
    const verify = this.signatureCache ? { verify: this.signatureCache.verify } : {};
    this.ctx = validationContextFromConfig(config, this.signatureCache?.verify);
    this.orderer = new Orderer({
      ...verify,
      id: `orderer.${org0}`,
      keyPem: consortium.nodes.get(org0)!.keyPem,
      dir: join(options.dir, org0, 'orderer'),
      genesis,
      ...(options.clock ? { clock: options.clock } : {}),
      // The orderer's organisation's peer holds the txId index it refuses resubmissions by.
      committedTx: (txId) => {
        const s = this.peers[0]?.ledger.txStatus(txId);
        return s ? { blockNumber: s.block, code: s.code } : null;
      },
    });
    this.peers = options.orgs.map((org) => {
      const node = consortium.nodes.get(org)!;
      return new Peer({
        ...verify,
        org,
        id: node.commonName,
        certPem: node.certPem,
        keyPem: node.keyPem,
        ledgerDir: join(options.dir, org, 'ledger'),
        genesis,
        contracts,
        ...(options.clock ? { clock: options.clock } : {}),
      });
    });
    this.endorseBatchers = this.peers.map((p) => EndorseBatcher.local((signed) => p.endorseMany(signed)));
    for (const peer of this.peers) {
      this.unsubscribes.push(
        this.orderer.subscribe(
          peer.height + 1,
          (block) => peer.deliver(block),
          (err) => this.deliveryErrors.push(err),
        ),
      );
    }
    if (options.autoTick ?? true) this.orderer.start();
  }

  static async create(options: InProcessOptions): Promise<InProcessNetwork> {
    if (options.orgs.length === 0) throw new Error('an in-process network needs at least one organisation');
    const consortium = options.consortium ?? (await createDevConsortium(options.orgs));
    const contracts = new ContractRegistry();
    for (const c of options.contracts ?? [assetsContract]) contracts.register(c);
    const org0 = options.orgs[0]!;
    const config: ConsortiumConfig = {
      name: 'medledger-dev',
      createdAtMs: options.createdAtMs ?? (options.clock ?? Date.now)(),
      rootCertPem: consortium.mspConfig.rootCertPem,
      orgs: consortium.mspConfig.orgs.filter((o) => options.orgs.includes(o.org)),
      orderers: [{ id: `orderer.${org0}`, org: org0, certPem: consortium.nodes.get(org0)!.certPem }],
      contracts: contracts.names().map((name) => ({
        name,
        version: contracts.get(name)!.version,
        endorsementPolicy: options.policies?.[name] ?? majorityPolicy(options.orgs),
      })),
      ordering: { ...DEFAULT_ORDERING, ...options.ordering },
      // As a consortium `medledger init` makes (decision 1389).
      capabilities: ['proposals-name-consortium'],
    };
    return new InProcessNetwork(config, genesisBlock(config), consortium, contracts, options);
  }

  peer(org: string): Peer {
    const p = this.peers.find((x) => x.org === org);
    if (!p) throw new Error(`no peer of ${org}`);
    return p;
  }

  identity(org: string, commonName: string): ConsortiumIdentity {
    const id = this.consortium.users.find((u) => u.org === org && u.commonName === commonName);
    if (!id) throw new Error(`no user ${commonName} in ${org}`);
    return id;
  }

  /** A gateway for a user of `org` (default its doctor), endorsing on every org's peer. */
  gateway(
    org: string,
    commonName = 'doctor1',
    options: { commitTimeoutMs?: number; clock?: () => number; hedgeAfterMs?: number; wrapEndorser?: (e: EndorserClient) => EndorserClient } = {},
  ): Gateway {
    const user = this.identity(org, commonName);
    const ctx = this.ctx;
    const wrap = options.wrapEndorser ?? ((e: EndorserClient) => e);
    const endorsers: EndorserClient[] = this.peers.map((p, i) =>
      wrap({
        org: p.org,
        endorse: (signed) => this.endorseBatchers[i]!.endorse(signed),
        evaluate: (signed) => Promise.resolve(p.evaluate(signed)),
      }),
    );
    const own = this.peer(org);
    const clock = options.clock ?? this.options.clock;
    return new Gateway({
      certPem: user.certPem,
      keyPem: user.keyPem,
      msp: ctx.msp,
      policies: ctx.policies,
      endorsers,
      orderer: { broadcast: (p) => Promise.resolve(this.orderer.broadcast(p)) },
      commits: { waitForTx: (txId, timeoutMs) => own.waitForTx(txId, timeoutMs) },
      verify: ctx.verify,
      consortium: toHex(blockHash(this.genesis.header)),
      ...(options.commitTimeoutMs ? { commitTimeoutMs: options.commitTimeoutMs } : {}),
      ...(options.hedgeAfterMs !== undefined ? { hedgeAfterMs: options.hedgeAfterMs } : {}),
      ...(clock ? { clock } : {}),
    });
  }

  /** Delivery failures so far (a peer that rejected a block stops receiving). */
  get errors(): readonly Error[] {
    return this.deliveryErrors;
  }

  /** Resolve once every peer has committed block `height` (or reject after timeoutMs). */
  async waitForHeight(height: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.peers.some((p) => p.height < height)) {
      if (this.deliveryErrors.length) throw this.deliveryErrors[0]!;
      if (Date.now() > deadline)
        throw new Error(`peers did not reach height ${height} within ${timeoutMs} ms (heights ${this.peers.map((p) => p.height).join(', ')})`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unsubscribes) u();
    this.orderer.close();
    for (const p of this.peers) p.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The `medledger dev` workload: mostly creates, plus deliberately conflicting transactions so
// that the validation codes show — concurrent transfers of a few "hot" assets (the later ones
// in a block read a version an earlier one changed: MVCC_READ_CONFLICT) and tallies over a
// range that concurrent creates insert into (PHANTOM_READ_CONFLICT).

export interface WorkloadOptions {
  readonly transactions: number;
  /** Transactions in flight at once (bounded: the gateway's commit waiters are bounded too). */
  readonly concurrency?: number;
  readonly seed?: number;
  readonly onSettled?: (done: number) => void;
}

export interface WorkloadResult {
  readonly submitted: number;
  readonly codes: Record<string, number>;
  /** Transactions that never reached the orderer, by reason (endorsement refused, endorsers disagreed…). */
  readonly notSubmitted: Record<string, number>;
  readonly elapsedMs: number;
}

const ASSETS_PER_BUCKET = 100;

export async function runDevWorkload(net: InProcessNetwork, options: WorkloadOptions): Promise<WorkloadResult> {
  const rng = new SeededRng(options.seed ?? 1);
  const gateways = net.peers.map((p) => net.gateway(p.org));
  const codes: Record<string, number> = {};
  const notSubmitted: Record<string, number> = {};
  const started = Date.now();
  let done = 0;
  const settle = async (promise: Promise<{ code: string }>): Promise<void> => {
    try {
      const r = await promise;
      codes[r.code] = (codes[r.code] ?? 0) + 1;
    } catch (err) {
      const kind = err instanceof GatewayError ? err.kind : 'ERROR';
      notSubmitted[kind] = (notSubmitted[kind] ?? 0) + 1;
    }
    done += 1;
    options.onSettled?.(done);
  };
  const total = options.transactions;
  const hotCount = Math.max(1, Math.min(5, Math.floor(total / 100)));
  const hot = Array.from({ length: Math.min(hotCount, total) }, (_, i) => `hot-${i}`);
  await Promise.all(hot.map((id, i) => settle(gateways[i % gateways.length]!.submit('assets', 'create', [id, 'pool', '100']))));
  // Every endorser must see the hot assets before the transfers start (gateways hear from their own peer only).
  await net.waitForHeight(net.orderer.height);
  const concurrency = options.concurrency ?? 200;
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < total - hot.length; i++) {
    const gw = gateways[i % gateways.length]!;
    const bucket = String(Math.floor(i / ASSETS_PER_BUCKET)).padStart(4, '0');
    const r = rng.nextFloat();
    let p: Promise<{ code: string }>;
    if (r < 0.06) p = gw.submit('assets', 'transfer', [hot[i % hot.length]!, `owner${i}`]);
    else if (r < 0.08) p = gw.submit('assets', 'tally', [`asset-${bucket}-`, `asset-${bucket}.`]);
    else p = gw.submit('assets', 'create', [`asset-${bucket}-${String(i).padStart(6, '0')}`, `owner${i % 7}`, String(rng.nextInt(1000))]);
    const tracked: Promise<void> = settle(p).finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return { submitted: total, codes, notSubmitted, elapsedMs: Date.now() - started };
}
