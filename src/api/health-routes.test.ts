// The health REST routes (src/api/health-routes.ts) end to end against a real 3-hospital consortium
// (three nodes over mTLS with Raft, each with its record service and API): for every route a
// success case (through the SDK where it is natural), the authorization refusals with their error
// codes, and malformed / oversized input answered with a clear JSON error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { decode, encode } from '../codec/index.ts';
import { createEnrolmentRequest, enrolFromRequest } from '../identity/enrolment.ts';
import { loadConsortium } from '../identity/index.ts';
import { parsePrivateKey } from '../crypto/index.ts';
import { demoHospitalData } from '../cli/demo.ts';
import { patientPseudonym, startRecordsNetwork, type RecordsNetwork } from '../testing/records-network.ts';
import { connectAs, sessionNoticeOf, type HealthClient } from '../sdk/health.ts';
import { MedLedgerApiError } from '../sdk/client.ts';
import { signRequest } from './auth.ts';
import { requestAudience } from '../protocol/request-signing.ts';
import { consortiumIdOf } from '../sdk/consortium.ts';
import { nodeIdOf } from '../node/init.ts';
import { keyObjectSigner } from '../sdk/signer.ts';
import { PENDING_VERSION_TTL_MS } from './health-routes.ts';
import { JSON_NESTING_DEPTH_MAX } from './server.ts';

process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

const H1 = 'Hospital1';
const H2 = 'Hospital2';
const H3 = 'Hospital3';
/** The pseudonym Hospital1's CA issued patient1's certificate to (decision 0906). */
let PP: string;
const BODY_LIMIT_BYTES = 8 * 1024 * 1024; // startRecordsNetwork's API body limit
const H3_PREPARED_LIMITS = { perUserMax: 3, perUserBytesMax: 256 * 1024, totalMax: 5 };
const H3_DATASET_LIMITS = { perUserMax: 2, totalMax: 3 };
/** A time at which every version prepared now has expired and is past the sweep's grace (the chain's clock-skew bound + 1 min). */
const abandonedAt = (): number => Date.now() + PENDING_VERSION_TTL_MS + net.services.get(H1)!.prepared.limits.sweepGraceMs + 1;

let net: RecordsNetwork;
let caPem: string;
const clients: HealthClient[] = [];

function sdk(org: string, user: string, viaOrg = org): HealthClient {
  const c = connectAs(net.dir, org, user, net.apis.get(viaOrg)!.url);
  clients.push(c);
  return c;
}

interface Answer {
  status: number;
  body: { error?: { code: string; message: string; issues?: unknown[] } } & Record<string, unknown>;
}

/** A signed POST of `body` (an object, or raw text) as `org/user` to the API of `nodeOrg`. */
function post(nodeOrg: string, path: string, as: { org: string; user: string } | null, body: unknown): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const bytes = Buffer.from(text, 'utf8');
  const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(bytes.byteLength) };
  let signed: Promise<Record<string, string>> = Promise.resolve({});
  if (as) {
    const dir = join(net.dir, 'crypto', as.org, as.user);
    signed = signRequest({
      audience: requestAudience(nodeIdOf(nodeOrg), consortiumIdOf(net.dir)),
      method: 'POST',
      pathAndQuery: path,
      body: new Uint8Array(bytes),
      signer: keyObjectSigner(readFileSync(join(dir, 'cert.pem'), 'utf8'), parsePrivateKey(readFileSync(join(dir, 'key.pem'), 'utf8'))),
    });
  }
  return signed
    .then((h) => Object.assign(headers, h))
    .then(
      () =>
        new Promise((resolve, reject) => {
          const req = httpsRequest(new URL(path, net.apis.get(nodeOrg)!.url), { method: 'POST', ca: caPem, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const raw = Buffer.concat(chunks).toString('utf8');
              try {
                resolve({ status: res.statusCode ?? 0, body: JSON.parse(raw) as Answer['body'] });
              } catch {
                reject(new Error(`${path} answered HTTP ${res.statusCode} with non-JSON: ${raw.slice(0, 200)}`));
              }
            });
          });
          // The server may answer 413 and close before it has read an oversized body.
          req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
          req.end(bytes);
        }),
    );
}

const user = (org: string, name: string): { org: string; user: string } => ({ org, user: name });

/** An error answer: status, code, a message matching `message`, and the JSON error shape. */
function refused(a: Answer, status: number, code: string, message?: RegExp): void {
  assert.equal(a.status, status, JSON.stringify(a.body));
  assert.equal(a.body.error?.code, code, JSON.stringify(a.body));
  assert.equal(typeof a.body.error?.message, 'string');
  if (message) assert.match(a.body.error!.message, message);
}

async function sdkRefuses(p: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(
    p,
    (err: unknown) =>
      (err instanceof MedLedgerApiError && err.status === status && err.code === code) ||
      assert.fail(`expected ${status} ${code}, got ${err instanceof MedLedgerApiError ? `${err.status} ${err.code}: ` : ''}${String(err)}`),
  );
}

const observation = (id: string, value: number): Record<string, unknown> => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
  valueQuantity: { value, unit: 'mm[Hg]' },
});
const hivBundle = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    { resource: observation('o1', 120) },
    {
      resource: {
        resourceType: 'Condition',
        id: 'c1',
        subject: { reference: 'Patient/p1' },
        code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'B20', display: 'HIV disease' }] },
      },
    },
  ],
};
const fhirContent = (resource: unknown): Record<string, unknown> => ({ kind: 'fhir', resource });
/**
 * A records/prepare body, as text (JSON.stringify itself would overflow the stack), whose
 * Observation's extension nests `levels` extensions deep (two JSON levels each).
 */
function deepExtensionBody(recordId: string, levels: number): string {
  const observationText = JSON.stringify(observation('deep', 1)).slice(0, -1);
  const chain = `${'{"url":"http://x.org/n","extension":['.repeat(levels - 1)}{"url":"http://x.org/leaf","valueString":"v"}${']}'.repeat(levels - 1)}`;
  return `{"recordId":${JSON.stringify(recordId)},"content":{"kind":"fhir","resource":${observationText},"extension":[${chain}]}}}`;
}
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const oversized = (field: string): string => JSON.stringify({ [field]: 'A'.repeat(BODY_LIMIT_BYTES + 16) });

before(async () => {
  // Hospital3's node has small prepare and CSV limits (tested at the end); the others the defaults.
  net = await startRecordsNetwork({
    orgs: 3,
    api: true,
    service: (org) => (org === H3 ? { preparedLimits: H3_PREPARED_LIMITS, preparedDatasetLimits: H3_DATASET_LIMITS, csvLimits: { bytesMax: 64 * 1024 } } : {}),
  });
  caPem = readFileSync(join(net.dir, 'crypto', 'root-ca.pem'), 'utf8');
  const admin = net.caller(H1, 'admin1');
  await admin.submit('initialize', { camsOrg: H1 });
  PP = patientPseudonym(net.dir, H1, 'patient1');
  await admin.submit('enrolPatient', { pseudonym: PP });
  await admin.submit('startCare', { doctor: `${H1}/doctor1`, patient: PP });
});
after(async () => {
  for (const c of clients) c.close();
  await net?.stop();
});

describe('the OpenAPI document', () => {
  it('lists every health route with its body schema and error statuses', async () => {
    const doc = await sdk(H1, 'doctor1').client.openapi();
    const paths = doc['paths'] as Record<string, { post?: { requestBody?: unknown; responses: Record<string, unknown> } }>;
    for (const p of ['records/prepare', 'records/discard', 'records/content', 'datasets/prepare', 'statistics/compute']) {
      const op = paths[`/v1/health/${p}`]?.post;
      assert.ok(op?.requestBody, `${p} is documented with its body`);
      assert.ok(op.responses['200'] && op.responses['403'] && op.responses['413'], `${p}: ${Object.keys(op.responses).join(',')}`);
    }
    assert.match(JSON.stringify(paths['/v1/health/records/prepare']), /"recordId"/);
  });
});

