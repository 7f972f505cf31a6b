// The only place MedLedger defines bytes: every structure that is signed, hashed or stored
// is encoded as DAG-CBOR, whose canonical form (sorted map keys, shortest integers, no
// undefined, no floats that could be ints) makes "same value" mean "same bytes" on every node.
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2';
import { hexToBytesUnchecked, sha256, type Bytes } from './platform.ts';
import { cborNestingDepth } from './nesting.ts';
import { fastEncode } from './fast-encode.ts';
import { fastDecode, NOT_DECODED } from './fast-decode.ts';

// Node and browser implementations of these live in platform.ts / platform.browser.ts.
export { bytesEqual, concatBytes, fromBase64, randomBytes, sha256, toBase64, toHex, utf8ByteLength } from './platform.ts';
export type { Bytes } from './platform.ts';

/** A value that DAG-CBOR can encode: the data model every hashed/signed structure lives in. */
export type Encodable = null | boolean | number | string | Uint8Array | CID | readonly Encodable[] | { readonly [key: string]: Encodable };

export class CodecError extends Error {
  override readonly name = 'CodecError';
}

/** Canonical DAG-CBOR encoding. Throws CodecError naming the problem for unencodable input. */
export function encode(value: unknown): Bytes {
  // The same bytes, faster, for the values MedLedger encodes (decision 1410); the rest, and every
  // error, is @ipld/dag-cbor's.
  const fast = fastEncode(value);
  if (fast !== null) return fast;
  try {
    return dagCbor.encode(value);
  } catch (err) {
    throw new CodecError(`cannot encode value: ${(err as Error).message}`);
  }
}

/**
 * How deeply decoded CBOR may nest (arrays, maps, tags). MedLedger's structures nest a handful
 * of levels (signed things travel as byte strings, decoded one level at a time; the deepest
 * consensus messages, PBFT's new-view and EH-BFT's block fetch, nest 7 in simulator runs of every
 * engine with all faults); the decoder recurses per level and overflows the stack at a few
 * thousand, so deeper input from a peer or a client is refused before decoding (issue 16, item 8).
 */
export const CBOR_NESTING_DEPTH_MAX = 128;

/** Strict DAG-CBOR decoding: rejects non-canonical input, so decode∘encode is the identity on bytes. */
export function decode<T = unknown>(bytes: Bytes): T {
  // The same values, faster, for the canonical bytes MedLedger writes (decision 1418); the rest,
  // and every error, is @ipld/dag-cbor's (after the nesting bound).
  const fast = fastDecode(bytes);
  if (fast !== NOT_DECODED) return fast as T;
  try {
    if (cborNestingDepth(bytes, CBOR_NESTING_DEPTH_MAX) > CBOR_NESTING_DEPTH_MAX) throw new Error(`nested deeper than ${CBOR_NESTING_DEPTH_MAX} levels`);
    return dagCbor.decode<T>(bytes);
  } catch (err) {
    throw new CodecError(`cannot decode bytes: ${(err as Error).message}`);
  }
}

/**
 * An encoder that remembers its last value: the same object handed to it again — a Raft leader's
 * append, one object for every follower at the same point (decision 1406) — is encoded once. The
 * caller must not mutate a value after encoding it (engine messages are never mutated).
 */
export function rememberingEncoder(): (value: object) => Bytes {
  let lastValue: object | null = null;
  let lastBytes: Bytes = new Uint8Array(0);
  return (value) => {
    if (value !== lastValue) {
      lastBytes = encode(value);
      lastValue = value;
    }
    return lastBytes;
  };
}

/** sha2-256 over the canonical encoding of a value. */
export function hashValue(value: unknown): Bytes {
  return sha256(encode(value));
}

/**
 * CIDv1, raw codec, sha2-256: exactly the address IPFS gives a file of these bytes when it is
 * stored as a single raw block (files up to the importer's chunk size, 256 KiB).
 */
export function rawCid(bytes: Bytes): CID {
  // Our own synchronous sha256 (multiformats' hasher is async in browsers).
  return CID.create(1, raw.code, Digest.create(sha256Hasher.code, sha256(bytes)));
}

export function parseCid(text: string): CID {
  try {
    return CID.parse(text);
  } catch (err) {
    throw new CodecError(`not a valid CID "${text.slice(0, 80)}": ${(err as Error).message}`);
  }
}

export function fromHex(hex: string): Bytes {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new CodecError(`not a hex string: "${hex.slice(0, 80)}"`);
  return hexToBytesUnchecked(hex);
}

export function utf8(text: string): Bytes {
  return new TextEncoder().encode(text);
}

export { CID };
