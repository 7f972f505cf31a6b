// How a Byzantine EH-BFT node tampers with what it sends (the simulator's hooks). Every variant
// is re-signed with the Byzantine node's own key, so it passes signature checks and must be
// caught by the protocol itself.
import { sha256 } from '../../codec/index.ts';
import type { Signer } from '../../crypto/index.ts';
import { blockDigest } from '../digest.ts';
import type { ByzantineSupport, Rng } from '../engine.ts';
import {
  fromWire,
  metaDigestOf,
  queryStatement,
  versionStatement,
  viewChangeStatement,
  voteStatement,
  type EhbftMessage,
  type WireProposal,
} from './messages.ts';

function resign(message: EhbftMessage, signer: Signer): EhbftMessage {
  const node = signer.id;
  switch (message.type) {
    case 'ehbft/version-query':
      return { ...message, node, sig: signer.sign(queryStatement(message.view, message.height, node)) };
    case 'ehbft/version':
      return { ...message, node, sig: signer.sign(versionStatement(message.view, message.height, message.digest, message.stateDigest, node)) };
    case 'ehbft/pre-prepare': {
      const digest = blockDigest(message.height, message.prevDigest, message.proposals.map(fromWire));
      return { ...message, node, sig: signer.sign(voteStatement(1, message.view, message.height, digest, metaDigestOf(message.meta))) };
    }
    case 'ehbft/vote':
      return { ...message, node, sig: signer.sign(voteStatement(message.phase, message.view, message.height, message.digest, message.metaDigest)) };
    case 'ehbft/view-change': {
      const vc = { ...message.vc, node };
      return { ...message, vc: { ...vc, sig: signer.sign(viewChangeStatement(vc)) } };
    }
    default:
      // prepare / commit / block / blocks / fetch / forward carry no sender signature.
      return { ...message };
  }
}

/** A different but plausible batch: reversed order, or one proposal fewer. */
function otherProposals(proposals: readonly WireProposal[]): WireProposal[] {
  if (proposals.length >= 2) return [...proposals].reverse();
  return proposals.slice(0, Math.max(0, proposals.length - 1));
}

export const ehbftByzantine: ByzantineSupport<EhbftMessage> = {
  resign,

  equivocate(message, _rng, signer) {
    if (message.type === 'ehbft/pre-prepare') {
      // The conflicting block must differ in its digest, not only in its metadata, so that an
      // agreement checker comparing decided digests can see the conflict if it is ever decided.
      const proposals = otherProposals(message.proposals);
      return resign({ ...message, proposals }, signer);
    }
    if (message.type === 'ehbft/vote') {
      return resign({ ...message, digest: sha256(message.digest) }, signer);
    }
    if (message.type === 'ehbft/view-change' && message.vc.lock !== null) {
      // Tell half the nodes it holds no lock: under 'paper' quorums this lie can let a new
      // leader re-decide a height that was already decided.
      return resign({ ...message, vc: { ...message.vc, lock: null }, lockBody: null }, signer);
    }
    return null;
  },

  /** A lock reported in a view change without its block's body (the body is not signed). */
  conceal(message) {
    return message.type === 'ehbft/view-change' && message.vc.lock !== null && message.lockBody !== null ? { ...message, lockBody: null } : null;
  },

  mutate(message: EhbftMessage, rng: Rng, signer: Signer) {
    const pick = rng.nextInt(3);
    switch (message.type) {
      case 'ehbft/pre-prepare':
        if (pick === 0) return resign({ ...message, view: message.view + 1 }, signer);
        if (pick === 1) return resign({ ...message, height: message.height + 1 }, signer);
        return resign({ ...message, prevDigest: sha256(message.prevDigest) }, signer);
      case 'ehbft/vote':
        if (pick === 0) return resign({ ...message, view: message.view + 1 }, signer);
        if (pick === 1) return resign({ ...message, height: message.height + 1 }, signer);
        return resign({ ...message, digest: sha256(message.digest) }, signer);
      case 'ehbft/view-change':
        // The lie that matters is denying a lock; without one, claim a later view.
        if (message.vc.lock === null) return resign({ ...message, vc: { ...message.vc, view: message.vc.view + 1 } }, signer);
        return resign({ ...message, vc: { ...message.vc, lock: null }, lockBody: null }, signer);
      case 'ehbft/version':
        return resign({ ...message, stateDigest: sha256(message.stateDigest) }, signer);
      case 'ehbft/prepare':
      case 'ehbft/commit':
        return { ...message, cert: { ...message.cert, digest: sha256(message.cert.digest) } };
      default:
        return null;
    }
  },
};
