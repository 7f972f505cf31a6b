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
  verify,
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
});
