// Counting signatures against a quorum, written once for every engine (issue 14 §2).
//
// A certificate — a block's commit signatures, a group's endorsement, a prepared proof carried in a
// view change — is evidence assembled by one node from other nodes' votes. The rule here:
//
//   at most one signature per eligible signer, no more signatures than eligible signers, every
//   signature valid, and at least `quorum` of them; anything else rejects the whole certificate.
//
// Why reject rather than skip the bad entries (pbft and ehbft used to reject, gpbft and hashgen to
// skip): a correct assembler verified each vote before adding it and keeps one per signer, so a
// duplicate, an ineligible signer or an invalid signature proves the assembler faulty (or the bytes
// corrupted) — its evidence is not trusted, whatever else it contains. Rejecting is also what bounds
// the work: at most `eligible` verifications, stopping at the first flaw, where skipping would verify
// every padded entry. Safety is the same either way (distinct valid signers ≥ quorum); liveness
// does not suffer because a correct node never produces such a certificate, and the protocols
// already replace a faulty primary/leader that sends only bad evidence (campaigns in sim/ check it).
import type { Bytes } from '../codec/index.ts';
import type { SignatureVerifier } from '../crypto/index.ts';
import { assertInvariant, type CertificateSignature, type NodeId } from './engine.ts';

/** Why a set of signatures does not prove a quorum. */
export type CertificateFlaw = 'too-many-signatures' | 'not-eligible' | 'duplicate-signer' | 'bad-signature' | 'below-quorum';

export type QuorumSignatureCheck =
  { readonly ok: true; readonly signers: readonly NodeId[] } | { readonly ok: false; readonly flaw: CertificateFlaw; readonly signer?: NodeId };

export interface QuorumSignatureRule {
  /** Who may sign, in any order. */
  readonly eligible: readonly NodeId[] | ReadonlySet<NodeId>;
  /** Distinct valid signers needed. */
  readonly quorum: number;
  /**
   * What each signer signed: bytes when every signer signed the same statement; a function of the
   * signer and the signature's position when the statement binds the signer (PBFT's COMMIT names
   * its replica) or each vote carries its own fields.
   */
  readonly statement: Bytes | ((signer: NodeId, index: number) => Bytes);
}

/**
 * Check `signatures` against `rule` (see the file comment for the rule and why). Never throws on
 * bad input; a quorum larger than the eligible set is a bug of the caller and is asserted.
 */
export function checkQuorumSignatures(
  signatures: readonly CertificateSignature[],
  rule: QuorumSignatureRule,
  verifier: SignatureVerifier,
): QuorumSignatureCheck {
  const eligible: ReadonlySet<NodeId> = rule.eligible instanceof Set ? rule.eligible : new Set(rule.eligible as readonly NodeId[]);
  assertInvariant(
    Number.isSafeInteger(rule.quorum) && rule.quorum >= 1 && rule.quorum <= eligible.size,
    `a quorum is between 1 and the ${eligible.size} eligible signers (got ${rule.quorum})`,
  );
  if (!Array.isArray(signatures) || signatures.length > eligible.size) return { ok: false, flaw: 'too-many-signatures' };
  const signers: NodeId[] = [];
  const seen = new Set<NodeId>();
  for (const [index, s] of signatures.entries()) {
    const signer: unknown = s?.nodeId;
    if (typeof signer !== 'string' || !eligible.has(signer)) return { ok: false, flaw: 'not-eligible' };
    if (seen.has(signer)) return { ok: false, flaw: 'duplicate-signer', signer };
    seen.add(signer);
    const statement = typeof rule.statement === 'function' ? rule.statement(signer, index) : rule.statement;
    if (!(s.signature instanceof Uint8Array) || !verifier.verify(signer, statement, s.signature)) {
      return { ok: false, flaw: 'bad-signature', signer };
    }
    signers.push(signer);
  }
  if (signers.length < rule.quorum) return { ok: false, flaw: 'below-quorum' };
  return { ok: true, signers };
}

/** Whether `signatures` prove a quorum under `rule` (checkQuorumSignatures without the reason). */
export function hasQuorumSignatures(signatures: readonly CertificateSignature[], rule: QuorumSignatureRule, verifier: SignatureVerifier): boolean {
  return checkQuorumSignatures(signatures, rule, verifier).ok;
}