describe('POST /v1/health/records/prepare', () => {
  const path = '/v1/health/records/prepare';

  it('seals and stores the parts (split by sensitivity) and returns the on-chain entries; the SDK creates a record with it', async () => {
    const a = await post(H1, path, user(H1, 'doctor1'), { recordId: 'rest-prep', content: fhirContent(hivBundle) });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const parts = a.body['parts'] as Array<{ sensitivity: string; cid: string; sizeBytes: number; mediaType: string; commitment: string }>;
    assert.deepEqual({ v: a.body['version'], c: a.body['category'], s: parts.map((p) => p.sensitivity) }, { v: 1, c: 'Bundle', s: ['normal', 'restricted'] });
    for (const p of parts) {
      assert.match(p.cid, /^baf/);
      assert.match(p.commitment, /^[0-9a-f]{64}$/);
      const sealed = await net.services.get(H1)!.blobs.get(p.cid);
      assert.ok(sealed && sealed.byteLength === p.sizeBytes, 'stored under its CID');
      assert.ok(!Buffer.from(sealed).toString('latin1').includes('B20'), 'sealed, not plaintext');
    }
    const file = await post(H1, path, user(H1, 'doctor1'), {
      recordId: 'rest-file',
      content: { kind: 'file', dataBase64: b64('a,b\n1,2\n'), mediaType: 'text/csv', sensitivity: 'sensitive' },
    });
    assert.equal(file.status, 200, JSON.stringify(file.body));
    assert.deepEqual(
      { c: file.body['category'], s: (file.body['parts'] as Array<{ sensitivity: string }>).map((p) => p.sensitivity) },
      { c: 'file', s: ['sensitive'] },
    );

    const created = await sdk(H1, 'doctor1').createRecord({ recordId: 'rest-rec', patient: PP, input: { kind: 'fhir', resource: hivBundle } });
    assert.equal(created['allowed'], true, JSON.stringify(created));
    const updated = await sdk(H1, 'doctor1').updateRecord({ recordId: 'rest-rec', input: { kind: 'fhir', resource: observation('o1', 125) } });
    assert.equal((updated['record'] as { version: number }).version, 2);
  });

  it("refuses unauthenticated callers (401), users of another organisation (403), another custodian's record (409), an erased one (404)", async () => {
    refused(await post(H1, path, null, { recordId: 'x', content: fhirContent(observation('o', 1)) }), 401, 'UNAUTHENTICATED');
    refused(
      await post(H1, path, user(H2, 'doctor1'), { recordId: 'x', content: fhirContent(observation('o', 1)) }),
      403,
      'FORBIDDEN',
      /Hospital2\/doctor1 must use a node of Hospital2/,
    );
    refused(
      await post(H2, path, user(H2, 'doctor1'), { recordId: 'rest-rec', content: fhirContent(observation('o', 1)) }),
      409,
      'REFUSED',
      /held by Hospital1/,
    );
    await sdk(H1, 'doctor1').createRecord({ recordId: 'rest-gone', patient: PP, input: { kind: 'fhir', resource: observation('g', 1) } });
    await sdk(H1, 'patient1').eraseRecord('rest-gone');
    refused(await post(H1, path, user(H1, 'doctor1'), { recordId: 'rest-gone', content: fhirContent(observation('g', 2)) }), 404, 'NOT_FOUND', /erased/);
  });

  it('a version being written by one user cannot be prepared over by another (409)', async () => {
    const first = await post(H1, path, user(H1, 'doctor1'), { recordId: 'rest-race', content: fhirContent(observation('r', 1)) });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    refused(
      await post(H1, path, user(H1, 'doctor2'), { recordId: 'rest-race', content: fhirContent(observation('r', 2)) }),
      409,
      'CONFLICT',
      /being written by Hospital1\/doctor1/,
    );
    // The first writer's parts are intact.
    for (const p of first.body['parts'] as Array<{ cid: string }>) assert.ok(await net.services.get(H1)!.blobs.get(p.cid));
  });

  it('answers malformed, invalid and oversized bodies with a clear JSON error', async () => {
    const doctor = user(H1, 'doctor1');
    refused(await post(H1, path, doctor, '{"recordId": "x", '), 400, 'MALFORMED_JSON');
    refused(await post(H1, path, doctor, { recordId: '../etc/passwd', content: fhirContent(observation('o', 1)) }), 400, 'BAD_REQUEST', /recordId/);
    refused(await post(H1, path, doctor, { recordId: 'x'.repeat(65), content: fhirContent(observation('o', 1)) }), 400, 'BAD_REQUEST', /recordId/);
    refused(await post(H1, path, doctor, { recordId: 'x', content: fhirContent(observation('o', 1)), extra: true }), 400, 'BAD_REQUEST', /extra/);
    refused(await post(H1, path, doctor, { recordId: 'x' }), 400, 'BAD_REQUEST', /content/);
    refused(await post(H1, path, doctor, { recordId: 'x', content: { kind: 'pdf' } }), 400, 'BAD_REQUEST', /content/);
    refused(
      await post(H1, path, doctor, { recordId: 'x', content: { kind: 'file', dataBase64: 'not base64!', mediaType: 'text/csv' } }),
      400,
      'BAD_REQUEST',
      /base64/,
    );
    refused(
      await post(H1, path, doctor, { recordId: 'x', content: { kind: 'file', dataBase64: b64('x'), mediaType: 'text/csv', sensitivity: 'secret' } }),
      400,
      'BAD_REQUEST',
      /sensitivity/,
    );
    refused(
      await post(H1, path, doctor, { recordId: 'x', content: { kind: 'file', dataBase64: b64('x'), mediaType: 'no media type' } }),
      422,
      'INVALID_CONTENT',
      /media type/,
    );
    const invalid = await post(H1, path, doctor, { recordId: 'rest-invalid', content: fhirContent({ resourceType: 'Observation', status: 'not-a-status' }) });
    refused(invalid, 422, 'INVALID_FHIR', /rest-invalid/);
    assert.ok(Array.isArray(invalid.body.error?.issues) && invalid.body.error.issues.length > 0, "carries the validator's issues");
    assert.equal(net.services.get(H1)!.keys.cids('rest-invalid').length, 0, 'nothing kept');
    refused(await post(H1, path, doctor, oversized('recordId')), 413, 'BODY_TOO_LARGE');
  });

  it('refuses a FHIR resource nested 5 000 or 100 000 levels deep with 400 TOO_DEEP naming the limit (it crashed the handler: issue 16 item 8); 20 nested extensions pass', async () => {
    const doctor = user(H1, 'doctor1');
    for (const levels of [5_000, 100_000]) {
      refused(
        await post(H1, path, doctor, deepExtensionBody('rest-deep', levels)),
        400,
        'TOO_DEEP',
        new RegExp(`deeper than ${JSON_NESTING_DEPTH_MAX} levels`),
      );
    }
    assert.equal(net.services.get(H1)!.keys.cids('rest-deep').length, 0, 'nothing kept');
    const ok = await post(H1, path, doctor, deepExtensionBody('rest-deep', 20));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal((await post(H1, '/v1/health/records/discard', doctor, { recordId: 'rest-deep', version: 1 })).status, 200);
  });
});

