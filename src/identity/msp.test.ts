import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { issueX509, parseCertificate, parseP256PrivateKey, peculiarX509 as px, X509Error } from '../crypto/x509.ts';
import { createOrgCa, createRootCa, issueCertificate, type CertificateAuthority } from './ca.ts';
import { distinctPrincipals, IdentityError, Msp, MSP_CACHE_ENTRIES_MAX, type IdentityErrorCode, type MspConfig } from './msp.ts';
import { ROLES } from './roles.ts';

const NB = new Date('2026-01-01T00:00:00Z');
const NA = new Date('2036-01-01T00:00:00Z');
const NOW_MS = Date.parse('2027-03-01T12:00:00Z');
const PSEUDONYM = '5e'.repeat(32);

function throwsIdentity(fn: () => unknown, code: IdentityErrorCode, messagePart?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof IdentityError, `expected IdentityError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (messagePart !== undefined) assert.match(err.message, messagePart);
    return true;
  });
}

describe('CAs and the MSP', () => {
  let root: CertificateAuthority;
  let hosp1: CertificateAuthority;
  let hosp2: CertificateAuthority;
  let config: MspConfig;
  let msp: Msp;

  before(async () => {
    root = await createRootCa({ commonName: 'MedLedger Root', notBefore: NB, notAfter: NA });
    hosp1 = await createOrgCa(root, { org: 'Hosp1', notBefore: NB, notAfter: NA });
    hosp2 = await createOrgCa(root, { org: 'Hosp2', notBefore: NB, notAfter: NA });
    config = {
      rootCertPem: root.certPem,
      orgs: [
        { org: 'Hosp1', caCertPem: hosp1.certPem },
        { org: 'Hosp2', caCertPem: hosp2.certPem },
      ],
    };
    msp = new Msp(config);
  });

  it('creates CAs with the documented names and flags', () => {
    assert.equal(root.org, null);
    assert.equal(root.name, 'MedLedger Root');
    assert.equal(hosp1.org, 'Hosp1');
    assert.equal(hosp1.name, 'Hosp1 CA');
    const ca = parseCertificate(hosp1.certPem);
    assert.ok(ca.isCa);
    assert.equal(ca.subject.organization, 'Hosp1');
    assert.deepEqual(msp.orgs(), ['Hosp1', 'Hosp2']);
  });

  it('maps a certificate to (org, role, id) for every issuable role', async () => {
    for (const role of ROLES) {
      // A patient's certificate is issued to their pseudonym (decision 0906).
      const name = role === 'patient' ? PSEUDONYM : `u-${role}`;
      const issued = await issueCertificate(hosp1, {
        commonName: name,
        role,
        ...(role === 'patient' ? { pseudonym: PSEUDONYM } : {}),
        notBefore: NB,
        notAfter: NA,
      });
      const identity = msp.validate(issued.certPem, NOW_MS);
      assert.equal(identity.org, 'Hosp1');
      assert.equal(identity.role, role);
      assert.equal(identity.id, name);
      assert.equal(identity.pseudonym, role === 'patient' ? PSEUDONYM : null);
      assert.equal(identity.serialHex, issued.serialHex);
      assert.equal(identity.certPem, issued.certPem);
      assert.ok(identity.publicKey.equals(createPublicKey(parseP256PrivateKey(issued.keyPem))));
    }
  });

  it('returns the cached identity on repeated validation', async () => {
    const issued = await issueCertificate(hosp2, { commonName: 'dr-who', role: 'doctor', notBefore: NB, notAfter: NA });
    const first = msp.validate(issued.certPem, NOW_MS);
    assert.equal(msp.validate(issued.certPem, NOW_MS + 1000), first);
    // The same identity twice is one signer.
    const other = msp.validate((await issueCertificate(hosp2, { commonName: 'dr-no', role: 'doctor', notBefore: NB, notAfter: NA })).certPem, NOW_MS);
    assert.deepEqual(distinctPrincipals([first, first, other]), [
      { org: 'Hosp2', role: 'doctor' },
      { org: 'Hosp2', role: 'doctor' },
    ]);
    assert.equal(distinctPrincipals([first, first]).length, 1);
  });

  it('certifies a supplied public key or private key', async () => {
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const fromPublic = await issueCertificate(hosp1, { commonName: 'pub', role: 'nurse', publicKey: keys.publicKey, notBefore: NB, notAfter: NA });
    assert.equal(fromPublic.keyPem, '');
    assert.ok(msp.validate(fromPublic.certPem, NOW_MS).publicKey.equals(keys.publicKey));
    const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const fromPrivate = await issueCertificate(hosp1, { commonName: 'priv', role: 'nurse', keyPem, notBefore: NB, notAfter: NA });
    assert.equal(fromPrivate.keyPem, keyPem);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await assert.rejects(issueCertificate(hosp1, { commonName: 'mix', role: 'nurse', keyPem, publicKey: other.publicKey }), /do not belong together/);
  });

  it('refuses bad issuing requests', async () => {
    await assert.rejects(issueCertificate(root, { commonName: 'x', role: 'doctor' }), /organisation CA, not by the root/);
    await assert.rejects(issueCertificate(hosp1, { commonName: 'x', role: 'member' }), /cannot be issued/);
    await assert.rejects(issueCertificate(hosp1, { commonName: 'x', role: 'client' }), /cannot be issued/);
    await assert.rejects(issueCertificate(hosp1, { commonName: 'has space', role: 'nurse' }), /common name/);
    // The patient profile (decision 0906): a pseudonym, and the CN is that pseudonym, never a login name.
    await assert.rejects(issueCertificate(hosp1, { commonName: 'patient1', role: 'patient' }), /needs a pseudonym/);
    await assert.rejects(issueCertificate(hosp1, { commonName: 'patient1', role: 'patient', pseudonym: 'NotHex' }), /needs a pseudonym/);
    await assert.rejects(issueCertificate(hosp1, { commonName: 'patient1', role: 'patient', pseudonym: PSEUDONYM }), /common name must be its pseudonym/);
    await assert.rejects(issueCertificate(hosp1, { commonName: 'dr', role: 'doctor', pseudonym: PSEUDONYM }), /only patient certificates/);
    await assert.rejects(createOrgCa(root, { org: 'Dot.Org' }), /organisation name/);
    await assert.rejects(createOrgCa(hosp1, { org: 'Sub' }), /issued by the root CA/);
    await assert.rejects(issueCertificate({ ...hosp1, keyPem: '' }, { commonName: 'x', role: 'nurse' }), /not available here/);
    await assert.rejects(issueCertificate({ ...hosp1, keyPem: hosp2.keyPem }, { commonName: 'x', role: 'nurse' }), /does not match its certificate/);
  });

  it('default validity stays within the issuing CA', async () => {
    const shortRoot = await createRootCa({ commonName: 'Short Root', notAfter: new Date(Date.now() + 86_400_000) });
    const ca = await createOrgCa(shortRoot, { org: 'S' });
    const user = await issueCertificate(ca, { commonName: 'u', role: 'nurse' });
    const rootCert = parseCertificate(shortRoot.certPem);
    assert.ok(parseCertificate(ca.certPem).notAfterMs <= rootCert.notAfterMs);
    assert.ok(parseCertificate(user.certPem).notAfterMs <= rootCert.notAfterMs);
    // Backdated a little so another host with a slower clock accepts it at once.
    assert.ok(parseCertificate(user.certPem).notBeforeMs < Date.now() - 60_000);
    new Msp({ rootCertPem: shortRoot.certPem, orgs: [{ org: 'S', caCertPem: ca.certPem }] }).validate(user.certPem, Date.now());
  });

  describe('rejections, each with its reason', () => {
    it('EXPIRED and NOT_YET_VALID, re-checked on every call despite the cache', async () => {
      const issued = await issueCertificate(hosp1, {
        commonName: 'temp',
        role: 'nurse',
        notBefore: new Date('2027-01-01T00:00:00Z'),
        notAfter: new Date('2027-06-01T00:00:00Z'),
      });
      assert.equal(msp.validate(issued.certPem, NOW_MS).id, 'temp');
      throwsIdentity(() => msp.validate(issued.certPem, Date.parse('2027-07-01')), 'EXPIRED', /expired at 2027-06-01T00:00:00.000Z/);
      throwsIdentity(() => msp.validate(issued.certPem, Date.parse('2026-12-01')), 'NOT_YET_VALID', /not valid before 2027-01-01/);
      assert.equal(msp.validate(issued.certPem, NOW_MS).id, 'temp');
    });

    it('EXPIRED when the organisation CA has expired though the leaf has not', async () => {
      const shortCa = await createOrgCa(root, { org: 'Brief', notBefore: NB, notAfter: new Date('2027-01-01T00:00:00Z') });
      const briefMsp = new Msp({ rootCertPem: root.certPem, orgs: [{ org: 'Brief', caCertPem: shortCa.certPem }] });
      const user = await issueCertificate(shortCa, { commonName: 'u', role: 'nurse', notBefore: NB, notAfter: NA });
      briefMsp.validate(user.certPem, Date.parse('2026-06-01'));
      throwsIdentity(() => briefMsp.validate(user.certPem, NOW_MS), 'EXPIRED', /CA certificate of Brief/);
    });

    it('REVOKED via revoke() and via the config, after caching too; other serials unaffected', async () => {
      const a = await issueCertificate(hosp1, { commonName: 'rev-a', role: 'doctor', notBefore: NB, notAfter: NA });
      const b = await issueCertificate(hosp1, { commonName: 'rev-b', role: 'doctor', notBefore: NB, notAfter: NA });
      const local = new Msp(config);
      local.validate(a.certPem, NOW_MS);
      local.revoke('Hosp1', a.serialHex.toUpperCase());
      throwsIdentity(() => local.validate(a.certPem, NOW_MS), 'REVOKED', new RegExp(`serial ${a.serialHex}.*revoked`));
      local.validate(b.certPem, NOW_MS);
      // The same serial in another org is a different certificate.
      const local2 = new Msp({ ...config, revokedSerials: [{ org: 'Hosp2', serialHex: b.serialHex }] });
      local2.validate(b.certPem, NOW_MS);
      const local3 = new Msp({ ...config, revokedSerials: [{ org: 'Hosp1', serialHex: b.serialHex }] });
      throwsIdentity(() => local3.validate(b.certPem, NOW_MS), 'REVOKED');
      assert.deepEqual(local3.revokedSerials(), [{ org: 'Hosp1', serialHex: b.serialHex }]);
      throwsIdentity(() => local.revoke('Nowhere', 'ab'), 'UNKNOWN_ORG');
      throwsIdentity(() => local.revoke('Hosp1', 'not-hex'), 'MALFORMED');
    });

    it('UNKNOWN_ORG for a certificate from another consortium or an org not in the config', async () => {
      const otherRoot = await createRootCa({ commonName: 'Other Root', notBefore: NB, notAfter: NA });
      const otherOrg = await createOrgCa(otherRoot, { org: 'Evil', notBefore: NB, notAfter: NA });
      const foreign = await issueCertificate(otherOrg, { commonName: 'mallory', role: 'admin', notBefore: NB, notAfter: NA });
      throwsIdentity(() => msp.validate(foreign.certPem, NOW_MS), 'UNKNOWN_ORG', /not the CA of any member organisation \(Hosp1, Hosp2\)/);
      const hosp3 = await createOrgCa(root, { org: 'Hosp3', notBefore: NB, notAfter: NA });
      const notMember = await issueCertificate(hosp3, { commonName: 'x', role: 'doctor', notBefore: NB, notAfter: NA });
      throwsIdentity(() => msp.validate(notMember.certPem, NOW_MS), 'UNKNOWN_ORG', /Hosp3 CA/);
    });

    it("BAD_CHAIN for a forged CA with a member org's name, a CA certificate, or a mismatched O", async () => {
      // Same root name and same org name, different keys: the "CN=Hosp1 CA, O=Hosp1" issuer
      // matches by name, but the key identifiers and the signature do not.
      const fakeRoot = await createRootCa({ commonName: 'MedLedger Root', notBefore: NB, notAfter: NA });
      const fakeHosp1 = await createOrgCa(fakeRoot, { org: 'Hosp1', notBefore: NB, notAfter: NA });
      const forged = await issueCertificate(fakeHosp1, { commonName: 'eve', role: 'admin', notBefore: NB, notAfter: NA });
      throwsIdentity(() => msp.validate(forged.certPem, NOW_MS), 'BAD_CHAIN', /claims issuer CA of Hosp1.*authority key id/);
      throwsIdentity(() => msp.validate(hosp1.certPem, NOW_MS), 'UNKNOWN_ORG'); // issued by the root, not an org CA
      const caKey = parseP256PrivateKey(hosp1.keyPem);
      const subCa = await issueX509({
        subject: { commonName: 'sub', organization: 'Hosp1', organizationalUnits: ['admin'] },
        subjectPublicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
        issuerCertPem: hosp1.certPem,
        issuerKey: caKey,
        notBefore: NB,
        notAfter: NA,
        ca: { pathLength: 0 },
      });
      throwsIdentity(() => msp.validate(subCa.certPem, NOW_MS), 'BAD_CHAIN', /is a CA certificate/);
      const wrongO = await issueX509({
        subject: { commonName: 'spy', organization: 'Hosp2', organizationalUnits: ['doctor'] },
        subjectPublicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
        issuerCertPem: hosp1.certPem,
        issuerKey: caKey,
        notBefore: NB,
        notAfter: NA,
      });
      throwsIdentity(() => msp.validate(wrongO.certPem, NOW_MS), 'BAD_CHAIN', /names organisation "Hosp2" but was issued by the CA of Hosp1/);
    });

    it('NO_ROLE for no role, a principal-only role, or two roles', async () => {
      const caKey = parseP256PrivateKey(hosp1.keyPem);
      const make = (ous: string[]): Promise<{ certPem: string }> =>
        issueX509({
          subject: { commonName: 'nr', organization: 'Hosp1', organizationalUnits: ous },
          subjectPublicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
          issuerCertPem: hosp1.certPem,
          issuerKey: caKey,
          notBefore: NB,
          notAfter: NA,
        });
      throwsIdentity(() => msp.validate('', NOW_MS), 'MALFORMED');
      const none = await make([]);
      throwsIdentity(() => msp.validate(none.certPem, NOW_MS), 'NO_ROLE', /carries no role/);
      const dept = await make(['cardiology']);
      throwsIdentity(() => msp.validate(dept.certPem, NOW_MS), 'NO_ROLE', /carries no role/);
      const member = await make(['member']);
      throwsIdentity(() => msp.validate(member.certPem, NOW_MS), 'NO_ROLE', /only a policy principal/);
      const two = await make(['doctor', 'admin']);
      throwsIdentity(() => msp.validate(two.certPem, NOW_MS), 'NO_ROLE', /2 roles/);
      // Other OUs next to exactly one role are fine.
      const withDept = await make(['cardiology', 'doctor']);
      assert.equal(msp.validate(withDept.certPem, NOW_MS).role, 'doctor');
    });

    it('PSEUDONYM: a patient certificate is issued to its pseudonym, and only patients carry one (decision 0906)', async () => {
      const caKey = parseP256PrivateKey(hosp1.keyPem);
      // issueX509 directly: a CA that ignores the profile issueCertificate enforces.
      const make = (subject: { commonName: string; role: string; pseudonym?: string }): Promise<{ certPem: string }> =>
        issueX509({
          subject: {
            commonName: subject.commonName,
            organization: 'Hosp1',
            organizationalUnits: [subject.role],
            ...(subject.pseudonym ? { pseudonym: subject.pseudonym } : {}),
          },
          subjectPublicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
          issuerCertPem: hosp1.certPem,
          issuerKey: caKey,
          notBefore: NB,
          notAfter: NA,
        });
      // The old profile: a patient known by their login name.
      const oldProfile = await make({ commonName: 'patient1', role: 'patient' });
      throwsIdentity(() => msp.validate(oldProfile.certPem, NOW_MS), 'PSEUDONYM', /must carry a pseudonym/);
      const loginName = await make({ commonName: 'patient1', role: 'patient', pseudonym: PSEUDONYM });
      throwsIdentity(() => msp.validate(loginName.certPem, NOW_MS), 'PSEUDONYM', /both its pseudonym attribute and its common name/);
      const notHex = await make({ commonName: 'Patient-One', role: 'patient', pseudonym: 'Patient-One' });
      throwsIdentity(() => msp.validate(notHex.certPem, NOW_MS), 'PSEUDONYM');
      const doctor = await make({ commonName: 'dr', role: 'doctor', pseudonym: PSEUDONYM });
      throwsIdentity(() => msp.validate(doctor.certPem, NOW_MS), 'PSEUDONYM', /only patient certificates are pseudonymous/);
      const good = await make({ commonName: PSEUDONYM, role: 'patient', pseudonym: PSEUDONYM });
      assert.deepEqual([msp.validate(good.certPem, NOW_MS).id, msp.validate(good.certPem, NOW_MS).pseudonym], [PSEUDONYM, PSEUDONYM]);
      assert.match(parseCertificate(good.certPem).node.subject, new RegExp(`pseudonym=${PSEUDONYM}`), 'OpenSSL reads it as the X.520 pseudonym attribute');
    });

    it('MALFORMED for garbage, truncated or oversized input', async () => {
      const good = await issueCertificate(hosp1, { commonName: 'm', role: 'nurse', notBefore: NB, notAfter: NA });
      throwsIdentity(() => msp.validate('not a certificate', NOW_MS), 'MALFORMED', /PEM/);
      throwsIdentity(() => msp.validate(good.certPem.slice(0, 200), NOW_MS), 'MALFORMED');
      throwsIdentity(() => msp.validate(good.certPem.repeat(30), NOW_MS), 'MALFORMED');
      throwsIdentity(() => msp.validate(42 as unknown as string, NOW_MS), 'MALFORMED');
      assert.throws(() => msp.validate(good.certPem, Number.NaN), RangeError);
    });

    it('NOT_P256 for a certificate with another curve', async () => {
      const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign', 'verify']);
      const cert = await px.X509CertificateGenerator.createSelfSigned(
        {
          name: 'CN=p384, OU=doctor, O=Hosp1',
          keys: keys as unknown as px.X509CertificateCreateSelfSignedParams['keys'],
          signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as px.X509CertificateCreateSelfSignedParams['signingAlgorithm'],
          notBefore: NB,
          notAfter: NA,
        },
        webcrypto as unknown as Parameters<typeof px.X509CertificateGenerator.createSelfSigned>[1],
      );
      throwsIdentity(() => msp.validate(cert.toString('pem'), NOW_MS), 'NOT_P256', /P-256/);
    });
  });

  it('rejects bad MSP configurations with a clear reason', async () => {
    const otherRoot = await createRootCa({ commonName: 'Other', notBefore: NB, notAfter: NA });
    const alien = await createOrgCa(otherRoot, { org: 'Hosp1', notBefore: NB, notAfter: NA });
    throwsIdentity(() => new Msp({ rootCertPem: root.certPem, orgs: [{ org: 'Hosp1', caCertPem: alien.certPem }] }), 'BAD_CHAIN', /CA certificate of "Hosp1"/);
    throwsIdentity(
      () => new Msp({ rootCertPem: root.certPem, orgs: [{ org: 'Hosp2', caCertPem: hosp1.certPem }] }),
      'BAD_CHAIN',
      /belongs to organisation "Hosp1"/,
    );
    throwsIdentity(() => new Msp({ rootCertPem: root.certPem, orgs: [config.orgs[0]!, config.orgs[0]!] }), 'MALFORMED', /listed twice/);
    throwsIdentity(() => new Msp({ rootCertPem: hosp1.certPem, orgs: [] }), 'BAD_CHAIN');
    throwsIdentity(() => new Msp({ rootCertPem: 'junk', orgs: [] }), 'MALFORMED');
    throwsIdentity(() => new Msp({ rootCertPem: root.certPem, orgs: [{ org: 'bad.name', caCertPem: hosp1.certPem }] }), 'MALFORMED');
  });

  it('keeps its cache bounded', () => {
    const local = new Msp(config);
    for (let i = 0; i < MSP_CACHE_ENTRIES_MAX + 50; i++) {
      throwsIdentity(() => local.validate(`junk ${i}`, NOW_MS), 'MALFORMED');
    }
    assert.equal(local.cacheSize, MSP_CACHE_ENTRIES_MAX);
  });

  it('X509Error codes for issuing stay distinct from identity errors', async () => {
    await assert.rejects(createRootCa({ commonName: 'bad,name' }), (err: unknown) => err instanceof X509Error && err.code === 'INVALID_REQUEST');
  });
});
