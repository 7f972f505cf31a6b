// `medledger dataset` end to end (issue 12 item 2, decision 1260) over a real in-process
// 3-hospital consortium with REST APIs: register, update (a new version; the old one listed with
// its proof), versions, list with standing / search / filters, download whole or by part (refused
// without approval, exit 4; by an approved researcher of another hospital, verified, audited),
// withdraw (no application, hidden) / reopen, delete (downloads refused afterwards), and the
// refusals of a non-owner with their codes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRecordsNetwork, type RecordsNetwork } from '../../testing/records-network.ts';
import { runCli, type CliRun } from '../testkit.ts';

process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

const H1 = 'Hospital1';
const H2 = 'Hospital2';
const H3 = 'Hospital3';
const V1 = 'id,age,sbp\n1,40,120\n2,41,125\n3,42,130\n';
const V2 = 'id,age,sbp,dbp\n1,40,121,80\n2,41,126,81\n3,42,131,82\n4,43,136,83\n';
let net: RecordsNetwork;
let files: string;

function as(org: string, user: string, cmd: string, ...rest: string[]): Promise<CliRun> {
  const [group, sub, ...more] = cmd.split(' ');
  return runCli([group!, sub!, ...more, '--dir', net.dir, '--org', org, '--user', user, ...rest]);
}
async function ok(p: Promise<CliRun>): Promise<CliRun> {
  const r = await p;
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  return r;
}
async function okJson<T = Record<string, unknown>>(p: Promise<CliRun>): Promise<T> {
  return JSON.parse((await ok(p)).out) as T;
}
async function fails(p: Promise<CliRun>, code: number, message: RegExp, stream: 'err' | 'out' = 'err'): Promise<CliRun> {
  const r = await p;
  assert.equal(r.code, code, `expected exit ${code}, got ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  assert.match(stream === 'err' ? r.err : r.out, message);
  assert.doesNotMatch(r.err, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  return r;
}
function file(name: string, content: string): string {
  const p = join(files, name);
  writeFileSync(p, content);
  return p;
}
type Listed = { datasetId: string; status: string; access: string; authorised: boolean; version: number };
async function standing(org: string, user: string, ...rest: string[]): Promise<Record<string, string>> {
  const r = await okJson<{ datasets: Listed[] }>(as(org, user, 'dataset list', '--json', ...rest));
  return Object.fromEntries(r.datasets.map((d) => [d.datasetId, d.access]));
}

before(async () => {
  files = mkdtempSync(join(tmpdir(), 'medledger-cli-dataset-'));
  net = await startRecordsNetwork({ orgs: 3, api: true, recordServedReads: true });
  await net.caller(H1, 'admin1').submit('initialize', { camsOrg: H1 });
});
after(async () => {
  await net?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

describe('medledger dataset lifecycle (3-hospital consortium)', () => {
  it('register, update to version 2, versions: the history lists both with their CIDs and commitments', async () => {
    await ok(
      as(
        H1,
        'admin1',
        'dataset register',
        '--dataset-id',
        'life',
        '--name',
        'Blood pressure',
        '--description',
        'Adults, systolic',
        '--file',
        file('v1.csv', V1),
        '--tags',
        'cardio,adults',
      ),
    );
    await ok(
      as(H2, 'admin1', 'dataset register', '--dataset-id', 'other', '--name', 'Lab values', '--file', file('o.csv', 'id,hba1c\n1,5.1\n'), '--tags', 'lab'),
    );
    const up = await ok(as(H1, 'supervisor1', 'dataset update', '--dataset-id', 'life', '--file', file('v2.csv', V2)));
    assert.match(up.out, /^dataset life updated to version 2 \(tx [0-9a-f]{64}\): columns id, age, sbp, dbp$/m);
    const versions = await ok(as(H2, 'researcher1', 'dataset versions', '--dataset-id', 'life'));
    assert.match(versions.out, /^dataset life: listed, current version 2$/m);
    assert.match(versions.out, /^ {2}v1 {2}baf\S+ {2}commitment [0-9a-f]{64} {2}3 rows/m);
    assert.match(versions.out, /^ {2}v2 {2}baf\S+ {2}commitment [0-9a-f]{64} {2}4 rows, \d+ bytes {2}tx [0-9a-f]{64} {2}by Hospital1\/supervisor1$/m);
    // Only the owner updates; the update goes through the hospital that holds the dataset.
    await fails(as(H2, 'admin1', 'dataset update', '--dataset-id', 'life', '--file', file('v3.csv', V2)), 1, /held by Hospital1/);
  });

  it('download: refused without approval (exit 4, audited); after approval whole, by part and an earlier version, each verified', async () => {
    assert.deepEqual(await standing(H2, 'researcher1'), { life: 'not-authorised', other: 'not-authorised' });
    const refused = await fails(
      as(H2, 'researcher1', 'dataset download', '--dataset-id', 'life', '--purpose', 'HRESCH'),
      4,
      /^REFUSED NOT_AUTHORISED \(audited in tx [0-9a-f]{64}\):/m,
      'out',
    );
    assert.match(refused.out, /no approved access application/);
    const app = await okJson<{ application: { applicationId: string } }>(
      as(H2, 'researcher1', 'access apply', '--dataset', 'life', '--purpose', 'HRESCH', '--actions', 'read', '--json'),
    );
    assert.deepEqual(await standing(H2, 'researcher1'), { life: 'pending', other: 'not-authorised' });
    await ok(as(H1, 'admin1', 'access approve', '--application-id', app.application.applicationId));
    const listed = await ok(as(H2, 'researcher1', 'dataset list'));
    assert.match(listed.out, /^life +Hospital1 +v2 +listed +approved +rows 4 /m);
    assert.match(listed.out, /^other +Hospital2 +v1 +listed +not authorised +rows 1 /m);

    const part = await ok(as(H2, 'researcher1', 'dataset download', '--dataset-id', 'life', '--purpose', 'HRESCH', '--columns', 'id,dbp', '--rows', '2-3'));
    assert.match(part.out.trimEnd(), /^dataset life v2 from Hospital1 \(tx [0-9a-f]{64}\): \d+ bytes, CID and commitment verified\nid,dbp\n2,81\n3,82$/);
    const out = join(files, 'v1-copy.csv');
    const old = await okJson<{ version: number; verified: { cid: boolean; commitment: boolean }; out: string }>(
      as(H2, 'researcher1', 'dataset download', '--dataset-id', 'life', '--purpose', 'HRESCH', '--version', '1', '--out', out, '--json'),
    );
    assert.deepEqual({ v: old.version, verified: old.verified }, { v: 1, verified: { cid: true, commitment: true } });
    assert.equal(readFileSync(out, 'utf8'), V1);
    await fails(as(H2, 'researcher1', 'dataset download', '--dataset-id', 'life', '--purpose', 'HRESCH', '--columns', 'nope'), 1, /DATASET_UNKNOWN_COLUMN/);
    await fails(as(H2, 'researcher1', 'dataset download', '--dataset-id', 'life', '--purpose', 'HRESCH', '--version', '9'), 1, /DATASET_VERSION_NOT_FOUND/);
  });

  it('withdraw: only the owner (NOT_DATASET_OWNER); no application (DATASET_WITHDRAWN), hidden by default, shown with --status; reopen restores it', async () => {
    await fails(as(H2, 'admin1', 'dataset withdraw', '--dataset-id', 'life'), 1, /NOT_DATASET_OWNER/);
    const w = await ok(as(H1, 'admin1', 'dataset withdraw', '--dataset-id', 'life'));
    assert.match(w.out.trimEnd(), /^dataset life withdrawn \(tx [0-9a-f]{64}, audit [0-9a-f]{64}-\d+\)$/);
    await fails(
      as(H3, 'researcher1', 'access apply', '--dataset', 'life', '--purpose', 'HRESCH', '--actions', 'read'),
      1,
      /DATASET_WITHDRAWN: dataset life is withdrawn from the market/,
    );
    assert.deepEqual(await standing(H3, 'researcher1'), { other: 'not-authorised' });
    assert.deepEqual(await standing(H3, 'researcher1', '--status', 'all'), { life: 'withdrawn', other: 'not-authorised' });
    assert.deepEqual(await standing(H1, 'admin1', '--status', 'withdrawn'), { life: 'owner' });
    await ok(as(H1, 'supervisor1', 'dataset reopen', '--dataset-id', 'life'));
    assert.deepEqual(await standing(H3, 'researcher1'), { life: 'not-authorised', other: 'not-authorised' });
    await fails(as(H1, 'admin1', 'dataset reopen', '--dataset-id', 'life'), 1, /DATASET_NOT_WITHDRAWN/);
  });

  it('list: search and filters', async () => {
    assert.deepEqual(Object.keys(await standing(H3, 'researcher1', '--q', 'SYSTOLIC')), ['life']);
    assert.deepEqual(Object.keys(await standing(H3, 'researcher1', '--tag', 'lab')), ['other']);
    assert.deepEqual(Object.keys(await standing(H3, 'researcher1', '--owner', H2)), ['other']);
    assert.deepEqual(Object.keys(await standing(H3, 'researcher1', '--type', 'csv')).sort(), ['life', 'other']);
    assert.deepEqual(Object.keys(await standing(H3, 'researcher1', '--type', 'fhir')), []);
    const paged = await ok(as(H3, 'researcher1', 'dataset list', '--page-size', '1'));
    assert.match(paged.out.trimEnd(), /\(more: --bookmark \S+\)$/);
    await fails(as(H3, 'researcher1', 'dataset list', '--status', 'gone'), 2, /--status must be one of listed, withdrawn, deleted, all/);
    await fails(as(H3, 'researcher1', 'dataset list', '--type', 'pdf'), 2, /--type must be csv or fhir/);
  });

  it('delete: the owner only; the custodian shreds; downloads refused afterwards (exit 4, DATASET_DELETED); the trail remains', async () => {
    await fails(as(H1, 'doctor1', 'dataset delete', '--dataset-id', 'life'), 1, /NOT_DATASET_OWNER/);
    await ok(as(H1, 'admin1', 'dataset delete', '--dataset-id', 'life'));
    assert.deepEqual(net.services.get(H1)!.datasetKeys.cids('life'), [], 'crypto-shredded at the custodian');
    await fails(as(H2, 'researcher1', 'dataset download', '--dataset-id', 'life', '--purpose', 'HRESCH'), 4, /^REFUSED DATASET_DELETED/m, 'out');
    await fails(as(H1, 'admin1', 'dataset update', '--dataset-id', 'life', '--file', join(files, 'v2.csv')), 1, /DATASET_DELETED/);
    const versions = await ok(as(H2, 'researcher1', 'dataset versions', '--dataset-id', 'life'));
    assert.match(versions.out, /^dataset life: deleted, current version 2$/m);
    const trail = await okJson<{ entries: Array<{ op: string; outcome: string; recordedBy: unknown }> }>(
      as(H1, 'admin1', 'audit dataset', '--dataset-id', 'life', '--json', '--page-size', '200'),
    );
    const ops = trail.entries.map((e) => `${e.op}:${e.outcome}`);
    for (const op of [
      'dataset.register:allow',
      'dataset.update:allow',
      'dataset.download:deny',
      'dataset.download:allow',
      'dataset.withdraw:allow',
      'dataset.reopen:allow',
      'dataset.delete:allow',
    ])
      assert.ok(ops.includes(op), `${op} in ${ops.join(', ')}`);
  });

  it('bad input: exit 2 with one clear line', async () => {
    await fails(as(H2, 'researcher1', 'dataset download', '--dataset-id', 'life', '--purpose', 'HRESCH', '--rows', '5-2'), 2, /--rows must be FROM-TO/);
    await fails(as(H2, 'researcher1', 'dataset download', '--dataset-id', 'life', '--purpose', 'HRESCH', '--columns', 'a b'), 2, /is not a column code/);
    await fails(as(H2, 'researcher1', 'dataset download', '--dataset-id', 'bad id', '--purpose', 'HRESCH'), 2, /--dataset-id must match/);
    await fails(as(H1, 'admin1', 'dataset update', '--dataset-id', 'x', '--file', join(files, 'missing.csv')), 2, /no such file/);
  });
});
