// Blocks (DESIGN §4 step 4), after Fabric:
//
//   header   {number, previousHash, dataHash, timestampMs}   block hash = sha256(encode(header))
//   data     [encoded transaction envelopes]                  dataHash   = sha256(encode(data))
//   metadata {orderer signatures over the block hash, the consensus proof of the decided block}
//
// Metadata is outside the hash (Fabric's rule): several orderers of a cluster produce the same
// header for a decided block and each adds its own signature. Block 0 (genesis) carries the
// consortium configuration as its single data entry and no signature: it is the trust anchor.
//
// Timestamp rule (deterministic, chosen on the ordering side): a block's timestampMs is the
// largest timestampMs among its decodable transactions' proposals, and never below the previous
// block's. Every orderer computes the same value from the same decided transactions, so the
// header is identical across orderers, and peers validate certificates "at the block's time"
// identically. Orderers bound how far a proposal's timestamp may lie from their clock on
// submission (src/node/orderer.ts), so a client cannot drag the chain's time far away.
import { z } from 'zod';
import { concatBytes, decode, encode, sha256, type Bytes } from '../codec/index.ts';
import type { Certificate } from '../consensus/engine.ts';
import { isValidationCode, type ValidationCode } from './codes.ts';
import { LEDGER_LIMITS } from './limits.ts';
import { parseTx, TxFormatError, type ParseResult } from './tx.ts';

export class BlockFormatError extends Error {
  override readonly name = 'BlockFormatError';
}

export const ZERO_HASH: Bytes = new Uint8Array(32);

export interface BlockHeader {
  readonly number: number;
  readonly previousHash: Bytes;
  readonly dataHash: Bytes;
  readonly timestampMs: number;
}

export interface OrdererSignature {
  readonly ordererId: string;
  readonly signature: Bytes;
}

/** How the consensus engine decided this block, kept so auditors can check its certificate. */
export interface ConsensusProof {
  readonly engine: string;
  readonly height: number;
  readonly digest: Bytes;
  readonly previousDigest: Bytes;
  /** (clientId, seq) of each proposal, in data order: with the data they rebuild the digest. */
  readonly proposalIds: readonly { readonly clientId: string; readonly seq: number }[];
  readonly certificate: Certificate | null;
  /**
   * The engine's own bytes for this block (DecidedBlock.extra; EH-BFT: the block's metadata, which
   * its certificate signs by digest): with the rest, the orderer can hand the engine the decided
   * block again to serve a node replaying the chain (EngineContext.archive). Absent for engines
   * that need none and in blocks cut before it was kept.
   */
  readonly extra?: Bytes;
}

export interface BlockMetadata {
  readonly signatures: readonly OrdererSignature[];
  readonly consensus: ConsensusProof | null;
}

export interface Block {
  readonly header: BlockHeader;
  readonly data: readonly Bytes[];
  readonly metadata: BlockMetadata;
}

/** What a peer stores: the block as ordered, plus its own validation code for every tx. */
export interface StoredBlock {
  readonly block: Block;
  readonly validation: readonly ValidationCode[];
}

// Both hashes are asked for the same objects several times in one process (the orderer builds a
// header, its peer checks it, the next block links to it): remembered by object identity (issue
// 13). Blocks, headers and their data arrays are never mutated once built or decoded; a changed
// block is a new object and is hashed afresh.
const dataHashes = new WeakMap<readonly Bytes[], Bytes>();
const blockHashes = new WeakMap<BlockHeader, Bytes>();

export function dataHash(data: readonly Bytes[]): Bytes {
  let hash = dataHashes.get(data);
  if (hash === undefined) {
    hash = sha256(encode(data));
    dataHashes.set(data, hash);
  }
  return hash;
}

export function blockHash(header: BlockHeader): Bytes {
  let hash = blockHashes.get(header);
  if (hash === undefined) {
    hash = sha256(encode(header));
    blockHashes.set(header, hash);
  }
  return hash;
}

/** What an orderer signs for a block: its hash and number (domain-separated). */
export function ordererSignedBytes(header: BlockHeader): Bytes {
  return encode({ scheme: 'medledger-block', number: header.number, hash: blockHash(header) });
}

