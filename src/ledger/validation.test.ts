// Validation and commit through real peers: transactions endorsed by real peers (or forged by
// hand), blocks cut and signed as the solo orderer would, committed on three peers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { encode, sha256, toHex, utf8 } from '../codec/index.ts';
import type { Peer } from '../node/peer.ts';
import { BlockRejectedError } from './ledger.ts';
import { verifyLedger } from './verify.ts';
import { issueCertificate } from '../identity/index.ts';
import { parsePrivateKey, sign } from '../crypto/index.ts';
import { TestKit, tempDir } from '../testing/ledger-network.ts';
import { blockHash, type Block } from './block.ts';
import { encodeEnvelope, encodeResponse, proposalHash } from './tx.ts';
import { isBatchSignature, signBatch } from '../crypto/batch-signature.ts';
import { encodeControl } from '../consensus/gpbft/config.ts';

let kit: TestKit;
const tmp = tempDir();
let seq = 0;

function peers(k: TestKit = kit): Peer[] {
  seq += 1;
  return k.orgs.map((org) => k.peer(org, join(tmp.dir, `run${seq}`, org)));
}

function commitAll(ps: readonly Peer[], block: Block): string[] {
  const codes = ps.map((p) =>
    p
      .deliver(block)
      .txs.map((t) => t.code)
      .join(','),
  );
  // Every peer decides identically.
  for (const c of codes) assert.equal(c, codes[0]);
  return codes[0]!.split(',');
}

function head(p: Peer): Block['header'] {
  return p.ledger.getBlock(p.ledger.height).block.header;
}

function closeAll(ps: readonly Peer[]): void {
  for (const p of ps) p.close();
}

before(async () => {
  kit = await TestKit.create({ orgs: 3 });
});
after(() => tmp.cleanup());

