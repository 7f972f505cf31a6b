import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesEqual, decode, encode } from '../../codec/index.ts';
import { batchDigest } from '../digest.ts';
import { getEngine } from '../registry.ts';
import { verifyPbftCertificate, quorumSize, faultsTolerated } from './certificate.ts';
import { pbftByzantine, resignAs } from './byzantine.ts';
import { signingBytes, type NewViewMsg, type PrePrepareMsg } from './messages.ts';
import { NULL_DIGEST } from './engine.ts';
import { Cluster, proposal } from './cluster.testkit.ts';
import { SeededRng } from '../rng.ts';
import './index.ts';

const FAST = { viewChangeTimeoutTicks: 10, retransmitTicks: 2 };

function submit(c: Cluster, count: number, at: (i: number) => string = (i) => c.ids[i % c.ids.length]!, client = 'c'): void {
  for (let i = 1; i <= count; i++) c.propose(at(i), proposal(client, i));
}

describe('pbft: registration and quorums', () => {
  it('registers as a byzantine engine with f = floor((n-1)/3) and nodesMin 4', () => {
    const def = getEngine('pbft');
    assert.equal(def.faultModel, 'byzantine');
    assert.equal(def.nodesMin, 4);
    assert.deepEqual(
      [4, 5, 6, 7, 10].map((n) => def.faultsTolerated(n)),
      [1, 1, 1, 2, 3],
    );
    assert.ok(def.byzantine && def.verifyCertificate);
  });

  it('uses quorums that intersect in a correct replica for every n', () => {
    for (let n = 1; n <= 30; n++) {
      const q = quorumSize(n);
      assert.ok(2 * q - n >= faultsTolerated(n) + 1, `n=${n}`);
      assert.ok(q <= n - faultsTolerated(n), `n=${n}: quorum must be reachable with f silent`);
    }
    assert.equal(quorumSize(4), 3);
    assert.equal(quorumSize(7), 5);
  });

  it('rejects unknown or invalid options with a clear error', () => {
    assert.throws(() => new Cluster({ options: { checkpointIntervall: 3 } }), /unknown pbft option "checkpointIntervall"/);
    assert.throws(() => new Cluster({ options: { checkpointInterval: 4, logWindow: 6 } }), /multiple of checkpointInterval/);
  });
});

describe('pbft: normal case', () => {
  it('orders requests submitted at any replica into identical, certified, gapless blocks', () => {
    const c = new Cluster({ options: FAST });
    submit(c, 22);
    c.tick(5);
    for (const id of c.ids) {
      assert.equal(c.decidedKeys(id).length, 22, `${id} decided everything`);
      c.decided.get(id)!.forEach((b, i) => assert.equal(b.height, i + 1));
    }
    c.assertAgreement();
    const def = getEngine('pbft');
    for (const b of c.decided.get('n2')!) {
      assert.ok(b.certificate);
      assert.equal(b.certificate.scheme, 'pbft-commit');
      assert.equal(b.certificate.fields.seq, b.height);
      assert.equal(b.certificate.signatures.length, 3);
      assert.ok(verifyPbftCertificate(b, b.certificate, c.keys.verifier, c.ids));
      assert.ok(def.verifyCertificate!(b, c.ids, c.keys.verifier));
    }
    assert.equal(c.engine('n0').status().role, 'primary');
    assert.equal(c.engine('n1').status().leader, 'n0');
  });

  it('rejects tampered certificates', () => {
    const c = new Cluster({ options: FAST });
    submit(c, 3);
    c.tick(3);
    const b = c.decided.get('n1')![0]!;
    const cert = b.certificate!;
    const v = c.keys.verifier;
    assert.ok(verifyPbftCertificate(b, cert, v, c.ids));
    assert.equal(verifyPbftCertificate(b, { ...cert, signatures: cert.signatures.slice(0, 2) }, v, c.ids), false, 'below quorum');
    assert.equal(
      verifyPbftCertificate(b, { ...cert, signatures: [cert.signatures[0]!, cert.signatures[0]!, cert.signatures[1]!] }, v, c.ids),
      false,
      'duplicate signer',
    );
    assert.equal(verifyPbftCertificate(b, { ...cert, fields: { ...cert.fields, view: 1 } }, v, c.ids), false, 'other view');
    const otherBlock = { ...b, proposals: [proposal('evil', 1)] };
    assert.equal(verifyPbftCertificate(otherBlock, cert, v, c.ids), false, 'other proposals');
    assert.equal(verifyPbftCertificate(b, cert, v, ['n0', 'n1', 'x', 'y']), false, 'non-members');
  });

  it('works with real ECDSA P-256 keys', () => {
    const c = new Cluster({ options: FAST, crypto: 'ecdsa' });
    submit(c, 5);
    c.tick(4);
    for (const id of c.ids) assert.equal(c.decidedKeys(id).length, 5);
    c.assertAgreement();
    const b = c.decided.get('n3')![0]!;
    assert.ok(verifyPbftCertificate(b, b.certificate!, c.keys.verifier, c.ids));
  });

  it('n = 7 tolerates f = 2 silent replicas, including the primary', () => {
    const c = new Cluster({ n: 7, options: FAST });
    c.down.add('n0');
    c.down.add('n5');
    submit(c, 6, (i) => c.ids[1 + (i % 4)]!);
    c.tick(40);
    const live = ['n1', 'n2', 'n3', 'n4', 'n6'];
    for (const id of live) {
      assert.equal(c.decidedKeys(id).length, 6, `${id} decided all`);
      assert.equal(c.decided.get(id)![0]!.certificate!.signatures.length, 5);
    }
    c.assertAgreement(live);
  });

  it('keeps deciding with f = 1 silent backup', () => {
    const c = new Cluster({ options: FAST });
    c.down.add('n3');
    submit(c, 12, (i) => c.ids[i % 3]!);
    c.tick(5);
    for (const id of ['n0', 'n1', 'n2']) assert.equal(c.decidedKeys(id).length, 12);
    assert.equal(c.engine('n0').status().epoch, 0, 'no view change needed');
    c.assertAgreement();
  });
});

