// The client side of the lifecycle (DESIGN §4 steps 1 and 3), after Fabric's Gateway:
//   build and sign a proposal → ask endorsers of enough organisations to satisfy the contract's
//   endorsement policy → check every endorsement (certificate, signature, identical responses)
//   and the policy → sign the transaction → broadcast it to the ordering service → await the
//   commit status (validation code) from a peer.
// It talks to peers and orderers only through the small interfaces below, so the same code
// works in one process (src/node/inprocess.ts) and over the network later.
import { randomBytes, type KeyObject } from 'node:crypto';
import { bytesEqual, toHex, type Bytes } from '../codec/index.ts';
import type { Proposal } from '../consensus/engine.ts';
import { parsePrivateKey, sign, verify } from '../crypto/index.ts';
import { evaluatePolicy, type Msp, type Policy } from '../identity/index.ts';
import type { Principal } from '../identity/roles.ts';
import type { ValidationCode } from '../ledger/codes.ts';
import { buildEnvelope, buildProposal, encodeEnvelope, endorsementMessage, signProposal, type Endorsement, type SignedProposal } from '../ledger/tx.ts';
import type { VerifyFn } from '../ledger/sigcache.ts';
import type { BroadcastResult } from './orderer.ts';
import type { EvaluateResponse, ProposalResponse, TxStatusEvent } from './peer.ts';
import { verifyBatchable } from '../crypto/batch-signature.ts';

export interface EndorserClient {
  readonly org: string;
  /** False when the endorser is known to be unreachable now (its transport link is down). */
  available?(): boolean;
  endorse(signed: SignedProposal): Promise<ProposalResponse>;
  evaluate(signed: SignedProposal): Promise<EvaluateResponse>;
}

export interface OrdererClient {
  broadcast(proposal: Proposal): Promise<BroadcastResult>;
}

export interface CommitStatusClient {
  waitForTx(txId: string, timeoutMs: number): Promise<TxStatusEvent>;
}

export interface GatewayOptions {
  readonly certPem: string;
  readonly keyPem: string;
  readonly msp: Msp;
  /** contract name → endorsement policy (from the consortium configuration). */
  readonly policies: ReadonlyMap<string, Policy>;
  /** Candidate endorsers, one or more per organisation. */
  readonly endorsers: readonly EndorserClient[];
  readonly orderer: OrdererClient;
  /** Usually the client's own organisation's peer. */
  readonly commits: CommitStatusClient;
  readonly commitTimeoutMs?: number;
  readonly clock?: () => number;
  /** Signature check; the in-process network shares a memo between its nodes (sigcache.ts). */
  readonly verify?: VerifyFn;
  /** Ask a spare endorser beside one still silent after this long (default 1 s). */
  readonly hedgeAfterMs?: number;
  /** The consortium's genesis block hash (hex) every proposal names (decision 1389). */
  readonly consortium?: string;
}

/** Why a submission stopped before (or without) reaching the ledger. */
export type GatewayErrorKind =
  'ENDORSEMENT_REFUSED' | 'ENDORSEMENT_MISMATCH' | 'POLICY_NOT_SATISFIED' | 'ORDERER_REJECTED' | 'COMMIT_TIMEOUT' | 'UNKNOWN_CONTRACT';

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly kind: GatewayErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface PreparedTx {
  readonly txId: string;
  readonly envelope: Bytes;
  /** The contract's return value, as endorsed. */
  readonly payload: Bytes;
  readonly endorsers: readonly string[];
}

export interface SubmitResult {
  readonly txId: string;
  readonly code: ValidationCode;
  readonly reason: string;
  readonly blockNumber: number;
  readonly payload: Bytes;
}

export interface EndorseOptions {
  /** Ask exactly these organisations' endorsers (tests: deliberately too few). */
  readonly orgs?: readonly string[];
  /** Skip the client-side policy check (tests: let the validator reject instead). */
  readonly skipPolicyCheck?: boolean;
}

const DEFAULT_COMMIT_TIMEOUT_MS = 30_000;
const DEFAULT_HEDGE_AFTER_MS = 1_000;

