// Test helpers (not a test file): a consortium, its genesis, real endorsing peers, and a signing
// orderer's BlockBuilder, so tests can hand-assemble transactions (forged, replayed, under-endorsed)
// and blocks (conflicting transactions in one block) that the gateway would never produce.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { toHex, type Bytes } from '../codec/index.ts';
import { blockDigest, GENESIS_DIGEST } from '../consensus/digest.ts';
import type { Proposal } from '../consensus/engine.ts';
import { parsePrivateKey, sign } from '../crypto/index.ts';
import type { Consortium } from '../identity/index.ts';
import { ContractRegistry, type Contract } from '../contracts/runtime.ts';
import { assetsContract } from '../contracts/samples/assets.ts';
import { BlockBuilder } from '../node/orderer.ts';
import { createDevConsortium, DEFAULT_ORDERING, majorityPolicy, orgNames } from '../node/inprocess.ts';
import { Peer } from '../node/peer.ts';
import { blockHash, type Block, type BlockHeader } from '../ledger/block.ts';
import { genesisBlock, type Capability, type ConsortiumConfig } from '../ledger/config.ts';
import {
  buildEnvelope,
  buildProposal,
  encodeEnvelope,
  endorse,
  signProposal,
  type Endorsement,
  type MessageSigner,
  type SignedProposal,
  type TxProposal,
} from '../ledger/tx.ts';

export interface TestUser {
  readonly org: string;
  readonly certPem: string;
  readonly signer: MessageSigner;
}

