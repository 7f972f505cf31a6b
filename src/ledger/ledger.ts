// A peer's ledger: block store + world state, kept at one consistent height.
//
// Commit of block n (commitBlock):
//   1. check the block: number n, previousHash = hash(header n-1), dataHash, timestamp rule,
//      a valid signature by a configured orderer (certificate valid at the block's time);
//   2. validate its transactions against the committed state (validator.ts) → one code each;
//   3. append {block, codes} to the block store and fsync;
//   4. apply the VALID write sets, history, txId index and savepoint in ONE SQLite transaction;
//   5. notify listeners (block committed, per-tx status, contract events).
//
// Recovery (open): the state's savepoint says which block it has fully applied. A crash between
// 3 and 4 leaves the store one block ahead: open re-applies the stored blocks above the
// savepoint, using the codes stored with them (validation is deterministic, so they are the
// codes re-validation would give). A crash during 3 leaves a torn record, which the block store
// truncates — unless the state already committed that block, which is corruption. The state is
// never ahead of the store: that too is reported as corruption, never papered over.
import { join } from 'node:path';
import { bytesEqual, toHex, type Bytes } from '../codec/index.ts';
import {
  decodeStoredBlock,
  encodeStoredBlock,
  blockHash,
  blockTimestampMs,
  dataHash,
  ordererSignedBytes,
  type Block,
  type BlockHeader,
  type StoredBlock,
} from './block.ts';
import { BlockStore } from './blockstore.ts';
import type { ValidationCode } from './codes.ts';
import { configOfGenesis, type ConsortiumConfig } from './config.ts';
import { CONFIG_KEY, CONFIG_NAMESPACE, decodeConfigRecord, type ConfigState } from './config-update.ts';
import { StateDb, type BlockUpdate, type Savepoint, type StateReader, type TxStatus } from './state.ts';
import { parseAll, peekTxId, type ContractEvent, type ParseResult } from './tx.ts';
import type { VerifyFn } from './sigcache.ts';
import { codeClaimsTxId, validateTransactions, validationContextFromConfig, writesOfValidTxs, type TxOutcome, type ValidationContext } from './validator.ts';
import { makeDirectory } from '../files/directory.ts';

export class LedgerError extends Error {
  override readonly name = 'LedgerError';
}

/** A block the ledger refuses to commit (bad link, hash, signature…): the block, not the ledger, is wrong. */
export class BlockRejectedError extends LedgerError {
  constructor(
    readonly blockNumber: number,
    readonly reason: string,
  ) {
    super(`block ${blockNumber} rejected: ${reason}`);
  }
}

export interface TxCommitEvent {
  readonly txId: string | null;
  readonly position: number;
  readonly code: ValidationCode;
  readonly reason: string;
  readonly event: ContractEvent | null;
}

export interface BlockCommitEvent {
  readonly number: number;
  readonly blockHash: Bytes;
  readonly timestampMs: number;
  readonly stateHash: Bytes;
  readonly txs: readonly TxCommitEvent[];
}

export interface LedgerOptions {
  /** Signature check; the in-process network passes a shared memo (sigcache.ts). */
  readonly verify?: VerifyFn;
  /** Crash tests only: called between the block-store append and the state commit. */
  readonly afterAppendForTests?: (blockNumber: number) => void;
}

export type CommitListener = (event: BlockCommitEvent) => void;
/** Told when a committed config transaction changes the config in force (from the next block on). */
export type ConfigListener = (state: ConfigState, blockNumber: number) => void;

/**
 * The config in force after the committed state: the last VALID config transaction's record
 * ("_config/current"), or genesis when there has been none.
 */
export function configStateOf(state: StateReader, genesis: ConsortiumConfig): ConfigState {
  const entry = state.get(CONFIG_NAMESPACE, CONFIG_KEY);
  if (!entry) return { record: { sequence: 0, config: genesis }, version: null };
  return { record: decodeConfigRecord(entry.value), version: entry.version };
}

export interface RecoveryReport {
  /** Torn block-store tail that was truncated, if any. */
  readonly truncatedBlock: number | null;
  /** Blocks re-applied to the state from the store. */
  readonly reapplied: number;
}

/** Paths inside a ledger directory. */
export function ledgerPaths(dir: string): { blocks: string; state: string } {
  return { blocks: join(dir, 'blocks'), state: join(dir, 'state.sqlite') };
}

