// The node's rating check for gpbft (decision 1281) with real certificates: what every member
// verifies before voting for a rating (authorised) and when applying one (authentic).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { utf8 } from '../codec/index.ts';
import { legacyRateSignedBytes, rateSignedBytes, RATING_SIGNED_FORM, type RateOp, type RatingAuth } from '../consensus/gpbft/config.ts';
import { parsePrivateKey, sign } from '../crypto/index.ts';
import { Msp, type Consortium } from '../identity/index.ts';
import type { ConsortiumConfig } from '../ledger/config.ts';
import { gpbftRatingAuthority, RATING_NONCE_WINDOW_MS } from './gpbft-rating.ts';
import { createDevConsortium, DEFAULT_ORDERING } from './inprocess.ts';

const orgs = ['Hospital1', 'Hospital2', 'Hospital3'];
const NOW_MS = Date.now();
/** This consortium's genesis block hash, and another consortium's (decision 1387). */
const CONSORTIUM = new Uint8Array(32).fill(1);
const OTHER_CONSORTIUM = new Uint8Array(32).fill(2);

describe('gpbft rating authority (decision 1281)', () => {
  let consortium: Consortium;
  let config: ConsortiumConfig;
  let msp: Msp;
  before(async () => {
    consortium = await createDevConsortium(orgs);
    config = {
      name: 'rating-test',
      createdAtMs: NOW_MS,
      rootCertPem: consortium.mspConfig.rootCertPem,
      orgs: consortium.mspConfig.orgs,
      orderers: orgs.map((org) => ({ id: `node.${org}`, org, certPem: consortium.nodes.get(org)!.certPem })),
      contracts: [],
      ordering: { ...DEFAULT_ORDERING, engine: 'gpbft' },
    };
    msp = new Msp(consortium.mspConfig);
  });
  const authority = (over: { config?: ConsortiumConfig; clockMs?: number } = {}) =>
    gpbftRatingAuthority({ consortium: CONSORTIUM, config: () => over.config ?? config, msp: () => msp, clock: () => over.clockMs ?? NOW_MS });
  const user = (org: string, cn: string) => consortium.users.find((u) => u.org === org && u.commonName === cn)!;
  /** A rating of `id` claimed by org/admin, with `certOf`'s certificate, signed with `keyOf`'s key. */
  const rating = (o: {
    org: string;
    admin?: string;
    id: string;
    rating?: number;
    nonce?: number;
    certOf?: [string, string];
    keyOf?: [string, string];
    /** Signed for this consortium (default), another one, or in decision 1281's form (no consortium). */
    consortium?: Uint8Array | 'legacy';
  }): RateOp & { by: RatingAuth } => {
    const admin = o.admin ?? 'admin1';
    const value = o.rating ?? 10;
    const nonce = o.nonce ?? NOW_MS;
    const [certOrg, certCn] = o.certOf ?? [o.org, admin];
    const [keyOrg, keyCn] = o.keyOf ?? [certOrg, certCn];
    const consortium = o.consortium ?? CONSORTIUM;
    const signed =
      consortium === 'legacy' ? legacyRateSignedBytes({ id: o.id, rating: value, nonce }) : rateSignedBytes({ consortium, id: o.id, rating: value, nonce });
    const signature = sign(parsePrivateKey(user(keyOrg, keyCn).keyPem), signed);
    const by = { org: o.org, admin, nonce, cert: utf8(user(certOrg, certCn).certPem), signature };
    return { op: 'rate', id: o.id, rating: value, by: consortium === 'legacy' ? by : { ...by, v: RATING_SIGNED_FORM } };
  };

  it("accepts a member organisation's admin rating another hospital's orderer", () => {
    const op = rating({ org: 'Hospital1', id: 'node.Hospital2' });
    assert.equal(authority().authentic(op), true);
    assert.equal(authority().authorised(op), true);
  });

  it('is not authentic: another key, a doctor, a certificate of someone else, a changed rating', () => {
    assert.equal(authority().authentic(rating({ org: 'Hospital1', id: 'node.Hospital2', keyOf: ['Hospital3', 'admin1'] })), false);
    assert.equal(authority().authentic(rating({ org: 'Hospital1', admin: 'doctor1', id: 'node.Hospital2' })), false, 'not an admin');
    assert.equal(authority().authentic(rating({ org: 'Hospital3', id: 'node.Hospital2', certOf: ['Hospital1', 'admin1'] })), false, 'names another org');
    const op = rating({ org: 'Hospital1', id: 'node.Hospital2', rating: 90 });
    assert.equal(authority().authentic({ ...op, rating: 10 }), false, 'the rating is signed');
    assert.equal(authority().authentic({ ...op, by: { ...op.by, nonce: op.by.nonce + 1 } }), false, 'the nonce is signed');
    assert.equal(authority().authentic({ ...op, by: { ...op.by, cert: utf8('not a certificate') } }), false);
  });

  it('is not authorised: a self-rating, a stale nonce, an organisation no longer a member, a revoked certificate', () => {
    const self = rating({ org: 'Hospital2', id: 'node.Hospital2' });
    assert.equal(authority().authentic(self), true);
    assert.equal(authority().authorised(self), false, 'self-rating');
    const op = rating({ org: 'Hospital1', id: 'node.Hospital2' });
    assert.equal(authority({ clockMs: NOW_MS + RATING_NONCE_WINDOW_MS + 1 }).authorised(op), false, 'replayed after the window');
    assert.equal(authority({ clockMs: NOW_MS + RATING_NONCE_WINDOW_MS }).authorised(op), true);
    const without1: ConsortiumConfig = { ...config, orgs: config.orgs.filter((o) => o.org !== 'Hospital1') };
    assert.equal(authority({ config: without1 }).authorised(op), false, 'Hospital1 left the consortium');
    assert.equal(authority().authorised(rating({ org: 'Hospital1', id: 'node.Hospital9' })), false, 'not an orderer');
    msp.revoke('Hospital1', user('Hospital1', 'admin1').serialHex);
    assert.equal(authority().authorised(op), false, 'revoked');
    assert.equal(authority().authentic(op), true, 'authentic is the pure part: revocation is checked before voting');
  });

  it('names the consortium (decision 1387): a rating signed for another consortium is not authentic here', () => {
    const foreign = rating({ org: 'Hospital3', id: 'node.Hospital2', consortium: OTHER_CONSORTIUM });
    assert.equal(authority().authentic(foreign), false, 'the same admin key and certificate, another genesis');
    assert.equal(authority().authorised(foreign), true, 'authorised alone does not check the signature: authentic does');
    assert.equal(authority().authentic(rating({ org: 'Hospital3', id: 'node.Hospital2' })), true);
  });

  it("decision 1281's form (no consortium) still applies on replay, but gets no vote", () => {
    const legacy = rating({ org: 'Hospital3', id: 'node.Hospital2', consortium: 'legacy' });
    assert.equal(authority().authentic(legacy), true, 'a chain decided before 1387 replays alike');
    assert.equal(authority().authorised(legacy), false, 'a new one could have been signed for another consortium');
    assert.equal(authority().authentic({ ...legacy, by: { ...legacy.by, v: RATING_SIGNED_FORM } }), false, 'its signature is not of the new form');
  });
});
