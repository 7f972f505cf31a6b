// A strict DAG-CBOR decoder for the bytes MedLedger decodes all the time (decision 1418): the same
// values as @ipld/dag-cbor's decode, read straight from the bytes. @ipld/dag-cbor (through cborg)
// builds a token object per item and runs every item through generic dispatch; and codec.decode
// walked the whole input once more beforehand to bound its nesting. On a Raft round every message
// is decoded twice (the transport's frame, then the message in it), in every process.
//
// It takes only canonical input in the data model MedLedger writes: unsigned and negative
// integers in their shortest head within the safe range, byte strings, ASCII text strings,
// definite-length arrays, maps whose keys are ASCII text strings in canonical order (length
// first, then bytewise — so no key repeats), null, true, false and CIDs (tag 42), nested at most
// NESTING_MAX levels. For anything else — floats, undefined, other tags and simple values,
// indefinite lengths, non-ASCII text, big integers, non-minimal heads, unsorted keys, a
// `__proto__` key, truncated input or bytes after the item — it answers NOT_DECODED and the
// caller hands the bytes to @ipld/dag-cbor, which decodes them or throws its own error: whatever
// this decoder returns, @ipld/dag-cbor returns too (codec/fast-decode.test.ts checks the two
// against each other on random values and on random corruptions of their bytes).
import { CID } from 'multiformats/cid';

/** What fastDecode answers when it leaves the bytes to the reference decoder. */
export const NOT_DECODED: unique symbol = Symbol('not decoded by the fast path');

/** Deeper input goes to the reference path, which bounds nesting and names the problem. */
const NESTING_MAX = 64;
/** Text strings up to this length are remembered; longer ones are made by TextDecoder each time. */
const SHORT_STRING_LENGTH_MAX = 32;
/** 2^53 − 1 is 0x1F_FFFF_FFFF_FFFF: the high word of a safe integer is at most this. */
const SAFE_HIGH_WORD_MAX = 0x1f_ffff;
const CID_TAG = 42;
/** Short strings remembered: a fixed table, one string per slot (2^12 slots: a hash's top 12 bits). */
const STRING_SLOTS = 4096;
const STRING_SLOT_SHIFT = 32 - 12;

/** Why the fast path gave up (thrown, so that no level needs to check a result). */
class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported();

const textDecoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
const strings: Array<string | undefined> = new Array<string | undefined>(STRING_SLOTS).fill(undefined);
let src: Uint8Array = EMPTY;
let pos = 0;

/**
 * The value the canonical DAG-CBOR `bytes` encode, or NOT_DECODED when they are outside what this
 * decoder covers (then @ipld/dag-cbor decides). Byte strings come back as fresh copies, as
 * @ipld/dag-cbor's do: the caller may keep them while the input is reused.
 */
export function fastDecode(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0) return NOT_DECODED;
  // A Buffer's slice() is a view; a plain Uint8Array's is the copy wanted.
  src = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  pos = 0;
  try {
    const value = readValue(0);
    return pos === src.byteLength ? value : NOT_DECODED;
  } catch (err) {
    if (err instanceof Unsupported) return NOT_DECODED;
    throw err;
  } finally {
    src = EMPTY;
  }
}

/** The argument of a head whose first byte had additional information `info`, if in its shortest form and safe. */
function readArgument(info: number): number {
  if (info < 24) return info;
  let value: number;
  switch (info) {
    case 24:
      if (pos + 1 > src.byteLength) throw UNSUPPORTED;
      value = src[pos]!;
      pos += 1;
      if (value < 24) throw UNSUPPORTED;
      return value;
    case 25:
      if (pos + 2 > src.byteLength) throw UNSUPPORTED;
      value = (src[pos]! << 8) | src[pos + 1]!;
      pos += 2;
      if (value < 0x100) throw UNSUPPORTED;
      return value;
    case 26:
      if (pos + 4 > src.byteLength) throw UNSUPPORTED;
      value = readUint32();
      if (value < 0x10000) throw UNSUPPORTED;
      return value;
    case 27: {
      if (pos + 8 > src.byteLength) throw UNSUPPORTED;
      const high = readUint32();
      const low = readUint32();
      // High word 0: it fitted in 4 bytes. Above 2^53 − 1: @ipld/dag-cbor gives a BigInt.
      if (high === 0 || high > SAFE_HIGH_WORD_MAX) throw UNSUPPORTED;
      return high * 0x1_0000_0000 + low;
    }
    default:
      // 28–30 are reserved, 31 is an indefinite length.
      throw UNSUPPORTED;
  }
}

function readUint32(): number {
  const value = src[pos]! * 0x100_0000 + ((src[pos + 1]! << 16) | (src[pos + 2]! << 8) | src[pos + 3]!);
  pos += 4;
  return value;
}

