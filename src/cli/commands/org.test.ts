// `medledger org add|remove` and `config show` against a real 3-hospital consortium in this
// process: the config updates commit, the live config changes, the directory follows (a new
// hospital's identities and node.yaml; a removed one's node.yaml set aside), and every bad input
// gets one clear error line and a non-zero exit. (Starting the new node and its joining Raft is
// covered by the multi-process test src/cli/membership.test.ts.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNetwork, type TestNetwork } from '../../api/testkit.ts';
import { loadPseudonymKey, patientPseudonym, pseudonymOf } from '../../identity/pseudonym.ts';
import { runCli, type CliRun } from '../testkit.ts';

let net: TestNetwork;

async function ok(args: readonly string[]): Promise<CliRun> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  return r;
}

async function fails(args: readonly string[], code: number, message: RegExp): Promise<void> {
  const r = await runCli(args);
  assert.equal(r.code, code, `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  assert.match(r.err, message);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
}

interface ConfigJson {
  sequence: number;
  orgs: string[];
  orderers: string[];
  contracts: Array<{ name: string; endorsementPolicy: string }>;
  updatePolicy: string;
}

before(async () => {
  net = await startTestNetwork({ orgs: 3 });
});

after(async () => {
  await net?.stop();
});

describe('medledger org / config', () => {
  it('config show: the genesis config, human and --json', async () => {
    const human = await ok(['config', 'show', '--dir', net.dir]);
    assert.match(human.out, /config sequence 0 \(genesis\); engine raft/);
    assert.match(human.out, /next update needs: OutOf\(2, 'Hospital1\.admin', 'Hospital2\.admin', 'Hospital3\.admin'\)/);
    // A consortium init makes requires every proposal to name it (decision 1389).
    assert.match(human.out, /capabilities: proposals-name-consortium/);
    const json = JSON.parse((await ok(['config', 'show', '--dir', net.dir, '--org', 'Hospital2', '--user', 'doctor1', '--json'])).out) as ConfigJson;
    assert.equal(json.sequence, 0);
    assert.deepEqual(json.orgs, ['Hospital1', 'Hospital2', 'Hospital3']);
    assert.equal('configBase64' in json, false);
    assert.deepEqual((json as { capabilities?: string[] }).capabilities, ['proposals-name-consortium']);
  });

  it('org add: a fourth hospital, its identities and node.yaml; policies follow the majority', async () => {
    const r = JSON.parse((await ok(['org', 'add', '--dir', net.dir, '--json'])).out) as {
      org: string;
      sequence: number;
      orderer: boolean;
      config: string;
      blockNumber: number;
    };
    assert.equal(r.org, 'Hospital4');
    assert.equal(r.sequence, 1);
    assert.equal(r.orderer, true);
    assert.ok(existsSync(r.config));
    assert.ok(existsSync(join(net.dir, 'crypto', 'Hospital4', 'doctor1', 'key.pem')));
    // Its patients are issued to pseudonyms under its own key (decision 0906).
    assert.equal(patientPseudonym(net.dir, 'Hospital4', 'patient1'), pseudonymOf(loadPseudonymKey(join(net.dir, 'crypto'), 'Hospital4'), 'Hospital4/patient1'));
    const config = JSON.parse((await ok(['config', 'show', '--dir', net.dir, '--json'])).out) as ConfigJson;
    assert.equal(config.sequence, 1);
    assert.deepEqual(config.orgs, ['Hospital1', 'Hospital2', 'Hospital3', 'Hospital4']);
    assert.ok(config.orderers.includes('node.Hospital4'));
    for (const c of config.contracts) assert.match(c.endorsementPolicy, /^OutOf\(3, .*'Hospital4\.peer'\)$/);
    // Every node applied it (the in-process consortium's three nodes).
    for (const n of net.nodes) assert.equal(n.configState().record.sequence, 1);
  });

  it('refuses bad input with one clear line', async () => {
    await fails(['org', 'add', '--dir', net.dir, '--org', 'Hospital2'], 1, /^error: Hospital2 is already a member of the consortium\n$/);
    await fails(['org', 'add', '--dir', net.dir, '--org', 'bad name!'], 2, /--org bad name!: a hospital name is a letter/);
    await fails(['org', 'add', '--dir', join(net.dir, 'nowhere')], 2, /no consortium there \(genesis\.block missing/);
    await fails(
      ['org', 'remove', 'Hospital9', '--dir', net.dir],
      1,
      /Hospital9 is not a member of the consortium \(members: Hospital1, Hospital2, Hospital3, Hospital4\)/,
    );
    await fails(
      ['org', 'remove', 'Hospital1', '--dir', net.dir, '--via', 'Hospital1'],
      2,
      /--via Hospital1: no node of that hospital .*\(it is the one being removed\)/,
    );
    await fails(['org', 'remove', '--dir', net.dir], 2, /name the hospital to remove/);
    await fails(['org', 'remove', 'Hospital2', '--org', 'Hospital3', '--dir', net.dir], 2, /two hospitals named/);
    await fails(['config', 'show', '--dir', net.dir, '--org', 'Nowhere'], 2, /no identity admin1 of Nowhere/);
    // Without the root CA key no new hospital CA can be issued.
    const key = join(net.dir, 'crypto', 'root-ca-key.pem');
    renameSync(key, `${key}.offline`);
    try {
      await fails(['org', 'add', '--dir', net.dir], 1, /the root CA key is not in .*root-ca-key\.pem/);
    } finally {
      renameSync(`${key}.offline`, key);
    }
  });

  // --org, as `org add --org` names the hospital (issue 17: `org remove --org` was an unknown option).
  it('org remove: the config drops it, its node.yaml is set aside, its users are refused', async () => {
    const r = JSON.parse((await ok(['org', 'remove', '--org', 'Hospital4', '--dir', net.dir, '--json'])).out) as {
      sequence: number;
      retiredConfig: string | null;
      stopped: boolean;
    };
    assert.equal(r.sequence, 2);
    assert.equal(r.stopped, false);
    assert.ok(r.retiredConfig && existsSync(r.retiredConfig) && !existsSync(join(net.dir, 'Hospital4', 'node.yaml')));
    const config = JSON.parse((await ok(['config', 'show', '--dir', net.dir, '--json'])).out) as ConfigJson;
    assert.deepEqual(config.orgs, ['Hospital1', 'Hospital2', 'Hospital3']);
    assert.match(config.updatePolicy, /^OutOf\(2, /);
    // A user of the removed hospital is refused by every member's gateway.
    await fails(
      ['config', 'show', '--dir', net.dir, '--org', 'Hospital4', '--user', 'doctor1', '--url', net.apis[0]!.url],
      1,
      /not the CA of any member organisation/,
    );
    // The chain holds both updates: a plain transaction still commits under the new config.
    const tx = await ok(['tx', 'submit', '--dir', net.dir, '--org', 'Hospital3', '--user', 'doctor1', 'assets', 'create', 'after-removal', 'p', '1']);
    assert.match(tx.out, /COMMITTED VALID/);
  });

  it('admins on different hosts: propose, sign, submit a config update file', async () => {
    const file = join(net.dir, 'remove-hospital3.cbor');
    const as = (org: string): string[] => ['--dir', net.dir, '--org', org, '--user', 'admin1'];
    const proposed = JSON.parse((await ok(['config', 'propose', '--remove-org', 'Hospital3', '--out', file, ...as('Hospital1'), '--json'])).out) as {
      sequence: number;
      signedBy: string[];
      needed: number;
    };
    assert.equal(proposed.sequence, 3);
    assert.deepEqual(proposed.signedBy, ['Hospital1']);
    assert.equal(proposed.needed, 2);
    // Not enough signatures yet: refused before anything is submitted.
    await fails(['config', 'submit', file, ...as('Hospital1')], 1, /admins of 2 hospitals must sign; signed by Hospital1/);
    // A doctor's signature does not count; only the proposer may submit.
    await ok(['config', 'sign', file, '--dir', net.dir, '--org', 'Hospital2', '--user', 'doctor1']);
    await fails(['config', 'submit', file, ...as('Hospital2')], 2, /only the admin who proposed this update can submit it/);
    await fails(['config', 'submit', file, ...as('Hospital1')], 1, /signed by Hospital1 \(/);
    const signed = await ok(['config', 'sign', file, ...as('Hospital2')]);
    assert.match(signed.out, /signed by admins of: Hospital1, Hospital2/);
    const submitted = JSON.parse((await ok(['config', 'submit', file, ...as('Hospital1'), '--json'])).out) as { sequence: number };
    assert.equal(submitted.sequence, 3);
    const config = JSON.parse((await ok(['config', 'show', '--dir', net.dir, '--json'])).out) as ConfigJson;
    assert.deepEqual(config.orgs, ['Hospital1', 'Hospital2']);
    // The same file again: built on a config no longer in force.
    await fails(['config', 'submit', file, ...as('Hospital1')], 1, /built on config 2, but config 3 is in force/);
    await fails(['config', 'sign', join(net.dir, 'genesis.block'), ...as('Hospital2')], 2, /not a config update file/);
    await fails(['config', 'propose', '--out', file, ...as('Hospital1')], 2, /exactly one of --add-org, --remove-org, --capability or --application/);
    await fails(['config', 'propose', '--add-org', 'Hospital7', '--out', file, ...as('Hospital1')], 2, /--add-org needs --org-ca/);
  });
});
