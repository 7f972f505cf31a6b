import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { StateDb } from './state.ts';
import { TxIdFilter } from './txid-filter.ts';
import { tempDir } from '../testing/ledger-network.ts';

const txId = (): string => randomBytes(32).toString('hex');

describe('txId filter', () => {
  it('never says "absent" for an added txId, rarely says "maybe" for another', () => {
    const filter = new TxIdFilter();
    const added = Array.from({ length: 20_000 }, txId);
    for (const id of added) filter.add(id);
    assert.ok(
      added.every((id) => filter.mayContain(id)),
      'no false negatives',
    );
    const others = Array.from({ length: 20_000 }, txId);
    const falsePositives = others.filter((id) => filter.mayContain(id)).length;
    assert.ok(falsePositives < 20, `false positives ${falsePositives} of 20,000 (expected ≈ 0 at this fill)`);
  });

  it('answers "maybe" for anything that is not a 64-digit lowercase hex txId', () => {
    const filter = new TxIdFilter();
    for (const id of ['', 'abc', txId().toUpperCase(), `${txId()}0`, 'z'.repeat(64)]) assert.equal(filter.mayContain(id), true, id);
  });

  it('the state database finds every indexed txId, before and after reopening (filter rebuilt from the index)', () => {
    const tmp = tempDir('medledger-txid-filter-');
    try {
      const path = join(tmp.dir, 'state.sqlite');
      let state = new StateDb(path);
      const ids = Array.from({ length: 50 }, txId);
      state.applyBlock({
        number: 0,
        blockHash: new Uint8Array(32),
        writes: [],
        txIndex: ids.slice(0, 25).map((id, position) => ({ txId: id, position, code: 'VALID' })),
      });
      state.applyBlock({
        number: 1,
        blockHash: new Uint8Array(32),
        writes: [],
        txIndex: ids.slice(25).map((id, position) => ({ txId: id, position, code: 'MVCC_READ_CONFLICT' })),
      });
      assert.deepEqual(state.txStatus(ids[30]!), { block: 1, position: 5, code: 'MVCC_READ_CONFLICT' });
      assert.equal(state.txStatus(txId()), undefined);
      state.close();
      state = new StateDb(path);
      assert.ok(
        ids.every((id, i) => state.txStatus(id)?.block === (i < 25 ? 0 : 1)),
        'every txId found after reopening',
      );
      assert.equal(state.txStatus(txId()), undefined);
      state.close();
    } finally {
      tmp.cleanup();
    }
  });
});
