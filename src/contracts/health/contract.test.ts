import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateFhir } from '../../fhir/validate.ts';
import type { AuditEntry } from './state.ts';
import { sha256, toHex } from '../../codec/index.ts';
import { DAY_MS, partFor, pseudonymFor, TestChain } from './testkit.ts';

type Withheld = Array<{ sensitivity: string; reasons: string[] }>;
type SessionNotice = { provider: string; state: number; stateName: string; dead: boolean; reauthorizeBy: string | null; notice: string | null };
type Verdict = {
  allowed: boolean;
  reasons: string[];
  flags: string[];
  basis: { rule: string } | null;
  auditId: string;
  record?: { parts: Array<{ sensitivity: string; cid: string }> };
  withheld?: Withheld;
  session: SessionNotice | null;
};

const H1_ADMIN = 'H1/admin1:admin';
const H2_ADMIN = 'H2/admin2:admin';
const DOC1 = 'H1/doc1:doctor';
const DOC2 = 'H2/doc2:doctor';
const DOC3 = 'H3/doc3:doctor';
const SUP1 = 'H1/sup1:supervisor';
const PP = pseudonymFor('pat1');
// A patient's certificate is issued to their pseudonym (decision 0906): they act as "H1/<pseudonym>".
const PAT = `H1/${PP}:patient`;
const T0 = Date.UTC(2026, 0, 1);

function setup(): TestChain {
  const c = new TestChain(T0);
  c.submit(H1_ADMIN, 'initialize', { camsOrg: 'H1' });
  c.submit(H1_ADMIN, 'enrolPatient', { pseudonym: PP });
  c.submit(H1_ADMIN, 'startCare', { doctor: 'H1/doc1', patient: PP });
  return c;
}

function createRecord(
  c: TestChain,
  recordId: string,
  sensitivities: Array<'normal' | 'sensitive' | 'restricted'> = ['normal', 'restricted'],
  who = DOC1,
): Verdict {
  return c.submit<Verdict>(who, 'createRecord', { recordId, patient: PP, category: 'Observation', parts: sensitivities.map((s) => partFor(recordId, s)) });
}

/** A small dataset listing (one column, five rows) for the tests that need many of them. */
function cohort(datasetId: string) {
  return { datasetId, name: `Cohort ${datasetId}`, columns: ['age'], cid: partFor(datasetId, 'normal').cid, sizeBytes: 10, recordCount: 5 };
}

function session(c: TestChain, provider: string): number {
  return c.evaluate<{ state: number }>(PAT, 'bmrsSession', { provider, patient: PP }).state;
}

