// A peer: endorser + committer (DESIGN §4 steps 2 and 5), transport-agnostic. Its methods take
// and return plain data (bytes and DAG-CBOR-encodable objects), so the same class serves the
// in-process network now and an mTLS server later.
//
// Endorsing a proposal:
//   decode → creator certificate valid NOW (MSP) → proposal signature → txId rule → timestamp
//   within the skew bound → not already committed → contract installed AND defined in the
//   consortium config → ACL (the creator's role may call the function) → simulate against the
//   committed state under the determinism guard → only a 200 result is signed.
// Committing a block: Ledger.commitBlock (link, hashes, orderer signature, validation, commit).
import { randomBytes } from 'node:crypto';
import type { Bytes } from '../codec/index.ts';
import { parsePrivateKey, signAndRemember } from '../crypto/index.ts';
import type { VerifyFn } from '../ledger/sigcache.ts';
import { checkAcl, findFunction, invoke, STATUS_OK, type ContractRegistry } from '../contracts/runtime.ts';
import type { Block } from '../ledger/block.ts';
import { Ledger, type BlockCommitEvent } from '../ledger/ledger.ts';
import type { ValidationCode } from '../ledger/codes.ts';
import { wrongConsortium } from '../ledger/validator.ts';
import {
  computeTxId,
  decodeProposal,
  encodeResponse,
  endorsementMessage,
  proposalHash,
  type Endorsement,
  type SignedProposal,
  type TxProposal,
} from '../ledger/tx.ts';
import type { Identity } from '../identity/index.ts';
import { signBatch, verifyBatchable } from '../crypto/batch-signature.ts';

export const STATUS_BAD_REQUEST = 400;
export const STATUS_FORBIDDEN = 403;
export const STATUS_NOT_FOUND = 404;
export const STATUS_CONFLICT = 409;

/** What an endorser answers. `response`/`endorsement` are present only for status 200. */
export interface ProposalResponse {
  readonly status: number;
  readonly message: string;
  readonly payload: Bytes;
  readonly response: Bytes | null;
  readonly endorsement: Endorsement | null;
}

export interface EvaluateResponse {
  readonly status: number;
  readonly message: string;
  readonly payload: Bytes;
}

export interface TxStatusEvent {
  readonly txId: string;
  readonly blockNumber: number;
  readonly position: number;
  readonly code: ValidationCode;
  readonly reason: string;
}

export interface PeerOptions {
  readonly org: string;
  readonly id: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly ledgerDir: string;
  readonly genesis: Block;
  readonly contracts: ContractRegistry;
  /** The local clock (endorsement-time certificate checks); injectable for tests. */
  readonly clock?: () => number;
  /** Bound on proposal timestamps vs the local clock; default: the consortium's ordering setting. */
  readonly clockSkewMsMax?: number;
  /** Signature check; the in-process network shares a memo between its nodes (sigcache.ts). */
  readonly verify?: VerifyFn;
  /**
   * A node of a hospital that is joining: its organisation is not in the config its ledger has
   * reached yet (it is catching up to the config update that adds it), so its own certificate
   * cannot be checked against that config until then.
   */
  readonly joining?: boolean;
}

const WAITERS_MAX = 100_000;

export class PeerError extends Error {
  override readonly name = 'PeerError';
}

interface Waiter {
  readonly resolve: (event: TxStatusEvent) => void;
  readonly timer: NodeJS.Timeout;
}

export class Peer {
  readonly org: string;
  readonly id: string;
  readonly certPem: string;
  readonly ledger: Ledger;
  private readonly signer: { sign(message: Bytes): Bytes };
  private readonly contracts: ContractRegistry;
  private readonly clock: () => number;
  private readonly clockSkewMsMax: number;
  private readonly waiters = new Map<string, Waiter[]>();
  private waiterCount = 0;

  constructor(options: PeerOptions) {
    this.org = options.org;
    this.id = options.id;
    this.certPem = options.certPem;
    const key = parsePrivateKey(options.keyPem);
    this.signer = { sign: (message) => signAndRemember(key, message) };
    this.contracts = options.contracts;
    this.clock = options.clock ?? (() => Date.now());
    this.ledger = Ledger.open(options.ledgerDir, options.genesis, options.verify ? { verify: options.verify } : {});
    this.clockSkewMsMax = options.clockSkewMsMax ?? this.ledger.config.ordering.clockSkewMsMax;
    // Check our own identity once: a peer with a foreign or expired certificate cannot endorse.
    if (!options.joining) this.ledger.validationContext.msp.validate(this.certPem, this.clock());
    this.ledger.onCommit((event) => this.resolveWaiters(event));
  }

