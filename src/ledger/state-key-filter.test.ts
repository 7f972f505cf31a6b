import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { StateDb } from './state.ts';
import { StateKeyFilter } from './state-key-filter.ts';
import { tempDir } from '../testing/ledger-network.ts';

const key = (): string => `asset-${randomBytes(12).toString('base64url')}`;

describe('state key filter (decision 1383)', () => {
  it('never says "absent" for an added key, rarely says "maybe" for another', () => {
    const filter = new StateKeyFilter();
    const added = Array.from({ length: 50_000 }, key);
    for (const k of added) filter.add('assets', k);
    assert.ok(
      added.every((k) => filter.mayContain('assets', k)),
      'no false negatives',
    );
    const others = Array.from({ length: 50_000 }, key);
    const falsePositives = others.filter((k) => filter.mayContain('assets', k)).length;
    assert.ok(falsePositives < 50, `false positives ${falsePositives} of 50,000 (expected ≈ 0 at this fill)`);
  });

  it('has no false negatives for any namespace and key (unicode, empty, look-alike splits)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.string({ unit: 'grapheme' })), { maxLength: 50 }), (pairs) => {
        const filter = new StateKeyFilter();
        for (const [ns, k] of pairs) filter.add(ns, k);
        for (const [ns, k] of pairs) assert.equal(filter.mayContain(ns, k), true);
      }),
      { numRuns: 200 },
    );
    const filter = new StateKeyFilter();
    filter.add('ab', 'c');
    assert.equal(filter.mayContain('a', 'bc'), false, '(ns, key) pairs are hashed with a separator');
  });

  it('the state database finds every key it holds: written, rewritten after a delete, and after reopening', () => {
    const tmp = tempDir('medledger-state-key-filter-');
    try {
      const path = join(tmp.dir, 'state.sqlite');
      let state = new StateDb(path);
      const keys = Array.from({ length: 60 }, key);
      const write = (k: string, tx: number, isDelete = false): { ns: string; key: string; isDelete: boolean; value: Uint8Array | null; tx: number } => ({
        ns: 'assets',
        key: k,
        isDelete,
        value: isDelete ? null : new Uint8Array([tx]),
        tx,
      });
      state.applyBlock({ number: 0, blockHash: new Uint8Array(32), writes: keys.slice(0, 30).map((k, i) => write(k, i)), txIndex: [] });
      assert.equal(state.get('assets', key()), undefined, 'an unknown key is absent');
      assert.equal(state.get('other', keys[0]!), undefined, 'the namespace is part of the key');
      assert.deepEqual(state.get('assets', keys[3]!)?.version, { block: 0, tx: 3 });
      state.applyBlock({
        number: 1,
        blockHash: new Uint8Array(32),
        writes: [write(keys[3]!, 0, true), ...keys.slice(30).map((k, i) => write(k, i + 1))],
        txIndex: [],
      });
      assert.equal(state.get('assets', keys[3]!), undefined, 'a deleted key is gone');
      state.applyBlock({ number: 2, blockHash: new Uint8Array(32), writes: [write(keys[3]!, 7)], txIndex: [] });
      assert.deepEqual(state.get('assets', keys[3]!)?.version, { block: 2, tx: 7 }, 'and found again once rewritten');
      state.close();
      state = new StateDb(path);
      assert.ok(
        keys.every((k) => state.get('assets', k) !== undefined),
        'every key found after reopening (the filter is rebuilt from the table)',
      );
      assert.equal(state.get('assets', key()), undefined);
      state.close();
    } finally {
      tmp.cleanup();
    }
  });
});