describe('health contract: records', () => {
  let c: TestChain;
  before(() => {
    c = setup();
  });
  after(() => c.close());

  it('creates a record with custodian, version, author and tx timestamps', () => {
    const at = c.nowMs;
    const v = createRecord(c, 'r1');
    assert.equal(v.allowed, true, v.reasons.join('; '));
    const meta = c.evaluate<Record<string, unknown>>(DOC1, 'getRecord', { recordId: 'r1' });
    assert.equal(meta['custodian'], 'H1');
    assert.equal(meta['version'], 1);
    assert.equal(meta['author'], 'H1/doc1');
    assert.equal(meta['sensitivity'], 'restricted');
    assert.equal(meta['createdAtMs'], at);
    assert.equal(meta['patient'], PP);
  });

  it('refuses malformed arguments with a clear error and no endorsement (status 400)', () => {
    const base = { recordId: 'r-bad', patient: PP, category: 'Observation', parts: [partFor('x', 'normal')] };
    const cases: Array<[unknown, RegExp]> = [
      [{ ...base, patient: 'John Smith' }, /patient: must be a pseudonym/],
      [{ ...base, note: 'patient has diabetes' }, /note|Unrecognized key/],
      [{ ...base, parts: [{ ...partFor('x', 'normal'), comment: 'free text' }] }, /parts\.0/],
      [{ ...base, parts: [{ ...partFor('x', 'normal'), cid: 'not-a-cid' }] }, /parts\.0\.cid: must be a CIDv1/],
      [{ ...base, parts: [{ ...partFor('x', 'normal'), commitment: 'abc' }] }, /commitment/],
      [{ ...base, category: 'free text category' }, /category/],
      [{ ...base, parts: [partFor('x', 'normal'), partFor('y', 'normal')] }, /one part per sensitivity/],
      ['{not json', /not valid JSON/],
    ];
    for (const [arg, re] of cases) {
      const r = c.try('submit', DOC1, 'createRecord', arg);
      assert.equal(r.status, 400, JSON.stringify(arg));
      assert.match(r.message, re);
    }
    assert.equal(c.try('submit', DOC1, 'createRecord', { ...base, patient: pseudonymFor('nobody') }).status, 400);
  });

  it('updates to a new version and keeps the old one queryable', () => {
    c.nowMs += 1000;
    const at = c.nowMs;
    const v = c.submit<Verdict>(DOC1, 'updateRecord', { recordId: 'r1', parts: [partFor('r1v2', 'normal'), partFor('r1v2', 'sensitive')] });
    assert.equal(v.allowed, true);
    const versions = c.evaluate<Array<{ version: number; updatedAtMs: number; parts: Array<{ cid?: string; sensitivity: string }> }>>(PAT, 'recordVersions', {
      recordId: 'r1',
    });
    assert.deepEqual(
      versions.map((x) => x.version),
      [1, 2],
    );
    assert.deepEqual(
      versions[0]!.parts.map((p) => p.sensitivity),
      ['normal', 'restricted'],
    );
    assert.equal(versions[0]!.parts[0]!.cid, undefined, 'addresses only through the audited access');
    assert.equal(versions[1]!.updatedAtMs, at);
    const old = c.submit<Verdict & { record: { version: number } }>(PAT, 'access', { recordId: 'r1', action: 'read', purpose: 'PATRQT', version: 1 });
    assert.equal(old.record.version, 1);
    assert.deepEqual(
      old.record.parts.map((p) => p.cid),
      [partFor('r1', 'normal').cid, partFor('r1', 'restricted').cid],
    );
    assert.equal(c.try('submit', PAT, 'access', { recordId: 'r1', action: 'read', purpose: 'PATRQT', version: 9 }).status, 400);
  });

  it("a doctor outside the patient's care cannot create or update; the attempt is audited", () => {
    const v = createRecord(c, 'r-intruder', ['normal'], DOC2);
    assert.equal(v.allowed, false);
    assert.match(v.reasons.join(' '), /not in this doctor's care/);
    assert.equal(c.evaluate(DOC1, 'getRecord', { recordId: 'r1' }) !== undefined, true);
    assert.equal(c.try('evaluate', DOC1, 'getRecord', { recordId: 'r-intruder' }).status, 400);
    const trail = c.evaluate<{ entries: AuditEntry[] }>('H2/admin2:admin', 'auditTrail', { kind: 'org', org: 'H2' });
    assert.ok(trail.entries.some((e) => e.op === 'access.write' && e.outcome === 'deny' && e.actor.id === 'doc2'));
  });

  it("lists a patient's records for those with a basis to read them", () => {
    assert.deepEqual(
      c.evaluate<{ records: Array<{ recordId: string }> }>(DOC1, 'listPatientRecords', { patient: PP }).records.map((r) => r.recordId),
      ['r1'],
    );
    assert.deepEqual(
      c.evaluate<{ records: Array<{ recordId: string }> }>(PAT, 'listPatientRecords', { patient: PP, purpose: 'PATRQT' }).records.map((r) => r.recordId),
      ['r1'],
    );
    assert.deepEqual(c.evaluate<{ records: unknown[] }>('H2/nurse1:nurse', 'listPatientRecords', { patient: PP }).records, []);
  });
});

describe('health contract: access, BMRS sessions and break-the-glass', () => {
  let c: TestChain;
  before(() => {
    c = setup();
    createRecord(c, 'r1');
  });
  after(() => c.close());

  it('the doctor in care reads what the care relation covers; the restricted part is withheld, not a Violation; claiming an emergency to share is, and kills the session', () => {
    const ok = c.submit<Verdict>(DOC1, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT', sensitivity: 'normal' });
    assert.equal(ok.allowed, true);
    assert.deepEqual(
      ok.record!.parts.map((p) => p.sensitivity),
      ['normal'],
    );
    assert.equal(session(c, 'H1/doc1'), 2);
    // No level asked: everything the rules allow is released, the rest withheld with the reason.
    const all = c.submit<Verdict>(DOC1, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' });
    assert.equal(all.allowed, true);
    assert.deepEqual(
      all.record!.parts.map((p) => p.sensitivity),
      ['normal'],
    );
    assert.deepEqual(
      all.withheld!.map((w) => w.sensitivity),
      ['restricted'],
    );
    assert.match(all.withheld![0]!.reasons.join(' '), /restricted data needs explicit consent or break-the-glass/);
    assert.equal(session(c, 'H1/doc1'), 2);
    // Explicitly asking for the restricted level: denied and audited, an honest request — the session stays.
    const asked = c.submit<Verdict>(DOC1, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT', sensitivity: 'restricted' });
    assert.equal(asked.allowed, false);
    assert.equal(asked.record, undefined);
    assert.deepEqual(asked.flags, []);
    assert.equal(asked.session?.notice, null);
    assert.equal(session(c, 'H1/doc1'), 2);
    const log = c.evaluate<{ entries: AuditEntry[] }>(PAT, 'auditTrail', { kind: 'patient', patient: PP, pageSize: 200 });
    assert.match(
      log.entries.find((e) => e.auditId === all.auditId)!.reasons.join(' '),
      /withheld the restricted part: care relation: restricted data needs explicit consent/,
    );
    assert.equal(log.entries.find((e) => e.auditId === asked.auditId)?.outcome, 'deny');
    // A request the doctor cannot honestly make: an emergency claimed to share. A Violation, and
    // the session held permission, so it dies (Algorithm 1: 2 --Violation--> 3).
    const misuse = c.submit<Verdict>(DOC1, 'access', { recordId: 'r1', action: 'share', purpose: 'BTG', reason: 'unconscious-no-proxy' });
    assert.equal(misuse.allowed, false);
    assert.match(misuse.reasons[0]!, /break-the-glass misuse: an emergency opens reading, not share/);
    assert.deepEqual(misuse.flags, ['bmrs-violation', 'security-alert']);
    assert.equal(misuse.session?.dead, true);
    assert.match(
      misuse.session?.notice ?? '',
      /this violation ended your BMRS session .* an admin of H1 submits bmrsReauthorize\(\{"provider": "H1\/doc1", "recordId": "r1"\}\)/,
    );
    assert.equal(session(c, 'H1/doc1'), 3);
    const refused = c.submit<Verdict>(DOC1, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT', sensitivity: 'normal' });
    assert.equal(refused.allowed, false);
    assert.match(refused.reasons[0]!, /BMRS session is dead/);
    assert.ok(refused.flags.includes('bmrs-dead'));
    assert.match(refused.session?.notice ?? '', /your BMRS session with this patient is dead .* until CAMS re-authorizes it/);
    const feed = c.evaluate<{ notifications: Array<{ kind: string; auditId: string }> }>(PAT, 'notifications', { patient: PP });
    assert.ok(
      feed.notifications.some((n) => n.kind === 'security-alert' && n.auditId === misuse.auditId),
      'the patient is told of the violation',
    );
  });

  it('only CAMS re-authorizes a dead session; then access works again', () => {
    assert.equal(c.try('submit', H2_ADMIN, 'bmrsReauthorize', { provider: 'H1/doc1', patient: PP }).status, 400);
    assert.equal(c.try('submit', DOC2, 'bmrsReauthorize', { provider: 'H1/doc1', patient: PP }).status, 403);
    assert.equal(c.try('submit', H1_ADMIN, 'bmrsReauthorize', { provider: 'H1/doc1', recordId: 'no-such-record' }).status, 400);
    const revived = c.submit<{ state: number; patient: string }>(H1_ADMIN, 'bmrsReauthorize', { provider: 'H1/doc1', recordId: 'r1' });
    assert.deepEqual([revived.state, revived.patient], [1, PP]);
    assert.equal(session(c, 'H1/doc1'), 1);
    assert.match(c.try('submit', H1_ADMIN, 'bmrsReauthorize', { provider: 'H1/doc1', patient: PP }).message, /not dead/);
    assert.equal(c.submit<Verdict>(DOC1, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT', sensitivity: 'normal' }).allowed, true);
    assert.equal(session(c, 'H1/doc1'), 2);
  });

  it('a write claimed as an emergency by a nurse is a Violation; the dead session names the patient for CAMS (the record does not exist)', () => {
    const create = () =>
      c.submit<Verdict & { session: SessionNotice & { reauthorizeArgs: Record<string, string> } }>('H2/nurse7:nurse', 'createRecord', {
        recordId: 'r-emergency',
        patient: PP,
        category: 'Observation',
        parts: [partFor('r-emergency', 'normal')],
        purpose: 'ETREAT',
      });
    const first = create();
    assert.deepEqual([first.allowed, first.flags, first.session.state], [false, ['bmrs-violation', 'security-alert'], 2]);
    const second = create();
    assert.equal(second.session.dead, true);
    assert.deepEqual(second.session.reauthorizeArgs, { provider: 'H2/nurse7', patient: PP });
    assert.match(second.session.notice ?? '', /bmrsReauthorize\(\{"provider": "H2\/nurse7", "patient": "[0-9a-f]{64}"\}\)/);
    c.submit(H1_ADMIN, 'bmrsReauthorize', second.session.reauthorizeArgs);
    assert.equal(session(c, 'H2/nurse7'), 1);
  });

  it('break-the-glass: allowed with a reason, flagged, audited as a security alert, patient notified', () => {
    const noReason = c.submit<Verdict>(DOC3, 'access', { recordId: 'r1', action: 'read', purpose: 'BTG' });
    assert.equal(noReason.allowed, false);
    assert.match(noReason.reasons.join(' '), /a reason is required/);
    const btg = c.submit<Verdict>('H3/doc4:doctor', 'access', { recordId: 'r1', action: 'read', purpose: 'ETREAT', reason: 'unconscious-no-proxy' });
    assert.equal(btg.allowed, true);
    assert.deepEqual(btg.flags, ['break-the-glass', 'security-alert', 'notify-patient']);
    assert.deepEqual(
      btg.record!.parts.map((p) => p.sensitivity),
      ['normal', 'restricted'],
    );
    const feed = c.evaluate<{ notifications: Array<{ kind: string; actor: string; auditId: string }> }>(PAT, 'notifications', { patient: PP });
    const note = feed.notifications.find((n) => n.kind === 'break-the-glass');
    assert.equal(note?.actor, 'H3/doc4');
    assert.equal(note?.auditId, btg.auditId);
    const log = c.evaluate<{ entries: AuditEntry[] }>(PAT, 'auditTrail', { kind: 'patient', patient: PP });
    const entry = log.entries.find((e) => e.auditId === btg.auditId);
    assert.equal(entry?.securityAlert, true);
    assert.equal(entry?.basis, 'break-the-glass');
    // Nurses cannot break the glass; free-text reasons are refused by the schema.
    assert.equal(c.submit<Verdict>('H3/nurse3:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'BTG', reason: 'emergency' }).allowed, false);
    assert.equal(
      c.try('submit', 'H3/doc5:doctor', 'access', { recordId: 'r1', action: 'read', purpose: 'BTG', reason: 'Patient has HIV and overdosed' }).status,
      400,
    );
  });

  it("the patient's access log shows who saw the data; others cannot read it", () => {
    const log = c.evaluate<{ entries: AuditEntry[] }>(PAT, 'auditTrail', { kind: 'patient', patient: PP, pageSize: 200 });
    const readers = new Set(log.entries.filter((e) => e.op === 'access.read' && e.outcome === 'allow').map((e) => `${e.actor.org}/${e.actor.id}`));
    assert.deepEqual([...readers].sort(), ['H1/doc1', 'H3/doc4']);
    assert.equal(c.try('evaluate', DOC1, 'auditTrail', { kind: 'patient', patient: PP }).status, 400);
    // Pagination walks the whole log.
    let bookmark = '';
    const seen: string[] = [];
    do {
      const page = c.evaluate<{ entries: AuditEntry[]; bookmark: string }>(PAT, 'auditTrail', { kind: 'patient', patient: PP, pageSize: 2, bookmark });
      seen.push(...page.entries.map((e) => e.auditId));
      bookmark = page.bookmark;
    } while (bookmark !== '');
    assert.deepEqual(
      seen,
      log.entries.map((e) => e.auditId),
    );
  });

  it("reads a trail newest first page by page; a hospital's staff read what its trail holds about a patient (decision 0907)", () => {
    type Page = { entries: AuditEntry[]; bookmark: string };
    const walk = (who: string, query: Record<string, unknown>): string[] => {
      const seen: string[] = [];
      let bookmark = '';
      for (let i = 0; i < 200; i++) {
        const page = c.evaluate<Page>(who, 'auditTrail', { ...query, pageSize: 2, bookmark });
        assert.ok(page.entries.length <= 2);
        seen.push(...page.entries.map((e) => e.auditId));
        bookmark = page.bookmark;
        if (bookmark === '') return seen;
      }
      throw new Error('the pages did not end');
    };
    const oldest = c.evaluate<Page>(PAT, 'auditTrail', { kind: 'patient', patient: PP, pageSize: 200 }).entries;
    assert.ok(oldest.length >= 4);
    assert.deepEqual(walk(PAT, { kind: 'patient', patient: PP, order: 'newest' }), oldest.map((e) => e.auditId).reverse());
    const newestOrg = c.evaluate<Page>(H1_ADMIN, 'auditTrail', { kind: 'org', org: 'H1', order: 'newest', pageSize: 3 }).entries;
    const allOrg = c.evaluate<Page>(H1_ADMIN, 'auditTrail', { kind: 'org', org: 'H1', pageSize: 200 }).entries;
    assert.deepEqual(
      newestOrg.map((e) => e.auditId),
      allOrg
        .slice(-3)
        .map((e) => e.auditId)
        .reverse(),
    );
    // Hospital3's supervisor: the events about the patient in H3's trail (its doctors' break the
    // glass and refused reads), not Hospital1's own; in either order, page by page.
    const inH3 = oldest.filter((e) => e.actor.org === 'H3' || e.custodian === 'H3' || e.recordedBy?.org === 'H3').map((e) => e.auditId);
    assert.ok(inH3.length >= 2 && inH3.length < oldest.length, `${inH3.length} of ${oldest.length}`);
    assert.deepEqual(walk('H3/sup3:supervisor', { kind: 'patient', patient: PP, org: 'H3' }), inH3);
    assert.deepEqual(walk('H3/sup3:supervisor', { kind: 'patient', patient: PP, org: 'H3', order: 'newest' }), [...inH3].reverse());
    // The patient's notifications too: the latest first, a page at a time.
    type Feed = { notifications: Array<{ auditId: string }>; bookmark: string };
    const feed = c.evaluate<Feed>(PAT, 'notifications', { patient: PP, pageSize: 200 }).notifications.map((n) => n.auditId);
    assert.ok(feed.length >= 2);
    const latest = c.evaluate<Feed>(PAT, 'notifications', { patient: PP, order: 'newest', pageSize: 1 });
    assert.deepEqual(
      latest.notifications.map((n) => n.auditId),
      feed.slice(-1),
    );
    const next = c.evaluate<Feed>(PAT, 'notifications', { patient: PP, order: 'newest', pageSize: 1, bookmark: latest.bookmark });
    assert.deepEqual(
      next.notifications.map((n) => n.auditId),
      feed.slice(-2, -1),
    );
    // Only that hospital's admins and supervisors; a direction of no name is refused.
    for (const [who, org] of [
      [DOC3, 'H3'],
      [SUP1, 'H3'],
    ] as const)
      assert.equal(c.try('evaluate', who, 'auditTrail', { kind: 'patient', patient: PP, org }).status, 400);
    assert.equal(c.try('evaluate', PAT, 'auditTrail', { kind: 'patient', patient: PP, order: 'latest' }).status, 400);
  });

  it('custodian batches: only the custodian node records parts its tickets released, each once; requester and purpose come from the ticket', () => {
    const g = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', {
      patient: PP,
      grantee: { kind: 'user', user: 'H2/nurse9' },
      actions: ['read'],
      purposes: ['TREAT'],
      period: { startMs: T0, endMs: T0 + DAY_MS },
      scope: { maxSensitivity: 'sensitive' },
    });
    assert.match(g.consent.consentId, /^c/);
    const read = c.try('submit', 'H2/nurse9:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' });
    const ticket = c.lastTxId;
    assert.equal((read.body as Verdict).allowed, true);
    assert.deepEqual(JSON.parse(c.dump().find((kv) => kv.key === `tk|${ticket}`)!.value), {
      auditId: `${ticket}-0`,
      custodian: 'H1',
      released: ['normal'],
      recorded: {},
    });
    const ev = (sensitivity: string, n: number, servedDecision = 'allow') => ({
      ticket,
      sensitivity,
      servedDecision,
      eventId: toHex(sha256(`ev-${n}`)).slice(0, 32),
    });
    const out = c.submit<Array<{ outcome: string; requester: string; auditId: string; duplicate?: boolean }>>('H1/peer0:peer', 'recordReads', [
      ev('normal', 1),
    ]);
    assert.deepEqual(
      out.map((o) => [o.outcome, o.requester, o.duplicate]),
      [['allow', 'H2/nurse9', undefined]],
    );
    const trail = c.evaluate<{ entries: AuditEntry[] }>(SUP1, 'auditTrail', { kind: 'record', recordId: 'r1', pageSize: 200 });
    const served = trail.entries.find((e) => e.auditId === out[0]!.auditId)!;
    assert.deepEqual(
      {
        actor: served.actor,
        by: served.recordedBy,
        purpose: served.purpose,
        basis: served.basis,
        ticket: served.ticket,
        part: served.part,
        patient: served.patient,
      },
      {
        actor: { org: 'H2', id: 'nurse9', role: 'nurse' },
        by: { org: 'H1', id: 'peer0', role: 'peer' },
        purpose: 'TREAT',
        basis: `consent:${g.consent.consentId}`,
        ticket,
        part: 'normal',
        patient: PP,
      },
    );
    assert.equal(served.bmrs, null, 'the access already drove the session');
    // The same part again (another event id, or a replay): answered as a duplicate, not audited again.
    const again = c.submit<Array<{ duplicate?: boolean; auditId: string }>>('H1/peer0:peer', 'recordReads', [ev('normal', 2)]);
    assert.deepEqual(
      again.map((o) => [o.duplicate, o.auditId]),
      [[true, out[0]!.auditId]],
    );
    const before = JSON.stringify(c.dump());
    // Refused outright (not endorsed): a part the ticket did not release, an unknown ticket, a
    // node of another organisation, a user or an admin, an over-long batch, an old-format event.
    assert.match(c.try('submit', 'H1/peer0:peer', 'recordReads', [ev('restricted', 3)]).message, /released no restricted part/);
    assert.match(c.try('submit', 'H1/peer0:peer', 'recordReads', [{ ...ev('normal', 4), ticket: 'f'.repeat(64) }]).message, /left no access ticket/);
    assert.match(c.try('submit', 'H2/peer0:peer', 'recordReads', [ev('normal', 5)]).message, /held by H1; only its custodian's node records its reads/);
    assert.equal(c.try('submit', DOC1, 'recordReads', [ev('normal', 6)]).status, 403);
    assert.equal(c.try('submit', H1_ADMIN, 'recordReads', [ev('normal', 7)]).status, 403);
    assert.equal(
      c.try(
        'submit',
        'H1/peer0:peer',
        'recordReads',
        Array.from({ length: 41 }, (_, i) => ev('normal', 100 + i)),
      ).status,
      400,
    );
    assert.equal(
      c.try('submit', 'H1/peer0:peer', 'recordReads', [
        { requester: { org: 'H2', id: 'nurse9', role: 'nurse' }, recordId: 'r1', action: 'read', purpose: 'TREAT', servedDecision: 'allow' },
      ]).status,
      400,
    );
    assert.equal(JSON.stringify(c.dump()), before, 'nothing written by the refusals');
    // A read inside the custodian's own organisation is served by its own node: no ticket.
    c.submit(SUP1, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' });
    assert.equal(
      c.dump().some((kv) => kv.key === `tk|${c.lastTxId}`),
      false,
    );
  });

  it("ending the care relation ends the doctor's access", () => {
    c.submit('H1/doc1:doctor', 'endCare', { doctor: 'H1/doc1', patient: PP });
    const v = c.submit<Verdict>(DOC1, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT', sensitivity: 'normal' });
    assert.equal(v.allowed, false);
    assert.equal(c.try('submit', DOC2, 'startCare', { doctor: 'H2/doc2', patient: PP }).status, 400);
    c.submit(PAT, 'startCare', { doctor: 'H2/doc2', patient: PP });
    assert.equal(c.submit<Verdict>(DOC2, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT', sensitivity: 'normal' }).allowed, true);
  });

  it('exports the audit trail and provenance as FHIR resources that validate', () => {
    const events = c.evaluate<{ bundle: { entry: Array<{ resource: { resourceType: string; type: { code: string } } }> } }>(PAT, 'exportAuditEvents', {
      kind: 'patient',
      patient: PP,
      pageSize: 200,
    });
    assert.ok(events.bundle.entry.length > 5);
    validateFhir(events.bundle);
    for (const e of events.bundle.entry) validateFhir(e.resource);
    assert.ok(
      events.bundle.entry.some((e) => e.resource.type.code === '110113'),
      'a security alert is exported',
    );
    c.nowMs += 5000;
    c.submit(DOC2, 'updateRecord', { recordId: 'r1', parts: [partFor('r1b', 'normal')] });
    const prov = c.evaluate<{ bundle: { entry: Array<{ resource: { resourceType: string; activity: { coding: Array<{ code: string }> } } }> } }>(
      PAT,
      'exportProvenance',
      { recordId: 'r1' },
    );
    assert.deepEqual(
      prov.bundle.entry.map((e) => e.resource.activity.coding[0]!.code),
      ['CREATE', 'UPDATE'],
    );
    validateFhir(prov.bundle);
  });
});

describe('health contract: consents', () => {
  let c: TestChain;
  before(() => {
    c = setup();
    createRecord(c, 'r1', ['normal', 'sensitive']);
    createRecord(c, 'r2', ['normal', 'restricted']);
  });
  after(() => c.close());

  const consent = (grantee: string, extra: Record<string, unknown> = {}) => ({
    patient: PP,
    grantee: { kind: 'user', user: grantee },
    actions: ['read'],
    purposes: ['TREAT'],
    period: { startMs: T0, endMs: T0 + DAY_MS },
    scope: { maxSensitivity: 'sensitive' },
    ...extra,
  });

  it('only the patient grants; a consent opens reads within its scope and sensitivity', () => {
    assert.equal(c.try('submit', DOC1, 'grantConsent', consent('H2/nurse1')).status, 403);
    assert.equal(c.try('submit', `H1/${pseudonymFor('pat2')}:patient`, 'grantConsent', consent('H2/nurse1')).status, 400);
    const g = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent('H2/nurse1'));
    assert.match(g.consent.consentId, /^c[0-9a-f]{32}$/);
    assert.equal(c.submit<Verdict>('H2/nurse1:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' }).allowed, true);
    // Asking "up to restricted" of a record that holds nothing above sensitive is decided as sensitive.
    assert.equal(c.submit<Verdict>('H2/nurse1:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT', sensitivity: 'restricted' }).allowed, true);
    // A record with a restricted part: without a level, the consented parts are released and the
    // restricted one withheld with the reason; asking for restricted explicitly is a denial.
    const r2 = c.submit<Verdict>('H2/nurse1:nurse', 'access', { recordId: 'r2', action: 'read', purpose: 'TREAT' });
    assert.equal(r2.allowed, true);
    assert.deepEqual(
      r2.record!.parts.map((p) => p.sensitivity),
      ['normal'],
    );
    assert.deepEqual(
      r2.withheld!.map((w) => w.sensitivity),
      ['restricted'],
    );
    assert.match(r2.withheld![0]!.reasons.join(' '), /covers sensitivity up to sensitive, not restricted/);
    const explicit = c.submit<Verdict>('H2/nurse1:nurse', 'access', { recordId: 'r2', action: 'read', purpose: 'TREAT', sensitivity: 'restricted' });
    assert.equal(explicit.allowed, false);
    assert.match(explicit.reasons.join(' '), /covers sensitivity up to sensitive, not restricted/);
    // ... and the reader keeps reading: honest requests outside the consent never kill the session.
    for (let i = 0; i < 3; i++)
      assert.equal(
        c.submit<Verdict>('H2/nurse1:nurse', 'access', { recordId: 'r2', action: 'read', purpose: 'TREAT', sensitivity: 'restricted' }).allowed,
        false,
      );
    assert.equal(c.submit<Verdict>('H2/nurse1:nurse', 'access', { recordId: 'r2', action: 'read', purpose: 'TREAT' }).allowed, true);
    assert.equal(session(c, 'H2/nurse1'), 2);
  });

  it('expiry is decided by the transaction timestamp', () => {
    c.submit(PAT, 'grantConsent', consent('H2/nurse2'));
    assert.equal(c.submit<Verdict>('H2/nurse2:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' }, T0 + DAY_MS - 1).allowed, true);
    const late = c.submit<Verdict>('H2/nurse2:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' }, T0 + DAY_MS);
    assert.equal(late.allowed, false);
    assert.match(late.reasons.join(' '), /expired/);
    assert.match(c.try('submit', PAT, 'grantConsent', consent('H2/nurse3'), T0 + 2 * DAY_MS).message, /already ended/);
  });

  it('revocation takes effect at once', () => {
    const g = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent('H2/nurse4', { grantee: { kind: 'role', role: 'nurse', org: 'H2' } }));
    assert.equal(c.submit<Verdict>('H2/nurse4:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' }).allowed, true);
    assert.equal(c.try('submit', 'H2/nurse4:patient', 'revokeConsent', { consentId: g.consent.consentId }).status, 400);
    c.submit(PAT, 'revokeConsent', { consentId: g.consent.consentId });
    const v = c.submit<Verdict>('H2/nurse5:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' });
    assert.equal(v.allowed, false);
    assert.match(c.try('submit', PAT, 'revokeConsent', { consentId: g.consent.consentId }).message, /already revoked/);
  });

  it('revoking the consent naming a user takes their permission back; acting afterwards is a Violation, the second kills; CAMS revives; a new consent clears it', () => {
    const nurse = 'H2/nurse8:nurse';
    const read = () => c.submit<Verdict>(nurse, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' });
    const g = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent('H2/nurse8'));
    assert.equal(read().allowed, true);
    assert.equal(session(c, 'H2/nurse8'), 2);
    // Revoking one of two consents naming the nurse: she still holds one, nothing is taken.
    const second = c.submit<{ consent: { consentId: string } }>(
      PAT,
      'grantConsent',
      consent('H2/nurse8', { scope: { recordIds: ['r1'], maxSensitivity: 'normal' } }),
    );
    c.submit(PAT, 'revokeConsent', { consentId: second.consent.consentId });
    assert.equal(session(c, 'H2/nurse8'), 2);
    assert.equal(
      c.dump().some((kv) => kv.key === `rv|${PP}|H2/nurse8`),
      false,
    );
    // Revoking the last one: "take permission" (2 → 1), audited with the step.
    const revoked = c.submit<{ auditId: string }>(PAT, 'revokeConsent', { consentId: g.consent.consentId });
    assert.equal(session(c, 'H2/nurse8'), 1);
    const entry = c
      .evaluate<{ entries: AuditEntry[] }>(PAT, 'auditTrail', { kind: 'patient', patient: PP, pageSize: 200 })
      .entries.find((e) => e.auditId === revoked.auditId);
    assert.deepEqual(entry?.bmrs, { from: 2, to: 1, actions: ['Permission'] });
    // Acting on the data after the revocation: a Violation (a warning), then death.
    const after = read();
    assert.equal(after.allowed, false);
    assert.match(after.reasons[0]!, new RegExp(`acting after revocation: the patient revoked consent ${g.consent.consentId}`));
    assert.deepEqual([after.flags, after.session?.state], [['bmrs-violation', 'security-alert'], 2]);
    assert.match(after.session?.notice ?? '', /one more ends your session/);
    assert.equal(read().session?.dead, true);
    c.submit(H1_ADMIN, 'bmrsReauthorize', { provider: 'H2/nurse8', recordId: 'r1' });
    // The patient consents again: the revocation no longer counts against her.
    c.submit(PAT, 'grantConsent', consent('H2/nurse8'));
    assert.equal(
      c.dump().some((kv) => kv.key === `rv|${PP}|H2/nurse8`),
      false,
    );
    assert.equal(read().allowed, true);
    assert.equal(session(c, 'H2/nurse8'), 2);
    assert.deepEqual(
      c.submit<Verdict>(nurse, 'access', { recordId: 'r1', action: 'read', purpose: 'HRESCH' }).flags,
      [],
      'an honest request outside the new consent is no violation',
    );
  });

  it("myPatients: a grantee finds the patients who consented to them (until revoked or expired), a doctor their care relations; nobody else's", () => {
    type Mine = { patients: Array<{ patient: string; patientOrg: string | null; care: unknown; consents: Array<{ consentId: string; actions: string[] }> }> };
    assert.deepEqual(c.evaluate<Mine>('H3/nurse9:nurse', 'myPatients', {}).patients, []);
    const g = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent('H3/nurse9'));
    const mine = c.evaluate<Mine>('H3/nurse9:nurse', 'myPatients', {}).patients;
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.patient, PP);
    assert.equal(mine[0]!.patientOrg, 'H1');
    assert.equal(mine[0]!.care, null);
    assert.deepEqual(
      mine[0]!.consents.map((x) => [x.consentId, x.actions]),
      [[g.consent.consentId, ['read']]],
    );
    // Another user sees none of it; the patient's doctor sees the care relation.
    assert.deepEqual(c.evaluate<Mine>('H3/nurse10:nurse', 'myPatients', {}).patients, []);
    const doc = c.evaluate<Mine>(DOC1, 'myPatients', {}).patients;
    assert.ok(doc.some((p) => p.patient === PP && p.care !== null));
    // Expired consents drop out by the query's timestamp; revoked ones at once.
    assert.deepEqual(c.evaluate<Mine>('H3/nurse9:nurse', 'myPatients', {}, T0 + 2 * DAY_MS).patients, []);
    c.submit(PAT, 'revokeConsent', { consentId: g.consent.consentId });
    assert.deepEqual(c.evaluate<Mine>('H3/nurse9:nurse', 'myPatients', {}).patients, []);
    assert.equal(c.try('evaluate', 'H3/nurse9:nurse', 'myPatients', { patient: PP }).status, 400);
  });

  it('myPatients: a consent granted ahead of its period is listed with the time it opens access, which it does not before (decision 0913)', () => {
    type Mine = { patients: Array<{ patient: string; consents: Array<{ consentId: string; startMs: number; endMs: number }> }> };
    const ahead = { startMs: T0 + DAY_MS, endMs: T0 + 3 * DAY_MS };
    const g = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent('H3/nurse11', { period: ahead }));
    const mine = c.evaluate<Mine>('H3/nurse11:nurse', 'myPatients', {}).patients;
    assert.deepEqual(
      mine.map((p) => [p.patient, p.consents.map((x) => [x.consentId, x.startMs, x.endMs])]),
      [[PP, [[g.consent.consentId, ahead.startMs, ahead.endMs]]]],
    );
    // What the start means: before it a read is refused, from it allowed.
    const read = (nowMs: number) => c.submit<Verdict>('H3/nurse11:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' }, nowMs);
    assert.equal(read(T0).allowed, false);
    assert.equal(read(T0 + DAY_MS).allowed, true);
  });

  it('a consent to an organisation or a role is indexed for its grantees; out of it when revoked or ended; one granted before the index is indexed at the next grant (decision 0914)', () => {
    type Mine = { patients: Array<{ patient: string }> };
    const sees = (who: string, atMs?: number) => c.evaluate<Mine>(who, 'myPatients', {}, atMs).patients.some((p) => p.patient === PP);
    const keys = (prefix: string) =>
      c
        .dump()
        .filter((r) => r.key.startsWith(prefix))
        .map((r) => r.key);
    const grant = (grantee: Record<string, string>, endMs = T0 + 5 * DAY_MS, atMs?: number) =>
      c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', { ...consent('unused'), grantee, period: { startMs: T0, endMs } }, atMs).consent
        .consentId;

    const toH4 = grant({ kind: 'org', org: 'H4' });
    assert.deepEqual(keys('cgo|H4|'), [`cgo|H4|${toH4}`]);
    assert.equal(sees('H4/nurse2:nurse'), true);
    assert.equal(sees('H5/nurse2:nurse'), false);
    c.submit(PAT, 'revokeConsent', { consentId: toH4 });
    assert.deepEqual(keys('cgo|H4|'), []);
    assert.equal(sees('H4/nurse2:nurse'), false);

    // Ended: the patient's next grant moves it out of the role index.
    const nursesAtH4 = grant({ kind: 'role', role: 'nurse', org: 'H4' }, T0 + DAY_MS);
    assert.deepEqual(keys('cgr|nurse|H4|'), [`cgr|nurse|H4|${nursesAtH4}`]);
    assert.equal(sees('H4/nurse2:nurse'), true);
    assert.equal(sees('H4/nurse2:nurse', T0 + 2 * DAY_MS), false, 'an ended consent is no basis');
    const anyNurse = grant({ kind: 'role', role: 'nurse' }, T0 + 5 * DAY_MS, T0 + 2 * DAY_MS);
    assert.deepEqual(keys('cgr|nurse|H4|'), []);
    assert.deepEqual(keys('cgr|nurse|*|'), [`cgr|nurse|*|${anyNurse}`]);
    assert.equal(sees('H5/nurse2:nurse', T0 + 2 * DAY_MS), true);

    // Granted on a ledger from before the index: its key absent, as then.
    const toH5 = grant({ kind: 'org', org: 'H5' }, T0 + 5 * DAY_MS, T0 + 2 * DAY_MS);
    c.height += 1;
    c.db.applyBlock({
      number: c.height,
      blockHash: new Uint8Array(32).fill(c.height),
      writes: [{ ns: 'health', key: `cgo|H5|${toH5}`, isDelete: true, value: null, tx: 0 }],
      txIndex: [],
    });
    assert.equal(
      c.evaluate<Mine>('H5/admin2:admin', 'myPatients', {}, T0 + 2 * DAY_MS).patients.length,
      0,
      'the consent to H5 is not found before it is indexed',
    );
    grant({ kind: 'user', user: 'H2/doc5' }, T0 + 5 * DAY_MS, T0 + 2 * DAY_MS);
    assert.deepEqual(keys('cgo|H5|'), [`cgo|H5|${toH5}`]);
    assert.equal(sees('H5/admin2:admin', T0 + 2 * DAY_MS), true);
  });

  it('a refusal names no consent of someone else: not its id, nor whether the patient has any (decision 0915)', () => {
    const read = (who: string, purpose = 'TREAT', atMs?: number) => c.submit<Verdict>(who, 'access', { recordId: 'r1', action: 'read', purpose }, atMs);
    const none = read('H6/sup20:supervisor');
    assert.equal(none.allowed, false);
    assert.ok(none.reasons.includes('consent: no consent of the patient names the requester'), none.reasons.join('; '));
    const toOther = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent('H6/sup21')).consent.consentId;
    const expiredToOther = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', {
      ...consent('H6/sup22'),
      period: { startMs: T0 - 2 * DAY_MS, endMs: c.nowMs + 10 },
    }).consent.consentId;
    const stillNone = read('H6/sup20:supervisor', 'TREAT', c.nowMs + 20);
    assert.deepEqual(
      stillNone.reasons.filter((x) => x.startsWith('consent:')),
      ['consent: no consent of the patient names the requester'],
      'the same answer as with no consent at all',
    );
    for (const id of [toOther, expiredToOther]) assert.doesNotMatch(stillNone.reasons.join(' '), new RegExp(id));
    // One naming the requester, for another purpose: its id and why, to the one it names.
    const mine = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent('H6/sup20')).consent.consentId;
    const research = read('H6/sup20:supervisor', 'HRESCH');
    assert.deepEqual(
      research.reasons.filter((x) => x.startsWith('consent:')),
      [`consent: ${mine} does not allow purpose HRESCH`],
    );
  });

  it("a consent to everyone at a hospital opens the patient's records to the people who work there, not to its other patients (decision 0916)", () => {
    const other = pseudonymFor('h7-patient');
    c.submit('H7/admin1:admin', 'enrolPatient', { pseudonym: other });
    const toH7 = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', { ...consent('unused'), grantee: { kind: 'org', org: 'H7' } }).consent
      .consentId;
    const read = (who: string) => c.submit<Verdict>(who, 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' });
    assert.equal(read('H7/nurse1:nurse').allowed, true, 'a nurse at H7');
    const patient = read(`H7/${other}:patient`);
    assert.equal(patient.allowed, false, "another of H7's patients");
    assert.ok(patient.reasons.includes('consent: no consent of the patient names the requester'), patient.reasons.join('; '));
    assert.doesNotMatch(patient.reasons.join(' '), new RegExp(toH7));
    // Nor does the patient show among that patient's "patients".
    assert.deepEqual(c.evaluate<{ patients: unknown[] }>(`H7/${other}:patient`, 'myPatients', {}).patients, []);
    // A consent to the role "patient" at H7 is that, by name.
    c.submit(PAT, 'grantConsent', { ...consent('unused'), grantee: { kind: 'role', role: 'patient', org: 'H7' } });
    assert.equal(read(`H7/${other}:patient`).allowed, true);
  });

  it('exports a consent as a FHIR Consent that validates', () => {
    const g = c.submit<{ consent: { consentId: string } }>(
      PAT,
      'grantConsent',
      consent('H2/nurse6', {
        actions: ['read', 'share', 'statistics', 'write'],
        purposes: ['TREAT', 'HRESCH'],
        scope: { recordIds: ['r1'], categories: ['Observation'], maxSensitivity: 'restricted' },
      }),
    );
    const fhir = c.evaluate<Record<string, unknown>>(PAT, 'exportConsent', { consentId: g.consent.consentId });
    validateFhir(fhir);
    assert.equal(fhir['status'], 'active');
    assert.equal(c.try('evaluate', DOC1, 'exportConsent', { consentId: g.consent.consentId }).status, 400);
    const roleConsent = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent('x', { grantee: { kind: 'role', role: 'researcher' } }));
    validateFhir(c.evaluate(PAT, 'exportConsent', { consentId: roleConsent.consent.consentId }));
    const orgConsent = c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent('x', { grantee: { kind: 'org', org: 'H4' } }));
    c.submit(PAT, 'revokeConsent', { consentId: orgConsent.consent.consentId });
    const revoked = c.evaluate<Record<string, unknown>>(PAT, 'exportConsent', { consentId: orgConsent.consent.consentId });
    validateFhir(revoked);
    assert.equal(revoked['status'], 'inactive');
  });
});

