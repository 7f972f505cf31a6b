// The node's rating check for gpbft (decision 1281) with real certificates: what every member
// verifies before voting for a rating (authorised) and when applying one (authentic).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { utf8 } from '../codec/index.ts';
import { rateSignedBytes, type RateOp, type RatingAuth } from '../consensus/gpbft/config.ts';
import { parsePrivateKey, sign } from '../crypto/index.ts';
import { Msp, type Consortium } from '../identity/index.ts';
import type { ConsortiumConfig } from '../ledger/config.ts';
import { gpbftRatingAuthority, RATING_NONCE_WINDOW_MS } from './gpbft-rating.ts';
import { createDevConsortium, DEFAULT_ORDERING } from './inprocess.ts';

const orgs = ['Hospital1', 'Hospital2', 'Hospital3'];
const NOW_MS = Date.now();

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
    gpbftRatingAuthority({ config: () => over.config ?? config, msp: () => msp, clock: () => over.clockMs ?? NOW_MS });
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
  }): RateOp & { by: RatingAuth } => {
    const admin = o.admin ?? 'admin1';
    const value = o.rating ?? 10;
    const nonce = o.nonce ?? NOW_MS;
    const [certOrg, certCn] = o.certOf ?? [o.org, admin];
    const [keyOrg, keyCn] = o.keyOf ?? [certOrg, certCn];
    const signature = sign(parsePrivateKey(user(keyOrg, keyCn).keyPem), rateSignedBytes({ id: o.id, rating: value, nonce }));
    return { op: 'rate', id: o.id, rating: value, by: { org: o.org, admin, nonce, cert: utf8(user(certOrg, certCn).certPem), signature } };
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
});