describe('pbft: lossy network', () => {
  it('retransmission (STATUS, commit certificates, state transfer) decides everything despite 25% loss and duplicates', () => {
    const c = new Cluster({ options: { ...FAST, checkpointInterval: 4, logWindow: 8 }, cutter: { countMax: 2 } });
    const rng = new SeededRng(42);
    c.interceptor = (env) => {
      const r = rng.nextFloat();
      if (r < 0.25) return false;
      if (r > 0.95) return [env, env];
      return true;
    };
    for (let i = 1; i <= 30; i++) {
      c.propose(c.ids[i % 4]!, proposal('c', i));
      if (i % 3 === 0) c.tick(1);
    }
    c.tick(150);
    for (const id of c.ids) assert.equal(c.decidedKeys(id).length, 30, `${id} decided all`);
    c.assertAgreement();
  });
});

describe('pbft: bad input is dropped and counted, never thrown', () => {
  it('ignores forged signatures, non-members, wrong views and malformed messages', () => {
    const c = new Cluster({ options: FAST });
    c.propose('n0', proposal('c', 1));
    c.tick(2);
    const e = c.engine('n1');
    const before = c.height('n1');
    const digest = batchDigest([proposal('x', 1)]);
    const forged: PrePrepareMsg = { type: 'pbft/pre-prepare', view: 0, seq: 2, digest, replica: 'n0', sig: new Uint8Array(32), batch: [proposal('x', 1)] };
    e.step('n0', forged);
    assert.equal(e.stats.dropped.badSignature, 1);
    // n2 signs a pre-prepare as itself: not the primary.
    const byN2 = resignAs(forged, c.keys.signerOf('n2'));
    e.step('n2', byN2);
    assert.equal(e.stats.dropped.wrongPrimary, 1);
    // From a non-member transport peer, or naming a non-member replica.
    e.step('intruder', byN2);
    e.step('n2', { ...byN2, replica: 'intruder' });
    assert.equal(e.stats.dropped.nonMember, 2);
    // Wrong view, inconsistent digest (validly signed by the primary).
    const primary = c.keys.signerOf('n0');
    e.step('n0', resignAs({ ...forged, view: 3 }, primary));
    assert.equal(e.stats.dropped.wrongView, 1);
    e.step('n0', resignAs({ ...forged, digest: batchDigest([]) }, primary));
    assert.equal(e.stats.dropped.badDigest, 1);
    for (const junk of [null, 7, 'x', {}, { type: 'pbft/prepare' }, { type: 'pbft/pre-prepare', view: -1 }, { type: 'nope' }, []]) {
      e.step('n0', junk as never);
    }
    assert.equal(e.stats.dropped.malformed, 8);
    c.deliver();
    assert.equal(c.height('n1'), before, 'nothing was decided from bad input');
  });

  it('enforces size limits on batches, requests, view changes and transferred state', () => {
    const c = new Cluster({
      options: { ...FAST, rebroadcastMax: 3, stateBytesMax: 2048, checkpointInterval: 2, logWindow: 2 },
      cutter: { countMax: 2, sizeBytesMax: 100 },
    });
    const e = c.engine('n1');
    const n0 = c.keys.signerOf('n0');
    const big = [proposal('a', 1), proposal('a', 2), proposal('a', 3)];
    e.step(
      'n0',
      resignAs({ type: 'pbft/pre-prepare', view: 0, seq: 1, digest: batchDigest(big), replica: 'n0', sig: new Uint8Array(0), batch: big } as PrePrepareMsg, n0),
    );
    const fat = [{ clientId: 'a', seq: 1, data: new Uint8Array(101) }];
    e.step(
      'n0',
      resignAs({ type: 'pbft/pre-prepare', view: 0, seq: 1, digest: batchDigest(fat), replica: 'n0', sig: new Uint8Array(0), batch: fat } as PrePrepareMsg, n0),
    );
    const many = [1, 2, 3, 4].map((i) => proposal('r', i));
    e.step('n0', resignAs({ type: 'pbft/request', replica: 'n0', proposals: many, sig: new Uint8Array(0) }, n0));
    const certs = [1, 2, 3].map((s) => ({
      prePrepare: { type: 'pbft/pre-prepare' as const, view: 0, seq: s, digest: NULL_DIGEST, replica: 'n0', sig: new Uint8Array(32) },
      batch: [],
      prepares: [],
    }));
    e.step(
      'n0',
      resignAs(
        {
          type: 'pbft/view-change',
          view: 1,
          stableSeq: 0,
          stableBlockDigest: new Uint8Array(32),
          stableStateDigest: new Uint8Array(32),
          checkpointProof: [],
          prepared: certs,
          replica: 'n0',
          sig: new Uint8Array(0),
        },
        n0,
      ),
    );
    e.step(
      'n0',
      resignAs(
        {
          type: 'pbft/state',
          seq: 2,
          blockDigest: new Uint8Array(32),
          stateDigest: new Uint8Array(32),
          proof: [],
          dedup: new Uint8Array(4096),
          replica: 'n0',
          sig: new Uint8Array(0),
        },
        n0,
      ),
    );
    assert.equal(e.stats.dropped.malformed, 5);
    assert.equal(e.inspect().slotSeqs.length, 0);
    assert.equal(e.inspect().pendingRequests, 0);
  });

  it('answers a mutated message with a drop (sequence out of window, wrong digest)', () => {
    const c = new Cluster({ options: { ...FAST, checkpointInterval: 2, logWindow: 4 } });
    const e = c.engine('n2');
    const rng = new SeededRng(7);
    const batch = [proposal('c', 1)];
    const good = resignAs(
      { type: 'pbft/pre-prepare', view: 0, seq: 1, digest: batchDigest(batch), replica: 'n0', sig: new Uint8Array(0), batch } as PrePrepareMsg,
      c.keys.signerOf('n0'),
    );
    e.step('n0', resignAs({ ...good, seq: 5 }, c.keys.signerOf('n0')));
    assert.equal(e.stats.dropped.outOfWindow, 1, 'seq beyond H = h + L');
    for (let i = 0; i < 20; i++) {
      const m = pbftByzantine.mutate(good, rng, c.keys.signerOf('n0'))!;
      assert.ok(c.keys.verifier.verify('n0', signingBytes(m), m.sig), 'mutations are validly signed');
      e.step('n0', m);
    }
    e.step('n0', good);
    const s = e.stats.dropped;
    assert.ok(s.wrongView + s.badDigest + s.conflict > 0);
  });
});

