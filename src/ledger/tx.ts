// Transactions, shaped after Hyperledger Fabric's execute–order–validate messages:
//
//   SignedProposal  = { proposal: bytes(TxProposal), signature: creator's signature over them }
//   ResponsePayload = { proposalHash, rwset, result, event }          what endorsers agree on
//   Endorsement     = { endorser cert, signature over (response bytes, endorser cert) }
//   TxPayload       = { proposal bytes, response bytes, endorsements }
//   TxEnvelope      = { payload: bytes(TxPayload), signature: creator's signature over them }
//
// Signed things are carried as their encoded bytes (as Fabric does), so a verifier checks a
// signature over exactly the bytes that were signed and never re-encodes to do so. All bytes are
// DAG-CBOR (src/codec), whose strict decoder rejects non-canonical input.
import { z } from 'zod';
import { concatBytes, decode, encode, sha256, toHex, utf8, utf8ByteLength, type Bytes } from '../codec/index.ts';
import { LEDGER_LIMITS } from './limits.ts';

export class TxFormatError extends Error {
  override readonly name = 'TxFormatError';
}

/** What a transaction's writes are stamped with: the (block, position) that committed them. */
export interface Version {
  readonly block: number;
  readonly tx: number;
}

export interface TxProposal {
  /** hex sha256(nonce ‖ creator PEM bytes) — Fabric's txId rule, unforgeable without the nonce. */
  readonly txId: string;
  readonly contract: string;
  readonly fn: string;
  readonly args: readonly string[];
  /** The creator's X.509 certificate (PEM). */
  readonly creator: string;
  readonly nonce: Bytes;
  /** The client's clock when it built the proposal; bounds the block timestamp (see block.ts). */
  readonly timestampMs: number;
  /**
   * The consortium it is meant for: the hash of its genesis block, hex (decision 1389). Signed
   * with the rest, so the transaction cannot be committed in another consortium that trusts the
   * same creator and endorsers. Absent in proposals of older clients (accepted, not bound).
   */
  readonly consortium?: string;
}

export interface SignedProposal {
  readonly proposal: Bytes;
  readonly signature: Bytes;
}

export interface KvRead {
  readonly key: string;
  /** null: the key did not exist when read. */
  readonly version: Version | null;
}

/** A range query and exactly what it returned, re-executed at validation to detect phantoms. */
export interface RangeRead {
  readonly startKey: string;
  /** Exclusive; '' means unbounded. */
  readonly endKey: string;
  /** true when the scan reached endKey (or the end of the namespace); false when it stopped early. */
  readonly exhausted: boolean;
  readonly results: readonly KvRead[];
}

export interface KvWrite {
  readonly key: string;
  readonly isDelete: boolean;
  /** null for deletes. */
  readonly value: Bytes | null;
}

export interface NsRwSet {
  readonly namespace: string;
  /** Sorted by key, one entry per key (its first read). */
  readonly reads: readonly KvRead[];
  /** In execution order. */
  readonly rangeReads: readonly RangeRead[];
  /** Sorted by key, one entry per key (its last write). */
  readonly writes: readonly KvWrite[];
}

export interface RwSet {
  readonly namespaces: readonly NsRwSet[];
}

export interface ContractEvent {
  readonly name: string;
  readonly payload: Bytes;
}

export interface ContractResult {
  /** 200 ok, 400 client error (bad arguments, refused by the contract), 500 contract failure. */
  readonly status: number;
  readonly message: string;
  readonly payload: Bytes;
}

export interface ResponsePayload {
  /** sha256 of the proposal bytes: binds the endorsement to one proposal. */
  readonly proposalHash: Bytes;
  readonly rwset: RwSet;
  readonly result: ContractResult;
  readonly event: ContractEvent | null;
}

export interface Endorsement {
  readonly endorser: string;
  readonly signature: Bytes;
}

export interface TxPayload {
  readonly proposal: Bytes;
  readonly response: Bytes;
  readonly endorsements: readonly Endorsement[];
}

export interface TxEnvelope {
  readonly payload: Bytes;
  readonly signature: Bytes;
}