describe('validation', () => {
  it('commits a transaction endorsed by a majority; all peers reach the same state hash', () => {
    const ps = peers();
    const alice = kit.user('Hospital1');
    const { envelope } = kit.tx(alice, ps.slice(0, 2), 'create', ['a1', 'alice', '5']);
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [envelope])), ['VALID']);
    const hashes = ps.map((p) => toHex(p.ledger.stateHash()));
    assert.equal(new Set(hashes).size, 1);
    assert.equal(Buffer.from(ps[2]!.ledger.reader.get('assets', 'a1')!.value).toString().includes('"owner":"alice"'), true);
    assert.deepEqual(ps[0]!.ledger.reader.get('assets', 'a1')!.version, { block: 1, tx: 0 });
    closeAll(ps);
  });

  it('rejects a transaction whose endorsements do not satisfy the policy', () => {
    const ps = peers();
    const { envelope } = kit.tx(kit.user('Hospital2'), ps.slice(0, 1), 'create', ['a1', 'bob', '1']);
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [envelope])), ['ENDORSEMENT_POLICY_FAILURE']);
    assert.equal(ps[0]!.ledger.reader.get('assets', 'a1'), undefined);
    // The same endorsement counted twice is still one endorser.
    const { proposal, signed } = kit.proposal(kit.user('Hospital2'), 'create', ['a2', 'bob', '1']);
    const { response, endorsements } = kit.endorse(ps.slice(0, 1), signed);
    const twice = kit.envelope(kit.user('Hospital2'), signed, response, [endorsements[0]!, endorsements[0]!]);
    const event = ps.map((p) => p.deliver(kit.block(head(p), [twice])));
    assert.equal(event[0]!.txs[0]!.code, 'ENDORSEMENT_POLICY_FAILURE');
    assert.equal(event[0]!.txs[0]!.txId, proposal.txId);
    closeAll(ps);
  });

  it('a stricter policy (all three) fails with two endorsements and passes with three', () => {
    const strict = kit.derive({ policy: "AND('Hospital1.peer', 'Hospital2.peer', 'Hospital3.peer')" });
    const ps = peers(strict);
    const u = strict.user('Hospital1');
    const two = strict.tx(u, ps.slice(0, 2), 'create', ['s1', 'x', '1']);
    const three = strict.tx(u, ps, 'create', ['s2', 'x', '1']);
    assert.deepEqual(commitAll(ps, strict.block(head(ps[0]!), [two.envelope, three.envelope])), ['ENDORSEMENT_POLICY_FAILURE', 'VALID']);
    closeAll(ps);
  });

  it('rejects a forged creator signature and a tampered payload', () => {
    const ps = peers();
    const alice = kit.user('Hospital1');
    const mallory = kit.user('Hospital2');
    const { signed } = kit.proposal(alice, 'create', ['f1', 'alice', '1']);
    const { response, endorsements } = kit.endorse(ps.slice(0, 2), signed);
    // Envelope claims alice as creator but is signed with mallory's key.
    const forged = kit.envelope({ ...alice, signer: mallory.signer }, signed, response, endorsements);
    // A structurally valid envelope whose signature bytes were altered.
    const good = kit.envelope(alice, signed, response, endorsements);
    const tampered = new Uint8Array(good);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 0xff;
    const garbage = utf8('not a transaction');
    const codes = commitAll(ps, kit.block(head(ps[0]!), [forged, tampered, garbage]));
    assert.deepEqual(codes, ['BAD_CREATOR_SIGNATURE', 'BAD_CREATOR_SIGNATURE', 'BAD_PAYLOAD']);
    // The forged copies did not claim the txId: the genuine transaction still commits.
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [good])), ['VALID']);
    closeAll(ps);
  });

  it('commits transactions signed as one batch and endorsed as one batch (decision 1384); a moved or altered batch signature fails', () => {
    const ps = peers();
    const alice = kit.user('Hospital1');
    const proposals = [0, 1, 2, 3, 4].map((i) => kit.proposal(alice, 'create', [`b${i}`, 'alice', '1']));
    // Each of two peers endorses all five proposals at once: one batch signature per peer.
    const endorsed = ps.slice(0, 2).map((p) => p.endorseMany(proposals.map((x) => x.signed)));
    for (const rs of endorsed) assert.ok(rs.every((r) => r.endorsement !== null && isBatchSignature(r.endorsement.signature)));
    const payloads = proposals.map((x, i) =>
      encode({ proposal: x.signed.proposal, response: endorsed[0]![i]!.response!, endorsements: endorsed.map((rs) => rs[i]!.endorsement!) }),
    );
    const signatures = signBatch(payloads, (m) => alice.signer.sign(m));
    const envelopes = payloads.map((payload, i) => encodeEnvelope({ payload, signature: signatures[i]! }));
    // Transaction 3 carries transaction 2's signature; transaction 4 an endorsement whose path was altered.
    const moved = encodeEnvelope({ payload: payloads[3]!, signature: signatures[2]! });
    const endorsement = endorsed[1]![4]!.endorsement!;
    const altered = endorsement.signature.slice();
    altered[altered.length - 1]! ^= 0x01;
    const alteredPayload = encode({
      proposal: proposals[4]!.signed.proposal,
      response: endorsed[0]![4]!.response!,
      endorsements: [endorsed[0]![4]!.endorsement!, { endorser: endorsement.endorser, signature: altered }],
    });
    const [alteredSignature] = signBatch([alteredPayload], (m) => alice.signer.sign(m));
    const alteredEnvelope = encodeEnvelope({ payload: alteredPayload, signature: alteredSignature! });
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [moved, alteredEnvelope, ...envelopes.slice(0, 3)])), [
      'BAD_CREATOR_SIGNATURE',
      'ENDORSEMENT_POLICY_FAILURE',
      'VALID',
      'VALID',
      'VALID',
    ]);
    // The genuine transaction 3 still commits: a copy with a bad creator signature claims nothing
    // (the creator did sign transaction 4's copy, whose txId is now taken, as in Fabric).
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), envelopes.slice(3))), ['VALID', 'DUPLICATE_TXID']);
    closeAll(ps);
  });

  it("stores a gpbft control entry (the engine's own membership step) as CONSENSUS_CONTROL, changing nothing", () => {
    const ps = peers();
    const join = encodeControl({ op: 'join', id: 'node.Hospital9', lat: 44.2, lon: -76.5, rating: 70 });
    const remove = encodeControl({ op: 'remove', id: 'node.Hospital2' });
    // Control-shaped but not a valid operation (rating out of range): just bad bytes.
    const bogus = encode({ op: 'rate', id: 'node.Hospital2', rating: 400 });
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [join, remove, bogus])), ['CONSENSUS_CONTROL', 'CONSENSUS_CONTROL', 'BAD_PAYLOAD']);
    closeAll(ps);
  });

  it('rejects a replayed txId within one block and across blocks', () => {
    const ps = peers();
    const { envelope } = kit.tx(kit.user('Hospital1'), ps.slice(0, 2), 'create', ['r1', 'alice', '1']);
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [envelope, envelope])), ['VALID', 'DUPLICATE_TXID']);
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [envelope])), ['DUPLICATE_TXID']);
    // Endorsers refuse a proposal whose txId is already on the ledger.
    const { signed } = kit.proposal(kit.user('Hospital1'), 'create', ['r2', 'alice', '1']);
    const { response, endorsements } = kit.endorse(ps.slice(0, 2), signed);
    commitAll(ps, kit.block(head(ps[0]!), [kit.envelope(kit.user('Hospital1'), signed, response, endorsements)]));
    assert.equal(ps[2]!.endorse(signed).status, 409);
    closeAll(ps);
  });

  it('detects MVCC conflicts within one block and across blocks', () => {
    const ps = peers();
    const u = kit.user('Hospital1');
    const e = ps.slice(0, 2);
    commitAll(ps, kit.block(head(ps[0]!), [kit.tx(u, e, 'create', ['m1', 'alice', '1']).envelope]));
    // Two transfers simulated against the same version, ordered into the same block.
    const t1 = kit.tx(u, e, 'transfer', ['m1', 'bob']);
    const t2 = kit.tx(u, e, 'transfer', ['m1', 'carol']);
    // Endorsed now, committed after another transfer lands: stale across blocks.
    const t3 = kit.tx(u, e, 'transfer', ['m1', 'dave']);
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [t1.envelope, t2.envelope])), ['VALID', 'MVCC_READ_CONFLICT']);
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [t3.envelope])), ['MVCC_READ_CONFLICT']);
    assert.ok(Buffer.from(ps[1]!.ledger.reader.get('assets', 'm1')!.value).toString().includes('"owner":"bob"'));
    // Reading a key that did not exist, created meanwhile: also a conflict (version absent → present).
    const c1 = kit.tx(u, e, 'create', ['m2', 'x', '1']);
    const c2 = kit.tx(u, e, 'create', ['m2', 'y', '2']);
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [c1.envelope, c2.envelope])), ['VALID', 'MVCC_READ_CONFLICT']);
    closeAll(ps);
  });

  it('detects phantom reads within one block and across blocks', () => {
    const ps = peers();
    const u = kit.user('Hospital1');
    const e = ps.slice(0, 2);
    commitAll(ps, kit.block(head(ps[0]!), [kit.tx(u, e, 'create', ['p1', 'alice', '1']).envelope]));
    // Within a block: a create inside the tallied range is ordered before the tally.
    const tally1 = kit.tx(u, e, 'tally', ['p0', 'p9']);
    const create2 = kit.tx(u, e, 'create', ['p2', 'alice', '2']);
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [create2.envelope, tally1.envelope])), ['VALID', 'PHANTOM_READ_CONFLICT']);
    // Across blocks: tally endorsed, then a create in the range commits first.
    const tally2 = kit.tx(u, e, 'tally', ['p0', 'p9']);
    const outside = kit.tx(u, e, 'tally', ['q0', 'q9']);
    commitAll(ps, kit.block(head(ps[0]!), [kit.tx(u, e, 'create', ['p3', 'alice', '3']).envelope]));
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [tally2.envelope, outside.envelope])), ['PHANTOM_READ_CONFLICT', 'VALID']);
    // A fresh tally over the same range is valid.
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [kit.tx(u, e, 'tally', ['p0', 'p9']).envelope])), ['VALID']);
    closeAll(ps);
  });

  it('marks a transaction of another consortium WRONG_CONSORTIUM (decision 1389); its own, or one naming none, commits', async () => {
    const ps = peers();
    const u = kit.user('Hospital1');
    const own = toHex(blockHash(ps[0]!.ledger.getBlock(0).block.header));
    assert.equal(ps[0]!.ledger.consortium, own);
    const other = 'ab'.repeat(32);
    // Endorsers refuse another consortium's proposal at once.
    const { signed: foreignSigned } = kit.proposal(u, 'create', ['c0', 'x', '1'], { consortium: other });
    const refused = ps[0]!.endorse(foreignSigned);
    assert.equal(refused.status, 400);
    assert.match(refused.message ?? '', /for the consortium of genesis block abababab.*not this one/);
    // Endorsed anyway (by keys that also serve the other consortium), validation refuses it on every peer.
    const craft = (key: string, consortium?: string): Uint8Array => {
      const { signed } = kit.proposal(u, 'create', [key, 'x', '1'], consortium === undefined ? {} : { consortium });
      const response = encodeResponse({
        proposalHash: proposalHash(signed.proposal),
        rwset: { namespaces: [{ namespace: 'assets', reads: [], rangeReads: [], writes: [{ key, isDelete: false, value: utf8('v') }] }] },
        result: { status: 200, message: '', payload: new Uint8Array(0) },
        event: null,
      });
      return kit.envelope(u, signed, response, [kit.endorseRaw('Hospital1', response), kit.endorseRaw('Hospital2', response)]);
    };
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [craft('c1', other), craft('c2', own), craft('c3')])), ['WRONG_CONSORTIUM', 'VALID', 'VALID']);
    assert.equal(ps[0]!.ledger.reader.get('assets', 'c1'), undefined);
    assert.equal(ps[0]!.endorse(kit.proposal(u, 'create', ['c4', 'x', '1'], { consortium: own }).signed).status, 200);
    const dir = ps[0]!.ledger.dir;
    closeAll(ps);
    // Replayed from its files, the chain re-validates to the same codes.
    const report = await verifyLedger(dir);
    assert.ok(report.ok, report.problem?.reason);
    assert.equal(report.codes.WRONG_CONSORTIUM, 1);
  });

  it('with the capability proposals-name-consortium, a proposal naming none is WRONG_CONSORTIUM too (decision 1389)', () => {
    const strict = kit.derive({ capabilities: ['proposals-name-consortium'] });
    const ps = peers(strict);
    const u = strict.user('Hospital1');
    // Endorsers refuse an unbound proposal at once; a bound one is endorsed and commits.
    const unbound = strict.proposal(u, 'create', ['u1', 'x', '1']);
    const refused = ps[0]!.endorse(unbound.signed);
    assert.equal(refused.status, 400);
    assert.match(refused.message ?? '', /names no consortium, and this consortium requires it/);
    const bound = strict.proposal(u, 'create', ['u2', 'x', '1'], { consortium: strict.consortiumHex });
    const { response, endorsements } = strict.endorse(ps.slice(0, 2), bound.signed);
    // Endorsed anyway (hand-crafted), the unbound one is refused by validation on every peer.
    const craftedResponse = encodeResponse({
      proposalHash: proposalHash(unbound.signed.proposal),
      rwset: { namespaces: [{ namespace: 'assets', reads: [], rangeReads: [], writes: [{ key: 'u1', isDelete: false, value: utf8('v') }] }] },
      result: { status: 200, message: '', payload: new Uint8Array(0) },
      event: null,
    });
    const crafted = strict.envelope(u, unbound.signed, craftedResponse, [
      strict.endorseRaw('Hospital1', craftedResponse),
      strict.endorseRaw('Hospital2', craftedResponse),
    ]);
    assert.deepEqual(commitAll(ps, strict.block(head(ps[0]!), [crafted, strict.envelope(u, bound.signed, response, endorsements)])), [
      'WRONG_CONSORTIUM',
      'VALID',
    ]);
    closeAll(ps);
  });

  it('rejects hand-crafted responses: unknown contract, foreign namespace, response for another proposal', () => {
    const ps = peers();
    const u = kit.user('Hospital1');
    const craft = (contract: string, namespace: string, hashOf?: Uint8Array): Uint8Array => {
      const { signed } = kit.proposal(u, 'create', ['h1', 'x', '1'], { contract });
      const response = encodeResponse({
        proposalHash: hashOf ?? proposalHash(signed.proposal),
        rwset: { namespaces: [{ namespace, reads: [], rangeReads: [], writes: [{ key: 'h1', isDelete: false, value: utf8('v') }] }] },
        result: { status: 200, message: '', payload: new Uint8Array(0) },
        event: null,
      });
      return kit.envelope(u, signed, response, [kit.endorseRaw('Hospital1', response), kit.endorseRaw('Hospital2', response)]);
    };
    const codes = commitAll(
      ps,
      kit.block(head(ps[0]!), [
        craft('nope', 'nope'),
        craft('assets', 'other'),
        craft('assets', 'assets', sha256(encode('another proposal'))),
        craft('assets', 'assets'),
      ]),
    );
    assert.deepEqual(codes, ['UNKNOWN_CONTRACT', 'BAD_RWSET', 'BAD_RESPONSE_PAYLOAD', 'VALID']);
    closeAll(ps);
  });

  it('judges the creator certificate at the block time (not the local clock)', async () => {
    const ps = peers();
    // A user certificate valid for one more minute; the proposal (hence the block) is dated after it.
    const issued = await issueCertificate(kit.consortium.orgCas.get('Hospital1')!, {
      commonName: 'shortlived',
      role: 'doctor',
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 60_000),
    });
    const key = parsePrivateKey(issued.keyPem);
    const u = { org: 'Hospital1', certPem: issued.certPem, signer: { sign: (m: Uint8Array) => sign(key, m) } };
    // While the certificate is valid, its transactions commit.
    assert.deepEqual(commitAll(ps, kit.block(head(ps[0]!), [kit.tx(u, ps.slice(0, 2), 'create', ['early', 'x', '1']).envelope])), ['VALID']);
    const { signed } = kit.proposal(u, 'create', ['late', 'x', '1'], { timestampMs: Date.now() + 120_000 });
    const response = encodeResponse({
      proposalHash: proposalHash(signed.proposal),
      rwset: { namespaces: [{ namespace: 'assets', reads: [], rangeReads: [], writes: [{ key: 'late', isDelete: false, value: utf8('v') }] }] },
      result: { status: 200, message: '', payload: new Uint8Array(0) },
      event: null,
    });
    const envelope = kit.envelope(u, signed, response, [kit.endorseRaw('Hospital1', response), kit.endorseRaw('Hospital2', response)]);
    const block = kit.block(head(ps[0]!), [envelope]);
    assert.ok(block.header.timestampMs > Date.now() + 60_000);
    const events = ps.map((p) => p.deliver(block));
    assert.equal(events[0]!.txs[0]!.code, 'BAD_CREATOR_SIGNATURE');
    assert.match(events[0]!.txs[0]!.reason, /expire|valid/i);
    closeAll(ps);
  });

  it('refuses blocks that break the chain or lack a valid orderer signature', () => {
    const ps = peers();
    const p = ps[0]!;
    const good = kit.block(head(p), []);
    const wrongLink: Block = { ...good, header: { ...good.header, previousHash: new Uint8Array(32) } };
    const unsigned: Block = { ...good, metadata: { ...good.metadata, signatures: [] } };
    const badSig: Block = { ...good, metadata: { ...good.metadata, signatures: [{ ordererId: kit.ordererId, signature: new Uint8Array(64) }] } };
    const wrongTime: Block = { ...good, header: { ...good.header, timestampMs: good.header.timestampMs + 1 } };
    for (const b of [wrongLink, unsigned, badSig, wrongTime]) assert.throws(() => p.deliver(b), BlockRejectedError);
    assert.equal(p.height, 0);
    p.deliver(good);
    assert.equal(p.height, 1);
    assert.throws(() => p.deliver(good), /does not follow/);
    closeAll(ps);
  });
});
