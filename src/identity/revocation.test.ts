import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createOrgCa, createRootCa, issueCertificate, type CertificateAuthority, type IssuedIdentity } from './ca.ts';
import { IdentityError, Msp, type MspConfig } from './msp.ts';
import { applyRevocationList, createRevocationList, decodeRevocationList, encodeRevocationList, verifyRevocationList } from './revocation.ts';

const NB = new Date('2026-01-01T00:00:00Z');
const NA = new Date('2030-01-01T00:00:00Z');
const NOW_MS = Date.parse('2027-01-01T00:00:00Z');

function isIdentityError(code: string, part?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof IdentityError, String(err));
    assert.equal(err.code, code, err.message);
    if (part !== undefined) assert.match(err.message, part);
    return true;
  };
}

describe('signed revocation lists', () => {
  let root: CertificateAuthority;
  let hosp1: CertificateAuthority;
  let hosp2: CertificateAuthority;
  let config: MspConfig;
  let alice: IssuedIdentity;
  let bob: IssuedIdentity;

  before(async () => {
    root = await createRootCa({ commonName: 'Root', notBefore: NB, notAfter: NA });
    hosp1 = await createOrgCa(root, { org: 'Hosp1', notBefore: NB, notAfter: NA });
    hosp2 = await createOrgCa(root, { org: 'Hosp2', notBefore: NB, notAfter: NA });
    config = {
      rootCertPem: root.certPem,
      orgs: [
        { org: 'Hosp1', caCertPem: hosp1.certPem },
        { org: 'Hosp2', caCertPem: hosp2.certPem },
      ],
    };
    alice = await issueCertificate(hosp1, { commonName: 'alice', role: 'doctor', notBefore: NB, notAfter: NA });
    bob = await issueCertificate(hosp1, { commonName: 'bob', role: 'nurse', notBefore: NB, notAfter: NA });
  });

  it('is signed by the org CA, canonical, and survives encode/decode', () => {
    const list = createRevocationList(hosp1, [alice.serialHex.toUpperCase(), `00${alice.serialHex}`, 'ff'], 1_700_000_000_000);
    assert.deepEqual(list.serials, [alice.serialHex, 'ff'].sort());
    assert.equal(list.signature.byteLength, 64);
    verifyRevocationList(list, hosp1.certPem);
    const decoded = decodeRevocationList(encodeRevocationList(list));
    assert.deepEqual(decoded, list);
    verifyRevocationList(decoded, hosp1.certPem);
  });

  it('applied to an MSP, revokes exactly the listed certificates; re-applying is a no-op', () => {
    const msp = new Msp(config);
    msp.validate(alice.certPem, NOW_MS);
    const list = createRevocationList(hosp1, [alice.serialHex], NOW_MS);
    assert.equal(applyRevocationList(msp, list), 1);
    assert.throws(() => msp.validate(alice.certPem, NOW_MS), isIdentityError('REVOKED', /alice/));
    assert.equal(msp.validate(bob.certPem, NOW_MS).id, 'bob');
    assert.equal(applyRevocationList(msp, list), 0);
  });

  it('rejects a list with a forged or altered signature, or checked against another org', () => {
    const list = createRevocationList(hosp1, [alice.serialHex], NOW_MS);
    const altered = { ...list, serials: [bob.serialHex] };
    assert.throws(() => verifyRevocationList(altered, hosp1.certPem), isIdentityError('BAD_CHAIN', /signature does not verify/));
    const later = { ...list, issuedAtMs: list.issuedAtMs + 1 };
    assert.throws(() => verifyRevocationList(later, hosp1.certPem), isIdentityError('BAD_CHAIN'));
    // Hosp2's CA signing a list that claims to be Hosp1's.
    const byHosp2 = createRevocationList(hosp2, [alice.serialHex], NOW_MS);
    const claimed = { ...byHosp2, org: 'Hosp1' };
    assert.throws(() => verifyRevocationList(claimed, hosp1.certPem), isIdentityError('BAD_CHAIN', /signature/));
    assert.throws(() => verifyRevocationList(byHosp2, hosp1.certPem), isIdentityError('BAD_CHAIN', /checked against the CA of "Hosp1"/));
    const msp = new Msp(config);
    assert.throws(() => applyRevocationList(msp, claimed), isIdentityError('BAD_CHAIN'));
    assert.equal(msp.validate(alice.certPem, NOW_MS).id, 'alice');
  });

  it('rejects malformed lists and bytes with a reason', () => {
    assert.throws(() => createRevocationList(root, ['ab'], 1), isIdentityError('MALFORMED', /organisation CA/));
    assert.throws(() => createRevocationList(hosp1, ['xyz'], 1), isIdentityError('MALFORMED', /hex/));
    assert.throws(() => createRevocationList(hosp1, ['ab'], -1), isIdentityError('MALFORMED', /issuedAtMs/));
    const list = createRevocationList(hosp1, ['ab', 'cd'], 1);
    assert.throws(() => verifyRevocationList({ ...list, serials: ['cd', 'ab'] }, hosp1.certPem), isIdentityError('MALFORMED', /sorted/));
    assert.throws(() => verifyRevocationList({ ...list, signature: new Uint8Array(10) }, hosp1.certPem), isIdentityError('MALFORMED', /64 bytes/));
    assert.throws(() => decodeRevocationList(new Uint8Array([0xff, 0x00])), isIdentityError('MALFORMED'));
    assert.throws(() => decodeRevocationList(new Uint8Array(2 * 1024 * 1024)), isIdentityError('MALFORMED', /bytes/));
    const msp = new Msp(config);
    const unknown = { ...list, org: 'Hosp9' };
    assert.throws(() => applyRevocationList(msp, unknown), isIdentityError('UNKNOWN_ORG'));
  });
});
