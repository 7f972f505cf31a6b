// The browser's enrolment request (WebCrypto only) is the request the CA admin's tools accept:
// its signature proves possession, its name is read back, a certificate issued from it is for
// the browser's key (a signature by the non-extractable key verifies against the certificate),
// and a request altered after signing is refused.
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { createOrgCa, createRootCa } from './ca.ts';
import { enrolFromRequest, readEnrolmentRequest } from './enrolment.ts';
import { createWebCryptoEnrolmentRequest, p1363ToDer } from './enrolment-webcrypto.ts';

describe('enrolment request made with WebCrypto alone', () => {
  it('is a valid PKCS#10 request for the name, signed by a non-extractable key the issued certificate names', async () => {
    const req = await createWebCryptoEnrolmentRequest('doctor.new-7');
    assert.equal(req.privateKey.extractable, false);
    await assert.rejects(crypto.subtle.exportKey('pkcs8', req.privateKey));
    const read = await readEnrolmentRequest(req.csrPem);
    assert.equal(read.commonName, 'doctor.new-7');

    const root = await createRootCa({ commonName: 'Test Root' });
    const ca = await createOrgCa(root, { org: 'Hospital1' });
    const cert = await enrolFromRequest(ca, req.csrPem, { role: 'doctor' });
    const message = new TextEncoder().encode('signed in the browser');
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, req.privateKey, message));
    assert.ok(verify('sha256', message, { key: createPublicKey(cert.certPem), dsaEncoding: 'ieee-p1363' }, sig), 'the certificate is for the browser key');
  });

  it('a request whose name was altered after signing fails proof of possession; a bad name is refused before any key is made', async () => {
    const req = await createWebCryptoEnrolmentRequest('nurse1');
    const der = Buffer.from(req.csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('nurse1'));
    der.set(Buffer.from('nurse2'), at);
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(readEnrolmentRequest(forged), /proof of possession|BAD_SIGNATURE/);
    await assert.rejects(createWebCryptoEnrolmentRequest('bad name'), /not allowed/);
  });

  it('DER signatures: minimal integers, a zero byte before a set top bit', () => {
    const sig = new Uint8Array(64);
    sig[0] = 0x80;
    sig[63] = 1;
    const der = p1363ToDer(sig);
    // SEQUENCE { INTEGER 00 80 00…, INTEGER 01 }
    assert.equal(der[0], 0x30);
    assert.deepEqual([...der.slice(2, 5)], [0x02, 33, 0x00]);
    assert.deepEqual([...der.slice(-3)], [0x02, 1, 1]);
    assert.throws(() => p1363ToDer(new Uint8Array(63)));
  });
});
