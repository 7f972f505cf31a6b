// `npm start`: the five-hospital Raft network (`medledger up`, in the foreground) plus demo data —
// patients, care relations, FHIR records (one restricted), a consent, a dataset per hospital with
// synthetic values, an approved researcher, and some history (a consented cross-hospital read, a
// denied read, a break-the-glass read, a statistics run). Seeding runs once per consortium
// directory (<dir>/demo-seeded.json); Ctrl-C stops the nodes.
//
//   node --import tsx src/cli/demo.ts [--dir .medledger/network] [--base-port 7400] [--no-seed | --seed-only]
//
// seedDemo() and exampleCommands() are exported so that a test can seed an in-process consortium
// and run the printed commands (src/cli/demo.test.ts); the script part runs only when this file
// is the program's entry point.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAs, type HealthClient } from '../sdk/health.ts';
import { patientPseudonym } from '../identity/pseudonym.ts';
import { nodeDirs, readStatusFile } from '../node/supervisor.ts';
import { UP_RUNNING_LINE } from './output.ts';

export const DEMO_ORGS = 5;
const READY_TIMEOUT_MS = 180_000;
const DEFAULT_DIR = '.medledger/network';
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Hospital1 … HospitalN, as `medledger up --orgs N` names them. */
export function demoOrgs(n = DEMO_ORGS): string[] {
  return Array.from({ length: n }, (_, i) => `Hospital${i + 1}`);
}

function log(line: string): void {
  process.stdout.write(`[demo] ${line}\n`);
}