describe('health contract: consents in force and ended (decision 0911)', () => {
  type Consent = { consentId: string; period: { endMs: number } };
  type Ended = { consents: Consent[]; bookmark: string };
  const consent = (grantee: string, endMs: number) => ({
    patient: PP,
    grantee: { kind: 'user', user: grantee },
    actions: ['read'],
    purposes: ['TREAT'],
    period: { startMs: T0, endMs },
    scope: { maxSensitivity: 'normal' },
  });
  const grant = (c: TestChain, grantee: string, endMs: number): string =>
    c.submit<{ consent: { consentId: string } }>(PAT, 'grantConsent', consent(grantee, endMs)).consent.consentId;
  const ended = (c: TestChain, pageSize: number): { ids: string[]; firstPage: number } => {
    const ids: string[] = [];
    let bookmark = '';
    let firstPage = -1;
    for (let pages = 0; pages < 100; pages++) {
      const page = c.evaluate<Ended>(PAT, 'listEndedConsents', { patient: PP, pageSize, bookmark });
      if (firstPage < 0) firstPage = page.consents.length;
      ids.push(...page.consents.map((x) => x.consentId));
      bookmark = page.bookmark;
      if (bookmark === '') return { ids, firstPage };
    }
    throw new Error('the bookmarks do not end');
  };
  const keys = (c: TestChain, prefix: string): number => c.dump().filter((kv) => kv.key.startsWith(prefix)).length;

  it('ended consents leave the limit of 100 in force, stay listed apart, the latest ended first, and can still be revoked', () => {
    const c = setup();
    try {
      createRecord(c, 'r1', ['normal']);
      // 100 consents of a day or so each, granted over the first day: every one in force at its grant.
      const first = Array.from({ length: 100 }, (_, i) => grant(c, `H2/nurse${i}`, T0 + DAY_MS + i * 1000));
      assert.match(c.try('submit', PAT, 'grantConsent', consent('H2/nurse100', T0 + 3 * DAY_MS)).message, /at most 100 consents in force/);
      // Two days later all 100 have ended: they no longer count, and the next grant moves them apart.
      c.nowMs = T0 + 2 * DAY_MS;
      const later = grant(c, 'H2/nurse100', T0 + 2 * DAY_MS + 1000);
      assert.equal(keys(c, `cx|${PP}|`), 1);
      assert.equal(keys(c, `cxe|${PP}|`), 100);
      // Their grantees' index no longer names them either (only the one in force is left).
      assert.equal(keys(c, 'cg|'), 1);
      assert.deepEqual(
        c.evaluate<Consent[]>(PAT, 'listConsents', { patient: PP }).map((x) => x.consentId),
        [later],
      );
      const swept = [...first].reverse();
      assert.deepEqual(ended(c, 7), { ids: swept, firstPage: 7 });
      // The consent in force still opens the record; an ended one does not.
      assert.equal(c.submit<Verdict>('H2/nurse100:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' }).allowed, true);
      assert.equal(c.submit<Verdict>('H2/nurse99:nurse', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' }).allowed, false);

      // 99 more in force: 100 again, and the next is refused by name.
      const second = Array.from({ length: 99 }, (_, j) => grant(c, `H3/nurse${j}`, T0 + 3 * DAY_MS + j * 1000));
      assert.match(
        c.try('submit', PAT, 'grantConsent', consent('H3/nurse99', T0 + 4 * DAY_MS)).message,
        /at most 100 consents in force \(granted, not revoked, not ended\); revoke some first/,
      );
      // Once these have ended too (no grant since), the first page holds them, before the swept ones.
      c.nowMs = T0 + 5 * DAY_MS;
      assert.deepEqual(c.evaluate<Consent[]>(PAT, 'listConsents', { patient: PP }), []);
      const recent = [...second].reverse().concat(later);
      assert.deepEqual(ended(c, 7), { ids: [...recent, ...swept], firstPage: 107 });
      assert.deepEqual(ended(c, 200).ids, [...recent, ...swept]);

      // Revoking an ended consent, moved apart or not, takes it off the ended list.
      c.submit(PAT, 'revokeConsent', { consentId: first[5] });
      c.submit(PAT, 'revokeConsent', { consentId: second[0] });
      assert.deepEqual(
        ended(c, 50).ids,
        [...recent, ...swept].filter((id) => id !== first[5] && id !== second[0]),
      );
      assert.equal(keys(c, `cxe|${PP}|`), 99);
    } finally {
      c.close();
    }
  });

  it("the ended list is the patient's alone, and a bookmark of another list is refused", () => {
    const c = setup();
    try {
      assert.deepEqual(c.evaluate<Ended>(PAT, 'listEndedConsents', { patient: PP }), { consents: [], bookmark: '' });
      assert.match(c.try('evaluate', DOC1, 'listEndedConsents', { patient: PP }).message, /listEndedConsents/);
      assert.match(c.try('evaluate', PAT, 'listEndedConsents', { patient: PP, bookmark: `cx|${PP}|c1` }).message, /bookmark does not belong/);
      assert.match(c.try('evaluate', PAT, 'listEndedConsents', { patient: PP, pageSize: 201 }).message, /pageSize/);
    } finally {
      c.close();
    }
  });
});

describe('health contract: applications, datasets and statistics', () => {
  let c: TestChain;
  const RES = 'H2/res1:researcher';
  const period = { startMs: T0, endMs: T0 + 30 * DAY_MS };
  const ds = (id: string) => ({
    datasetId: id,
    name: `Blood pressure ${id}`,
    description: 'Systolic readings, adults',
    columns: ['8480-6', 'age'],
    cid: partFor(id, 'normal').cid,
    sizeBytes: 1000,
    recordCount: 40,
  });
  const stats = { datasetIds: ['ds1', 'ds2'], variable: '8480-6', purpose: 'HRESCH', histogram: { min: 80, max: 200, bins: 4 } };
  before(() => {
    c = setup();
    createRecord(c, 'r1', ['normal']);
  });
  after(() => c.close());

  it('record application: the researcher applies, the patient approves, the permission works', () => {
    assert.equal(c.submit<Verdict>(RES, 'access', { recordId: 'r1', action: 'read', purpose: 'HRESCH' }).allowed, false);
    const app = c.submit<{ application: { applicationId: string; status: string } }>('H2/res2:researcher', 'apply', {
      target: { kind: 'record', recordId: 'r1' },
      purpose: 'HRESCH',
      actions: ['read'],
      period,
    });
    assert.equal(app.application.status, 'pending');
    const pending = c.evaluate<{ applications: Array<{ applicationId: string }> }>(PAT, 'listApplications', { owner: PP }).applications;
    assert.deepEqual(
      pending.map((a) => a.applicationId),
      [app.application.applicationId],
    );
    assert.ok(
      c.evaluate<{ notifications: Array<{ kind: string }> }>(PAT, 'notifications', { patient: PP }).notifications.some((n) => n.kind === 'application'),
    );
    assert.equal(c.try('submit', H1_ADMIN, 'decideApplication', { applicationId: app.application.applicationId, approve: true }).status, 400);
    c.submit(PAT, 'decideApplication', { applicationId: app.application.applicationId, approve: true });
    const v = c.submit<Verdict>('H2/res2:researcher', 'access', { recordId: 'r1', action: 'read', purpose: 'HRESCH' });
    assert.equal(v.allowed, true);
    assert.deepEqual(v.basis, { rule: 'application', applicationId: app.application.applicationId });
    assert.equal(c.submit<Verdict>('H2/res2:researcher', 'access', { recordId: 'r1', action: 'read', purpose: 'TREAT' }).allowed, false, 'other purpose');
    assert.match(c.try('submit', PAT, 'decideApplication', { applicationId: app.application.applicationId, approve: false }).message, /already approved/);
  });

  it('a denied application grants nothing', () => {
    const app = c.submit<{ application: { applicationId: string } }>('H2/res3:researcher', 'apply', {
      target: { kind: 'record', recordId: 'r1' },
      purpose: 'HRESCH',
      actions: ['read'],
      period,
    });
    c.submit(PAT, 'decideApplication', { applicationId: app.application.applicationId, approve: false });
    assert.equal(c.submit<Verdict>('H2/res3:researcher', 'access', { recordId: 'r1', action: 'read', purpose: 'HRESCH' }).allowed, false);
  });

  it('an application whose period has ended cannot be approved (it would grant nothing); it can be denied', () => {
    const apply = () =>
      c.submit<{ application: { applicationId: string } }>('H2/res4:researcher', 'apply', {
        target: { kind: 'record', recordId: 'r1' },
        purpose: 'HRESCH',
        actions: ['read'],
        period: { startMs: c.nowMs, endMs: c.nowMs + DAY_MS },
      }).application.applicationId;
    const late = apply();
    const after = c.nowMs + 2 * DAY_MS;
    const refused = c.try('submit', PAT, 'decideApplication', { applicationId: late, approve: true }, after);
    assert.equal(refused.status, 400);
    assert.match(refused.message, /asked for a period that has ended .*: approving it would grant nothing; the applicant may apply again/);
    c.submit(PAT, 'decideApplication', { applicationId: late, approve: false }, after);
    // Within its period it is approved as ever.
    c.submit(PAT, 'decideApplication', { applicationId: apply(), approve: true });
  });

  it('an application for a record erased meanwhile cannot be approved (it would open nothing); it can be denied', () => {
    createRecord(c, 'r-gone', ['normal']);
    const app = c.submit<{ application: { applicationId: string } }>('H2/res5:researcher', 'apply', {
      target: { kind: 'record', recordId: 'r-gone' },
      purpose: 'HRESCH',
      actions: ['read'],
      period: { startMs: c.nowMs, endMs: c.nowMs + DAY_MS },
    }).application.applicationId;
    c.submit(PAT, 'eraseRecord', { recordId: 'r-gone' });
    assert.match(
      c.try('submit', PAT, 'decideApplication', { applicationId: app, approve: true }).message,
      /record r-gone was erased: approving application \S+ would grant nothing; deny it/,
    );
    c.submit(PAT, 'decideApplication', { applicationId: app, approve: false });
  });

  it('the catalogue does not call a dataset "pending" on an application whose period has ended', () => {
    const c = setup();
    try {
      c.submit(SUP1, 'registerDataset', ds('ds-lapsed'));
      c.submit('H2/res4:researcher', 'apply', {
        target: { kind: 'dataset', datasetId: 'ds-lapsed' },
        purpose: 'HRESCH',
        actions: ['statistics'],
        period: { startMs: c.nowMs, endMs: c.nowMs + DAY_MS },
      });
      const standing = (atMs?: number) =>
        c
          .evaluate<{ datasets: Array<{ datasetId: string; access: string }> }>('H2/res4:researcher', 'listDatasets', {}, atMs)
          .datasets.find((d) => d.datasetId === 'ds-lapsed')?.access;
      assert.equal(standing(), 'pending');
      assert.equal(standing(c.nowMs + 2 * DAY_MS), 'not-authorised');
    } finally {
      c.close();
    }
  });

  it('statistics: refused without approval (recorded), allowed after both owners approve, result recorded with suppression checked', () => {
    c.submit(SUP1, 'registerDataset', ds('ds1'));
    c.submit(H2_ADMIN, 'registerDataset', ds('ds2'));
    assert.equal(c.try('submit', DOC1, 'registerDataset', ds('ds3')).status, 403);
    const market = c.evaluate<{ datasets: Array<{ datasetId: string; ownerOrg: string }> }>(RES, 'listDatasets', {});
    assert.deepEqual(
      market.datasets.map((d) => [d.datasetId, d.ownerOrg]),
      [
        ['ds1', 'H1'],
        ['ds2', 'H2'],
      ],
    );

    const refused = c.submit<{ allowed: boolean; reasons: string[]; requestId: string }>(RES, 'requestStatistics', stats);
    assert.equal(refused.allowed, false);
    assert.match(refused.reasons.join(' '), /dataset ds1: application: no approved access application/);
    assert.equal(c.evaluate<{ status: string }>(RES, 'getStatistics', { requestId: refused.requestId }).status, 'refused');

    c.submit(SUP1, 'setDatasetAccess', { datasetId: 'ds1', open: false });
    assert.match(
      c.try('submit', RES, 'apply', { target: { kind: 'dataset', datasetId: 'ds1' }, purpose: 'HRESCH', actions: ['statistics'], period }).message,
      /closed to applications/,
    );
    assert.equal(c.try('submit', H2_ADMIN, 'setDatasetAccess', { datasetId: 'ds1', open: true }).status, 400);
    c.submit(SUP1, 'setDatasetAccess', { datasetId: 'ds1', open: true });
    const a1 = c.submit<{ application: { applicationId: string } }>(RES, 'apply', {
      target: { kind: 'dataset', datasetId: 'ds1' },
      purpose: 'HRESCH',
      actions: ['statistics'],
      period,
    });
    const a2 = c.submit<{ application: { applicationId: string } }>(RES, 'apply', {
      target: { kind: 'dataset', datasetId: 'ds2' },
      purpose: 'HRESCH',
      actions: ['statistics'],
      period,
    });
    assert.equal(c.try('submit', H2_ADMIN, 'decideApplication', { applicationId: a1.application.applicationId, approve: true }).status, 400);
    c.submit(H1_ADMIN, 'decideApplication', { applicationId: a1.application.applicationId, approve: true });
    const half = c.submit<{ allowed: boolean; reasons: string[] }>(RES, 'requestStatistics', stats);
    assert.equal(half.allowed, false);
    assert.match(half.reasons.join(' '), /ds2/);
    c.submit(H2_ADMIN, 'decideApplication', { applicationId: a2.application.applicationId, approve: true });
    const ok = c.submit<{ allowed: boolean; requestId: string; inputs: Array<{ cid: string }> }>(RES, 'requestStatistics', stats);
    assert.equal(ok.allowed, true);
    assert.deepEqual(
      ok.inputs.map((i) => i.cid),
      [ds('ds1').cid, ds('ds2').cid],
    );

    // 20 values withheld over bins 2–3 and the under/over-range cells (decision 1163).
    const result = {
      suppressed: false,
      minCohort: 5,
      count: 80,
      mean: 130.5,
      stdDev: 15.2,
      minBin: null,
      maxBin: null,
      under: null,
      over: null,
      histogram: [
        { from: 80, to: 110, count: 10 },
        { from: 110, to: 140, count: 50 },
        { from: 140, to: 170, count: null },
        { from: 170, to: 200, count: null },
      ],
    };
    const leaky = { ...result, histogram: [...result.histogram.slice(0, 3), { from: 170, to: 200, count: 3 }] };
    assert.match(c.try('submit', RES, 'recordStatisticsResult', { requestId: ok.requestId, result: leaky }).message, /smaller than the minimum cohort/);
    // Before decision 1163 this was the valid result: its one withheld cell is 80 − 10 − 50 − 17 = 3.
    const derivable = { ...result, histogram: [...result.histogram.slice(0, 2), { from: 140, to: 170, count: 17 }, { from: 170, to: 200, count: null }] };
    assert.match(c.try('submit', RES, 'recordStatisticsResult', { requestId: ok.requestId, result: derivable }).message, /could be derived/);
    // The raw extremes are not part of a result any more (each is one patient's value).
    assert.match(
      c.try('submit', RES, 'recordStatisticsResult', { requestId: ok.requestId, result: { ...result, min: 90, max: 190 } }).message,
      /min|Unrecognized key/,
    );
    assert.equal(c.try('submit', 'H2/res9:researcher', 'recordStatisticsResult', { requestId: ok.requestId, result }).status, 400);
    c.submit(RES, 'recordStatisticsResult', { requestId: ok.requestId, result });
    const st = c.evaluate<{ status: string; result: { count: number } }>(RES, 'getStatistics', { requestId: ok.requestId });
    assert.equal(st.status, 'completed');
    assert.equal(st.result.count, 80);
    const trail = c.evaluate<{ entries: AuditEntry[] }>(H1_ADMIN, 'auditTrail', { kind: 'dataset', datasetId: 'ds1' });
    assert.deepEqual(
      trail.entries.map((e) => `${e.op}:${e.outcome}`),
      [
        'dataset.register:allow',
        'stats.request:deny',
        'dataset.access:allow',
        'dataset.access:allow',
        'application.apply:allow',
        'application.approve:allow',
        'stats.request:allow',
        'stats.request:allow',
        'stats.result:allow',
      ],
    );
  });

  it("the threshold is max(consortium floor, the owners' minimums, the caller's): a caller can raise it, never lower it; the result must use it", () => {
    assert.match(
      c.try('submit', SUP1, 'registerDataset', { ...ds('ds-low'), minCohort: 3 }).message,
      /minCohort: minCohort cannot be below the consortium floor 5/,
    );
    const strict = c.submit<{ dataset: { minCohort: number; queryBudget: number } }>(SUP1, 'registerDataset', { ...ds('ds-strict'), minCohort: 8 });
    assert.deepEqual(strict.dataset, { ...strict.dataset, minCohort: 8, queryBudget: 20 });
    assert.equal(
      c.evaluate<{ datasets: Array<{ datasetId: string; minCohort: number }> }>(RES, 'listDatasets', {}).datasets.find((d) => d.datasetId === 'ds1')?.minCohort,
      5,
      'the floor by default',
    );
    const app = c.submit<{ application: { applicationId: string } }>(RES, 'apply', {
      target: { kind: 'dataset', datasetId: 'ds-strict' },
      purpose: 'HRESCH',
      actions: ['statistics'],
      period,
    });
    c.submit(H1_ADMIN, 'decideApplication', { applicationId: app.application.applicationId, approve: true });

    const threshold = (datasetIds: string[], minCohort?: number): number => {
      const r = c.submit<{ allowed: boolean; minCohort: number; requestId: string }>(RES, 'requestStatistics', {
        ...stats,
        datasetIds,
        ...(minCohort !== undefined ? { minCohort } : {}),
      });
      assert.equal(r.allowed, true);
      const stored = c.evaluate<{ minCohort: number; requestedMinCohort: number | null }>(RES, 'getStatistics', { requestId: r.requestId });
      assert.deepEqual(stored, { ...stored, minCohort: r.minCohort, requestedMinCohort: minCohort ?? null });
      return r.minCohort;
    };
    assert.equal(threshold(['ds1'], 1), 5, "the probe's minCohort 1 is raised to the consortium floor");
    assert.equal(threshold(['ds1']), 5);
    assert.equal(threshold(['ds1'], 12), 12, 'a caller may raise it');
    assert.equal(threshold(['ds1', 'ds-strict'], 1), 8, "the owner's minimum");
    assert.equal(threshold(['ds-strict'], 10), 10);

    const r = c.submit<{ requestId: string }>(RES, 'requestStatistics', { ...stats, datasetIds: ['ds-strict'], minCohort: 1 });
    const atFloor = {
      suppressed: false,
      minCohort: 5,
      count: 80,
      mean: 130.5,
      stdDev: 15.2,
      minBin: null,
      maxBin: null,
      under: null,
      over: null,
      histogram: [
        { from: 80, to: 110, count: 10 },
        { from: 110, to: 140, count: 50 },
        { from: 140, to: 170, count: null },
        { from: 170, to: 200, count: null },
      ],
    };
    assert.match(
      c.try('submit', RES, 'recordStatisticsResult', { requestId: r.requestId, result: atFloor }).message,
      /result minCohort 5 differs from the request's 8/,
    );
    const atEight = { ...atFloor, minCohort: 8, histogram: [...atFloor.histogram.slice(0, 3), { from: 170, to: 200, count: 6 }] };
    assert.match(c.try('submit', RES, 'recordStatisticsResult', { requestId: r.requestId, result: atEight }).message, /smaller than the minimum cohort 8/);
    const otherBins = {
      ...atFloor,
      minCohort: 8,
      histogram: [{ from: 80, to: 140, count: 60 }, { from: 140, to: 200, count: null }, ...atFloor.histogram.slice(2)],
    };
    assert.match(c.try('submit', RES, 'recordStatisticsResult', { requestId: r.requestId, result: otherBins }).message, /bin edges differ/);
    c.submit(RES, 'recordStatisticsResult', { requestId: r.requestId, result: { ...atFloor, minCohort: 8 } });
  });

  it('a query budget per requester and dataset: refused with the reason when exhausted, audited; other requesters and refusals are not counted', () => {
    c.submit(H2_ADMIN, 'registerDataset', { ...ds('ds-budget'), queryBudget: 2 });
    const approve = (who: string): void => {
      const app = c.submit<{ application: { applicationId: string } }>(who, 'apply', {
        target: { kind: 'dataset', datasetId: 'ds-budget' },
        purpose: 'HRESCH',
        actions: ['statistics'],
        period,
      });
      c.submit(H2_ADMIN, 'decideApplication', { applicationId: app.application.applicationId, approve: true });
    };
    type Answer = { allowed: boolean; reasons: string[]; requestId: string; budgets: Array<{ datasetId: string; used: number; budget: number }> };
    const ask = (who: string, datasetIds = ['ds-budget']): Answer => c.submit<Answer>(who, 'requestStatistics', { ...stats, datasetIds });
    const R1 = 'H3/res31:researcher';
    const R2 = 'H3/res32:researcher';
    assert.equal(ask(R1).allowed, false, 'no approval yet');
    approve(R1);
    const first = ask(R1);
    assert.equal(first.allowed, true, 'the refusal before approval did not use the budget');
    assert.deepEqual(first.budgets, [{ datasetId: 'ds-budget', used: 1, budget: 2 }]);
    assert.equal(ask(R1).allowed, true);
    const third = ask(R1);
    assert.equal(third.allowed, false);
    assert.deepEqual(third.reasons, [
      'dataset ds-budget: query budget exhausted: H3/res31 has made all 2 statistics requests its owner allows over this dataset',
    ]);
    assert.equal(c.evaluate<{ status: string }>(R1, 'getStatistics', { requestId: third.requestId }).status, 'refused');
    // A request over several datasets is refused whole, and uses no budget of the others.
    const beforeDs1 = ask(RES, ['ds1']).budgets[0]!.used;
    approve(RES);
    assert.equal(ask(RES, ['ds1', 'ds-budget']).allowed, true);
    assert.equal(ask(RES, ['ds1', 'ds-budget']).allowed, true);
    const whole = ask(RES, ['ds1', 'ds-budget']);
    assert.equal(whole.allowed, false);
    assert.equal(ask(RES, ['ds1']).budgets[0]!.used, beforeDs1 + 3, 'ds1 counted the two allowed requests (and this one), not the refused');
    approve(R2);
    assert.equal(ask(R2).allowed, true, 'counted per requester');
    const trail = c.evaluate<{ entries: AuditEntry[] }>(H2_ADMIN, 'auditTrail', { kind: 'dataset', datasetId: 'ds-budget', pageSize: 200 });
    const exhausted = trail.entries.filter((e) => e.op === 'stats.request' && e.outcome === 'deny' && e.reasons.some((x) => /query budget exhausted/.test(x)));
    assert.deepEqual(
      exhausted.map((e) => `${e.actor.org}/${e.actor.id}`),
      ['H3/res31', 'H2/res1'],
    );
  });
});

describe('health contract: erasure', () => {
  it('leaves only a non-identifying proof of existence and erasure in the world state', () => {
    const c = setup();
    try {
      createRecord(c, 'r-erase', ['normal', 'sensitive', 'restricted']);
      c.submit(DOC1, 'updateRecord', { recordId: 'r-erase', parts: [partFor('r-erase-v2', 'normal')] });
      createRecord(c, 'r-keep', ['normal']);
      c.submit(DOC1, 'access', { recordId: 'r-erase', action: 'read', purpose: 'TREAT', sensitivity: 'normal' });
      const secrets = [...['normal', 'sensitive', 'restricted'].map((s) => partFor('r-erase', s as 'normal')), partFor('r-erase-v2', 'normal')].flatMap((p) => [
        p.cid,
        p.commitment,
      ]);
      assert.ok(
        c.dump().some((kv) => secrets.some((s) => kv.value.includes(s))),
        'the CIDs are on chain before erasure',
      );
      assert.equal(c.try('submit', DOC2, 'eraseRecord', { recordId: 'r-erase' }).status, 400);
      const out = c.submit<{ erased: Record<string, unknown> }>(PAT, 'eraseRecord', { recordId: 'r-erase' });
      const dump = c.dump();
      for (const kv of dump) {
        for (const s of secrets) assert.ok(!kv.key.includes(s) && !kv.value.includes(s), `${kv.key} still holds ${s}`);
      }
      assert.equal(dump.filter((kv) => kv.key.startsWith('recv|r-erase|') || (kv.key.endsWith('|r-erase') && kv.key.startsWith('rx|'))).length, 0);
      const tomb = dump.find((kv) => kv.key === 'rec|r-erase')!;
      assert.ok(!tomb.value.includes(PP) && !tomb.value.includes('pat1'), 'no patient id in the proof');
      assert.deepEqual(Object.keys(JSON.parse(tomb.value) as object).sort(), [
        'commitmentsDigest',
        'custodian',
        'erased',
        'erasedAtMs',
        'erasedBy',
        'recordId',
        'versions',
      ]);
      assert.equal(out.erased['versions'], 2);
      assert.match(String(out.erased['commitmentsDigest']), /^[0-9a-f]{64}$/);
      assert.equal(out.erased['erasedBy'], 'H1/patient');
      // The other record is untouched; the erased one can no longer be read or updated.
      assert.ok(dump.some((kv) => kv.key === 'recv|r-keep|000001'));
      assert.equal(c.submit<Verdict>(DOC1, 'access', { recordId: 'r-erase', action: 'read', purpose: 'TREAT', sensitivity: 'normal' }).allowed, false);
      assert.equal(c.try('submit', DOC1, 'eraseRecord', { recordId: 'r-erase' }).status, 400);
      assert.deepEqual(
        c.evaluate<{ records: Array<{ recordId: string }> }>(DOC1, 'listPatientRecords', { patient: PP }).records.map((r) => r.recordId),
        ['r-keep'],
      );
    } finally {
      c.close();
    }
  });
});

describe('health contract: bounded work per transaction', () => {
  it('lists 150 records in pages; a full batch of 40 reads over 40 patients fits the range-scan budget', () => {
    const c = setup();
    try {
      for (let i = 0; i < 150; i++) createRecord(c, `bulk-${String(i).padStart(3, '0')}`, ['normal']);
      const ids: string[] = [];
      let bookmark = '';
      do {
        const page = c.evaluate<{ records: Array<{ recordId: string }>; bookmark: string }>(DOC1, 'listPatientRecords', {
          patient: PP,
          pageSize: 100,
          bookmark,
        });
        ids.push(...page.records.map((r) => r.recordId));
        bookmark = page.bookmark;
      } while (bookmark !== '');
      assert.equal(ids.length, 150);
      assert.equal(new Set(ids).size, 150);

      for (let i = 0; i < 40; i++) {
        const pp = pseudonymFor(`batch-${i}`);
        c.submit(H1_ADMIN, 'enrolPatient', { pseudonym: pp });
        c.submit(H1_ADMIN, 'startCare', { doctor: 'H1/doc1', patient: pp });
        c.submit(DOC1, 'createRecord', { recordId: `b-${i}`, patient: pp, category: 'Observation', parts: [partFor(`b-${i}`, 'normal')] });
      }
      // 40 emergency reads by a doctor of another hospital leave 40 tickets; one batch records them all.
      const tickets: string[] = [];
      for (let i = 0; i < 40; i++) {
        assert.equal(c.submit<Verdict>(DOC3, 'access', { recordId: `b-${i}`, action: 'read', purpose: 'BTG', reason: 'unconscious-no-proxy' }).allowed, true);
        tickets.push(c.lastTxId);
      }
      const events = tickets.map((ticket, i) => ({
        ticket,
        sensitivity: 'normal',
        servedDecision: i % 2 ? 'allow' : 'deny',
        eventId: toHex(sha256(`b-${i}`)).slice(0, 32),
      }));
      const out = c.submit<Array<{ outcome: string; requester: string }>>('H1/peer0:peer', 'recordReads', events);
      assert.equal(out.length, 40);
      assert.ok(out.every((o, i) => o.outcome === (i % 2 ? 'allow' : 'deny') && o.requester === 'H3/doc3'));
    } finally {
      c.close();
    }
  });

  it('a batch sees its own marks: the same ticket part twice in one batch is recorded once', () => {
    const c = setup();
    try {
      createRecord(c, 'r1', ['normal']);
      c.submit(DOC3, 'access', { recordId: 'r1', action: 'read', purpose: 'BTG', reason: 'unconscious-no-proxy' });
      const ticket = c.lastTxId;
      const sessionBefore = session(c, 'H3/doc3');
      const ev = (n: number) => ({ ticket, sensitivity: 'normal', servedDecision: 'allow', eventId: toHex(sha256(`same-${n}`)).slice(0, 32) });
      const out = c.submit<Array<{ duplicate?: boolean }>>('H1/peer0:peer', 'recordReads', [ev(1), ev(2)]);
      assert.deepEqual(
        out.map((o) => o.duplicate),
        [undefined, true],
      );
      assert.equal(c.dump().filter((kv) => kv.key.startsWith('au|') && kv.value.includes('"recordedBy":{"org":"H1"')).length, 1);
      assert.equal(session(c, 'H3/doc3'), sessionBefore, 'recording a served read never drives BMRS');
    } finally {
      c.close();
    }
  });
});

describe('health contract: writes of prepared content after its expiry', () => {
  let c: TestChain;
  before(() => {
    c = setup();
  });
  after(() => c.close());

  it('refuses createRecord/updateRecord timestamped after notAfterMs, accepts them up to it', () => {
    const args = { recordId: 'r-late', patient: PP, category: 'Observation', parts: [partFor('late', 'normal')] };
    const late = c.try('submit', DOC1, 'createRecord', { ...args, notAfterMs: c.nowMs - 1 });
    assert.notEqual(late.status, 200);
    assert.match(late.message, /prepared content of record r-late expired at 2026-01-01T.*prepare it again/);
    assert.notEqual(c.try('evaluate', DOC1, 'getRecord', { recordId: 'r-late' }).status, 200, 'nothing was written');
    const v = c.submit<Verdict>(DOC1, 'createRecord', { ...args, notAfterMs: c.nowMs });
    assert.equal(v.allowed, true, v.reasons.join('; '));
    const upd = c.try('submit', DOC1, 'updateRecord', { recordId: 'r-late', parts: [partFor('late2', 'normal')], notAfterMs: c.nowMs - 1 });
    assert.match(upd.message, /expired at/);
    assert.equal(c.evaluate<{ version: number }>(DOC1, 'getRecord', { recordId: 'r-late' }).version, 1, 'the refused update wrote nothing');
  });
});

describe('health contract: pseudonymous patients (decision 0906)', () => {
  let c: TestChain;
  before(() => {
    c = setup();
    createRecord(c, 'r1', ['normal']);
  });
  after(() => c.close());

  it('enrolment puts only the pseudonym and its hospital on chain, never a user id', () => {
    const entry = c.dump().find((e) => e.key === `pt|pp|${PP}`);
    assert.deepEqual(Object.keys(JSON.parse(entry?.value ?? '{}') as object).sort(), ['enrolledAtMs', 'org']);
    assert.equal(JSON.parse(entry!.value).org, 'H1');
    assert.ok(!c.dump().some((e) => e.key.startsWith('pt|user|')), 'no user → pseudonym entry');
    // The former argument naming the user is refused outright, not ignored.
    assert.match(c.try('submit', H1_ADMIN, 'enrolPatient', { user: 'H1/pat9', pseudonym: pseudonymFor('pat9') }).message, /Unrecognized key|user/);
    assert.match(c.try('submit', H1_ADMIN, 'enrolPatient', { pseudonym: PP }).message, /already enrolled$/);
    assert.match(c.try('submit', H2_ADMIN, 'enrolPatient', { pseudonym: PP }).message, /already enrolled by another hospital/);
    assert.equal(c.try('submit', DOC1, 'enrolPatient', { pseudonym: pseudonymFor('pat9') }).status, 403);
  });

  it('only a patient certificate of the enrolling hospital owns the pseudonym', () => {
    // Another hospital's CA issuing a certificate to H1's patient's pseudonym gains nothing.
    const impostor = `H2/${PP}:patient`;
    assert.match(
      c.try('submit', impostor, 'grantConsent', {
        patient: PP,
        grantee: { kind: 'org', org: 'H2' },
        actions: ['read'],
        purposes: ['TREAT'],
        period: { startMs: T0, endMs: T0 + DAY_MS },
        scope: { maxSensitivity: 'restricted' },
      }).message,
      /only the patient/,
    );
    assert.equal(c.submit<Verdict>(impostor, 'access', { recordId: 'r1', action: 'read', purpose: 'PATRQT' }).allowed, false);
    assert.equal(c.try('evaluate', impostor, 'auditTrail', { kind: 'patient', patient: PP }).status, 400);
    // A certificate of the old profile (login name as CN) owns nothing, even at the right hospital.
    assert.equal(c.submit<Verdict>('H1/pat1:patient', 'access', { recordId: 'r1', action: 'read', purpose: 'PATRQT' }).allowed, false);
    // A non-patient certificate whose name happens to be the pseudonym owns nothing either.
    assert.equal(c.submit<Verdict>(`H1/${PP}:nurse`, 'access', { recordId: 'r1', action: 'read', purpose: 'PATRQT' }).allowed, false);
    // The patient: own record, acting as "H1/<pseudonym>" in the audit trail.
    const own = c.submit<Verdict>(PAT, 'access', { recordId: 'r1', action: 'read', purpose: 'PATRQT' });
    assert.deepEqual(own.basis, { rule: 'own-record' });
    const log = c.evaluate<{ entries: AuditEntry[] }>(PAT, 'auditTrail', { kind: 'patient', patient: PP, pageSize: 200 });
    assert.deepEqual(log.entries.find((e) => e.auditId === own.auditId)?.actor, { org: 'H1', id: PP, role: 'patient' });
  });

  it("the applicant's view of a record application omits the owner's pseudonym; the patient still finds it", () => {
    const RES = 'H2/res1:researcher';
    const applied = c.submit<{ application: Record<string, unknown> }>(RES, 'apply', {
      target: { kind: 'record', recordId: 'r1' },
      purpose: 'HRESCH',
      actions: ['read'],
      period: { startMs: T0, endMs: T0 + 30 * DAY_MS },
    });
    assert.ok(!JSON.stringify(applied).includes(PP), `apply answers with the owner: ${JSON.stringify(applied)}`);
    assert.equal('owner' in applied.application, false);
    const mine = c.evaluate<{ applications: Array<Record<string, unknown>> }>(RES, 'listApplications', { applicant: 'H2/res1' }).applications;
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!['applicationId'], applied.application['applicationId']);
    assert.ok(!JSON.stringify(mine).includes(PP), `the applicant's listing carries the owner: ${JSON.stringify(mine)}`);
    const awaiting = c.evaluate<{ applications: Array<{ applicationId: string; owner: string; applicant: string }> }>(PAT, 'listApplications', {
      owner: PP,
    }).applications;
    assert.deepEqual(
      awaiting.map((a) => [a.applicationId, a.owner, a.applicant]),
      [[applied.application['applicationId'], PP, 'H2/res1']],
    );
    // A dataset's owner is an organisation, not a patient: the applicant sees it.
    c.submit(SUP1, 'registerDataset', {
      datasetId: 'ds-view',
      name: 'Cohort',
      columns: ['age'],
      cid: partFor('ds-view', 'normal').cid,
      sizeBytes: 10,
      recordCount: 5,
    });
    const ds = c.submit<{ application: { owner: string } }>(RES, 'apply', {
      target: { kind: 'dataset', datasetId: 'ds-view' },
      purpose: 'HRESCH',
      actions: ['statistics'],
      period: { startMs: T0, endMs: T0 + 30 * DAY_MS },
    });
    assert.equal(ds.application.owner, 'H1');
  });
});

