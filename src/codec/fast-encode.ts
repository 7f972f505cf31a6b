// A DAG-CBOR encoder for the values MedLedger encodes all the time (decision 1410): the same
// bytes as @ipld/dag-cbor, written straight into one reused buffer. @ipld/dag-cbor (through
// cborg) builds a token per map key, sorts tokens, checks every value against its type
// encoders and copies chunks; on a Raft round that was about a third of the engines' CPU.
//
// It covers the IPLD data model as MedLedger uses it: null, booleans, numbers (safe integers in
// their shortest form, every other finite number as a 64-bit float, as DAG-CBOR wants), strings,
// byte arrays (Buffer too), arrays, plain objects (keys sorted length-first, then bytewise, on
// their UTF-8 bytes) and CIDs (tag 42). For anything else — undefined, NaN, a Map, a class
// instance, a bigint, a cycle, nesting deeper than NESTING_MAX — it answers `null` and the caller
// hands the whole value to @ipld/dag-cbor, which encodes it or throws its own error: the bytes
// and the errors of the two never differ (codec/fast-encode.test.ts checks them against each
// other on random values).
import { CID } from 'multiformats/cid';

/** Deeper values go to the reference encoder (which also finds cycles). */
const NESTING_MAX = 256;
/** The buffer grows as needed; one bigger than this is dropped after use, not kept. */
const KEPT_BUFFER_BYTES_MAX = 1024 * 1024;
/** Map keys whose encoding is remembered (a key is a field name: a few hundred in all). */
const KEY_CACHE_ENTRIES_MAX = 4096;
const KEY_CACHE_KEY_LENGTH_MAX = 64;
/** Object shapes (key lists) whose sorted order is remembered, and the longest one kept. */
const SHAPE_CACHE_ENTRIES_MAX = 4096;
const SHAPE_KEYS_MAX = 32;
/** Shapes kept per first key: a dictionary keyed by data (ids) must not make lookups slow. */
const SHAPES_PER_FIRST_KEY_MAX = 8;
/** Strings up to this length are converted by hand; longer ones by TextEncoder. */
const SHORT_STRING_LENGTH_MAX = 64;
const SHORT_COPY_BYTES_MAX = 48;

const MAJOR_UINT = 0x00;
const MAJOR_NEGINT = 0x20;
const MAJOR_BYTES = 0x40;
const MAJOR_STRING = 0x60;
const MAJOR_ARRAY = 0x80;
const MAJOR_MAP = 0xa0;
const CID_TAG = [0xd8, 42] as const;
const FALSE = 0xf4;
const TRUE = 0xf5;
const NULL = 0xf6;
const FLOAT64 = 0xfb;

/** Why the fast path gave up: the value is handed to the reference encoder. */
class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported();

interface EncodedKey {
  /** Header and UTF-8 bytes of the key as a CBOR text string. */
  readonly bytes: Uint8Array;
  /** UTF-8 byte length: the first sort criterion. */
  readonly length: number;
  /** Only ASCII: then JavaScript's string order is the byte order. */
  readonly ascii: boolean;
  readonly key: string;
}

const textEncoder = new TextEncoder();
const keyCache = new Map<string, EncodedKey>();
const shapeCache = new Map<string, Shape[]>();
let shapeCount = 0;
let buffer = new Uint8Array(64 * 1024);
let view = new DataView(buffer.buffer);
let position = 0;
let busy = false;

/**
 * The canonical DAG-CBOR bytes of `value`, or null when the value is outside what this encoder
 * covers (the caller then uses @ipld/dag-cbor). A fresh array: the caller may keep it.
 */
export function fastEncode(value: unknown): Uint8Array | null {
  // Re-entered (a getter that encodes): leave it to the reference encoder.
  if (busy) return null;
  busy = true;
  position = 0;
  try {
    writeValue(value, 0);
    return buffer.slice(0, position);
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  } finally {
    busy = false;
    if (buffer.byteLength > KEPT_BUFFER_BYTES_MAX) {
      buffer = new Uint8Array(64 * 1024);
      view = new DataView(buffer.buffer);
    }
  }
}