describe('POST /v1/health/records/discard', () => {
  const path = '/v1/health/records/discard';

  it('drops a prepared version that is not on chain (its blobs are gone)', async () => {
    const prep = await post(H1, '/v1/health/records/prepare', user(H1, 'doctor1'), { recordId: 'rest-drop', content: fhirContent(observation('d', 1)) });
    assert.equal(prep.status, 200);
    const a = await post(H1, path, user(H1, 'doctor1'), { recordId: 'rest-drop', version: 1 });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual(a.body, { recordId: 'rest-drop', version: 1, discarded: true });
    for (const p of prep.body['parts'] as Array<{ cid: string }>) assert.equal(await net.services.get(H1)!.blobs.get(p.cid), null);
    // Afterwards anyone of the hospital may write that version again.
    assert.equal(
      (await post(H1, '/v1/health/records/prepare', user(H1, 'doctor2'), { recordId: 'rest-drop', content: fhirContent(observation('d', 2)) })).status,
      200,
    );
  });

  it("refuses another user's prepared version (403), another organisation (403), a version on chain (409)", async () => {
    const prep = await post(H1, '/v1/health/records/prepare', user(H1, 'doctor1'), { recordId: 'rest-keep', content: fhirContent(observation('k', 1)) });
    assert.equal(prep.status, 200);
    refused(await post(H1, path, user(H1, 'nurse1'), { recordId: 'rest-keep', version: 1 }), 403, 'FORBIDDEN', /prepared by Hospital1\/doctor1/);
    for (const p of prep.body['parts'] as Array<{ cid: string }>) assert.ok(await net.services.get(H1)!.blobs.get(p.cid), 'still stored');
    refused(await post(H1, path, user(H3, 'doctor1'), { recordId: 'rest-keep', version: 1 }), 403, 'FORBIDDEN');
    refused(await post(H1, path, user(H1, 'doctor1'), { recordId: 'rest-rec', version: 1 }), 409, 'CONFLICT', /on chain/);
    refused(await post(H1, path, null, { recordId: 'rest-keep', version: 1 }), 401, 'UNAUTHENTICATED');
  });

  it('answers 404 for a record or version that was never prepared (issue 16 item 7)', async () => {
    const doctor = user(H1, 'doctor1');
    refused(await post(H1, path, doctor, { recordId: 'rest-never-prepared', version: 1 }), 404, 'NOT_FOUND', /no prepared version 1 of rest-never-prepared/);
    refused(await post(H1, path, doctor, { recordId: 'rest-keep', version: 7 }), 404, 'NOT_FOUND', /no prepared version 7 of rest-keep/);
    // rest-rec holds versions 1 and 2 on chain: version 3 was never prepared.
    refused(await post(H1, path, doctor, { recordId: 'rest-rec', version: 3 }), 404, 'NOT_FOUND');
  });

  it('answers malformed and oversized bodies with a clear JSON error', async () => {
    const doctor = user(H1, 'doctor1');
    refused(await post(H1, path, doctor, { recordId: 'rest-keep', version: 0 }), 400, 'BAD_REQUEST', /version/);
    refused(await post(H1, path, doctor, { recordId: 'rest-keep', version: '1' }), 400, 'BAD_REQUEST', /version/);
    refused(await post(H1, path, doctor, { recordId: 'a b', version: 1 }), 400, 'BAD_REQUEST', /recordId/);
    refused(await post(H1, path, doctor, '[1,'), 400, 'MALFORMED_JSON');
    refused(await post(H1, path, doctor, oversized('recordId')), 413, 'BODY_TOO_LARGE');
  });
});

