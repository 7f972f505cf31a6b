import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { utf8 } from '../codec/index.ts';
import { WalCorruptionError, WriteAheadLog } from './wal.ts';
import { tempDirRemovedAtExit } from '../testing/temp-dir.ts';

function dir(): string {
  return tempDirRemovedAtExit('medledger-wal-');
}

/** A closed log holding one record per key (key → 'v' + its number): its directory and where its records end. */
function closedLog(keys: readonly string[]): { d: string; end: number } {
  const d = dir();
  const wal = new WriteAheadLog(d);
  for (const k of keys) wal.apply([{ op: 'put', key: k, value: utf8(`v${k.slice(1)}`) }]);
  const end = wal.endOffset;
  wal.close();
  return { d, end };
}

/** Reopened, the log goes on: a record written after the repair is there after another reopen, after `keys`. */
function goesOn(wal: WriteAheadLog, d: string, keys: readonly string[]): void {
  wal.apply([{ op: 'put', key: 'k9', value: utf8('v9') }]);
  wal.close();
  assert.deepEqual(new WriteAheadLog(d).keysWithPrefix('k'), [...keys, 'k9']);
}

describe('write-ahead log', () => {
  it('restores exactly what was applied, including deletes and prefix deletes', () => {
    const d = dir();
    const wal = new WriteAheadLog(d);
    wal.apply([
      { op: 'put', key: 'raft/hard', value: utf8('t1') },
      { op: 'put', key: 'raft/log/1', value: utf8('a') },
    ]);
    wal.apply([
      { op: 'put', key: 'raft/log/2', value: utf8('b') },
      { op: 'put', key: 'raft/log/3', value: utf8('c') },
    ]);
    wal.apply([
      { op: 'deletePrefix', prefix: 'raft/log/3' },
      { op: 'delete', key: 'raft/log/1' },
    ]);
    wal.close();
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.keysWithPrefix('raft/'), ['raft/hard', 'raft/log/2']);
    assert.deepEqual(again.get('raft/log/2'), utf8('b'));
    assert.equal(again.truncatedBytes, 0);
  });

  it('truncates a torn last record and keeps everything before it', () => {
    const { d, end } = closedLog(['k1', 'k2']);
    overwrite(join(d, 'wal.log'), end - 3, Buffer.alloc(3)); // crash mid-write: its last bytes never reached the disk
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.get('k1'), utf8('v1'));
    assert.equal(again.get('k2'), undefined);
    assert.ok(again.truncatedBytes > 0);
    goesOn(again, d, ['k1']);
  });

  it('refuses to open a log whose middle record is corrupted', () => {
    const d = dir();
    const wal = new WriteAheadLog(d);
    wal.apply([{ op: 'put', key: 'k1', value: utf8('value-one') }]);
    wal.apply([{ op: 'put', key: 'k2', value: utf8('value-two') }]);
    wal.close();
    const path = join(d, 'wal.log');
    const bytes = readFileSync(path);
    bytes[12] = (bytes[12] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    assert.throws(() => new WriteAheadLog(d), WalCorruptionError);
  });

  it('compacts into a checkpoint and keeps appending after it', () => {
    const d = dir();
    const wal = new WriteAheadLog(d, { compactBytes: 200 });
    for (let i = 0; i < 50; i++) wal.apply([{ op: 'put', key: `k${i % 5}`, value: utf8(`v${i}`) }]);
    const end = wal.endOffset;
    wal.close();
    assert.ok(end < 200);
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.get('k4'), utf8('v49'));
    assert.equal(again.endOffset, end);
    again.close();
    overwrite(join(d, 'wal.log'), end, Buffer.from([1, 2])); // torn header after compaction
    assert.deepEqual(new WriteAheadLog(d).get('k0'), utf8('v45'));
  });

  it('writes zeros ahead of its records (decision 1388): a record does not grow the file, and the zeros mark the end', () => {
    const d = dir();
    const path = join(d, 'wal.log');
    const wal = new WriteAheadLog(d);
    wal.apply([{ op: 'put', key: 'k1', value: utf8('v1') }]);
    const size = statSync(path).size;
    assert.ok(size >= 256 * 1024, `preallocated: ${size} bytes`);
    for (let i = 0; i < 100; i++) wal.apply([{ op: 'put', key: `k${i}`, value: utf8(`v${i}`) }]);
    assert.equal(statSync(path).size, size, 'records land in the zeros: the size does not change');
    assert.ok(
      readFileSync(path)
        .subarray(wal.endOffset)
        .every((b) => b === 0),
    );
    // Past the zeros: the file grows by more zeros, then the record lands.
    wal.apply([{ op: 'put', key: 'big', value: new Uint8Array(size) }]);
    assert.ok(statSync(path).size > size + size);
    const end = wal.endOffset;
    wal.close();
    const again = new WriteAheadLog(d);
    assert.equal(again.endOffset, end);
    assert.equal(again.get('big')?.byteLength, size);
    assert.deepEqual(again.get('k99'), utf8('v99'));
    assert.equal(again.truncatedBytes, 0);
  });

  it('cuts off the pages of a record whose header never reached the disk, and keeps the records before it', () => {
    const { d, end } = closedLog(['k1']);
    overwrite(join(d, 'wal.log'), end + 5000, Buffer.alloc(100, 7)); // a later page of the record in flight
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.get('k1'), utf8('v1'));
    assert.equal(again.truncatedBytes, 5100);
    goesOn(again, d, ['k1']);
  });

  it('refuses to open a log with data beyond what one record in flight could leave', () => {
    const { d } = closedLog(['k1']);
    overwrite(join(d, 'wal.log'), 65 * 1024 * 1024, Buffer.alloc(10, 7)); // a sparse file: 65 MiB of zeros, then data
    assert.throws(() => new WriteAheadLog(d), /beyond the end of the records/);
  });

  it('opens a log written before decision 1388 (records only, no zeros ahead) and goes on writing', () => {
    const { d, end } = closedLog(['k1', 'k2']);
    const fd = openSync(join(d, 'wal.log'), 'r+');
    ftruncateSync(fd, end); // what the old append-only log looked like
    closeSync(fd);
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.keysWithPrefix('k'), ['k1', 'k2']);
    assert.equal(again.truncatedBytes, 0);
    goesOn(again, d, ['k1', 'k2']);
  });
});

/** Write `bytes` at `position` of the file, in place (growing it if needed), as a disk might have. */
function overwrite(path: string, position: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.byteLength, position);
  } finally {
    closeSync(fd);
  }
}
