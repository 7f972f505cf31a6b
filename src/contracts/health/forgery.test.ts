// "A forged on-chain entry is rejected at validation" (issue 6): health transactions assembled by
// hand — a write set altered after endorsement, an envelope signed by a key that is not the
// creator's, a response lifted onto another proposal, entries claiming another custodian or a
// patient the creator has no basis for — are refused by the endorsing contract or invalidated by
// every peer's validation with the documented code, and never change world state.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sha256, toHex, utf8 } from '../../codec/index.ts';
import { createConsortium } from '../../identity/index.ts';
import type { Block } from '../../ledger/block.ts';
import { TestKit, tempDir, type TestUser } from '../../testing/ledger-network.ts';
import { decodeResponse, encodeResponse, type Endorsement, type ResponsePayload } from '../../ledger/tx.ts';
import { orgNames } from '../../node/inprocess.ts';
import type { Peer } from '../../node/peer.ts';
import { healthContract } from './contract.ts';
import { partFor, pseudonymFor } from './testkit.ts';

const orgs = orgNames(3);
const [H1, H2] = orgs as [string, string, string];
const PP = pseudonymFor('forgery-patient');
const tmp = tempDir('medledger-forgery-');
let kit: TestKit;
let peers: Peer[];

function head(p: Peer): Block['header'] {
  return p.ledger.getBlock(p.ledger.height).block.header;
}

/** Cut a block of `envelopes` and commit it on every peer; every peer must decide the same codes. */
function commit(envelopes: Uint8Array[]): string[] {
  const block = kit.block(head(peers[0]!), envelopes);
  const codes = peers.map((p) =>
    p
      .deliver(block)
      .txs.map((t) => t.code)
      .join(','),
  );
  for (const c of codes) assert.equal(c, codes[0], 'every peer decides the same');
  return codes[0]!.split(',');
}

function endorsed(user: TestUser, fn: string, arg: unknown, on: readonly Peer[] = peers.slice(0, 2)) {
  const { proposal, signed } = kit.proposal(user, fn, [JSON.stringify(arg)], { contract: 'health' });
  const { response, endorsements } = kit.endorse(on, signed);
  return { proposal, signed, response, endorsements };
}

function submit(user: TestUser, fn: string, arg: unknown): Record<string, unknown> {
  const e = endorsed(user, fn, arg);
  assert.deepEqual(commit([kit.envelope(user, e.signed, e.response, e.endorsements)]), ['VALID'], fn);
  return JSON.parse(Buffer.from(decodeResponse(e.response).result.payload).toString('utf8')) as Record<string, unknown>;
}

function stateOf(p: Peer, k: string): string | undefined {
  const e = p.ledger.reader.get('health', k);
  return e ? Buffer.from(e.value).toString('utf8') : undefined;
}

/** Every peer's world state of the health namespace (keys, values, versions) — the stateHash also covers block bookkeeping. */
function stateHashes(): string[] {
  return peers.map((p) => toHex(sha256(JSON.stringify(p.ledger.reader.range('health', '', '', 1_000_000).map((e) => [e.key, toHex(e.value), e.version])))));
}

/** The response with one write's JSON value rewritten (or a write added). */
function alterWrite(responseBytes: Uint8Array, k: string, change: (value: Record<string, unknown> | null) => Record<string, unknown>): Uint8Array {
  const r = decodeResponse(responseBytes);
  const ns = r.rwset.namespaces[0]!;
  const existing = ns.writes.find((w) => w.key === k);
  const value = existing?.value ? (JSON.parse(Buffer.from(existing.value).toString('utf8')) as Record<string, unknown>) : null;
  const write = { key: k, isDelete: false, value: utf8(JSON.stringify(change(value))) };
  const writes = [...ns.writes.filter((w) => w.key !== k), write].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const forged: ResponsePayload = { ...r, rwset: { namespaces: [{ ...ns, writes }] } };
  return encodeResponse(forged);
}

