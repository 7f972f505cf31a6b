// A Bloom filter of the txIds in the txId index (issue 13). Most txId lookups ask about a
// transaction that is NOT committed yet — the gateway before broadcasting, the orderer at
// admission, the endorser, every peer's duplicate check — and each was an SQLite query. A txId
// is the hex SHA-256 of (nonce ‖ creator) (validation rejects any other), so its own digits are
// uniformly distributed hash values: the filter takes HASHES 24-bit slices of it as bit indexes.
// "Absent" is certain (no false negatives: every txId the index receives is added, at open and
// at each applied block); "maybe" falls back to the query. Fixed size (2 MiB): past a few
// million txIds the false-positive rate grows, and only the saving shrinks.
export const TXID_FILTER_BITS_LOG2 = 24;
const HASHES = 7;
const HEX_DIGITS_PER_HASH = TXID_FILTER_BITS_LOG2 / 4;
const TXID = /^[0-9a-f]{64}$/;

export class TxIdFilter {
  private readonly bits = new Uint32Array((1 << TXID_FILTER_BITS_LOG2) / 32);

  /** Bit indexes of a txId, or null when it is not 64 lowercase hex digits (never filtered). */
  private static indexes(txId: string): number[] | null {
    if (txId.length !== 64 || !TXID.test(txId)) return null;
    const out: number[] = [];
    for (let i = 0; i < HASHES; i++) out.push(parseInt(txId.slice(i * HEX_DIGITS_PER_HASH, (i + 1) * HEX_DIGITS_PER_HASH), 16));
    return out;
  }

  add(txId: string): void {
    const idx = TxIdFilter.indexes(txId);
    if (idx === null) return; // such a txId is never answered "absent" either
    for (const i of idx) this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  /** False only when the txId was certainly never added. */
  mayContain(txId: string): boolean {
    const idx = TxIdFilter.indexes(txId);
    if (idx === null) return true;
    for (const i of idx) if ((this.bits[i >>> 5]! & (1 << (i & 31))) === 0) return false;
    return true;
  }
}
