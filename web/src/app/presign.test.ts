import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOrgCa, createRootCa, issueCertificate } from '../../../src/identity/ca.ts';
import { holderOf } from './cert.ts';
import { withWebCryptoSigner } from './presign.ts';

const fakeSign = async (m: Uint8Array): Promise<Uint8Array> => new Uint8Array(64).fill(m[0] ?? 0);

describe('withWebCryptoSigner', () => {
  it('answers a deterministic builder with the asynchronous signatures of exactly its messages', async () => {
    const asked: number[] = [];
    const out = await withWebCryptoSigner(
      (s) => [s.sign(new Uint8Array([7])), s.sign(new Uint8Array([9]))],
      async (m) => {
        asked.push(m[0]!);
        return fakeSign(m);
      },
    );
    assert.deepEqual(asked, [7, 9]);
    assert.deepEqual(
      out.map((sig) => sig[0]),
      [7, 9],
    );
  });

  it('refuses a builder that asks for another message the second time', async () => {
    let n = 0;
    await assert.rejects(
      withWebCryptoSigner((s) => s.sign(new Uint8Array([n++])), fakeSign),
      /did not ask for before/,
    );
  });

  it('bounds the signatures one builder may ask for', async () => {
    await assert.rejects(
      withWebCryptoSigner((s) => {
        for (let i = 0; i < 100; i++) s.sign(new Uint8Array([i]));
      }, fakeSign),
      /more than 16 signatures/,
    );
  });
});

describe('holderOf', () => {
  it('reads organisation, role and name from a MedLedger certificate; null for what is not one', async () => {
    const root = await createRootCa({ commonName: 'root' });
    const ca = await createOrgCa(root, { org: 'Hospital9' });
    const admin = await issueCertificate(ca, { commonName: 'admin7', role: 'admin' });
    assert.deepEqual(holderOf(admin.certPem), { org: 'Hospital9', role: 'admin', name: 'admin7' });
    assert.equal(holderOf('not a certificate'), null);
    assert.equal(holderOf('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), null);
  });
});
