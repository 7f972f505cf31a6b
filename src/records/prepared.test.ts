// Bookkeeping of prepared (not yet committed) record versions: the limits per user and in total,
// in versions and bytes, and the preparer's claim that lapses after the TTL (decisions 1050, 1160).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PREPARED_DATASET_LIMITS_DEFAULT, PREPARED_LIMITS_DEFAULT, PREPARED_VERSION_TTL_MS, PreparedLimitError, PreparedVersions } from './prepared.ts';

const T0 = 1_700_000_000_000;

describe('PreparedVersions', () => {
  it('bounds the versions and bytes one user holds, naming the limit', () => {
    const p = new PreparedVersions({ ...PREPARED_LIMITS_DEFAULT, perUserMax: 2, perUserBytesMax: 1000 });
    p.reserve('r1', 1, 'H1/a', 400, T0);
    p.reserve('r2', 1, 'H1/a', 400, T0);
    assert.throws(
      () => p.reserve('r3', 1, 'H1/a', 1, T0),
      (e: unknown) => e instanceof PreparedLimitError && /H1\/a already holds 2 prepared record versions not on chain \(at most 2\)/.test(e.message),
    );
    p.delete('r2', 1);
    assert.throws(() => p.reserve('r3', 1, 'H1/a', 601, T0), /H1\/a holds 400 bytes .* 601 more would exceed 1000/);
    p.reserve('r3', 1, 'H1/a', 600, T0);
    // Another user is not limited by the first one's holdings.
    p.reserve('r4', 1, 'H1/b', 900, T0);
    assert.deepEqual(p.usage('H1/a'), { count: 2, bytes: 1000 });
    assert.deepEqual(p.usage(), { count: 3, bytes: 1900 });
  });

  it('bounds what the node holds in total', () => {
    const p = new PreparedVersions({ ...PREPARED_LIMITS_DEFAULT, totalMax: 2, totalBytesMax: 100 });
    p.reserve('r1', 1, 'H1/a', 10, T0);
    p.reserve('r2', 1, 'H1/b', 10, T0);
    assert.throws(() => p.reserve('r3', 1, 'H1/c', 10, T0), /this node holds 2 prepared record versions not on chain \(at most 2\)/);
    p.delete('r1', 1);
    assert.throws(() => p.reserve('r3', 1, 'H1/c', 91, T0), /this node holds 10 bytes .* would exceed 100/);
  });

  it('expires a version after the TTL (10 minutes), abandons it after the grace, then the claim lapses; restored entries count', () => {
    assert.equal(PREPARED_LIMITS_DEFAULT.ttlMs, PREPARED_VERSION_TTL_MS);
    assert.equal(PREPARED_VERSION_TTL_MS, 10 * 60_000);
    const p = new PreparedVersions({ ...PREPARED_LIMITS_DEFAULT, perUserMax: 1, sweepGraceMs: 1000 });
    const e = p.reserve('r1', 1, 'H1/a', 10, T0);
    assert.equal(e.storing, true, 'reserved before its parts are stored');
    assert.equal(p.expiresAtMs(e), T0 + PREPARED_VERSION_TTL_MS, 'what the contract is told (notAfterMs)');
    // Past the expiry the content is kept for the grace (a transaction timestamped earlier may still arrive).
    assert.equal(p.holder('r1', 1, T0 + PREPARED_VERSION_TTL_MS + 999)?.user, 'H1/a');
    assert.equal(p.isAbandoned(e, T0 + PREPARED_VERSION_TTL_MS + 999), false);
    assert.equal(p.isAbandoned(e, T0 + PREPARED_VERSION_TTL_MS + 1000), true);
    assert.equal(p.holder('r1', 1, T0 + PREPARED_VERSION_TTL_MS + 1000), undefined);
    assert.throws(() => p.reserve('r1', 1, 'H1/b', 10, T0), /already reserved/);
    const q = new PreparedVersions({ ...PREPARED_LIMITS_DEFAULT, perUserMax: 1 });
    q.restore({ recordId: 'r9', version: 2, user: 'H1/a', atMs: T0, sizeBytes: 5 });
    assert.throws(() => q.reserve('r1', 1, 'H1/a', 1, T0), PreparedLimitError);
  });

  it('names datasets and how to settle them in the limit messages of a dataset bookkeeping', () => {
    const p = new PreparedVersions(
      { ...PREPARED_DATASET_LIMITS_DEFAULT, perUserMax: 1 },
      { noun: 'datasets', settle: 'register them (health.registerDataset)' },
    );
    p.reserve('ds1', 1, 'H1/admin1', 10, T0);
    assert.throws(
      () => p.reserve('ds2', 1, 'H1/admin1', 10, T0),
      /H1\/admin1 already holds 1 prepared datasets not on chain \(at most 1\): register them \(health.registerDataset\), or wait until they are swept \(16 minutes after preparing\)/,
    );
    assert.deepEqual(
      { user: PREPARED_DATASET_LIMITS_DEFAULT.perUserMax, node: PREPARED_DATASET_LIMITS_DEFAULT.totalMax, ttl: PREPARED_DATASET_LIMITS_DEFAULT.ttlMs },
      { user: 8, node: 64, ttl: PREPARED_VERSION_TTL_MS },
    );
  });
});
