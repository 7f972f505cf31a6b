// A Bloom filter of the (namespace, key) pairs in the state database (issue 13, decision 1383).
// Most state reads on the hot path ask about a key that does not exist yet — a contract creating a
// record reads it first (the endorser's simulation), and every peer's validation re-reads each key
// of the read set to check its version (MVCC) — and each was an SQLite query. "Absent" is certain
// (no false negatives: every key the state table receives is added, at open and before each
// applied block); "maybe" falls back to the query. Deleted keys stay "maybe". Fixed size (2 MiB):
// past a few million keys the false-positive rate grows, and only the saving shrinks.
export const STATE_KEY_FILTER_BITS_LOG2 = 24;
const HASHES = 7;
const MASK = (1 << STATE_KEY_FILTER_BITS_LOG2) - 1;

/** Two independent 32-bit FNV-1a hashes of (ns, key) over UTF-16 code units, a separator between. */
function hashes(ns: string, key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  const mix = (c: number): void => {
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  };
  for (let i = 0; i < ns.length; i++) mix(ns.charCodeAt(i));
  mix(0x10000); // not a UTF-16 code unit: ("a", "bc") and ("ab", "c") differ
  for (let i = 0; i < key.length; i++) mix(key.charCodeAt(i));
  return [a >>> 0, (b >>> 0) | 1];
}

export class StateKeyFilter {
  private readonly bits = new Uint32Array((1 << STATE_KEY_FILTER_BITS_LOG2) / 32);

  add(ns: string, key: string): void {
    const [h1, h2] = hashes(ns, key);
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & MASK;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  /** False only when (ns, key) was certainly never added. */
  mayContain(ns: string, key: string): boolean {
    const [h1, h2] = hashes(ns, key);
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & MASK;
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}