describe('pbft: view change', () => {
  it('an equivocating primary causes a view change and no disagreement', () => {
    const c = new Cluster({ options: FAST });
    c.byzantine.add('n0');
    const rng = new SeededRng(3);
    const signer = c.keys.signerOf('n0');
    // n0 (primary) sends n1 and n2 conflicting variants of every pre-prepare: no digest can
    // gather a prepare quorum, so the backups time out and vote n0 out.
    c.interceptor = (env) => {
      if (env.from === 'n0' && env.message.type === 'pbft/pre-prepare' && env.message.view === 0 && env.to !== 'n3') {
        const alt = pbftByzantine.equivocate(env.message, rng, signer);
        return alt ? [{ ...env, message: alt }] : true;
      }
      return true;
    };
    submit(c, 6, (i) => c.ids[1 + (i % 3)]!);
    c.tick(60);
    const correct = ['n1', 'n2', 'n3'];
    for (const id of correct) {
      assert.ok(c.engine(id).status().epoch >= 1, `${id} moved to a new view`);
      assert.equal(c.decidedKeys(id).length, 6, `${id} decided all requests`);
    }
    c.assertAgreement(correct);
  });

  it('preserves prepared requests across a view change (and fills gaps with null requests)', () => {
    const c = new Cluster({ options: FAST });
    // Commits are lost: requests prepare everywhere but commit nowhere; then the primary dies.
    c.interceptor = (env) => env.message.type !== 'pbft/commit';
    c.propose('n0', proposal('c', 1));
    c.propose('n0', proposal('c', 2));
    c.tick(1);
    const prepared = c.engine('n1').inspect().preparedSeqs;
    assert.deepEqual(prepared, [1], 'one batch prepared');
    assert.equal(c.height('n1'), 0);
    c.crash('n0');
    // View-0 commits stay lost, so the request can only be decided through the view change.
    c.interceptor = (env) => env.message.type !== 'pbft/commit' || env.message.view > 0;
    c.tick(30);
    for (const id of ['n1', 'n2', 'n3']) {
      const blocks = c.decided.get(id)!;
      assert.ok(blocks.length >= 1);
      assert.equal(blocks[0]!.certificate!.fields.view, 1, 're-proposed in view 1');
      assert.deepEqual(
        blocks[0]!.proposals.map((p) => p.seq),
        [1, 2],
        'same batch at the same sequence number',
      );
      assert.equal(c.engine(id).status().leader, 'n1');
    }
    c.assertAgreement(['n1', 'n2', 'n3']);
  });

  it('NEW-VIEW with a tampered O is rejected; the genuine one is accepted', () => {
    const c = new Cluster({ options: FAST });
    c.interceptor = (env) => env.message.type !== 'pbft/commit';
    c.propose('n0', proposal('c', 1));
    c.tick(1);
    c.crash('n0');
    let captured: NewViewMsg | null = null;
    c.interceptor = (env) => {
      if (env.message.type === 'pbft/new-view' && env.to === 'n2') {
        captured = env.message;
        return false;
      }
      return env.message.type !== 'pbft/commit';
    };
    c.tick(12);
    assert.ok(captured, 'n1 sent a NEW-VIEW');
    const nv: NewViewMsg = captured;
    const e2 = c.engine('n2');
    assert.equal(e2.status().role, 'view-change');
    const n1 = c.keys.signerOf('n1');
    // O replaces the prepared request by a null request: validly signed by the new primary.
    const badHeader = resignAs({ ...nv.prePrepares[0]!, digest: NULL_DIGEST }, n1);
    const tampered = resignAs({ ...nv, prePrepares: [badHeader] }, n1);
    e2.step('n1', tampered);
    assert.equal(e2.stats.dropped.badNewView, 1);
    const dropped = resignAs({ ...nv, prePrepares: [] }, n1);
    e2.step('n1', dropped);
    assert.equal(e2.stats.dropped.badNewView, 2);
    assert.equal(e2.status().role, 'view-change');
    e2.step('n1', nv);
    assert.equal(e2.status().role, 'backup');
    assert.equal(e2.status().epoch, 1);
  });

  it('doubles the view-change timeout with each consecutive view change', () => {
    const c = new Cluster({ options: { viewChangeTimeoutTicks: 8, retransmitTicks: 1000 } });
    // No NEW-VIEW ever arrives: every view change times out.
    c.interceptor = (env) => env.message.type !== 'pbft/new-view' && env.message.type !== 'pbft/pre-prepare';
    c.propose('n1', proposal('c', 1));
    const starts: number[] = [];
    let lastView = 0;
    for (let t = 1; t <= 8 + 8 + 16 + 32 + 5; t++) {
      c.tick(1);
      const v = c.engine('n2').status().epoch;
      if (v !== lastView) {
        starts.push(t);
        lastView = v;
      }
    }
    assert.deepEqual(starts.length, 4, `view changes at ticks ${starts.join(',')}`);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    assert.deepEqual(gaps, [8, 16, 32]);
    assert.equal(c.engine('n2').inspect().timeoutTicks, 64);
  });

  it('joins a view change when f+1 others are ahead', () => {
    const c = new Cluster({ options: { viewChangeTimeoutTicks: 1000, retransmitTicks: 1000 } });
    c.propose('n0', proposal('c', 1));
    c.tick(2);
    // Force two replicas (f+1) into a view change; n3 has no timeout of its own yet.
    const forced = ['n1', 'n2'];
    for (const id of forced) {
      (c.engine(id) as unknown as { startViewChange(v: number): void }).startViewChange(1);
    }
    c.deliver();
    for (const id of c.ids) assert.equal(c.engine(id).status().epoch, 1, `${id} in view 1`);
    assert.equal(c.engine('n3').status().leader, 'n1');
    c.propose('n3', proposal('c', 2));
    c.tick(3);
    for (const id of c.ids) assert.equal(c.decidedKeys(id).length, 2);
  });

  it("a replica that moved on to a later view keeps the others' view-change timers running", () => {
    const c = new Cluster({ options: { viewChangeTimeoutTicks: 10, retransmitTicks: 1000 } });
    c.crash('n1'); // primary of view 1
    // n0 (primary of view 0) cannot get anything ordered: everyone times out to view 1.
    c.interceptor = (env) => !(env.message.type === 'pbft/pre-prepare' && env.message.view === 0);
    c.propose('n2', proposal('c', 1));
    c.propose('n0', proposal('c', 2));
    c.tick(11);
    for (const id of ['n0', 'n2', 'n3']) assert.equal(c.engine(id).status().epoch, 1, `${id} changing to view 1`);
    // n0 leaves for view 2 early; n2 and n3 must still time out of view 1 (q = 3 counts n0).
    (c.engine('n0') as unknown as { startViewChange(v: number): void }).startViewChange(2);
    c.deliver();
    c.tick(25);
    for (const id of ['n0', 'n2', 'n3']) {
      assert.equal(c.engine(id).status().epoch, 2, `${id} in view 2`);
      assert.equal(c.engine(id).status().leader, 'n2');
    }
    for (const id of ['n0', 'n2', 'n3']) assert.deepEqual(c.decidedKeys(id).sort(), ['c#1', 'c#2']);
  });

  it('a single replica alone does not drag the others into a view change', () => {
    const c = new Cluster({ options: { viewChangeTimeoutTicks: 1000, retransmitTicks: 3 } });
    (c.engine('n3') as unknown as { startViewChange(v: number): void }).startViewChange(1);
    c.deliver();
    c.tick(10);
    assert.equal(c.engine('n1').status().epoch, 0);
    assert.equal(c.engine('n3').status().role, 'view-change');
    // It still decides through commit certificates while the others carry on.
    submit(c, 4, () => 'n0');
    c.tick(10);
    assert.equal(c.decidedKeys('n3').length, 4);
    c.assertAgreement();
  });
});

