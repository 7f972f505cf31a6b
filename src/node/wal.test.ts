import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { utf8 } from '../codec/index.ts';
import { WalCorruptionError, WriteAheadLog } from './wal.ts';

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'medledger-wal-'));
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
    const d = dir();
    const wal = new WriteAheadLog(d);
    wal.apply([{ op: 'put', key: 'k1', value: utf8('v1') }]);
    wal.apply([{ op: 'put', key: 'k2', value: utf8('v2') }]);
    wal.close();
    const path = join(d, 'wal.log');
    const full = readFileSync(path);
    writeFileSync(path, full.subarray(0, full.byteLength - 3)); // crash mid-append
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.get('k1'), utf8('v1'));
    assert.equal(again.get('k2'), undefined);
    assert.ok(again.truncatedBytes > 0);
    again.apply([{ op: 'put', key: 'k3', value: utf8('v3') }]);
    again.close();
    assert.deepEqual(new WriteAheadLog(d).keysWithPrefix('k'), ['k1', 'k3']);
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
    wal.close();
    assert.ok(statSync(join(d, 'wal.log')).size < 200);
    const again = new WriteAheadLog(d);
    assert.deepEqual(again.get('k4'), utf8('v49'));
    appendFileSync(join(d, 'wal.log'), Buffer.from([1, 2])); // torn header after compaction
    assert.deepEqual(new WriteAheadLog(d).get('k0'), utf8('v45'));
  });
});
