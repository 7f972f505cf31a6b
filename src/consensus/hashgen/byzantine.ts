// What a Byzantine hash-generator node can do with its own key (the simulator's and the scenario
// scripts' hooks): re-sign what it altered, so only the protocol can reject it.
import type { Signer } from '../../crypto/index.ts';
import type { ByzantineSupport, Proposal, Rng } from '../engine.ts';
import { signedBody, type HgMessage } from './messages.ts';
import { voteBytes } from './rules.ts';

/** Re-sign as `signer`, taking over the identity fields (a Byzantine node signs with its own key). */
function resign(m: HgMessage, signer: Signer): HgMessage {
  const id = signer.id;
  switch (m.type) {
    case 'hashgen/validate':
    case 'hashgen/commit':
      return { ...m, voter: id, sig: signer.sign(voteBytes(m.type === 'hashgen/validate' ? 'validate' : 'commit', m.epoch, m.height, m.digest)) };
    case 'hashgen/select': {
      const b = { ...m, cams: id };
      return { ...b, sig: signer.sign(signedBody(b)) };
    }
    case 'hashgen/suspect':
    case 'hashgen/auth-vote': {
      const b = { ...m, voter: id };
      return { ...b, sig: signer.sign(signedBody(b)) };
    }
    case 'hashgen/auth-req': {
      const b = { ...m, candidate: id };
      return { ...b, sig: signer.sign(signedBody(b)) };
    }
    case 'hashgen/block':
    case 'hashgen/seal':
    case 'hashgen/heartbeat': {
      const b = { ...m, generator: id };
      return { ...b, sig: signer.sign(signedBody(b)) };
    }
    default:
      return m;
  }
}

function flipped(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = new Uint8Array(bytes);
  if (out.length > 0) {
    const i = rng.nextInt(out.length);
    out[i] = (out[i] ?? 0) ^ 0x01;
  }
  return out;
}

/**
 * A conflicting batch built only from the genuine proposals (reordered, or one dropped): invented
 * payloads would test the missing client authentication, not the protocol (decision 0304).
 */
function variantBatch(proposals: readonly Proposal[], rng: Rng): Proposal[] | null {
  if (proposals.length === 0) return null;
  if (proposals.length === 1) return []; // an empty block: validators reject it as invalid
  if (rng.nextInt(2) === 0) return [...proposals].reverse();
  const drop = rng.nextInt(proposals.length);
  return proposals.filter((_, i) => i !== drop);
}

export const hashgenByzantine: ByzantineSupport<HgMessage> = {
  resign,
  /** A conflicting block (or seal) for the same epoch and height. */
  equivocate(m, rng, signer) {
    if (m.type === 'hashgen/block' || m.type === 'hashgen/seal') {
      const proposals = variantBatch(m.proposals, rng);
      return proposals === null ? null : resign({ ...m, proposals }, signer);
    }
    if (m.type === 'hashgen/validate' || m.type === 'hashgen/commit') return resign({ ...m, digest: flipped(m.digest, rng) }, signer);
    return null;
  },
  /** A lock reported in an authentication vote without its block (the proposals are not signed). */
  conceal(m) {
    return m.type === 'hashgen/auth-vote' && m.report !== null && m.proposals.length > 0 ? { ...m, proposals: [] } : null;
  },
  /** Off by one in the epoch or height, or a wrong digest / previous digest. */
  mutate(m, rng, signer) {
    const delta = rng.nextInt(2) === 0 ? 1 : -1;
    switch (m.type) {
      case 'hashgen/block':
      case 'hashgen/seal':
        return rng.nextInt(2) === 0 ? resign({ ...m, height: Math.max(1, m.height + delta) }, signer) : resign({ ...m, prev: flipped(m.prev, rng) }, signer);
      case 'hashgen/validate':
      case 'hashgen/commit':
        return rng.nextInt(2) === 0 ? resign({ ...m, epoch: Math.max(1, m.epoch + delta) }, signer) : resign({ ...m, digest: flipped(m.digest, rng) }, signer);
      case 'hashgen/auth-req':
      case 'hashgen/auth-vote':
      case 'hashgen/heartbeat':
        return resign({ ...m, epoch: Math.max(1, m.epoch + delta), height: Math.max(0, m.height + delta) }, signer);
      default:
        return null;
    }
  },
};