describe('pbft: a silent primary under no load (issue 11)', () => {
  const QUIET = { ...FAST, silentPrimaryTimeoutTicks: 20 };
  const stats = (c: Cluster, id: string): { viewChangesStarted: number; silentPrimaryViewChanges: number } => c.engine(id).stats;

  it('a crashed primary is replaced without any client request, and the new view orders at once', () => {
    const c = new Cluster({ options: QUIET });
    c.tick(5);
    c.crash('n0');
    c.tick(100);
    for (const id of ['n1', 'n2', 'n3']) {
      const st = c.engine(id).status();
      assert.ok(st.epoch >= 1 && st.leader !== null && st.leader !== 'n0', `${id} is in view ${st.epoch} led by ${st.leader}`);
      assert.ok(stats(c, id).silentPrimaryViewChanges >= 1, `${id} noticed the silence itself`);
    }
    submit(c, 3, () => 'n2');
    c.tick(5);
    for (const id of ['n1', 'n2', 'n3']) assert.equal(c.decidedKeys(id).length, 3);
    c.assertAgreement(['n1', 'n2', 'n3']);
  });

  it('a live, idle primary is never voted out (its STATUS messages are its heartbeat)', () => {
    const c = new Cluster({ options: QUIET });
    c.tick(400);
    for (const id of c.ids) {
      assert.equal(c.engine(id).status().epoch, 0);
      assert.equal(stats(c, id).viewChangesStarted, 0);
    }
  });

  it('a backup cut off from everyone does not wander into a view change alone', () => {
    const c = new Cluster({ options: QUIET });
    c.tick(5);
    c.interceptor = (env) => env.from !== 'n3' && env.to !== 'n3';
    c.tick(400);
    assert.equal(stats(c, 'n3').viewChangesStarted, 0, 'it hears no other backup either, so it blames nobody');
    for (const id of ['n0', 'n1', 'n2']) assert.equal(c.engine(id).status().epoch, 0);
  });
});