export interface CollectOptions {
  readonly signed: SignedProposal;
  /** contract.fn, for error messages. */
  readonly label: string;
  /** Checked against the endorsers' identities; null skips the check (tests). */
  readonly policy: Policy | null;
  readonly endorsers: readonly EndorserClient[];
  readonly msp: Msp;
  readonly atMs: number;
  readonly verify?: VerifyFn;
  /** Endorsers to ask instead of one that cannot be reached, or beside one that is slow. */
  readonly spares?: readonly EndorserClient[];
  /** Ask a spare when an answer is still missing after this long (hedging); never when absent. */
  readonly hedgeAfterMs?: number;
}

export interface CollectedEndorsements {
  readonly response: Bytes;
  readonly payload: Bytes;
  readonly endorsements: readonly Endorsement[];
  readonly signers: readonly Principal[];
}

/**
 * Ask endorsers (in parallel) to endorse one signed proposal; require identical results, valid
 * endorser certificates and signatures, and (unless policy is null) that the endorsers satisfy
 * the policy. Shared by the client-side Gateway and the node's REST gateway.
 *
 * Routing around failures (issue 11): an endorser that cannot be reached is replaced at once by a
 * spare (another peer of the same organisation first, else another organisation), and when
 * `hedgeAfterMs` passes with answers still missing, a spare is asked alongside the slow one; the
 * first answers that satisfy the policy win. A refusal by the contract is not routed around: the
 * contract is deterministic, so another peer would refuse the same way.
 */
export async function collectEndorsements(o: CollectOptions): Promise<CollectedEndorsements> {
  if (o.endorsers.length === 0) throw new GatewayError('POLICY_NOT_SATISFIED', `no endorsers available for ${o.label}`);
  const spares = [...(o.spares ?? [])];
  interface Slot {
    readonly endorser: EndorserClient;
    answer: ProposalResponse | null;
    unreachable: boolean;
  }
  const slots: Slot[] = [];
  const endorsements: Endorsement[] = [];
  const signers: Principal[] = [];
  let response: Bytes | null = null;
  let payload: Bytes = new Uint8Array(0);
  let firstOrg = '';

  return new Promise<CollectedEndorsements>((resolve, reject) => {
    let settled = false;
    let outstanding = 0;
    let hedgeTimer: ReturnType<typeof setTimeout> | null = null;
    const finish = (err: GatewayError | null): void => {
      if (settled) return;
      settled = true;
      if (hedgeTimer) clearTimeout(hedgeTimer);
      if (err) reject(err);
      else resolve({ response: response!, payload, endorsements, signers });
    };
    /** A spare for `org`'s slot: its own organisation's other peer first, else one not yet asked. */
    const takeSpare = (org: string | null): EndorserClient | null => {
      const asked = new Set(slots.filter((s) => !s.unreachable).map((s) => s.endorser.org));
      let i = org === null ? -1 : spares.findIndex((e) => e.org === org);
      if (i < 0) i = spares.findIndex((e) => !asked.has(e.org));
      return i < 0 ? null : spares.splice(i, 1)[0]!;
    };
    const accept = (slot: Slot, r: ProposalResponse): GatewayError | null => {
      const org = slot.endorser.org;
      if (r.status !== 200 || !r.response || !r.endorsement)
        return new GatewayError('ENDORSEMENT_REFUSED', `${org} refused to endorse ${o.label}: ${r.message}`, r.status);
      if (response === null) {
        response = r.response;
        payload = r.payload;
        firstOrg = org;
      } else if (!bytesEqual(response, r.response)) {
        // Endorsers simulated against different states (one had committed a newer block).
        return new GatewayError('ENDORSEMENT_MISMATCH', `endorsers returned different results for ${o.label} (${firstOrg} vs ${org})`);
      }
      let identity;
      try {
        identity = o.msp.validate(r.endorsement.endorser, o.atMs);
      } catch (err) {
        return new GatewayError('ENDORSEMENT_REFUSED', `endorser certificate of ${org} is not valid: ${(err as Error).message}`);
      }
      if (!verifyBatchable(o.verify ?? verify, identity.publicKey, endorsementMessage(r.response, r.endorsement.endorser), r.endorsement.signature)) {
        return new GatewayError('ENDORSEMENT_REFUSED', `endorsement by ${org} does not verify`);
      }
      endorsements.push(r.endorsement);
      signers.push({ org: identity.org, role: identity.role });
      return null;
    };
    const check = (): void => {
      if (settled) return;
      // Without a policy (tests), every endorser asked must answer.
      const enough = o.policy ? evaluatePolicy(o.policy, signers) : outstanding === 0 && slots.every((s) => !s.unreachable);
      if (enough) return finish(null);
      if (outstanding > 0) return;
      const down = slots.find((s) => s.unreachable);
      if (down)
        return finish(
          new GatewayError('ENDORSEMENT_REFUSED', `${down.endorser.org} refused to endorse ${o.label}: ${down.answer?.message ?? 'unreachable'}`, 503),
        );
      finish(
        new GatewayError(
          'POLICY_NOT_SATISFIED',
          `endorsements by ${signers.map((s) => `${s.org}.${s.role}`).join(', ')} do not satisfy the endorsement policy of ${o.label}`,
        ),
      );
    };
    const ask = (endorser: EndorserClient): void => {
      const slot: Slot = { endorser, answer: null, unreachable: false };
      slots.push(slot);
      outstanding += 1;
      void endorser
        .endorse(o.signed)
        .then(
          (r) => ({ r, unreachable: false }),
          (err: unknown) => ({
            r: {
              status: 503,
              message: `unreachable: ${err instanceof Error ? err.message : String(err)}`,
              payload: new Uint8Array(0),
              response: null,
              endorsement: null,
            } satisfies ProposalResponse,
            unreachable: true,
          }),
        )
        .then(({ r, unreachable }) => {
          outstanding -= 1;
          slot.answer = r;
          if (settled) return;
          if (unreachable) {
            slot.unreachable = true;
            const spare = takeSpare(endorser.org);
            if (spare) ask(spare);
          } else {
            const err = accept(slot, r);
            if (err) return finish(err);
          }
          check();
        });
    };
    for (const e of o.endorsers) ask(e);
    if (o.hedgeAfterMs !== undefined && spares.length > 0) {
      hedgeTimer = setTimeout(() => {
        hedgeTimer = null;
        if (settled) return;
        // One spare per endorser still silent: the slow one may yet answer; whichever is first counts.
        const silent = slots.filter((s) => s.answer === null).length;
        for (let i = 0; i < silent; i++) {
          const spare = takeSpare(null);
          if (!spare) break;
          ask(spare);
        }
      }, o.hedgeAfterMs);
    }
  });
}