export function tempDir(prefix = 'medledger-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export class TestKit {
  readonly orgs: string[];
  readonly config: ConsortiumConfig;
  readonly genesis: Block;
  readonly builder: BlockBuilder;
  readonly contracts: ContractRegistry;
  private decidedDigest: Bytes = GENESIS_DIGEST;

  private constructor(
    readonly consortium: Consortium,
    orgs: string[],
    contracts: readonly Contract[],
    policy: string | undefined,
    readonly ordererId: string,
    capabilities: readonly Capability[] = [],
  ) {
    this.orgs = orgs;
    this.contracts = new ContractRegistry();
    for (const c of contracts) this.contracts.register(c);
    const org0 = orgs[0]!;
    this.config = {
      name: 'medledger-test',
      createdAtMs: Date.now() - 60_000,
      rootCertPem: consortium.mspConfig.rootCertPem,
      orgs: consortium.mspConfig.orgs,
      orderers: [{ id: ordererId, org: org0, certPem: consortium.nodes.get(org0)!.certPem }],
      contracts: contracts.map((c) => ({ name: c.name, version: c.version, endorsementPolicy: policy ?? majorityPolicy(orgs) })),
      ordering: DEFAULT_ORDERING,
      ...(capabilities.length > 0 ? { capabilities } : {}),
    };
    this.genesis = genesisBlock(this.config);
    const key = parsePrivateKey(consortium.nodes.get(org0)!.keyPem);
    this.builder = new BlockBuilder(ordererId, (m) => sign(key, m), 'solo');
  }

  static async create(options: { orgs?: number; contracts?: readonly Contract[]; policy?: string; consortium?: Consortium } = {}): Promise<TestKit> {
    const orgs = orgNames(options.orgs ?? 3);
    const consortium = options.consortium ?? (await createDevConsortium(orgs));
    return new TestKit(consortium, orgs, options.contracts ?? [assetsContract], options.policy, `orderer.${orgs[0]}`);
  }

  /** A kit over the same consortium with another policy / contracts (cheap: no new certificates). */
  derive(options: { contracts?: readonly Contract[]; policy?: string; capabilities?: readonly Capability[] }): TestKit {
    return new TestKit(this.consortium, this.orgs, options.contracts ?? [assetsContract], options.policy, this.ordererId, options.capabilities);
  }

  /** This kit's consortium identity: its genesis block hash, hex (what a proposal names, decision 1389). */
  get consortiumHex(): string {
    return toHex(blockHash(this.genesis.header));
  }

  user(org: string, commonName = 'doctor1'): TestUser {
    const u = this.consortium.users.find((x) => x.org === org && x.commonName === commonName);
    if (!u) throw new Error(`no user ${commonName} in ${org}`);
    const key = parsePrivateKey(u.keyPem);
    return { org, certPem: u.certPem, signer: { sign: (m) => sign(key, m) } };
  }

  /** A real peer of `org` with its own ledger in `dir`. */
  peer(org: string, dir: string): Peer {
    const node = this.consortium.nodes.get(org)!;
    return new Peer({ org, id: node.commonName, certPem: node.certPem, keyPem: node.keyPem, ledgerDir: dir, genesis: this.genesis, contracts: this.contracts });
  }

  proposal(
    user: TestUser,
    fn: string,
    args: readonly string[],
    opts: { contract?: string; nonce?: Bytes; timestampMs?: number; consortium?: string } = {},
  ): { proposal: TxProposal; signed: SignedProposal } {
    const proposal = buildProposal({
      contract: opts.contract ?? 'assets',
      fn,
      args,
      creator: user.certPem,
      nonce: opts.nonce ?? new Uint8Array(randomBytes(24)),
      timestampMs: opts.timestampMs ?? Date.now(),
      ...(opts.consortium === undefined ? {} : { consortium: opts.consortium }),
    });
    return { proposal, signed: signProposal(proposal, user.signer) };
  }

  /** Endorse on the given peers; throws if any refuses or they disagree. */
  endorse(peers: readonly Peer[], signed: SignedProposal): { response: Bytes; endorsements: Endorsement[] } {
    let response: Bytes | null = null;
    const endorsements: Endorsement[] = [];
    for (const p of peers) {
      const r = p.endorse(signed);
      if (r.status !== 200 || !r.response || !r.endorsement) throw new Error(`${p.org} refused: ${r.status} ${r.message}`);
      if (response && !Buffer.from(response).equals(Buffer.from(r.response))) throw new Error('endorsers disagree');
      response = r.response;
      endorsements.push(r.endorsement);
    }
    if (!response) throw new Error('no endorsers');
    return { response, endorsements };
  }

  /** An endorsement of arbitrary response bytes by `org`'s peer key (hand-crafted transactions). */
  endorseRaw(org: string, response: Bytes): Endorsement {
    const node = this.consortium.nodes.get(org)!;
    const key = parsePrivateKey(node.keyPem);
    return endorse(response, node.certPem, { sign: (m) => sign(key, m) });
  }

  envelope(user: TestUser, signed: SignedProposal, response: Bytes, endorsements: readonly Endorsement[]): Bytes {
    return encodeEnvelope(buildEnvelope({ proposal: signed.proposal, response, endorsements }, user.signer));
  }

  /** Propose, endorse on `peers`, sign: a complete transaction envelope. */
  tx(user: TestUser, peers: readonly Peer[], fn: string, args: readonly string[]): { txId: string; envelope: Bytes } {
    const { proposal, signed } = this.proposal(user, fn, args);
    const { response, endorsements } = this.endorse(peers, signed);
    return { txId: proposal.txId, envelope: this.envelope(user, signed, response, endorsements) };
  }

  /** An orderer-signed block after `previous` holding `envelopes`, as the solo orderer would cut it. */
  block(previous: BlockHeader, envelopes: readonly Bytes[]): Block {
    const height = previous.number + 1;
    const proposals: Proposal[] = envelopes.map((data, i) => ({ clientId: 'testkit', seq: height * 100_000 + i + 1, data }));
    const digest = blockDigest(height, this.decidedDigest, proposals);
    const block = this.builder.build(previous, { height, proposals, digest, previousDigest: this.decidedDigest, certificate: null });
    this.decidedDigest = digest;
    return block;
  }
}