describe('pbft: checkpoints, watermarks, state transfer', () => {
  const CK = { ...FAST, checkpointInterval: 5, logWindow: 10 };

  it('makes checkpoints stable at 2f+1 and garbage-collects the log below them', () => {
    const c = new Cluster({ options: CK, cutter: { countMax: 1 } });
    submit(c, 12);
    c.tick(5);
    for (const id of c.ids) {
      const s = c.engine(id).inspect();
      assert.equal(s.executedSeq, 12);
      assert.equal(s.stableSeq, 10);
      assert.equal(s.lowWatermark, 10);
      assert.equal(s.highWatermark, 20);
      assert.ok(
        s.slotSeqs.every((q) => q > 10),
        `${id} slots ${s.slotSeqs.join(',')}`,
      );
      assert.ok(s.preparedSeqs.every((q) => q > 10));
      const disk = c.storage.get(id)!;
      const executedOnDisk = disk.keysWithPrefix('pbft/x/').map((k) => Number(k.slice('pbft/x/'.length)));
      assert.deepEqual(executedOnDisk, [11, 12], 'executed batches above the base only');
      assert.ok(disk.keysWithPrefix('pbft/s/').every((k) => Number(k.slice(7)) > 10));
      assert.ok(disk.keysWithPrefix('pbft/p/').every((k) => Number(k.slice(7)) > 10));
    }
    c.assertAgreement();
  });

  it('the primary never assigns sequence numbers above the high watermark', () => {
    const c = new Cluster({ options: { ...CK, viewChangeTimeoutTicks: 10_000 }, cutter: { countMax: 1 } });
    // Checkpoint messages are lost: h stays 0, H stays 10.
    c.interceptor = (env) => env.message.type !== 'pbft/checkpoint' && env.message.type !== 'pbft/status';
    submit(c, 15, () => 'n0');
    c.tick(5);
    const p = c.engine('n0').inspect();
    assert.equal(p.stableSeq, 0);
    assert.equal(p.nextSeq, 11, 'stopped at H = 10');
    assert.equal(c.height('n1'), 10);
    // A pre-prepare above H is dropped by backups.
    const batch = [proposal('z', 1)];
    const pp = resignAs(
      { type: 'pbft/pre-prepare', view: 0, seq: 11, digest: batchDigest(batch), replica: 'n0', sig: new Uint8Array(0), batch } as PrePrepareMsg,
      c.keys.signerOf('n0'),
    );
    c.engine('n1').step('n0', pp);
    assert.equal(c.engine('n1').stats.dropped.outOfWindow, 1);
    // Checkpoints get through: the window moves and the rest is ordered.
    c.interceptor = null;
    c.tick(10);
    for (const id of c.ids) assert.equal(c.decidedKeys(id).length, 15);
  });

  it('transfers state to a replica partitioned past a stable checkpoint', () => {
    const c = new Cluster({ options: CK, cutter: { countMax: 1 } });
    c.down.add('n3');
    submit(c, 17, (i) => c.ids[i % 3]!);
    c.tick(5);
    assert.equal(c.engine('n0').inspect().stableSeq, 15);
    assert.equal(c.height('n3'), 0);
    c.down.delete('n3');
    c.tick(10);
    const r = c.restores.get('n3')!;
    assert.equal(r.length, 1);
    assert.equal(r[0]!.height, 15, 'restored to the proven stable checkpoint');
    assert.ok(bytesEqual(r[0]!.digest, c.decided.get('n0')![14]!.digest));
    assert.equal(c.engine('n3').inspect().executedSeq, 17, 'then executed 16 and 17 from commit certificates');
    assert.equal(c.height('n3'), 17);
    c.assertAgreement();
    // And keeps participating: de-duplication state came with the transfer.
    c.propose('n3', proposal('c', 5));
    c.propose('n3', proposal('c', 18));
    c.tick(3);
    for (const id of c.ids) assert.equal(c.decidedKeys(id).length, 18);
    assert.ok(c.engine('n3').stats.stateTransfers >= 1);
  });

  it('rejects state whose proof or digest does not check out', () => {
    const c = new Cluster({ options: CK, cutter: { countMax: 1 } });
    c.down.add('n3');
    submit(c, 10, (i) => c.ids[i % 3]!);
    c.tick(3);
    let state = null as unknown as import('./messages.ts').StateMsg;
    c.down.delete('n3');
    c.interceptor = (env) => {
      if (env.message.type === 'pbft/state') {
        state = env.message;
        return false;
      }
      return true;
    };
    c.tick(4);
    assert.ok(state);
    const e3 = c.engine('n3');
    const signer = c.keys.signerOf(state.replica);
    e3.step(state.replica, resignAs({ ...state, proof: state.proof.slice(0, 2) }, signer));
    assert.equal(e3.stats.dropped.badProof, 1);
    e3.step(state.replica, resignAs({ ...state, dedup: new Uint8Array([0x80]) }, signer));
    assert.equal(e3.stats.dropped.badDigest, 1);
    assert.equal(e3.inspect().executedSeq, 0);
    e3.step(state.replica, state);
    assert.equal(e3.inspect().executedSeq, 10);
  });
});

