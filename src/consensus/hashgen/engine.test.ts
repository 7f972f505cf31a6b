import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../../codec/index.ts';
import { blockDigest } from '../digest.ts';
import { getEngine } from '../registry.ts';
import '../engines.ts';
import { Cluster } from './cluster.testkit.ts';
import { hashgenByzantine } from './index.ts';
import { signedBody, type HgAuthVote, type HgBlock, type HgMessage, type HgSeal } from './messages.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import { HashgenEngine } from './engine.ts';
import { meetsTarget, proofHash, searchNonce, verifyHashgenCertificate, voteBytes } from './rules.ts';
import { GENESIS_DIGEST } from '../digest.ts';
import { utf8 } from '../../codec/index.ts';
import type { CertificateSignature } from '../engine.ts';

function submit(c: Cluster, at: string, from: number, to: number): void {
  for (let s = from; s <= to; s++) c.propose(at, c.proposal(s));
}

function live(c: Cluster): string[] {
  return c.ids.filter((id) => !c.down.has(id));
}

describe('hashgen: the happy path', () => {
  it('the best generator is authenticated, builds, gets validations, seals; every node decides the same chain', () => {
    const c = new Cluster(5, { difficultyBits: 8 });
    c.tick(2);
    for (const id of c.ids) assert.equal(c.generatorOf(id), 'g1', `${id} follows the best-ranked generator`);
    submit(c, 'g4', 1, 10); // a follower forwards its data-lake pool to the generator
    c.tick(6);
    assert.deepEqual(c.heights(), [3, 3, 3, 3, 3], '10 proposals, 4 per block → 3 blocks');
    c.assertAgreement();
    const blocks = c.decided.get('g5')!;
    assert.deepEqual(
      blocks.flatMap((b) => b.proposals.map((p) => p.seq)),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    for (const b of blocks) {
      const cert = b.certificate!;
      assert.equal(cert.scheme, 'hashgen-seal');
      assert.equal(cert.fields.generator, 'g1');
      assert.ok(meetsTarget(proofHash(b.digest, cert.fields.epoch as number, 'g1', cert.fields.nonce as number), 8), 'the seal meets the target');
      assert.ok(cert.signatures.length >= 3, '⌊N/2⌋+1 = 3 validations of 5 generators');
      assert.ok(verifyHashgenCertificate(b, c.ids, c.ident.verifier, { mode: 'paper', difficultyBits: 8 }));
      assert.ok(getEngine('hashgen').verifyCertificate!(b, c.ids, c.ident.verifier));
    }
    // A tampered certificate fails.
    const b0 = blocks[0]!;
    const forged = { ...b0, certificate: { ...b0.certificate!, fields: { ...b0.certificate!.fields, nonce: (b0.certificate!.fields.nonce as number) + 1 } } };
    const stillMeets = meetsTarget(proofHash(b0.digest, 1, 'g1', forged.certificate.fields.nonce), 8);
    assert.equal(verifyHashgenCertificate(forged, c.ids, c.ident.verifier, { mode: 'paper', difficultyBits: 8 }), stillMeets);
    const fewer = { ...b0, certificate: { ...b0.certificate!, signatures: b0.certificate!.signatures.slice(0, 2) } };
    assert.equal(verifyHashgenCertificate(fewer, c.ids, c.ident.verifier, { mode: 'paper', difficultyBits: 8 }), false, '2 validations are not a quorum');
    assert.equal(
      c
        .node('g1')
        .diagnostics()
        .records.find(([m]) => m === 'g1')![1],
      3,
      'g1 sealed 3 blocks',
    );
  });

  it('the proof-hash search is bounded per tick: a hard target takes several ticks, never blocks', () => {
    const c = new Cluster(3, { difficultyBits: 12, powAttemptsPerTick: 16 });
    c.tick(2);
    submit(c, 'g1', 1, 4);
    const ticks = c.tickUntil(() => c.heights().every((h) => h === 1), 5000);
    assert.ok(ticks > 3, `expected ~4096/16 ticks of search, took ${ticks}`);
    const b = c.decided.get('g2')![0]!;
    const f = b.certificate!.fields;
    const hash = proofHash(b.digest, f.epoch as number, f.generator as string, f.nonce as number);
    assert.ok(meetsTarget(hash, 12), `seal ${toHex(hash)} has 12 leading zero bits`);
  });
});

describe('hashgen: thresholds in action', () => {
  it('authentication needs ⌈N/2⌉ of the N others', () => {
    // n = 5, N = 4 → 2 votes. Only g2 can hear g1: g1 stays a candidate.
    const c = new Cluster(5);
    const reach = new Set(['g1', 'g2']);
    c.cut = (a, b) => !(reach.has(a) && reach.has(b));
    c.tick(2);
    assert.equal(c.node('g1').status().role, 'candidate');
    assert.equal(c.node('g2').status().epoch, 1, 'g2 voted (promised epoch 1)');
    reach.add('g3');
    c.tick(6); // the candidate re-sends its request
    assert.equal(c.node('g1').status().role, 'generator', 'with g2 and g3 (2 of 4) it is authenticated');
  });

  it('validation needs ⌊N/2⌋+1 signed validations, the generator’s own included', () => {
    // n = 5: 3 validations. Authenticate with everyone, then let only g2 validate.
    const c = new Cluster(5, { timeoutTicks: 1000, progressTimeoutTicks: 100_000, heartbeatTicks: 2 });
    c.tick(2);
    const validators = new Set(['g2']);
    c.intercept = (e) => (e.message.type === 'hashgen/validate' && !validators.has(e.from) ? [] : [e.message]);
    submit(c, 'g1', 1, 4);
    c.tick(20);
    assert.deepEqual(c.heights(), [0, 0, 0, 0, 0], 'g1 + g2 = 2 validations: not sealed');
    validators.add('g3');
    c.tick(10); // block re-sent, g3's validation arrives
    assert.deepEqual(c.heights(), [1, 1, 1, 1, 1]);
  });

  it('with an even number of generators the paper’s validation quorum is ⌊N/2⌋+1 = n/2', () => {
    // n = 4, N = 3: authentication needs 2 others, validation 2 (generator + one).
    const c = new Cluster(4, { timeoutTicks: 1000, progressTimeoutTicks: 100_000 });
    c.tick(2);
    c.intercept = (e) => (e.message.type === 'hashgen/validate' && e.from !== 'g2' ? [] : [e.message]);
    submit(c, 'g1', 1, 4);
    c.tick(4);
    assert.deepEqual(c.heights(), [1, 1, 1, 1], 'g1 + g2 validate: sealed and decided');
  });
});

describe('hashgen: replacement', () => {
  it('a crashed generator is replaced by the next best; its record shows the failure', () => {
    const c = new Cluster(5);
    c.tick(2);
    submit(c, 'g3', 1, 8);
    c.tick(4);
    assert.deepEqual(c.heights(), [2, 2, 2, 2, 2]);
    c.crash('g1');
    submit(c, 'g3', 9, 16);
    c.tickUntil(() => live(c).every((id) => c.node(id).status().decidedHeight === 4), 300);
    for (const id of live(c)) assert.equal(c.generatorOf(id), 'g2', 'g2 is next in the ranking');
    c.assertAgreement();
    const rec = new Map(
      c
        .node('g3')
        .diagnostics()
        .records.map(([m, sealed, failures]) => [m, { sealed, failures }]),
    );
    assert.deepEqual(rec.get('g1'), { sealed: 2, failures: 1 });
    assert.deepEqual(rec.get('g2'), { sealed: 2, failures: 0 });
    assert.deepEqual(c.node('g4').diagnostics().ranking.slice(0, 1), ['g2']);
    // g1 comes back: it follows, and is last in the ranking.
    c.restart('g1');
    c.tick(10);
    assert.equal(c.node('g1').status().decidedHeight, 4, 'the restarted node catches up');
    assert.equal(c.generatorOf('g1'), 'g2');
    assert.equal(c.node('g1').diagnostics().ranking.at(-1), 'g1');
  });

  it('a generator that seals with a bad proof hash is barred and replaced (misbehaviour)', () => {
    const c = new Cluster(5, { difficultyBits: 8 });
    c.tick(2);
    const byz = c.ident.signerOf('g1');
    // g1 turns Byzantine: its seals carry a nonce that misses the target (re-signed with its key).
    c.intercept = (e) => {
      if (e.from !== 'g1' || e.message.type !== 'hashgen/seal') return [e.message];
      const seal = e.message;
      let nonce = seal.nonce + 1;
      while (meetsTarget(proofHash(blockDigest(seal.height, seal.prev, seal.proposals), seal.epoch, 'g1', nonce), 8)) nonce += 1;
      return [hashgenByzantine.resign({ ...seal, nonce }, byz)];
    };
    submit(c, 'g2', 1, 4);
    c.tick(3);
    for (const id of ['g2', 'g3', 'g4', 'g5']) {
      const d = c.node(id).diagnostics();
      assert.deepEqual(
        d.misbehaviours.map((m) => m.reason),
        ['bad-seal'],
        `${id} saw the bad seal`,
      );
      assert.deepEqual(d.barred, ['g1']);
    }
    c.tickUntil(() => ['g2', 'g3', 'g4', 'g5'].every((id) => c.node(id).status().decidedHeight === 1), 200);
    for (const id of ['g3', 'g4', 'g5']) assert.equal(c.generatorOf(id), 'g2');
    c.assertAgreement();
    // The block itself had its validation quorum (only g1's seal message was forged), so it is
    // decided either through g2's re-proposal or by catching up from g1's own valid copy.
    assert.deepEqual(
      c.decided.get('g3')![0]!.proposals.map((p) => p.seq),
      [1, 2, 3, 4],
    );
    submit(c, 'g4', 5, 8);
    c.tick(4);
    assert.equal(c.decided.get('g5')![1]!.certificate!.fields.generator, 'g2', 'the next block is sealed by g2');
  });

  it('an equivocating generator (two blocks at one height and epoch) is detected and replaced', () => {
    const c = new Cluster(5);
    c.tick(2);
    const byz = c.ident.signerOf('g1');
    let forked = false;
    c.intercept = (e) => {
      if (e.from === 'g1' && e.message.type === 'hashgen/block' && !forked) {
        forked = true;
        // The original, then a conflicting variant for the same (epoch, height).
        return [e.message, hashgenByzantine.equivocate(e.message, new SeededRng(7), byz)!];
      }
      return [e.message];
    };
    submit(c, 'g1', 1, 4);
    const victim = [...c.nodes.keys()].find((id) => c.node(id).diagnostics().misbehaviours.length > 0);
    assert.ok(victim, 'one validator saw both blocks');
    assert.equal(c.node(victim).diagnostics().misbehaviours[0]!.reason, 'equivocation');
    c.tick(50);
    c.assertAgreement();
  });
});

describe('hashgen: durability and restart', () => {
  it('a restarted node keeps its chain, promise and validation, and re-delivers unapplied blocks', () => {
    const c = new Cluster(3);
    c.tick(2);
    submit(c, 'g2', 1, 8);
    c.tick(3);
    assert.deepEqual(c.heights(), [2, 2, 2]);
    const before = c.node('g3').status();
    c.crash('g3');
    c.restart('g3', 1); // the application had applied only block 1
    const after = c.node('g3').status();
    assert.equal(after.decidedHeight, 2);
    assert.equal(after.epoch, before.epoch, 'the promise survived');
    assert.deepEqual(
      c.decided.get('g3')!.map((b) => b.height),
      [1, 2, 2],
      'block 2 re-delivered',
    );
    submit(c, 'g3', 9, 12);
    c.tick(5);
    assert.deepEqual(c.heights(), [3, 3, 3]);
  });

  it('a validation is persisted before it is sent: after a restart the node will not validate a conflicting block', () => {
    const c = new Cluster(3, { timeoutTicks: 1000 });
    c.tick(2);
    // Capture g1's block to g2 and forge (as Byzantine g1) a conflicting one.
    let block: Extract<HgMessage, { type: 'hashgen/block' }> | null = null;
    c.intercept = (e) => {
      if (e.message.type === 'hashgen/block' && e.to === 'g2') block = e.message;
      return e.message.type === 'hashgen/seal' ? [] : [e.message];
    };
    submit(c, 'g1', 1, 4);
    assert.ok(block, 'g2 received the block');
    const g2Storage = c.storages.get('g2')!;
    assert.ok(g2Storage.get('hashgen/val'), 'g2 persisted its validation');
    c.crash('g2');
    c.restart('g2');
    const conflicting = hashgenByzantine.equivocate(block!, new SeededRng(3), c.ident.signerOf('g1'))!;
    const fresh = c.node('g2');
    fresh.step('g1', conflicting);
    const rd = fresh.ready();
    assert.equal(rd.messages.filter((m) => m.message.type === 'hashgen/validate').length, 0, 'no second validation');
    assert.deepEqual(
      fresh.diagnostics().misbehaviours.map((m) => m.reason),
      ['equivocation'],
    );
  });
});

describe('hashgen: CAMS', () => {
  it('faithful CAMS (cams: node) selects; with CAMS and the generator down the chain stops', () => {
    // CAMS = g5, so that the first generator (g1) and CAMS can fail separately.
    const c = new Cluster(5, { cams: 'node', camsId: 'g5' });
    c.tick(2);
    for (const id of c.ids) assert.equal(c.generatorOf(id), 'g1');
    submit(c, 'g2', 1, 4);
    c.tick(3);
    assert.deepEqual(c.heights(), [1, 1, 1, 1, 1]);
    // Generator fails, CAMS is up: CAMS selects g2.
    c.crash('g1');
    submit(c, 'g2', 5, 8);
    c.tickUntil(() => live(c).every((id) => c.node(id).status().decidedHeight === 2), 300);
    assert.equal(c.generatorOf('g3'), 'g2');
    // Now CAMS and the new generator fail: 3 of 5 are up, a quorum, but nobody may select.
    c.crash('g5');
    c.crash('g2');
    submit(c, 'g3', 9, 12);
    c.tick(400);
    assert.deepEqual(
      live(c).map((id) => c.node(id).status().decidedHeight),
      [2, 2],
      'faithful CAMS is a single point of failure',
    );
    c.restart('g5');
    c.tickUntil(() => live(c).every((id) => c.node(id).status().decidedHeight === 3), 400);
  });

  it('replicated CAMS: the same failures do not stop the chain', () => {
    const c = new Cluster(5, { cams: 'replicated' });
    c.tick(2);
    submit(c, 'g2', 1, 4);
    c.tick(3);
    c.crash('g1');
    c.crash('g5');
    submit(c, 'g3', 5, 8);
    c.tickUntil(() => live(c).every((id) => c.node(id).status().decidedHeight === 2), 400);
    c.assertAgreement();
  });
});

/**
 * A Byzantine generator g1 (n = 4) builds two blocks for height 1, sends X to g2 and Y to g3,
 * signs a validation for each itself, and seals each with its own + one honest validation.
 */
function splitBrainAttack(quorum: 'paper' | 'bft'): Cluster {
  const c = new Cluster(4, { timeoutTicks: 10_000, progressTimeoutTicks: 100_000 }, quorum);
  const votes: HgAuthVote[] = [];
  const validations = new Map<string, CertificateSignature>();
  c.intercept = (e) => {
    if (e.message.type === 'hashgen/auth-vote' && e.to === 'g1') votes.push(e.message);
    if (e.message.type === 'hashgen/validate' && e.to === 'g1') validations.set(e.from, { nodeId: e.from, signature: e.message.sig });
    return [e.message];
  };
  c.tick(2); // g1 is authenticated for epoch 1 by everyone
  assert.equal(c.node('g1').status().role, 'generator');
  c.crash('g1'); // from here on g1 is played by hand (with its real key)
  const g1 = c.ident.signerOf('g1');
  const sign = <T extends HgBlock | HgSeal>(body: Omit<T, 'sig'>): T => {
    const unsigned = { ...body, sig: new Uint8Array(0) } as T;
    return { ...unsigned, sig: g1.sign(signedBody(unsigned)) };
  };
  const batch = (tag: string) => [{ clientId: 'c1', seq: 1, data: utf8(tag) }];
  const justification = quorum === 'bft' ? votes.map((v) => ({ ...v, proposals: [] })) : [];
  const forks = [
    { to: 'g2', proposals: batch('X') },
    { to: 'g3', proposals: batch('Y') },
  ];
  for (const f of forks) {
    const block = sign<HgBlock>({ type: 'hashgen/block', epoch: 1, height: 1, prev: GENESIS_DIGEST, proposals: f.proposals, generator: 'g1', justification });
    c.down.delete('g1'); // let the validation reach "g1" (captured by the interceptor)
    c.node(f.to).step('g1', block);
    c.flush();
    c.down.add('g1');
  }
  for (const f of forks) {
    const digest = blockDigest(1, GENESIS_DIGEST, f.proposals);
    const own = { nodeId: 'g1', signature: g1.sign(voteBytes('validate', 1, 1, digest)) };
    const honest = validations.get(f.to);
    assert.ok(honest, `${f.to} validated its fork`);
    const pow = searchNonce(digest, 1, 'g1', 8, 0, 1 << 20);
    assert.ok(pow.found);
    const seal = sign<HgSeal>({
      type: 'hashgen/seal',
      epoch: 1,
      height: 1,
      prev: GENESIS_DIGEST,
      proposals: f.proposals,
      generator: 'g1',
      nonce: pow.nonce,
      difficultyBits: 8,
      validations: [own, honest],
    });
    c.node(f.to).step('g1', seal);
    c.flush();
  }
  return c;
}

describe('hashgen: bft quorum', () => {
  it('paper quorum is not Byzantine-safe: a split-brain generator gets two blocks decided at one height', () => {
    const c = splitBrainAttack('paper');
    const x = c.decided.get('g2')![0];
    const y = c.decided.get('g3')![0];
    assert.ok(x && y, 'both forks decided (2 = ⌊3/2⌋+1 validations each)');
    assert.notEqual(toHex(x.digest), toHex(y.digest), 'agreement is violated');
    assert.throws(() => c.assertAgreement(), /agreement violated at height 1/);
  });

  it('bft quorum resists the same attack: neither fork has a validation quorum, nothing conflicting is decided', () => {
    const c = splitBrainAttack('bft');
    assert.equal(c.decided.get('g2')!.length, 0);
    assert.equal(c.decided.get('g3')!.length, 0);
    for (const id of ['g2', 'g3'])
      assert.deepEqual(
        c
          .node(id)
          .diagnostics()
          .misbehaviours.map((m) => m.reason),
        ['bad-seal'],
      );
  });
  it('4 generators decide with a commit quorum of 3; certificates carry commit signatures', () => {
    const c = new Cluster(4, {}, 'bft');
    c.tick(2);
    submit(c, 'g2', 1, 6);
    c.tick(5);
    assert.deepEqual(c.heights(), [2, 2, 2, 2]);
    for (const b of c.decided.get('g4')!) {
      assert.equal(b.certificate!.fields.phase, 'commit');
      assert.ok(verifyHashgenCertificate(b, c.ids, c.ident.verifier, { mode: 'bft', difficultyBits: 8 }));
      assert.ok(getEngine('hashgen-bft').verifyCertificate!(b, c.ids, c.ident.verifier));
      assert.equal(verifyHashgenCertificate(b, c.ids, c.ident.verifier, { mode: 'paper', difficultyBits: 8 }), false);
    }
    c.crash('g1');
    submit(c, 'g3', 7, 10);
    c.tickUntil(() => live(c).every((id) => c.node(id).status().decidedHeight === 3), 400);
    c.assertAgreement();
  });
});

describe('hashgen: options and input', () => {
  it('rejects bad options with a message naming them', () => {
    const c = new Cluster(3);
    const ctx = {
      id: 'g1',
      members: c.ids,
      rng: new SeededRng(1),
      storage: new MemoryStorage(),
      signer: c.ident.signerOf('g1'),
      verifier: c.ident.verifier,
      cutter: c.cutter,
    };
    assert.throws(() => new HashgenEngine({ ...ctx, options: { quorum: 'majority' } }), /hashgen option quorum must be one of paper\|bft, got "majority"/);
    assert.throws(() => new HashgenEngine({ ...ctx, options: { difficultyBits: 99 } }), /hashgen option difficultyBits must be at most 32, got 99/);
    assert.throws(() => new HashgenEngine({ ...ctx, options: { camsId: 'nobody' } }), /hashgen option camsId: must be one of the members/);
    assert.throws(() => new HashgenEngine({ ...ctx, options: { bogus: 1 } }), /unknown hashgen option "bogus"/);
  });

  it('drops malformed messages and refuses malformed proposals without throwing', () => {
    const c = new Cluster(3);
    c.tick(2);
    const n = c.node('g2');
    const junk: unknown[] = [
      null,
      7,
      {},
      { type: 'hashgen/block' },
      { type: 'hashgen/seal', epoch: -1 },
      { type: 'hashgen/forward', proposals: [{ clientId: '', seq: 0 }] },
    ];
    for (const j of junk) n.step('g1', j as HgMessage);
    n.step('stranger', { type: 'hashgen/fetch', height: 1 });
    assert.equal(n.propose({ clientId: 'c', seq: 0, data: new Uint8Array() }).accepted, false);
    assert.deepEqual(n.propose({ clientId: 'c', seq: 1, data: new Uint8Array(1 << 17) }), { accepted: false, reason: 'too-large' });
    c.tick(2);
    assert.deepEqual(c.heights(), [0, 0, 0]);
  });
});
