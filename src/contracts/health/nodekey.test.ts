// Node HPKE keys on chain (decision 1150) and idempotent served-read events (decision 1152), at
// the contract: only a node itself writes its key entry; a replayed read event is audited once.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toHex, sha256 } from '../../codec/index.ts';
import { partFor, pseudonymFor, TestChain } from './testkit.ts';

const KEY_A = toHex(sha256('key-a'));
const KEY_B = toHex(sha256('key-b'));
const NODE1 = 'H1/node.H1:peer';
const NODE2 = 'H2/node.H2:peer';

describe('health contract: node keys', () => {
  const c = new TestChain();
  after(() => c.close());

  it('a node publishes its own key; republishing the same key writes nothing; a new key replaces it', () => {
    const first = c.submit<{ changed: boolean }>(NODE1, 'publishNodeKey', { org: 'H1', nodeId: 'node.H1', publicKey: KEY_A });
    assert.equal(first.changed, true);
    const height = c.height;
    const again = c.submit<{ changed: boolean }>(NODE1, 'publishNodeKey', { org: 'H1', nodeId: 'node.H1', publicKey: KEY_A });
    assert.equal(again.changed, false);
    assert.equal(c.evaluate<{ publicKey: string }>(NODE2, 'nodeKey', { org: 'H1', nodeId: 'node.H1' }).publicKey, KEY_A);
    assert.equal(c.height, height + 1);
    assert.equal(c.evaluate(NODE2, 'nodeKey', { org: 'H3', nodeId: 'node.H3' }), null);
  });

  it("another organisation's node, or a user of the same organisation, cannot overwrite it", () => {
    const before = JSON.stringify(c.dump().filter((e) => e.key.startsWith('nk|')));
    const forged = c.try('submit', NODE2, 'publishNodeKey', { org: 'H1', nodeId: 'node.H1', publicKey: KEY_B });
    assert.equal(forged.status, 400);
    assert.match(forged.message, /H2\/node\.H2 may publish only its own node key, not the key of H1\/node\.H1/);
    // Same organisation, other node name: also refused (the entry is keyed by the submitter).
    assert.equal(c.try('submit', 'H1/node.H1b:peer', 'publishNodeKey', { org: 'H1', nodeId: 'node.H1', publicKey: KEY_B }).status, 400);
    // Not a node identity at all: refused by the ACL.
    const admin = c.try('submit', 'H1/admin1:admin', 'publishNodeKey', { org: 'H1', nodeId: 'admin1', publicKey: KEY_B });
    assert.equal(admin.status, 403);
    assert.equal(c.try('submit', NODE1, 'publishNodeKey', { org: 'H1', nodeId: 'node.H1', publicKey: '0'.repeat(64) }).status, 400);
    assert.equal(c.try('submit', NODE1, 'publishNodeKey', { org: 'H1', nodeId: 'node.H1', publicKey: 'AB'.repeat(32) }).status, 400);
    assert.equal(JSON.stringify(c.dump().filter((e) => e.key.startsWith('nk|'))), before, 'no key entry changed');
    assert.equal(c.evaluate<{ publicKey: string }>(NODE2, 'nodeKey', { org: 'H1', nodeId: 'node.H1' }).publicKey, KEY_A);
  });
});

