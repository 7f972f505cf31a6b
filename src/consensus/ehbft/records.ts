// "The current records" the EH-BFT leader checks each proposal against (no double insert /
// double spend). The engine orders opaque bytes, so what counts as a record is a hook:
// `recordKey(data)` returns the key a proposal inserts, or null when it inserts nothing that must
// be unique. The default convention (decision 0703): a proposal whose data is the DAG-CBOR
// encoding of a map with a string field `insert` inserts that key; anything else is not checked.
import { decode, type Bytes } from '../../codec/index.ts';

export type RecordKeyFn = (data: Bytes) => string | null;

const KEY_CHARS_MAX = 1024;

export function defaultRecordKey(data: Bytes): string | null {
  // Cheap pre-check: a DAG-CBOR map starts with major type 5 (0xa0..0xbf).
  if (data.byteLength === 0 || (data[0]! & 0xe0) !== 0xa0) return null;
  let value: unknown;
  try {
    value = decode(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return null;
  const key = (value as Record<string, unknown>).insert;
  return typeof key === 'string' && key.length >= 1 && key.length <= KEY_CHARS_MAX ? key : null;
}

/**
 * The set of keys inserted by decided proposals, bounded: beyond `keysMax` the oldest keys are
 * forgotten (a re-insert of a key that old is no longer caught; the ledger's own duplicate checks
 * still apply). Deterministic: every node forgets the same keys at the same height.
 */
export class RecordSet {
  private readonly keys = new Set<string>();

  constructor(readonly keysMax: number) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    if (this.keys.has(key)) return;
    this.keys.add(key);
    if (this.keys.size > this.keysMax) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
  }

  get size(): number {
    return this.keys.size;
  }

  toArray(): string[] {
    return [...this.keys];
  }

  static from(keys: readonly string[], keysMax: number): RecordSet {
    const s = new RecordSet(keysMax);
    for (const k of keys) s.add(k);
    return s;
  }
}
