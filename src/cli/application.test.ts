// Membership application end to end (issue 12 item 3), with real node processes: a prospective
// Hospital4 makes its identities and a signed application in its own directory; the admins of a
// running three-hospital Raft consortium review it and admit it through the propose → sign →
// submit flow; Hospital4 downloads the config and genesis from a member node, starts, catches up,
// serves its users; `node check` from it sees every other node — then a node that presents another
// hospital's certificate, and a stopped node, each fail the check. Every refusal on the way
// (tampered, unsigned, malformed, already a member, unknown reviewer, joining before admission)
// is one clear line and a non-zero exit.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeConfigDraft, startConfigDraft } from '../ledger/config-update.ts';
import { loadNodeConfig } from '../node/config.ts';
import { clientFromDir, consortiumIdOf } from '../sdk/index.ts';
import { isAlive, readPid, stopProcesses } from '../node/supervisor.ts';
import { startTestNetwork, type TestNetwork } from '../node/testdata/network.ts';
import type { CheckResult } from './node-check.ts';
import { runCli, type CliRun } from './testkit.ts';

async function ok(args: readonly string[]): Promise<CliRun> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  return r;
}

async function fails(args: readonly string[], code: number, message: RegExp): Promise<CliRun> {
  const r = await runCli(args);
  assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  assert.match(r.err, message);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  return r;
}