function ensure(bytes: number): void {
  const needed = position + bytes;
  if (needed <= buffer.byteLength) return;
  let size = buffer.byteLength * 2;
  while (size < needed) size *= 2;
  const grown = new Uint8Array(size);
  grown.set(buffer.subarray(0, position));
  buffer = grown;
  view = new DataView(buffer.buffer);
}

/** Raw bytes at the position; short ones by hand (TypedArray.set costs more than the copy). */
function writeBytes(bytes: Uint8Array): void {
  const length = bytes.byteLength;
  ensure(length);
  if (length <= SHORT_COPY_BYTES_MAX) {
    for (let i = 0; i < length; i++) buffer[position + i] = bytes[i]!;
  } else {
    buffer.set(bytes, position);
  }
  position += length;
}

/** A CBOR head: major type and argument, the argument in its shortest form. */
function writeHead(major: number, argument: number): void {
  ensure(9);
  if (argument < 24) {
    buffer[position++] = major | argument;
  } else if (argument < 0x100) {
    buffer[position++] = major | 24;
    buffer[position++] = argument;
  } else if (argument < 0x10000) {
    buffer[position++] = major | 25;
    view.setUint16(position, argument);
    position += 2;
  } else if (argument < 0x100000000) {
    buffer[position++] = major | 26;
    view.setUint32(position, argument);
    position += 4;
  } else {
    buffer[position++] = major | 27;
    view.setUint32(position, Math.floor(argument / 0x100000000));
    view.setUint32(position + 4, argument >>> 0);
    position += 8;
  }
}

function writeValue(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      writeString(value);
      return;
    case 'number':
      writeNumber(value);
      return;
    case 'boolean':
      ensure(1);
      buffer[position++] = value ? TRUE : FALSE;
      return;
    case 'object':
      break;
    default:
      // undefined, bigint, symbol, function: the reference encoder's business.
      throw UNSUPPORTED;
  }
  if (value === null) {
    ensure(1);
    buffer[position++] = NULL;
    return;
  }
  if (depth >= NESTING_MAX) throw UNSUPPORTED;
  if (value instanceof Uint8Array) {
    writeHead(MAJOR_BYTES, value.byteLength);
    writeBytes(value);
    return;
  }
  if (Array.isArray(value)) {
    writeHead(MAJOR_ARRAY, value.length);
    for (let i = 0; i < value.length; i++) writeValue(value[i], depth + 1);
    return;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === Object.prototype || prototype === null) {
    writeMap(value as Record<string, unknown>, depth);
    return;
  }
  if (value instanceof CID) {
    writeCid(value);
    return;
  }
  throw UNSUPPORTED;
}

function writeNumber(value: number): void {
  if (Number.isSafeInteger(value)) {
    // -0 is a safe integer and is written as 0, as cborg writes it.
    if (value >= 0) writeHead(MAJOR_UINT, value);
    else writeHead(MAJOR_NEGINT, -value - 1);
    return;
  }
  // NaN and ±Infinity are outside the data model; the reference encoder names them.
  if (!Number.isFinite(value)) throw UNSUPPORTED;
  ensure(9);
  buffer[position++] = FLOAT64;
  view.setFloat64(position, value);
  position += 8;
}

function writeString(value: string): void {
  if (value.length > SHORT_STRING_LENGTH_MAX) {
    const bytes = textEncoder.encode(value);
    writeHead(MAJOR_STRING, bytes.byteLength);
    writeBytes(bytes);
    return;
  }
  writeHead(MAJOR_STRING, utf8Length(value));
  ensure(value.length * 3);
  position = writeUtf8(value, buffer, position);
}

/** UTF-8 length as TextEncoder counts it: an unpaired surrogate becomes U+FFFD (3 bytes). */
function utf8Length(value: string): number {
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < value.length && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 4;
      i += 1;
    } else length += 3;
  }
  return length;
}

