// Served reads bound to access tickets (decision 1153; issue 16 item 3). The outside probe had
// Hospital1's admin record, twice, reads "by" Hospital4/doctor2 — who never acted — which landed
// in the patient's access log and killed that doctor's BMRS session. A served read can now only
// be recorded by the custodian's node, against the ticket of an allowed access transaction, and
// its reader, record and purpose come from that ticket, never from the submitter.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sha256, toHex } from '../../codec/index.ts';
import type { AuditEntry } from './state.ts';
import { DAY_MS, partFor, pseudonymFor, TestChain } from './testkit.ts';

const ADMIN1 = 'Hospital1/admin1:admin';
const NODE1 = 'Hospital1/node.Hospital1:peer';
const PP = pseudonymFor('probe-patient');
// A patient acts under their pseudonym (decision 0906).
const PAT = `Hospital1/${PP}:patient`;
const T0 = Date.UTC(2026, 0, 1);

function eventId(label: string): string {
  return toHex(sha256(label)).slice(0, 32);
}

describe('recordReads: the probe of issue 16 item 3', () => {
  const c = new TestChain(T0);
  after(() => c.close());
  c.submit(ADMIN1, 'initialize', { camsOrg: 'Hospital1' });
  c.submit(ADMIN1, 'enrolPatient', { pseudonym: PP });
  c.submit(ADMIN1, 'startCare', { doctor: 'Hospital1/doctor1', patient: PP });
  c.submit('Hospital1/doctor1:doctor', 'createRecord', {
    recordId: 'h1-p1-visit',
    patient: PP,
    category: 'Bundle',
    parts: [partFor('visit', 'normal'), partFor('visit', 'restricted')],
  });
  c.submit(PAT, 'grantConsent', {
    patient: PP,
    grantee: { kind: 'user', user: 'Hospital2/doctor1' },
    actions: ['read'],
    purposes: ['TREAT'],
    period: { startMs: T0, endMs: T0 + 30 * DAY_MS },
    scope: { maxSensitivity: 'sensitive' },
  });

  const accessLog = () => c.evaluate<{ entries: AuditEntry[] }>(PAT, 'auditTrail', { kind: 'patient', patient: PP, pageSize: 200 }).entries;
  const sessionOf = (provider: string) => c.evaluate<{ state: number; updatedAtMs: number }>(PAT, 'bmrsSession', { provider, patient: PP });
  /** The probe's event: a read "by" Hospital4/doctor2, asserted by the submitter. */
  const probeEvent = {
    requester: { org: 'Hospital4', id: 'doctor2', role: 'doctor' },
    recordId: 'h1-p1-visit',
    action: 'read',
    purpose: 'TREAT',
    servedDecision: 'allow',
    eventId: eventId('probe'),
  };

  it("an admin's or a node's claim of a read by a doctor who never acted is refused; the access log and the doctor's session are unchanged", () => {
    const before = JSON.stringify(c.dump());
    const logBefore = accessLog();
    // The probe, as it was run (twice), by Hospital1/admin1: refused by the function's ACL.
    for (let i = 0; i < 2; i++) assert.equal(c.try('submit', ADMIN1, 'recordReads', [probeEvent]).status, 403);
    // By the custodian's own node: the event format has no requester to assert …
    assert.match(c.try('submit', NODE1, 'recordReads', [probeEvent]).message, /invalid argument/);
    // … and a ticket it makes up does not exist on chain.
    const madeUp = { ticket: toHex(sha256('no such access')), sensitivity: 'normal', servedDecision: 'allow', eventId: eventId('made-up') };
    assert.match(c.try('submit', NODE1, 'recordReads', [madeUp]).message, /left no access ticket/);
    // Nor can an admin name a real ticket.
    c.submit('Hospital2/doctor1:doctor', 'access', { recordId: 'h1-p1-visit', action: 'read', purpose: 'TREAT' });
    const ticket = c.lastTxId;
    const afterAccess = JSON.stringify(c.dump());
    assert.equal(c.try('submit', ADMIN1, 'recordReads', [{ ticket, sensitivity: 'normal', servedDecision: 'allow', eventId: eventId('admin') }]).status, 403);
    assert.equal(JSON.stringify(c.dump()), afterAccess, 'the refusals wrote nothing');
    assert.notEqual(before, afterAccess);

    const log = accessLog();
    assert.equal(log.filter((e) => e.actor.org === 'Hospital4').length, 0, 'no entry names Hospital4/doctor2');
    assert.equal(log.length, logBefore.length + 1, "only Hospital2/doctor1's own access was added");
    assert.deepEqual(sessionOf('Hospital4/doctor2'), {
      provider: 'Hospital4/doctor2',
      patient: PP,
      state: 0,
      violations: 0,
      updatedAtMs: 0,
      stateName: 'user',
      reauthorizeBy: 'Hospital1',
    });
    assert.equal(
      c.dump().some((kv) => kv.key.startsWith('bmrs|Hospital4/doctor2|')),
      false,
    );
    // The doctor was never touched: their emergency read is not refused.
    assert.equal(
      c.submit<{ allowed: boolean }>('Hospital4/doctor2:doctor', 'access', {
        recordId: 'h1-p1-visit',
        action: 'read',
        purpose: 'BTG',
        reason: 'unconscious-no-proxy',
      }).allowed,
      true,
    );
  });

  it("the custodian node records a part its ticket released, as the read of the ticket's own requester, exactly once", () => {
    c.submit('Hospital2/doctor1:doctor', 'access', { recordId: 'h1-p1-visit', action: 'read', purpose: 'TREAT' });
    const ticket = c.lastTxId;
    const sessionBefore = sessionOf('Hospital2/doctor1');
    const served = { ticket, sensitivity: 'normal', servedDecision: 'allow', eventId: eventId('served') };
    const out = c.submit<Array<{ requester: string; recordId: string; auditId: string; duplicate?: boolean }>>(NODE1, 'recordReads', [served]);
    assert.deepEqual(
      out.map((o) => [o.requester, o.recordId, o.duplicate]),
      [['Hospital2/doctor1', 'h1-p1-visit', undefined]],
    );
    // A replay after a crash, or the same part served again under the same ticket: not audited again.
    const replay = c.submit<Array<{ duplicate?: boolean; auditId: string }>>(NODE1, 'recordReads', [served, { ...served, eventId: eventId('served-again') }]);
    assert.deepEqual(
      replay.map((o) => [o.duplicate, o.auditId]),
      [
        [true, out[0]!.auditId],
        [true, out[0]!.auditId],
      ],
    );
    const entries = accessLog().filter((e) => e.ticket === ticket);
    assert.equal(entries.length, 1);
    assert.deepEqual(
      { actor: entries[0]!.actor, by: entries[0]!.recordedBy, part: entries[0]!.part },
      { actor: { org: 'Hospital2', id: 'doctor1', role: 'doctor' }, by: { org: 'Hospital1', id: 'node.Hospital1', role: 'peer' }, part: 'normal' },
    );
    // The restricted part was withheld by the access: the custodian cannot record it as served.
    assert.match(
      c.try('submit', NODE1, 'recordReads', [{ ...served, sensitivity: 'restricted', eventId: eventId('restricted') }]).message,
      /released no restricted part/,
    );
    assert.deepEqual(sessionOf('Hospital2/doctor1'), sessionBefore, 'recording never drives BMRS: the access did');
  });
});