describe('pbft: persistence and restart', () => {
  it('a crashed replica restarts from its persisted state and rejoins without conflicting messages', () => {
    const c = new Cluster({ options: { ...FAST, checkpointInterval: 5, logWindow: 10 }, cutter: { countMax: 1 } });
    submit(c, 7);
    c.tick(2);
    c.crash('n2');
    c.restart('n2');
    assert.equal(c.engine('n2').inspect().executedSeq, 7);
    assert.equal(c.engine('n2').inspect().stableSeq, 5);
    // The rest continue; the restarted node keeps up.
    for (let i = 8; i <= 14; i++) c.propose(c.ids[i % 4]!, proposal('c', i));
    c.tick(4);
    for (const id of c.ids) assert.equal(c.decidedKeys(id).length, 14);
    c.assertAgreement();
  });

  it('restarting every replica mid-protocol (even the primary, during a view change) is safe', () => {
    const c = new Cluster({ options: FAST });
    c.interceptor = (env) => env.message.type !== 'pbft/commit';
    c.propose('n0', proposal('c', 1));
    c.tick(1);
    c.crash('n0');
    c.tick(11); // view change to 1 starts
    for (const id of ['n1', 'n2', 'n3']) {
      c.crash(id);
      c.restart(id);
    }
    c.interceptor = null;
    c.restart('n0');
    c.tick(30);
    for (const id of c.ids) assert.deepEqual(c.decidedKeys(id), ['c#1']);
    c.assertAgreement();
  });

  it('re-delivers decided blocks the application had not applied before the crash', () => {
    const c = new Cluster({ options: { ...FAST, checkpointInterval: 5, logWindow: 10 }, cutter: { countMax: 1 } });
    submit(c, 7);
    c.tick(2);
    c.crash('n1');
    c.decided.set('n1', c.decided.get('n1')!.slice(0, 6)); // the app lost block 7
    c.restart('n1');
    assert.equal(c.height('n1'), 7);
    c.decided.set('n1', c.decided.get('n1')!.slice(0, 3)); // lost blocks 4..7: below the base (5)
    c.crash('n1');
    c.restart('n1');
    assert.equal(c.restores.get('n1')!.at(-1)!.height, 5);
    assert.equal(c.height('n1'), 7);
    c.assertAgreement();
  });
});

