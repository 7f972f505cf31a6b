// The stored-block encoding is spelled out to reuse a block's own encoding (block.ts): it must be
// byte-identical to DAG-CBOR of the whole {block, validation} — every peer's block store and
// `ledger verify` depend on that form.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesEqual, encode } from '../codec/index.ts';
import { decodeStoredBlock, encodeBlock, encodeStoredBlock, type StoredBlock } from './block.ts';
import { TestKit, tempDir } from '../testing/ledger-network.ts';

describe('stored block encoding', () => {
  it('equals the generic DAG-CBOR encoding, with the block encoded before or not, and round-trips', async () => {
    const tmp = tempDir('medledger-stored-block-');
    try {
      const kit = await TestKit.create({ orgs: 2 });
      const peer = kit.peer(kit.orgs[0]!, tmp.dir);
      const u = kit.user(kit.orgs[0]!);
      const txs = [0, 1, 2].map((i) => kit.tx(u, [peer], 'create', [`sb-${i}`, 'alice', String(i)]).envelope);
      const block = kit.block(peer.ledger.getBlock(peer.height).block.header, txs);
      for (const stored of [
        { block: kit.genesis, validation: ['VALID'] },
        { block, validation: ['VALID', 'MVCC_READ_CONFLICT', 'BAD_PAYLOAD'] },
      ] satisfies StoredBlock[]) {
        const generic = encode(stored);
        assert.ok(bytesEqual(encodeStoredBlock(stored), generic), 'before the block was encoded on its own');
        encodeBlock(stored.block);
        assert.ok(bytesEqual(encodeStoredBlock(stored), generic), 'reusing the block encoding');
        assert.deepEqual(decodeStoredBlock(encodeStoredBlock(stored)).validation, stored.validation);
      }
      peer.close();
    } finally {
      tmp.cleanup();
    }
  });
});
