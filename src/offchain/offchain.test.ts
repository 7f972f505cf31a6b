import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { importBytes } from 'ipfs-unixfs-importer';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { utf8 } from '../codec/index.ts';
import { cidOf } from './cid.ts';
import { FsBlobStore } from './blobstore.ts';
import { checkCommitment, commit, generateHpkeKeyPair, IntegrityError, newDataKey, open, seal, unwrapAsRecipient, wrapForRecipient } from './envelope.ts';
import { tempDirRemovedAtExit } from '../testing/temp-dir.ts';

function pseudoRandom(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('content addresses', () => {
  it('equal multiformats CIDv1 raw sha2-256 for blobs up to 256 KiB', async () => {
    for (const size of [0, 1, 1000, 256 * 1024]) {
      const bytes = pseudoRandom(size, size + 1);
      const expected = CID.create(1, raw.code, await sha256.digest(bytes)).toString();
      assert.equal(await cidOf(bytes), expected);
    }
  });

  it('equal the IPFS importer (kubo defaults, CIDv1) for larger files', async () => {
    const bytes = pseudoRandom(700 * 1024, 7);
    const blocks: unknown[] = [];
    const sink = {
      put: async (cid: unknown) => {
        blocks.push(cid);
        return cid;
      },
    } as unknown as Parameters<typeof importBytes>[1];
    const independent = await importBytes(bytes, sink, { cidVersion: 1, rawLeaves: true });
    assert.equal(await cidOf(bytes), independent.cid.toString());
    assert.ok(blocks.length >= 4, 'a multi-block DAG: three leaves and a root');
    assert.ok(independent.cid.toString().startsWith('bafybei'), 'dag-pb root');
  });
});

describe('envelope encryption', () => {
  it('round-trips and rejects a flipped byte, a wrong key or a wrong context', () => {
    const key = newDataKey();
    const aad = utf8('record r1 part normal v1');
    const sealed = seal(key, utf8('{"resourceType":"Observation"}'), aad);
    assert.equal(new TextDecoder().decode(open(key, sealed, aad)), '{"resourceType":"Observation"}');
    const tampered = new Uint8Array(sealed);
    tampered[15] = (tampered[15] ?? 0) ^ 1;
    assert.throws(() => open(key, tampered, aad), IntegrityError);
    assert.throws(() => open(newDataKey(), sealed, aad), IntegrityError);
    assert.throws(() => open(key, sealed, utf8('record r2 part normal v1')), IntegrityError);
    assert.throws(() => open(key, sealed.subarray(0, 10), aad), /too short/);
  });

  it('keyed commitments differ per key and verify only with the right plaintext', () => {
    const k1 = newDataKey();
    const c = commit(k1, utf8('HIV positive'));
    assert.ok(checkCommitment(k1, utf8('HIV positive'), c));
    assert.ok(!checkCommitment(k1, utf8('HIV negative'), c));
    assert.notDeepEqual(commit(newDataKey(), utf8('HIV positive')), c, 'without the key the commitment confirms nothing');
  });

  it('wraps a data key for one recipient only (HPKE X25519)', async () => {
    const alice = await generateHpkeKeyPair();
    const bob = await generateHpkeKeyPair();
    const dataKey = newDataKey();
    const wrapped = await wrapForRecipient(alice.publicKey, dataKey, utf8('r1'));
    assert.deepEqual(await unwrapAsRecipient(alice.privateKey, wrapped, utf8('r1')), dataKey);
    await assert.rejects(unwrapAsRecipient(bob.privateKey, wrapped, utf8('r1')), IntegrityError);
    await assert.rejects(unwrapAsRecipient(alice.privateKey, wrapped, utf8('r2')), IntegrityError);
  });
});

describe('file blob store', () => {
  it('stores under the CID, verifies on read, names the blob when bytes were tampered with, deletes', async () => {
    const dir = tempDirRemovedAtExit('medledger-blobs-');
    const store = new FsBlobStore(dir);
    const bytes = utf8('ciphertext bytes');
    const cid = await store.put(bytes);
    assert.equal(cid, await cidOf(bytes));
    assert.equal(await store.put(bytes), cid, 'idempotent');
    assert.deepEqual(await store.get(cid), bytes);
    const shard = readdirSync(join(dir, 'blobs'))[0]!;
    const path = join(dir, 'blobs', shard, cid);
    const onDisk = readFileSync(path);
    onDisk[0] = (onDisk[0] ?? 0) ^ 1;
    writeFileSync(path, onDisk);
    await assert.rejects(store.get(cid), (e: Error) => e instanceof IntegrityError && e.message.includes(cid));
    assert.ok(await store.delete(cid));
    assert.equal(await store.get(cid), null);
    assert.equal(await store.delete(cid), false);
    await assert.rejects(store.get('../../etc/passwd'), /not a valid CID/);
  });
});
