// Membership applications: made and signed by the applicant, checked by reviewers, and — once the
// root certifies the applicant's own CA key — every certificate the applicant issued meanwhile
// validates in the consortium's MSP unchanged.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationError, createApplication, encodeApplicationFile, verifyApplication, type ApplicationFile } from './application.ts';
import { certifyOrgCa, createRootCa, createSelfSignedOrgCa } from './ca.ts';
import { Msp } from './msp.ts';

const contact = { name: 'Dr. Ada Admin', email: 'it@h6.example' };

async function sample(): Promise<Awaited<ReturnType<typeof createApplication>>> {
  return createApplication({
    org: 'Hospital6',
    hosts: ['127.0.0.1', 'localhost'],
    p2pUrl: 'wss://127.0.0.1:7410',
    apiUrl: 'https://127.0.0.1:7411',
    contact,
    users: [{ commonName: 'admin1', role: 'admin' }],
  });
}

function refused(text: string, code: ApplicationError['code'], message: RegExp): void {
  assert.throws(
    () => verifyApplication(text, Date.now()),
    (err: unknown) => err instanceof ApplicationError && err.code === code && message.test(err.message),
  );
}

describe('membership application', () => {
  it('verifies as made, and names the CA key fingerprint', async () => {
    const created = await sample();
    const v = verifyApplication(encodeApplicationFile(created.file), Date.now());
    assert.equal(v.application.org, 'Hospital6');
    assert.equal(v.application.nodeId, 'node.Hospital6');
    assert.match(v.caKeyFingerprintHex, /^[0-9a-f]{64}$/);
  });

  it('refuses a tampered, unsigned, re-signed or malformed file', async () => {
    const created = await sample();
    const text = encodeApplicationFile(created.file);
    const edit = (f: (a: ApplicationFile) => void): string => {
      const copy = JSON.parse(text) as ApplicationFile;
      f(copy);
      return JSON.stringify(copy);
    };
    refused(
      edit((a) => (a.application.apiUrl = 'https://127.0.0.1:9999')),
      'BAD_SIGNATURE',
      /changed after signing/,
    );
    refused(
      edit((a) => (a.application.contact.email = 'evil@x.example')),
      'BAD_SIGNATURE',
      /does not verify/,
    );
    refused(
      edit((a) => delete (a as Partial<ApplicationFile>).signatureBase64),
      'UNSIGNED',
      /not signed/,
    );
    refused(
      edit((a) => (a.signatureBase64 = '')),
      'UNSIGNED',
      /not signed/,
    );
    // Another applicant's CA swapped in: the signature is by the first CA's key.
    const other = await createSelfSignedOrgCa({ org: 'Hospital6' });
    refused(
      edit((a) => (a.application.caCertPem = other.certPem)),
      'BAD_SIGNATURE',
      /does not verify/,
    );
    refused(
      edit((a) => ((a.application as Record<string, unknown>).extra = 1)),
      'MALFORMED',
      /Unrecognized key/,
    );
    refused('{"format": "x"', 'MALFORMED', /not JSON/);
    refused('x'.repeat(70_000), 'MALFORMED', /at most 65536 bytes/);
    refused(
      edit((a) => (a.format = 'other' as ApplicationFile['format'])),
      'MALFORMED',
      /format/,
    );
  });

  it('refuses a node certificate that does not serve its URLs', async () => {
    const created = await createApplication({
      org: 'Hospital7',
      hosts: ['localhost'],
      p2pUrl: 'wss://127.0.0.1:7410',
      apiUrl: 'https://127.0.0.1:7411',
      contact,
    });
    refused(encodeApplicationFile(created.file), 'BAD_CERTIFICATE', /does not name 127\.0\.0\.1/);
  });

  it("once the root certifies the applicant's CA key, its own certificates validate in the MSP", async () => {
    const root = await createRootCa({ commonName: 'Test Root' });
    const created = await sample();
    const certified = await certifyOrgCa(root, created.ca.certPem, 'Hospital6');
    const msp = new Msp({ rootCertPem: root.certPem, orgs: [{ org: 'Hospital6', caCertPem: certified }] });
    const node = msp.validate(created.node.certPem, Date.now());
    assert.deepEqual([node.org, node.id, node.role], ['Hospital6', 'node.Hospital6', 'peer']);
    assert.equal(msp.validate(created.users[0]!.certPem, Date.now()).role, 'admin');
    // The self-signed certificate itself is no member CA.
    assert.throws(
      () => new Msp({ rootCertPem: root.certPem, orgs: [{ org: 'Hospital6', caCertPem: created.ca.certPem }] }),
      /BAD_CHAIN|does not verify|issuer/,
    );
    // The root certifies only a CA named for the organisation asked.
    await assert.rejects(certifyOrgCa(root, created.ca.certPem, 'Hospital7'), /not named as Hospital7's CA/);
  });
});