function readValue(depth: number): unknown {
  if (pos >= src.byteLength) throw UNSUPPORTED;
  const initial = src[pos]!;
  pos += 1;
  const major = initial >> 5;
  const info = initial & 0x1f;
  switch (major) {
    case 0:
      return readArgument(info);
    case 1: {
      const n = readArgument(info);
      // −1 − (2^53 − 1) is below the safe range: @ipld/dag-cbor gives a BigInt.
      if (n === Number.MAX_SAFE_INTEGER) throw UNSUPPORTED;
      return -1 - n;
    }
    case 2: {
      const length = readArgument(info);
      if (length > src.byteLength - pos) throw UNSUPPORTED;
      const bytes = src.slice(pos, pos + length);
      pos += length;
      return bytes;
    }
    case 3:
      return readString(readArgument(info));
    case 4: {
      const length = readArgument(info);
      // Every item is at least one byte: a longer count is truncated input.
      if (length > src.byteLength - pos || depth >= NESTING_MAX) throw UNSUPPORTED;
      const array: unknown[] = [];
      for (let i = 0; i < length; i++) array.push(readValue(depth + 1));
      return array;
    }
    case 5:
      return readMap(readArgument(info), depth);
    case 6: {
      if (readArgument(info) !== CID_TAG) throw UNSUPPORTED;
      return readCid();
    }
    default:
      // Major type 7: only false, true and null.
      if (initial === 0xf4) return false;
      if (initial === 0xf5) return true;
      if (initial === 0xf6) return null;
      throw UNSUPPORTED;
  }
}

/** An ASCII text string of `length` bytes at the position. */
function readString(length: number): string {
  if (length > src.byteLength - pos) throw UNSUPPORTED;
  const end = pos + length;
  if (length > SHORT_STRING_LENGTH_MAX) {
    for (let i = pos; i < end; i++) if (src[i]! >= 0x80) throw UNSUPPORTED;
    const text = textDecoder.decode(src.subarray(pos, end));
    pos = end;
    return text;
  }
  // Short strings are field names, kinds, ids: the same few hundred over and over. The string
  // made for the same bytes before is taken again (one slot per hash, the last one made wins):
  // no string built char by char, and a map key that V8 need not look up in its string table.
  // The slot hashes a few of the bytes; the comparison checks all of them (a remembered string
  // is ASCII, so equal bytes are ASCII too).
  // Multiplicative hashing: the product's top bits depend on every input bit.
  const slot =
    length === 0 ? 0 : Math.imul(length ^ (src[pos]! << 8) ^ (src[end - 1]! << 16) ^ (src[pos + (length >> 1)]! << 24), 0x9e37_79b1) >>> STRING_SLOT_SHIFT;
  const cached = strings[slot];
  if (cached !== undefined && cached.length === length && sameAscii(cached, pos)) {
    pos = end;
    return cached;
  }
  for (let i = pos; i < end; i++) if (src[i]! >= 0x80) throw UNSUPPORTED;
  let text = '';
  for (let i = pos; i < end; i++) text += String.fromCharCode(src[i]!);
  pos = end;
  text = internalized(text);
  strings[slot] = text;
  return text;
}

function sameAscii(text: string, at: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== src[at + i]) return false;
  return true;
}

/** The same string as V8's internalized copy (what a property key is stored as). */
function internalized(text: string): string {
  const holder: Record<string, true> = {};
  holder[text] = true;
  return Object.keys(holder)[0] ?? text;
}

function readMap(entries: number, depth: number): Record<string, unknown> {
  // Every entry is at least two bytes.
  if (entries > (src.byteLength - pos) / 2 || depth >= NESTING_MAX) throw UNSUPPORTED;
  const map: Record<string, unknown> = {};
  let previousStart = -1;
  let previousLength = -1;
  for (let i = 0; i < entries; i++) {
    if (pos >= src.byteLength) throw UNSUPPORTED;
    const initial = src[pos]!;
    pos += 1;
    if (initial >> 5 !== 3) throw UNSUPPORTED; // keys are text strings in DAG-CBOR
    const length = readArgument(initial & 0x1f);
    const start = pos;
    const key = readString(length);
    // Canonical order: shorter keys first, equal lengths bytewise; strictly increasing, so a
    // repeated key (which @ipld/dag-cbor refuses) never gets through either.
    if (previousLength >= 0 && !keyAfter(previousStart, previousLength, start, length)) throw UNSUPPORTED;
    // A plain assignment of __proto__ would set the prototype; the reference path handles it.
    if (key === '__proto__') throw UNSUPPORTED;
    previousStart = start;
    previousLength = length;
    map[key] = readValue(depth + 1);
  }
  return map;
}

/** Whether the key bytes at `start` come strictly after those at `previousStart` in canonical order. */
function keyAfter(previousStart: number, previousLength: number, start: number, length: number): boolean {
  if (length !== previousLength) return length > previousLength;
  for (let i = 0; i < length; i++) {
    const a = src[previousStart + i]!;
    const b = src[start + i]!;
    if (a !== b) return b > a;
  }
  return false;
}

/** Tag 42's content: a byte string, 0x00, then the CID's bytes (as @ipld/dag-cbor reads it). */
function readCid(): CID {
  if (pos >= src.byteLength) throw UNSUPPORTED;
  const initial = src[pos]!;
  pos += 1;
  if (initial >> 5 !== 2) throw UNSUPPORTED;
  const length = readArgument(initial & 0x1f);
  if (length > src.byteLength - pos || length === 0 || src[pos] !== 0) throw UNSUPPORTED;
  const bytes = src.slice(pos, pos + length);
  pos += length;
  try {
    return CID.decode(bytes.subarray(1));
  } catch {
    throw UNSUPPORTED;
  }
}