/** Anything that signs for one identity (a user's or a peer's private key). */
export interface MessageSigner {
  sign(message: Bytes): Bytes;
}

// ---------------------------------------------------------------------------------------------
// Schemas: every decoded structure is checked field by field before use (it came from a client,
// the network or a disk that may be corrupt).

const bytes = z.instanceof(Uint8Array);
const name = z.string().min(1).max(LEDGER_LIMITS.nameLengthMax);
const key = z.string().refine((k) => utf8ByteLength(k) <= LEDGER_LIMITS.keySizeBytesMax, 'key too long');
const nonNegInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const pem = z.string().min(1).max(LEDGER_LIMITS.certPemSizeBytesMax);
const version = z.object({ block: nonNegInt, tx: nonNegInt }).strict();

const proposalSchema = z
  .object({
    txId: z.string().regex(/^[0-9a-f]{64}$/, 'txId must be 64 lowercase hex digits'),
    contract: name,
    fn: name,
    args: z.array(z.string().refine((a) => utf8ByteLength(a) <= LEDGER_LIMITS.argSizeBytesMax, 'argument too long')).max(LEDGER_LIMITS.argsMax),
    creator: pem,
    nonce: bytes.refine((b) => b.byteLength >= 16 && b.byteLength <= 64, 'nonce must be 16..64 bytes'),
    timestampMs: nonNegInt,
    consortium: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'consortium must be the genesis block hash, 64 lowercase hex digits')
      .optional(),
  })
  .strict();

const kvRead = z.object({ key, version: version.nullable() }).strict();
const rangeRead = z
  .object({
    startKey: key,
    endKey: key,
    exhausted: z.boolean(),
    results: z.array(kvRead).max(LEDGER_LIMITS.rangeResultsMax),
  })
  .strict();
const kvWrite = z
  .object({
    key,
    isDelete: z.boolean(),
    value: bytes.refine((b) => b.byteLength <= LEDGER_LIMITS.valueSizeBytesMax, 'value too large').nullable(),
  })
  .strict()
  .refine((w) => (w.isDelete ? w.value === null : w.value !== null), 'a delete carries no value, a put carries one');
const nsRwSet = z
  .object({
    namespace: name,
    reads: z.array(kvRead).max(LEDGER_LIMITS.readsMax),
    rangeReads: z.array(rangeRead).max(LEDGER_LIMITS.rangeQueriesMax),
    writes: z.array(kvWrite).max(LEDGER_LIMITS.writesMax),
  })
  .strict();
const responseSchema = z
  .object({
    proposalHash: bytes.refine((b) => b.byteLength === 32, 'proposalHash must be 32 bytes'),
    rwset: z.object({ namespaces: z.array(nsRwSet).max(16) }).strict(),
    result: z
      .object({
        status: z.number().int().min(0).max(999),
        message: z.string().max(4096),
        payload: bytes.refine((b) => b.byteLength <= LEDGER_LIMITS.responsePayloadBytesMax, 'response payload too large'),
      })
      .strict(),
    event: z
      .object({
        name: name,
        payload: bytes.refine((b) => b.byteLength <= LEDGER_LIMITS.eventPayloadBytesMax, 'event payload too large'),
      })
      .strict()
      .nullable(),
  })
  .strict();
const signedProposalSchema = z.object({ proposal: bytes, signature: bytes }).strict();
const payloadSchema = z
  .object({
    proposal: bytes,
    response: bytes,
    endorsements: z.array(z.object({ endorser: pem, signature: bytes }).strict()).max(LEDGER_LIMITS.endorsementsMax),
  })
  .strict();
const envelopeSchema = z.object({ payload: bytes, signature: bytes }).strict();