/** Build the state update a stored block applies (used by commit, recovery and verify alike). */
export function blockUpdateOf(stored: StoredBlock): BlockUpdate {
  const { block, validation } = stored;
  const txIndex: { txId: string; position: number; code: ValidationCode }[] = [];
  block.data.forEach((envelope, position) => {
    const code = validation[position]!;
    if (!codeClaimsTxId(code)) return;
    const txId = peekTxId(envelope);
    if (txId !== null) txIndex.push({ txId, position, code });
  });
  return {
    number: block.header.number,
    blockHash: blockHash(block.header),
    writes: block.header.number === 0 ? [] : writesOfValidTxs(block.data, validation),
    txIndex,
  };
}

/**
 * Structural checks of block n against the previous header and the configuration: link, data
 * hash, timestamp rule, orderer signature. Returns null when fine, else the reason.
 */
export function checkBlockAgainst(
  block: Block,
  previous: BlockHeader,
  config: ConsortiumConfig,
  ctx: ValidationContext,
  parsed?: readonly ParseResult[],
): string | null {
  const h = block.header;
  if (h.number !== previous.number + 1) return `number ${h.number} does not follow ${previous.number}`;
  if (!bytesEqual(h.previousHash, blockHash(previous))) return `previousHash does not match the hash of block ${previous.number}`;
  if (!bytesEqual(h.dataHash, dataHash(block.data))) return 'dataHash does not match the transactions';
  const expectedTs = blockTimestampMs(previous.timestampMs, block.data, parsed);
  if (h.timestampMs !== expectedTs) return `timestamp ${h.timestampMs} breaks the timestamp rule (expected ${expectedTs})`;
  const signed = ordererSignedBytes(h);
  for (const sig of block.metadata.signatures) {
    const orderer = config.orderers.find((o) => o.id === sig.ordererId);
    if (!orderer) continue;
    try {
      const identity = ctx.msp.validate(orderer.certPem, h.timestampMs);
      if (ctx.verify(identity.publicKey, signed, sig.signature)) return null;
    } catch {
      // An orderer whose certificate is not valid at this time cannot vouch for the block.
    }
  }
  return block.metadata.signatures.length === 0 ? 'no orderer signature' : 'no valid signature by a configured orderer';
}

export class Ledger {
  /** The genesis configuration (block 0). The config in force is `configState`. */
  readonly genesisConfig: ConsortiumConfig;
  /** The consortium's identity: its genesis block hash, hex (what a proposal names, decision 1389). */
  readonly consortium: string;
  readonly recovery: RecoveryReport;
  private ctx: ValidationContext;
  private readonly verifyFn: VerifyFn | undefined;
  private readonly configListeners = new Set<ConfigListener>();
  private readonly store: BlockStore;
  private readonly state: StateDb;
  private lastHeader: BlockHeader;
  private readonly listeners = new Set<CommitListener>();
  private closed = false;
  private readonly afterAppend: ((blockNumber: number) => void) | undefined;

  private constructor(
    readonly dir: string,
    genesis: Block | undefined,
    options: LedgerOptions,
  ) {
    this.afterAppend = options.afterAppendForTests;
    makeDirectory(dir);
    const paths = ledgerPaths(dir);
    this.state = new StateDb(paths.state);
    let store: BlockStore | undefined;
    try {
      const savepoint = this.state.savepoint();
      store = BlockStore.open(paths.blocks, { protectedHeight: savepoint ? savepoint.height : -1 });
      this.store = store;
      let reapplied = 0;
      if (this.store.count === 0) {
        if (savepoint) throw new LedgerError(`state is at block ${savepoint.height} but the block store is empty: the block files were lost`);
        if (!genesis) throw new LedgerError(`${dir} holds no ledger and no genesis block was given to create one`);
        configOfGenesis(genesis);
        const stored: StoredBlock = { block: genesis, validation: ['VALID'] };
        this.store.append(0, encodeStoredBlock(stored));
        this.state.applyBlock(blockUpdateOf(stored));
      } else {
        const block0 = this.readStored(0).block;
        if (genesis && !bytesEqual(blockHash(genesis.header), blockHash(block0.header))) {
          throw new LedgerError(`${dir} holds the ledger of another consortium (genesis block hash differs)`);
        }
        const from = savepoint ? savepoint.height + 1 : 0;
        if (savepoint) {
          if (savepoint.height >= this.store.count) {
            throw new LedgerError(`state is at block ${savepoint.height} but the block store ends at block ${this.store.count - 1}`);
          }
          const atSavepoint = this.readStored(savepoint.height).block.header;
          if (!bytesEqual(blockHash(atSavepoint), savepoint.blockHash)) {
            throw new LedgerError(`state savepoint names a different block ${savepoint.height} than the block store holds`);
          }
        }
        // Blocks appended (and fsync'd) but not yet applied when the process stopped.
        for (let n = from; n < this.store.count; n++) {
          this.state.applyBlock(blockUpdateOf(this.readStored(n)));
          reapplied += 1;
        }
      }
      this.recovery = { truncatedBlock: this.store.repaired?.blockNumber ?? null, reapplied };
      const block0 = this.readStored(0).block;
      this.genesisConfig = configOfGenesis(block0);
      this.consortium = toHex(blockHash(block0.header));
      this.verifyFn = options.verify;
      const configState = configStateOf(this.state, this.genesisConfig);
      this.ctx = validationContextFromConfig(configState.record.config, options.verify, configState, this.consortium);
      this.lastHeader = this.readStored(this.store.count - 1).block.header;
    } catch (err) {
      this.state.close();
      store?.close();
      throw err;
    }
  }

