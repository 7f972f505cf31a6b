import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCertificate } from '../crypto/x509.ts';
import { issueCertificate } from './ca.ts';
import { consortiumIdentities, createConsortium, findIdentity, loadConsortium, saveConsortium, type Consortium } from './consortium.ts';
import { IdentityError, Msp } from './msp.ts';
import { evaluatePolicy, parsePolicy } from './policy.ts';

const PATIENT_PSEUDONYM = 'ab'.repeat(32);

describe('consortium helper', () => {
  let consortium: Consortium;
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'medledger-consortium-'));
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    consortium = await createConsortium({
      orgs: ['Hospital1', 'Hospital2', 'Lab3'],
      users: [
        { org: 'Hospital1', commonName: 'dr.alice', role: 'doctor' },
        { org: 'Hospital1', commonName: 'sup.carol', role: 'supervisor' },
        { org: 'Hospital2', commonName: 'patient-0001', role: 'patient', pseudonym: PATIENT_PSEUDONYM },
        { org: 'Lab3', commonName: 'admin', role: 'admin' },
      ],
    });
  });
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('creates a root, org CAs, one peer node per org, users, and an MSP config that accepts them', () => {
    assert.deepEqual([...consortium.orgCas.keys()], ['Hospital1', 'Hospital2', 'Lab3']);
    assert.equal(consortium.root.org, null);
    const msp = new Msp(consortium.mspConfig);
    const now = Date.now();
    for (const [org, node] of consortium.nodes) {
      const identity = msp.validate(node.certPem, now);
      assert.deepEqual([identity.org, identity.role, identity.id], [org, 'peer', `node.${org}`]);
      assert.match(parseCertificate(node.certPem).node.subjectAltName ?? '', /DNS:localhost/);
    }
    assert.equal(consortium.users.length, 4);
    for (const user of consortium.users) {
      const identity = msp.validate(user.certPem, now);
      // A patient's certificate is issued to their pseudonym; they keep their name in the directory only.
      const id = user.role === 'patient' ? PATIENT_PSEUDONYM : user.commonName;
      assert.deepEqual([identity.org, identity.role, identity.id, identity.pseudonym], [user.org, user.role, id, user.pseudonym]);
    }
    assert.equal(findIdentity(consortium, 'Hospital1', 'dr.alice')?.role, 'doctor');
    const patient = findIdentity(consortium, 'Hospital2', 'patient-0001');
    assert.equal(patient?.pseudonym, PATIENT_PSEUDONYM);
    assert.doesNotMatch(parseCertificate(patient?.certPem ?? '').subjectDn, /patient-0001/, 'the login name is not in the certificate');
    // The node identities satisfy a typical endorsement policy.
    const peers = [...consortium.nodes.values()].map((n) => msp.validate(n.certPem, now));
    assert.ok(evaluatePolicy(parsePolicy("OutOf(2, 'Hospital1.peer', 'Hospital2.peer', 'Lab3.peer')"), peers));
  });

  it('refuses bad input with a reason', async () => {
    await assert.rejects(createConsortium({ orgs: [] }), /at least one organisation/);
    await assert.rejects(createConsortium({ orgs: ['A', 'a'] }), /appears twice/);
    await assert.rejects(createConsortium({ orgs: ['A.B'] }), /organisation name/);
    await assert.rejects(createConsortium({ orgs: ['A'], users: [{ org: 'B', commonName: 'x', role: 'doctor' }] }), /not one of the organisations/);
    await assert.rejects(createConsortium({ orgs: ['A'], users: [{ org: 'A', commonName: 'node.A', role: 'doctor' }] }), /appears twice in A/);
    await assert.rejects(createConsortium({ orgs: ['A'], users: [{ org: 'A', commonName: 'CA.pem', role: 'doctor' }] }), /reserved/);
    await assert.rejects(createConsortium({ orgs: ['A'], users: [{ org: 'A', commonName: '../x', role: 'doctor' }] }), /not allowed/);
    await assert.rejects(createConsortium({ orgs: ['A'], users: [{ org: 'A', commonName: 'x', role: 'member' }] }), /issuable roles/);
    await assert.rejects(createConsortium({ orgs: ['A'], users: [{ org: 'A', commonName: 'pseudonym.key', role: 'doctor' }] }), /reserved/);
    await assert.rejects(createConsortium({ orgs: ['A'], users: [{ org: 'A', commonName: 'p', role: 'patient' }] }), /needs a pseudonym/);
    await assert.rejects(
      createConsortium({ orgs: ['A'], users: [{ org: 'A', commonName: 'd', role: 'doctor', pseudonym: PATIENT_PSEUDONYM }] }),
      /only patient certificates carry a pseudonym/,
    );
    await assert.rejects(
      createConsortium({
        orgs: ['A', 'B'],
        users: [
          { org: 'A', commonName: 'p', role: 'patient', pseudonym: PATIENT_PSEUDONYM },
          { org: 'B', commonName: 'q', role: 'patient', pseudonym: PATIENT_PSEUDONYM },
        ],
      }),
      /already another patient's/,
    );
    await assert.rejects(createConsortium({ orgs: ['A'], nodeCommonName: () => 'bad/name' }), /not allowed/);
  });

  it('saves the documented layout with private keys mode 0600, and loads it back identically', () => {
    const dir = tempDir();
    saveConsortium(consortium, dir);
    const mode = (path: string): number => statSync(path).mode & 0o777;
    assert.equal(mode(join(dir, 'root-ca-key.pem')), 0o600);
    assert.equal(readFileSync(join(dir, 'root-ca.pem'), 'utf8'), consortium.root.certPem);
    for (const org of consortium.orgCas.keys()) {
      assert.equal(readFileSync(join(dir, org, 'ca.pem'), 'utf8'), consortium.orgCas.get(org)?.certPem);
      assert.equal(mode(join(dir, org, 'ca-key.pem')), 0o600);
    }
    for (const identity of consortiumIdentities(consortium)) {
      assert.equal(readFileSync(join(dir, identity.org, identity.commonName, 'cert.pem'), 'utf8'), identity.certPem);
      assert.equal(mode(join(dir, identity.org, identity.commonName, 'key.pem')), 0o600);
    }
    const loaded = loadConsortium(dir);
    assert.deepEqual(loaded.root, consortium.root);
    assert.deepEqual([...loaded.orgCas], [...consortium.orgCas]);
    assert.deepEqual([...loaded.nodes], [...consortium.nodes]);
    assert.deepEqual(loaded.users, consortium.users);
    assert.deepEqual(loaded.mspConfig, consortium.mspConfig);
  });

  it('refuses to overwrite unless asked, and can leave the root key out', () => {
    const dir = tempDir();
    saveConsortium(consortium, dir, { includeRootKey: false });
    assert.throws(() => saveConsortium(consortium, dir), /already exists/);
    const loaded = loadConsortium(dir);
    assert.equal(loaded.root.keyPem, '');
    saveConsortium(consortium, dir, { overwrite: true });
    assert.equal(loadConsortium(dir).root.keyPem, consortium.root.keyPem);
  });

  it('issues more identities from a loaded org CA', async () => {
    const dir = tempDir();
    saveConsortium(consortium, dir);
    const loaded = loadConsortium(dir);
    const ca = loaded.orgCas.get('Hospital2');
    assert.ok(ca !== undefined);
    assert.equal(ca.name, 'Hospital2 CA');
    const nurse = await issueCertificate(ca, { commonName: 'nurse.bea', role: 'nurse' });
    assert.equal(new Msp(loaded.mspConfig).validate(nurse.certPem, Date.now()).org, 'Hospital2');
  });

  it('reports a damaged directory naming the file', () => {
    const check = (mutate: (dir: string) => void, pattern: RegExp): void => {
      const dir = tempDir();
      saveConsortium(consortium, dir);
      mutate(dir);
      assert.throws(
        () => loadConsortium(dir),
        (err: unknown) => {
          assert.ok(err instanceof IdentityError, String(err));
          assert.match(err.message, pattern);
          return true;
        },
      );
    };
    check((dir) => writeFileSync(join(dir, 'consortium.json'), '{"format":"nope"}'), /consortium\.json: format/);
    check((dir) => writeFileSync(join(dir, 'consortium.json'), 'not json'), /consortium\.json/);
    check((dir) => rmSync(join(dir, 'Lab3', 'ca.pem')), /missing file .*Lab3\/ca\.pem/);
    check(
      (dir) => writeFileSync(join(dir, 'Hospital1', 'dr.alice', 'key.pem'), consortium.users[1]?.keyPem ?? ''),
      /dr\.alice\/key\.pem: the private key does not belong/,
    );
    check(
      (dir) => writeFileSync(join(dir, 'Hospital1', 'dr.alice', 'cert.pem'), consortium.users[1]?.certPem ?? ''),
      /manifest says Hospital1\/dr\.alice \(doctor\)/,
    );
    check(
      (dir) => writeFileSync(join(dir, 'Hospital2', 'ca.pem'), consortium.orgCas.get('Hospital1')?.certPem ?? ''),
      /Hospital2\/ca-key\.pem: the private key does not belong/,
    );
    check((dir) => {
      writeFileSync(join(dir, 'Hospital2', 'ca.pem'), consortium.orgCas.get('Hospital1')?.certPem ?? '');
      writeFileSync(join(dir, 'Hospital2', 'ca-key.pem'), consortium.orgCas.get('Hospital1')?.keyPem ?? '');
    }, /belongs to organisation "Hospital1"/);
    check((dir) => writeFileSync(join(dir, 'root-ca.pem'), 'garbage'), /root certificate|PEM/);
  });
});