// Decision 0909: a clinician's patients, a page at a time. The care index keeps ended relations
// and the grantee index expired consents; a fixed scan of their first 200 keys lost active patients.
describe('health contract: myPatients a page at a time', () => {
  type Mine = {
    patients: Array<{ patient: string; patientOrg: string | null; care: { startedAtMs: number } | null; consents: Array<{ consentId: string }> }>;
    bookmark: string;
  };
  const DOCTOR = 'H1/doc7:doctor';
  let c: TestChain;
  const inCare: string[] = [];
  const consenting: string[] = [];
  /** Patients whose consent names every doctor at H1 (as someone at H1, or with the role). */
  const toEveryone: string[] = [];
  before(() => {
    c = setup();
    // 210 patients taken into the doctor's care, 204 of them discharged: the six still in care
    // lie anywhere in the index (pseudonym order), most of them beyond its first 200 keys.
    for (let i = 0; i < 210; i++) {
      const p = pseudonymFor(`care-${i}`);
      c.submit(H1_ADMIN, 'enrolPatient', { pseudonym: p });
      c.submit(H1_ADMIN, 'startCare', { doctor: 'H1/doc7', patient: p });
      if (i % 35 === 0) inCare.push(p);
      else c.submit(H1_ADMIN, 'endCare', { doctor: 'H1/doc7', patient: p });
    }
    // Consents naming the doctor: from a patient also in care (one row, both bases), from two others.
    for (const p of [inCare[0]!, pseudonymFor('care-1'), pseudonymFor('care-2')]) {
      c.submit(`H1/${p}:patient`, 'grantConsent', {
        patient: p,
        grantee: { kind: 'user', user: 'H1/doc7' },
        actions: ['read'],
        purposes: ['TREAT'],
        period: { startMs: T0, endMs: T0 + 30 * DAY_MS },
        scope: { maxSensitivity: 'normal' },
      });
      consenting.push(p);
    }
    // Consents to the doctor's organisation, their role there and their role anywhere (decision
    // 0914), and two that do not reach them: to nurses at H1, to everyone at H2.
    const grant = (label: string, grantee: Record<string, string>) => {
      const p = pseudonymFor(label);
      c.submit(`H1/${p}:patient`, 'grantConsent', {
        patient: p,
        grantee,
        actions: ['read'],
        purposes: ['TREAT'],
        period: { startMs: T0, endMs: T0 + 30 * DAY_MS },
        scope: { maxSensitivity: 'normal' },
      });
      return p;
    };
    toEveryone.push(
      grant('care-3', { kind: 'org', org: 'H1' }),
      grant('care-4', { kind: 'role', role: 'doctor', org: 'H1' }),
      grant('care-5', { kind: 'role', role: 'doctor' }),
    );
    grant('care-6', { kind: 'role', role: 'nurse', org: 'H1' });
    grant('care-7', { kind: 'org', org: 'H2' });
  });
  after(() => c.close());

  /** Every page from the first, merged by patient as the console does. */
  const walk = (query: Record<string, unknown>, who = DOCTOR): { patients: Map<string, { care: boolean; consents: number }>; pages: number } => {
    const patients = new Map<string, { care: boolean; consents: number }>();
    let bookmark = '';
    let pages = 0;
    do {
      const page = c.evaluate<Mine>(who, 'myPatients', { ...query, bookmark });
      for (const p of page.patients) {
        const seen = patients.get(p.patient) ?? { care: false, consents: 0 };
        patients.set(p.patient, { care: seen.care || p.care !== null, consents: seen.consents + p.consents.length });
      }
      bookmark = page.bookmark ?? '';
      pages += 1;
      assert.ok(pages < 500, 'the bookmarks end');
    } while (bookmark !== '');
    return { patients, pages };
  };

  it('finds every patient still in care and every consent, however many relations ended before', () => {
    const expected = new Map<string, { care: boolean; consents: number }>();
    for (const p of inCare) expected.set(p, { care: true, consents: 0 });
    for (const p of consenting) expected.set(p, { care: expected.has(p), consents: 1 });
    for (const p of toEveryone) expected.set(p, { care: false, consents: 1 });
    for (const pageSize of [undefined, 7, 1, 2, 3, 200]) {
      const { patients, pages } = walk(pageSize === undefined ? {} : { pageSize });
      assert.deepEqual([...patients.entries()].sort(), [...expected.entries()].sort(), `pageSize ${pageSize}`);
      // 210 care keys, 3 user grants, one to the organisation, one to the role there, one to the
      // role anywhere: read at most pageSize a call.
      assert.ok(pages >= Math.ceil(216 / (pageSize ?? 200)), `${pages} pages of ${pageSize}`);
    }
  });

  it('names whom each consent names; reaches every doctor at H1 and no one else (decision 0914)', () => {
    const grantees = new Map<string, unknown[]>();
    let bookmark = '';
    do {
      const page = c.evaluate<{ patients: Array<{ patient: string; consents: Array<{ grantee: unknown }> }>; bookmark: string }>(DOCTOR, 'myPatients', {
        bookmark,
      });
      for (const p of page.patients) grantees.set(p.patient, [...(grantees.get(p.patient) ?? []), ...p.consents.map((x) => x.grantee)]);
      bookmark = page.bookmark;
    } while (bookmark !== '');
    const of = (label: string) => grantees.get(pseudonymFor(label));
    assert.deepEqual(of('care-1'), [{ kind: 'user', user: 'H1/doc7' }]);
    assert.deepEqual(of('care-3'), [{ kind: 'org', org: 'H1' }]);
    assert.deepEqual(of('care-4'), [{ kind: 'role', role: 'doctor', org: 'H1' }]);
    assert.deepEqual(of('care-5'), [{ kind: 'role', role: 'doctor' }]);
    const everyone = (who: string, pageSize?: number) => [...walk(pageSize ? { pageSize } : {}, who).patients.keys()].sort();
    // Another doctor at H1: the three, without doc7's care relations and user consents.
    assert.deepEqual(everyone('H1/doc8:doctor'), [...toEveryone].sort());
    assert.deepEqual(everyone('H1/doc8:doctor', 1), [...toEveryone].sort());
    // A doctor at H3: the role anywhere only; a nurse at H1: the organisation and the nurses there.
    assert.deepEqual(everyone('H3/doc1:doctor'), [pseudonymFor('care-5')]);
    assert.deepEqual(everyone('H1/nurse1:nurse'), [pseudonymFor('care-3'), pseudonymFor('care-6')].sort());
    assert.deepEqual(everyone('H2/nurse1:nurse'), [pseudonymFor('care-7')]);
  });

  it("refuses a bookmark of another query and bad page sizes by name; another hospital's doctor sees only what names them", () => {
    const refused = (q: Record<string, unknown>, pattern: RegExp) => {
      const r = c.try('evaluate', DOCTOR, 'myPatients', q);
      assert.equal(r.status, 400, JSON.stringify(q));
      assert.match(r.message, pattern);
    };
    refused({ bookmark: 'care|H1/doc1|x' }, /bookmark does not belong/);
    refused({ bookmark: 'cg|H1/doc1|x' }, /bookmark does not belong/);
    refused({ bookmark: 'cgo|H2|x' }, /bookmark does not belong/);
    refused({ bookmark: 'cgr|nurse|H1|x' }, /bookmark does not belong/);
    refused({ pageSize: 0 }, /pageSize/);
    refused({ pageSize: 201 }, /pageSize/);
    refused({ patient: PP }, /patient|Unrecognized/i);
    // A doctor at H2: the consent to every doctor and the one to everyone at H2, each whole.
    const h2 = c.evaluate<Mine>('H2/doc8:doctor', 'myPatients', {});
    assert.equal(h2.bookmark, '');
    assert.deepEqual(h2.patients.map((p) => p.patient).sort(), [pseudonymFor('care-5'), pseudonymFor('care-7')].sort());
    assert.deepEqual(
      h2.patients.find((p) => p.patient === pseudonymFor('care-5')),
      {
        patient: pseudonymFor('care-5'),
        patientOrg: 'H1',
        care: null,
        consents: [
          {
            consentId: h2.patients.find((p) => p.patient === pseudonymFor('care-5'))!.consents[0]!.consentId,
            grantee: { kind: 'role', role: 'doctor' },
            actions: ['read'],
            purposes: ['TREAT'],
            startMs: T0,
            endMs: T0 + 30 * DAY_MS,
            maxSensitivity: 'normal',
          },
        ],
      },
    );
  });
});

