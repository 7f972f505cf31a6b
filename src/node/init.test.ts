// `medledger init`'s patient identities (decision 0906): each hospital gets a pseudonymisation key
// beside its CA, and its patients' certificates are issued to their pseudonym — the login name
// (`patient1`, what --user names) is the directory only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCertificate } from '../crypto/x509.ts';
import { loadConsortium, Msp } from '../identity/index.ts';
import { loadPseudonymKey, patientPseudonym, pseudonymOf, PSEUDONYM_KEY_FILE } from '../identity/pseudonym.ts';
import { DEMO_USERS, engineOptions, initConsortium, type InitResult } from './init.ts';
import { RaftOptionsSchema } from '../consensus/raft/options.ts';

describe('init: pseudonymous patient identities', () => {
  let dir: string;
  let init: InitResult;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medledger-init-'));
    init = await initConsortium({ dir, orgs: 2, engine: 'raft', basePort: 31_000 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps one pseudonymisation key per hospital beside its CA, mode 0600, and the keys differ', () => {
    const keys = ['Hospital1', 'Hospital2'].map((org) => {
      assert.equal(statSync(join(dir, 'crypto', org, PSEUDONYM_KEY_FILE)).mode & 0o777, 0o600);
      return loadPseudonymKey(join(dir, 'crypto'), org);
    });
    assert.notEqual(keys[0], keys[1]);
  });

  it("issues each patient's certificate to HMAC(hospital key, org/login): no login name in the certificate", () => {
    const msp = new Msp(init.consortium.mspConfig);
    const patients = DEMO_USERS.filter((u) => u.role === 'patient');
    assert.ok(patients.length >= 2);
    const seen = new Set<string>();
    for (const org of ['Hospital1', 'Hospital2']) {
      const key = loadPseudonymKey(join(dir, 'crypto'), org);
      for (const u of patients) {
        const certPem = readFileSync(join(dir, 'crypto', org, u.commonName, 'cert.pem'), 'utf8');
        const expected = pseudonymOf(key, `${org}/${u.commonName}`);
        const identity = msp.identify(certPem);
        assert.deepEqual([identity.org, identity.role, identity.id, identity.pseudonym], [org, 'patient', expected, expected]);
        assert.equal(patientPseudonym(dir, org, u.commonName), expected);
        // The login name is in no name attribute (raw DER would false-match: OU "patient" is
        // followed by the SET tag 0x31, "1").
        const cert = parseCertificate(certPem);
        assert.ok(
          ![cert.node.subject, cert.node.subjectAltName ?? ''].some((text) => text.includes(u.commonName)),
          `${org}/${u.commonName}: the login name is in the certificate: ${cert.node.subject}`,
        );
        seen.add(expected);
      }
    }
    assert.equal(seen.size, 2 * patients.length, 'distinct pseudonyms');
    // Other users keep their name as CN.
    assert.equal(msp.identify(readFileSync(join(dir, 'crypto', 'Hospital1', 'doctor1', 'cert.pem'), 'utf8')).id, 'doctor1');
    assert.throws(() => patientPseudonym(dir, 'Hospital1', 'doctor1'), /not a patient/);
    assert.throws(() => patientPseudonym(dir, 'Hospital1', 'nobody'), /not a user/);
  });

  it('loads back: the directory maps the login name to the pseudonymous certificate', () => {
    const loaded = loadConsortium(join(dir, 'crypto'));
    const patient = loaded.users.find((u) => u.org === 'Hospital1' && u.commonName === 'patient1');
    assert.equal(patient?.pseudonym, patientPseudonym(dir, 'Hospital1', 'patient1'));
  });
});

describe('init: engine options a node runs with', () => {
  it('compacts the Raft log every 64 entries: a node entry is a whole block (decision 1382)', () => {
    const options = RaftOptionsSchema.parse(engineOptions('raft', []));
    assert.equal(options.snapshotEntries, 64);
    assert.equal(options.electionTicks, 10);
  });

  it('cuts a block at once when idle while its blocks stay small (≤ 16 transactions), else waits for the cutter (decision 1385)', () => {
    const options = RaftOptionsSchema.parse(engineOptions('raft', []));
    assert.equal(options.eagerCutUncommittedMax, 1);
    assert.equal(options.eagerCutEntryProposalsMax, 16);
  });
});