/** Deterministic synthetic values (xorshift), so every run of the demo shows the same numbers. */
function rng(seedValue: number): () => number {
  let x = seedValue >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/** What the demo writes at hospital `index` (0-based): its blood-pressure record's value, its visit's heart rate, its dataset's CSV. */
export interface DemoHospitalData {
  readonly systolicBloodPressureMmHg: number;
  readonly heartRatePerMin: number;
  /** age,sbp,bmi — 20 to 40 synthetic rows (bp-hospital1 has 22). */
  readonly datasetCsv: string;
}

/** Deterministic per hospital (its own generator, drawn in this order), so tests can rebuild a demo dataset exactly. */
export function demoHospitalData(index: number): DemoHospitalData {
  const r = rng(1000 + index);
  const systolicBloodPressureMmHg = 110 + Math.round(r() * 50);
  const heartRatePerMin = 60 + Math.round(r() * 40);
  const rows = 20 + Math.round(r() * 20);
  const csv = [
    'age,sbp,bmi',
    ...Array.from({ length: rows }, () => `${30 + Math.round(r() * 50)},${105 + Math.round(r() * 60)},${(19 + r() * 14).toFixed(1)}`),
  ].join('\n');
  return { systolicBloodPressureMmHg, heartRatePerMin, datasetCsv: `${csv}\n` };
}

async function waitForApis(dir: string, orgs: readonly string[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (const org of orgs) {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the API of ${org} did not come up within ${READY_TIMEOUT_MS / 1000} s`);
      if (existsSync(join(dir, 'crypto', org, 'admin1', 'key.pem')) && existsSync(join(dir, org, 'node.yaml'))) {
        const c = connectAs(dir, org, 'admin1');
        try {
          await c.client.health();
          const status = await c.client.status();
          if ((status.consensus as { leader?: string | null } | null)?.leader) break;
        } catch {
          // not up yet
        } finally {
          c.close();
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const observation = (id: string, loinc: string, display: string, value: number, unit: string): Record<string, unknown> => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: loinc, display }] },
  valueQuantity: { value, unit },
});

export interface SeedResult {
  /** The directory was seeded before (demo-seeded.json): nothing was done. */
  readonly skipped: boolean;
  readonly statisticsRequest: string | null;
}

/**
 * Seed the demo into the running consortium of `dir` (its five hospitals' APIs, as in
 * <dir>/<org>/node.yaml), once per directory, through the SDK as each user.
 */
export async function seedDemo(dir: string, orgs: readonly string[] = demoOrgs(), say: (line: string) => void = log): Promise<SeedResult> {
  const marker = join(dir, 'demo-seeded.json');
  if (existsSync(marker)) {
    say(`already seeded (${marker}); skipping`);
    let statisticsRequest: string | null = null;
    try {
      const m = JSON.parse(readFileSync(marker, 'utf8')) as { statisticsRequest?: unknown };
      if (typeof m.statisticsRequest === 'string') statisticsRequest = m.statisticsRequest;
    } catch {
      // A marker that is not JSON still means "seeded" (as before): nothing to report.
    }
    return { skipped: true, statisticsRequest };
  }
  const clients = new Map<string, HealthClient>();
  const as = (org: string, user: string): HealthClient => {
    const k = `${org}/${user}`;
    let c = clients.get(k);
    if (!c) {
      c = connectAs(dir, org, user);
      clients.set(k, c);
    }
    return c;
  };
  try {
    // Each patient's pseudonym is in their certificate, issued by their hospital's CA (decision
    // 0906); the hospital enrols only the pseudonym, so the chain never sees "Hospital1/patient1".
    const patients: Record<string, string> = {};
    for (const org of orgs) for (const p of ['patient1', 'patient2']) patients[`${org}/${p}`] = patientPseudonym(dir, org, p);

    const cfg = await as('Hospital1', 'admin1').evaluate('config', {});
    if (cfg === null) await as('Hospital1', 'admin1').submit('initialize', { camsOrg: 'Hospital1' });
    say('enrolling patients, care relations, records and datasets at every hospital …');
    await Promise.all(
      orgs.map(async (org, i) => {
        const admin = as(org, 'admin1');
        const doctor = as(org, 'doctor1');
        const data = demoHospitalData(i);
        for (const p of ['patient1', 'patient2']) {
          const pp = patients[`${org}/${p}`]!;
          await admin.enrolPatient(pp).catch((err: Error) => {
            if (!/already/.test(err.message)) throw err;
          });
          await admin.startCare(`${org}/doctor1`, pp).catch((err: Error) => {
            if (!/already/.test(err.message)) throw err;
          });
        }
        const p1 = patients[`${org}/patient1`]!;
        const n = i + 1;
        const tolerate = (err: Error): void => {
          if (!/already exists|already has content/.test(err.message)) throw err;
        };
        await doctor
          .createRecord({
            recordId: `h${n}-p1-bp`,
            patient: p1,
            input: { kind: 'fhir', resource: observation(`bp${n}`, '8480-6', 'Systolic blood pressure', data.systolicBloodPressureMmHg, 'mm[Hg]') },
          })
          .catch(tolerate);
        await doctor
          .createRecord({
            recordId: `h${n}-p1-visit`,
            patient: p1,
            input: {
              kind: 'fhir',
              resource: {
                resourceType: 'Bundle',
                type: 'collection',
                entry: [
                  { resource: observation(`hr${n}`, '8867-4', 'Heart rate', data.heartRatePerMin, '/min') },
                  {
                    resource: {
                      resourceType: 'Condition',
                      id: `dep${n}`,
                      subject: { reference: 'Patient/p1' },
                      code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'F32.1', display: 'Moderate depressive episode' }] },
                    },
                  },
                ],
              },
            },
          })
          .catch(tolerate);
        // Synthetic data: its owner allows the walkthrough's statistics to be run many times (the
        // default budget of 20 requests per researcher bounds differencing on real data; decision 1163).
        await admin
          .registerDataset({
            datasetId: `bp-${org.toLowerCase()}`,
            name: `Blood pressure cohort, ${org}`,
            description: 'synthetic demo data',
            data: Buffer.from(data.datasetCsv),
            mediaType: 'text/csv',
            queryBudget: 1000,
          })
          .catch(tolerate);
      }),
    );

    say('consent, researcher applications, some history …');
    const now = Date.now();
    await as('Hospital1', 'patient1').grantConsent({
      patient: patients['Hospital1/patient1'],
      grantee: { kind: 'user', user: 'Hospital2/doctor1' },
      actions: ['read'],
      purposes: ['TREAT'],
      period: { startMs: now - 60_000, endMs: now + 30 * 86_400_000 },
      scope: { recordIds: [], categories: [], maxSensitivity: 'sensitive' },
    });
    const researcher = as('Hospital2', 'researcher1');
    for (const org of orgs) {
      const app = await researcher.apply({
        target: { kind: 'dataset', datasetId: `bp-${org.toLowerCase()}` },
        purpose: 'HRESCH',
        actions: ['statistics'],
        period: { startMs: now - 60_000, endMs: now + 30 * 86_400_000 },
        maxSensitivity: 'normal',
      });
      await as(org, 'admin1').decideApplication((app.payload['application'] as { applicationId: string }).applicationId, true);
    }
    await as('Hospital2', 'doctor1').readRecord({ recordId: 'h1-p1-visit', purpose: 'TREAT', sensitivity: 'sensitive' });
    await as('Hospital3', 'nurse1').readRecord({ recordId: 'h1-p1-bp', purpose: 'TREAT' });
    await as('Hospital4', 'doctor1').readRecord({ recordId: 'h1-p1-visit', purpose: 'BTG', reason: 'unconscious-no-proxy' });
    const st = await researcher.statistics({
      datasetIds: orgs.map((o) => `bp-${o.toLowerCase()}`),
      variable: 'sbp',
      purpose: 'HRESCH',
      histogram: { min: 100, max: 170, bins: 3 },
    });
    writeFileSync(marker, JSON.stringify({ seededAtMs: Date.now(), statisticsRequest: st.requestId }, null, 2));
    say(
      `seeded: ${orgs.length} hospitals, ${Object.keys(patients).length} patients, ${orgs.length * 2} records, ${orgs.length} datasets; statistics ${st.requestId} (count ${String((st.result as { count?: number } | null)?.count)})`,
    );
    return { skipped: false, statisticsRequest: st.requestId };
  } finally {
    for (const c of clients.values()) c.close();
  }
}

/** The commands printed after seeding (`--dir` only when not the default directory). */
export function exampleCommands(dir: string): string {
  const d = dir === resolve(DEFAULT_DIR) ? '' : ` --dir ${dir}`;
  const m = 'node bin/medledger.js';
  return [
    '',
    'Try (in another terminal):',
    `  ${m} record list   --org Hospital1 --user doctor1 --patient Hospital1/patient1${d}`,
    `  ${m} record get    --org Hospital2 --user doctor1 --record-id h1-p1-visit${d}                              # consented: what the consent covers; the restricted part withheld, and why`,
    `  ${m} record get    --org Hospital3 --user doctor1 --record-id h1-p1-bp${d}                              # denied, audited`,
    `  ${m} access btg    --org Hospital5 --user doctor1 --record-id h1-p1-bp --reason unconscious-no-proxy${d}`,
    `  ${m} whoami        --org Hospital1 --user patient1${d}                                                  # my pseudonym`,
    `  ${m} audit patient --org Hospital1 --user patient1${d}                                                  # who saw my data`,
    `  ${m} audit feed    --org Hospital1 --user patient1${d}`,
    `  ${m} audit record  --org Hospital1 --user supervisor1 --record-id h1-p1-visit --fhir${d}`,
    `  ${m} consent list  --org Hospital1 --user patient1${d}`,
    `  ${m} dataset list  --org Hospital2 --user researcher1${d}`,
    `  ${m} stats run     --org Hospital2 --user researcher1 --datasets bp-hospital1,bp-hospital2,bp-hospital3 --variable sbp --min 100 --max 170 --bins 3${d}`,
    `  ${m} stats run     --org Hospital3 --user researcher1 --datasets bp-hospital1 --variable sbp --min 100 --max 170${d}   # refused: no approval`,
    'Add --json to any of them. Ctrl-C here stops the network.',
  ].join('\n');
}

/**
 * Where the web consoles are and a first walk through them (each hospital's users sign in at
 * their own hospital's console; in this demo every console lists its users for one click).
 */
export function consoleGuide(dir: string): string {
  const urls = nodeDirs(dir)
    .map((d) => readStatusFile(d))
    .filter((s) => s !== null)
    .map((s) => ({ org: s.org, url: s.consoleUrl ?? null }));
  const of = (org: string): string => urls.find((u) => u.org === org)?.url ?? '(not listening: see its node.log)';
  return [
    '',
    'Web console (open in a browser on this machine; each hospital serves its own):',
    ...urls.map((u) => `  ${u.org.padEnd(10)} console: ${u.url ?? '(not listening: see its node.log)'}`),
    "A first walk: at Hospital2's console sign in as doctor1 and open record h1-p1-visit (consented, verified);",
    `  then at Hospital1's console (${of('Hospital1')}) sign in as patient1: My data shows that read;`,
    `  and at Hospital2's console as researcher1: Analytics draws the histogram.`,
  ].join('\n');
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const args = process.argv.slice(2);
  const dirArg = args.indexOf('--dir');
  const dir = resolve(dirArg >= 0 && args[dirArg + 1] ? args[dirArg + 1]! : DEFAULT_DIR);
  const orgs = demoOrgs();
  if (args.includes('--seed-only')) {
    // Seed a network that is already up (e.g. after a failed first seeding).
    waitForApis(dir, orgs)
      .then(() => seedDemo(dir, orgs))
      .then(
        () => process.stdout.write(`${exampleCommands(dir)}\n`),
        (err: Error) => {
          process.stderr.write(`[demo] seeding failed: ${err.message}\n`);
          process.exitCode = 1;
        },
      );
  } else {
    const portArg = args.indexOf('--base-port');
    const basePort = portArg >= 0 && args[portArg + 1] ? ['--base-port', args[portArg + 1]!] : [];
    startAndSeed(dir, orgs, basePort, !args.includes('--no-seed'));
  }
}

function startAndSeed(dir: string, orgs: readonly string[], basePort: readonly string[], seed: boolean): void {
  const child = spawn(
    process.execPath,
    [join(repo, 'bin', 'medledger.js'), 'up', '--demo', '--orgs', String(orgs.length), '--consensus', 'raft', '--dir', dir, ...basePort],
    { stdio: ['inherit', 'pipe', 'inherit'] },
  );
  // Everything `up` prints is passed on as it comes; the demo's own lines wait until `up` has said
  // the consortium is up and printed its endpoint table (its UP_RUNNING_LINE), so they never come
  // before it, on a first start (seeding) or a restart (the "Try" list).
  const upRunning = new Promise<void>((resolveUp) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      if (seen !== 'done') {
        seen = (seen + chunk.toString('utf8')).slice(-4096);
        if (seen.includes(UP_RUNNING_LINE)) {
          seen = 'done';
          resolveUp();
        }
      }
    });
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', () => forward('SIGINT'));
  process.on('SIGTERM', () => forward('SIGTERM'));
  child.on('exit', (code) => process.exit(code ?? 0));

  Promise.all([upRunning, waitForApis(dir, orgs)])
    .then(async () => {
      if (seed) await seedDemo(dir, orgs);
      process.stdout.write(`${exampleCommands(dir)}\n${consoleGuide(dir)}\n`);
    })
    .catch((err: Error) => {
      process.stderr.write(`[demo] seeding failed: ${err.message}\n(the network keeps running; Ctrl-C to stop)\n`);
    });
}
