// `medledger user request|enrol|revoke|list` against a real 3-hospital consortium in this process
// (issue 12, item 1): a new doctor's key is made on "their machine" and never seen by the hospital;
// the certificate the CA issues from their request works at every node; a revocation signed by
// Hospital2's CA and committed by Hospital2's admin alone is refused everywhere from the next block
// (API authentication, endorsement and validation), and the rules of revocation updates hold.
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCertificate, parsePrivateKey, sign } from '../../crypto/index.ts';
import { createRevocationList, loadConsortium } from '../../identity/index.ts';
import { loadPseudonymKey, patientPseudonymOf } from '../../identity/pseudonym.ts';
import { configWithRevocation, type ConfigSigner } from '../../ledger/config-update.ts';
import { startTestNetwork, type TestNetwork } from '../../api/testkit.ts';
import { MedLedgerApiError, MedLedgerClient } from '../../sdk/index.ts';
import { submitConfigUpdate } from '../membership.ts';
import { runCli, type CliRun } from '../testkit.ts';
import { tempDirRemovedAtExit } from '../../testing/temp-dir.ts';

let net: TestNetwork;
const home = tempDirRemovedAtExit('medledger-user-');

async function ok(args: readonly string[]): Promise<CliRun> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  return r;
}

before(async () => {
  net = await startTestNetwork({ orgs: 3 });
});
after(async () => {
  await net?.stop();
});

const clientAt = (i: number, certPem: string, keyPem: string): MedLedgerClient =>
  new MedLedgerClient({ url: net.apis[i]!.url, certPem, keyPem, caPem: net.caPem });
const signerOf = (org: string): ConfigSigner => {
  const admin = net.user(org, 'admin1');
  const key = parsePrivateKey(admin.keyPem);
  return { certPem: admin.certPem, signer: { sign: (m) => sign(key, m) } };
};

