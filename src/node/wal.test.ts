import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { decode, encode, utf8 } from '../codec/index.ts';
import { segmentName, WalCorruptionError, WriteAheadLog } from './wal.ts';
import { tempDirRemovedAtExit } from '../testing/temp-dir.ts';

const KiB = 1024;

function dir(): string {
  return tempDirRemovedAtExit('medledger-wal-');
}

/** A closed log holding one record per key (key → 'v' + its number): its directory, active segment and where its records end. */
async function closedLog(keys: readonly string[]): Promise<{ d: string; path: string; end: number }> {
  const d = dir();
  const wal = new WriteAheadLog(d);
  for (const k of keys) wal.apply([{ op: 'put', key: k, value: utf8(`v${k.slice(1)}`) }]);
  const end = wal.endOffset;
  const path = wal.activeSegmentPath;
  wal.close();
  await wal.settled();
  return { d, path, end };
}

/** Reopened, the log goes on: a record written after the repair is there after another reopen, after `keys`. */
async function goesOn(wal: WriteAheadLog, d: string, keys: readonly string[]): Promise<void> {
  wal.apply([{ op: 'put', key: 'k9', value: utf8('v9') }]);
  wal.close();
  await wal.settled();
  assert.deepEqual(new WriteAheadLog(d).keysWithPrefix('k'), [...keys, 'k9']);
}

/** The segment files of a log directory, oldest first. */
function segments(d: string): string[] {
  return readdirSync(d)
    .filter((n) => /^wal-\d{16}\.log$/.test(n))
    .sort();
}

/** A value that fills a quarter of the first segment: four records switch segments. */
const BIG = new Uint8Array(64 * KiB).fill(1);

