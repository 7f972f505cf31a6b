// Block validation (DESIGN §4 step 5), deterministic on every peer. Each transaction of a block
// gets exactly one Fabric-style code, checked in this order (the first failure wins):
//
//   1. BAD_PAYLOAD                 envelope / payload / proposal / response undecodable or malformed
//      CONSENSUS_CONTROL           not a transaction but the ordering engine's own entry (gpbft's
//                                  node update, decision 1280): kept, changes nothing
//   2. BAD_PROPOSAL_TXID           txId ≠ sha256(nonce ‖ creator)
//   3. BAD_CREATOR_SIGNATURE       creator certificate invalid at the BLOCK's time (MSP), or the
//                                  envelope signature does not verify
//   4. DUPLICATE_TXID              txId already committed (any earlier block) or earlier in this block
//   5. UNKNOWN_CONTRACT            contract not in the consortium configuration
//   6. BAD_RESPONSE_PAYLOAD        response not for this proposal, or not a success (status 200)
//      BAD_RWSET                   touches another namespace, or breaks a key rule
//   7. ENDORSEMENT_POLICY_FAILURE  the distinct, valid endorsers (certificate valid at block
//                                  time, signature over the response bytes) do not satisfy the policy
//   8. MVCC_READ_CONFLICT          a read version differs from committed state — or the key was
//                                  written by an EARLIER VALID transaction of this same block
//   9. PHANTOM_READ_CONFLICT       a range read re-executed now differs — or an earlier valid
//                                  transaction of this block wrote a key inside the range
//  10. VALID                       its writes become visible to later transactions' checks
//
// A config transaction (contract "_config", config-update.ts) takes the same path with two
// differences: its "endorsements" are admin signatures checked against the modification policy
// of the config in force (not a contract's policy), and INVALID_CONFIG_TRANSACTION names what
// its update may not do. It is based on a version of "_config/current", so of two updates built
// on one config only the first ordered commits (MVCC).
//
// Only transactions whose creator is authenticated (steps 1-3 passed) and that are not
// duplicates claim their txId in the index: a forged transaction cannot squat a victim's txId.
import { sha256, type Bytes } from '../codec/index.ts';
import { directVerify, type VerifyFn } from './sigcache.ts';
import { evaluatePolicy, Msp, parsePolicy, type Policy } from '../identity/index.ts';
import type { Principal } from '../identity/roles.ts';
import { checkKey, compareKeys, keySuccessor } from './keys.ts';
import type { ValidationCode } from './codes.ts';
import { hasCapability, mspConfigOf, type ConsortiumConfig } from './config.ts';
import { checkConfigTx, CONFIG_NAMESPACE, configUpdatePolicy, configUpdatePolicyFor, decodeConfigRecord, type ConfigState } from './config-update.ts';
import { LEDGER_LIMITS } from './limits.ts';
import { decodeControl } from '../consensus/gpbft/config.ts';
import type { AppliedWrite, StateReader, TxStatus } from './state.ts';
import {
  computeTxId,
  endorsementMessage,
  parseTx,
  TxFormatError,
  type ContractEvent,
  type NsRwSet,
  type ParseResult,
  type ParsedTx,
  type Version,
} from './tx.ts';
import { verifyBatchable } from '../crypto/batch-signature.ts';

/** What validation needs from the committed state: reads plus the txId index. */
export interface ValidationState extends StateReader {
  txStatus(txId: string): TxStatus | undefined;
}

/** Everything derived from the consortium configuration that validation depends on. */
export interface ValidationContext {
  readonly msp: Msp;
  readonly policies: ReadonlyMap<string, Policy>;
  /** Signature check (plain, or memoized when several nodes share a process: sigcache.ts). */
  readonly verify: VerifyFn;
  /** The config in force and its state version (config transactions build on it). */
  readonly configState: ConfigState;
  /** Who must sign a config update: admins of a majority of the organisations. */
  readonly configPolicy: Policy;
  /**
   * This consortium's genesis block hash (hex): a proposal naming another one is WRONG_CONSORTIUM
   * (decision 1389). Every context that commits or verifies blocks has it (ledger.ts, verify.ts).
   */
  readonly consortium?: string;
}

/** `state` defaults to genesis: sequence 0, no state entry yet. */
export function validationContextFromConfig(
  config: ConsortiumConfig,
  verify: VerifyFn = directVerify,
  state?: ConfigState,
  consortium?: string,
): ValidationContext {
  const msp = new Msp(mspConfigOf(config));
  const policies = new Map<string, Policy>();
  for (const c of config.contracts) policies.set(c.name, parsePolicy(c.endorsementPolicy));
  const configState = state ?? { record: { sequence: 0, config }, version: null };
  return { msp, policies, verify, configState, configPolicy: configUpdatePolicy(config), ...(consortium === undefined ? {} : { consortium }) };
}

