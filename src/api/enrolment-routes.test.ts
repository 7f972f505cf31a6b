// Registration and enrolment over a real 3-hospital consortium in this process (issue 12, item 1;
// decision 1252): the routes' refusals, each with its code and never a 5xx; then the whole
// lifecycle through the CLI and the SDK with Hospital2's CA key only on the "admin's host" (the
// consortium directory): register → request with the secret → the admin issues from the pending
// list → the user collects → the new doctor's transaction is VALID → the admin revokes through the
// SDK → the doctor is refused 401 CERT_REVOKED; re-enrolment revokes the replaced certificate.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCertificate, parsePrivateKey, sign } from '../crypto/index.ts';
import { createEnrolmentRequest, enrolFromRequest } from '../identity/enrolment.ts';
import { loadConsortium } from '../identity/index.ts';
import { loadPseudonymKey, patientPseudonymOf } from '../identity/pseudonym.ts';
import type { ConfigSigner } from '../ledger/config-update.ts';
import { MedLedgerApiError, MedLedgerClient } from '../sdk/client.ts';
import { collectEnrolment, EnrolmentAdmin, requestEnrolment } from '../sdk/enrolment.ts';
import { runCli, type CliRun } from '../cli/testkit.ts';
import { startRecordsNetwork, type RecordsNetwork } from '../testing/records-network.ts';

process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

let net: RecordsNetwork;
const home = mkdtempSync(join(tmpdir(), 'medledger-enrol-'));
const ORG = 'Hospital2';
let url = '';
let caPem = '';

before(async () => {
  net = await startRecordsNetwork({ orgs: 3, api: true, enrolment: { openRateBurst: 40, openRatePerSecond: 5 } });
  url = net.apis.get(ORG)!.url;
  caPem = readFileSync(join(net.dir, 'crypto', 'root-ca.pem'), 'utf8');
});
after(async () => {
  await net?.stop();
  rmSync(home, { recursive: true, force: true });
});

const creds = (org: string, user: string): { certPem: string; keyPem: string } => ({
  certPem: readFileSync(join(net.dir, 'crypto', org, user, 'cert.pem'), 'utf8'),
  keyPem: readFileSync(join(net.dir, 'crypto', org, user, 'key.pem'), 'utf8'),
});
const client = (org: string, user: string, at = ORG): MedLedgerClient => new MedLedgerClient({ url: net.apis.get(at)!.url, ...creds(org, user), caPem });
const asUser = (certPem: string, keyPem: string, at = ORG): MedLedgerClient => new MedLedgerClient({ url: net.apis.get(at)!.url, certPem, keyPem, caPem });
const refused = (status: number, code: string) => (e: unknown) => {
  assert.ok(e instanceof MedLedgerApiError, `expected an API error, got ${String(e)}`);
  assert.equal(`${e.status} ${e.code}`, `${status} ${code}`, e.message);
  return true;
};
const ca = (org: string) => loadConsortium(join(net.dir, 'crypto')).orgCas.get(org)!;
const signerOf = (org: string): ConfigSigner => {
  const admin = creds(org, 'admin1');
  const key = parsePrivateKey(admin.keyPem);
  return { certPem: admin.certPem, signer: { sign: (m) => sign(key, m) } };
};
async function ok(args: readonly string[]): Promise<CliRun> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  return r;
}

