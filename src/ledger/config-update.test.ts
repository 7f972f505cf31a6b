// Config transactions through real peers: who may change the configuration, what may change, how
// competing updates are ordered, and that every later block is validated under the new config
// (a new organisation's users transact; a removed one's cannot) — also after a restart and in
// `ledger verify`'s replay.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parsePrivateKey, sign } from '../crypto/index.ts';
import { addOrganisation, issueCertificate, type Consortium } from '../identity/index.ts';
import type { Peer } from '../node/peer.ts';
import type { Block } from './block.ts';
import type { ConsortiumConfig } from './config.ts';
import { encode, sha256 } from '../codec/index.ts';
import {
  buildConfigUpdateTx,
  checkConfigTransition,
  CONFIG_FN,
  CONFIG_KEY,
  CONFIG_NAMESPACE,
  configSignaturesNeeded,
  encodeConfigRecord,
  type ConfigSigner,
} from './config-update.ts';
import { buildEnvelope, buildProposal, encodeEnvelope, encodeResponse, endorse } from './tx.ts';
import { TestKit, tempDir, type TestUser } from '../testing/ledger-network.ts';
import { verifyLedger } from './verify.ts';

let kit: TestKit;
const tmp = tempDir('medledger-config-');
let run = 0;

function peers(): Peer[] {
  run += 1;
  return kit.orgs.map((org) => kit.peer(org, join(tmp.dir, `run${run}`, org)));
}

function head(p: Peer): Block['header'] {
  return p.ledger.getBlock(p.ledger.height).block.header;
}

function commit(ps: readonly Peer[], envelopes: readonly Uint8Array[]): string[] {
  const block = kit.block(head(ps[0]!), envelopes);
  const codes = ps.map((p) => p.deliver(block).txs.map((t) => `${t.code}${t.code === 'VALID' ? '' : `: ${t.reason}`}`));
  for (const c of codes) assert.deepEqual(c, codes[0], 'every peer decides the same');
  return codes[0]!;
}

function signer(consortium: Consortium, org: string, commonName: string): ConfigSigner {
  const id = consortium.users.find((u) => u.org === org && u.commonName === commonName);
  if (!id) throw new Error(`no ${commonName} in ${org}`);
  const key = parsePrivateKey(id.keyPem);
  return { certPem: id.certPem, signer: { sign: (m) => sign(key, m) } };
}

function update(p: Peer, next: ConsortiumConfig, signers: readonly ConfigSigner[], creator = signers[0]!): Uint8Array {
  return buildConfigUpdateTx({ state: p.ledger.configState, next, creator, signers, nonce: new Uint8Array(randomBytes(24)), timestampMs: Date.now() }).envelope;
}

/** What a dishonest client could submit: the same shape, without the client-side transition check. */
function forgedUpdate(p: Peer, next: ConsortiumConfig, signers: readonly ConfigSigner[]): Uint8Array {
  const creator = signers[0]!;
  const proposal = buildProposal({
    contract: CONFIG_NAMESPACE,
    fn: CONFIG_FN,
    args: [],
    creator: creator.certPem,
    nonce: new Uint8Array(randomBytes(24)),
    timestampMs: Date.now(),
  });
  const proposalBytes = encode(proposal);
  const state = p.ledger.configState;
  const response = encodeResponse({
    proposalHash: sha256(proposalBytes),
    rwset: {
      namespaces: [
        {
          namespace: CONFIG_NAMESPACE,
          reads: [{ key: CONFIG_KEY, version: state.version }],
          rangeReads: [],
          writes: [{ key: CONFIG_KEY, isDelete: false, value: encodeConfigRecord({ sequence: state.record.sequence + 1, config: next }) }],
        },
      ],
    },
    result: { status: 200, message: '', payload: new Uint8Array() },
    event: null,
  });
  const endorsements = signers.map((s) => endorse(response, s.certPem, s.signer));
  return encodeEnvelope(buildEnvelope({ proposal: proposalBytes, response, endorsements }, creator.signer));
}

/** The assets policy made easier: one peer of any organisation suffices. */
function withOnePeerPolicy(config: ConsortiumConfig): ConsortiumConfig {
  const anyPeer = `OutOf(1, ${config.orgs.map((o) => `'${o.org}.peer'`).join(', ')})`;
  return { ...config, contracts: config.contracts.map((c) => ({ ...c, endorsementPolicy: anyPeer })) };
}

function admins(n: number): ConfigSigner[] {
  return kit.orgs.slice(0, n).map((org) => signer(kit.consortium, org, 'admin1'));
}

before(async () => {
  kit = await TestKit.create({ orgs: 3 });
});