describe('pbft: data directories written before the wire types were prefixed (decision 1404)', () => {
  /** Rewrite every stored value of a replica the way it was written before: bare message types. */
  function downgrade(c: Cluster, id: string): number {
    const storage = c.storage.get(id)!;
    let bare = 0;
    const strip = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(strip);
      if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return v;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === 'type' && typeof x === 'string' && x.startsWith('pbft/')) {
          out[k] = x.slice('pbft/'.length);
          bare++;
        } else out[k] = strip(x);
      }
      return out;
    };
    const keys = storage.keysWithPrefix('');
    storage.apply(keys.map((key) => ({ op: 'put', key, value: encode(strip(decode(storage.get(key)!))) })));
    return bare;
  }

  it('signs the bare type, so signatures (and the commit certificates of stored blocks) are unchanged', () => {
    const digest = new Uint8Array(32).fill(1);
    assert.deepEqual(
      signingBytes({ type: 'pbft/commit', view: 2, seq: 3, digest, replica: 'n1', sig: new Uint8Array(0) }),
      encode(['medledger/pbft/v1', 'commit', 2, 3, digest, 'n1']),
    );
    const req = { type: 'pbft/request', replica: 'n1', proposals: [proposal('c', 1)], sig: new Uint8Array(1) } as const;
    assert.deepEqual(signingBytes(req), encode({ domain: 'medledger/pbft/v1', body: { type: 'request', replica: 'n1', proposals: req.proposals } }));
  });

  it('restores checkpoints, executed batches and a view change stored with bare types, and goes on', () => {
    const c = new Cluster({ options: { ...FAST, checkpointInterval: 5, logWindow: 10 }, cutter: { countMax: 1 } });
    submit(c, 7);
    c.tick(2);
    c.interceptor = (env) => env.message.type !== 'pbft/commit';
    c.propose('n0', proposal('c', 8));
    c.tick(1);
    c.crash('n0');
    c.tick(11); // a view change to 1 starts, with seq 8 prepared
    for (const id of ['n1', 'n2', 'n3']) {
      c.crash(id);
      assert.ok(downgrade(c, id) > 0, `${id} stored messages`);
      c.restart(id);
    }
    assert.equal(c.engine('n1').inspect().executedSeq, 7);
    assert.equal(c.engine('n1').inspect().stableSeq, 5);
    c.interceptor = null;
    assert.ok(downgrade(c, 'n0') > 0);
    c.restart('n0');
    c.tick(30);
    for (let i = 9; i <= 12; i++) c.propose(c.ids[i % 4]!, proposal('c', i));
    c.tick(10);
    for (const id of c.ids) assert.equal(c.decidedKeys(id).length, 12, id);
    c.assertAgreement();
  });
});

