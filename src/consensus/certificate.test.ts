// The one signature-counting rule every engine's certificates follow, as a table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from '../codec/index.ts';
import { directoryVerifier, generateKeyPair, sign, type KeyPair } from '../crypto/index.ts';
import { checkQuorumSignatures, type QuorumSignatureRule } from './certificate.ts';
import { EngineAssertionError, type CertificateSignature } from './engine.ts';

const members = ['n1', 'n2', 'n3', 'n4'];
const keys = new Map<string, KeyPair>(members.concat('outsider').map((id) => [id, generateKeyPair()]));
const verifier = directoryVerifier(new Map([...keys].map(([id, k]) => [id, k.publicKey])));
const statement = encode({ view: 1, seq: 7 });
const rule: QuorumSignatureRule = { eligible: members, quorum: 3, statement };

function signed(id: string, bytes = statement): CertificateSignature {
  return { nodeId: id, signature: sign(keys.get(id)!.privateKey, bytes) };
}

describe('checkQuorumSignatures', () => {
  const cases: Array<[string, CertificateSignature[], ReturnType<typeof checkQuorumSignatures>]> = [
    ['a quorum of distinct valid signers', [signed('n1'), signed('n2'), signed('n3')], { ok: true, signers: ['n1', 'n2', 'n3'] }],
    ['every member', members.map((m) => signed(m)), { ok: true, signers: members }],
    ['one short', [signed('n1'), signed('n2')], { ok: false, flaw: 'below-quorum' }],
    ['none', [], { ok: false, flaw: 'below-quorum' }],
    ['a signer twice (padding the count)', [signed('n1'), signed('n2'), signed('n2')], { ok: false, flaw: 'duplicate-signer', signer: 'n2' }],
    [
      'a duplicate beside a full quorum still rejects',
      [signed('n1'), signed('n2'), signed('n3'), signed('n3')],
      { ok: false, flaw: 'duplicate-signer', signer: 'n3' },
    ],
    ['a non-member', [signed('n1'), signed('n2'), signed('outsider')], { ok: false, flaw: 'not-eligible' }],
    [
      'a signature over another statement',
      [signed('n1'), signed('n2'), signed('n3', encode({ view: 2, seq: 7 }))],
      { ok: false, flaw: 'bad-signature', signer: 'n3' },
    ],
    ['more signatures than members (bounded work)', [...members.map((m) => signed(m)), signed('n1')], { ok: false, flaw: 'too-many-signatures' }],
  ];
  for (const [name, signatures, expected] of cases) {
    it(name, () => assert.deepEqual(checkQuorumSignatures(signatures, rule, verifier), expected));
  }

  it('a signature that is not bytes is a bad signature, not a crash', () => {
    const bad = { nodeId: 'n3', signature: 'abc' } as unknown as CertificateSignature;
    assert.deepEqual(checkQuorumSignatures([signed('n1'), signed('n2'), bad], rule, verifier), { ok: false, flaw: 'bad-signature', signer: 'n3' });
  });

  it('binds the signer into the statement when the scheme does (PBFT commits)', () => {
    const per = (id: string): Uint8Array => encode({ seq: 7, replica: id });
    const sigs = ['n1', 'n2', 'n3'].map((id) => signed(id, per(id)));
    assert.equal(checkQuorumSignatures(sigs, { ...rule, statement: per }, verifier).ok, true);
    // The same signatures against a statement without the signer are invalid.
    assert.equal(checkQuorumSignatures(sigs, rule, verifier).ok, false);
  });

  it('a quorum larger than the eligible set is a caller bug and stops the node', () => {
    assert.throws(() => checkQuorumSignatures([], { ...rule, quorum: 5 }, verifier), EngineAssertionError);
  });
});
