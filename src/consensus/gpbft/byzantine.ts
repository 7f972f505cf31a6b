// What a Byzantine gpbft node can do with its own key (the simulator's and the scenario scripts'
// equivocate / mutate hooks): re-sign a message it altered so that only the protocol, not the
// signature check, can reject it.
import { bytesEqual, encode, type Bytes } from '../../codec/index.ts';
import type { Signer } from '../../crypto/index.ts';
import type { ByzantineSupport, Rng } from '../engine.ts';
import { commit1Bytes, contentDigest, newViewBytes, statementBytes, viewChangeBytes, type GpbftMessage } from './messages.ts';

export function resignMessage(m: GpbftMessage, signer: Signer): GpbftMessage {
  switch (m.type) {
    case 'gpbft/commit1':
      return { ...m, signature: signer.sign(commit1Bytes(m.view, m.group, m.seq, m.digest)) };
    case 'gpbft/pre-prepare2':
      return { ...m, signature: signer.sign(statementBytes('pp2', m.view, m.height, contentDigest(m.digest, m.evidence))) };
    case 'gpbft/prepare2':
      return { ...m, signature: signer.sign(statementBytes('prepare2', m.view, m.height, m.content)) };
    case 'gpbft/commit2':
      return { ...m, signature: signer.sign(statementBytes('commit2', m.view, m.height, m.content)) };
    case 'gpbft/view-change': {
      const unsigned = { ...m.vc, node: signer.id };
      return { type: 'gpbft/view-change', vc: { ...unsigned, signature: signer.sign(viewChangeBytes(unsigned)) } };
    }
    case 'gpbft/new-view':
      return { ...m, signature: signer.sign(newViewBytes(m.view, m.height, m.viewChanges)) };
    default:
      return m;
  }
}

function flipped(bytes: Bytes, rng: Rng): Bytes {
  const out = new Uint8Array(bytes);
  if (out.length > 0) {
    const i = rng.nextInt(out.length);
    out[i] = out[i]! ^ (1 + rng.nextInt(255));
  }
  return out;
}

export const gpbftByzantine: ByzantineSupport<GpbftMessage> = {
  resign: resignMessage,
  equivocate(m, rng, signer) {
    switch (m.type) {
      case 'gpbft/pre-prepare1': {
        if (m.proposals.length < 2) return null;
        return { ...m, proposals: m.proposals.slice(0, m.proposals.length - 1 - rng.nextInt(m.proposals.length - 1)) };
      }
      case 'gpbft/pre-prepare2': {
        // The head can only order endorsed batches; the conflicting variant drops the evidence.
        const evidence = encode([]);
        if (bytesEqual(evidence, m.evidence)) return null;
        return resignMessage({ ...m, evidence }, signer);
      }
      case 'gpbft/prepare2':
      case 'gpbft/commit2':
        return resignMessage({ ...m, content: flipped(m.content, rng) }, signer);
      default:
        return null;
    }
  },
  mutate(m, rng, signer) {
    switch (m.type) {
      case 'gpbft/pre-prepare1':
      case 'gpbft/prepare1':
      case 'gpbft/commit1':
        return resignMessage(rng.nextInt(2) === 0 ? { ...m, view: m.view + 1 } : { ...m, seq: m.seq + 1 }, signer);
      case 'gpbft/pre-prepare2':
        return resignMessage(rng.nextInt(2) === 0 ? { ...m, height: m.height + 1 } : { ...m, digest: flipped(m.digest, rng) }, signer);
      case 'gpbft/prepare2':
      case 'gpbft/commit2':
        return resignMessage(rng.nextInt(2) === 0 ? { ...m, view: m.view + 1 } : { ...m, content: flipped(m.content, rng) }, signer);
      case 'gpbft/view-change':
        return resignMessage({ type: 'gpbft/view-change', vc: { ...m.vc, height: m.vc.height + 1 } }, signer);
      case 'gpbft/sync':
        return { ...m, height: m.height + 1 + rng.nextInt(3) };
      default:
        return null;
    }
  },
};