describe('POST /v1/health/records/content', () => {
  const path = '/v1/health/records/content';
  let ticket = '';

  it("returns what the caller's own committed access transaction released (SDK readRecord), locally and across hospitals", async () => {
    const own = await sdk(H1, 'doctor1').readRecord({ recordId: 'rest-rec', purpose: 'TREAT' });
    assert.equal(own.allowed, true, JSON.stringify(own.decision));
    assert.deepEqual(JSON.parse(Buffer.from(own.parts[0]!.content).toString('utf8')), observation('o1', 125));
    // Version 1 had a restricted part: a doctor in care reads up to sensitive.
    const v1 = await sdk(H1, 'doctor1').readRecord({ recordId: 'rest-rec', purpose: 'TREAT', version: 1, sensitivity: 'sensitive' });
    assert.equal(v1.allowed, true, JSON.stringify(v1.decision));
    assert.deepEqual({ v: v1.version, s: v1.parts.map((p) => p.sensitivity) }, { v: 1, s: ['normal'] });
    assert.deepEqual(JSON.parse(Buffer.from(v1.parts[0]!.content).toString('utf8')).entry[0].resource, observation('o1', 120));

    const now = Date.now();
    await sdk(H1, 'patient1').grantConsent({
      patient: PP,
      grantee: { kind: 'user', user: `${H2}/doctor1` },
      actions: ['read'],
      purposes: ['TREAT'],
      period: { startMs: now - 60_000, endMs: now + 3_600_000 },
      scope: { maxSensitivity: 'normal' },
    });
    const access = await sdk(H2, 'doctor1').submit('access', { recordId: 'rest-rec', action: 'read', purpose: 'TREAT', sensitivity: 'normal' });
    assert.equal(access.payload['allowed'], true, JSON.stringify(access.payload));
    ticket = access.txId;
    const raw = await post(H2, path, user(H2, 'doctor1'), { txId: ticket });
    assert.equal(raw.status, 200, JSON.stringify(raw.body));
    assert.deepEqual({ v: raw.body['version'], c: raw.body['custodian'] }, { v: 2, c: H1 });
    const parts = raw.body['parts'] as Array<{ sensitivity: string; cid: string; dataBase64: string }>;
    assert.equal(parts.length, 1);
    assert.deepEqual(JSON.parse(Buffer.from(parts[0]!.dataBase64, 'base64').toString('utf8')), observation('o1', 125));
  });

  it("refuses another user's ticket, a denied access (403 DENIED), another organisation (403 FORBIDDEN); an unknown transaction is 404 NOT_FOUND", async () => {
    refused(await post(H2, path, user(H2, 'nurse1'), { txId: ticket }), 403, 'DENIED', /made by Hospital2\/doctor1/);
    refused(await post(H1, path, user(H1, 'doctor1'), { txId: ticket }), 403, 'DENIED', /Hospital2\/doctor1/);
    refused(await post(H1, path, user(H2, 'doctor1'), { txId: ticket }), 403, 'FORBIDDEN');
    const denied = await sdk(H3, 'nurse1').submit('access', { recordId: 'rest-rec', action: 'read', purpose: 'TREAT' });
    assert.equal(denied.payload['allowed'], false);
    refused(await post(H3, path, user(H3, 'nurse1'), { txId: denied.txId }), 403, 'DENIED', /denied/);
    // Unknown on this node's chain: not found, not a refusal — and at once, not after waiting
    // 10 s for a commit that will not come (issue 16 item 7: such requests held the node's slots).
    const startedMs = Date.now();
    refused(await post(H1, path, user(H1, 'doctor1'), { txId: 'ab'.repeat(32) }), 404, 'NOT_FOUND', /not on this node's chain/);
    assert.ok(Date.now() - startedMs < 5_000, `answered after ${Date.now() - startedMs} ms`);
    // A transaction that exists but is no access decision: still 403.
    const care = await sdk(H1, 'admin1').submit('startCare', { doctor: `${H1}/doctor2`, patient: PP });
    refused(await post(H1, path, user(H1, 'admin1'), { txId: care.txId }), 403, 'DENIED', /not a health access decision/);
    refused(await post(H1, path, null, { txId: ticket }), 401, 'UNAUTHENTICATED');
  });

  it('a dead BMRS session: the decision and the content route say so and who revives it; CAMS revives it through the SDK', async () => {
    const nurse = sdk(H3, 'nurse1');
    // Nurses may not break the glass: each emergency claim is a violation; the second kills the session.
    let claim = await nurse.submit('access', { recordId: 'rest-rec', action: 'read', purpose: 'BTG', reason: 'unconscious-no-proxy' });
    assert.match(sessionNoticeOf(claim.payload)?.notice ?? '', /recorded as a BMRS violation/);
    claim = await nurse.submit('access', { recordId: 'rest-rec', action: 'read', purpose: 'BTG', reason: 'unconscious-no-proxy' });
    const died = sessionNoticeOf(claim.payload);
    assert.deepEqual({ dead: died?.dead, by: died?.reauthorizeBy }, { dead: true, by: H1 });
    assert.match(
      died?.notice ?? '',
      /this violation ended your BMRS session .*an admin of Hospital1 submits bmrsReauthorize\(\{"provider": "Hospital3\/nurse1", "recordId": "rest-rec"\}\)/,
    );
    // Dead: the next request is refused, and the content route's 403 says why and who revives it.
    const next = await nurse.readRecord({ recordId: 'rest-rec', purpose: 'TREAT' });
    assert.equal(next.allowed, false);
    assert.equal(next.session?.dead, true);
    refused(
      await post(H3, path, user(H3, 'nurse1'), { txId: next.txId }),
      403,
      'DENIED',
      /BMRS session is dead.*until CAMS re-authorizes it: an admin of Hospital1 submits bmrsReauthorize/,
    );
    await assert.rejects(sdk(H2, 'admin1').reauthorize(`${H3}/nurse1`, { recordId: 'rest-rec' }), /only an admin of the CAMS organisation Hospital1/);
    const revived = await sdk(H1, 'admin1').reauthorize(`${H3}/nurse1`, { recordId: 'rest-rec' });
    assert.deepEqual({ from: revived.from, state: revived.state, patient: revived.patient }, { from: 3, state: 1, patient: PP });
    assert.equal((await sdk(H1, 'admin1').bmrsSession(`${H3}/nurse1`, { patient: PP })).state, 1);
  });

  it('answers malformed and oversized bodies with a clear JSON error', async () => {
    const doctor = user(H1, 'doctor1');
    refused(await post(H1, path, doctor, { txId: 'XYZ' }), 400, 'BAD_REQUEST', /txId: must be a transaction id/);
    refused(await post(H1, path, doctor, {}), 400, 'BAD_REQUEST', /txId/);
    refused(await post(H1, path, doctor, 'null'), 400, 'BAD_REQUEST');
    refused(await post(H1, path, doctor, oversized('txId')), 413, 'BODY_TOO_LARGE');
  });
});

describe('POST /v1/health/datasets/prepare and /v1/health/statistics/compute', () => {
  const prep = '/v1/health/datasets/prepare';
  const compute = '/v1/health/statistics/compute';
  const csv = (values: readonly number[]): string => ['age,sbp', ...values.map((v, i) => `${30 + i},${v}`)].join('\n');
  const A = [120, 130, 140, 150, 160, 170];
  const B = [100, 110, 120, 130, 140];
  let allowedRequest = '';

  it('datasets/prepare seals a CSV or a FHIR Observation Bundle and returns the listing fields; the SDK registers datasets with it', async () => {
    const a = await post(H1, prep, user(H1, 'admin1'), { datasetId: 'rest-raw', mediaType: 'text/csv', dataBase64: b64(csv(A)) });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual({ cols: a.body['columns'], n: a.body['recordCount'] }, { cols: ['age', 'sbp'], n: A.length });
    assert.match(String(a.body['cid']), /^baf/);
    const fhir = await post(H1, prep, user(H1, 'admin1'), {
      datasetId: 'rest-fhir',
      mediaType: 'application/fhir+json',
      dataBase64: b64(
        JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: observation('x', 1) }, { resource: observation('y', 2) }] }),
      ),
    });
    assert.equal(fhir.status, 200, JSON.stringify(fhir.body));
    assert.deepEqual({ cols: fhir.body['columns'], n: fhir.body['recordCount'] }, { cols: ['8480-6'], n: 2 });

    const r1 = await sdk(H1, 'admin1').registerDataset({ datasetId: 'rest-ds1', name: 'A', data: Buffer.from(csv(A)), mediaType: 'text/csv' });
    const r2 = await sdk(H2, 'supervisor1').registerDataset({ datasetId: 'rest-ds2', name: 'B', data: Buffer.from(csv(B)), mediaType: 'text/csv' });
    assert.equal((r1['dataset'] as { ownerOrg: string }).ownerOrg, H1);
    assert.equal((r2['dataset'] as { recordCount: number }).recordCount, B.length);
  });

  it('datasets/prepare refuses another organisation (403), an existing dataset (409), bad content (422) and malformed or oversized bodies (400/413)', async () => {
    const admin = user(H1, 'admin1');
    refused(await post(H1, prep, user(H2, 'admin1'), { datasetId: 'rest-x', mediaType: 'text/csv', dataBase64: b64(csv(A)) }), 403, 'FORBIDDEN');
    refused(await post(H1, prep, null, { datasetId: 'rest-x', mediaType: 'text/csv', dataBase64: b64(csv(A)) }), 401, 'UNAUTHENTICATED');
    refused(await post(H1, prep, admin, { datasetId: 'rest-ds1', mediaType: 'text/csv', dataBase64: b64(csv(A)) }), 409, 'REFUSED', /already exists/);
    refused(await post(H1, prep, admin, { datasetId: 'rest-x', mediaType: 'text/csv', dataBase64: '' }), 422, 'INVALID_CONTENT', /no columns/);
    refused(
      await post(H1, prep, admin, { datasetId: 'rest-x', mediaType: 'application/fhir+json', dataBase64: b64('{"resourceType": "Bund') }),
      422,
      'INVALID_CONTENT',
      /not JSON/,
    );
    refused(
      await post(H1, prep, admin, {
        datasetId: 'rest-x',
        mediaType: 'application/fhir+json',
        dataBase64: b64(JSON.stringify({ resourceType: 'Observation', status: 'bogus' })),
      }),
      422,
      'INVALID_FHIR',
    );
    refused(
      await post(H1, prep, admin, { datasetId: 'rest-x', mediaType: 'application/fhir+json', dataBase64: b64(JSON.stringify(observation('x', 1))) }),
      422,
      'INVALID_CONTENT',
      /Bundle of Observations/,
    );
    refused(await post(H1, prep, admin, { datasetId: 'rest-x', mediaType: 'application/pdf', dataBase64: b64('x') }), 400, 'BAD_REQUEST', /mediaType/);
    refused(await post(H1, prep, admin, { datasetId: 'rest x', mediaType: 'text/csv', dataBase64: b64('a\n1') }), 400, 'BAD_REQUEST', /datasetId/);
    refused(await post(H1, prep, admin, oversized('dataBase64')), 413, 'BODY_TOO_LARGE');
  });

  it("statistics/compute combines the custodians' partials for the caller's allowed request (SDK statistics), refusing others' and refused requests", async () => {
    const researcher = sdk(H3, 'researcher1');
    const now = Date.now();
    const period = { startMs: now - 60_000, endMs: now + 86_400_000 };
    const refusedReq = await researcher.submit('requestStatistics', {
      datasetIds: ['rest-ds1', 'rest-ds2'],
      variable: 'sbp',
      purpose: 'HRESCH',
      histogram: { min: 100, max: 180, bins: 4 },
    });
    assert.equal(refusedReq.payload['allowed'], false);
    refused(await post(H3, compute, user(H3, 'researcher1'), { requestId: String(refusedReq.payload['requestId']) }), 409, 'REFUSED', /refused/);

    for (const [ds, org, owner] of [
      ['rest-ds1', H1, 'admin1'],
      ['rest-ds2', H2, 'supervisor1'],
    ] as const) {
      const app = await researcher.apply({
        target: { kind: 'dataset', datasetId: ds },
        purpose: 'HRESCH',
        actions: ['statistics'],
        period,
        maxSensitivity: 'normal',
      });
      await sdk(org, owner).decideApplication((app.payload['application'] as { applicationId: string }).applicationId, true);
    }
    const st = await researcher.statistics({
      datasetIds: ['rest-ds1', 'rest-ds2'],
      variable: 'sbp',
      purpose: 'HRESCH',
      histogram: { min: 100, max: 180, bins: 4 },
      minCohort: 2,
    });
    assert.equal(st.allowed, true, st.reasons.join('; '));
    const pooled = [...A, ...B];
    const result = st.result as {
      count: number;
      minCohort: number;
      minBin: unknown;
      maxBin: unknown;
      mean: number;
      suppressed: boolean;
      histogram: Array<{ count: number | null }>;
    };
    // minCohort 2 is raised to the consortium floor 5; each hospital's bins hold 1–2 values, so
    // every bin is withheld at its custodian, and with them the extremes (decision 1163).
    assert.deepEqual(
      { n: result.count, t: result.minCohort, min: result.minBin, max: result.maxBin, s: result.suppressed },
      { n: pooled.length, t: 5, min: null, max: null, s: false },
    );
    assert.deepEqual(
      result.histogram.map((b) => b.count),
      [null, null, null, null],
    );
    assert.ok(Math.abs(result.mean - pooled.reduce((x, y) => x + y, 0) / pooled.length) < 1e-9);
    // Completed: computing it again is refused.
    refused(await post(H3, compute, user(H3, 'researcher1'), { requestId: st.requestId }), 409, 'REFUSED', /completed/);

    // Raw: an allowed request, computed by its requester only.
    const req = await researcher.submit('requestStatistics', {
      datasetIds: ['rest-ds2'],
      variable: 'sbp',
      purpose: 'HRESCH',
      histogram: { min: 100, max: 180, bins: 4 },
      minCohort: 10,
    });
    assert.equal(req.payload['allowed'], true);
    allowedRequest = String(req.payload['requestId']);
    refused(await post(H3, compute, user(H3, 'doctor1'), { requestId: allowedRequest }), 403, 'DENIED', /belongs to Hospital3\/researcher1/);
    refused(await post(H1, compute, user(H3, 'researcher1'), { requestId: allowedRequest }), 403, 'FORBIDDEN');
    const raw = await post(H3, compute, user(H3, 'researcher1'), { requestId: allowedRequest });
    assert.equal(raw.status, 200, JSON.stringify(raw.body));
    const small = raw.body['result'] as { suppressed: boolean; count: number | null };
    assert.equal(small.suppressed, true, 'a cohort of 5 under minCohort 10 is suppressed');
    assert.notEqual(small.count, B.length);
    refused(await post(H3, compute, user(H3, 'researcher1'), { requestId: 'no-such-request' }), 404, 'NOT_FOUND');
    await sdkRefuses(
      sdk(H1, 'doctor1')
        .statistics({ datasetIds: ['no-such-ds'], variable: 'sbp', purpose: 'HRESCH', histogram: { min: 0, max: 1, bins: 1 } })
        .then((r) => {
          if (!r.allowed) throw new MedLedgerApiError(409, 'REFUSED', r.reasons.join('; '));
        }),
      409,
      'REFUSED',
    );
  });

  it('statistics/compute answers malformed and oversized bodies with a clear JSON error', async () => {
    const r = user(H3, 'researcher1');
    refused(await post(H3, compute, r, { requestId: '' }), 400, 'BAD_REQUEST', /requestId/);
    refused(await post(H3, compute, r, { requestId: allowedRequest, extra: 1 }), 400, 'BAD_REQUEST');
    refused(await post(H3, compute, r, '{'), 400, 'MALFORMED_JSON');
    refused(await post(H3, compute, null, { requestId: allowedRequest }), 401, 'UNAUTHENTICATED');
    refused(await post(H3, compute, r, oversized('requestId')), 413, 'BODY_TOO_LARGE');
  });
});

