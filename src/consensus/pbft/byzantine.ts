// ByzantineSupport for PBFT: how the simulator plays a Byzantine replica. The Byzantine node runs
// the real engine and tampers with what it sends; every tampered message carries a valid
// signature of that node (it holds its own key), so correct replicas must reject it on content
// (wrong view, out-of-window sequence number, inconsistent digest, conflicting pre-prepare) and
// never merely on a bad signature.
import type { Bytes } from '../../codec/index.ts';
import type { Signer } from '../../crypto/index.ts';
import type { ByzantineSupport, Proposal, Rng } from '../engine.ts';
import { batchDigest } from '../digest.ts';
import { signingBytes, type PbftMessage, type Signed } from './messages.ts';

export function resignAs<T extends Signed>(message: T, signer: Signer): T {
  const unsigned = { ...message, replica: signer.id };
  return { ...unsigned, sig: signer.sign(signingBytes(unsigned)) };
}

function flipByte(bytes: Bytes, rng: Rng): Bytes {
  const out = new Uint8Array(bytes);
  const i = out.byteLength === 0 ? 0 : rng.nextInt(out.byteLength);
  if (out.byteLength > 0) out[i] = (out[i]! ^ (1 + rng.nextInt(255))) & 0xff;
  return out;
}

/** A different batch made only of the real proposals (a Byzantine primary cannot forge client data). */
function conflictingBatch(batch: readonly Proposal[], rng: Rng): Proposal[] | null {
  if (batch.length === 0) return null;
  if (batch.length === 1) return [];
  if (rng.nextInt(2) === 0) return [...batch].reverse();
  const drop = rng.nextInt(batch.length);
  return batch.filter((_, i) => i !== drop);
}

export const pbftByzantine: ByzantineSupport<PbftMessage> = {
  resign(message, signer) {
    return resignAs(message, signer);
  },

  equivocate(message, rng, signer) {
    if (message.type !== 'pbft/pre-prepare') return null;
    const batch = conflictingBatch(message.batch, rng);
    if (batch === null) return null;
    return resignAs({ ...message, batch, digest: batchDigest(batch) }, signer);
  },

  mutate(message, rng, signer) {
    switch (message.type) {
      case 'pbft/pre-prepare':
      case 'pbft/prepare':
      case 'pbft/commit': {
        const choice = rng.nextInt(3);
        if (choice === 0) return resignAs({ ...message, view: message.view + 1 }, signer);
        if (choice === 1) return resignAs({ ...message, seq: message.seq + 1 }, signer);
        return resignAs({ ...message, digest: flipByte(message.digest, rng) }, signer);
      }
      case 'pbft/checkpoint':
        return rng.nextInt(2) === 0
          ? resignAs({ ...message, seq: message.seq + 1 }, signer)
          : resignAs({ ...message, stateDigest: flipByte(message.stateDigest, rng) }, signer);
      case 'pbft/view-change':
        return resignAs({ ...message, view: message.view + 1 }, signer);
      case 'pbft/new-view':
        return resignAs({ ...message, view: message.view + 1 }, signer);
      case 'pbft/status':
        return resignAs({ ...message, executedSeq: message.executedSeq + 1 }, signer);
      case 'pbft/commit-cert':
        return rng.nextInt(2) === 0
          ? resignAs({ ...message, seq: message.seq + 1 }, signer)
          : resignAs({ ...message, digest: flipByte(message.digest, rng) }, signer);
      case 'pbft/state':
        return resignAs({ ...message, dedup: flipByte(message.dedup, rng) }, signer);
      case 'pbft/request':
        return null;
    }
  },
};
