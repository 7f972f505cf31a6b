import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256 } from '../../codec/index.ts';
import { applyDecided, emptyRecords, meetsTarget, paperFaults, proofHash, rankGenerators, searchNonce, selectGenerator, thresholds } from './rules.ts';

describe('hashgen thresholds', () => {
  it('paper: authentication ⌈N/2⌉ of the N others, validation ⌊N/2⌋+1 with the generator', () => {
    // n generators = N others + the selected one.
    const table: Array<[number, number, number]> = [
      // n, authOthers, validations
      [1, 0, 1],
      [2, 1, 1],
      [3, 1, 2],
      [4, 2, 2],
      [5, 2, 3],
      [6, 3, 3],
      [7, 3, 4],
    ];
    for (const [n, auth, val] of table) {
      const t = thresholds(n, 'paper');
      assert.equal(t.authOthers, auth, `auth for n=${n}`);
      assert.equal(t.validations, val, `validations for n=${n}`);
    }
  });

  it('paper: an authentication quorum (with the candidate) always meets a validation quorum', () => {
    // The Flexible-Paxos condition the safety argument rests on: |Qa| + |Qv| > n.
    for (let n = 1; n <= 64; n++) {
      const t = thresholds(n, 'paper');
      assert.ok(t.authOthers + 1 + t.validations > n, `n=${n}`);
      assert.ok(2 * (t.authOthers + 1) > n, `two candidates cannot both be authenticated in one epoch, n=${n}`);
      // f crashed nodes leave both quorums reachable.
      const f = paperFaults(n);
      assert.ok(n - f >= t.authOthers + 1 && n - f >= t.validations, `liveness with f=${f}, n=${n}`);
    }
  });

  it('bft: 2f+1 of 3f+1, and any two quorums share a correct node', () => {
    assert.deepEqual(thresholds(4, 'bft'), { authOthers: 2, validations: 3, commits: 3 });
    assert.deepEqual(thresholds(7, 'bft'), { authOthers: 4, validations: 5, commits: 5 });
    for (let n = 4; n <= 64; n++) {
      const f = Math.floor((n - 1) / 3);
      const q = thresholds(n, 'bft').validations;
      assert.ok(2 * q - n >= f + 1, `n=${n}`);
      assert.ok(n - f >= q, `live with f faulty, n=${n}`);
    }
  });
});

describe('proof hash', () => {
  it('meetsTarget counts leading zero bits', () => {
    assert.ok(meetsTarget(new Uint8Array([0, 0x7f, 0xff]), 9));
    assert.ok(!meetsTarget(new Uint8Array([0, 0x80, 0]), 9));
    assert.ok(meetsTarget(new Uint8Array([0x0f]), 4));
    assert.ok(!meetsTarget(new Uint8Array([0x10]), 4));
    assert.ok(meetsTarget(new Uint8Array([0xff]), 0));
  });

  it('searchNonce finds a nonce meeting the target, in bounded slices', () => {
    const digest = sha256('block');
    let start = 0;
    let slices = 0;
    for (;;) {
      const r = searchNonce(digest, 1, 'g1', 10, start, 64);
      slices += 1;
      if (r.found) {
        assert.ok(meetsTarget(proofHash(digest, 1, 'g1', r.nonce), 10));
        assert.ok(r.nonce >= start && r.nonce < start + 64);
        break;
      }
      assert.equal(r.next, start + 64);
      start = r.next;
      assert.ok(slices < 10_000, 'a 10-bit target is found in far fewer attempts');
    }
    assert.ok(slices > 1, 'with 64 attempts per slice a 10-bit target usually takes several slices');
  });
});

describe('performance records and CAMS selection', () => {
  const members = ['g1', 'g2', 'g3', 'g4'];

  it('ranks by sealed blocks minus failures, then membership order', () => {
    const r = emptyRecords(members);
    assert.deepEqual(rankGenerators(r, members), ['g1', 'g2', 'g3', 'g4']);
    r.get('g3')!.sealed = 5;
    r.get('g1')!.failures = 1;
    assert.deepEqual(rankGenerators(r, members), ['g3', 'g2', 'g4', 'g1']);
  });

  it('selects the best for the next epoch; later epochs go down the ranking, the failed tip last', () => {
    const r = emptyRecords(members);
    r.get('g2')!.sealed = 3;
    const tip = { epoch: 4, generator: 'g2' };
    assert.equal(selectGenerator(4, tip, r, members), null, 'the tip epoch is history');
    assert.equal(selectGenerator(5, tip, r, members), 'g1');
    assert.equal(selectGenerator(6, tip, r, members), 'g3');
    assert.equal(selectGenerator(7, tip, r, members), 'g4');
    assert.equal(selectGenerator(8, tip, r, members), 'g2');
    assert.equal(selectGenerator(1, { epoch: 0, generator: null }, r, members), 'g2', 'at genesis the best goes first');
  });

  it('a decided block credits its generator and charges the replaced and skipped ones', () => {
    const r = emptyRecords(members);
    applyDecided(r, members, { epoch: 0, generator: null }, 1, 'g1', 1);
    applyDecided(r, members, { epoch: 1, generator: 'g1' }, 1, 'g1', 2);
    assert.deepEqual(r.get('g1'), { sealed: 2, failures: 0, lastSealedHeight: 2 });
    // Epoch 2 (g2, the next best after g1) was skipped, epoch 3 (g3) sealed height 3.
    applyDecided(r, members, { epoch: 1, generator: 'g1' }, 3, 'g3', 3);
    assert.equal(r.get('g1')!.failures, 1, 'the tip generator was replaced');
    assert.equal(r.get('g2')!.failures, 1, 'the skipped epoch’s generator failed');
    assert.deepEqual(r.get('g3'), { sealed: 1, failures: 0, lastSealedHeight: 3 });
    assert.equal(r.get('g4')!.failures, 0);
  });
});
