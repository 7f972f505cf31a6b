// The pieces of decisions 1150 and 1152 on their own: the node's HPKE key file and the
// served-read journal (durable across reopen, bounded, ordered, ids stable).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { newDataKey, unwrapAsRecipient, wrapForRecipient } from '../offchain/index.ts';
import { loadOrCreateNodeKey, NodeKeyError } from './nodekey.ts';
import { JournalFullError, ServedReadJournal } from './readjournal.ts';

const tmp = { dir: mkdtempSync(join(tmpdir(), 'medledger-journal-')) };
after(() => rmSync(tmp.dir, { recursive: true, force: true }));

describe('node HPKE key file', () => {
  it('is created once with mode 0600, reloads to the same pair, and works with HPKE', async () => {
    const path = join(tmp.dir, 'node-hpke.key');
    const a = loadOrCreateNodeKey(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(path).size, 32);
    const b = loadOrCreateNodeKey(path);
    assert.deepEqual(b.publicKey, a.publicKey);
    const dataKey = newDataKey();
    const aad = new Uint8Array([1, 2, 3]);
    assert.deepEqual(await unwrapAsRecipient(b.privateKey, await wrapForRecipient(a.publicKey, dataKey, aad), aad), dataKey);
    chmodSync(path, 0o644);
    loadOrCreateNodeKey(path);
    assert.equal(statSync(path).mode & 0o777, 0o600, 'a loosened mode is tightened');
  });

  it('refuses a key file of the wrong size', () => {
    const path = join(tmp.dir, 'bad.key');
    writeFileSync(path, new Uint8Array(31), { mode: 0o600 });
    assert.throws(
      () => loadOrCreateNodeKey(path),
      (e: Error) => e instanceof NodeKeyError && /must be 32 bytes, found 31/.test(e.message),
    );
  });
});

describe('served-read journal', () => {
  it('keeps events across a reopen, in order, with stable ids, until removed', () => {
    const path = join(tmp.dir, 'j1.sqlite');
    const j = new ServedReadJournal<{ n: number }>(path, 10);
    const ids = [1, 2, 3].map((n) => j.append({ n }));
    // While open, SQLite's side files hold the same entries: private too.
    for (const side of [`${path}-wal`, `${path}-shm`]) assert.equal(statSync(side).mode & 0o077, 0, `${side} private to the node`);
    assert.equal(new Set(ids).size, 3);
    assert.ok(ids.every((id) => /^[0-9a-f]{32}$/.test(id)));
    j.close();
    assert.equal(statSync(path).mode & 0o077, 0, 'private to the node');
    const again = new ServedReadJournal<{ n: number }>(path, 10);
    assert.deepEqual(
      again.pending(2).map((e) => [e.eventId, e.event.n]),
      [
        [ids[0], 1],
        [ids[1], 2],
      ],
    );
    again.remove([ids[0]!]);
    assert.deepEqual(
      again.pending(10).map((e) => e.event.n),
      [2, 3],
    );
    again.remove([ids[0]!, ids[1]!, ids[2]!]);
    assert.equal(again.size(), 0);
    again.close();
    assert.throws(() => again.append({ n: 4 }), /closed/);
  });

  it('refuses to grow past its capacity (the service then refuses to serve)', () => {
    const j = new ServedReadJournal<{ n: number }>(join(tmp.dir, 'j2.sqlite'), 2);
    j.append({ n: 1 });
    j.append({ n: 2 });
    assert.throws(
      () => j.append({ n: 3 }),
      (e: Error) => e instanceof JournalFullError && /audit backlog is full \(2 served reads not yet recorded on chain, capacity 2\)/.test(e.message),
    );
    j.remove(j.pending(1).map((e) => e.eventId));
    j.append({ n: 3 });
    assert.equal(j.size(), 2);
    j.close();
    assert.throws(() => new ServedReadJournal(join(tmp.dir, 'j3.sqlite'), 0), RangeError);
  });
});