describe('enrolment routes: refusals', () => {
  let admin: EnrolmentAdmin;
  before(() => {
    admin = new EnrolmentAdmin(client(ORG, 'admin1'));
  });
  after(() => admin.client.close());

  it('only an admin of the node’s own hospital registers; a patient needs a pseudonym; a name once', async () => {
    const doctor = new EnrolmentAdmin(client(ORG, 'doctor1'));
    await assert.rejects(doctor.register({ name: 'x1', role: 'doctor' }), refused(403, 'FORBIDDEN'));
    doctor.client.close();
    const foreign = new EnrolmentAdmin(client('Hospital1', 'admin1'));
    await assert.rejects(foreign.register({ name: 'x1', role: 'doctor' }), refused(403, 'FORBIDDEN'));
    foreign.client.close();
    await assert.rejects(admin.register({ name: 'x1', role: 'patient' }), refused(400, 'BAD_REGISTRATION'));
    await assert.rejects(admin.register({ name: 'x1', role: 'peer' }), refused(400, 'BAD_REQUEST'));
    const r = await admin.register({ name: 'x1', role: 'doctor' });
    assert.match(r.secret, /^[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/);
    await assert.rejects(admin.register({ name: 'x1', role: 'nurse' }), refused(409, 'ALREADY_REGISTERED'));
  });

  it('an enrolment request needs the right secret, the registered name, a well-formed signed request; once', async () => {
    const { secret, id } = await admin.register({ name: 'x2', role: 'nurse' });
    const at = { url, caPem };
    const mine = await createEnrolmentRequest('x2');
    const other = await createEnrolmentRequest('someone.else');
    await assert.rejects(requestEnrolment(at, { secret: 'garbage', csrPem: mine.csrPem }), refused(401, 'SECRET_INVALID'));
    await assert.rejects(requestEnrolment(at, { secret: `${id}.${'A'.repeat(43)}`, csrPem: mine.csrPem }), refused(401, 'SECRET_INVALID'));
    await assert.rejects(requestEnrolment(at, { secret: `${'0'.repeat(32)}.${'A'.repeat(43)}`, csrPem: mine.csrPem }), refused(404, 'REGISTRATION_NOT_FOUND'));
    await assert.rejects(requestEnrolment(at, { secret, csrPem: other.csrPem }), refused(422, 'NAME_MISMATCH'));
    await assert.rejects(
      requestEnrolment(at, { secret, csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }),
      refused(422, 'CSR_MALFORMED'),
    );
    await assert.rejects(requestEnrolment(at, { secret, csrPem: 'x'.repeat(40 * 1024) }), refused(413, 'BODY_TOO_LARGE'));
    const r = await requestEnrolment(at, { secret, csrPem: mine.csrPem });
    assert.deepEqual([r.id, r.status], [id, 'requested']);
    await assert.rejects(requestEnrolment(at, { secret, csrPem: mine.csrPem }), refused(409, 'ALREADY_REQUESTED'));
    const state = await collectEnrolment(at, { id, secret });
    assert.deepEqual([state.status, state.certPem], ['requested', null]);
    await assert.rejects(collectEnrolment(at, { id, secret: 'nope' }), refused(401, 'SECRET_INVALID'));
  });

  it('an uploaded certificate must come from this hospital’s CA, for the request’s key, with the registered name and role', async () => {
    const { secret, id } = await admin.register({ name: 'x3', role: 'doctor' });
    const req = await createEnrolmentRequest('x3');
    await requestEnrolment({ url, caPem }, { secret, csrPem: req.csrPem });
    const pending = (await admin.pending()).find((p) => p.id === id);
    assert.ok(pending, 'listed as pending');
    assert.equal(pending.csrPem, req.csrPem);
    const fromH1 = await enrolFromRequest(ca('Hospital1'), req.csrPem, { role: 'doctor' });
    await assert.rejects(admin.uploadCertificate(id, fromH1.certPem), refused(422, 'CERT_NOT_FROM_ORG_CA'));
    const otherKey = await enrolFromRequest(ca(ORG), (await createEnrolmentRequest('x3')).csrPem, { role: 'doctor' });
    await assert.rejects(admin.uploadCertificate(id, otherKey.certPem), refused(422, 'KEY_MISMATCH'));
    const wrongRole = await enrolFromRequest(ca(ORG), req.csrPem, { role: 'nurse' });
    await assert.rejects(admin.uploadCertificate(id, wrongRole.certPem), refused(422, 'ROLE_MISMATCH'));
    const wrongName = await enrolFromRequest(ca(ORG), req.csrPem, { role: 'doctor', commonName: 'x4' });
    await assert.rejects(admin.uploadCertificate(id, wrongName.certPem), refused(422, 'NAME_MISMATCH'));
    const doctor = new EnrolmentAdmin(client(ORG, 'doctor1'));
    const good = await enrolFromRequest(ca(ORG), req.csrPem, { role: 'doctor' });
    await assert.rejects(doctor.uploadCertificate(id, good.certPem), refused(403, 'FORBIDDEN'));
    await assert.rejects(doctor.pending(), refused(403, 'FORBIDDEN'));
    doctor.client.close();
    await assert.rejects(admin.uploadCertificate('f'.repeat(32), good.certPem), refused(404, 'REGISTRATION_NOT_FOUND'));
    assert.equal((await admin.uploadCertificate(id, good.certPem)).status, 'issued');
    await assert.rejects(admin.uploadCertificate(id, good.certPem), refused(409, 'ALREADY_ENROLLED'));
    const got = await collectEnrolment({ url, caPem }, { id, secret, keyPem: req.keyPem });
    assert.equal(got.certPem, good.certPem);
    assert.match(got.caChainPem!, /BEGIN CERTIFICATE[\s\S]+BEGIN CERTIFICATE/);
    await assert.rejects(collectEnrolment({ url, caPem }, { id, secret }), refused(410, 'SECRET_SPENT'));
  });

  it('identities: an admin or supervisor of the hospital, on its own node', async () => {
    const sup = new EnrolmentAdmin(client(ORG, 'supervisor1'));
    const list = await sup.identities(ORG);
    assert.ok(list.identities.some((i) => i.name === 'x3' && i.certificate === 'valid' && i.status === 'collected'));
    assert.ok(list.identities.some((i) => i.name === 'x1' && i.certificate === 'none' && i.status === 'registered'));
    assert.equal(list.next, null, 'one page holds them all');
    // A page at a time, newest first: the pages joined are the whole list, each name once.
    const walked: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await sup.identities(ORG, { pageSize: 2, ...(after ? { after } : {}) });
      assert.ok(page.identities.length <= 2);
      walked.push(...page.identities.map((x) => x.registrationId));
      if (page.next === null) break;
      after = page.next;
    }
    assert.deepEqual(
      walked,
      list.identities.map((x) => x.registrationId),
    );
    assert.ok(walked.length > 2, `${walked.length} identities: more than one page`);
    // A page size out of bounds or a cursor of no answer is refused, saying which.
    await assert.rejects(sup.identities(ORG, { pageSize: 501 }), refused(400, 'BAD_REQUEST'));
    await assert.rejects(sup.identities(ORG, { after: 'not-a-cursor' }), refused(400, 'BAD_REQUEST'));
    sup.client.close();
    const doctor = new EnrolmentAdmin(client(ORG, 'doctor1'));
    await assert.rejects(doctor.identities(ORG), refused(403, 'FORBIDDEN'));
    doctor.client.close();
    const h1 = new EnrolmentAdmin(client('Hospital1', 'admin1', ORG));
    await assert.rejects(h1.identities(ORG), refused(403, 'FORBIDDEN'));
    h1.client.close();
    const elsewhere = new EnrolmentAdmin(client(ORG, 'admin1', 'Hospital1'));
    await assert.rejects(elsewhere.identities(ORG), refused(404, 'NOT_FOUND'));
    elsewhere.client.close();
    const doc = await admin.client.openapi();
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    for (const [p, m] of [
      ['/v1/registrations', 'post'],
      ['/v1/enrolments', 'post'],
      ['/v1/enrolments', 'get'],
      ['/v1/enrolments/{id}/certificate', 'put'],
      ['/v1/enrolments/{id}', 'get'],
      ['/v1/identities', 'get'],
    ] as const)
      assert.ok(paths[p]?.[m], `OpenAPI lacks ${m} ${p}`);
  });
});

