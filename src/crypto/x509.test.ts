import assert from 'node:assert/strict';
import { generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  checkIssuedBy,
  checkValidityAt,
  issueX509,
  normalizeSerialHex,
  parseCertificate,
  peculiarX509 as px,
  verifyChain,
  X509Error,
  type X509ErrorCode,
} from './x509.ts';

const T0 = new Date('2026-01-01T00:00:00Z');
const T_END = new Date('2031-01-01T00:00:00Z');
const MID_MS = Date.parse('2027-06-01T00:00:00Z');

function p256(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function throwsCode(fn: () => unknown, code: X509ErrorCode, messagePart?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof X509Error, `expected X509Error, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (messagePart !== undefined) assert.match(err.message, messagePart);
    return true;
  });
}

async function rejectsCode(promise: Promise<unknown>, code: X509ErrorCode, messagePart?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof X509Error, `expected X509Error, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (messagePart !== undefined) assert.match(err.message, messagePart);
    return true;
  });
}

/** Re-encode a DER certificate as PEM. */
function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}

describe('x509 chains: root CA → organisation CA → end entity', () => {
  const rootKeys = p256();
  const orgKeys = p256();
  const leafKeys = p256();
  let rootPem = '';
  let orgPem = '';
  let leafPem = '';
  let leafSerial = '';

  before(async () => {
    rootPem = (
      await issueX509({
        subject: { commonName: 'Test Root' },
        subjectPublicKey: rootKeys.publicKey,
        issuerKey: rootKeys.privateKey,
        notBefore: T0,
        notAfter: T_END,
        ca: { pathLength: 1 },
      })
    ).certPem;
    orgPem = (
      await issueX509({
        subject: { commonName: 'Hosp1 CA', organization: 'Hosp1' },
        subjectPublicKey: orgKeys.publicKey,
        issuerCertPem: rootPem,
        issuerKey: rootKeys.privateKey,
        notBefore: T0,
        notAfter: T_END,
        ca: { pathLength: 0 },
      })
    ).certPem;
    const leaf = await issueX509({
      subject: { commonName: 'alice', organization: 'Hosp1', organizationalUnits: ['doctor'] },
      subjectPublicKey: leafKeys.publicKey,
      issuerCertPem: orgPem,
      issuerKey: orgKeys.privateKey,
      notBefore: new Date('2026-02-01T00:00:00.999Z'),
      notAfter: new Date('2028-02-01T00:00:00Z'),
      hosts: ['node1.example', '10.0.0.1'],
    });
    leafPem = leaf.certPem;
    leafSerial = leaf.serialHex;
  });

  it('issues certificates carrying names, role OU, CA flags, key usage, serial and validity', () => {
    const root = parseCertificate(rootPem);
    const org = parseCertificate(orgPem);
    const leaf = parseCertificate(leafPem);
    assert.equal(root.subject.commonName, 'Test Root');
    assert.ok(root.isCa);
    assert.equal(root.pathLength, 1);
    assert.ok(org.isCa);
    assert.equal(org.pathLength, 0);
    assert.equal(org.subject.organization, 'Hosp1');
    assert.equal(leaf.isCa, false);
    assert.equal(leaf.pathLength, null);
    assert.deepEqual(leaf.subject, { commonName: 'alice', organization: 'Hosp1', organizationalUnits: ['doctor'], pseudonym: null });
    assert.equal(leaf.issuer.commonName, 'Hosp1 CA');
    assert.equal(leaf.keyUsage, px.KeyUsageFlags.digitalSignature);
    assert.equal((org.keyUsage ?? 0) & px.KeyUsageFlags.keyCertSign, px.KeyUsageFlags.keyCertSign);
    assert.equal(leaf.serialHex, leafSerial);
    assert.match(leafSerial, /^[4-7][0-9a-f]{31}$/);
    // Validity is floored to whole seconds.
    assert.equal(leaf.notBeforeMs, Date.parse('2026-02-01T00:00:00Z'));
    assert.equal(leaf.notAfterMs, Date.parse('2028-02-01T00:00:00Z'));
    assert.equal(leaf.authorityKeyId, org.subjectKeyId);
    assert.equal(org.authorityKeyId, root.subjectKeyId);
    assert.match(leaf.node.subjectAltName ?? '', /DNS:node1\.example/);
    assert.match(leaf.node.subjectAltName ?? '', /IP Address:10\.0\.0\.1/);
  });

  it('verifies the chain (with or without the root in it)', () => {
    const chain = verifyChain([leafPem, orgPem], rootPem, MID_MS);
    assert.equal(chain.leaf.subject.commonName, 'alice');
    assert.equal(chain.certificates.length, 3);
    assert.equal(verifyChain([leafPem, orgPem, rootPem], rootPem, MID_MS).certificates.length, 3);
    assert.equal(verifyChain([orgPem], rootPem, MID_MS).leaf.subject.commonName, 'Hosp1 CA');
  });

  it('checks validity at the given time, both bounds inclusive', () => {
    const leaf = parseCertificate(leafPem);
    checkValidityAt(leaf, leaf.notBeforeMs);
    checkValidityAt(leaf, leaf.notAfterMs);
    throwsCode(() => checkValidityAt(leaf, leaf.notBeforeMs - 1), 'NOT_YET_VALID', /not valid before 2026-02-01/);
    throwsCode(() => checkValidityAt(leaf, leaf.notAfterMs + 1), 'EXPIRED', /expired at 2028-02-01/);
    throwsCode(() => verifyChain([leafPem, orgPem], rootPem, Date.parse('2029-01-01')), 'EXPIRED', /alice/);
    throwsCode(() => verifyChain([leafPem, orgPem], rootPem, Date.parse('2026-01-15')), 'NOT_YET_VALID');
  });

  it('rejects an expired intermediate even when the leaf is valid', async () => {
    const shortOrgKeys = p256();
    const shortOrg = await issueX509({
      subject: { commonName: 'Short CA', organization: 'Short' },
      subjectPublicKey: shortOrgKeys.publicKey,
      issuerCertPem: rootPem,
      issuerKey: rootKeys.privateKey,
      notBefore: T0,
      notAfter: new Date('2026-06-01T00:00:00Z'),
      ca: { pathLength: 0 },
    });
    const leaf = await issueX509({
      subject: { commonName: 'bob', organization: 'Short', organizationalUnits: ['nurse'] },
      subjectPublicKey: p256().publicKey,
      issuerCertPem: shortOrg.certPem,
      issuerKey: shortOrgKeys.privateKey,
      notBefore: T0,
      notAfter: T_END,
    });
    verifyChain([leaf.certPem, shortOrg.certPem], rootPem, Date.parse('2026-03-01'));
    throwsCode(() => verifyChain([leaf.certPem, shortOrg.certPem], rootPem, MID_MS), 'EXPIRED', /CA certificate "CN=Short CA/);
  });

  it('rejects a chain to another root and a leaf presented with the wrong CA', async () => {
    const otherRootKeys = p256();
    const otherRoot = await issueX509({
      subject: { commonName: 'Test Root' }, // same name, different key
      subjectPublicKey: otherRootKeys.publicKey,
      issuerKey: otherRootKeys.privateKey,
      notBefore: T0,
      notAfter: T_END,
      ca: { pathLength: 1 },
    });
    throwsCode(() => verifyChain([leafPem, orgPem], otherRoot.certPem, MID_MS), 'NAME_MISMATCH', /authority key id/);
    throwsCode(() => verifyChain([leafPem], rootPem, MID_MS), 'NAME_MISMATCH', /names issuer "CN=Hosp1 CA, O=Hosp1", not "CN=Test Root"/);
  });

  it('rejects a tampered signature', () => {
    const der = new Uint8Array(parseCertificate(leafPem).der);
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    throwsCode(() => verifyChain([toPem(der), orgPem], rootPem, MID_MS), 'BAD_SIGNATURE', /does not verify/);
  });

  it('rejects a tampered body (e.g. a changed role)', () => {
    const der = Buffer.from(parseCertificate(leafPem).der);
    const at = der.indexOf(Buffer.from('doctor'));
    assert.ok(at > 0);
    der.write('nurse_', at, 'latin1');
    const pem = toPem(der);
    assert.deepEqual(parseCertificate(pem).subject.organizationalUnits, ['nurse_']);
    throwsCode(() => verifyChain([pem, orgPem], rootPem, MID_MS), 'BAD_SIGNATURE');
  });

  it('rejects an end-entity certificate used as an issuer (NOT_CA)', async () => {
    // A certificate with the org CA's name and key but cA=FALSE, then a leaf chained through it.
    const impostor = await issueX509({
      subject: { commonName: 'Hosp1 CA', organization: 'Hosp1' },
      subjectPublicKey: orgKeys.publicKey,
      issuerCertPem: rootPem,
      issuerKey: rootKeys.privateKey,
      notBefore: T0,
      notAfter: T_END,
    });
    throwsCode(() => verifyChain([leafPem, impostor.certPem], rootPem, MID_MS), 'NOT_CA', /is not a CA/);
    // And the issuing side refuses to issue from a non-CA certificate.
    await rejectsCode(
      issueX509({
        subject: { commonName: 'x' },
        subjectPublicKey: p256().publicKey,
        issuerCertPem: leafPem,
        issuerKey: leafKeys.privateKey,
        notBefore: T0,
        notAfter: T_END,
      }),
      'NOT_CA',
    );
  });

  it('enforces path length constraints', async () => {
    const subKeys = p256();
    const sub = await issueX509({
      subject: { commonName: 'Sub CA', organization: 'Hosp1' },
      subjectPublicKey: subKeys.publicKey,
      issuerCertPem: orgPem,
      issuerKey: orgKeys.privateKey,
      notBefore: T0,
      notAfter: T_END,
      ca: { pathLength: 0 },
    });
    const leaf = await issueX509({
      subject: { commonName: 'carol', organization: 'Hosp1', organizationalUnits: ['nurse'] },
      subjectPublicKey: p256().publicKey,
      issuerCertPem: sub.certPem,
      issuerKey: subKeys.privateKey,
      notBefore: T0,
      notAfter: T_END,
    });
    throwsCode(() => verifyChain([leaf.certPem, sub.certPem, orgPem], rootPem, MID_MS), 'PATH_LENGTH', /Hosp1 CA.*allows 0/);
  });

  it('checkIssuedBy requires keyCertSign on the issuer', () => {
    const org = parseCertificate(orgPem);
    const leaf = parseCertificate(leafPem);
    checkIssuedBy(leaf, org);
    throwsCode(() => checkIssuedBy(leaf, { ...org, keyUsage: px.KeyUsageFlags.digitalSignature }), 'KEY_USAGE');
  });

  it('rejects malformed input with MALFORMED', () => {
    throwsCode(() => parseCertificate('hello'), 'MALFORMED', /PEM/);
    throwsCode(() => parseCertificate(leafPem + orgPem), 'MALFORMED');
    throwsCode(() => parseCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), 'MALFORMED', /does not parse/);
    throwsCode(() => parseCertificate(`${leafPem}${' '.repeat(20_000)}`), 'MALFORMED', /bytes/);
    const truncated = toPem(parseCertificate(leafPem).der.subarray(0, 200));
    throwsCode(() => parseCertificate(truncated), 'MALFORMED');
    throwsCode(() => verifyChain([], rootPem, MID_MS), 'MALFORMED', /empty/);
    throwsCode(
      () =>
        verifyChain(
          Array.from({ length: 9 }, () => leafPem),
          rootPem,
          MID_MS,
        ),
      'MALFORMED',
      /longer/,
    );
  });

  it('rejects non-P-256 keys and non-SHA-256 signatures with NOT_P256', async () => {
    const p384 = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign', 'verify']);
    const crypto = webcrypto as unknown as Parameters<typeof px.X509CertificateGenerator.createSelfSigned>[1];
    const cert384 = await px.X509CertificateGenerator.createSelfSigned(
      {
        name: 'CN=p384',
        keys: p384 as unknown as px.X509CertificateCreateSelfSignedParams['keys'],
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } as px.X509CertificateCreateSelfSignedParams['signingAlgorithm'],
        notBefore: T0,
        notAfter: T_END,
      },
      crypto,
    );
    throwsCode(() => parseCertificate(cert384.toString('pem')), 'NOT_P256', /P-256/);
    const k256 = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const sha384 = await px.X509CertificateGenerator.createSelfSigned(
      {
        name: 'CN=sha384',
        keys: k256 as unknown as px.X509CertificateCreateSelfSignedParams['keys'],
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } as px.X509CertificateCreateSelfSignedParams['signingAlgorithm'],
        notBefore: T0,
        notAfter: T_END,
      },
      crypto,
    );
    throwsCode(() => parseCertificate(sha384.toString('pem')), 'NOT_P256', /SHA-384/);
    const ed = generateKeyPairSync('ed25519');
    await rejectsCode(
      issueX509({
        subject: { commonName: 'ed' },
        subjectPublicKey: ed.publicKey,
        issuerKey: ed.privateKey,
        notBefore: T0,
        notAfter: T_END,
        ca: { pathLength: 0 },
      }),
      'NOT_P256',
    );
  });

  it('validates issuing requests', async () => {
    const keys = p256();
    const base = { subjectPublicKey: keys.publicKey, issuerKey: keys.privateKey, ca: { pathLength: 0 } };
    await rejectsCode(issueX509({ ...base, subject: { commonName: 'a,b' }, notBefore: T0, notAfter: T_END }), 'INVALID_REQUEST', /common name/);
    await rejectsCode(issueX509({ ...base, subject: { commonName: '#x' }, notBefore: T0, notAfter: T_END }), 'INVALID_REQUEST');
    await rejectsCode(issueX509({ ...base, subject: { commonName: 'ok' }, notBefore: T_END, notAfter: T0 }), 'INVALID_REQUEST', /after notBefore/);
    await rejectsCode(issueX509({ ...base, subject: { commonName: 'ok' }, notBefore: new Date(NaN), notAfter: T0 }), 'INVALID_REQUEST', /valid date/);
    await rejectsCode(issueX509({ ...base, subject: { commonName: 'ok' }, notBefore: T0, notAfter: T_END, serialHex: 'xyz' }), 'INVALID_REQUEST', /hex/);
    await rejectsCode(
      issueX509({ ...base, issuerKey: p256().privateKey, subject: { commonName: 'ok' }, notBefore: T0, notAfter: T_END }),
      'INVALID_REQUEST',
      /does not match/,
    );
    await rejectsCode(
      issueX509({ subject: { commonName: 'ok' }, subjectPublicKey: keys.publicKey, issuerKey: keys.privateKey, notBefore: T0, notAfter: T_END }),
      'INVALID_REQUEST',
      /only issued for CAs/,
    );
    await rejectsCode(
      issueX509({
        subject: { commonName: 'ok' },
        subjectPublicKey: keys.publicKey,
        issuerCertPem: orgPem,
        issuerKey: orgKeys.privateKey,
        notBefore: T0,
        notAfter: T_END,
        hosts: ['bad host!'],
      }),
      'INVALID_REQUEST',
      /host/,
    );
  });

  it('carries a pseudonym as the X.520 pseudonym attribute (2.5.4.65), read back by both parsers', async () => {
    const pseudonym = 'c0ffee'.repeat(10);
    const issued = await issueX509({
      subject: { commonName: pseudonym, organization: 'Hosp1', organizationalUnits: ['patient'], pseudonym },
      subjectPublicKey: p256().publicKey,
      issuerCertPem: orgPem,
      issuerKey: orgKeys.privateKey,
      notBefore: T0,
      notAfter: T_END,
    });
    const parsed = parseCertificate(issued.certPem);
    assert.equal(parsed.subject.pseudonym, pseudonym);
    assert.match(parsed.node.subject, new RegExp(`^pseudonym=${pseudonym}$`, 'm'));
    await rejectsCode(
      issueX509({
        subject: { commonName: 'p', pseudonym: 'has, comma' },
        subjectPublicKey: p256().publicKey,
        issuerCertPem: orgPem,
        issuerKey: orgKeys.privateKey,
        notBefore: T0,
        notAfter: T_END,
      }),
      'INVALID_REQUEST',
      /pseudonym/,
    );
  });

  it('keeps explicit serials exactly, including ones with the top bit set', async () => {
    for (const serial of ['1', 'ff', '00ab', '8000000000000000000001']) {
      const issued = await issueX509({
        subject: { commonName: 's', organization: 'Hosp1', organizationalUnits: ['patient'] },
        subjectPublicKey: p256().publicKey,
        issuerCertPem: orgPem,
        issuerKey: orgKeys.privateKey,
        notBefore: T0,
        notAfter: T_END,
        serialHex: serial,
      });
      assert.equal(issued.serialHex, normalizeSerialHex(serial));
      assert.equal(parseCertificate(issued.certPem).serialHex, normalizeSerialHex(serial));
    }
    assert.equal(normalizeSerialHex('00AB'), 'ab');
    assert.equal(normalizeSerialHex('000'), '0');
  });

  it('encodes validity beyond 2049 (GeneralizedTime) exactly', async () => {
    const keys = p256();
    const far = await issueX509({
      subject: { commonName: 'far' },
      subjectPublicKey: keys.publicKey,
      issuerKey: keys.privateKey,
      notBefore: new Date('1999-12-31T23:59:59Z'),
      notAfter: new Date('2070-07-01T12:00:00Z'),
      ca: { pathLength: 0 },
    });
    const parsed = parseCertificate(far.certPem);
    assert.equal(parsed.notBeforeMs, Date.parse('1999-12-31T23:59:59Z'));
    assert.equal(parsed.notAfterMs, Date.parse('2070-07-01T12:00:00Z'));
  });
});
