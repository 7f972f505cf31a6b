// Which payload ids a bench orderer has decided, to count duplicates exactly in bounded memory.
// The closed loop's ids (closed-loop.ts) are an 8-byte prefix — the run's tag and the level — and
// an 8-byte counter: one bitset per prefix, grown by doubling, holds a bit per counter value. A Set
// of id strings cost ~80 bytes per payload and grew without limit (tens of millions of payloads in
// an hour at 1,000 in flight). An id outside that scheme — a counter at or above SEEN_INDEX_MAX, or
// a prefix beyond SEEN_PREFIXES_MAX — is counted as unchecked, never silently taken as new.
import type { Bytes } from '../codec/index.ts';

/** Counter values tracked per prefix: a bitset of at most 16 MiB. */
export const SEEN_INDEX_MAX = 2 ** 27;
/** Prefixes tracked (one per level and run). */
export const SEEN_PREFIXES_MAX = 256;
const PREFIX_BYTES = 8;
const ID_BYTES = 16;
const BITSET_BYTES_MIN = 1024;

export class SeenIds {
  private readonly bitsets = new Map<string, Uint8Array>();
  /** Ids that could not be checked (outside the scheme or its limits). */
  unchecked = 0;

  /** Records the id at the start of `payload`; true when it was decided before. */
  seenBefore(payload: Bytes): boolean {
    if (payload.byteLength < ID_BYTES) {
      this.unchecked += 1;
      return false;
    }
    const view = new DataView(payload.buffer, payload.byteOffset, ID_BYTES);
    // The counter is 8 bytes; only values below SEEN_INDEX_MAX (< 2^32) are tracked.
    const index = view.getUint32(PREFIX_BYTES + 4);
    if (view.getUint32(PREFIX_BYTES) !== 0 || index >= SEEN_INDEX_MAX) {
      this.unchecked += 1;
      return false;
    }
    const prefix = Buffer.from(payload.buffer, payload.byteOffset, PREFIX_BYTES).toString('hex');
    let bits = this.bitsets.get(prefix);
    if (bits === undefined) {
      if (this.bitsets.size >= SEEN_PREFIXES_MAX) {
        this.unchecked += 1;
        return false;
      }
      bits = new Uint8Array(BITSET_BYTES_MIN);
      this.bitsets.set(prefix, bits);
    }
    const byte = index >>> 3;
    if (byte >= bits.byteLength) {
      let size = bits.byteLength;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(bits);
      bits = grown;
      this.bitsets.set(prefix, bits);
    }
    const mask = 1 << (index & 7);
    if ((bits[byte]! & mask) !== 0) return true;
    bits[byte] = bits[byte]! | mask;
    return false;
  }
}