  /** Simulate a submit-proposal and endorse its result. Never throws for bad input. */
  endorse(signed: SignedProposal): ProposalResponse {
    return this.endorseMany([signed])[0]!;
  }

  /**
   * endorse() for several proposals, each simulated independently; their endorsements are signed
   * together, one batch signature for all (decision 1384). Never throws for bad input.
   */
  endorseMany(signed: readonly SignedProposal[]): ProposalResponse[] {
    const simulated = signed.map((sp) => this.simulate(sp));
    const toSign = simulated.filter((r): r is ProposalResponse & { response: Bytes } => r.response !== null);
    const signatures = signBatch(
      toSign.map((r) => endorsementMessage(r.response, this.certPem)),
      (m) => this.signer.sign(m),
    );
    let next = 0;
    return simulated.map((r) => (r.response === null ? r : { ...r, endorsement: { endorser: this.certPem, signature: signatures[next++]! } }));
  }

  /** A proposal's simulation, its response not yet endorsed (endorsement null). */
  private simulate(signed: SignedProposal): ProposalResponse {
    const checked = this.checkProposal(signed);
    if ('status' in checked) return { ...checked, payload: new Uint8Array(0), response: null, endorsement: null };
    const { proposal, creator } = checked;
    const contract = this.contracts.get(proposal.contract)!;
    const invocation = invoke({
      contract,
      fn: proposal.fn,
      args: proposal.args,
      txId: proposal.txId,
      timestampMs: proposal.timestampMs,
      creator: { org: creator.org, role: creator.role, id: creator.id, certPem: creator.certPem },
      state: this.ledger.reader,
    });
    if (invocation.result.status !== STATUS_OK) {
      return { status: invocation.result.status, message: invocation.result.message, payload: invocation.result.payload, response: null, endorsement: null };
    }
    const response = encodeResponse({
      proposalHash: proposalHash(signed.proposal),
      rwset: invocation.rwset,
      result: invocation.result,
      event: invocation.event,
    });
    return { status: STATUS_OK, message: '', payload: invocation.result.payload, response, endorsement: null };
  }

  /** Run an evaluate (read-only) function; nothing is endorsed or ordered. */
  evaluate(signed: SignedProposal): EvaluateResponse {
    const checked = this.checkProposal(signed);
    if ('status' in checked) return { ...checked, payload: new Uint8Array(0) };
    const { proposal, creator } = checked;
    const contract = this.contracts.get(proposal.contract)!;
    const fn = findFunction(contract, proposal.fn);
    if (fn?.kind !== 'evaluate')
      return {
        status: STATUS_BAD_REQUEST,
        message: `${proposal.contract}.${proposal.fn} is a submit function: submit it as a transaction`,
        payload: new Uint8Array(0),
      };
    const invocation = invoke({
      contract,
      fn: proposal.fn,
      args: proposal.args,
      txId: proposal.txId,
      timestampMs: proposal.timestampMs,
      creator: { org: creator.org, role: creator.role, id: creator.id, certPem: creator.certPem },
      state: this.ledger.reader,
    });
    return { status: invocation.result.status, message: invocation.result.message, payload: invocation.result.payload };
  }

  /** Committer: validate and commit the next block from the ordering service. */
  deliver(block: Block): BlockCommitEvent {
    return this.ledger.commitBlock(block);
  }

  get height(): number {
    return this.ledger.height;
  }