// Decision 0908: an owner's or an applicant's applications, a page at a time, in the order they
// were made — an owner with thousands of them used to get the range limit's error instead.
describe('health contract: applications listed a page at a time', () => {
  type Listed = { applications: Array<{ applicationId: string; status: string; appliedAtMs: number; owner?: string }>; bookmark: string };
  const RES = 'H2/res1:researcher';
  const period = { startMs: T0, endMs: T0 + 30 * DAY_MS };
  let c: TestChain;
  const made: string[] = [];
  before(() => {
    c = setup();
    createRecord(c, 'r1', ['normal']);
    for (let i = 0; i < 7; i++) {
      const a = c.submit<{ application: { applicationId: string } }>(RES, 'apply', {
        target: { kind: 'record', recordId: 'r1' },
        purpose: 'HRESCH',
        actions: ['read'],
        period,
      });
      made.push(a.application.applicationId);
    }
    c.submit(PAT, 'decideApplication', { applicationId: made[1], approve: true });
    c.submit(PAT, 'decideApplication', { applicationId: made[4], approve: false });
  });
  after(() => c.close());

  const walk = (who: string, query: Record<string, unknown>): { ids: string[]; pages: number } => {
    const ids: string[] = [];
    let bookmark = '';
    let pages = 0;
    do {
      const page = c.evaluate<Listed>(who, 'listApplications', { ...query, bookmark });
      assert.ok(page.applications.length <= ((query['pageSize'] as number | undefined) ?? 50));
      ids.push(...page.applications.map((a) => a.applicationId));
      bookmark = page.bookmark;
      pages += 1;
      assert.ok(pages < 20, 'the bookmarks end');
    } while (bookmark !== '');
    return { ids, pages };
  };

  it('pages in the order the applications were made, oldest or newest first, for the owner and the applicant', () => {
    assert.deepEqual(walk(PAT, { owner: PP, pageSize: 3 }), { ids: made, pages: 3 });
    assert.deepEqual(walk(PAT, { owner: PP, pageSize: 3, order: 'newest' }).ids, [...made].reverse());
    assert.deepEqual(walk(RES, { applicant: 'H2/res1', pageSize: 2, order: 'newest' }).ids, [...made].reverse());
    const first = c.evaluate<Listed>(PAT, 'listApplications', { owner: PP, pageSize: 2, order: 'newest' });
    assert.deepEqual(
      first.applications.map((a) => a.applicationId),
      [made[6], made[5]],
    );
    assert.notEqual(first.bookmark, '');
    // The applicant's view never names the patient's pseudonym.
    assert.ok(!JSON.stringify(c.evaluate(RES, 'listApplications', { applicant: 'H2/res1' })).includes(PP));
  });

  it('keeps one status when asked; a page then holds only the matches and still leads on', () => {
    assert.deepEqual(walk(PAT, { owner: PP, status: 'pending', order: 'newest' }).ids, [made[6], made[5], made[3], made[2], made[0]]);
    assert.deepEqual(walk(PAT, { owner: PP, status: 'approved' }).ids, [made[1]]);
    assert.deepEqual(walk(RES, { applicant: 'H2/res1', status: 'denied' }).ids, [made[4]]);
    const sparse = c.evaluate<Listed>(PAT, 'listApplications', { owner: PP, status: 'approved', pageSize: 1, order: 'newest' });
    assert.deepEqual([sparse.applications.length, sparse.bookmark !== ''], [0, true]);
  });

  it('refuses bad queries with a message naming the problem', () => {
    const bad = (who: string, q: Record<string, unknown>, pattern: RegExp) => {
      const r = c.try('evaluate', who, 'listApplications', q);
      assert.equal(r.status, 400, JSON.stringify(q));
      assert.match(r.message, pattern);
    };
    bad(PAT, { owner: PP, status: 'granted' }, /status/);
    bad(PAT, { owner: PP, order: 'sideways' }, /order/);
    bad(PAT, { owner: PP, pageSize: 0 }, /pageSize/);
    bad(PAT, { owner: PP, pageSize: 201 }, /pageSize/);
    bad(PAT, { owner: PP, bookmark: 'ax|owner|H2|t000000000000000|a1' }, /bookmark does not belong/);
    bad(PAT, { owner: PP, applicant: 'H2/res1' }, /exactly one of owner or applicant/);
    bad(PAT, {}, /exactly one of owner or applicant/);
    bad(RES, { owner: PP }, /only the owner/);
    bad(PAT, { applicant: 'H2/res1' }, /only their own/);
  });

  it("the catalogue marks an applicant's latest application pending, however many came before it", () => {
    const APPLICANT = 'H3/res9:researcher';
    const dataset = cohort;
    c.submit(SUP1, 'registerDataset', dataset('ds-old'));
    c.submit(SUP1, 'registerDataset', dataset('ds-new'));
    // More applications than listDatasets reads (500), all before the one that matters.
    for (let i = 0; i < 501; i++)
      c.submit(APPLICANT, 'apply', { target: { kind: 'dataset', datasetId: 'ds-old' }, purpose: 'HRESCH', actions: ['statistics'], period });
    c.submit(APPLICANT, 'apply', { target: { kind: 'dataset', datasetId: 'ds-new' }, purpose: 'HRESCH', actions: ['statistics'], period });
    const listed = c.evaluate<{ datasets: Array<{ datasetId: string; access: string }> }>(APPLICANT, 'listDatasets', {}).datasets;
    assert.equal(listed.find((d) => d.datasetId === 'ds-new')?.access, 'pending');
    const latest = c.evaluate<Listed>(APPLICANT, 'listApplications', { applicant: 'H3/res9', order: 'newest', pageSize: 1 }).applications[0];
    assert.equal(latest?.status, 'pending');
  });

  it('lists index entries written before the time was keyed, as the oldest', () => {
    const old = 'a-before-time-keys';
    const app = { ...c.evaluate<Listed>(PAT, 'listApplications', { owner: PP, pageSize: 1 }).applications[0]!, applicationId: old, appliedAtMs: T0 - DAY_MS };
    c.height += 1;
    const write = (key: string, value: string) => ({ ns: 'health', key, isDelete: false, value: new TextEncoder().encode(value), tx: 0 });
    c.db.applyBlock({
      number: c.height,
      blockHash: sha256(`block-${c.height}`),
      writes: [write(`app|${old}`, JSON.stringify(app)), write(`ax|owner|${PP}|${old}`, ''), write(`ax|applicant|H2/res1|${old}`, '')],
      txIndex: [],
    });
    assert.deepEqual(walk(PAT, { owner: PP, pageSize: 3 }).ids, [old, ...made]);
    assert.deepEqual(walk(RES, { applicant: 'H2/res1', pageSize: 4, order: 'newest' }).ids, [...made].reverse().concat(old));
  });
});