describe('membership application: apply, review, admit, join, connection test', { timeout: 420_000 }, () => {
  let net: TestNetwork;
  let work: string;
  let h4: string;
  let impostor: Server | null = null;
  before(async () => {
    net = await startTestNetwork({ orgs: 3, engine: 'raft' });
    work = mkdtempSync(join(tmpdir(), 'medledger-apply-'));
    h4 = join(work, 'hospital4');
  });
  after(async () => {
    impostor?.close();
    const pid = readPid(join(h4, 'Hospital4'));
    if (pid !== null && isAlive(pid)) await stopProcesses([pid], 10_000);
    await net?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('the whole flow, with its refusals', async () => {
    const first = loadNodeConfig(join(net.dir, 'Hospital1', 'node.yaml'));
    const base = first.listen.p2p.port; // the three nodes use base … base + 5
    const c = ['--dir', net.dir];
    const admin = (org: string): string[] => [...c, '--org', org, '--user', 'admin1'];
    const rootCa = join(net.dir, 'crypto', 'root-ca.pem');
    const from = `https://127.0.0.1:${base + 3}`;

    // --- 1. apply, on the applicant's machine ----------------------------------------------------
    const applied = JSON.parse(
      (
        await ok([
          'org',
          'apply',
          '--dir',
          h4,
          '--org',
          'Hospital4',
          '--p2p-port',
          String(base + 6),
          '--api-port',
          String(base + 7),
          '--contact-name',
          'Ada IT',
          '--contact-email',
          'it@h4.example',
          '--demo-users',
          '--json',
        ])
      ).out,
    ) as { application: string; caKeyFingerprintHex: string };
    const application = applied.application;
    assert.match(applied.caKeyFingerprintHex, /^[0-9a-f]{64}$/);
    // Its keys are made and kept in its directory only.
    assert.match(readFileSync(join(h4, 'crypto', 'Hospital4', 'ca-key.pem'), 'utf8'), /PRIVATE KEY/);
    assert.doesNotMatch(readFileSync(application, 'utf8'), /PRIVATE KEY/);
    await fails(
      ['org', 'apply', '--dir', h4, '--org', 'Hospital4', '--p2p-port', '1', '--api-port', '2', '--contact-name', 'x', '--contact-email', 'x@y.z'],
      2,
      /already holds an application of Hospital4/,
    );

    // --- 2. the admins review it ----------------------------------------------------------------
    const review = await ok(['org', 'review', application, ...admin('Hospital2')]);
    assert.match(review.out, /application of Hospital4/);
    assert.match(review.out, new RegExp(`CA key +sha256:${applied.caKeyFingerprintHex}`));
    assert.match(review.out, /no conflict with config 0 \(Hospital1, Hospital2, Hospital3\); admitting it needs admins of 2 hospitals/);

    const original = JSON.parse(readFileSync(application, 'utf8')) as { application: Record<string, unknown>; signatureBase64?: string };
    const variant = (name: string, edit: (f: typeof original) => void): string => {
      const copy = structuredClone(original);
      edit(copy);
      const path = join(work, name);
      writeFileSync(path, JSON.stringify(copy));
      return path;
    };
    const tampered = variant('tampered.json', (f) => (f.application.apiUrl = `https://127.0.0.1:${base + 9}`));
    await fails(
      ['org', 'review', tampered, ...admin('Hospital2')],
      1,
      /^error: application .*tampered\.json: refused \(BAD_SIGNATURE\): .*changed after signing/,
    );
    // …and it never gets as far as a config update.
    await fails(['config', 'propose', '--application', tampered, '--out', join(work, 'x.cbor'), ...admin('Hospital1')], 1, /BAD_SIGNATURE/);
    const unsigned = variant('unsigned.json', (f) => delete f.signatureBase64);
    await fails(['org', 'review', unsigned, '--offline'], 1, /refused \(UNSIGNED\): the application is not signed/);
    await fails(['org', 'review', join(net.dir, 'genesis.block'), '--offline'], 2, /refused \(MALFORMED\): not an application file/);
    await fails(['org', 'review', join(work, 'missing.json'), '--offline'], 2, /no such file/);
    // A reviewer who is no member's admin; an applicant that is already a member.
    await fails(['org', 'review', application, ...admin('Nowhere')], 2, /no identity admin1 of Nowhere/);
    const copycat = join(work, 'hospital2-again');
    const again = JSON.parse(
      (
        await ok([
          'org',
          'apply',
          '--dir',
          copycat,
          '--org',
          'Hospital2',
          '--p2p-port',
          String(base + 8),
          '--api-port',
          String(base + 9),
          '--contact-name',
          'x',
          '--contact-email',
          'x@y.z',
          '--json',
        ])
      ).out,
    ) as { application: string };
    await fails(
      ['org', 'review', again.application, ...admin('Hospital1')],
      1,
      /application of Hospital2 refused: Hospital2 is already a member of the consortium/,
    );

    // Joining before the admins have committed anything: the node does not know its CA yet.
    await fails(['org', 'join', '--dir', h4, '--from', from, '--root-ca', rootCa], 1, /Hospital4 is not admitted yet/);

    // --- 3. admitted through the ordinary config update flow -------------------------------------
    // The root key may be kept apart (the supervision centre): it certifies, the admin proposes
    // with the certificate; a CA certificate of another key is refused.
    const certified = join(work, 'h4-ca.pem');
    // A failed system call on a path the user gave is its one-line message, not a stack trace.
    await fails(['org', 'certify', application, ...c, '--out', join(application, 'ca.pem')], 1, /^error: ENOTDIR: not a directory, open '.*ca\.pem'\n$/);
    assert.match((await ok(['org', 'certify', application, ...c, '--out', certified])).out, /Hospital4's CA \(key sha256:[0-9a-f]{64}\) certified by the root/);
    await fails(
      [
        'config',
        'propose',
        '--application',
        application,
        '--org-ca',
        join(net.dir, 'crypto', 'Hospital2', 'ca.pem'),
        '--out',
        join(work, 'x.cbor'),
        ...admin('Hospital1'),
      ],
      1,
      /--org-ca: (certifies another key|not Hospital4's CA)/,
    );
    const update = join(work, 'admit-h4.cbor');
    const proposed = await ok(['config', 'propose', '--application', application, '--org-ca', certified, '--out', update, ...admin('Hospital1')]);
    assert.match(proposed.out, /admits Hospital4 \(CA key sha256:[0-9a-f]{64}\), its CA certified by the root/);
    await fails(['config', 'submit', update, ...admin('Hospital1')], 1, /admins of 2 hospitals must sign; signed by Hospital1/);
    // The update names this consortium (decision 1389); an update built for another one is not signed here.
    const consortium = consortiumIdOf(net.dir);
    assert.match(proposed.out, new RegExp(`of the consortium of genesis ${consortium.slice(0, 16)}`));
    const live = await clientFromDir(net.dir, 'Hospital1', 'admin1').config();
    const foreign = startConfigDraft({
      state: live.state,
      next: live.state.record.config,
      creatorCertPem: readFileSync(join(net.dir, 'crypto', 'Hospital1', 'admin1', 'cert.pem'), 'utf8'),
      nonce: new Uint8Array(24).fill(1),
      timestampMs: Date.now(),
      consortium: 'cd'.repeat(32),
    });
    const foreignFile = join(work, 'foreign.cbor');
    writeFileSync(foreignFile, encodeConfigDraft(foreign.draft));
    await fails(
      ['config', 'sign', foreignFile, ...admin('Hospital3')],
      1,
      /is an update of another consortium \(genesis cdcdcdcdcdcdcdcd…\), not of .*: not signed/,
    );
    // A consortium `init` makes already requires proposals to name it; an unknown capability is refused.
    await fails(
      ['config', 'propose', '--capability', 'proposals-name-consortium', '--out', join(work, 'cap.cbor'), ...admin('Hospital1')],
      1,
      /capability proposals-name-consortium is already on/,
    );
    await fails(
      ['config', 'propose', '--capability', 'nope', '--out', join(work, 'cap.cbor'), ...admin('Hospital1')],
      2,
      /--capability nope: not a capability \(known: proposals-name-consortium\)/,
    );
    await ok(['config', 'sign', update, ...admin('Hospital3')]);
    const submitted = await ok(['config', 'submit', update, ...admin('Hospital1')]);
    assert.match(submitted.out, /config update 1 committed in block \d+: Hospital1, Hospital2, Hospital3, Hospital4/);

    // --- 4. the newcomer downloads, configures, starts and catches up ----------------------------
    await fails(['org', 'join', '--dir', h4, '--from', from, '--root-ca', join(h4, 'application.json')], 2, /--root-ca/);
    // The genesis hash given out of band (a member's `medledger status` prints it) must match the node's genesis block.
    // (status exits 1 here: Hospital4's node, in the config now, is not running yet)
    const genesisHashHex = /consortium genesis block ([0-9a-f]{64})/.exec((await runCli(['status', '--dir', net.dir])).out)?.[1];
    assert.ok(genesisHashHex, 'status prints the genesis hash');
    await fails(['org', 'join', '--dir', h4, '--from', from, '--root-ca', rootCa, '--genesis-hash', 'nope'], 2, /--genesis-hash nope: 64 hexadecimal digits/);
    await fails(
      ['org', 'join', '--dir', h4, '--from', from, '--root-ca', rootCa, '--genesis-hash', 'ab'.repeat(32)],
      1,
      new RegExp(`has hash ${genesisHashHex}, not the --genesis-hash ${'ab'.repeat(32)}: another consortium`),
    );
    const joined = JSON.parse(
      (await ok(['org', 'join', '--dir', h4, '--from', from, '--root-ca', rootCa, '--genesis-hash', genesisHashHex, '--start', '--json'])).out,
    ) as {
      sequence: number;
      orderer: boolean;
      started: boolean;
      height: number;
    };
    assert.deepEqual([joined.sequence, joined.orderer, joined.started], [1, true, true]);
    const tx = await ok(['tx', 'submit', '--dir', h4, '--org', 'Hospital4', '--user', 'doctor1', 'assets', 'create', 'from-h4', 'patient-4', '4']);
    assert.match(tx.out, /COMMITTED VALID/);

    // --- 5. the connection test ------------------------------------------------------------------
    const check = (): Promise<CliRun> => runCli(['node', 'check', '--dir', h4, '--org', 'Hospital4', '--json', '--timeout', '3000']);
    let report: CheckResult | null = null;
    for (let i = 0; i < 40; i++) {
      const r = await check();
      report = JSON.parse(r.out) as CheckResult;
      if (r.code === 0) break;
      await sleep(500); // p2p links to the newcomer come up within a few ticks
    }
    assert.ok(report?.ok, JSON.stringify(report, null, 2));
    assert.equal(report.self.nodeId, 'node.Hospital4');
    assert.deepEqual(
      report.nodes.map((n) => n.nodeId),
      ['node.Hospital1', 'node.Hospital2', 'node.Hospital3'],
    );
    for (const n of report.nodes) {
      assert.equal(n.reachable, true);
      assert.equal(n.identity?.ok, true);
      assert.equal(n.identity?.presented?.id, n.nodeId);
      assert.ok(typeof n.height === 'number' && n.height >= joined.height - 1, `${n.nodeId} height ${n.height}`);
      assert.ok(typeof n.latencyMs === 'number' && n.latencyMs >= 0);
      assert.equal(n.p2p?.reachable, true);
    }
    const human = await ok(['node', 'check', '--dir', h4, '--org', 'Hospital4']);
    assert.match(human.out, /3\/3 other nodes reachable with the identity the config gives them/);
    // `status` from the founders' folder, which knows only the genesis nodes (the newcomer joined from
    // its own machine), names every node of the config in force: the newcomer included.
    const status = JSON.parse((await ok(['status', '--dir', net.dir, '--json'])).out) as { nodes: Array<{ nodeId: string; reachable: boolean }> };
    assert.deepEqual(
      status.nodes.map((n) => [n.nodeId, n.reachable]),
      ['node.Hospital1', 'node.Hospital2', 'node.Hospital3', 'node.Hospital4'].map((id) => [id, true]),
    );

    // Hospital3 stops; something else answers on its API port with Hospital2's certificate.
    net.kill('Hospital3', 'SIGTERM');
    await net.waitFor('Hospital3 to exit', () => !isAlive(net.pids.get('Hospital3')!), 20_000);
    const h2 = join(net.dir, 'crypto', 'Hospital2', 'node.Hospital2');
    impostor = createServer(
      {
        cert: `${readFileSync(join(h2, 'cert.pem'), 'utf8').trim()}\n${readFileSync(join(net.dir, 'crypto', 'Hospital2', 'ca.pem'), 'utf8').trim()}\n`,
        key: readFileSync(join(h2, 'key.pem')),
      },
      (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"nodeId":"node.Hospital3","org":"Hospital3"}'),
    );
    await new Promise<void>((resolveListen) => impostor!.listen(base + 5, '127.0.0.1', resolveListen));
    const wrong = await runCli(['node', 'check', '--dir', h4, '--org', 'Hospital4', '--json', '--timeout', '3000']);
    assert.equal(wrong.code, 1, wrong.out + wrong.err);
    const w = (JSON.parse(wrong.out) as CheckResult).nodes.find((n) => n.nodeId === 'node.Hospital3')!;
    assert.equal(w.reachable, true);
    assert.equal(w.identity?.ok, false);
    assert.match(w.identity?.problem ?? '', /presents node\.Hospital2 of Hospital2 \(peer\), expected node\.Hospital3 of Hospital3/);
    assert.equal(w.height, null);
    const wrongHuman = await runCli(['node', 'check', '--dir', h4, '--org', 'Hospital4', '--timeout', '3000']);
    assert.equal(wrongHuman.code, 1);
    assert.match(wrongHuman.out, /node\.Hospital3 +Hospital3 +reachable +WRONG/);
    assert.match(wrongHuman.out, /failing: node\.Hospital3/);

    // Nothing listens there any more: unreachable.
    await new Promise<void>((resolveClose) => impostor!.close(() => resolveClose()));
    impostor = null;
    const down = await runCli(['node', 'check', '--dir', h4, '--org', 'Hospital4', '--timeout', '3000']);
    assert.equal(down.code, 1, down.out + down.err);
    assert.match(down.out, /node\.Hospital3 +Hospital3 +UNREACHABLE/);
    assert.match(down.out, /ECONNREFUSED/);
    assert.match(down.out, /node\.Hospital1 +Hospital1 +reachable +ok/);
    assert.match(down.out, /2\/3 other nodes OK; failing: node\.Hospital3/);
  });
});
