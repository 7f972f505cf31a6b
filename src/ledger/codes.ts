// Validation codes, named after Hyperledger Fabric's TxValidationCode so that operators who know
// Fabric read MedLedger's ledgers without a dictionary. Every transaction in a committed block
// carries exactly one code; only VALID transactions change the world state.

export const VALIDATION_CODES = [
  'VALID',
  /** The envelope, payload, proposal or response cannot be decoded or is malformed. */
  'BAD_PAYLOAD',
  /** The proposal's txId is not sha256(nonce ‖ creator). */
  'BAD_PROPOSAL_TXID',
  /** The creator's certificate is not valid at the block's time, or its signature does not verify. */
  'BAD_CREATOR_SIGNATURE',
  /** The contract is not defined in the consortium configuration. */
  'UNKNOWN_CONTRACT',
  /** Valid endorsements do not satisfy the contract's endorsement policy. */
  'ENDORSEMENT_POLICY_FAILURE',
  /** Endorsements were made over different responses or a response for another proposal. */
  'BAD_RESPONSE_PAYLOAD',
  /** A transaction with this txId was already committed (earlier block or earlier in this block). */
  'DUPLICATE_TXID',
  /** A key read at simulation time has a different version now. */
  'MVCC_READ_CONFLICT',
  /** A range read re-executed now returns different keys or versions. */
  'PHANTOM_READ_CONFLICT',
  /** The read/write set breaks a ledger limit (key size, value size, namespace, write count). */
  'BAD_RWSET',
  /** A `_config` update not signed by the modification policy, or changing what may not change. */
  'INVALID_CONFIG_TRANSACTION',
  /**
   * Not a transaction but an ordering engine's own entry, decided in the block and proven by its
   * certificate (gpbft's orderer-set step, decision 1280): kept in the chain, changes no state.
   */
  'CONSENSUS_CONTROL',
  /** The proposal names another consortium (its genesis block hash, decision 1389): a replay. */
  'WRONG_CONSORTIUM',
  'INVALID_OTHER_REASON',
] as const;

export type ValidationCode = (typeof VALIDATION_CODES)[number];

const CODE_SET: ReadonlySet<string> = new Set(VALIDATION_CODES);

export function isValidationCode(value: unknown): value is ValidationCode {
  return typeof value === 'string' && CODE_SET.has(value);
}

/** A per-code tally, every code present (zero when unused) so reports line up. */
export function emptyCodeCounts(): Record<ValidationCode, number> {
  const counts = {} as Record<ValidationCode, number>;
  for (const code of VALIDATION_CODES) counts[code] = 0;
  return counts;
}