describe('write-ahead log', () => {
  it('restores exactly what was applied, including deletes and prefix deletes', async () => {
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
    await wal.settled();
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.keysWithPrefix('raft/'), ['raft/hard', 'raft/log/2']);
    assert.deepEqual(again.get('raft/log/2'), utf8('b'));
    assert.equal(again.truncatedBytes, 0);
    again.close();
  });

  it('zeroes a torn last record and keeps everything before it', async () => {
    const { d, path, end } = await closedLog(['k1', 'k2']);
    overwrite(path, end - 3, Buffer.alloc(3)); // crash mid-write: its last bytes never reached the disk
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.get('k1'), utf8('v1'));
    assert.equal(again.get('k2'), undefined);
    assert.ok(again.truncatedBytes > 0);
    assert.ok(
      readFileSync(path)
        .subarray(again.endOffset)
        .every((b) => b === 0),
      'the torn record is zeroed, the segment keeps its size',
    );
    await goesOn(again, d, ['k1']);
  });

  it('refuses to open a log whose middle record is corrupted', async () => {
    const { d, path } = await closedLog(['k1', 'k2']);
    const bytes = readFileSync(path);
    bytes[12] = (bytes[12] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    assert.throws(() => new WriteAheadLog(d), WalCorruptionError);
  });

  it('writes records into zeros written ahead: a record does not grow its segment, and the zeros mark the end (decision 1388)', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d);
    wal.apply([{ op: 'put', key: 'k1', value: utf8('v1') }]);
    const path = wal.activeSegmentPath;
    const size = statSync(path).size;
    assert.equal(size, 256 * KiB, 'the first segment is small');
    for (let i = 0; i < 100; i++) wal.apply([{ op: 'put', key: `k${i}`, value: utf8(`v${i}`) }]);
    assert.equal(statSync(path).size, size, 'records land in the zeros: the size does not change');
    assert.ok(
      readFileSync(path)
        .subarray(wal.endOffset)
        .every((b) => b === 0),
    );
    // A record bigger than any prepared segment gets a segment of its own size.
    wal.apply([{ op: 'put', key: 'big', value: new Uint8Array(10 * 1024 * KiB) }]);
    assert.notEqual(wal.activeSegmentPath, path);
    assert.ok(statSync(wal.activeSegmentPath).size >= 10 * 1024 * KiB);
    assert.equal(statSync(path).size, size, 'the segment before keeps its size and its zeros after its records');
    const end = wal.endOffset;
    wal.close();
    await wal.settled();
    const again = new WriteAheadLog(d);
    assert.equal(again.endOffset, end);
    assert.equal(again.get('big')?.byteLength, 10 * 1024 * KiB);
    assert.deepEqual(again.get('k99'), utf8('v99'));
    assert.equal(again.truncatedBytes, 0);
    again.close();
  });

  it('prepares the next segment in the background and switches to it without writing zeros (decision 1420)', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d);
    await wal.settled();
    assert.deepEqual(segments(d), [segmentName(1), segmentName(2)], 'the next segment is there before it is needed');
    const prepared = join(d, segmentName(2));
    assert.equal(statSync(prepared).size, 512 * KiB, 'twice the first');
    assert.ok(readFileSync(prepared).every((b) => b === 0));
    const inode = statSync(prepared).ino;
    for (let i = 0; i < 4; i++) wal.apply([{ op: 'put', key: `b${i}`, value: BIG }]); // the fourth does not fit in the first
    assert.equal(wal.activeSegmentPath, prepared);
    assert.equal(statSync(prepared).ino, inode, 'the prepared file itself, not one made anew');
    assert.equal(statSync(prepared).size, 512 * KiB);
    await wal.settled();
    assert.equal(readdirSync(d).filter((n) => n.endsWith('.prep')).length, 0, 'a preparation leaves no file of its own');
    assert.deepEqual(segments(d), [segmentName(1), segmentName(2), segmentName(3)]);
    assert.equal(statSync(join(d, segmentName(3))).size, 1024 * KiB);
    wal.close();
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.keysWithPrefix('b'), ['b0', 'b1', 'b2', 'b3']);
    assert.equal(again.activeSegmentPath, prepared);
    assert.deepEqual(segments(d), [segmentName(1), segmentName(2)], 'the prepared segment never written is dropped on open');
    again.close();
    await again.settled();
  });

  it('makes a segment itself when the prepared one is not ready, and the late preparation replaces nothing', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d);
    // All in one turn of the event loop: no background step has run yet.
    for (let i = 0; i < 12; i++) wal.apply([{ op: 'put', key: `b${String(i).padStart(2, '0')}`, value: BIG }]);
    const active = wal.activeSegmentPath;
    assert.notEqual(active, join(d, segmentName(1)));
    await wal.settled();
    wal.apply([{ op: 'put', key: 'after', value: utf8('x') }]);
    wal.close();
    await wal.settled();
    const again = new WriteAheadLog(d);
    assert.equal(again.keysWithPrefix('b').length, 12, 'every record survives the abandoned preparations');
    assert.deepEqual(again.get('after'), utf8('x'));
    again.close();
  });

  it('writes a checkpoint in the background, then deletes the segments it covers, and keeps appending', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d, { compactBytes: 600 * KiB });
    for (let i = 0; i < 9; i++) wal.apply([{ op: 'put', key: `b${i}`, value: BIG }]); // ~585 KiB: segments 1 and 2
    assert.equal(existsSync(join(d, 'wal.checkpoint')), false);
    wal.apply([{ op: 'put', key: 'b9', value: BIG }]); // over 600 KiB: a checkpoint through segment 2 is taken
    const covered = wal.activeSegmentPath;
    await wal.settled();
    const checkpoint = decode<{ through: number; entries: Array<[string, Uint8Array]> }>(readFileSync(join(d, 'wal.checkpoint')));
    assert.equal(checkpoint.through, 2);
    assert.equal(checkpoint.entries.length, 10);
    assert.equal(existsSync(covered), false, 'the segments the checkpoint covers are deleted once it is durable');
    assert.equal(existsSync(join(d, segmentName(1))), false);
    wal.apply([{ op: 'put', key: 'b1', value: utf8('again') }]);
    assert.equal(wal.activeSegmentPath, join(d, segmentName(3)), 'the record after a checkpoint starts a new segment');
    const end = wal.endOffset;
    wal.close();
    await wal.settled();
    const again = new WriteAheadLog(d);
    assert.equal(again.endOffset, end);
    assert.equal(again.keysWithPrefix('b').length, 10);
    assert.deepEqual(again.get('b1'), utf8('again'));
    again.close();
    overwrite(join(d, segmentName(3)), end, Buffer.from([1, 2])); // a torn header after the checkpoint
    const third = new WriteAheadLog(d);
    assert.deepEqual(third.get('b1'), utf8('again'));
    assert.equal(third.truncatedBytes, 2);
    third.close();
  });

  it('loses nothing when a background checkpoint fails, and the next one, written synchronously, stops the writer', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d, { compactBytes: 200 * KiB });
    mkdirSync(join(d, 'wal.checkpoint', 'in-the-way'), { recursive: true }); // the rename onto it fails
    for (let i = 0; i < 4; i++) wal.apply([{ op: 'put', key: `b${i}`, value: BIG }]);
    await wal.settled();
    assert.equal(existsSync(join(d, segmentName(1))), true, 'the segments stay');
    for (let i = 4; i < 7; i++) wal.apply([{ op: 'put', key: `b${i}`, value: BIG }]);
    assert.throws(() => wal.apply([{ op: 'put', key: 'b7', value: BIG }]), /EISDIR|ENOTEMPTY|EEXIST|directory/);
    wal.close();
    await wal.settled();
    rmSync(join(d, 'wal.checkpoint'), { recursive: true });
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.keysWithPrefix('b'), ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7'], 'b7 was durable before its checkpoint failed');
    again.close();
  });

  it('deletes on open the segments a checkpoint covers (a deletion the process did not finish) without replaying them', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d);
    wal.apply([{ op: 'put', key: 'k1', value: utf8('v1') }]);
    wal.compact();
    await wal.settled();
    wal.apply([{ op: 'put', key: 'k2', value: utf8('v2') }]);
    wal.close();
    await wal.settled();
    writeFileSync(join(d, segmentName(1)), Buffer.alloc(100, 7)); // would be corruption if it were read
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.keysWithPrefix('k'), ['k1', 'k2']);
    assert.equal(existsSync(join(d, segmentName(1))), false);
    again.close();
  });

  it('removes what an unfinished preparation or checkpoint left', async () => {
    const { d } = await closedLog(['k1']);
    writeFileSync(join(d, `${segmentName(2)}.0a1b2c.prep`), Buffer.alloc(10));
    writeFileSync(join(d, 'wal.checkpoint.1.tmp'), Buffer.alloc(10, 7));
    const again = new WriteAheadLog(d);
    assert.deepEqual(
      readdirSync(d).filter((n) => n.endsWith('.prep') || n.endsWith('.tmp')),
      [],
    );
    await goesOn(again, d, ['k1']);
  });

  it('refuses to open a log with a segment missing, or with data after the records of a segment followed by more', async () => {
    const make = async (): Promise<string> => {
      const d = dir();
      const wal = new WriteAheadLog(d);
      for (let i = 0; i < 12; i++) wal.apply([{ op: 'put', key: `b${i}`, value: BIG }]); // segments 1, 2, 3
      wal.close();
      await wal.settled();
      assert.deepEqual(segments(d).slice(0, 3), [segmentName(1), segmentName(2), segmentName(3)]);
      return d;
    };
    const missing = await make();
    rmSync(join(missing, segmentName(2)));
    assert.throws(() => new WriteAheadLog(missing), /segment 2 is missing/);
    const trailing = await make();
    overwrite(join(trailing, segmentName(1)), 255 * KiB, Buffer.alloc(4, 7)); // in segment 1's zeros, with segment 2 written
    assert.throws(() => new WriteAheadLog(trailing), /after its records, and a later segment holds more/);
  });

  it('zeroes a torn first record of a new segment and keeps the segments before it', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d);
    await wal.settled(); // segment 2 prepared
    for (let i = 0; i < 3; i++) wal.apply([{ op: 'put', key: `b${i}`, value: BIG }]);
    wal.close();
    overwrite(join(d, segmentName(2)), 0, Buffer.from([0x10, 0, 1, 0, 9, 9])); // the switch happened, the record's header half written
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.keysWithPrefix('b'), ['b0', 'b1', 'b2']);
    assert.equal(again.truncatedBytes, 6);
    await goesOn(again, d, []);
  });

  it('cuts off the pages of a record whose header never reached the disk, and keeps the records before it', async () => {
    const { d, path, end } = await closedLog(['k1']);
    overwrite(path, end + 5000, Buffer.alloc(100, 7)); // a later page of the record in flight
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.get('k1'), utf8('v1'));
    assert.equal(again.truncatedBytes, 5100);
    await goesOn(again, d, ['k1']);
  });

  it('refuses to open a log with data beyond what one record in flight could leave', async () => {
    const { d, path } = await closedLog(['k1']);
    overwrite(path, 65 * 1024 * KiB, Buffer.alloc(10, 7)); // a sparse file: 65 MiB of zeros, then data
    assert.throws(() => new WriteAheadLog(d), /beyond the end of the records/);
  });

  it('migrates the single-file log of earlier versions (with or without zeros ahead, after a checkpoint) into a checkpoint, and goes on', async () => {
    for (const zerosAhead of [0, 64 * KiB]) {
      const d = dir();
      // The format before decision 1420: a checkpoint as an array of pairs, and wal.log.
      writeFileSync(join(d, 'wal.checkpoint'), encode([['k1', utf8('old')]]));
      const records = [
        record([{ o: 'p', k: 'k1', v: utf8('v1') }]),
        record([
          { o: 'p', k: 'k2', v: utf8('v2') },
          { o: 'd', k: 'gone' },
        ]),
      ];
      writeFileSync(join(d, 'wal.log'), Buffer.concat([...records, Buffer.alloc(zerosAhead)]));
      const again = new WriteAheadLog(d);
      assert.deepEqual(again.keysWithPrefix('k'), ['k1', 'k2']);
      assert.deepEqual(again.get('k1'), utf8('v1'));
      assert.equal(existsSync(join(d, 'wal.log')), false);
      assert.equal(decode<{ through: number }>(readFileSync(join(d, 'wal.checkpoint'))).through, 0);
      assert.equal(again.truncatedBytes, 0);
      await goesOn(again, d, ['k1', 'k2']);
    }
  });
});

/** A record of the log's format: [u32 length][u32 crc32][DAG-CBOR ops]. */
function record(ops: unknown[]): Buffer {
  const payload = encode(ops);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(payload.byteLength, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

/** Write `bytes` at `position` of the file, in place (growing it if needed), as a disk might have. */
function overwrite(path: string, position: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.byteLength, position);
  } finally {
    closeSync(fd);
  }
}
