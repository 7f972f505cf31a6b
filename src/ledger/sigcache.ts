// A memo of signatures already verified in this process: (public key, message, signature)
// triples that verified true. ECDSA verification is deterministic, so a triple that verified
// once verifies forever — remembering it is sound (only successes are stored; a failure is
// always recomputed). It matters when several logical nodes share one process (the in-process
// network of `medledger dev` and the tests): there, N peers would otherwise verify every
// endorsement N times. Separate node processes each have their own (and gain little from it).
// Bounded: the oldest entries are evicted first.
import { createHash, type KeyObject } from 'node:crypto';
import type { Bytes } from '../codec/index.ts';
import { verify } from '../crypto/index.ts';

export type VerifyFn = (publicKey: KeyObject, message: Bytes, signature: Bytes) => boolean;

export const SIGNATURE_CACHE_ENTRIES_MAX = 200_000;

export class VerifiedSignatureCache {
  private readonly keyIds = new WeakMap<KeyObject, string>();
  private readonly entries = new Set<string>();
  hits = 0;
  misses = 0;

  constructor(private readonly entriesMax = SIGNATURE_CACHE_ENTRIES_MAX) {}

  private keyId(key: KeyObject): string {
    let id = this.keyIds.get(key);
    if (id === undefined) {
      id = createHash('sha256')
        .update(key.export({ type: 'spki', format: 'der' }))
        .digest('base64');
      this.keyIds.set(key, id);
    }
    return id;
  }

  verify: VerifyFn = (publicKey, message, signature) => {
    const entry = createHash('sha256').update(this.keyId(publicKey)).update(message).update(signature).digest('base64');
    if (this.entries.has(entry)) {
      this.hits += 1;
      return true;
    }
    this.misses += 1;
    if (!verify(publicKey, message, signature)) return false;
    if (this.entries.size >= this.entriesMax) {
      const oldest = this.entries.values().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.add(entry);
    return true;
  };
}

/** The plain verifier, for nodes that do not share a process. */
export const directVerify: VerifyFn = verify;