/**
 * Why a proposal is not for this consortium (decision 1389), or null. A proposal naming none is an
 * older client's: accepted, unless the config in force has the capability proposals-name-consortium.
 */
export function wrongConsortium(
  proposal: { readonly consortium?: string },
  consortium: string | undefined,
  config: Pick<ConsortiumConfig, 'capabilities'>,
): string | null {
  if (proposal.consortium === undefined) {
    return hasCapability(config, 'proposals-name-consortium')
      ? 'the proposal names no consortium, and this consortium requires it (capability proposals-name-consortium): a client older than decision 1389, or a transaction replayed from another chain'
      : null;
  }
  if (consortium === undefined || proposal.consortium === consortium) return null;
  return `the proposal is for the consortium of genesis block ${proposal.consortium.slice(0, 16)}…, not this one (${consortium.slice(0, 16)}…): a transaction of another consortium`;
}

export interface TxOutcome {
  readonly position: number;
  /** null when the envelope could not be decoded. */
  readonly txId: string | null;
  readonly code: ValidationCode;
  /** Why (empty for VALID): for logs, events and `ledger verify`; never stored on chain. */
  readonly reason: string;
  readonly event: ContractEvent | null;
}

export interface BlockValidation {
  readonly outcomes: readonly TxOutcome[];
}

const CODES_THAT_INDEX: ReadonlySet<ValidationCode> = new Set<ValidationCode>([
  'VALID',
  'UNKNOWN_CONTRACT',
  'BAD_RESPONSE_PAYLOAD',
  'BAD_RWSET',
  'ENDORSEMENT_POLICY_FAILURE',
  'MVCC_READ_CONFLICT',
  'PHANTOM_READ_CONFLICT',
]);

/** Whether a transaction with this code owns its txId in the index (recovery recomputes this). */
export function codeClaimsTxId(code: ValidationCode): boolean {
  return CODES_THAT_INDEX.has(code);
}

function sameVersion(a: Version | null, b: Version | null): boolean {
  if (a === null || b === null) return a === b;
  return a.block === b.block && a.tx === b.tx;
}

class Failure {
  constructor(
    readonly code: ValidationCode,
    readonly reason: string,
  ) {}
}

/** Writes of earlier VALID transactions of the block being validated. */
class PendingWrites {
  private readonly byNs = new Map<string, Map<string, number>>();

  writtenBy(ns: string, key: string): number | undefined {
    return this.byNs.get(ns)?.get(key);
  }

  /** Some earlier write lies in [start, end) (end '' = unbounded)? Returns the key. */
  firstInRange(ns: string, start: string, end: string): string | undefined {
    const keys = this.byNs.get(ns);
    if (!keys) return undefined;
    for (const key of keys.keys()) {
      if (compareKeys(key, start) >= 0 && (end === '' || compareKeys(key, end) < 0)) return key;
    }
    return undefined;
  }

  add(ns: string, key: string, position: number): void {
    let keys = this.byNs.get(ns);
    if (!keys) {
      keys = new Map();
      this.byNs.set(ns, keys);
    }
    keys.set(key, position);
  }
}

function checkRwSetShape(tx: ParsedTx): void {
  for (const ns of tx.response.rwset.namespaces) {
    if (ns.namespace !== tx.proposal.contract) {
      throw new Failure('BAD_RWSET', `read/write set touches namespace "${ns.namespace}" of another contract than ${tx.proposal.contract}`);
    }
    const keys = [...ns.reads.map((r) => r.key), ...ns.writes.map((w) => w.key)];
    for (const rr of ns.rangeReads) keys.push(...rr.results.map((r) => r.key));
    for (const key of keys) {
      try {
        checkKey(key);
      } catch (err) {
        throw new Failure('BAD_RWSET', `key ${JSON.stringify(key.slice(0, 80))}: ${(err as Error).message}`);
      }
    }
  }
  if (tx.response.rwset.namespaces.length > 1) throw new Failure('BAD_RWSET', 'read/write set has more than one namespace');
}

function checkEndorsements(tx: ParsedTx, policy: Policy, ctx: ValidationContext, atMs: number): void {
  const signers: Principal[] = [];
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const e of tx.payload.endorsements) {
    let identity;
    try {
      identity = ctx.msp.validate(e.endorser, atMs);
    } catch (err) {
      problems.push(`endorser certificate invalid: ${(err as Error).message}`);
      continue;
    }
    const distinct = `${identity.org}/${identity.serialHex}`;
    if (seen.has(distinct)) continue;
    if (!verifyBatchable(ctx.verify, identity.publicKey, endorsementMessage(tx.payload.response, e.endorser), e.signature)) {
      problems.push(`endorsement by ${identity.org}/${identity.id}: bad signature`);
      continue;
    }
    seen.add(distinct);
    signers.push({ org: identity.org, role: identity.role });
  }
  if (!evaluatePolicy(policy, signers)) {
    const by = signers.map((s) => `${s.org}.${s.role}`).join(', ') || 'nobody';
    throw new Failure(
      'ENDORSEMENT_POLICY_FAILURE',
      `valid endorsements by ${by} do not satisfy the policy${problems.length ? ` (${problems.join('; ')})` : ''}`,
    );
  }
}