  /** Resolve when the transaction commits (with its code), or reject after timeoutMs. */
  waitForTx(txId: string, timeoutMs: number): Promise<TxStatusEvent> {
    const known = this.ledger.txStatus(txId);
    if (known) return Promise.resolve({ txId, blockNumber: known.block, position: known.position, code: known.code, reason: '' });
    if (this.waiterCount >= WAITERS_MAX) return Promise.reject(new PeerError(`too many transactions awaited (${WAITERS_MAX})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(txId);
        if (list) {
          const rest = list.filter((w) => w.timer !== timer);
          this.waiterCount -= list.length - rest.length;
          if (rest.length) this.waiters.set(txId, rest);
          else this.waiters.delete(txId);
        }
        reject(new PeerError(`transaction ${txId} not committed within ${timeoutMs} ms`));
      }, timeoutMs);
      const list = this.waiters.get(txId) ?? [];
      list.push({ resolve, timer });
      this.waiters.set(txId, list);
      this.waiterCount += 1;
    });
  }

  close(): void {
    for (const list of this.waiters.values()) for (const w of list) clearTimeout(w.timer);
    this.waiters.clear();
    this.waiterCount = 0;
    this.ledger.close();
  }

  // -------------------------------------------------------------------------------------------

  private resolveWaiters(event: BlockCommitEvent): void {
    if (this.waiterCount === 0) return;
    for (const tx of event.txs) {
      if (tx.txId === null) continue;
      const list = this.waiters.get(tx.txId);
      if (!list) continue;
      // A duplicate later in the ledger must not overwrite the outcome of the first occurrence.
      if (tx.code === 'DUPLICATE_TXID') continue;
      this.waiters.delete(tx.txId);
      this.waiterCount -= list.length;
      for (const w of list) {
        clearTimeout(w.timer);
        w.resolve({ txId: tx.txId, blockNumber: event.number, position: tx.position, code: tx.code, reason: tx.reason });
      }
    }
  }

  private checkProposal(signed: SignedProposal): { proposal: TxProposal; creator: Identity } | { status: number; message: string } {
    let proposal: TxProposal;
    try {
      if (!(signed?.proposal instanceof Uint8Array) || !(signed.signature instanceof Uint8Array))
        throw new Error('signed proposal must carry proposal and signature bytes');
      proposal = decodeProposal(signed.proposal);
    } catch (err) {
      return { status: STATUS_BAD_REQUEST, message: (err as Error).message };
    }
    const now = this.clock();
    let creator: Identity;
    try {
      creator = this.ledger.validationContext.msp.validate(proposal.creator, now);
    } catch (err) {
      return { status: STATUS_FORBIDDEN, message: `creator: ${(err as Error).message}` };
    }
    if (!verifyBatchable(this.ledger.validationContext.verify, creator.publicKey, signed.proposal, signed.signature)) {
      return { status: STATUS_FORBIDDEN, message: `proposal signature does not verify for ${creator.org}/${creator.id}` };
    }
    if (computeTxId(proposal.nonce, proposal.creator) !== proposal.txId) return { status: STATUS_BAD_REQUEST, message: 'txId is not sha256(nonce ‖ creator)' };
    // Not endorsed here if it names another consortium (decision 1389); validation would mark it WRONG_CONSORTIUM.
    const foreign = wrongConsortium(proposal, this.ledger.consortium, this.ledger.validationContext.configState.record.config);
    if (foreign !== null) return { status: STATUS_BAD_REQUEST, message: foreign };
    if (Math.abs(proposal.timestampMs - now) > this.clockSkewMsMax) {
      return {
        status: STATUS_BAD_REQUEST,
        message: `proposal timestamp ${proposal.timestampMs} is more than ${this.clockSkewMsMax} ms from this peer's clock`,
      };
    }
    const committed = this.ledger.txStatus(proposal.txId);
    if (committed) return { status: STATUS_CONFLICT, message: `transaction ${proposal.txId} was already committed in block ${committed.block}` };
    const contract = this.contracts.get(proposal.contract);
    if (!contract || !this.ledger.validationContext.policies.has(proposal.contract)) {
      return {
        status: STATUS_NOT_FOUND,
        message: `contract "${proposal.contract}" is not installed on ${this.org}/${this.id} or not defined in the consortium`,
      };
    }
    const denied = checkAcl(contract, proposal.fn, creator.role);
    if (denied) return { status: denied.startsWith('role') ? STATUS_FORBIDDEN : STATUS_NOT_FOUND, message: denied };
    return { proposal, creator };
  }
}

/** A fresh random nonce for a proposal (clients only; never inside a contract). */
export function newNonce(): Bytes {
  return new Uint8Array(randomBytes(24));
}