  /**
   * Open the ledger in `dir`, creating it from `genesis` if empty, recovering it after a crash
   * otherwise. Throws LedgerError / BlockStoreCorruptionError when it cannot be made consistent.
   */
  static open(dir: string, genesis?: Block, options: LedgerOptions = {}): Ledger {
    return new Ledger(dir, genesis, options);
  }

  /** Number of the last committed block (0 = only genesis). */
  get height(): number {
    return this.lastHeader.number;
  }

  get lastBlockHash(): Bytes {
    return blockHash(this.lastHeader);
  }

  get validationContext(): ValidationContext {
    return this.ctx;
  }

  /** The configuration in force for the next block (genesis, or the last committed update). */
  get config(): ConsortiumConfig {
    return this.ctx.configState.record.config;
  }

  get configState(): ConfigState {
    return this.ctx.configState;
  }

  onConfig(listener: ConfigListener): () => void {
    this.configListeners.add(listener);
    return () => this.configListeners.delete(listener);
  }

  /** Committed state, for simulation and queries. */
  get reader(): StateReader {
    return this.state;
  }

  savepoint(): Savepoint {
    const sp = this.state.savepoint();
    if (!sp) throw new LedgerError('ledger has no savepoint');
    return sp;
  }

  stateHash(): Bytes {
    return this.savepoint().stateHash;
  }

  txStatus(txId: string): TxStatus | undefined {
    return this.state.txStatus(txId);
  }

  getBlock(number: number): StoredBlock {
    return this.readStored(number);
  }

  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Validate and commit the next block. Throws BlockRejectedError if the block itself is bad. */
  commitBlock(block: Block): BlockCommitEvent {
    if (this.closed) throw new LedgerError('ledger is closed');
    const parsed = parseAll(block.data); // decoded once for every check of this commit
    const problem = checkBlockAgainst(block, this.lastHeader, this.config, this.ctx, parsed);
    if (problem) throw new BlockRejectedError(block.header.number, problem);
    const { outcomes, writes } = validateTransactions(block.data, block.header.number, block.header.timestampMs, this.state, this.ctx, parsed);
    const stored: StoredBlock = { block, validation: outcomes.map((o) => o.code) };
    this.store.append(block.header.number, encodeStoredBlock(stored));
    this.afterAppend?.(block.header.number);
    // The same update blockUpdateOf(stored) computes on recovery, without decoding again.
    const savepoint = this.state.applyBlock({
      number: block.header.number,
      blockHash: blockHash(block.header),
      writes,
      txIndex: outcomes.filter((o) => o.txId !== null && codeClaimsTxId(o.code)).map((o) => ({ txId: o.txId!, position: o.position, code: o.code })),
    });
    this.lastHeader = block.header;
    const configChanged = writes.some((w) => w.ns === CONFIG_NAMESPACE);
    if (configChanged) {
      const configState = configStateOf(this.state, this.genesisConfig);
      this.ctx = validationContextFromConfig(configState.record.config, this.verifyFn, configState, this.consortium);
    }
    const event: BlockCommitEvent = {
      number: block.header.number,
      blockHash: savepoint.blockHash,
      timestampMs: block.header.timestampMs,
      stateHash: savepoint.stateHash,
      txs: outcomes.map((o: TxOutcome) => ({ txId: o.txId, position: o.position, code: o.code, reason: o.reason, event: o.code === 'VALID' ? o.event : null })),
    };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not undo or block a commit that is already durable.
      }
    }
    if (configChanged) {
      for (const listener of this.configListeners) {
        try {
          listener(this.ctx.configState, block.header.number);
        } catch {
          // As above: the config change is committed whatever a listener does with it.
        }
      }
    }
    return event;
  }

  private readStored(number: number): StoredBlock {
    const stored = decodeStoredBlock(this.store.read(number));
    if (stored.block.header.number !== number) throw new LedgerError(`block store record ${number} holds block ${stored.block.header.number}`);
    return stored;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.configListeners.clear();
    this.store.close();
    this.state.close();
  }
}
