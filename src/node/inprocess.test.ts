// The lifecycle end to end through the real Gateway, Peers and solo Orderer in one process.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Consortium } from '../identity/index.ts';
import type { Contract } from '../contracts/runtime.ts';
import { assetsContract } from '../contracts/samples/assets.ts';
import { toHex } from '../codec/index.ts';
import { tempDir } from '../testing/ledger-network.ts';
import { verifyLedger } from '../ledger/verify.ts';
import { GatewayError } from './gateway.ts';
import { isBatchSignature } from '../crypto/batch-signature.ts';
import { decodeEnvelope, decodeTxPayload, parseTx } from '../ledger/tx.ts';
import { blockHash, encodeBlock } from '../ledger/block.ts';
import { createDevConsortium, InProcessNetwork, orgNames, runDevWorkload } from './inprocess.ts';

const clocky: Contract = {
  name: 'clocky',
  version: '1',
  functions: {
    stamp: { kind: 'submit', handler: (stub) => stub.putState('now', String(Date.now())) },
    dice: { kind: 'submit', handler: (stub) => stub.putState('roll', String(Math.floor(Math.random() * 6))) },
  },
};

const orgs = orgNames(3);
const tmp = tempDir('medledger-inprocess-');
let consortium: Consortium;
let net: InProcessNetwork;
const createdAtMs = Date.now();

async function open(): Promise<InProcessNetwork> {
  return InProcessNetwork.create({ dir: tmp.dir, orgs, consortium, contracts: [assetsContract, clocky], createdAtMs });
}

async function rejection(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err;
  }
  assert.fail('expected a GatewayError');
}

before(async () => {
  consortium = await createDevConsortium(orgs);
  net = await open();
});
after(() => {
  net.close();
  tmp.cleanup();
});