describe('pbft: request de-duplication', () => {
  it('decides a request retried at several replicas exactly once, even across a view change', () => {
    const c = new Cluster({ options: FAST });
    const p = proposal('alice', 1);
    for (const id of c.ids) c.propose(id, p);
    c.tick(3);
    for (const id of c.ids) c.propose(id, p); // retried after it was decided
    c.tick(3);
    for (const id of c.ids) assert.deepEqual(c.decidedKeys(id), ['alice#1']);
    c.crash('n0');
    c.propose('n1', p);
    c.propose('n1', proposal('alice', 2));
    c.tick(30);
    for (const id of ['n1', 'n2', 'n3']) assert.deepEqual(c.decidedKeys(id), ['alice#1', 'alice#2']);
  });

  it('filters a duplicate a Byzantine primary orders twice, and the certificate still verifies', () => {
    const c = new Cluster({ options: FAST });
    c.byzantine.add('n0');
    c.propose('n0', proposal('bob', 1));
    c.tick(2);
    // The primary pre-prepares bob#1 again, with bob#2, at the next sequence number.
    const batch = [proposal('bob', 1), proposal('bob', 2)];
    const pp = resignAs(
      { type: 'pbft/pre-prepare', view: 0, seq: 2, digest: batchDigest(batch), replica: 'n0', sig: new Uint8Array(0), batch } as PrePrepareMsg,
      c.keys.signerOf('n0'),
    );
    for (const id of ['n1', 'n2', 'n3']) c.engine(id).step('n0', pp);
    c.tick(3);
    for (const id of ['n1', 'n2', 'n3']) {
      assert.deepEqual(c.decidedKeys(id), ['bob#1', 'bob#2']);
      const b = c.decided.get(id)![1]!;
      assert.equal(b.height, 2);
      assert.ok(b.certificate!.fields.dropped instanceof Uint8Array);
      assert.ok(verifyPbftCertificate(b, b.certificate!, c.keys.verifier, c.ids));
    }
    c.assertAgreement(['n1', 'n2', 'n3']);
  });

  it('refuses proposals beyond the pending limit or size, and invalid ones', () => {
    const c = new Cluster({ options: { ...FAST, pendingRequestsMax: 2 }, cutter: { sizeBytesMax: 64 } });
    const e = c.engine('n1');
    assert.deepEqual(e.propose(proposal('c', 1)), { accepted: true });
    assert.deepEqual(e.propose(proposal('c', 2)), { accepted: true });
    assert.deepEqual(e.propose(proposal('c', 3)), { accepted: false, reason: 'queue-full' });
    assert.deepEqual(e.propose({ clientId: 'c', seq: 9, data: new Uint8Array(100) }), { accepted: false, reason: 'too-large' });
    assert.deepEqual(e.propose({ clientId: '', seq: 1, data: new Uint8Array(1) }), { accepted: false, reason: 'invalid' });
    assert.deepEqual(e.propose({ clientId: 'c', seq: 0, data: new Uint8Array(1) }), { accepted: false, reason: 'invalid' });
  });
});

describe('pbft: Byzantine hooks', () => {
  it('equivocate and mutate return validly signed, different messages; requests are never forged', () => {
    const c = new Cluster();
    const signer = c.keys.signerOf('n2');
    const rng = new SeededRng(11);
    const batch = [proposal('a', 1), proposal('a', 2)];
    const pp = resignAs(
      { type: 'pbft/pre-prepare', view: 0, seq: 1, digest: batchDigest(batch), replica: 'n0', sig: new Uint8Array(0), batch } as PrePrepareMsg,
      signer,
    );
    assert.equal(pp.replica, 'n2');
    const eq = pbftByzantine.equivocate(pp, rng, signer)!;
    assert.equal(eq.type, 'pbft/pre-prepare');
    assert.ok(eq.type === 'pbft/pre-prepare' && !bytesEqual(eq.digest, pp.digest) && bytesEqual(batchDigest(eq.batch), eq.digest));
    assert.ok(c.keys.verifier.verify('n2', signingBytes(eq), eq.sig));
    assert.equal(pbftByzantine.equivocate({ ...pp, batch: [], digest: batchDigest([]) }, rng, signer), null);
    assert.equal(pbftByzantine.mutate({ type: 'pbft/request', replica: 'n2', proposals: batch, sig: new Uint8Array(1) }, rng, signer), null);
  });
});