export class Gateway {
  /** Engines dedup by (clientId, seq): a random session id makes each gateway instance a new client. */
  readonly clientId: string;
  private seq = 0;
  private rotation = 0;
  private readonly key: KeyObject;
  private readonly signer: { sign(message: Bytes): Bytes };
  private readonly clock: () => number;
  private readonly commitTimeoutMs: number;

  constructor(private readonly options: GatewayOptions) {
    this.key = parsePrivateKey(options.keyPem);
    this.signer = { sign: (m) => sign(this.key, m) };
    this.clock = options.clock ?? (() => Date.now());
    this.commitTimeoutMs = options.commitTimeoutMs ?? DEFAULT_COMMIT_TIMEOUT_MS;
    const me = options.msp.identify(options.certPem);
    this.clientId = `${me.org}/${me.id}/${toHex(randomBytes(6))}`;
  }

  newSignedProposal(contract: string, fn: string, args: readonly string[]): { txId: string; signed: SignedProposal } {
    const proposal = buildProposal({
      contract,
      fn,
      args,
      creator: this.options.certPem,
      nonce: new Uint8Array(randomBytes(24)),
      timestampMs: this.clock(),
      ...(this.options.consortium === undefined ? {} : { consortium: this.options.consortium }),
    });
    return { txId: proposal.txId, signed: signProposal(proposal, this.signer) };
  }