after(() => tmp.cleanup());

describe('config transactions', () => {
  it('need admins of a majority of the organisations; the new policy governs the next block', () => {
    const ps = peers();
    const [p1, p2] = ps as [Peer, Peer, Peer];
    const doctor = kit.user(kit.orgs[0]!);
    // Before: one endorsement does not satisfy the majority policy.
    const before = kit.tx(doctor, [p1], 'create', ['a', 'alice', '1']);
    assert.match(commit(ps, [before.envelope])[0]!, /^ENDORSEMENT_POLICY_FAILURE/);

    assert.equal(configSignaturesNeeded(kit.config), 2);
    const next = withOnePeerPolicy(kit.config);
    const oneAdmin = update(p1, next, admins(1));
    assert.match(commit(ps, [oneAdmin])[0]!, /^INVALID_CONFIG_TRANSACTION: a config update needs signatures of admins of a majority/);
    const doctors = update(
      p1,
      next,
      kit.orgs.slice(0, 2).map((org) => signer(kit.consortium, org, 'doctor1')),
    );
    assert.match(commit(ps, [doctors])[0]!, /^INVALID_CONFIG_TRANSACTION/);
    // Two admins of the same organisation are one organisation.
    const admin2 = signer(kit.consortium, kit.orgs[0]!, 'admin1');
    assert.match(commit(ps, [update(p1, next, [admin2, admin2])])[0]!, /^INVALID_CONFIG_TRANSACTION/);
    assert.equal(p1.ledger.configState.record.sequence, 0);

    assert.deepEqual(commit(ps, [update(p1, next, admins(2))]), ['VALID']);
    for (const p of ps) {
      assert.equal(p.ledger.configState.record.sequence, 1);
      assert.equal(p.ledger.config.contracts[0]!.endorsementPolicy, next.contracts[0]!.endorsementPolicy);
    }
    const afterTx = kit.tx(doctor, [p2], 'create', ['a', 'alice', '1']);
    assert.deepEqual(commit(ps, [afterTx.envelope]), ['VALID']);
    for (const p of ps) p.close();
  });

  it('orders competing updates: the second built on the same config is an MVCC conflict', () => {
    const ps = peers();
    const p1 = ps[0]!;
    const a = update(p1, withOnePeerPolicy(kit.config), admins(2));
    const b = update(p1, { ...kit.config, contracts: [] }, admins(3));
    const codes = commit(ps, [a, b]);
    assert.equal(codes[0], 'VALID');
    assert.match(codes[1]!, /^MVCC_READ_CONFLICT/);
    // Built on sequence 0, submitted after sequence 1 committed: stale.
    const late = buildConfigUpdateTx({
      state: { record: { sequence: 0, config: kit.config }, version: null },
      next: { ...kit.config, contracts: [] },
      creator: admins(1)[0]!,
      signers: admins(2),
      nonce: new Uint8Array(randomBytes(24)),
      timestampMs: Date.now(),
    });
    assert.match(commit(ps, [late.envelope])[0]!, /^MVCC_READ_CONFLICT: the update was built on another config/);
    assert.equal(p1.ledger.configState.record.sequence, 1);
    for (const p of ps) p.close();
  });

  it('refuses what may not change, naming it', () => {
    const c = kit.config;
    assert.match(checkConfigTransition(c, { ...c, ordering: { ...c.ordering, engine: 'pbft' } }) ?? '', /consensus engine cannot change/);
    assert.match(checkConfigTransition(c, { ...c, name: 'other' }) ?? '', /name cannot change/);
    assert.match(checkConfigTransition(c, { ...c, ordering: { ...c.ordering, countMax: 7 } }) ?? '', /ordering parameters/);
    // The test consortium orders with solo: a fixed orderer set.
    assert.match(checkConfigTransition(c, { ...c, orderers: [] }) ?? '', /fixed orderer set/);
    assert.match(checkConfigTransition(c, { ...c, contracts: [{ name: 'assets', version: '1', endorsementPolicy: 'OutOf(' }] }) ?? '', /endorsement policy/);
    assert.equal(checkConfigTransition(c, withOnePeerPolicy(c)), null);
    // A capability is switched on by an update (decision 1389), never off.
    const strict: ConsortiumConfig = { ...c, capabilities: ['proposals-name-consortium'] };
    assert.equal(checkConfigTransition(c, strict), null);
    assert.match(checkConfigTransition(strict, c) ?? '', /capability proposals-name-consortium cannot be switched off/);
    // Two nodes at one address: refused by the config's own schema.
    const node = { id: 'node.A', org: kit.orgs[0]!, roles: ['peer' as const], p2pUrl: 'wss://10.0.0.1:7400', apiUrl: 'https://10.0.0.1:7401' };
    assert.throws(
      () => encodeConfigRecord({ sequence: 1, config: { ...c, nodes: [node, { ...node, id: 'node.B', apiUrl: 'https://10.0.0.2:7401' }] } }),
      /duplicate node p2pUrl/,
    );
    // And in a block: a forged "engine change" signed by every admin is still invalid.
    const ps = peers();
    const codes = commit(ps, [forgedUpdate(ps[0]!, { ...c, ordering: { ...c.ordering, engine: 'pbft' } }, admins(3))]);
    assert.match(codes[0]!, /^INVALID_CONFIG_TRANSACTION: the consensus engine cannot change/);
    for (const p of ps) p.close();
  });

  it('adds an organisation (its users transact) and removes one (its users cannot), across a restart and verify', async () => {
    const consortium = await addOrganisation(kit.consortium, { org: 'Org4', users: [{ commonName: 'doctor1', role: 'doctor' }] });
    const org4 = consortium.orgCas.get('Org4')!;
    const ps = peers();
    const p1 = ps[0]!;
    const newcomerKey = parsePrivateKey(consortium.users.find((u) => u.org === 'Org4')!.keyPem);
    const newcomer: TestUser = { org: 'Org4', certPem: consortium.users.find((u) => u.org === 'Org4')!.certPem, signer: { sign: (m) => sign(newcomerKey, m) } };
    assert.throws(() => kit.tx(newcomer, ps.slice(0, 2), 'create', ['n', 'neo', '1']), /not the CA of any member organisation/);

    const added: ConsortiumConfig = { ...kit.config, orgs: [...kit.config.orgs, { org: 'Org4', caCertPem: org4.certPem }] };
    assert.deepEqual(commit(ps, [update(p1, added, admins(2))]), ['VALID']);
    const welcome = kit.tx(newcomer, ps.slice(0, 2), 'create', ['n', 'neo', '1']);
    assert.deepEqual(commit(ps, [welcome.envelope]), ['VALID']);
    // Four organisations now: three admins are a majority; two are not.
    assert.match(commit(ps, [update(p1, kit.config, admins(2))])[0]!, /^INVALID_CONFIG_TRANSACTION/);
    // Endorsed while its organisation is a member, committed after it was removed: refused.
    const org3Doctor = kit.user(kit.orgs[2]!);
    const pending = kit.tx(org3Doctor, ps.slice(0, 2), 'create', ['x', 'x', '1']);
    const removed: ConsortiumConfig = { ...added, orgs: added.orgs.filter((o) => o.org !== kit.orgs[2]) };
    assert.deepEqual(commit(ps, [update(p1, removed, admins(3))]), ['VALID']);
    assert.match(commit(ps, [pending.envelope])[0]!, /^BAD_CREATOR_SIGNATURE: creator certificate/);
    assert.throws(() => kit.endorse(ps.slice(0, 2), kit.proposal(org3Doctor, 'create', ['y', 'y', '1']).signed), /not the CA of any member organisation/);

    const dir = p1.ledger.dir;
    for (const p of ps) p.close();
    const reopened = kit.peer(kit.orgs[0]!, dir);
    assert.equal(reopened.ledger.configState.record.sequence, 2);
    assert.deepEqual(
      reopened.ledger.config.orgs.map((o) => o.org),
      [kit.orgs[0], kit.orgs[1], 'Org4'],
    );
    assert.equal(reopened.ledger.genesisConfig.orgs.length, 3);
    reopened.close();
    const report = await verifyLedger(dir);
    assert.equal(report.ok, true, report.problem?.reason);
    assert.equal(report.configUpdates, 2);
  });

  it('an admin certificate of an unknown CA does not count, even with the right name', async () => {
    const stranger = await addOrganisation(kit.consortium, { org: 'Rogue', users: [{ commonName: 'admin1', role: 'admin' }] });
    const rogueCa = stranger.orgCas.get('Rogue')!;
    // A certificate saying "Org2 admin" issued by a CA the consortium does not know.
    const forged = await issueCertificate(rogueCa, { commonName: 'admin1', role: 'admin' });
    const key = parsePrivateKey(forged.keyPem);
    const ps = peers();
    const codes = commit(ps, [
      update(ps[0]!, withOnePeerPolicy(kit.config), [admins(1)[0]!, { certPem: forged.certPem, signer: { sign: (m) => sign(key, m) } }]),
    ]);
    void stranger;
    assert.match(codes[0]!, /^INVALID_CONFIG_TRANSACTION/);
    for (const p of ps) p.close();
  });
});
