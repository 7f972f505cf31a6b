// gpbft's rating check as a node gives it to the engine (decision 1281): the engine is a pure
// state machine and does no X.509, so the node injects `RatingAuthority` (engine option
// `ratingAuthority`) built on its MSP and the config in force.
import { parseCertificate } from '../crypto/x509.ts';
import { verify } from '../crypto/index.ts';
import { RATING_SIGNED_FORM, ratingSignedBytesOf, type RatingAuthority } from '../consensus/gpbft/config.ts';
import type { Bytes } from '../codec/index.ts';
import type { Msp } from '../identity/index.ts';
import type { ConsortiumConfig } from '../ledger/config.ts';

/** How far a rating's nonce (the admin's clock, ms) may be from a member's clock when it votes: as a signed API request. */
export const RATING_NONCE_WINDOW_MS = 5 * 60_000;

/**
 * `authentic` (every node, when a decided rating is applied) reads only the entry and the
 * consortium (`source.consortium`, the genesis block hash, the same on every node): the
 * certificate names the organisation, the admin and the admin role, and the signature verifies
 * with its key over the rating and this consortium (decision 1387; or decision 1281's form, for a
 * rating decided before it) — no clock, no MSP, so every node applies alike. `authorised` (before
 * voting) asks for the form that names the consortium and adds the MSP of the config in force now
 * (chain to the organisation's CA, validity, revocation); the organisation is a member, the rated
 * orderer another organisation's, and the nonce within RATING_NONCE_WINDOW_MS of this node's clock.
 */
export function gpbftRatingAuthority(source: { consortium: Bytes; config(): ConsortiumConfig; msp(): Msp; clock(): number }): RatingAuthority {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return {
    authentic: (op) => {
      try {
        const cert = parseCertificate(decoder.decode(op.by.cert));
        if (cert.subject.organization !== op.by.org || cert.subject.commonName !== op.by.admin || !cert.subject.organizationalUnits.includes('admin'))
          return false;
        return verify(cert.publicKey, ratingSignedBytesOf(op, source.consortium), op.by.signature);
      } catch {
        return false;
      }
    },
    authorised: (op) => {
      if (op.by.v !== RATING_SIGNED_FORM) return false;
      const now = source.clock();
      if (Math.abs(op.by.nonce - now) > RATING_NONCE_WINDOW_MS) return false;
      try {
        const who = source.msp().validate(decoder.decode(op.by.cert), now);
        if (who.org !== op.by.org || who.id !== op.by.admin || who.role !== 'admin') return false;
      } catch {
        return false;
      }
      const config = source.config();
      if (!config.orgs.some((o) => o.org === op.by.org)) return false;
      const rated = config.orderers.find((o) => o.id === op.id);
      return rated !== undefined && rated.org !== op.by.org;
    },
  };
}
