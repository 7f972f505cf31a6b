// Every size in the ledger has a bound (DESIGN §9): a transaction, a key, a value, a range scan.
// Endorsers enforce these while simulating; validators enforce them again on commit (BAD_RWSET /
// BAD_PAYLOAD), because a client may assemble a transaction by hand.

export const LEDGER_LIMITS = {
  /** UTF-8 bytes of one state key (composite keys included). */
  keySizeBytesMax: 1024,
  /** Bytes of one state value. Health data lives off-chain; on-chain values are metadata. */
  valueSizeBytesMax: 256 * 1024,
  /** Writes (puts + deletes) of one transaction. */
  writesMax: 1000,
  /** Point reads recorded in one transaction. */
  readsMax: 10_000,
  /** Range queries of one transaction. */
  rangeQueriesMax: 100,
  /** Results one range query may return (the scan stops there). */
  rangeResultsMax: 1000,
  /** History entries one getHistoryForKey call returns. */
  historyResultsMax: 1000,
  /** Arguments of one proposal and bytes of each. */
  argsMax: 64,
  argSizeBytesMax: 64 * 1024,
  /** Contract / function / namespace names. */
  nameLengthMax: 128,
  /** PEM text of one certificate. */
  certPemSizeBytesMax: 16 * 1024,
  /** Endorsements attached to one transaction. */
  endorsementsMax: 32,
  /** Bytes of one contract event payload and of one response payload. */
  eventPayloadBytesMax: 64 * 1024,
  responsePayloadBytesMax: 256 * 1024,
  /** Bytes of one whole encoded transaction envelope. */
  envelopeSizeBytesMax: 2 * 1024 * 1024,
  /** Transactions in one block. */
  blockTxsMax: 10_000,
} as const;