  /** Run a read-only function on one peer (the first endorser, or the one of `org`). */
  async evaluate(contract: string, fn: string, args: readonly string[], org?: string): Promise<Bytes> {
    const peer = org ? this.options.endorsers.find((e) => e.org === org) : this.options.endorsers[0];
    if (!peer) throw new GatewayError('ENDORSEMENT_REFUSED', `no peer${org ? ` of ${org}` : ''} to evaluate on`);
    const { signed } = this.newSignedProposal(contract, fn, args);
    const res = await peer.evaluate(signed);
    if (res.status !== 200) throw new GatewayError('ENDORSEMENT_REFUSED', `${peer.org}: ${res.message}`, res.status);
    return res.payload;
  }

  /** Endorse, check and sign a transaction, without submitting it. */
  async prepare(contract: string, fn: string, args: readonly string[], opts: EndorseOptions = {}): Promise<PreparedTx> {
    const policy = this.options.policies.get(contract);
    if (!policy) throw new GatewayError('UNKNOWN_CONTRACT', `contract "${contract}" is not defined in the consortium configuration`);
    const { txId, signed } = this.newSignedProposal(contract, fn, args);
    const { chosen, spares } = opts.orgs
      ? { chosen: this.options.endorsers.filter((e) => opts.orgs!.includes(e.org)), spares: [] }
      : this.chooseEndorsers(policy);
    const { response, payload, endorsements, signers } = await collectEndorsements({
      signed,
      label: `${contract}.${fn}`,
      policy: opts.skipPolicyCheck ? null : policy,
      endorsers: chosen,
      spares,
      hedgeAfterMs: this.options.hedgeAfterMs ?? DEFAULT_HEDGE_AFTER_MS,
      msp: this.options.msp,
      atMs: this.clock(),
      ...(this.options.verify ? { verify: this.options.verify } : {}),
    });
    const envelope = encodeEnvelope(buildEnvelope({ proposal: signed.proposal, response, endorsements }, this.signer));
    return { txId, envelope, payload, endorsers: signers.map((s) => s.org) };
  }

  /** Broadcast a prepared transaction and wait for its validation code. */
  async submitPrepared(prepared: PreparedTx): Promise<SubmitResult> {
    // Listen before broadcasting: the commit may be faster than the next line.
    const status = this.options.commits.waitForTx(prepared.txId, this.commitTimeoutMs);
    status.catch(() => undefined);
    this.seq += 1;
    const accepted = await this.options.orderer.broadcast({ clientId: this.clientId, seq: this.seq, data: prepared.envelope });
    // Already committed or on its way (a resubmission, decision 1003): not ordered again; its
    // outcome is the first occurrence's, which the waiter above reports.
    if (!accepted.accepted && !accepted.duplicate) throw new GatewayError('ORDERER_REJECTED', `orderer rejected ${prepared.txId}: ${accepted.reason}`);
    let event: TxStatusEvent;
    try {
      event = await status;
    } catch (err) {
      throw new GatewayError('COMMIT_TIMEOUT', (err as Error).message);
    }
    return { txId: prepared.txId, code: event.code, reason: event.reason, blockNumber: event.blockNumber, payload: prepared.payload };
  }

  async submit(contract: string, fn: string, args: readonly string[], opts: EndorseOptions = {}): Promise<SubmitResult> {
    return this.submitPrepared(await this.prepare(contract, fn, args, opts));
  }

  /**
   * The smallest prefix (in a rotating order, spreading load) of reachable endorsers whose
   * organisations' peers satisfy the policy, and the rest as spares (unreachable ones last); all
   * endorsers when no prefix does (the policy check then reports).
   */
  private chooseEndorsers(policy: Policy): { chosen: EndorserClient[]; spares: EndorserClient[] } {
    const all = this.options.endorsers;
    const start = this.rotation++ % Math.max(1, all.length);
    const rotated = [...all.slice(start), ...all.slice(0, start)];
    const order = [...rotated.filter((e) => e.available?.() !== false), ...rotated.filter((e) => e.available?.() === false)];
    for (let k = 1; k <= order.length; k++) {
      const prefix = order.slice(0, k);
      if (
        evaluatePolicy(
          policy,
          prefix.map((e) => ({ org: e.org, role: 'peer' as const })),
        )
      )
        return { chosen: prefix, spares: order.slice(k) };
    }
    return { chosen: order, spares: [] };
  }
}