// Issue 16, item 1: an outside probe of the demo consortium recovered every raw value of
// `bp-hospital1` (22 values) with `minCohort: 1` and 70 bins of width 1 (19 non-empty bins of 1–2),
// and read the exact raw minimum and maximum even at the default minimum cohort. The same attack
// here, through the real API, on the demo's own dataset (decision 1163).
describe('statistical disclosure control: the probe of issue 16 through the API', () => {
  const compute = '/v1/health/statistics/compute';
  const DATASET = 'bp-hospital1';
  const values = demoHospitalData(0)
    .datasetCsv.trim()
    .split('\n')
    .slice(1)
    .map((line) => Number(line.split(',')[1]));
  const probe = { datasetIds: [DATASET], variable: 'sbp', purpose: 'HRESCH', histogram: { min: 100, max: 170, bins: 70 }, minCohort: 1 };
  /** Every count a result or a custodian's partial releases (whatever its shape: histogram bins, under/over, cells). */
  const releasedCounts = (figures: Record<string, unknown>): number[] => {
    const bins = Array.isArray(figures['histogram'])
      ? (figures['histogram'] as Array<{ count?: unknown } | number>).map((b) => (typeof b === 'number' ? b : b.count))
      : [];
    const cells = Array.isArray(figures['cells']) ? (figures['cells'] as unknown[]) : [];
    return [...bins, ...cells, figures['under'], figures['over'], figures['outside']].filter((c): c is number => typeof c === 'number');
  };

  before(async () => {
    assert.equal(values.length, 22, 'the demo dataset the probe attacked');
    await sdk(H1, 'admin1').registerDataset({
      datasetId: DATASET,
      name: 'Blood pressure cohort, Hospital1',
      data: Buffer.from(demoHospitalData(0).datasetCsv),
      mediaType: 'text/csv',
    });
    const now = Date.now();
    const app = await sdk(H2, 'researcher1').apply({
      target: { kind: 'dataset', datasetId: DATASET },
      purpose: 'HRESCH',
      actions: ['statistics'],
      period: { startMs: now - 60_000, endMs: now + 86_400_000 },
      maxSensitivity: 'normal',
    });
    await sdk(H1, 'admin1').decideApplication((app.payload['application'] as { applicationId: string }).applicationId, true);
  });

  it('minCohort 1 with 70 bins of width 1 releases no count under the consortium floor, and no raw minimum or maximum', async () => {
    const researcher = sdk(H2, 'researcher1');
    const req = await researcher.submit('requestStatistics', probe);
    assert.equal(req.payload['allowed'], true, JSON.stringify(req.payload));
    const requestId = String(req.payload['requestId']);
    const answer = await post(H2, compute, user(H2, 'researcher1'), { requestId });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const result = answer.body['result'] as Record<string, unknown>;
    const small = releasedCounts(result).filter((c) => c < 5);
    assert.deepEqual(small, [], `counts under 5 released: ${JSON.stringify(result['histogram'])}`);
    assert.ok(Number(result['minCohort']) >= 5, `the caller's minCohort 1 is raised to the floor: ${String(result['minCohort'])}`);
    // The values cannot be read back: no bin holds fewer than 5 of them.
    const readBack = (result['histogram'] as Array<{ from: number; count: number | null }>).flatMap((b) =>
      b.count ? Array<number>(b.count).fill(b.from) : [],
    );
    assert.notDeepEqual(
      readBack.sort((a, b) => a - b),
      [...values].sort((a, b) => a - b),
    );
    // No raw extreme: an extreme value is one patient's value.
    assert.equal(result['min'] ?? null, null, 'the raw minimum is not released');
    assert.equal(result['max'] ?? null, null, 'the raw maximum is not released');
    assert.equal(result['count'], 22, 'the cohort itself is large enough to count');
    // The result passes the contract's check and is recorded.
    const recorded = await researcher.submit('recordStatisticsResult', { requestId, result });
    assert.equal(recorded.payload['status'], 'completed');
    const onChain = (await researcher.evaluate('getStatistics', { requestId })) as { minCohort: number; result: Record<string, unknown> };
    assert.equal(onChain.minCohort, 5, 'the request on chain carries the threshold actually used');
  });

  it('the custodian hands the requesting node no small cell and no raw minimum or maximum (what a modified requester node would see)', async () => {
    const req = await sdk(H2, 'researcher1').submit('requestStatistics', probe);
    const requestId = String(req.payload['requestId']);
    const served = await net.services.get(H1)!.servePartial(net.nodes.get(H2)!.nodeId, encode({ requestId, datasetId: DATASET }));
    const answer = decode<{ ok: boolean; error?: string; partial?: Record<string, unknown> }>(served);
    assert.equal(answer.ok, true, answer.error);
    const partial = answer.partial!;
    assert.equal(partial['min'] ?? null, null, `raw minimum in the partial: ${String(partial['min'])}`);
    assert.equal(partial['max'] ?? null, null, `raw maximum in the partial: ${String(partial['max'])}`);
    assert.deepEqual(
      releasedCounts(partial).filter((c) => c < 5),
      [],
      `small counts in the partial: ${JSON.stringify(partial)}`,
    );
  });

  it('the contract refuses a result that releases small cells or raw extremes (a modified requester node cannot record one)', async () => {
    const researcher = sdk(H2, 'researcher1');
    const req = await researcher.submit('requestStatistics', { ...probe, histogram: { min: 100, max: 170, bins: 7 } });
    const requestId = String(req.payload['requestId']);
    const width = 10;
    const histogram = Array.from({ length: 7 }, (_, i) => ({
      from: 100 + i * width,
      to: i === 6 ? 170 : 100 + (i + 1) * width,
      count: values.filter((v) => v >= 100 + i * width && (i === 6 ? v <= 170 : v < 100 + (i + 1) * width)).length,
    }));
    const rawResult = { suppressed: false, minCohort: 1, count: 22, min: Math.min(...values), max: Math.max(...values), mean: 140, stdDev: 17, histogram };
    await assert.rejects(
      researcher.submit('recordStatisticsResult', { requestId, result: rawResult }),
      (err: unknown) => (err instanceof MedLedgerApiError && err.status === 422) || assert.fail(String(err)),
    );
    const st = (await researcher.evaluate('getStatistics', { requestId })) as { status: string };
    assert.equal(st.status, 'requested', 'nothing recorded');
  });
});