describe("health contract: an access check reads only its target's approvals", () => {
  type Listing = { datasets: Array<{ datasetId: string; access: string; grantedActions?: string[] }>; bookmark: string };
  const RES = 'H2/res1:researcher';
  const period = { startMs: T0, endMs: T0 + 30 * DAY_MS };
  const dataset = cohort;
  const approve = (c: TestChain, target: Record<string, string>, actions: string[], decider: string) => {
    const a = c.submit<{ application: { applicationId: string } }>(RES, 'apply', { target, purpose: 'HRESCH', actions, period });
    c.submit(decider, 'decideApplication', { applicationId: a.application.applicationId, approve: true });
  };
  const catalogue = (c: TestChain, pageSize: number): Listing['datasets'] => {
    const all: Listing['datasets'] = [];
    let bookmark = '';
    for (let pages = 0; pages < 100; pages++) {
      const page = c.evaluate<Listing>(RES, 'listDatasets', { pageSize, bookmark });
      all.push(...page.datasets);
      bookmark = page.bookmark;
      if (bookmark === '') return all;
    }
    throw new Error('the bookmarks do not end');
  };

  it('a researcher with more approvals than one scan may return (1,002) is still allowed, and sees every one approved', () => {
    const c = setup();
    try {
      createRecord(c, 'r1', ['normal']);
      approve(c, { kind: 'record', recordId: 'r1' }, ['read'], PAT);
      // Every approval ever made stays in the user's index (none is removed when it expires).
      for (let i = 0; i < 1001; i++) {
        const datasetId = `ds-${String(i).padStart(4, '0')}`;
        c.submit(SUP1, 'registerDataset', dataset(datasetId));
        approve(c, { kind: 'dataset', datasetId }, ['statistics'], SUP1);
      }
      const v = c.submit<Verdict>(RES, 'access', { recordId: 'r1', action: 'read', purpose: 'HRESCH' });
      assert.equal(v.allowed, true, v.reasons.join('; '));
      assert.equal(v.basis?.rule, 'application');
      const records = c.evaluate<{ records: Array<{ recordId: string }> }>(RES, 'listPatientRecords', { patient: PP, purpose: 'HRESCH', pageSize: 200 });
      assert.deepEqual(
        records.records.map((r) => r.recordId),
        ['r1'],
      );
      const listed = catalogue(c, 200);
      assert.equal(listed.length, 1001);
      assert.deepEqual(
        listed.filter((d) => d.access !== 'approved' || d.grantedActions?.join() !== 'statistics').map((d) => d.datasetId),
        [],
      );
    } finally {
      c.close();
    }
  });

  it('refuses by name a page whose targets hold more approvals than a listing reads (20,000)', () => {
    const c = setup();
    try {
      c.submit(SUP1, 'registerDataset', dataset('crowded'));
      // Written straight into the state: 20,001 approvals of one dataset would take minutes to decide.
      c.height += 1;
      c.db.applyBlock({
        number: c.height,
        blockHash: sha256(`block-${c.height}`),
        writes: Array.from({ length: 20_001 }, (_, i) => ({
          ns: 'health',
          key: `perm|H2/res1|d|crowded|a${String(i).padStart(6, '0')}`,
          isDelete: false,
          value: new Uint8Array(0),
          tx: 0,
        })),
        txIndex: [],
      });
      const r = c.try('evaluate', RES, 'listDatasets', {});
      assert.equal(r.status, 400);
      assert.match(r.message, /H2\/res1 has more than 20000 approved applications among the targets of this page: ask for a smaller page/);
    } finally {
      c.close();
    }
  });

  it('marks exactly the approved datasets when one id begins another (their keys sort apart)', () => {
    const c = setup();
    try {
      const ids = ['p1', 'p1-a', 'p1.b', 'p10', 'p100', 'p2'];
      for (const id of ids) c.submit(SUP1, 'registerDataset', dataset(id));
      for (const id of ['p1', 'p10', 'p2']) approve(c, { kind: 'dataset', datasetId: id }, ['statistics'], SUP1);
      approve(c, { kind: 'dataset', datasetId: 'p1.b' }, ['read'], SUP1);
      const expected = { p1: 'approved', 'p1-a': 'not-authorised', 'p1.b': 'approved', p10: 'approved', p100: 'not-authorised', p2: 'approved' };
      for (const pageSize of [1, 2, 3, 6]) {
        const listed = catalogue(c, pageSize);
        assert.deepEqual(Object.fromEntries(listed.map((d) => [d.datasetId, d.access])), expected, `pages of ${pageSize}`);
        assert.deepEqual(listed.find((d) => d.datasetId === 'p1.b')?.grantedActions, ['read']);
      }
    } finally {
      c.close();
    }
  });
});