function checkReads(ns: NsRwSet, state: ValidationState, pending: PendingWrites): void {
  for (const read of ns.reads) {
    const writer = pending.writtenBy(ns.namespace, read.key);
    if (writer !== undefined) {
      throw new Failure('MVCC_READ_CONFLICT', `key ${JSON.stringify(read.key)} was written by transaction ${writer} earlier in this block`);
    }
    const current = state.get(ns.namespace, read.key)?.version ?? null;
    if (!sameVersion(current, read.version)) {
      const fmt = (v: Version | null): string => (v ? `${v.block}:${v.tx}` : 'absent');
      throw new Failure('MVCC_READ_CONFLICT', `key ${JSON.stringify(read.key)} read at version ${fmt(read.version)}, now ${fmt(current)}`);
    }
  }
}

function checkRanges(ns: NsRwSet, state: ValidationState, pending: PendingWrites): void {
  for (const rr of ns.rangeReads) {
    // Re-run over exactly what the contract saw: to the end if it exhausted the range, else up
    // to and including the last key it was given.
    const last = rr.results[rr.results.length - 1];
    const end = rr.exhausted || !last ? rr.endKey : keySuccessor(last.key);
    const inBlock = pending.firstInRange(ns.namespace, rr.startKey, end);
    if (inBlock !== undefined) {
      throw new Failure(
        'PHANTOM_READ_CONFLICT',
        `range [${JSON.stringify(rr.startKey)}, ${JSON.stringify(end)}) was changed (key ${JSON.stringify(inBlock)}) by a transaction earlier in this block`,
      );
    }
    const now = state.range(ns.namespace, rr.startKey, end, LEDGER_LIMITS.rangeResultsMax + 1);
    const differs =
      now.length !== rr.results.length ||
      now.some((e, i) => {
        const r = rr.results[i]!;
        return e.key !== r.key || !sameVersion(e.version, r.version);
      });
    if (differs) {
      throw new Failure(
        'PHANTOM_READ_CONFLICT',
        `range [${JSON.stringify(rr.startKey)}, ${JSON.stringify(end)}) returned ${rr.results.length} keys at simulation, ${now.length} keys (or other versions) now`,
      );
    }
  }
}

/**
 * Validate the transactions of block `number` (timestamp `timestampMs`) against the committed
 * state. Pure: reads `state`, changes nothing. Returns the per-tx outcomes and the writes to apply.
 */
/**
 * What an engine's own control entry in a block says (gpbft's node update: join, remove, leave,
 * rate), or null when the bytes are not one. Such an entry is not a transaction: it gets
 * CONSENSUS_CONTROL (decision 1280), is kept and replayed like every entry, and writes nothing.
 */
function consensusControlOf(bytes: Bytes): string | null {
  const op = decodeControl(bytes);
  if (op === null) return null;
  return op.op === 'join' || op.op === 'rate' ? `gpbft ${op.op} of ${op.id}${'rating' in op ? ` (rating ${op.rating})` : ''}` : `gpbft ${op.op} of ${op.id}`;
}

