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
import { AUTH_HEADERS, parseAudience, requestAudience, signRequest, type RequestSigner } from './request-signing.ts';

/** Two consortia's genesis hashes: node ids repeat across consortia, their hashes do not. */
const CONSORTIUM = 'c'.repeat(64);
const OTHER_CONSORTIUM = 'd'.repeat(64);
const at = (nodeId: string, consortiumHex = CONSORTIUM): string => requestAudience(nodeId, consortiumHex);

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

describe('signed requests (MEDLEDGER-REQUEST-V3)', () => {
  it('a WebCrypto signer with a non-extractable key is accepted like a node:crypto one', async () => {
    const user = consortium.users[0]!;
    const key = await importP256SigningKey(user.keyPem);
    assert.equal(key.extractable, false);
    await assert.rejects(webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey), /not extractable/i);
    assert.equal(await check({ certPem: user.certPem, ...webCryptoSigner(key) }, at('node.Hospital1'), at('node.Hospital1')), 'Hospital1/doctor1');
    assert.equal(await check(pemSigner(user.certPem, user.keyPem), at('node.Hospital1'), at('node.Hospital1')), 'Hospital1/doctor1');
  });

  it('a request signed for one node is refused by another, naming both', async () => {
    const user = consortium.users[0]!;
    await assert.rejects(
      check(pemSigner(user.certPem, user.keyPem), at('node.Hospital1'), at('node.Hospital2')),
      (err: unknown) => err instanceof AuthError && err.code === 'WRONG_AUDIENCE' && /node\.Hospital1.*node\.Hospital2/.test(err.message),
    );
  });

  it('a request signed for a node of another consortium with the same id is refused, naming both consortia (decision 1398)', async () => {
    const user = consortium.users[0]!;
    await assert.rejects(
      check(pemSigner(user.certPem, user.keyPem), at('node.Hospital1', OTHER_CONSORTIUM), at('node.Hospital1')),
      (err: unknown) =>
        err instanceof AuthError &&
        err.code === 'WRONG_AUDIENCE' &&
        /of consortium dddddddddddddddd…, but this node is of consortium cccccccccccccccc…/.test(err.message),
    );
    // The node id alone (MEDLEDGER-REQUEST-V2) is not an audience any more.
    await assert.rejects(
      check(pemSigner(user.certPem, user.keyPem), 'node.Hospital1', at('node.Hospital1')),
      (err: unknown) => err instanceof AuthError && err.code === 'UNAUTHENTICATED' && /<node id>@<consortium genesis hash, hex>/.test(err.message),
    );
    assert.deepEqual(parseAudience(at('node.H-1_a')), { nodeId: 'node.H-1_a', consortiumHex: CONSORTIUM });
    for (const bad of ['node.Hospital1', `node.Hospital1@${'C'.repeat(64)}`, `@${CONSORTIUM}`, `a@${CONSORTIUM}@x`, `${'n'.repeat(129)}@${CONSORTIUM}`])
      assert.equal(parseAudience(bad), null, bad);
  });

  it('the audience is covered by the signature', async () => {
    const user = consortium.users[0]!;
    const nowMs = Date.now();
    const body = utf8('');
    const headers = await signRequest({
      audience: at('node.Hospital1'),
      method: 'GET',
      pathAndQuery: '/v1/status',
      body,
      signer: pemSigner(user.certPem, user.keyPem),
      nowMs,
    });
    const relabelled = { ...headers, [AUTH_HEADERS.audience]: at('node.Hospital2') };
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
          audience: at('node.Hospital2'),
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
          audience: at('node.Hospital1'),
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