describe('in-process network', () => {
  it('routes around an endorser that cannot be reached and hedges one that hangs (issue 11)', async () => {
    // Hospital2's peer refuses connections; Hospital3's never answers. The majority policy needs
    // two organisations, so every transaction must end up endorsed by Hospital1 and a spare.
    const unreachable = net.gateway('Hospital1', 'doctor1', {
      wrapEndorser: (e) => (e.org === 'Hospital2' ? { ...e, endorse: () => Promise.reject(new Error('connection refused')) } : e),
    });
    const hanging = net.gateway('Hospital1', 'doctor1', {
      hedgeAfterMs: 50,
      wrapEndorser: (e) => (e.org === 'Hospital3' ? { ...e, endorse: () => new Promise<never>(() => undefined) } : e),
    });
    for (let i = 0; i < 6; i++) {
      const a = await unreachable.prepare('assets', 'create', [`route-a-${i}`, 'alice', '1']);
      assert.ok(!a.endorsers.includes('Hospital2'), `endorsed by ${a.endorsers.join(', ')}`);
      assert.equal((await unreachable.submitPrepared(a)).code, 'VALID');
      const h = await hanging.prepare('assets', 'create', [`route-h-${i}`, 'alice', '1']);
      assert.ok(!h.endorsers.includes('Hospital3'), `endorsed by ${h.endorsers.join(', ')}`);
      assert.equal((await hanging.submitPrepared(h)).code, 'VALID');
    }
    // An endorser that is known to be down is not asked at all while others can satisfy the policy.
    let asked = 0;
    const known = net.gateway('Hospital1', 'doctor1', {
      wrapEndorser: (e) =>
        e.org === 'Hospital2'
          ? {
              ...e,
              available: () => false,
              endorse: (sp) => {
                asked += 1;
                return e.endorse(sp);
              },
            }
          : e,
    });
    for (let i = 0; i < 3; i++) assert.equal((await known.submit('assets', 'create', [`route-k-${i}`, 'alice', '1'])).code, 'VALID');
    assert.equal(asked, 0);
    // Refused by the contract: not routed around (another peer would refuse the same way).
    const refused = await rejection(unreachable.submit('assets', 'create', ['route-a-0', 'alice', '1']));
    assert.equal(refused.kind, 'ENDORSEMENT_REFUSED');
    assert.match(refused.message, /already exists|exists/);
  });

  it('submits, commits VALID on every peer, and evaluates', async () => {
    const gw = net.gateway('Hospital2');
    const r = await gw.submit('assets', 'create', ['e1', 'alice', '42']);
    assert.equal(r.code, 'VALID');
    assert.equal(Buffer.from(r.payload).toString(), 'e1');
    await net.waitForHeight(r.blockNumber);
    const asset = JSON.parse(Buffer.from(await gw.evaluate('assets', 'read', ['e1'], 'Hospital3')).toString()) as { owner: string };
    assert.equal(asset.owner, 'alice');
    const history = JSON.parse(Buffer.from(await gw.evaluate('assets', 'history', ['e1'])).toString()) as unknown[];
    assert.equal(history.length, 1);
    // The gateway's proposal names this consortium, its genesis block (decision 1389).
    const ledger = net.peer('Hospital1').ledger;
    const committed = ledger.getBlock(r.blockNumber).block.data.map((d) => parseTx(d).proposal);
    assert.equal(committed.find((p) => p.txId === r.txId)?.consortium, ledger.consortium);
    assert.equal(ledger.consortium, toHex(blockHash(net.genesis.header)));
    // What another node fetching blocks is sent: the stored bytes, the block's own encoding (decision 1397).
    for (let n = 0; n <= r.blockNumber; n++) assert.deepEqual(net.orderer.getEncodedBlock(n), encodeBlock(net.orderer.getBlock(n)), `block ${n}`);
  });

  it('endorses the proposals of one loop turn together: each peer signs their endorsements with one batch signature (decision 1384)', async () => {
    const gw = net.gateway('Hospital1');
    const results = await Promise.all([0, 1, 2, 3].map((i) => gw.submit('assets', 'create', [`batched-${i}`, 'alice', '1'])));
    for (const r of results) assert.equal(r.code, 'VALID');
    // Every endorsement in the blocks holding them: one signed alone is a plain 64-byte signature.
    let batchSigned = 0;
    for (const n of new Set(results.map((r) => r.blockNumber))) {
      for (const data of net.peer('Hospital1').ledger.getBlock(n).block.data) {
        for (const e of decodeTxPayload(decodeEnvelope(data).payload).endorsements) if (isBatchSignature(e.signature)) batchSigned += 1;
      }
    }
    assert.ok(batchSigned >= 2, `endorsements signed in a batch: ${batchSigned}`);
  });

  it('enforces ACLs at endorsement: a doctor may not remove, an admin may', async () => {
    const doctor = net.gateway('Hospital1');
    const created = await doctor.submit('assets', 'create', ['e2', 'bob', '1']);
    // The gateway learns the outcome from its own peer; the others may commit a moment later.
    await net.waitForHeight(created.blockNumber);
    const err = await rejection(doctor.submit('assets', 'remove', ['e2']));
    assert.equal(err.kind, 'ENDORSEMENT_REFUSED');
    assert.equal(err.status, 403);
    const admin = net.gateway('Hospital1', 'admin1');
    assert.equal((await admin.submit('assets', 'remove', ['e2'])).code, 'VALID');
  });

  it('does not endorse a contract that reads the clock or randomness', async () => {
    const gw = net.gateway('Hospital1');
    for (const fn of ['stamp', 'dice']) {
      const err = await rejection(gw.submit('clocky', fn, []));
      assert.equal(err.kind, 'ENDORSEMENT_REFUSED');
      assert.match(err.message, /determinism/);
    }
  });

  it('checks the endorsement policy at the gateway, and the ledger rejects an under-endorsed tx', async () => {
    const gw = net.gateway('Hospital3');
    const err = await rejection(gw.submit('assets', 'create', ['e3', 'carol', '1'], { orgs: ['Hospital3'] }));
    assert.equal(err.kind, 'POLICY_NOT_SATISFIED');
    const forced = await gw.submit('assets', 'create', ['e3', 'carol', '1'], { orgs: ['Hospital3'], skipPolicyCheck: true });
    assert.equal(forced.code, 'ENDORSEMENT_POLICY_FAILURE');
  });

  it("a re-submitted transaction is not ordered again: the first occurrence's status is reported (decision 1003)", async () => {
    const gw = net.gateway('Hospital1');
    const prepared = await gw.prepare('assets', 'create', ['e5', 'dan', '1']);
    const r = await gw.submitPrepared(prepared);
    assert.equal(r.code, 'VALID');
    await net.waitForHeight(r.blockNumber);
    for (let i = 0; i < 3; i++) {
      const again = await gw.submitPrepared(prepared);
      assert.deepEqual(
        { code: again.code, block: again.blockNumber },
        { code: 'VALID', block: r.blockNumber },
        'the status of the first (committed) occurrence',
      );
    }
    // Straight to the orderer, as another client: refused, naming what it knows.
    const direct = net.orderer.broadcast({ clientId: 'replayer', seq: 1, data: prepared.envelope });
    assert.deepEqual(direct, {
      accepted: false,
      reason: `transaction ${prepared.txId} is already committed in block ${r.blockNumber} (VALID): not ordered again`,
      duplicate: { state: 'committed', blockNumber: r.blockNumber, code: 'VALID' },
    });
    // The next block carries only the next transaction: no DUPLICATE_TXID copies were ordered.
    const next = await gw.submit('assets', 'create', ['e5-next', 'dan', '1']);
    await net.waitForHeight(next.blockNumber);
    const ledger = net.peer('Hospital2').ledger;
    for (let n = r.blockNumber + 1; n <= next.blockNumber; n++)
      assert.ok(!ledger.getBlock(n).validation.includes('DUPLICATE_TXID'), `block ${n} carries no duplicate`);
  });

  it('the orderer admits one copy of two identical broadcasts, reports it pending, then ordered or committed', async () => {
    const gw = net.gateway('Hospital3');
    const prepared = await gw.prepare('assets', 'create', ['e6', 'eve', '1']);
    const first = net.orderer.broadcast({ clientId: 'c1', seq: 1, data: prepared.envelope });
    const second = net.orderer.broadcast({ clientId: 'c2', seq: 1, data: prepared.envelope });
    assert.deepEqual(first, { accepted: true });
    assert.deepEqual(second.accepted ? null : second.duplicate, { state: 'pending' });
    assert.match(second.accepted ? '' : second.reason, /is already pending: not ordered again/);
    const status = await net.peer('Hospital3').waitForTx(prepared.txId, 10_000);
    assert.equal(status.code, 'VALID');
    const later = net.orderer.knownTx(prepared.txId);
    assert.ok(later?.state === 'committed' || later?.state === 'ordered', JSON.stringify(later));
    assert.equal(later.blockNumber, status.blockNumber);
    const copies = net
      .peer('Hospital3')
      .ledger.getBlock(status.blockNumber)
      .validation.filter((c) => c === 'DUPLICATE_TXID');
    assert.equal(copies.length, 0, 'one copy in the block');
  });

  it('refuses malformed input at the orderer and proposals from a skewed clock at the endorsers', async () => {
    const junk = net.orderer.broadcast({ clientId: 'test', seq: 1, data: new TextEncoder().encode('junk') });
    assert.equal(junk.accepted, false);
    assert.match(junk.accepted ? '' : junk.reason, /malformed/);
    const badSeq = net.orderer.broadcast({ clientId: 'test', seq: 0, data: new Uint8Array(1) });
    assert.equal(badSeq.accepted, false);
    // The engines' own control entries (gpbft's node update, decision 1280) are not a client's to send.
    const control = net.orderer.broadcast({ clientId: 'gpbft:membership', seq: 1, data: new Uint8Array(1) });
    assert.equal(control.accepted, false);
    assert.match(control.accepted ? '' : control.reason, /reserved/);
    const skewed = net.gateway('Hospital1', 'doctor1', { clock: () => Date.now() + 3_600_000 });
    const err = await rejection(skewed.submit('assets', 'create', ['skew', 'x', '1']));
    assert.equal(err.kind, 'ENDORSEMENT_REFUSED');
    assert.match(err.message, /timestamp/);
  });

  it('runs the dev workload with conflicts; peers agree; verify passes; a restart continues the chain', async () => {
    const result = await runDevWorkload(net, { transactions: 90, seed: 7 });
    const committed = Object.values(result.codes).reduce((a, b) => a + b, 0);
    const dropped = Object.values(result.notSubmitted).reduce((a, b) => a + b, 0);
    assert.equal(committed + dropped, 90);
    assert.ok((result.codes['VALID'] ?? 0) > 60);
    await net.waitForHeight(net.orderer.height);
    const hashes = new Set(net.peers.map((p) => `${p.height}:${toHex(p.ledger.stateHash())}`));
    assert.equal(hashes.size, 1, 'identical state hashes on all peers');
    const height = net.orderer.height;
    net.close();
    for (const org of orgs) {
      const report = await verifyLedger(`${tmp.dir}/${org}`);
      assert.equal(report.ok, true, JSON.stringify(report.problem));
      assert.equal(report.certificatesChecked, height, 'every block carries a verified solo certificate');
    }
    net = await open();
    assert.equal(net.orderer.height, height);
    const r = await net.gateway('Hospital2').submit('assets', 'create', ['after-restart', 'erin', '1']);
    assert.equal(r.code, 'VALID');
    assert.equal(r.blockNumber, height + 1);
  });
});