export function validateTransactions(
  data: readonly Bytes[],
  number: number,
  timestampMs: number,
  state: ValidationState,
  ctx: ValidationContext,
  parsed?: readonly ParseResult[],
): { outcomes: TxOutcome[]; writes: AppliedWrite[] } {
  const outcomes: TxOutcome[] = [];
  const writes: AppliedWrite[] = [];
  const pending = new PendingWrites();
  const txIdsInBlock = new Set<string>();
  data.forEach((envelopeBytes, position) => {
    let txId: string | null = null;
    try {
      let tx: ParsedTx;
      const pre = parsed?.[position];
      if (pre instanceof TxFormatError) {
        const step = consensusControlOf(envelopeBytes);
        throw step !== null ? new Failure('CONSENSUS_CONTROL', step) : new Failure('BAD_PAYLOAD', pre.message);
      }
      try {
        tx = pre ?? parseTx(envelopeBytes);
      } catch (err) {
        const step = consensusControlOf(envelopeBytes);
        if (step !== null) throw new Failure('CONSENSUS_CONTROL', step);
        throw new Failure('BAD_PAYLOAD', (err as Error).message);
      }
      txId = tx.proposal.txId;
      if (computeTxId(tx.proposal.nonce, tx.proposal.creator) !== tx.proposal.txId) {
        throw new Failure('BAD_PROPOSAL_TXID', 'txId is not sha256(nonce ‖ creator)');
      }
      const foreign = wrongConsortium(tx.proposal, ctx.consortium, ctx.configState.record.config);
      if (foreign !== null) throw new Failure('WRONG_CONSORTIUM', foreign);
      let creator;
      try {
        creator = ctx.msp.validate(tx.proposal.creator, timestampMs);
      } catch (err) {
        throw new Failure('BAD_CREATOR_SIGNATURE', `creator certificate: ${(err as Error).message}`);
      }
      if (!verifyBatchable(ctx.verify, creator.publicKey, tx.envelope.payload, tx.envelope.signature)) {
        throw new Failure('BAD_CREATOR_SIGNATURE', `envelope signature does not verify for ${creator.org}/${creator.id}`);
      }
      if (txIdsInBlock.has(txId)) throw new Failure('DUPLICATE_TXID', `txId ${txId} appears earlier in this block`);
      const committed = state.txStatus(txId);
      if (committed) throw new Failure('DUPLICATE_TXID', `txId ${txId} was committed in block ${committed.block} (position ${committed.position})`);
      txIdsInBlock.add(txId);
      if (tx.proposal.contract === CONFIG_NAMESPACE) {
        const problem = checkConfigTx(tx, ctx.configState);
        if (problem) throw new Failure(problem.stale ? 'MVCC_READ_CONFLICT' : 'INVALID_CONFIG_TRANSACTION', problem.reason);
      }
      const policy = tx.proposal.contract === CONFIG_NAMESPACE ? configTxPolicy(tx, ctx) : ctx.policies.get(tx.proposal.contract);
      if (!policy) throw new Failure('UNKNOWN_CONTRACT', `contract "${tx.proposal.contract}" is not defined in the consortium configuration`);
      if (!Buffer.from(sha256(tx.payload.proposal)).equals(Buffer.from(tx.response.proposalHash))) {
        throw new Failure('BAD_RESPONSE_PAYLOAD', 'the response was produced for another proposal');
      }
      if (tx.response.result.status !== 200) {
        throw new Failure('BAD_RESPONSE_PAYLOAD', `the endorsed response is a failure (status ${tx.response.result.status}: ${tx.response.result.message})`);
      }
      checkRwSetShape(tx);
      try {
        checkEndorsements(tx, policy, ctx, timestampMs);
      } catch (err) {
        if (!(err instanceof Failure) || tx.proposal.contract !== CONFIG_NAMESPACE) throw err;
        throw new Failure(
          'INVALID_CONFIG_TRANSACTION',
          `a config update needs signatures of admins of a majority of the organisations (a revocation-only update: its organisation's admin): ${err.reason}`,
        );
      }
      for (const ns of tx.response.rwset.namespaces) checkReads(ns, state, pending);
      for (const ns of tx.response.rwset.namespaces) checkRanges(ns, state, pending);
      for (const ns of tx.response.rwset.namespaces) {
        for (const w of ns.writes) {
          pending.add(ns.namespace, w.key, position);
          writes.push({ ns: ns.namespace, key: w.key, isDelete: w.isDelete, value: w.isDelete ? null : w.value, tx: position });
        }
      }
      outcomes.push({ position, txId, code: 'VALID', reason: '', event: tx.response.event });
    } catch (err) {
      if (!(err instanceof Failure)) {
        // A bug or an unexpected input shape: still deterministic (same input → same throw).
        outcomes.push({ position, txId, code: 'INVALID_OTHER_REASON', reason: (err as Error)?.message ?? String(err), event: null });
        return;
      }
      outcomes.push({ position, txId, code: err.code, reason: err.reason, event: null });
    }
  });
  return { outcomes, writes };
}

/** The writes a stored (already validated) block applies: its VALID transactions' write sets. */
export function writesOfValidTxs(data: readonly Bytes[], codes: readonly ValidationCode[]): AppliedWrite[] {
  const writes: AppliedWrite[] = [];
  data.forEach((envelopeBytes, position) => {
    if (codes[position] !== 'VALID') return;
    const tx = parseTx(envelopeBytes);
    for (const ns of tx.response.rwset.namespaces) {
      for (const w of ns.writes) writes.push({ ns: ns.namespace, key: w.key, isDelete: w.isDelete, value: w.isDelete ? null : w.value, tx: position });
    }
  });
  return writes;
}

/** The signatures a (shape-checked) config transaction needs: see configUpdatePolicyFor. */
function configTxPolicy(tx: ParsedTx, ctx: ValidationContext): Policy {
  const write = tx.response.rwset.namespaces[0]?.writes[0];
  if (!write?.value) return ctx.configPolicy;
  return configUpdatePolicyFor(ctx.configState.record.config, decodeConfigRecord(write.value).config);
}