describe('health contract: served-read events are recorded once', () => {
  const c = new TestChain();
  after(() => c.close());
  const pp = pseudonymFor('rr');
  c.submit('H1/admin:admin', 'initialize', { camsOrg: 'H1' });
  c.submit('H1/admin:admin', 'enrolPatient', { pseudonym: pp });
  c.submit('H1/admin:admin', 'startCare', { doctor: 'H1/doc', patient: pp });
  c.submit('H1/doc:doctor', 'createRecord', { recordId: 'r1', patient: pp, category: 'Observation', parts: [partFor('r1', 'normal')] });
  const tickets = [1, 2].map(() => {
    c.submit('H2/doc:doctor', 'access', { recordId: 'r1', action: 'read', purpose: 'BTG', reason: 'unconscious' });
    return c.lastTxId;
  });
  const event = (ticket: string, eventId: string) => ({ ticket, sensitivity: 'normal', servedDecision: 'allow', eventId });
  const readsRecordedBy = (org: string) => c.dump().filter((e) => e.key.startsWith('au|') && e.value.includes(`"recordedBy":{"org":"${org}"`)).length;

  it('a replayed event (in a later batch or twice in one batch) is answered as a duplicate, not audited again', () => {
    const idA = toHex(sha256('a')).slice(0, 32);
    const idB = toHex(sha256('b')).slice(0, 32);
    const first = c.submit<Array<{ duplicate?: boolean; auditId: string }>>(NODE1, 'recordReads', [event(tickets[0]!, idA), event(tickets[0]!, idA)]);
    assert.equal(first[0]!.duplicate, undefined);
    assert.equal(first[1]!.duplicate, true);
    assert.equal(readsRecordedBy('H1'), 1);
    const replay = c.submit<Array<{ duplicate?: boolean; auditId: string | null }>>(NODE1, 'recordReads', [event(tickets[0]!, idA), event(tickets[1]!, idB)]);
    assert.equal(replay[0]!.duplicate, true);
    assert.equal(replay[0]!.auditId, first[0]!.auditId, 'points at the entry that recorded it');
    assert.equal(replay[1]!.duplicate, undefined);
    assert.equal(readsRecordedBy('H1'), 2);
    // The ticket keeps which event recorded each part.
    assert.deepEqual(JSON.parse(c.dump().find((e) => e.key === `tk|${tickets[0]}`)!.value).recorded, { normal: { auditId: first[0]!.auditId, eventId: idA } });
    // Events without an id, or with a malformed one, are refused.
    const { eventId: _dropped, ...noId } = event(tickets[1]!, idB);
    assert.equal(c.try('submit', NODE1, 'recordReads', [noId]).status, 400);
    assert.equal(c.try('submit', NODE1, 'recordReads', [event(tickets[1]!, 'not-hex')]).status, 400);
  });
});

describe('health contract: a served break-the-glass read notifies the patient once', () => {
  const c = new TestChain();
  after(() => c.close());
  const pp = pseudonymFor('btg-once');
  c.submit('H1/admin:admin', 'initialize', { camsOrg: 'H1' });
  c.submit('H1/admin:admin', 'enrolPatient', { pseudonym: pp });
  c.submit('H1/admin:admin', 'startCare', { doctor: 'H1/doc', patient: pp });
  c.submit('H1/doc:doctor', 'createRecord', {
    recordId: 'r1',
    patient: pp,
    category: 'Observation',
    parts: [partFor('r1', 'normal'), partFor('r1', 'sensitive')],
  });

  it("by the requester's access, not again by the custodian's recordReads of each part", () => {
    const access = c.submit<{ allowed: boolean; flags: string[] }>('H2/doc:doctor', 'access', {
      recordId: 'r1',
      action: 'read',
      purpose: 'BTG',
      reason: 'unconscious',
    });
    assert.equal(access.allowed, true);
    const ticket = c.lastTxId;
    const ev = (sensitivity: string, n: number) => ({ ticket, sensitivity, servedDecision: 'allow', eventId: toHex(sha256(`btg-${n}`)).slice(0, 32) });
    const recorded = c.submit<Array<{ outcome: string }>>(NODE1, 'recordReads', [ev('normal', 1), ev('sensitive', 2)]);
    assert.deepEqual(
      recorded.map((r) => r.outcome),
      ['allow', 'allow'],
    );
    const feed = c.evaluate<{ notifications: Array<{ kind: string }> }>(`H1/${pp}:patient`, 'notifications', { patient: pp });
    assert.equal(feed.notifications.filter((n) => n.kind === 'break-the-glass').length, 1);
    // The custodian's entries are still flagged as break-the-glass security alerts.
    const btgEntries = c
      .dump()
      .filter(
        (e) =>
          e.key.startsWith('au|') &&
          e.value.includes('"recordedBy":{"org":"H1"') &&
          e.value.includes('break-the-glass') &&
          e.value.includes('"securityAlert":true'),
      );
    assert.equal(btgEntries.length, 2);
  });
});