describe('datasets/prepare: who may, what the content must be, how much (issue 16 item 7)', () => {
  const prep = '/v1/health/datasets/prepare';
  const body = (datasetId: string, text: string, mediaType = 'text/csv'): Record<string, unknown> => ({ datasetId, mediaType, dataBase64: b64(text) });
  const small = 'age,sbp\n30,120\n31,125\n';

  it('refuses users who may not register datasets (403) and content that does not match its media type (422), keeping nothing', async () => {
    // The probe's junk: any user of the hospital could store anything, "{" labelled text/csv.
    refused(
      await post(H1, prep, user(H1, 'doctor1'), body('junk-role', small)),
      403,
      'FORBIDDEN',
      /Hospital1\/doctor1 may not prepare datasets: role "doctor" may not call health.registerDataset/,
    );
    refused(await post(H1, prep, user(H1, 'nurse1'), body('junk-role', small)), 403, 'FORBIDDEN');
    const admin = user(H1, 'admin1');
    const junk: Array<[string, string, string, RegExp]> = [
      ['junk-brace', '{', 'text/csv', /column "\{" is not a column code/],
      ['junk-space', 'a b,sbp\n1,2\n', 'text/csv', /column "a b" is not a column code/],
      ['junk-header', 'age,sbp\n', 'text/csv', /a header \(age,sbp\) but no data rows/],
      ['junk-text', 'name,ward\nann,a\nbob,b\n', 'text/csv', /no numeric column/],
      ['junk-mixed', 'age,sbp\n30,high\nold,120\n', 'text/csv', /no numeric column/],
      ['junk-binary', '\u0000\u0001PK\u0003\u0004', 'text/csv', /^dataset: /],
      [
        'junk-novalue',
        JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { ...observation('x', 1), valueQuantity: undefined } }] }),
        'application/fhir+json',
        /no Observation with a code and a numeric valueQuantity/,
      ],
      // Nested 5 000 levels inside the base64 (the edge's depth check cannot see it): refused, not a crash.
      [
        'junk-deep',
        `{"resourceType":"Bundle","type":"collection","meta":${'{"extension":['.repeat(5_000)}${']}'.repeat(5_000)}}`,
        'application/fhir+json',
        new RegExp(`deeper than ${JSON_NESTING_DEPTH_MAX} levels`),
      ],
    ];
    for (const [id, text, mediaType, why] of junk) {
      refused(await post(H1, prep, admin, body(id, text, mediaType)), 422, 'INVALID_CONTENT', why);
      assert.equal(net.services.get(H1)!.datasetKeys.cids(id).length, 0, `${id}: nothing kept`);
    }
  });

  it("bounds what one user and the node hold prepared with 429 TOO_MANY_PENDING; another user's prepared dataset is 409; the sweep frees them, never a listed one", async () => {
    const svc = net.services.get(H3)!;
    const cidOf = (a: Answer): string => String(a.body['cid']);
    const first = await post(H3, prep, user(H3, 'admin1'), body('lim-ds-1', small));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.ok(Math.abs(Number(first.body['expiresAtMs']) - (Date.now() + PENDING_VERSION_TTL_MS)) < 60_000, 'the answer says when it expires');
    assert.equal((await post(H3, prep, user(H3, 'admin1'), body('lim-ds-2', small))).status, 200);
    refused(
      await post(H3, prep, user(H3, 'admin1'), body('lim-ds-3', small)),
      429,
      'TOO_MANY_PENDING',
      /Hospital3\/admin1 already holds 2 prepared datasets not on chain \(at most 2\): register them \(health.registerDataset\), or wait until they are swept/,
    );
    // Preparing one's own dataset again replaces it: the earlier blob goes, nothing counts twice.
    const again = await post(H3, prep, user(H3, 'admin1'), body('lim-ds-1', 'age,sbp\n40,130\n'));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(await svc.blobs.has(cidOf(first)), false, 'the replaced blob is deleted');
    assert.deepEqual(svc.datasetKeys.cids('lim-ds-1'), [cidOf(again)]);
    refused(await post(H3, prep, user(H3, 'supervisor1'), body('lim-ds-1', small)), 409, 'CONFLICT', /lim-ds-1 is being prepared by Hospital3\/admin1/);
    const listed = await post(H3, prep, user(H3, 'supervisor1'), body('lim-ds-4', small));
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    refused(
      await post(H3, prep, user(H3, 'auditor1'), body('lim-ds-5', small)),
      429,
      'TOO_MANY_PENDING',
      /this node holds 3 prepared datasets not on chain \(at most 3\)/,
    );

    // lim-ds-4 is listed on chain; the two others are abandoned and swept, their blobs and keys gone.
    const reg = await sdk(H3, 'supervisor1').submit('registerDataset', {
      datasetId: 'lim-ds-4',
      name: 'listed',
      columns: listed.body['columns'],
      cid: cidOf(listed),
      sizeBytes: listed.body['sizeBytes'],
      recordCount: listed.body['recordCount'],
    });
    assert.equal((reg.payload['dataset'] as { cid: string }).cid, cidOf(listed));
    const abandoned = Date.now() + PENDING_VERSION_TTL_MS + svc.preparedDatasets.limits.sweepGraceMs + 1;
    assert.deepEqual(
      await svc.sweepPreparedDatasets(Date.now() + PENDING_VERSION_TTL_MS + 1),
      { swept: 1, blobs: 0 },
      'during the grace only the listed one leaves the bookkeeping',
    );
    assert.deepEqual(await svc.sweepPreparedDatasets(abandoned), { swept: 2, blobs: 2 });
    for (const id of ['lim-ds-1', 'lim-ds-2']) assert.equal(svc.datasetKeys.cids(id).length, 0, `${id}: keys deleted`);
    assert.equal(await svc.blobs.has(cidOf(again)), false);
    assert.ok(await svc.blobs.has(cidOf(listed)), 'the listed dataset is kept');
    assert.deepEqual(svc.datasetKeys.cids('lim-ds-4'), [cidOf(listed)]);
    assert.equal((await post(H3, prep, user(H3, 'auditor1'), body('lim-ds-5', small))).status, 200, 'room again');
  });
});