// Issue 16, item 4: the probe of the demo consortium, on the contract. A hospital's admin put its
// own doctor in the care of another hospital's patient, and the doctor read the record.
describe('health contract: who may start a care relation (issue 16 item 4, decision 0903)', () => {
  const P = pseudonymFor('Hospital2/patient1');
  const PATIENT = `Hospital2/${P}:patient`;
  const H2_ADMIN1 = 'Hospital2/admin1:admin';
  const H3_ADMIN1 = 'Hospital3/admin1:admin';
  const H3_SUP1 = 'Hospital3/supervisor1:supervisor';
  const H3_DOCTOR2 = 'Hospital3/doctor2:doctor';
  const read = { recordId: 'h2-p1-bp', action: 'read', purpose: 'TREAT' };
  let c: TestChain;
  before(() => {
    c = new TestChain(T0);
    c.submit(H2_ADMIN1, 'initialize', { camsOrg: 'Hospital2' });
    c.submit(H2_ADMIN1, 'enrolPatient', { pseudonym: P });
    c.submit(H2_ADMIN1, 'startCare', { doctor: 'Hospital2/doctor1', patient: P });
    assert.equal(
      c.submit<Verdict>('Hospital2/doctor1:doctor', 'createRecord', {
        recordId: 'h2-p1-bp',
        patient: P,
        category: 'Observation',
        parts: [partFor('h2-p1-bp', 'normal')],
      }).allowed,
      true,
    );
  });
  after(() => c.close());

  it("refuses startCare by Hospital3's admin (or supervisor) for its doctor and Hospital2's patient; the doctor's read is denied", () => {
    const probe = c.try('submit', H3_ADMIN1, 'startCare', { doctor: 'Hospital3/doctor2', patient: P });
    assert.equal(probe.status, 400);
    assert.match(probe.message, /started by the patient, or by an admin or supervisor of the patient's own hospital for one of its own doctors/);
    assert.equal(c.try('submit', H3_SUP1, 'startCare', { doctor: 'Hospital3/doctor2', patient: P }).status, 400);
    assert.equal(
      c.dump().some((e) => e.key === `care|Hospital3/doctor2|${P}`),
      false,
      'no care relation on chain',
    );
    const v = c.submit<Verdict>(H3_DOCTOR2, 'access', read);
    assert.equal(v.allowed, false);
    assert.match(v.reasons.join('; '), /care relation: the patient is not in this doctor's care/);
  });

  it("the patient's own hospital starts care only for its own doctors", () => {
    assert.equal(c.try('submit', H2_ADMIN1, 'startCare', { doctor: 'Hospital3/doctor2', patient: P }).status, 400);
    assert.equal(
      c.dump().some((e) => e.key === `care|Hospital3/doctor2|${P}`),
      false,
    );
    c.submit('Hospital2/supervisor1:supervisor', 'startCare', { doctor: 'Hospital2/doctor2', patient: P });
    assert.deepEqual(c.submit<Verdict>('Hospital2/doctor2:doctor', 'access', read).basis, { rule: 'care-relation' });
    // The patient is told their hospital put them in a doctor's care.
    const feed = c.evaluate<{ notifications: Array<{ kind: string; actor: string }> }>(PATIENT, 'notifications', { patient: P });
    assert.ok(feed.notifications.some((n) => n.kind === 'care' && n.actor === 'Hospital2/supervisor1'));
  });

  it('the patient can start it with a doctor of any hospital; its doctor, its hospital or the patient can end it', () => {
    // doctor2's refused read above was one BMRS Violation (session 1 → 2); allowed reads keep it alive.
    c.submit(PATIENT, 'startCare', { doctor: 'Hospital3/doctor2', patient: P });
    assert.deepEqual(c.submit<Verdict>(H3_DOCTOR2, 'access', read).basis, { rule: 'care-relation' });
    c.submit(H3_ADMIN1, 'endCare', { doctor: 'Hospital3/doctor2', patient: P });
    assert.equal(c.submit<Verdict>(H3_DOCTOR2, 'access', read).allowed, false);
    assert.equal(c.try('submit', 'Hospital4/admin1:admin', 'endCare', { doctor: 'Hospital2/doctor2', patient: P }).status, 400);
  });

  it('a relation another hospital started before this rule (already on chain) opens nothing', () => {
    // The probe's relation as the earlier contract committed it (no startedByPatient field).
    const legacy = { doctor: 'Hospital3/doctor9', patient: P, active: true, startedAtMs: T0, startedBy: 'Hospital3/admin1', endedAtMs: null, endedBy: null };
    c.height += 1;
    c.db.applyBlock({
      number: c.height,
      blockHash: new Uint8Array(32).fill(9),
      writes: [{ ns: 'health', key: `care|Hospital3/doctor9|${P}`, isDelete: false, value: Buffer.from(JSON.stringify(legacy)), tx: 0 }],
      txIndex: [],
    });
    const v = c.submit<Verdict>('Hospital3/doctor9:doctor', 'access', read);
    assert.equal(v.allowed, false);
    assert.match(v.reasons.join('; '), /care relation: neither the patient nor their own hospital started it/);
  });

  it("a hospital holding a record of another hospital's patient does not let its supervisor read it", () => {
    c.submit(PATIENT, 'startCare', { doctor: 'Hospital3/doctor3', patient: P });
    assert.equal(
      c.submit<Verdict>('Hospital3/doctor3:doctor', 'createRecord', {
        recordId: 'h3-about-p',
        patient: P,
        category: 'Observation',
        parts: [partFor('h3-about-p', 'normal')],
      }).allowed,
      true,
    );
    const h3 = c.submit<Verdict>(H3_SUP1, 'access', { recordId: 'h3-about-p', action: 'read', purpose: 'HOPERAT' });
    assert.equal(h3.allowed, false);
    assert.match(h3.reasons.join('; '), /own hospital: the patient is registered with another hospital/);
    assert.equal(
      c.submit<Verdict>('Hospital2/supervisor1:supervisor', 'access', { recordId: 'h3-about-p', action: 'read', purpose: 'HOPERAT' }).allowed,
      false,
      "nor the patient hospital's supervisor: Hospital3 holds it",
    );
    assert.deepEqual(c.submit<Verdict>('Hospital2/supervisor1:supervisor', 'access', { recordId: 'h2-p1-bp', action: 'read', purpose: 'HOPERAT' }).basis, {
      rule: 'supervisor-own-hospital',
    });
  });
});