describe('medledger user', () => {
  let certPem = '';
  let keyPem = '';

  it('request on the user side, enrol at the hospital: the key never leaves, the certificate works at every node', async () => {
    await ok(['user', 'request', '--name', 'dr.new', '--out', join(home, 'dr.new')]);
    keyPem = readFileSync(join(home, 'dr.new', 'key.pem'), 'utf8');
    const r = await ok([
      'user',
      'enrol',
      '--dir',
      net.dir,
      '--org',
      'Hospital2',
      '--request',
      join(home, 'dr.new', 'request.pem'),
      '--role',
      'doctor',
      '--json',
    ]);
    const issued = JSON.parse(r.out) as { cert: string; serialHex: string };
    certPem = readFileSync(issued.cert, 'utf8');
    assert.ok(!existsSync(join(net.dir, 'crypto', 'Hospital2', 'dr.new', 'key.pem')), 'the hospital never had the key');
    for (let i = 0; i < 3; i++) {
      const c = clientAt(i, certPem, keyPem);
      const me = await c.whoami();
      assert.deepEqual([me.org, me.id, me.role], ['Hospital2', 'dr.new', 'doctor']);
      c.close();
    }
    const c = clientAt(1, certPem, keyPem);
    assert.equal((await c.submit('assets', 'create', ['by-dr-new', 'patient-u', '1'])).code, 'VALID');
    c.close();
  });

  it('a patient enrolled from a request is issued to their pseudonym, never their name', async () => {
    await ok(['user', 'request', '--name', 'alice', '--out', join(home, 'alice')]);
    const r = await ok([
      'user',
      'enrol',
      '--dir',
      net.dir,
      '--org',
      'Hospital3',
      '--request',
      join(home, 'alice', 'request.pem'),
      '--role',
      'patient',
      '--json',
    ]);
    const cert = parseCertificate(readFileSync((JSON.parse(r.out) as { cert: string }).cert, 'utf8'));
    assert.equal(cert.subject.commonName, patientPseudonymOf(loadPseudonymKey(join(net.dir, 'crypto'), 'Hospital3'), 'Hospital3', 'alice'));
    assert.equal(cert.subject.pseudonym, cert.subject.commonName);
  });

  it('revoke: one hospital alone, refused everywhere from the next block with CERT_REVOKED', async () => {
    const r = await ok(['user', 'revoke', '--dir', net.dir, '--org', 'Hospital2', '--user', 'dr.new']);
    assert.match(r.out, /revoked Hospital2\/dr.new .*every node refuses this certificate/);
    for (let i = 0; i < 3; i++) {
      const c = clientAt(i, certPem, keyPem);
      await assert.rejects(c.whoami(), (e: unknown) => e instanceof MedLedgerApiError && e.status === 401 && e.code === 'CERT_REVOKED');
      c.close();
    }
    // The validation context every peer validates blocks with (and endorses and authenticates
    // through) holds the revocation: a transaction this certificate created is invalid too.
    for (const node of net.nodes) assert.throws(() => node.msp.validate(certPem, Date.now()), /revoked/i);
    const list = await ok(['user', 'list', '--dir', net.dir, '--org', 'Hospital2']);
    assert.match(list.out, /dr\.new\s+doctor\s+\S+\s+REVOKED/);
    assert.match(list.out, /doctor1\s+doctor\s+\S+\s+valid/);
  });

  it('refuses a revocation of one hospital signed by another, and an update that drops a revocation', async () => {
    const consortium = loadConsortium(join(net.dir, 'crypto'));
    const victim = parseCertificate(net.user('Hospital2', 'doctor1').certPem).serialHex;
    const list = createRevocationList(consortium.orgCas.get('Hospital2')!, [victim], Date.now());
    const h1 = clientAt(0, net.user('Hospital1', 'admin1').certPem, net.user('Hospital1', 'admin1').keyPem);
    await assert.rejects(
      submitConfigUpdate(
        h1,
        () => [signerOf('Hospital1')],
        (c) => configWithRevocation(c, list),
      ),
      /INVALID_CONFIG_TRANSACTION|admins/,
    );
    // A list signed by another hospital's CA is not Hospital2's revocation.
    const forged = { ...createRevocationList(consortium.orgCas.get('Hospital1')!, [victim], Date.now()), org: 'Hospital2' };
    const h2 = clientAt(1, net.user('Hospital2', 'admin1').certPem, net.user('Hospital2', 'admin1').keyPem);
    await assert.rejects(
      submitConfigUpdate(
        h2,
        () => [signerOf('Hospital2')],
        (c) => configWithRevocation(c, forged),
      ),
      /signature does not verify/,
    );
    // Dropping a revocation is never allowed, whoever signs.
    await assert.rejects(
      submitConfigUpdate(
        h2,
        () => [signerOf('Hospital2'), signerOf('Hospital1'), signerOf('Hospital3')],
        (c) => ({ ...c, orgs: c.orgs.map((o) => ({ org: o.org, caCertPem: o.caCertPem })) }),
      ),
      /revocations of Hospital2 are permanent/,
    );
    h1.close();
    h2.close();
    // Hospital2's doctor1 was never revoked.
    const d = clientAt(2, net.user('Hospital2', 'doctor1').certPem, net.user('Hospital2', 'doctor1').keyPem);
    assert.equal((await d.whoami()).id, 'doctor1');
    d.close();
  });

  it('a sensor and a lab enrol from requests as device and laboratory; `user list` shows them (decision 1253)', async () => {
    for (const [name, role] of [
      ['sensor.ward3', 'device'],
      ['lab.central', 'laboratory'],
    ] as const) {
      await ok(['user', 'request', '--name', name, '--out', join(home, name)]);
      const r = await ok(['user', 'enrol', '--dir', net.dir, '--org', 'Hospital2', '--request', join(home, name, 'request.pem'), '--role', role, '--json']);
      const cert = readFileSync((JSON.parse(r.out) as { cert: string }).cert, 'utf8');
      const c = clientAt(0, cert, readFileSync(join(home, name, 'key.pem'), 'utf8'));
      const me = await c.whoami();
      assert.deepEqual([me.org, me.id, me.role], ['Hospital2', name, role]);
      c.close();
    }
    const list = await ok(['user', 'list', '--dir', net.dir, '--org', 'Hospital2']);
    assert.match(list.out, /sensor\.ward3\s+device\s/);
    assert.match(list.out, /lab\.central\s+laboratory\s/);
  });

  it('bad input: one clear line, no stack', async () => {
    const r1 = await runCli(['user', 'revoke', '--dir', net.dir, '--org', 'Hospital2']);
    assert.equal(r1.code, 2);
    assert.match(r1.err, /give --user <name> or --serial <hex>/);
    const r2 = await runCli(['user', 'enrol', '--dir', net.dir, '--org', 'Hospital2', '--request', join(home, 'nope.pem'), '--role', 'doctor']);
    assert.equal(r2.code, 2);
    assert.match(r2.err, /no such file/);
    const r3 = await runCli(['user', 'enrol', '--dir', net.dir, '--org', 'Hospital2', '--request', join(home, 'alice', 'request.pem'), '--role', 'wizard']);
    assert.match(r3.err, /--role wizard: one of/);
    for (const r of [r1, r2, r3]) assert.doesNotMatch(r.err, /\n\s+at /);
  });
});
