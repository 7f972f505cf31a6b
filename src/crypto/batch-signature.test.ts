import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../codec/index.ts';
import {
  BATCH_MESSAGES_MAX,
  batchTree,
  isBatchSignature,
  openBatchSignature,
  P1363_SIGNATURE_SIZE_BYTES,
  signBatch,
  signBatchAsync,
  verifyBatchable,
} from './batch-signature.ts';
import { cryptoCounters, generateKeyPair, sign, verify, verifyUncached, verifiedSignatureMemo } from './ecdsa.ts';

const alice = generateKeyPair();
const bob = generateKeyPair();
const messages = (n: number, tag = 'm') => Array.from({ length: n }, (_, i) => utf8(`${tag} ${i}`));
const signAlice = (m: Uint8Array) => sign(alice.privateKey, m);
/** Verification without the process memo: every check below is computed, not remembered. */
const plain = verifyUncached;

describe('batch signatures', () => {
  it('every message of a batch of any width verifies on its own, and only its own', () => {
    for (const n of [2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 64, 100]) {
      const ms = messages(n);
      const signatures = signBatch(ms, signAlice);
      assert.equal(signatures.length, n);
      signatures.forEach((s, i) => {
        assert.ok(isBatchSignature(s), `n=${n}: message ${i} has a batch signature`);
        assert.ok(verifyBatchable(plain, alice.publicKey, ms[i]!, s), `n=${n}: message ${i} verifies`);
        assert.equal(verifyBatchable(plain, alice.publicKey, ms[(i + 1) % n]!, s), false, `n=${n}: not for message ${i + 1}`);
        assert.equal(verifyBatchable(plain, bob.publicKey, ms[i]!, s), false, `n=${n}: not under another key`);
      });
      // A path is as long as the tree is deep (odd nodes go up without a step).
      const depth = Math.ceil(Math.log2(n));
      assert.ok(signatures.every((s) => s.byteLength <= 2 + 64 + depth * 33));
    }
  });

  it('one message gets a plain signature; the async form gives the same kind of answers', async () => {
    const [one] = signBatch([utf8('alone')], signAlice);
    assert.equal(one!.byteLength, P1363_SIGNATURE_SIZE_BYTES);
    assert.ok(verifyBatchable(plain, alice.publicKey, utf8('alone'), one!));
    const ms = messages(5, 'async');
    const signatures = await signBatchAsync(ms, async (m) => signAlice(m));
    signatures.forEach((s, i) => assert.ok(verifyBatchable(plain, alice.publicKey, ms[i]!, s)));
    assert.deepEqual(await signBatchAsync([], signAlice), []);
  });

  it('a flipped byte anywhere in the message or the signature is refused', () => {
    const ms = messages(6);
    const signatures = signBatch(ms, signAlice);
    const s = signatures[3]!;
    for (let at = 0; at < s.byteLength; at += 1) {
      const bad = s.slice();
      bad[at]! ^= 0x01;
      assert.equal(verifyBatchable(plain, alice.publicKey, ms[3]!, bad), false, `byte ${at} of the signature`);
    }
    const m = ms[3]!.slice();
    m[0]! ^= 0x01;
    assert.equal(verifyBatchable(plain, alice.publicKey, m, s), false);
  });

  it('malformed forms are not valid, and never throw: truncated, wrong depth, bad side byte, too deep', () => {
    const ms = messages(4);
    const s = signBatch(ms, signAlice)[1]!;
    const cases = [s.subarray(0, s.byteLength - 1), new Uint8Array([0xb5]), new Uint8Array([0xb5, 0]), new Uint8Array(65).fill(0xb5)];
    const wrongDepth = s.slice();
    wrongDepth[1] = 3;
    cases.push(wrongDepth);
    const badSide = s.slice();
    badSide[2 + 64] = 2;
    cases.push(badSide);
    const tooDeep = new Uint8Array(2 + 64 + 13 * 33);
    tooDeep[0] = 0xb5;
    tooDeep[1] = 13;
    cases.push(tooDeep);
    for (const c of cases) {
      assert.equal(openBatchSignature(ms[1]!, c), null);
      assert.equal(verifyBatchable(plain, alice.publicKey, ms[1]!, c), false);
    }
    assert.throws(() => batchTree([utf8('one')]), /2 to/);
    assert.throws(() => batchTree(messages(BATCH_MESSAGES_MAX + 1)), /2 to/);
  });

  it('a root signature is no plain signature of anything the signer signs, and a plain signature no batch', () => {
    const ms = messages(2);
    const tree = batchTree(ms);
    assert.equal(tree.rootMessage[0], 0xff, 'the root message starts with a byte no DAG-CBOR or UTF-8 text starts with');
    const rootSignature = signAlice(tree.rootMessage);
    // The root signature alone, as a plain signature, is valid only for the root message itself.
    assert.equal(verifyBatchable(plain, alice.publicKey, ms[0]!, rootSignature), false);
    // A plain signature of message 0 cannot stand in for a root signature.
    const forged = tree.signatureFor(0, signAlice(ms[0]!));
    assert.equal(verifyBatchable(plain, alice.publicKey, ms[0]!, forged), false);
    assert.ok(verifyBatchable(plain, alice.publicKey, ms[0]!, tree.signatureFor(0, rootSignature)));
  });

  it('with the process memo, a batch of n messages costs one ECDSA verification', () => {
    verifiedSignatureMemo().clear();
    const ms = messages(32, 'memo');
    const signatures = signBatch(ms, signAlice);
    const before = cryptoCounters().verifies;
    signatures.forEach((s, i) => assert.ok(verifyBatchable(verify, alice.publicKey, ms[i]!, s)));
    assert.equal(cryptoCounters().verifies - before, 1);
    // A wrong message still fails with the memo warm.
    assert.equal(verifyBatchable(verify, alice.publicKey, utf8('not in the batch'), signatures[0]!), false);
  });

  it("a stricter verifier never inherits another verifier's success", () => {
    const ms = messages(3, 'strict');
    const signatures = signBatch(ms, signAlice);
    assert.ok(verifyBatchable(plain, alice.publicKey, ms[0]!, signatures[0]!));
    assert.equal(
      verifyBatchable(() => false, alice.publicKey, ms[0]!, signatures[0]!),
      false,
    );
  });
});