describe('identity lifecycle end to end: CLI and SDK, the CA key only on the admin host', () => {
  const out = join(home, 'dr.e2e');
  let certPem = '';
  let keyPem = '';

  it('register → request with the secret → the admin issues the pending request → the user collects → a VALID transaction', async () => {
    const reg = JSON.parse((await ok(['user', 'register', '--dir', net.dir, '--org', ORG, '--name', 'dr.e2e', '--role', 'doctor', '--json'])).out) as {
      secret: string;
      apiUrl: string;
    };
    assert.equal(reg.apiUrl, url);
    const rootCa = join(net.dir, 'crypto', 'root-ca.pem');
    await ok(['user', 'request', '--name', 'dr.e2e', '--out', out, '--submit', reg.apiUrl, '--secret', reg.secret, '--ca', rootCa]);
    const early = await runCli(['user', 'collect', '--out', out, '--secret', reg.secret]);
    assert.equal(early.code, 1);
    assert.match(early.err, /not issued yet/);
    const issued = JSON.parse((await ok(['user', 'enrol', '--dir', net.dir, '--org', ORG, '--pending', '--json'])).out) as {
      issued: Array<{ name: string; serialHex: string }>;
      refused: unknown[];
    };
    // Every pending request is issued (x2 of the refusal tests too, still waiting).
    const mine = issued.issued.find((i) => i.name === 'dr.e2e');
    assert.ok(mine, JSON.stringify(issued));
    assert.deepEqual(issued.refused, []);
    await ok(['user', 'collect', '--out', out, '--secret', reg.secret]);
    certPem = readFileSync(join(out, 'cert.pem'), 'utf8');
    keyPem = readFileSync(join(out, 'key.pem'), 'utf8');
    assert.equal(parseCertificate(certPem).serialHex, mine.serialHex);
    assert.ok(!existsSync(join(net.dir, 'crypto', ORG, 'dr.e2e', 'key.pem')), 'the hospital never had the key');
    const c = asUser(certPem, keyPem);
    assert.deepEqual(Object.values(await c.whoami()).slice(0, 3), [ORG, 'dr.e2e', 'doctor']);
    assert.equal((await c.submit('assets', 'create', ['by-dr-e2e', 'patient-u', '1'])).code, 'VALID');
    c.close();
  });

  it('the admin revokes through the SDK: the next request is refused 401 CERT_REVOKED at every node', async () => {
    const admin = new EnrolmentAdmin(client(ORG, 'admin1'));
    const serial = parseCertificate(certPem).serialHex;
    const outcome = await admin.revoke(ca(ORG), [serial], [signerOf(ORG)]);
    assert.ok(outcome.blockNumber !== null);
    for (const at of net.orgs) {
      const c = asUser(certPem, keyPem, at);
      await assert.rejects(c.whoami(), refused(401, 'CERT_REVOKED'));
      c.close();
    }
    const entry = (await admin.identities(ORG)).identities.find((i) => i.name === 'dr.e2e');
    assert.equal(entry?.certificate, 'revoked');
    admin.client.close();
  });

  it('re-enrolment: registering the name again, the new certificate’s issue revokes the one it replaces', async () => {
    const admin = new EnrolmentAdmin(client(ORG, 'admin1'));
    const at = { url, caPem };
    const first = await admin.register({ name: 'nurse.rot', role: 'nurse' });
    const k1 = await createEnrolmentRequest('nurse.rot');
    await requestEnrolment(at, { secret: first.secret, csrPem: k1.csrPem });
    const { issued } = await admin.issuePending(ca(ORG));
    assert.equal(issued.length, 1);
    const c1 = await collectEnrolment(at, { id: first.id, secret: first.secret, keyPem: k1.keyPem });
    const second = await admin.register({ name: 'nurse.rot', role: 'nurse' });
    assert.deepEqual(second.replacesSerials, [parseCertificate(c1.certPem!).serialHex]);
    const k2 = await createEnrolmentRequest('nurse.rot');
    await requestEnrolment(at, { secret: second.secret, csrPem: k2.csrPem });
    await ok(['user', 'enrol', '--dir', net.dir, '--org', ORG, '--id', second.id]);
    const c2 = await collectEnrolment(at, { id: second.id, secret: second.secret, keyPem: k2.keyPem });
    const oldClient = asUser(c1.certPem!, k1.keyPem);
    await assert.rejects(oldClient.whoami(), refused(401, 'CERT_REVOKED'));
    oldClient.close();
    const newClient = asUser(c2.certPem!, k2.keyPem);
    assert.equal((await newClient.whoami()).id, 'nurse.rot');
    newClient.close();
    admin.client.close();
  });

  it('a patient registered by login name is issued to their pseudonym', async () => {
    const reg = JSON.parse((await ok(['user', 'register', '--dir', net.dir, '--org', ORG, '--name', 'carol', '--role', 'patient', '--json'])).out) as {
      secret: string;
      id: string;
      pseudonym: string;
    };
    assert.equal(reg.pseudonym, patientPseudonymOf(loadPseudonymKey(join(net.dir, 'crypto'), ORG), ORG, 'carol'));
    const k = await createEnrolmentRequest('carol');
    await requestEnrolment({ url, caPem }, { secret: reg.secret, csrPem: k.csrPem });
    await ok(['user', 'enrol', '--dir', net.dir, '--org', ORG, '--pending']);
    const got = await collectEnrolment({ url, caPem }, { id: reg.id, secret: reg.secret, keyPem: k.keyPem });
    const cert = parseCertificate(got.certPem!);
    assert.equal(cert.subject.commonName, reg.pseudonym);
    assert.equal(cert.subject.pseudonym, reg.pseudonym);
  });

  it('a laboratory (CLI) and a device (SDK/REST) enrol like anyone; the health contract refuses them what is not theirs (decision 1253)', async () => {
    const rootCa = join(net.dir, 'crypto', 'root-ca.pem');
    // The lab through the CLI: register → request with the secret → enrol the pending → collect.
    const labOut = join(home, 'lab.e2e');
    const reg = JSON.parse((await ok(['user', 'register', '--dir', net.dir, '--org', ORG, '--name', 'lab.e2e', '--role', 'laboratory', '--json'])).out) as {
      secret: string;
      apiUrl: string;
    };
    await ok(['user', 'request', '--name', 'lab.e2e', '--out', labOut, '--submit', reg.apiUrl, '--secret', reg.secret, '--ca', rootCa]);
    await ok(['user', 'enrol', '--dir', net.dir, '--org', ORG, '--pending']);
    await ok(['user', 'collect', '--out', labOut, '--secret', reg.secret]);
    // The sensor through the SDK (the REST routes): its key is made on the device's side.
    const admin = new EnrolmentAdmin(client(ORG, 'admin1'));
    const at = { url, caPem };
    const dev = await admin.register({ name: 'sensor.e2e', role: 'device' });
    assert.equal(dev.role, 'device');
    const k = await createEnrolmentRequest('sensor.e2e');
    await requestEnrolment(at, { secret: dev.secret, csrPem: k.csrPem });
    assert.ok((await admin.issuePending(ca(ORG))).issued.some((i) => i.name === 'sensor.e2e'));
    const got = await collectEnrolment(at, { id: dev.id, secret: dev.secret, keyPem: k.keyPem });
    const listed = (await admin.identities(ORG)).identities;
    admin.client.close();
    for (const [name, role, certPem, keyPem] of [
      ['lab.e2e', 'laboratory', readFileSync(join(labOut, 'cert.pem'), 'utf8'), readFileSync(join(labOut, 'key.pem'), 'utf8')],
      ['sensor.e2e', 'device', got.certPem!, k.keyPem],
    ] as const) {
      assert.equal(listed.find((i) => i.name === name)?.role, role, JSON.stringify(listed.map((i) => [i.name, i.role])));
      // Its requests are signed like any client's, and accepted at every node.
      for (const node of net.orgs) {
        const c = asUser(certPem, keyPem, node);
        assert.deepEqual(Object.values(await c.whoami()).slice(0, 3), [ORG, name, role]);
        c.close();
      }
      // Neither may see whom a clinician cares for: the endorsing peer's ACL answers 403.
      const c = asUser(certPem, keyPem);
      await assert.rejects(c.evaluate('health', 'myPatients', ['{}']), refused(403, 'FORBIDDEN'));
      c.close();
    }
  });

  it('the open routes are rate-limited per address', async () => {
    const at = { url, caPem };
    let limited = 0;
    for (let i = 0; i < 60 && limited === 0; i++)
      await requestEnrolment(at, { secret: 'garbage', csrPem: 'x' }).catch((e: unknown) => {
        if (e instanceof MedLedgerApiError && e.status === 429 && e.code === 'RATE_LIMITED') limited++;
        else if (!(e instanceof MedLedgerApiError && e.code === 'SECRET_INVALID')) throw e;
      });
    assert.equal(limited, 1);
  });
});