describe('health contract calls through /v1/evaluate and /v1/endorse + /v1/submit (SDK)', () => {
  it('consent, audit and exports: allowed for their owner, refused with 422 and the reason otherwise', async () => {
    const patient = sdk(H1, 'patient1');
    const now = Date.now();
    const granted = await patient.grantConsent({
      patient: PP,
      grantee: { kind: 'org', org: H3 },
      actions: ['read'],
      purposes: ['TREAT'],
      period: { startMs: now - 60_000, endMs: now + 60_000 },
      scope: { maxSensitivity: 'normal' },
    });
    const consentId = (granted.payload['consent'] as { consentId: string }).consentId;
    const consent = (await patient.exportConsent(consentId)) as { resourceType: string };
    assert.equal(consent.resourceType, 'Consent');

    // Only the patient grants, lists, reads the access log and the feed.
    await sdkRefuses(
      sdk(H1, 'doctor1').grantConsent({
        patient: PP,
        grantee: { kind: 'org', org: H2 },
        actions: ['read'],
        purposes: ['TREAT'],
        period: { startMs: now - 60_000, endMs: now + 60_000 },
        scope: { maxSensitivity: 'normal' },
      }),
      403,
      'FORBIDDEN',
    );
    await sdkRefuses(sdk(H2, 'doctor1').listConsents(PP), 422, 'CONTRACT_REJECTED');
    await sdkRefuses(sdk(H1, 'nurse1').auditTrail({ kind: 'patient', patient: PP }), 422, 'CONTRACT_REJECTED');
    await sdkRefuses(sdk(H2, 'admin1').auditTrail({ kind: 'org', org: H1 }), 422, 'CONTRACT_REJECTED');
    await sdkRefuses(sdk(H3, 'doctor1').notifications(PP), 422, 'CONTRACT_REJECTED');
    const log = (await patient.auditTrail({ kind: 'patient', patient: PP, pageSize: 200 })) as { entries: Array<{ op: string }> };
    assert.ok(log.entries.some((e) => e.op === 'consent.grant'));
    const provenance = (await patient.exportProvenance('rest-rec')) as { bundle: { resourceType: string; entry: unknown[] } };
    assert.equal(provenance.bundle.resourceType, 'Bundle');
    assert.equal(provenance.bundle.entry.length, 2, 'create + update');

    // Malformed arguments: refused at endorsement, naming the field.
    await assert.rejects(
      patient.revokeConsent('bad id!'),
      (err: unknown) => err instanceof MedLedgerApiError && err.status === 422 && /consentId/.test(err.message),
    );
    await assert.rejects(
      patient.evaluate('listConsents', { patient: PP, extra: 1 }),
      (err: unknown) => err instanceof MedLedgerApiError && err.status === 422 && /extra|unrecognized/i.test(err.message),
    );
    assert.ok(((await patient.listConsents(PP)) as Array<{ consentId: string }>).some((c) => c.consentId === consentId));
    await patient.revokeConsent(consentId);
    await patient.revokeConsent(consentId).then(
      () => assert.fail('revoked twice'),
      (err: unknown) => assert.ok(err instanceof MedLedgerApiError && /revoked|does not exist/.test(err.message), String(err)),
    );
    assert.ok(
      !((await patient.listConsents(PP)) as Array<{ consentId: string }>).some((c) => c.consentId === consentId),
      'a revoked consent is no longer listed',
    );
  });
});

describe('CSV records split by column sensitivity (prepare, SDK create and read)', () => {
  const labs =
    ['patient_id,age,hiv_status,dx_icd10,sexual_health_notes,bmi', 'p1,34,positive,F32.1,"none, reported",22.5', 'p2,51,negative,J45,,31.0'].join('\n') + '\n';

  it("stores one sealed part per level under CIDs equal to multiformats' own; a reader up to sensitive gets the re-joined CSV without the restricted columns", async () => {
    const created = await sdk(H1, 'doctor1').createRecord({
      recordId: 'rest-csv',
      patient: PP,
      input: { kind: 'file', data: Buffer.from(labs), mediaType: 'text/csv' },
    });
    assert.equal(created['allowed'], true, JSON.stringify(created));
    const parts = (created['record'] as { parts: Array<{ sensitivity: string; cid: string; mediaType: string }> }).parts;
    assert.deepEqual(
      parts.map((p) => `${p.sensitivity} ${p.mediaType}`),
      ['normal text/csv', 'sensitive text/csv', 'restricted text/csv'],
    );
    // Each stored part, read from the node's blob directory: its CID computed independently.
    const blobDir = join(net.nodes.get(H1)!.nodeConfig.node.dataDir, 'records', 'blobs');
    for (const p of parts) {
      const path = join(blobDir, p.cid.slice(-2), p.cid);
      assert.ok(existsSync(path), `part ${p.sensitivity} stored as ${path}`);
      const bytes = readFileSync(path);
      assert.equal(CID.create(1, raw.code, await sha256.digest(bytes)).toString(), p.cid);
      assert.ok(!bytes.toString('latin1').includes('positive') && !bytes.toString('latin1').includes('patient_id'), 'sealed');
    }

    const upToSensitive = await sdk(H1, 'doctor1').readRecord({ recordId: 'rest-csv', purpose: 'TREAT', sensitivity: 'sensitive' });
    assert.equal(upToSensitive.allowed, true, JSON.stringify(upToSensitive.decision));
    assert.deepEqual(
      upToSensitive.parts.map((p) => p.sensitivity),
      ['normal', 'sensitive'],
    );
    assert.equal(Buffer.from(upToSensitive.csv ?? []).toString('utf8'), 'patient_id,age,bmi,sexual_health_notes\np1,34,22.5,"none, reported"\np2,51,31.0,\n');
    // (The restricted part needs explicit consent or break-the-glass: the join of all three parts is in csv.test.ts.)
    // Across hospitals, under the earlier "≤ normal" consent: the custodian serves the normal part only.
    const remote = await sdk(H2, 'doctor1').readRecord({ recordId: 'rest-csv', purpose: 'TREAT', sensitivity: 'normal' });
    assert.equal(remote.allowed, true, JSON.stringify(remote.decision));
    assert.equal(Buffer.from(remote.csv ?? []).toString('utf8'), 'patient_id,age,bmi\np1,34,22.5\np2,51,31.0\n');
  });

  it('refuses a malformed CSV (ragged rows, no header, oversized) with 422 INVALID_CONTENT and keeps nothing', async () => {
    const doctor = user(H1, 'doctor1');
    const csvBody = (recordId: string, text: string): Record<string, unknown> => ({
      recordId,
      content: { kind: 'file', dataBase64: b64(text), mediaType: 'text/csv' },
    });
    refused(
      await post(H1, '/v1/health/records/prepare', doctor, csvBody('rest-ragged', 'a,b\n1,2\n3\n')),
      422,
      'INVALID_CONTENT',
      /rest-ragged: CSV: line 3: 1 field\(s\), but the header has 2 \(ragged rows are refused\)/,
    );
    refused(await post(H1, '/v1/health/records/prepare', doctor, csvBody('rest-nohead', '1,2\n3,4\n')), 422, 'INVALID_CONTENT', /no header/);
    refused(await post(H1, '/v1/health/records/prepare', doctor, csvBody('rest-empty', '')), 422, 'INVALID_CONTENT', /empty/);
    // Hospital3's node accepts CSV records of at most 64 KiB.
    refused(
      await post(H3, '/v1/health/records/prepare', user(H3, 'doctor1'), csvBody('rest-big', `a,b\n${'1,2\n'.repeat(17_000)}`)),
      422,
      'INVALID_CONTENT',
      /at most 65536 are accepted/,
    );
    for (const [org, id] of [
      [H1, 'rest-ragged'],
      [H1, 'rest-nohead'],
      [H1, 'rest-empty'],
      [H3, 'rest-big'],
    ] as const)
      assert.equal(net.services.get(org)!.keys.cids(id).length, 0, `${id}: nothing kept`);
  });
});

