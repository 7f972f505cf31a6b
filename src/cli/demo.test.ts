// `npm start`'s demo seeding (demo.ts) on a real five-hospital consortium in this process (five
// nodes over mTLS with Raft, each with its record service and REST API): what it promises is on
// chain and off chain, re-seeding is a no-op, and every example command it prints works when run
// through the CLI's main() — each twice, in a shuffled order.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliRun } from './testkit.ts';
import { parseCertificate } from '../crypto/x509.ts';
import { validateFhir } from '../fhir/validate.ts';
import { patientPseudonym, startRecordsNetwork, type RecordsNetwork } from '../testing/records-network.ts';
import { MedLedgerApiError } from '../sdk/client.ts';
import { connectAs } from '../sdk/health.ts';
import { demoOrgs, exampleCommands, seedDemo, type SeedResult } from './demo.ts';

process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

const ORGS = demoOrgs();
let net: RecordsNetwork;
let seeded: SeedResult;
const said: string[] = [];

type Run = CliRun;
const cli = runCli;

/** Fisher–Yates with xorshift32 from a fixed seed: a shuffled order that replays exactly. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function json<T>(args: readonly string[]): Promise<T> {
  const r = await cli([...args, '--dir', net.dir, '--json']);
  assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}\n${r.err}${r.out}`);
  return JSON.parse(r.out) as T;
}

before(async () => {
  net = await startRecordsNetwork({ orgs: ORGS.length, api: true });
  seeded = await seedDemo(net.dir, ORGS, (line) => said.push(line));
});
after(async () => {
  await net?.stop();
});

describe('npm start demo seeding (5 hospitals)', () => {
  it('seeds once: patients, pseudonyms, a marker with the statistics request; a second run is a no-op', async () => {
    assert.equal(seeded.skipped, false);
    assert.match(seeded.statisticsRequest ?? '', /^\S+$/);
    assert.match(said.at(-1) ?? '', /^seeded: 5 hospitals, 10 patients, 10 records, 5 datasets; statistics \S+ \(count \d+\)$/);
    // Each patient's pseudonym is in their certificate (decision 0906); no mapping file is written.
    const pseudonyms = ORGS.flatMap((o) => ['patient1', 'patient2'].map((p) => patientPseudonym(net.dir, o, p)));
    assert.equal(new Set(pseudonyms).size, 10, 'distinct pseudonyms');
    for (const pp of pseudonyms) assert.match(pp, /^[0-9a-f]{64}$/);
    assert.equal(existsSync(join(net.dir, 'demo-patients.json')), false);
    assert.ok(existsSync(join(net.dir, 'demo-seeded.json')));

    const again = await seedDemo(net.dir, ORGS, (line) => said.push(line));
    assert.deepEqual(again, { skipped: true, statisticsRequest: seeded.statisticsRequest });
    assert.match(said.at(-1) ?? '', /already seeded/);
  });

  it('each hospital: two patients enrolled, doctor1 caring for them, two FHIR records (the visit with a restricted part), a dataset', async () => {
    const datasets = await json<{ datasets: Array<{ datasetId: string; ownerOrg: string; recordCount: number; columns: string[] }> }>([
      'dataset',
      'list',
      '--org',
      'Hospital2',
      '--user',
      'researcher1',
    ]);
    assert.deepEqual(datasets.datasets.map((d) => d.datasetId).sort(), ORGS.map((o) => `bp-${o.toLowerCase()}`).sort());
    for (const d of datasets.datasets) {
      assert.deepEqual(d.columns, ['age', 'sbp', 'bmi']);
      assert.ok(d.recordCount >= 20 && d.recordCount <= 40, `${d.datasetId}: ${d.recordCount} rows`);
      assert.equal(d.datasetId, `bp-${d.ownerOrg.toLowerCase()}`);
    }
    for (const [i, org] of ORGS.entries()) {
      const n = i + 1;
      const recs = await json<{ records: Array<{ recordId: string; category: string; sensitivity: string; custodian: string; version: number }> }>([
        'record',
        'list',
        '--org',
        org,
        '--user',
        'doctor1',
        '--patient',
        `${org}/patient1`,
      ]);
      assert.deepEqual(recs.records.map((r) => [r.recordId, r.category, r.sensitivity, r.custodian, r.version]).sort(), [
        [`h${n}-p1-bp`, 'Observation', 'normal', org, 1],
        [`h${n}-p1-visit`, 'Bundle', 'restricted', org, 1],
      ]);
      // patient2 is enrolled (the patient may ask for their own consents) and in doctor1's care (an empty list, not a refusal).
      assert.deepEqual(await json<unknown[]>(['consent', 'list', '--org', org, '--user', 'patient2']), []);
      assert.deepEqual((await json<{ records: unknown[] }>(['record', 'list', '--org', org, '--user', 'doctor1', '--patient', `${org}/patient2`])).records, []);
    }
    // The custodian's doctor reads the visit's normal and sensitive parts: the Observation, not the F32.1 condition.
    const visit = await json<{ allowed: boolean; parts: Array<{ sensitivity: string; content: string }> }>([
      'record',
      'get',
      '--org',
      'Hospital3',
      '--user',
      'doctor1',
      '--record-id',
      'h3-p1-visit',
      '--sensitivity',
      'sensitive',
    ]);
    assert.equal(visit.allowed, true);
    assert.deepEqual(
      visit.parts.map((p) => p.sensitivity),
      ['normal'],
    );
    assert.match(visit.parts[0]!.content, /"8867-4"/);
    assert.doesNotMatch(visit.parts[0]!.content, /F32/);
    // The patient reads their own record in full, restricted part included.
    const own = await json<{ allowed: boolean; parts: Array<{ sensitivity: string; content: string }> }>([
      'record',
      'get',
      '--org',
      'Hospital3',
      '--user',
      'patient1',
      '--record-id',
      'h3-p1-visit',
      '--purpose',
      'PATRQT',
    ]);
    assert.equal(own.allowed, true);
    assert.deepEqual(
      own.parts.map((p) => p.sensitivity),
      ['normal', 'restricted'],
    );
    assert.match(own.parts[1]!.content, /F32\.1/);
  });

  it("the consent, the researcher's approved applications and the history are on chain", async () => {
    const consents = await json<Array<{ grantee: unknown; actions: string[]; purposes: string[]; scope: { maxSensitivity: string } }>>([
      'consent',
      'list',
      '--org',
      'Hospital1',
      '--user',
      'patient1',
    ]);
    assert.equal(consents.length, 1);
    assert.deepEqual(
      { g: consents[0]!.grantee, a: consents[0]!.actions, p: consents[0]!.purposes, s: consents[0]!.scope.maxSensitivity },
      { g: { kind: 'user', user: 'Hospital2/doctor1' }, a: ['read'], p: ['TREAT'], s: 'sensitive' },
    );

    const { applications: apps } = await json<{ applications: Array<{ target: { datasetId: string }; status: string; actions: string[] }> }>([
      'access',
      'list',
      '--org',
      'Hospital2',
      '--user',
      'researcher1',
      '--applicant',
      'Hospital2/researcher1',
    ]);
    assert.deepEqual(apps.map((a) => [a.target.datasetId, a.status]).sort(), ORGS.map((o) => [`bp-${o.toLowerCase()}`, 'approved']).sort());

    // History: a consented cross-hospital read, a denied read, a break-the-glass read, all in patient1's log.
    const log = await json<{
      entries: Array<{
        op: string;
        outcome: string;
        actor: { org: string; id: string };
        recordId: string | null;
        purpose: string | null;
        securityAlert: boolean;
      }>;
    }>(['audit', 'patient', '--org', 'Hospital1', '--user', 'patient1', '--page-size', '200']);
    const reads = log.entries
      .filter((e) => e.op === 'access.read')
      .map((e) => `${e.outcome} ${e.actor.org}/${e.actor.id} ${e.recordId} ${e.purpose}${e.securityAlert ? ' alert' : ''}`);
    for (const expected of [
      'allow Hospital2/doctor1 h1-p1-visit TREAT',
      'deny Hospital3/nurse1 h1-p1-bp TREAT',
      'allow Hospital4/doctor1 h1-p1-visit BTG alert',
    ]) {
      assert.ok(reads.includes(expected), `${expected} in\n${reads.join('\n')}`);
    }
    const feed = await json<{ notifications: Array<{ kind?: string; type?: string }> }>(['audit', 'feed', '--org', 'Hospital1', '--user', 'patient1']);
    assert.match(JSON.stringify(feed), /break-the-glass/);

    const st = await json<{ status: string; requester: string; datasetIds: string[]; result: { count: number; suppressed: boolean } }>([
      'stats',
      'get',
      '--org',
      'Hospital2',
      '--user',
      'researcher1',
      '--request-id',
      seeded.statisticsRequest!,
    ]);
    assert.deepEqual(
      { s: st.status, r: st.requester, d: st.datasetIds.length, sup: st.result.suppressed },
      { s: 'completed', r: 'Hospital2/researcher1', d: 5, sup: false },
    );
    assert.ok(st.result.count >= 100, `count ${st.result.count}`);
  });

  it('every example command it prints works in any order, any number of times (denials and refusals exit 4, the rest 0)', async () => {
    const text = exampleCommands(net.dir);
    const lines = text
      .split('\n')
      .filter((l) => l.trimStart().startsWith('node bin/medledger.js '))
      .map((l) => l.trim());
    assert.ok(lines.length >= 10, text);
    // Each command twice, in an order shuffled with a fixed seed (a failure replays): no command
    // may depend on another having run, or not, nor spoil the others (issue 16 item 9: one
    // denied read used to lock the doctor out of the rest of the walkthrough).
    const order = shuffled([...lines, ...lines], 20261203);
    const outputs = new Map<string, Run[]>();
    for (const [i, line] of order.entries()) {
      const [command, comment = ''] = line.split(/\s+#\s+/, 2) as [string, string?];
      const argv = command.split(/\s+/).slice(2);
      assert.ok(argv.includes('--dir') && argv.includes(net.dir), `the printed command names the consortium directory: ${command}`);
      const r = await cli(argv);
      const expected = /denied|refused/.test(comment) ? 4 : 0;
      assert.equal(r.code, expected, `run ${i + 1} of ${order.length}: ${command}  # ${comment}\nexit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
      assert.equal(r.err, '', `${command}: nothing on stderr`);
      assert.notEqual(r.out.trim(), '', `${command}: prints something`);
      outputs.set(command, [...(outputs.get(command) ?? []), r]);
    }
    /** Both runs of the one printed command that starts with `start` (spaces between words collapsed). */
    const runsOf = (start: string): Run[] => {
      const matching = [...outputs.keys()].filter((c) => c.replace(/\s+/g, ' ').startsWith(`node bin/medledger.js ${start}`));
      assert.equal(matching.length, 1, `exactly one printed command starts with ${start}: ${matching.join(' | ')}`);
      const runs = outputs.get(matching[0]!)!;
      assert.equal(runs.length, 2);
      return runs;
    };
    for (const r of runsOf('record list')) assert.match(r.out, /^h1-p1-visit\s+Bundle\s+restricted\s+v1\s+Hospital1$/m);
    for (const r of runsOf('record get --org Hospital2')) {
      assert.match(r.out, /^record h1-p1-visit v1 from Hospital1: allowed by consent c/);
      assert.match(r.out, /^released: the normal part$/m);
      assert.match(r.out, /^withheld: the restricted part — .*covers sensitivity up to sensitive, not restricted/m);
      assert.doesNotMatch(r.out, /F32/);
    }
    for (const r of runsOf('record get --org Hospital3')) {
      assert.match(r.out, /^DENIED \(audited in tx/);
      assert.doesNotMatch(r.out, /BMRS:/, 'an honest request outside consent is no violation');
    }
    for (const r of runsOf('access btg')) assert.match(r.out, /^BREAK-THE-GLASS read of h1-p1-bp/);
    for (const r of runsOf('audit patient')) assert.match(r.out, /access\.read\s+allow\s+Hospital2\/doctor1 \(doctor\)\s+h1-p1-visit\s+TREAT/);
    // On chain the patient's own acts are under their pseudonym (decision 0906), never their login
    // name; the table names them from their own hospital's directory (issue 17), which holds that
    // mapping anyway — and a caller of another hospital sees the pseudonym shortened.
    for (const r of runsOf('audit patient')) assert.match(r.out, /consent\.grant\s+allow\s+Hospital1\/patient1 \(patient\)/);
    const onChain = await json<{ entries: Array<{ op: string; actor: { id: string } }> }>(['audit', 'patient', '--org', 'Hospital1', '--user', 'patient1']);
    assert.match(onChain.entries.find((e) => e.op === 'consent.grant')!.actor.id, /^[0-9a-f]{64}$/);
    const fromElsewhere = await cli(['audit', 'record', '--org', 'Hospital2', '--user', 'doctor1', '--record-id', 'h1-p1-visit', '--dir', net.dir]);
    assert.equal(fromElsewhere.code, 0, fromElsewhere.err);
    assert.doesNotMatch(fromElsewhere.out, /patient1/);
    // The walkthrough's statistics: released bins of at least 5, the extremes only as bins (decision 1163).
    for (const r of runsOf('stats run --org Hospital2')) {
      assert.match(r.out, /^request \S+ — threshold 5 /);
      assert.match(r.out, /^count {5}\d+$/m);
      assert.match(r.out, /^min {7}in \[100, 123\.33\) {2}\(coarsened: the bin holding the smallest value, not the value\)$/m);
      assert.match(r.out, /^ {2}\[123\.33, 146\.67\) +\d+$/m);
      assert.match(r.out, /^ {2}above 170 +suppressed$/m);
    }
    for (const r of runsOf('stats run --org Hospital3'))
      assert.match(r.out, /^REFUSED \(request \S+\):\n\s+dataset bp-hospital1: application: no approved access application/);
    for (const r of runsOf('audit record')) validateFhir((JSON.parse(r.out) as { bundle: unknown }).bundle);
    // Afterwards nobody of the walkthrough is locked out: CAMS (Hospital1's admin) sees live sessions.
    const sessionOf = (provider: string, recordId: string) =>
      json<{ state: number }>(['access', 'session', '--org', 'Hospital1', '--user', 'admin1', '--provider', provider, '--record-id', recordId]);
    assert.equal((await sessionOf('Hospital2/doctor1', 'h1-p1-visit')).state, 2);
    assert.equal((await sessionOf('Hospital3/doctor1', 'h1-p1-bp')).state, 1);
    assert.equal((await sessionOf('Hospital5/doctor1', 'h1-p1-bp')).state, 2);
  });

  // Issue 16, item 4: the probe, on the seeded demo consortium.
  it("Hospital3's admin cannot put its doctor in the care of Hospital2's patient; the patient can", async () => {
    const pseudonym = patientPseudonym(net.dir, 'Hospital2', 'patient1');
    const h3admin = connectAs(net.dir, 'Hospital3', 'admin1');
    const patient = connectAs(net.dir, 'Hospital2', 'patient1');
    try {
      await assert.rejects(
        h3admin.startCare('Hospital3/doctor2', pseudonym),
        (err: unknown) =>
          err instanceof MedLedgerApiError && /started by the patient, or by an admin or supervisor of the patient's own hospital/.test(err.message),
      );
      const denied = await cli(['record', 'get', '--org', 'Hospital3', '--user', 'doctor2', '--record-id', 'h2-p1-bp', '--dir', net.dir]);
      assert.equal(denied.code, 4, `${denied.out}${denied.err}`);
      assert.match(denied.out, /^DENIED \(audited in tx[\s\S]*care relation: the patient is not in this doctor's care/);
      // The patient decides: then the same doctor reads on the basis of the care relation.
      await patient.startCare('Hospital3/doctor2', pseudonym);
      const read = await json<{ allowed: boolean; basis: { rule: string } }>([
        'record',
        'get',
        '--org',
        'Hospital3',
        '--user',
        'doctor2',
        '--record-id',
        'h2-p1-bp',
      ]);
      assert.equal(read.allowed, true);
    } finally {
      h3admin.close();
      patient.close();
    }
  });

  // Issue 16, item 2: pseudonyms must not be linked to the patients' user ids on chain.
  it("no node's data files link a patient's pseudonym to their user id: not the enrolment, not the patient's own transactions", async () => {
    // One more of the patient's own acts, just before reading the files: a consent by patient2.
    const granted = await cli([
      'consent',
      'grant',
      '--org',
      'Hospital1',
      '--user',
      'patient2',
      '--grantee',
      'org:Hospital4',
      '--actions',
      'read',
      '--purposes',
      'TREAT',
      '--days',
      '1',
      '--max-sensitivity',
      'normal',
      '--dir',
      net.dir,
    ]);
    assert.equal(granted.code, 0, granted.err);
    const logins = ORGS.flatMap((org) => ['patient1', 'patient2'].map((login) => ({ org, login, pseudonym: patientPseudonym(net.dir, org, login) })));
    const loginToken = (login: string): RegExp => new RegExp(`(?<![A-Za-z0-9._@-])${login}(?![A-Za-z0-9._@-])`);
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? files(path) : [path];
      });
    const seenCertificates = new Set<string>();
    for (const org of ORGS) {
      const dataDir = net.nodes.get(org)!.nodeConfig.node.dataDir;
      const all = files(dataDir);
      const blockFiles = all.filter((f) => /blocks-\d{6}\.bin$/.test(f));
      assert.ok(blockFiles.length >= 2, `${org}: the peer's and the orderer's block store (${blockFiles.join(', ')})`);
      const blockText = blockFiles.map((f) => readFileSync(f).toString('latin1')).join('\n');
      // The files are the right ones: the enrolment and consents of these patients are in them.
      for (const p of logins) assert.ok(blockText.includes(p.pseudonym), `${org}: ${p.org}/${p.login}'s pseudonym is in the blocks`);
      for (const file of all) {
        const text = readFileSync(file).toString('latin1');
        for (const p of logins) {
          assert.ok(!text.includes(`${p.org}/${p.login}`), `${file} holds "${p.org}/${p.login}"`);
          assert.doesNotMatch(text, loginToken(p.login), `${file} holds the login name ${p.login}`);
        }
        // Certificates travel as PEM (base64): decode every one (creators, endorsers, the MSP
        // configuration) and look at its names.
        for (const pem of text.match(/-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\r\n\\n]+?-----END CERTIFICATE-----/g) ?? []) {
          const certPem = pem.replaceAll('\\n', '\n');
          if (seenCertificates.has(certPem)) continue;
          seenCertificates.add(certPem);
          const cert = parseCertificate(certPem);
          for (const p of logins) assert.doesNotMatch(cert.node.subject, loginToken(p.login), `${file}: a certificate names ${p.login}: ${cert.node.subject}`);
        }
      }
    }
    // The patients' own certificates were among them (they signed the consents).
    assert.ok(
      [...seenCertificates].some((pem) => parseCertificate(pem).subject.pseudonym === patientPseudonym(net.dir, 'Hospital1', 'patient2')),
      "patient2's certificate is in the blocks",
    );
  });

  it("the SDK sees the same seeded state through another hospital's node", async () => {
    const c = connectAs(net.dir, 'Hospital5', 'researcher1');
    try {
      const listing = (await c.listDatasets()) as { datasets: unknown[] };
      assert.equal(listing.datasets.length, 5);
    } finally {
      c.close();
    }
  });
});
