// The browser's signing path (a non-extractable WebCrypto key) must produce requests the server
// accepts exactly like the Node path (node:crypto), and each request is bound to one node.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { webcrypto } from 'node:crypto';
import { utf8 } from '../codec/index.ts';
import { importP256SigningKey, webCryptoSigner, WebCryptoKeyError } from '../crypto/webcrypto.ts';
import { AuthError, NonceCache, verifyRequest } from '../api/auth.ts';
import { createConsortium, Msp, type Consortium } from '../identity/index.ts';
import { pemSigner } from '../sdk/signer.ts';
import { AUTH_HEADERS, signRequest, type RequestSigner } from './request-signing.ts';

let consortium: Consortium;
let msp: Msp;

before(async () => {
  consortium = await createConsortium({ orgs: ['Hospital1'], users: [{ org: 'Hospital1', commonName: 'doctor1', role: 'doctor' }] });
  msp = new Msp(consortium.mspConfig);
});

async function check(signer: RequestSigner, signedFor: string, node: string, body = utf8('{"a":1}')): Promise<string> {
  const nowMs = Date.now();
  const headers = await signRequest({ audience: signedFor, method: 'POST', pathAndQuery: '/v1/evaluate?x=1', body, signer, nowMs });
  const id = verifyRequest({
    method: 'POST',
    pathAndQuery: '/v1/evaluate?x=1',
    headers,
    body,
    msp,
    nonces: new NonceCache(300_000, 100),
    nowMs,
    audience: node,
  });
  return `${id.org}/${id.id}`;
}

describe('signed requests (MEDLEDGER-REQUEST-V2)', () => {
  it('a WebCrypto signer with a non-extractable key is accepted like a node:crypto one', async () => {
    const user = consortium.users[0]!;
    const key = await importP256SigningKey(user.keyPem);
    assert.equal(key.extractable, false);
    await assert.rejects(webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey), /not extractable/i);
    assert.equal(await check({ certPem: user.certPem, ...webCryptoSigner(key) }, 'node.Hospital1', 'node.Hospital1'), 'Hospital1/doctor1');
    assert.equal(await check(pemSigner(user.certPem, user.keyPem), 'node.Hospital1', 'node.Hospital1'), 'Hospital1/doctor1');
  });

  it('a request signed for one node is refused by another, naming both', async () => {
    const user = consortium.users[0]!;
    await assert.rejects(
      check(pemSigner(user.certPem, user.keyPem), 'node.Hospital1', 'node.Hospital2'),
      (err: unknown) => err instanceof AuthError && err.code === 'WRONG_AUDIENCE' && /node\.Hospital1.*node\.Hospital2/.test(err.message),
    );
  });

  it('the audience is covered by the signature', async () => {
    const user = consortium.users[0]!;
    const nowMs = Date.now();
    const body = utf8('');
    const headers = await signRequest({
      audience: 'node.Hospital1',
      method: 'GET',
      pathAndQuery: '/v1/status',
      body,
      signer: pemSigner(user.certPem, user.keyPem),
      nowMs,
    });
    const relabelled = { ...headers, [AUTH_HEADERS.audience]: 'node.Hospital2' };
    assert.throws(
      () =>
        verifyRequest({
          method: 'GET',
          pathAndQuery: '/v1/status',
          headers: relabelled,
          body,
          msp,
          nonces: new NonceCache(300_000, 100),
          nowMs,
          audience: 'node.Hospital2',
        }),
      (err: unknown) => err instanceof AuthError && err.code === 'BAD_SIGNATURE',
    );
    assert.throws(
      () =>
        verifyRequest({
          method: 'GET',
          pathAndQuery: '/v1/status',
          headers: { ...headers, [AUTH_HEADERS.audience]: 'bad audience!' },
          body,
          msp,
          nonces: new NonceCache(300_000, 100),
          nowMs,
          audience: 'node.Hospital1',
        }),
      (err: unknown) => err instanceof AuthError && err.code === 'UNAUTHENTICATED',
    );
  });

  it('importing something that is not a PKCS#8 P-256 key names the problem', async () => {
    const user = consortium.users[0]!;
    await assert.rejects(
      importP256SigningKey(user.certPem),
      (err: unknown) => err instanceof WebCryptoKeyError && /expected a PEM "PRIVATE KEY", found "CERTIFICATE"/.test(err.message),
    );
    await assert.rejects(importP256SigningKey('hello'), (err: unknown) => err instanceof WebCryptoKeyError && /not a PEM file/.test(err.message));
    await assert.rejects(
      importP256SigningKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'),
      (err: unknown) => err instanceof WebCryptoKeyError && /not an ECDSA P-256 private key/.test(err.message),
    );
  });
});
