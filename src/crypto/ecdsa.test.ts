import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../codec/index.ts';
import {
  CryptoError,
  cryptoCounters,
  directoryVerifier,
  generateKeyPair,
  keyPairSigner,
  parsePrivateKey,
  parsePublicKey,
  privateKeyToPem,
  publicKeyToDer,
  publicKeyToPem,
  sign,
  signAndRemember,
  verify,
  verifyUncached,
  verifiedSignatureMemo,
  VerifiedSignatureMemo,
} from './ecdsa.ts';

describe('ecdsa p-256', () => {
  const pair = generateKeyPair();
  const message = utf8('MedLedger block 42');

  it('counts every sign and every verification computed', () => {
    const before = cryptoCounters();
    const sig = sign(pair.privateKey, utf8(`counted ${Math.random()}`));
    assert.ok(!verify(pair.publicKey, message, sig));
    assert.ok(!verify(pair.publicKey, message, sig.subarray(0, 10))); // rejected by size: no ECDSA work
    const after = cryptoCounters();
    assert.equal(after.signs - before.signs, 1);
    assert.equal(after.verifies - before.verifies, 1);
  });

  it('verifies its own signature and rejects a changed message or signature', () => {
    const sig = sign(pair.privateKey, message);
    assert.equal(sig.byteLength, 64);
    assert.ok(verify(pair.publicKey, message, sig));
    assert.ok(!verify(pair.publicKey, utf8('MedLedger block 43'), sig));
    const flipped = new Uint8Array(sig);
    flipped[10] = (flipped[10] ?? 0) ^ 1;
    assert.ok(!verify(pair.publicKey, message, flipped));
    assert.ok(!verify(pair.publicKey, message, sig.subarray(0, 63)));
    assert.ok(!verify(generateKeyPair().publicKey, message, sig));
  });

  it('round-trips keys through PEM and DER, and caches parsed public keys', () => {
    const der = publicKeyToDer(pair.publicKey);
    assert.equal(parsePublicKey(der), parsePublicKey(der));
    const pub = parsePublicKey(publicKeyToPem(pair.publicKey));
    const priv = parsePrivateKey(privateKeyToPem(pair.privateKey));
    assert.ok(verify(pub, message, sign(priv, message)));
  });

  it('rejects garbage and non-P-256 keys with a CryptoError', () => {
    assert.throws(() => parsePublicKey(new Uint8Array([1, 2, 3])), CryptoError);
    assert.throws(() => parsePrivateKey('not a key'), CryptoError);
  });

  it('directory verifier only accepts known identities', () => {
    const signer = keyPairSigner('org1-orderer', pair);
    const verifier = directoryVerifier(new Map([['org1-orderer', pair.publicKey]]));
    const sig = signer.sign(message);
    assert.ok(verifier.verify('org1-orderer', message, sig));
    assert.ok(!verifier.verify('org2-orderer', message, sig));
  });

  it('verifies each signature once per process: a repeat is a memo hit, a failure is never remembered', () => {
    const m = utf8(`memo ${Math.random()}`);
    const sig = sign(pair.privateKey, m);
    const c0 = cryptoCounters();
    assert.ok(verify(pair.publicKey, m, sig));
    assert.ok(verify(pair.publicKey, m, sig));
    assert.ok(verify(pair.publicKey, m, sig));
    const c1 = cryptoCounters();
    assert.equal(c1.verifies - c0.verifies, 1);
    assert.equal(c1.verifyCacheHits - c0.verifyCacheHits, 2);
    // Another key, message or signature is not a hit (and does not verify).
    const other = generateKeyPair();
    assert.ok(!verify(other.publicKey, m, sig));
    assert.ok(!verify(pair.publicKey, utf8(`${m.length}x`), sig));
    const bad = new Uint8Array(sig);
    bad[63] = (bad[63] ?? 0) ^ 0x80;
    assert.ok(!verify(pair.publicKey, m, bad));
    assert.ok(!verify(pair.publicKey, m, bad));
    const c2 = cryptoCounters();
    assert.equal(c2.verifyCacheHits, c1.verifyCacheHits);
    assert.equal(c2.verifies - c1.verifies, 4, 'failures are recomputed every time');
    // The same objects again: answered by identity (no hashing), still counted as a hit.
    const c3 = cryptoCounters();
    assert.ok(verify(pair.publicKey, m, sig));
    assert.equal(cryptoCounters().verifyCacheHits - c3.verifyCacheHits, 1);
    assert.equal(cryptoCounters().verifies, c3.verifies);
    // Clearing the memo voids the by-object entries too: the next check computes.
    verifiedSignatureMemo().clear();
    assert.ok(verify(pair.publicKey, m, sig));
    assert.equal(cryptoCounters().verifies - c3.verifies, 1);
    // The uncached form computes every time (what a rate measurement needs).
    const c4 = cryptoCounters();
    assert.ok(verifyUncached(pair.publicKey, m, sig));
    assert.equal(cryptoCounters().verifies - c4.verifies, 1);
    // A private key object given as the key is handled (Node verifies with its public half).
    assert.ok(verify(pair.privateKey, m, sig));
  });

  it("remembers the process's own signatures made with signAndRemember: verifying one is a memo hit, under the key parsed from its DER too", () => {
    const m = utf8(`own ${Math.random()}`);
    const sig = signAndRemember(pair.privateKey, m);
    const fromDer = parsePublicKey(publicKeyToDer(pair.publicKey)); // as a certificate's key arrives
    const c0 = cryptoCounters();
    assert.ok(verify(fromDer, m, sig));
    const c1 = cryptoCounters();
    assert.equal(c1.verifies - c0.verifies, 0, 'no ECDSA computed for a signature this process made');
    assert.equal(c1.verifyCacheHits - c0.verifyCacheHits, 1);
    // Only that exact triple: another message or a flipped bit is computed (and fails).
    assert.ok(!verify(fromDer, utf8(`${m.length}y`), sig));
    const flipped = new Uint8Array(sig);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    assert.ok(!verify(fromDer, m, flipped));
    assert.equal(cryptoCounters().verifies - c1.verifies, 2);
    // Plain sign() (what clients use) remembers nothing: the first check computes.
    const m2 = utf8(`plain ${Math.random()}`);
    const sig2 = sign(pair.privateKey, m2);
    const c2 = cryptoCounters();
    assert.ok(verify(fromDer, m2, sig2));
    assert.equal(cryptoCounters().verifies - c2.verifies, 1);
  });

  it('keeps the memo bounded: oldest entries evicted first', () => {
    const memo = new VerifiedSignatureMemo(3);
    const entries = [0, 1, 2, 3, 4].map((i) => memo.entry(pair.publicKey, utf8(`m${i}`), new Uint8Array(64).fill(i)));
    assert.equal(new Set(entries).size, 5);
    for (const e of entries) memo.add(e);
    assert.equal(memo.size, 3);
    assert.ok(!memo.has(entries[0]!) && !memo.has(entries[1]!));
    assert.ok(memo.has(entries[2]!) && memo.has(entries[4]!));
    memo.add(entries[4]!); // no duplicate growth
    assert.equal(memo.size, 3);
    const none = new VerifiedSignatureMemo(0);
    none.add(entries[0]!);
    assert.equal(none.size, 0);
    assert.throws(() => new VerifiedSignatureMemo(-1), RangeError);
    assert.ok(verifiedSignatureMemo().size <= verifiedSignatureMemo().entriesMax);
  });
});
