// Issue 17, "done when": every `medledger` command of the README's walkthrough, run in order
// against the demo consortium (`npm start`'s five hospitals and seeding, in this process), prints
// human output — no raw JSON, no epoch-millisecond times, no patient pseudonym in full — and
// `--json` still gives the machine form. The commands are read from README.md itself, so the
// README cannot drift from what is tested. (The README's "first tour" starts and stops node
// processes with `up`/`down`; it is covered by the membership and multiprocess suites.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { patientPseudonym, startRecordsNetwork, type RecordsNetwork } from '../testing/records-network.ts';
import { demoOrgs, seedDemo } from './demo.ts';
import { runCli } from './testkit.ts';

process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

const README = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'README.md');

/** `node bin/medledger.js …` lines of the README's shell blocks, as argument lists (comments cut). */
export function readmeCommands(text: string): string[][] {
  const commands: string[][] = [];
  let inShell = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      inShell = line.startsWith('```sh');
      continue;
    }
    const m = inShell ? /^node bin\/medledger\.js\s+(.*)$/.exec(line.trim()) : null;
    if (m)
      commands.push(
        m[1]!
          .replace(/\s#.*$/, '')
          .trim()
          .split(/\s+/),
      );
  }
  return commands;
}

/** Why a human output is not human: raw JSON, an epoch time, a whole pseudonym. */
function unreadable(out: string, pseudonyms: readonly string[]): string[] {
  const problems: string[] = [];
  for (const line of out.split('\n')) {
    // A JSON object or array opening (not a histogram bin such as "[100, 123.33)"), or a JSON key.
    if (/^\s*(\{|\[\s*($|["{[]))/.test(line) || /"[\w-]+"\s*:/.test(line)) problems.push(`raw JSON: ${line}`);
    if (/\b1[5-9]\d{11}\b/.test(line)) problems.push(`epoch ms: ${line}`);
    for (const p of pseudonyms) if (line.includes(p)) problems.push(`whole pseudonym: ${line}`);
  }
  return problems;
}

let net: RecordsNetwork;
let pseudonyms: string[] = [];

before(async () => {
  net = await startRecordsNetwork({ orgs: demoOrgs().length, api: true });
  await seedDemo(net.dir, demoOrgs(), () => undefined);
  pseudonyms = demoOrgs().flatMap((org) => ['patient1', 'patient2'].map((p) => patientPseudonym(net.dir, org, p)));
});
after(async () => {
  await net?.stop();
});

describe('README walkthrough: human output', () => {
  it('every README command, in order, prints text a person reads; --json the machine form', async () => {
    const commands = readmeCommands(readFileSync(README, 'utf8'));
    assert.ok(commands.length >= 12, `the README has its walkthrough (${commands.length} commands found)`);
    for (const args of commands) {
      // The README's CAMS example revives a session that two violations killed (its prose: a nurse
      // claiming an emergency she may not declare); make it so, as the README tells it.
      const prepare = async (): Promise<void> => {
        if (args[0] !== 'access' || args[1] !== 'reauthorize') return;
        for (let i = 0; i < 2; i++)
          assert.equal(
            (
              await runCli([
                'access',
                'btg',
                '--org',
                'Hospital3',
                '--user',
                'nurse1',
                '--record-id',
                'h1-p1-bp',
                '--reason',
                'unconscious-no-proxy',
                '--dir',
                net.dir,
              ])
            ).code,
            4,
          );
      };
      await prepare();
      const r = await runCli([...args, '--dir', net.dir]);
      const shown = `$ medledger ${args.join(' ')}\nexit ${r.code}\n${r.out}${r.err}`;
      // 4: refused and audited (the README's "without consent" read) is an answer, not a failure.
      assert.ok(r.code === 0 || r.code === 4, shown);
      assert.doesNotMatch(r.err, /\n\s+at /, `no stack trace\n${shown}`);
      // --fhir asks for a FHIR Bundle, which is JSON by definition.
      // whoami exists to tell a patient their whole pseudonym; everywhere else it is named or cut.
      if (!args.includes('--fhir')) assert.deepEqual(unreadable(r.out, args[0] === 'whoami' ? [] : pseudonyms), [], shown);
      await prepare();
      const j = await runCli([...args, '--dir', net.dir, '--json']);
      assert.equal(j.code, r.code, `--json exits alike\n${j.err}`);
      assert.doesNotThrow(() => JSON.parse(j.out), `--json is JSON\n${j.out}`);
    }
  });

  it('a patient learns their pseudonym (whoami) and names themselves as org/user wherever a patient is asked for', async () => {
    const me = await runCli(['whoami', '--org', 'Hospital2', '--user', 'patient1', '--dir', net.dir]);
    assert.equal(me.code, 0, me.err);
    const pseudonym = patientPseudonym(net.dir, 'Hospital2', 'patient1');
    assert.match(me.out, new RegExp(`^pseudonym +${pseudonym}$`, 'm'));
    assert.match(me.out, /^role +patient$/m);
    const byName = await runCli(['access', 'list', '--org', 'Hospital2', '--user', 'patient1', '--owner', 'Hospital2/patient1', '--dir', net.dir, '--json']);
    const byPseudonym = await runCli(['access', 'list', '--org', 'Hospital2', '--user', 'patient1', '--owner', pseudonym, '--dir', net.dir, '--json']);
    assert.equal(byName.code, 0, byName.err);
    assert.equal(byName.out, byPseudonym.out);
    const doctor = await runCli(['whoami', '--org', 'Hospital1', '--user', 'doctor1', '--dir', net.dir, '--json']);
    assert.deepEqual((JSON.parse(doctor.out) as { role: string; pseudonym: null }).pseudonym, null);
  });

  it('a contract validation error names the field and says "invalid argument", not an endorsement refusal', async () => {
    const r = await runCli([
      'consent',
      'grant',
      '--org',
      'Hospital1',
      '--user',
      'patient1',
      '--grantee',
      'user:Hospital3/doctor1',
      '--max-sensitivity',
      'secret',
      '--dir',
      net.dir,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: invalid argument in health\.grantConsent .*scope\.maxSensitivity \(--max-sensitivity\): /);
    assert.doesNotMatch(r.err, /ENDORSEMENT_REFUSED/);
  });
});