/** Writes UTF-8 as TextEncoder does; returns the position after it. */
function writeUtf8(value: string, out: Uint8Array, at: number): number {
  let p = at;
  for (let i = 0; i < value.length; i++) {
    let c = value.charCodeAt(i);
    if (c < 0x80) {
      out[p++] = c;
    } else if (c < 0x800) {
      out[p++] = (c >> 6) | 0xc0;
      out[p++] = (c & 0x3f) | 0x80;
    } else if ((c & 0xfc00) === 0xd800 && i + 1 < value.length && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c & 0x3ff) << 10) + (value.charCodeAt(++i) & 0x3ff);
      out[p++] = (c >> 18) | 0xf0;
      out[p++] = ((c >> 12) & 0x3f) | 0x80;
      out[p++] = ((c >> 6) & 0x3f) | 0x80;
      out[p++] = (c & 0x3f) | 0x80;
    } else {
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      out[p++] = (c >> 12) | 0xe0;
      out[p++] = ((c >> 6) & 0x3f) | 0x80;
      out[p++] = (c & 0x3f) | 0x80;
    }
  }
  return p;
}

function encodedKey(key: string): EncodedKey {
  const cached = keyCache.get(key);
  if (cached) return cached;
  // The key's head and bytes, written by the encoder itself past the output and copied out.
  const start = position;
  writeString(key);
  const bytes = buffer.slice(start, position);
  position = start;
  const info = bytes[0]! & 0x1f;
  const length = bytes.byteLength - (info < 24 ? 1 : info === 24 ? 2 : info === 25 ? 3 : 5);
  const encoded: EncodedKey = { bytes, length, ascii: length === key.length, key };
  if (key.length <= KEY_CACHE_KEY_LENGTH_MAX && keyCache.size < KEY_CACHE_ENTRIES_MAX) keyCache.set(key, encoded);
  return encoded;
}

/** DAG-CBOR's map order: shorter UTF-8 first, then bytewise (ties keep their order, as cborg's sort). */
function compareKeys(a: EncodedKey, b: EncodedKey): number {
  if (a.length !== b.length) return a.length - b.length;
  if (a.ascii && b.ascii) return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  const x = a.bytes;
  const y = b.bytes;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

/** The sorted keys of one object shape (its own keys in creation order). */
interface Shape {
  readonly names: readonly string[];
  readonly sorted: readonly EncodedKey[];
}

function shapeOf(names: readonly string[]): Shape | null {
  // Shapes are found by their first key, then compared name by name: Object.keys gives
  // internalized strings, so that is a pointer comparison per key, and no sort per object.
  const first = names.length === 0 ? '' : names[0]!;
  const candidates = shapeCache.get(first);
  if (candidates) {
    for (const shape of candidates) {
      if (shape.names.length !== names.length) continue;
      let same = true;
      for (let i = 1; i < names.length; i++) {
        if (shape.names[i] !== names[i]) {
          same = false;
          break;
        }
      }
      if (same) return shape;
    }
  }
  const sorted: EncodedKey[] = new Array<EncodedKey>(names.length);
  for (let i = 0; i < names.length; i++) {
    // A plain object with these keys may be taken for a CID by @ipld/dag-cbor: its business.
    if (names[i] === '/' || names[i] === 'asCID') return null;
    const key = encodedKey(names[i]!);
    // Insertion sort: objects have a handful of keys, often already in order.
    let j = i;
    while (j > 0 && compareKeys(sorted[j - 1]!, key) > 0) {
      sorted[j] = sorted[j - 1]!;
      j -= 1;
    }
    sorted[j] = key;
  }
  const shape: Shape = { names: names.slice(), sorted };
  if (shapeCount < SHAPE_CACHE_ENTRIES_MAX && names.length <= SHAPE_KEYS_MAX && (candidates?.length ?? 0) < SHAPES_PER_FIRST_KEY_MAX) {
    shapeCount += 1;
    if (candidates) candidates.push(shape);
    else shapeCache.set(first, [shape]);
  }
  return shape;
}

function writeMap(value: Record<string, unknown>, depth: number): void {
  const shape = shapeOf(Object.keys(value));
  if (shape === null) throw UNSUPPORTED;
  const keys = shape.sorted;
  writeHead(MAJOR_MAP, keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    writeBytes(key.bytes);
    writeValue(value[key.key], depth + 1);
  }
}

function writeCid(cid: CID): void {
  const bytes = cid.bytes;
  ensure(2);
  buffer[position++] = CID_TAG[0];
  buffer[position++] = CID_TAG[1];
  // The tag's byte string is the CID's bytes behind a 0x00 (DAG-CBOR's historical prefix).
  writeHead(MAJOR_BYTES, bytes.byteLength + 1);
  ensure(1);
  buffer[position++] = 0;
  writeBytes(bytes);
}