describe('bounded prepare (429) and the sweep of abandoned prepared versions', () => {
  const prepare = (org: string, name: string, recordId: string, content: Record<string, unknown>): Promise<Answer> =>
    post(org, '/v1/health/records/prepare', user(org, name), { recordId, content });
  const pdf = (sizeBytes: number): Record<string, unknown> => ({
    kind: 'file',
    dataBase64: Buffer.alloc(sizeBytes, 7).toString('base64'),
    mediaType: 'application/pdf',
  });
  const discard = (org: string, name: string, recordId: string): Promise<Answer> =>
    post(org, '/v1/health/records/discard', user(org, name), { recordId, version: 1 });
  const cidsOf = (a: Answer): string[] => (a.body['parts'] as Array<{ cid: string }>).map((p) => p.cid);

  it('limits what one user and the whole node hold prepared, in versions and bytes, with 429 TOO_MANY_PENDING; the sweep frees them', async () => {
    const svc = net.services.get(H3)!;
    // Bytes per user (256 KiB at Hospital3).
    const big = await prepare(H3, 'admin1', 'lim-big1', pdf(200_000));
    assert.equal(big.status, 200, JSON.stringify(big.body));
    assert.ok(Math.abs(Number(big.body['expiresAtMs']) - (Date.now() + PENDING_VERSION_TTL_MS)) < 60_000, 'the answer says when the prepared version expires');
    refused(
      await prepare(H3, 'admin1', 'lim-big2', pdf(100_000)),
      429,
      'TOO_MANY_PENDING',
      /Hospital3\/admin1 holds 200028 bytes of prepared record versions not on chain; 100028 more would exceed 262144/,
    );
    assert.equal((await discard(H3, 'admin1', 'lim-big1')).status, 200);
    assert.equal((await prepare(H3, 'admin1', 'lim-big2', pdf(100_000))).status, 200);
    assert.equal((await discard(H3, 'admin1', 'lim-big2')).status, 200);

    // Versions per user (3), then in total (5).
    const held: Answer[] = [];
    for (const id of ['lim-1', 'lim-2', 'lim-3']) held.push(await prepare(H3, 'doctor1', id, fhirContent(observation(id, 1))));
    for (const a of held) assert.equal(a.status, 200, JSON.stringify(a.body));
    refused(
      await prepare(H3, 'doctor1', 'lim-4', fhirContent(observation('l4', 1))),
      429,
      'TOO_MANY_PENDING',
      /Hospital3\/doctor1 already holds 3 prepared record versions not on chain \(at most 3\): submit or discard them, or wait until they are swept \(16 minutes/,
    );
    for (const id of ['lim-5', 'lim-6']) held.push(await prepare(H3, 'doctor2', id, fhirContent(observation(id, 1))));
    assert.deepEqual(
      held.map((a) => a.status),
      [200, 200, 200, 200, 200],
    );
    refused(
      await prepare(H3, 'nurse1', 'lim-7', fhirContent(observation('l7', 1))),
      429,
      'TOO_MANY_PENDING',
      /this node holds 5 prepared record versions not on chain \(at most 5\)/,
    );
    // Through the SDK, a create is refused the same way before anything is submitted.
    await sdkRefuses(
      sdk(H3, 'nurse1').createRecord({ recordId: 'lim-8', patient: PP, input: { kind: 'fhir', resource: observation('l8', 1) } }),
      429,
      'TOO_MANY_PENDING',
    );

    // Nothing is swept before the expiry, nor during the grace after it; then every abandoned version's blobs and keys go.
    assert.deepEqual(await svc.sweepPrepared(Date.now() + 1000), { swept: 0, blobs: 0 });
    assert.deepEqual(await svc.sweepPrepared(Date.now() + PENDING_VERSION_TTL_MS + 1), { swept: 0, blobs: 0 });
    for (const a of held) for (const cid of cidsOf(a)) assert.ok(await svc.blobs.has(cid));
    const swept = await svc.sweepPrepared(abandonedAt());
    assert.deepEqual(swept, { swept: 5, blobs: 5 });
    for (const [i, a] of held.entries()) {
      for (const cid of cidsOf(a)) assert.equal(await svc.blobs.has(cid), false, `blob of ${String(a.body['recordId'])} deleted`);
      assert.equal(svc.keys.cids(`lim-${[1, 2, 3, 5, 6][i]}`).length, 0, 'wrapped keys deleted');
    }
    assert.equal((await prepare(H3, 'nurse1', 'lim-7', fhirContent(observation('l7', 1)))).status, 200, 'room again');
  });

  it('the contract refuses a write of prepared content after its expiry (notAfterMs from the prepare answer)', async () => {
    const prep = await prepare(H1, 'doctor1', 'rest-late', fhirContent(observation('late', 1)));
    assert.equal(prep.status, 200, JSON.stringify(prep.body));
    const args = { recordId: 'rest-late', patient: PP, category: prep.body['category'], parts: prep.body['parts'], purpose: 'TREAT' };
    await assert.rejects(
      sdk(H1, 'doctor1').submit('createRecord', { ...args, notAfterMs: Date.now() - 1 }),
      (err: unknown) =>
        (err instanceof MedLedgerApiError && /prepared content of record rest-late expired at .*prepare it again/.test(err.message)) ||
        assert.fail(String(err)),
    );
    const ok = await sdk(H1, 'doctor1').submit('createRecord', { ...args, notAfterMs: prep.body['expiresAtMs'] });
    assert.equal(ok.payload['allowed'], true, JSON.stringify(ok.payload));
  });

  it("never sweeps a version that is on chain: the custodian's committed records stay readable", async () => {
    const svc = net.services.get(H1)!;
    const committed = svc.keys.cids('rest-rec');
    assert.ok(committed.length >= 2, 'versions 1 and 2 of rest-rec');
    // A third version prepared and abandoned, and a record prepared and never created.
    const v3 = await prepare(H1, 'doctor1', 'rest-rec', fhirContent(observation('o1', 130)));
    assert.deepEqual({ s: v3.status, v: v3.body['version'] }, { s: 200, v: 3 });
    const lone = await prepare(H1, 'doctor1', 'rest-abandoned', fhirContent(observation('a', 1)));
    assert.equal(lone.status, 200);
    const r = await svc.sweepPrepared(abandonedAt());
    assert.ok(r.swept >= 2, JSON.stringify(r));
    for (const cid of [...cidsOf(v3), ...cidsOf(lone)]) assert.equal(await svc.blobs.has(cid), false);
    assert.deepEqual(svc.keys.cids('rest-rec').sort(), [...committed].sort(), 'versions on chain untouched');
    for (const cid of committed) assert.ok(await svc.blobs.has(cid));
    const read = await sdk(H1, 'doctor1').readRecord({ recordId: 'rest-rec', purpose: 'TREAT' });
    assert.deepEqual({ allowed: read.allowed, v: read.version }, { allowed: true, v: 2 });
    const csv = await sdk(H1, 'doctor1').readRecord({ recordId: 'rest-csv', purpose: 'TREAT', sensitivity: 'normal' });
    assert.equal(Buffer.from(csv.csv ?? []).toString('utf8'), 'patient_id,age,bmi\np1,34,22.5\np2,51,31.0\n');
  });
});

describe('a device (a sensor) over REST (decision 1253)', () => {
  it('its signed request appends an observation for its hospital’s patient; reading anything is refused 403 FORBIDDEN', async () => {
    // The sensor makes its key; Hospital1's CA issues it a device certificate from the request.
    const req = await createEnrolmentRequest('sensor1');
    const issued = await enrolFromRequest(loadConsortium(join(net.dir, 'crypto')).orgCas.get(H1)!, req.csrPem, { role: 'device' });
    const dir = join(net.dir, 'crypto', H1, 'sensor1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cert.pem'), issued.certPem);
    writeFileSync(join(dir, 'key.pem'), req.keyPem);
    const device = sdk(H1, 'sensor1');
    const created = await device.createRecord({ recordId: 'sensor-hr-1', patient: PP, input: { kind: 'fhir', resource: observation('hr', 72) } });
    assert.equal(created['allowed'], true, JSON.stringify(created));
    // The patient's doctor reads it like any record.
    assert.equal((await sdk(H1, 'doctor1').readRecord({ recordId: 'sensor-hr-1', purpose: 'TREAT' })).allowed, true);
    await sdkRefuses(device.readRecord({ recordId: 'sensor-hr-1', purpose: 'TREAT' }), 403, 'FORBIDDEN');
    const report = await device.createRecord({
      recordId: 'sensor-report',
      patient: PP,
      input: { kind: 'fhir', resource: { resourceType: 'DiagnosticReport', id: 'dr', status: 'final', code: { text: 'x' } } },
    });
    assert.equal(report['allowed'], false);
  });
});