function parseWith<T>(schema: z.ZodType<T>, data: Bytes, what: string): T {
  let value: unknown;
  try {
    value = decode(data);
  } catch (err) {
    throw new TxFormatError(`${what}: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TxFormatError(`${what}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------

/** Per nonce object, the creator and txId last computed (the gateway, endorser and validator of one process ask for the same). */
const txIds = new WeakMap<Bytes, { readonly creatorPem: string; readonly txId: string }>();

export function computeTxId(nonce: Bytes, creatorPem: string): string {
  const known = txIds.get(nonce);
  if (known !== undefined && known.creatorPem === creatorPem) return known.txId;
  const txId = toHex(sha256(concatBytes([nonce, utf8(creatorPem)])));
  txIds.set(nonce, { creatorPem, txId });
  return txId;
}

export interface ProposalInput {
  readonly contract: string;
  readonly fn: string;
  readonly args: readonly string[];
  readonly creator: string;
  readonly nonce: Bytes;
  readonly timestampMs: number;
  /** The genesis block hash (hex) of the consortium it is for (decision 1389). */
  readonly consortium?: string;
}

export function buildProposal(input: ProposalInput): TxProposal {
  const proposal: TxProposal = { ...input, args: [...input.args], txId: computeTxId(input.nonce, input.creator) };
  const check = proposalSchema.safeParse(proposal);
  if (!check.success) throw new TxFormatError(`proposal: ${check.error.issues[0]?.path.join('.')}: ${check.error.issues[0]?.message}`);
  return proposal;
}

export function signProposal(proposal: TxProposal, signer: MessageSigner): SignedProposal {
  const proposalBytes = encode(proposal);
  return { proposal: proposalBytes, signature: signer.sign(proposalBytes) };
}

export function decodeProposal(proposalBytes: Bytes): TxProposal {
  return parseWith(proposalSchema, proposalBytes, 'proposal');
}

export function encodeSignedProposal(sp: SignedProposal): Bytes {
  return encode(sp);
}

export function decodeSignedProposal(data: Bytes): SignedProposal {
  return parseWith(signedProposalSchema, data, 'signed proposal');
}

export function proposalHash(proposalBytes: Bytes): Bytes {
  return sha256(proposalBytes);
}

export function encodeResponse(response: ResponsePayload): Bytes {
  return encode(response);
}

export function decodeResponse(data: Bytes): ResponsePayload {
  return parseWith(responseSchema, data, 'response payload');
}

/** What an endorser signs: the response bytes bound to its own certificate (as Fabric does). */
export function endorsementMessage(responseBytes: Bytes, endorserPem: string): Bytes {
  // Asked by the endorser, the gateway and every peer's validation for the same response object:
  // built once per (response object, endorser), and the same bytes object lets the signature memo
  // answer by identity. Treat the result as read-only.
  let byEndorser = endorsementMessages.get(responseBytes);
  if (byEndorser === undefined) {
    byEndorser = new Map();
    endorsementMessages.set(responseBytes, byEndorser);
  }
  let message = byEndorser.get(endorserPem);
  if (message === undefined) {
    message = encode({ response: responseBytes, endorser: endorserPem });
    if (byEndorser.size < ENDORSEMENT_MESSAGES_PER_RESPONSE_MAX) byEndorser.set(endorserPem, message);
  }
  return message;
}

const endorsementMessages = new WeakMap<Bytes, Map<string, Bytes>>();
/** More endorsers than any policy needs: past it, messages are built every time (no growth). */
const ENDORSEMENT_MESSAGES_PER_RESPONSE_MAX = 16;

export function endorse(responseBytes: Bytes, endorserPem: string, signer: MessageSigner): Endorsement {
  return { endorser: endorserPem, signature: signer.sign(endorsementMessage(responseBytes, endorserPem)) };
}

export function buildEnvelope(payload: TxPayload, creatorSigner: MessageSigner): TxEnvelope {
  const payloadBytes = encode(payload);
  return { payload: payloadBytes, signature: creatorSigner.sign(payloadBytes) };
}

export function encodeEnvelope(envelope: TxEnvelope): Bytes {
  return encode(envelope);
}

export function decodeEnvelope(data: Bytes): TxEnvelope {
  if (data.byteLength > LEDGER_LIMITS.envelopeSizeBytesMax) {
    throw new TxFormatError(`envelope: ${data.byteLength} bytes exceeds ${LEDGER_LIMITS.envelopeSizeBytesMax}`);
  }
  return parseWith(envelopeSchema, data, 'envelope');
}

export function decodeTxPayload(data: Bytes): TxPayload {
  return parseWith(payloadSchema, data, 'payload');
}

/** A transaction decoded down to every layer (what the validator and explorers work on). */
export interface ParsedTx {
  readonly envelope: TxEnvelope;
  readonly payload: TxPayload;
  readonly proposal: TxProposal;
  readonly response: ResponsePayload;
}

/**
 * Transactions already decoded in this process, by the SHA-256 of their envelope bytes (issue 13:
 * one node's gateway, orderer admission, block cutting and validation each decoded — DAG-CBOR and
 * schema — the same envelope again). Decoding is deterministic, so the same bytes give the same
 * ParsedTx; only successes are kept (a malformed envelope is always re-checked). The results are
 * shared: treat them as read-only, as their types say. Bounded by the envelope bytes it covers
 * (oldest first out), so the decoded forms stay within a few tens of MB.
 */
export class ParsedTxMemo {
  private readonly entries = new Map<string, { parsed: ParsedTx; bytes: number }>();
  /** Weak: an entry lives as long as its bytes object does, so it needs no bound of its own. */
  private readonly byObject = new WeakMap<Bytes, ParsedTx>();
  private bytes = 0;
  hits = 0;

  constructor(readonly bytesMax: number) {}

  get size(): number {
    return this.entries.size;
  }

  get coveredBytes(): number {
    return this.bytes;
  }

  parse(envelopeBytes: Bytes, decodeAll: (bytes: Bytes) => ParsedTx): ParsedTx {
    if (this.bytesMax <= 0 || envelopeBytes.byteLength > this.bytesMax / 16) return decodeAll(envelopeBytes);
    // The same bytes object often comes back (the orderer's block reaches its peer as is): found
    // by identity, without hashing. Bytes are never mutated once built or received.
    const byObject = this.byObject.get(envelopeBytes);
    if (byObject) {
      this.hits += 1;
      return byObject;
    }
    const key = toHex(sha256(envelopeBytes));
    const known = this.entries.get(key);
    if (known) {
      this.hits += 1;
      this.byObject.set(envelopeBytes, known.parsed);
      return known.parsed;
    }
    const parsed = decodeAll(envelopeBytes);
    this.byObject.set(envelopeBytes, parsed);
    while (this.bytes + envelopeBytes.byteLength > this.bytesMax && this.entries.size > 0) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.entries.delete(oldestKey);
      this.bytes -= oldest.bytes;
    }
    this.entries.set(key, { parsed, bytes: envelopeBytes.byteLength });
    this.bytes += envelopeBytes.byteLength;
    return parsed;
  }
}

export const PARSED_TX_MEMO_BYTES_MAX = 8 * 1024 * 1024;
export const parsedTxMemo = new ParsedTxMemo(PARSED_TX_MEMO_BYTES_MAX);

function decodeAllLayers(envelopeBytes: Bytes): ParsedTx {
  const envelope = decodeEnvelope(envelopeBytes);
  const payload = decodeTxPayload(envelope.payload);
  const proposal = decodeProposal(payload.proposal);
  const response = decodeResponse(payload.response);
  return { envelope, payload, proposal, response };
}

/** Decode every layer; throws TxFormatError naming the first malformed layer. */
export function parseTx(envelopeBytes: Bytes): ParsedTx {
  return parsedTxMemo.parse(envelopeBytes, decodeAllLayers);
}

/** A block's transactions decoded once and shared by every check of one commit. */
export type ParseResult = ParsedTx | TxFormatError;

export function parseAll(data: readonly Bytes[]): ParseResult[] {
  return data.map((envelope) => {
    try {
      return parseTx(envelope);
    } catch (err) {
      return err instanceof TxFormatError ? err : new TxFormatError((err as Error).message);
    }
  });
}

/** Best effort: the txId of an envelope, or null when it cannot be decoded. */
export function peekTxId(envelopeBytes: Bytes): string | null {
  try {
    return parseTx(envelopeBytes).proposal.txId;
  } catch {
    return null;
  }
}
