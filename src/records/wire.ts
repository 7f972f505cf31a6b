// What records and their keys look like between nodes and to callers: the 'records' and 'stats'
// channel messages, their checks (another node's answer is external input), the content a caller
// gives and gets, and the bytes a transported data key is bound to.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { decode, utf8, type Bytes } from '../codec/index.ts';
import { releasedPartialSchema, type ReleasedPartial } from '../analytics/aggregate.ts';
import { readEventSchema, type DatasetSelection, type Part, type Sensitivity } from '../contracts/health/index.ts';
import { type WrappedKey } from '../offchain/index.ts';
import { X25519_KEY_BYTES } from './nodekey.ts';

/** AES-GCM nonce + tag: sealed content is this much larger than its plaintext. */
export const SEAL_OVERHEAD_BYTES = 12 + 16;
/** How long a node waits for another node's answer on the 'records' and 'stats' channels. */
export const REMOTE_TIMEOUT_MS = 15_000;
/** The largest record or dataset content a node takes. */
export const CONTENT_BYTES_MAX = 32 * 1024 * 1024;
/** HPKE: enc is the X25519 ephemeral public key; the ciphertext is the 32-byte data key plus the AES-GCM tag. */
const WRAPPED_KEY_CIPHERTEXT_BYTES = 32 + 16;
export const RECORDS_CHANNEL = 'records';
export const STATS_CHANNEL = 'stats';
/** An access transaction is a ticket for this long (it is checked against its proposal time). */
export const ACCESS_TICKET_TTL_MS = 10 * 60_000;
export type RecordContent =
  | { readonly kind: 'fhir'; readonly resource: unknown }
  | { readonly kind: 'file'; readonly bytes: Bytes; readonly mediaType: string; readonly sensitivity?: Sensitivity };

export interface ReadPart {
  readonly sensitivity: Sensitivity;
  readonly mediaType: string;
  readonly cid: string;
  readonly content: Bytes;
}

export interface ReadResult {
  readonly allowed: boolean;
  readonly txId: string;
  readonly decision: Record<string, unknown>;
  readonly recordId: string;
  readonly version: number | null;
  readonly custodian: string | null;
  readonly parts: readonly ReadPart[];
  /** A CSV record's released parts re-joined into one CSV (decision 1161); null otherwise. */
  readonly csv: Bytes | null;
}

/** The commitment key is derived from the part's data key: shredding the key also shreds the
 *  ability to confirm a guess against the on-chain commitment. */
export function commitmentKeyOf(dataKey: Bytes): Bytes {
  return new Uint8Array(createHmac('sha256', dataKey).update('medledger-commitment-key').digest());
}

export const partRequestSchema = z.strictObject({
  txId: z.string().regex(/^[0-9a-f]{64}$/),
  recordId: z.string().min(1).max(64),
  cid: z.string().min(1).max(200),
});
export const statsPartialRequestSchema = z.strictObject({ requestId: z.string().min(1).max(64), datasetId: z.string().min(1).max(64) });

/** A part as the custodian holds it (never sent: the data key is in the clear here). */
export type LocalPart = { ok: true; sealed: Bytes; dataKey: Bytes; version: number; sensitivity: string } | PartRefusal;
export type PartRefusal = { ok: false; integrity: boolean; error: string };
/**
 * What travels on the 'records' channel: the sealed blob and its data key wrapped with HPKE to
 * `recipientKey` — the requesting node's key as published on chain (decision 1150).
 */
export type PartAnswer = { ok: true; sealed: Bytes; wrappedKey: WrappedKey; recipientKey: Bytes; version: number; sensitivity: string } | PartRefusal;

/**
 * The associated data a transported data key is bound to: the access ticket, the exact part and
 * the recipient node. A wrapped key cannot be replayed for another part, ticket or node.
 */
export function keyTransportAad(a: {
  txId: string;
  recordId: string;
  version: number;
  sensitivity: string;
  cid: string;
  recipientOrg: string;
  recipientNode: string;
}): Bytes {
  return utf8(`medledger-key-transport|${a.txId}|${a.recordId}|v${a.version}|${a.sensitivity}|${a.cid}|${a.recipientOrg}/${a.recipientNode}`);
}

/**
 * One served-read event as `recordReads` takes it, without its journal id (decision 1153): the
 * access transaction whose ticket released the part, the part's level, and whether it was served.
 */
export const servedReadEventSchema = readEventSchema.omit({ eventId: true });
export type ServedReadEvent = z.infer<typeof servedReadEventSchema>;
export type PartialAnswer = { ok: true; partial: ReleasedPartial } | { ok: false; error: string };
/** A custodian's answer on the 'stats' channel, as the requesting node accepts it (external input). */
export const partialAnswerSchema = z.union([
  z.strictObject({ ok: z.literal(true), partial: releasedPartialSchema }),
  z.strictObject({ ok: z.literal(false), error: z.string().max(2000) }),
]);

export type ReleasedPart = Part;
export interface Released {
  /** What the transaction released: a record's parts (`access`) or a dataset version (`downloadDataset`, decision 1260). */
  kind: 'record' | 'dataset';
  /** The record id, or the dataset id. */
  recordId: string;
  version: number;
  custodian: string;
  /** A dataset's one part has level 'normal' (its ticket's) and an empty commitment when it was listed before decision 1260. */
  parts: ReleasedPart[];
  /** A download's part (columns / rows), as the transaction recorded it. */
  selection?: DatasetSelection | null;
}
/** Decode and shape-check a custodian's answer (it is another node's input: trust nothing). */
export function checkPartAnswer(raw: Bytes, custodian: string): PartAnswer {
  const garbage = (why: string): PartAnswer => ({ ok: false, integrity: false, error: `custodian ${custodian} answered garbage (${why})` });
  let a: unknown;
  try {
    a = decode(raw);
  } catch {
    return garbage('undecodable');
  }
  if (typeof a !== 'object' || a === null) return garbage('not a map');
  const m = a as Record<string, unknown>;
  if (m['ok'] === false)
    return { ok: false, integrity: m['integrity'] === true, error: typeof m['error'] === 'string' ? m['error'].slice(0, 1000) : 'refused' };
  if (m['ok'] !== true) return garbage('no ok flag');
  const w = m['wrappedKey'] as Record<string, unknown> | undefined;
  if (!(m['sealed'] instanceof Uint8Array)) return garbage('no sealed bytes');
  if ('dataKey' in m) return garbage('a bare data key: refusing key material that was not wrapped to this node');
  if (
    typeof w !== 'object' ||
    w === null ||
    !(w['enc'] instanceof Uint8Array) ||
    w['enc'].byteLength !== X25519_KEY_BYTES ||
    !(w['ciphertext'] instanceof Uint8Array) ||
    w['ciphertext'].byteLength !== WRAPPED_KEY_CIPHERTEXT_BYTES
  ) {
    return garbage('no well-formed wrapped key');
  }
  if (!(m['recipientKey'] instanceof Uint8Array) || m['recipientKey'].byteLength !== X25519_KEY_BYTES) return garbage('no recipient key');
  if (typeof m['version'] !== 'number' || typeof m['sensitivity'] !== 'string') return garbage('no version or sensitivity');
  return {
    ok: true,
    sealed: m['sealed'],
    wrappedKey: { enc: w['enc'], ciphertext: w['ciphertext'] },
    recipientKey: m['recipientKey'],
    version: m['version'],
    sensitivity: m['sensitivity'],
  };
}