before(async () => {
  const consortium = await createConsortium({
    orgs: [...orgs],
    users: [
      ...orgs.flatMap((org) => [
        { org, commonName: 'admin1', role: 'admin' as const },
        { org, commonName: 'doctor1', role: 'doctor' as const },
      ]),
      { org: H1, commonName: 'patient1', role: 'patient', pseudonym: PP },
      { org: H2, commonName: 'node1', role: 'peer' },
    ],
  });
  kit = await TestKit.create({ orgs: 3, consortium, contracts: [healthContract] });
  peers = orgs.map((org) => kit.peer(org, join(tmp.dir, org)));
  submit(kit.user(H1, 'admin1'), 'initialize', { camsOrg: H1 });
  submit(kit.user(H1, 'admin1'), 'enrolPatient', { pseudonym: PP });
  submit(kit.user(H1, 'admin1'), 'startCare', { doctor: `${H1}/doctor1`, patient: PP });
  const created = submit(kit.user(H1, 'doctor1'), 'createRecord', {
    recordId: 'held',
    patient: PP,
    category: 'Observation',
    parts: [partFor('held', 'normal')],
  });
  assert.equal(created['allowed'], true);
});
after(() => {
  for (const p of peers ?? []) p.close();
  tmp.cleanup();
});

describe('forged health transactions', () => {
  it("a write set altered after endorsement fails validation (ENDORSEMENT_POLICY_FAILURE), even re-endorsed by the forger's own peer", () => {
    const doctor = kit.user(H1, 'doctor1');
    const e = endorsed(doctor, 'createRecord', { recordId: 'f1', patient: PP, category: 'Observation', parts: [partFor('f1', 'normal')] });
    // The honest entry names Hospital1 as custodian; the forger moves it to Hospital2.
    const forged = alterWrite(e.response, 'rec|f1', (v) => ({ ...v, custodian: H2 }));
    const before = stateHashes();
    const withOriginal = kit.envelope(doctor, e.signed, forged, e.endorsements);
    // A second attempt (its own proposal: a rejected txId stays claimed) endorsed only by the forger's own peer.
    const again = endorsed(doctor, 'createRecord', { recordId: 'f1', patient: PP, category: 'Observation', parts: [partFor('f1', 'normal')] });
    const forgedAgain = alterWrite(again.response, 'rec|f1', (v) => ({ ...v, custodian: H2 }));
    const withOwnPeer = kit.envelope(doctor, again.signed, forgedAgain, [kit.endorseRaw(H1, forgedAgain)]);
    assert.deepEqual(commit([withOriginal, withOwnPeer]), ['ENDORSEMENT_POLICY_FAILURE', 'ENDORSEMENT_POLICY_FAILURE']);
    assert.deepEqual(stateHashes(), before, 'world state unchanged');
    for (const p of peers) assert.equal(stateOf(p, 'rec|f1'), undefined);
  });

  it('an envelope signed by a key that does not match its creator certificate fails validation (BAD_CREATOR_SIGNATURE)', () => {
    const doctor = kit.user(H1, 'doctor1');
    const e = endorsed(doctor, 'createRecord', { recordId: 'f2', patient: PP, category: 'Observation', parts: [partFor('f2', 'normal')] });
    const impostor: TestUser = { ...doctor, signer: kit.user(H2, 'doctor1').signer };
    const before = stateHashes();
    assert.deepEqual(commit([kit.envelope(impostor, e.signed, e.response, e.endorsements)]), ['BAD_CREATOR_SIGNATURE']);
    assert.deepEqual(stateHashes(), before);
    for (const p of peers) assert.equal(stateOf(p, 'rec|f2'), undefined);
  });

  it('an endorsed response lifted onto another proposal fails validation (BAD_RESPONSE_PAYLOAD)', () => {
    const doctor = kit.user(H1, 'doctor1');
    const honest = endorsed(doctor, 'access', { recordId: 'held', action: 'read', purpose: 'TREAT' });
    // Another doctor's proposal carrying the first doctor's endorsed (allowed) decision.
    const other = kit.user(H2, 'doctor1');
    const { signed } = kit.proposal(other, 'access', [JSON.stringify({ recordId: 'held', action: 'read', purpose: 'TREAT' })], { contract: 'health' });
    const before = stateHashes();
    assert.deepEqual(commit([kit.envelope(other, signed, honest.response, honest.endorsements)]), ['BAD_RESPONSE_PAYLOAD']);
    assert.deepEqual(stateHashes(), before);
  });

  it('claiming another organisation as custodian is refused by the contract, and a forged entry saying so fails validation', () => {
    const doctor = kit.user(H1, 'doctor1');
    // The argument schema has no custodian: the creator's organisation always is.
    assert.throws(
      () => endorsed(doctor, 'createRecord', { recordId: 'f3', patient: PP, category: 'Observation', parts: [partFor('f3', 'normal')], custodian: H2 }),
      /refused: 400 .*custodian/,
    );
    // Served reads are recorded by the custodian's node only, against an access ticket (decision
    // 1153): not by an admin, and not by another organisation's node naming a real ticket.
    const btg = endorsed(kit.user(H2, 'doctor1'), 'access', { recordId: 'held', action: 'read', purpose: 'BTG', reason: 'unconscious-no-proxy' });
    assert.deepEqual(commit([kit.envelope(kit.user(H2, 'doctor1'), btg.signed, btg.response, btg.endorsements)]), ['VALID']);
    const readEvent = { ticket: btg.proposal.txId, sensitivity: 'normal', servedDecision: 'allow', eventId: toHex(sha256('forged-read')).slice(0, 32) };
    assert.throws(() => endorsed(kit.user(H2, 'admin1'), 'recordReads', [readEvent]), /refused: 403 .*may not call health\.recordReads/);
    assert.throws(
      () => endorsed(kit.user(H2, 'node1'), 'recordReads', [readEvent]),
      /refused: 400 .*held by Hospital1; only its custodian's node records its reads/,
    );
    // Hand-made: the record entry rewritten to Hospital2 inside an honest access response of
    // Hospital2's doctor, endorsed by Hospital2's own peer only.
    const access = endorsed(kit.user(H2, 'doctor1'), 'access', { recordId: 'held', action: 'read', purpose: 'TREAT' });
    const forged = alterWrite(access.response, 'rec|held', () => ({ ...JSON.parse(stateOf(peers[0]!, 'rec|held')!), custodian: H2 }));
    const before = stateHashes();
    const sig: Endorsement[] = [kit.endorseRaw(H2, forged)];
    assert.deepEqual(commit([kit.envelope(kit.user(H2, 'doctor1'), access.signed, forged, sig)]), ['ENDORSEMENT_POLICY_FAILURE']);
    assert.deepEqual(stateHashes(), before);
    for (const p of peers) assert.equal(JSON.parse(stateOf(p, 'rec|held')!).custodian, H1);
  });

  it("a record for a patient outside the creator's care is denied by the contract; forging it in fails validation", () => {
    const stranger = kit.user(H2, 'doctor1');
    // Another hospital cannot re-enrol (and so claim) Hospital1's pseudonym.
    assert.throws(() => endorsed(kit.user(H2, 'admin1'), 'enrolPatient', { pseudonym: PP }), /refused: 400/);
    // Denied: committed as an audited denial, with no record entry.
    const e = endorsed(stranger, 'createRecord', { recordId: 'f4', patient: PP, category: 'Observation', parts: [partFor('f4', 'normal')] });
    const verdict = JSON.parse(Buffer.from(decodeResponse(e.response).result.payload).toString('utf8')) as { allowed: boolean };
    assert.equal(verdict.allowed, false);
    assert.equal(
      decodeResponse(e.response).rwset.namespaces[0]!.writes.some((w) => w.key.startsWith('rec|')),
      false,
      'the denial writes no record entry',
    );
    // The forger adds the record entry to the endorsed denial: the endorsements no longer match.
    const forged = alterWrite(e.response, 'rec|f4', () => ({
      recordId: 'f4',
      patient: PP,
      custodian: H2,
      category: 'Observation',
      sensitivity: 'normal',
      parts: [partFor('f4', 'normal')],
      version: 1,
      author: `${H2}/doctor1`,
      createdAtMs: 1,
      updatedAtMs: 1,
      txId: 'x',
    }));
    const before = stateHashes();
    assert.deepEqual(commit([kit.envelope(stranger, e.signed, forged, e.endorsements)]), ['ENDORSEMENT_POLICY_FAILURE']);
    assert.deepEqual(stateHashes(), before);
    // An honest attempt commits as a denial — an audit entry, never a record.
    assert.equal(
      submit(stranger, 'createRecord', { recordId: 'f4', patient: PP, category: 'Observation', parts: [partFor('f4', 'normal')] })['allowed'],
      false,
    );
    for (const p of peers) assert.equal(stateOf(p, 'rec|f4'), undefined);
  });
});
