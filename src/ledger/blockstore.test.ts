import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { utf8 } from '../codec/index.ts';
import { BlockStore, BlockStoreCorruptionError, BlockStoreError, RECORD_HEADER_BYTES, readAllBlocks, segmentName } from './blockstore.ts';
import { tempDir } from '../testing/ledger-network.ts';

const tmp = tempDir('medledger-blockstore-');
after(() => tmp.cleanup());
let n = 0;
function freshDir(): string {
  n += 1;
  return join(tmp.dir, `s${n}`);
}

function fill(dir: string, count: number, options = {}): void {
  const store = BlockStore.open(dir, options);
  for (let i = 0; i < count; i++) store.append(i, utf8(`block-${i}-${'x'.repeat(i * 7)}`));
  store.close();
}

describe('block store', () => {
  it('appends, reads back and reopens with the index rebuilt', () => {
    const dir = freshDir();
    fill(dir, 5);
    const store = BlockStore.open(dir);
    assert.equal(store.count, 5);
    assert.equal(Buffer.from(store.read(3)).toString(), `block-3-${'x'.repeat(21)}`);
    assert.throws(() => store.append(7, utf8('gap')), BlockStoreError);
    store.append(5, utf8('five'));
    assert.equal(Buffer.from(store.read(5)).toString(), 'five');
    store.close();
    assert.deepEqual(
      [...readAllBlocks(dir)].map((b) => b.number),
      [0, 1, 2, 3, 4, 5],
    );
  });

  it('rolls over to new segments and reads across them', () => {
    const dir = freshDir();
    fill(dir, 12, { segmentBytesMax: 200 });
    assert.ok(statSync(join(dir, segmentName(2))).size > 0);
    const store = BlockStore.open(dir, { segmentBytesMax: 200 });
    assert.equal(store.count, 12);
    assert.equal(Buffer.from(store.read(11)).toString().startsWith('block-11-'), true);
    store.close();
  });

  it('truncates a torn last record, but not when the state already committed it', () => {
    const dir = freshDir();
    fill(dir, 3);
    const path = join(dir, segmentName(0));
    const whole = readFileSync(path);
    // Half of a fourth record: an append interrupted by a crash.
    const partial = Buffer.concat([Buffer.from('MLB1'), Buffer.alloc(10, 1)]);
    appendFileSync(path, partial);
    assert.throws(
      () => [...readAllBlocks(dir)],
      (e: unknown) => e instanceof BlockStoreCorruptionError && e.blockNumber === 3,
    );
    const store = BlockStore.open(dir, { protectedHeight: 2 });
    assert.equal(store.count, 3);
    assert.deepEqual(store.repaired?.blockNumber, 3);
    store.close();
    assert.equal(statSync(path).size, whole.length);
    // Now damage the (complete) last record: torn if uncommitted, corruption if committed.
    const damaged = Buffer.from(whole);
    damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 1;
    writeFileSync(path, damaged);
    assert.throws(
      () => BlockStore.open(dir, { protectedHeight: 2 }),
      (e: unknown) => e instanceof BlockStoreCorruptionError && e.blockNumber === 2,
    );
    const repaired = BlockStore.open(dir, { protectedHeight: 1 });
    assert.equal(repaired.count, 2);
    repaired.close();
  });

  it('reports (never skips) a corrupted earlier block, naming it', () => {
    const dir = freshDir();
    fill(dir, 4);
    const path = join(dir, segmentName(0));
    const bytes = readFileSync(path);
    const firstLength = bytes.readUInt32BE(4);
    const secondStart = RECORD_HEADER_BYTES + firstLength;
    bytes[secondStart + RECORD_HEADER_BYTES + 2] = bytes[secondStart + RECORD_HEADER_BYTES + 2]! ^ 0x80; // payload of block 1
    writeFileSync(path, bytes);
    assert.throws(
      () => BlockStore.open(dir),
      (e: unknown) => e instanceof BlockStoreCorruptionError && e.blockNumber === 1 && /checksum/.test(e.message),
    );
    assert.throws(() => [...readAllBlocks(dir)], /block 1/);
  });
});