/** The deterministic timestamp rule (see the file comment). */
export function blockTimestampMs(previousTimestampMs: number, data: readonly Bytes[], parsed?: readonly ParseResult[]): number {
  let ts = previousTimestampMs;
  data.forEach((envelope, i) => {
    const tx = parsed ? parsed[i] : undefined;
    if (tx instanceof TxFormatError) return;
    try {
      ts = Math.max(ts, (tx ?? parseTx(envelope)).proposal.timestampMs);
    } catch {
      // An undecodable transaction is ordered anyway (and marked BAD_PAYLOAD); it has no say in time.
    }
  });
  return ts;
}

export function buildHeader(number: number, previous: BlockHeader, data: readonly Bytes[]): BlockHeader {
  return {
    number,
    previousHash: blockHash(previous),
    dataHash: dataHash(data),
    timestampMs: blockTimestampMs(previous.timestampMs, data),
  };
}

// ---------------------------------------------------------------------------------------------

const bytes = z.instanceof(Uint8Array);
/** An engine's extra bytes per block: its metadata (a previous certificate, bounded evidence), far below this. */
const CONSENSUS_EXTRA_BYTES_MAX = 1024 * 1024;
const hash32 = bytes.refine((b) => b.byteLength === 32, 'must be 32 bytes');
const nonNegInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const headerSchema = z.object({ number: nonNegInt, previousHash: hash32, dataHash: hash32, timestampMs: nonNegInt }).strict();
const certificateSchema = z
  .object({
    scheme: z.string().max(64),
    fields: z.record(z.string(), z.union([z.number(), z.string(), bytes])),
    signatures: z.array(z.object({ nodeId: z.string().max(256), signature: bytes }).strict()).max(1024),
  })
  .strict();
const metadataSchema = z
  .object({
    signatures: z.array(z.object({ ordererId: z.string().min(1).max(256), signature: bytes }).strict()).max(1024),
    consensus: z
      .object({
        engine: z.string().min(1).max(64),
        height: nonNegInt,
        digest: hash32,
        previousDigest: hash32,
        proposalIds: z.array(z.object({ clientId: z.string().max(256), seq: nonNegInt }).strict()).max(LEDGER_LIMITS.blockTxsMax),
        certificate: certificateSchema.nullable(),
        extra: bytes.refine((b) => b.byteLength <= CONSENSUS_EXTRA_BYTES_MAX, `at most ${CONSENSUS_EXTRA_BYTES_MAX} bytes`).optional(),
      })
      .strict()
      .nullable(),
  })
  .strict();
const blockSchema = z
  .object({
    header: headerSchema,
    data: z.array(bytes).max(LEDGER_LIMITS.blockTxsMax),
    metadata: metadataSchema,
  })
  .strict();
const storedSchema = z
  .object({
    block: blockSchema,
    validation: z.array(z.string().refine(isValidationCode, 'unknown validation code')),
  })
  .strict()
  .refine((s) => s.validation.length === s.block.data.length, 'one validation code per transaction');

function parseWith<T>(schema: z.ZodType<T>, data: Bytes, what: string): T {
  let value: unknown;
  try {
    value = decode(data);
  } catch (err) {
    throw new BlockFormatError(`${what}: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BlockFormatError(`${what}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}

/** A block's encoding, per block object: the orderer stores it, then its peer stores it again inside a StoredBlock. */
const blockEncodings = new WeakMap<Block, Bytes>();

export function encodeBlock(block: Block): Bytes {
  let bytes = blockEncodings.get(block);
  if (bytes === undefined) {
    bytes = encode(block);
    blockEncodings.set(block, bytes);
  }
  return bytes;
}

export function decodeBlock(data: Bytes): Block {
  return parseWith(blockSchema, data, 'block') as Block;
}

// DAG-CBOR of {block, validation}: a map of two entries, keys in canonical order (shorter first:
// "block" before "validation"). Spelled out so that the block's own encoding, usually made already
// for the orderer's store, is reused instead of encoding the whole block again (issue 13).
// stored-block.test: byte-identical to encode(stored).
const STORED_MAP_HEADER = new Uint8Array([0xa2, 0x65, ...new TextEncoder().encode('block')]);
const STORED_VALIDATION_KEY = new Uint8Array([0x6a, ...new TextEncoder().encode('validation')]);

export function encodeStoredBlock(stored: StoredBlock): Bytes {
  if (Object.keys(stored).length !== 2) return encode(stored); // not the two-field shape: the general path
  return concatBytes([STORED_MAP_HEADER, encodeBlock(stored.block), STORED_VALIDATION_KEY, encode(stored.validation)]);
}

export function decodeStoredBlock(data: Bytes): StoredBlock {
  return parseWith(storedSchema, data, 'stored block') as StoredBlock;
}
