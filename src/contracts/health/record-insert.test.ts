// EH-BFT's leader check against double insertion (paper 001 enhancement b; issue 12 item 4),
// wired to the health contract's record keys: insertedRecordKey reads the record a transaction
// creates from its endorsed read/write set, and on an EH-BFT network the leader refuses a second
// insertion of the same record while the first is in flight — it never reaches a block, where it
// would otherwise sit as an MVCC_READ_CONFLICT copy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConsortium } from '../../identity/index.ts';
import { tempDir } from '../../testing/ledger-network.ts';
import { parseTx } from '../../ledger/tx.ts';
import { InProcessNetwork, orgNames } from '../../node/inprocess.ts';
import { healthContract } from './contract.ts';
import { insertedRecordKey } from './record-insert.ts';
import { partFor, pseudonymFor } from './testkit.ts';

const orgs = orgNames(3);
const tmp = tempDir('medledger-ehbft-records-');
let net: InProcessNetwork;
const PP = pseudonymFor('ehbft-patient');

before(async () => {
  const consortium = await createConsortium({
    orgs,
    users: orgs.flatMap((org) => [
      { org, commonName: 'admin1', role: 'admin' as const },
      { org, commonName: 'doctor1', role: 'doctor' as const },
    ]),
  });
  // A partial block only after 20 ticks: two submissions at once meet in the leader's queue.
  net = await InProcessNetwork.create({ dir: tmp.dir, orgs, consortium, contracts: [healthContract], ordering: { engine: 'ehbft', timeoutTicks: 20 } });
});
after(() => {
  net.close();
  tmp.cleanup();
});

async function submit(fn: string, arg: unknown, user = 'admin1'): Promise<void> {
  const r = await net.gateway('Hospital1', user).submit('health', fn, [JSON.stringify(arg)]);
  assert.equal(r.code, 'VALID', `${fn}: ${r.reason ?? ''}`);
  await net.waitForHeight(r.blockNumber);
}

function createArgs(recordId: string): string[] {
  return [JSON.stringify({ recordId, patient: PP, category: 'Observation', parts: [partFor(recordId, 'normal')] })];
}

describe('EH-BFT leader: no double insertion of a health record', () => {
  it('reads the inserted record from a transaction; refuses a second insertion in flight', async () => {
    await submit('initialize', { camsOrg: 'Hospital1' });
    await submit('enrolPatient', { pseudonym: PP });
    await submit('startCare', { doctor: 'Hospital1/doctor1', patient: PP });

    // Two doctors' gateways create the same record at once: both endorse against a state without it.
    const gw = () => net.gateway('Hospital1', 'doctor1', { commitTimeoutMs: 3_000 });
    const [a, b] = await Promise.allSettled([
      gw().submit('health', 'createRecord', createArgs('dup-1')),
      gw().submit('health', 'createRecord', createArgs('dup-1')),
    ]);
    const valid = [a, b].filter((r) => r.status === 'fulfilled' && r.value.code === 'VALID');
    assert.equal(valid.length, 1, `one insertion commits: ${JSON.stringify([a, b].map((r) => (r.status === 'fulfilled' ? r.value.code : String(r.reason))))}`);

    // The chain holds exactly one transaction inserting dup-1: the other never reached a block.
    const height = net.orderer.height;
    const inserts: string[] = [];
    for (let n = 1; n <= height; n++) {
      for (const envelope of net.orderer.getBlock(n).data) {
        const k = insertedRecordKey(envelope);
        if (k !== null) inserts.push(k);
        // Only createRecord inserts: the set-up transactions carry no record key.
        if (parseTx(envelope).proposal.fn !== 'createRecord') assert.equal(k, null);
      }
    }
    assert.deepEqual(inserts, ['health/rec|dup-1']);

    // A later re-insert is refused already at endorsement (the contract sees the record).
    await assert.rejects(gw().submit('health', 'createRecord', createArgs('dup-1')));
    // Garbage is no insertion.
    assert.equal(insertedRecordKey(new Uint8Array([1, 2, 3])), null);
  });
});
