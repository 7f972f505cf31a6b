import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode, utf8 } from '../../codec/index.ts';
import type { DecidedBlock, Engine, NodeId, Proposal } from '../engine.ts';
import { blockDigest, GENESIS_DIGEST } from '../digest.ts';
import { archivedBlock, CATCH_UP_BYTES_MAX } from '../decided-chain.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import { getEngine } from '../registry.ts';
import '../engines.ts';
import { makeIdentities } from '../../sim/crypto.ts';
import { gpbftByzantine } from './byzantine.ts';
import { GpbftEngine, gpbftFaultsTolerated, type GpbftMessage } from './engine.ts';
import {
  CONTROL_CLIENT_PREFIX,
  encodeControl,
  headFor,
  leaveSignedBytes,
  legacyRateSignedBytes,
  MEMBERSHIP_CLIENT_ID,
  primariesFor,
  quorum,
  rateClientId,
  rateSignedBytes,
  RATING_SIGNED_FORM,
  STAND_IN_CONSORTIUM,
} from './config.ts';
import { contentDigest, newViewBytes, statementBytes, viewChangeBytes, type ViewChange } from './messages.ts';

// Two clusters of four hospitals, 300 km apart: Algorithm 1 puts each cluster in its own group.
const ids = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8'];
const coordinates: Record<string, { lat: number; lon: number }> = {
  h1: { lat: 20.0, lon: 110.3 },
  h2: { lat: 20.02, lon: 110.35 },
  h3: { lat: 19.98, lon: 110.32 },
  h4: { lat: 20.05, lon: 110.28 },
  h5: { lat: 18.25, lon: 109.5 },
  h6: { lat: 18.3, lon: 109.55 },
  h7: { lat: 18.22, lon: 109.48 },
  h8: { lat: 18.28, lon: 109.6 },
  newcomer: { lat: 18.27, lon: 109.52 },
};
const ratings: Record<string, number> = { h1: 90, h2: 80, h3: 85, h4: 70, h5: 95, h6: 75, h7: 88, h8: 65, newcomer: 90 };
const baseOptions = { coordinates, ratings, groups: 2, viewTimeoutTicks: 10, syncTicks: 5, ratingThreshold: 50 };
// Sixteen hospitals at synthetic positions: four groups of four, so layer 2 has k = 4 primaries and
// tolerates one Byzantine node (f2 = 1, q2 = 3); eight tolerate none (decision 0603).
const ids16 = Array.from({ length: 16 }, (_, i) => `b${i + 1}`);
const options16 = { groups: 4, viewTimeoutTicks: 10, syncTicks: 5 };
const identities = makeIdentities('fast', [...ids, 'newcomer', ...ids16], new SeededRng(7));

class Cluster {
  readonly engines = new Map<NodeId, GpbftEngine>();
  readonly storages = new Map<NodeId, MemoryStorage>();
  readonly chains = new Map<NodeId, DecidedBlock[]>();
  readonly down = new Set<NodeId>();
  readonly sent: Array<{ from: NodeId; to: NodeId; message: GpbftMessage }> = [];
  private queue: Array<{ from: NodeId; to: NodeId; message: GpbftMessage }> = [];
  /** Rewrites what a node sends (Byzantine behaviour); returns the messages to deliver instead. */
  tamper: ((from: NodeId, to: NodeId, m: GpbftMessage) => GpbftMessage | null) | null = null;

  constructor(
    readonly options: Record<string, unknown> = baseOptions,
    members: readonly NodeId[] = ids,
    /** Each engine gets its node's decided blocks as EngineContext.archive (as a node's chain). */
    private readonly archive = true,
    /** The genesis member set every engine starts with. */
    private readonly genesis: readonly NodeId[] = ids,
  ) {
    for (const id of members) this.start(id, genesis);
  }

  start(id: NodeId, members: readonly NodeId[] = this.genesis): void {
    const storage = this.storages.get(id) ?? new MemoryStorage();
    this.storages.set(id, storage);
    if (!this.chains.has(id)) this.chains.set(id, []);
    const engine = getEngine('gpbft').create({
      id,
      members,
      rng: new SeededRng(id.length * 31 + id.charCodeAt(id.length - 1)),
      storage,
      signer: identities.signerOf(id),
      verifier: identities.verifier,
      cutter: { countMax: 4, sizeBytesMax: 1 << 20, timeoutTicks: 1, pendingMax: 1000 },
      options: this.options,
      appliedHeight: this.chains.get(id)!.length,
      ...(this.archive ? { archive: { decided: (height: number) => archivedBlock(this.chains.get(id)!, height) } } : {}),
    }) as Engine<GpbftMessage>;
    this.engines.set(id, engine as GpbftEngine);
    this.down.delete(id);
  }

  crash(id: NodeId): void {
    this.down.add(id);
    this.engines.delete(id);
  }

  /** Deliver everything (FIFO) until quiet. */
  run(limit = 200_000): void {
    let steps = 0;
    for (;;) {
      for (const [id, e] of this.engines) {
        while (e.hasReady()) {
          const rd = e.ready();
          this.storages.get(id)!.apply(rd.persist);
          for (const o of rd.messages) {
            const m = this.tamper ? this.tamper(id, o.to, o.message) : o.message;
            if (m === null) continue;
            this.sent.push({ from: id, to: o.to, message: m });
            this.queue.push({ from: id, to: o.to, message: m });
          }
          this.chains.get(id)!.push(...rd.decided);
          e.advance(rd);
        }
      }
      const next = this.queue.shift();
      if (!next) return;
      if (++steps > limit) assert.fail('cluster did not quiesce');
      if (!this.down.has(next.to)) this.engines.get(next.to)?.step(next.from, next.message);
    }
  }

  /** Like the node runtime with the ledger's orderer set: every tick, every engine (decision 1280). */
  target: { members: NodeId[]; profiles: Record<NodeId, { lat?: number; lon?: number; rating?: number }> } | null = null;

  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const e of this.engines.values()) {
        e.tick();
        if (this.target) e.reconfigure(this.target.members, this.target.profiles);
      }
      this.run();
    }
  }

  propose(at: NodeId, p: Proposal): void {
    const r = this.engines.get(at)!.propose(p);
    assert.ok(r.accepted, `proposal refused: ${JSON.stringify(r)}`);
    this.run();
  }

  /** Tick until every running node decided `height` (bounded). */
  settle(height: number, ticksMax = 400): void {
    for (let i = 0; i < ticksMax; i++) {
      if ([...this.engines.values()].every((e) => e.status().decidedHeight >= height)) return;
      this.tick();
    }
    assert.fail(`not every node reached height ${height}: ${[...this.engines.values()].map((e) => `${e.id}:${e.status().decidedHeight}`).join(' ')}`);
  }

  assertAgreement(): void {
    const longest = [...this.chains.values()].reduce((a, b) => (b.length > a.length ? b : a), []);
    let prev = GENESIS_DIGEST;
    for (const b of longest) {
      assert.deepEqual(b.previousDigest, prev);
      assert.deepEqual(b.digest, blockDigest(b.height, prev, b.proposals));
      prev = b.digest;
    }
    for (const [id, chain] of this.chains) {
      chain.forEach((b, i) => {
        assert.equal(b.height, i + 1, `${id}: gapless heights`);
        assert.deepEqual(b.digest, longest[i]!.digest, `${id}: same block at height ${i + 1}`);
      });
    }
  }
}

const tx = (seq: number, client = 'c1'): Proposal => ({ clientId: client, seq, data: utf8(`tx-${client}-${seq}`) });

/**
 * A rating of `id` by hospital `rater`, as the simulator's stand-in authenticates it (decision
 * 1281): ordered under the rater's client at seq = nonce, signed with `signer`'s node key (the
 * rater's own unless a test forges it).
 */
function rating(rater: NodeId, id: NodeId, value: number, nonce = 1, signer: NodeId = rater): Proposal {
  const signature = identities.signerOf(signer).sign(rateSignedBytes({ consortium: STAND_IN_CONSORTIUM, id, rating: value, nonce }));
  const by = { org: rater, admin: 'admin', nonce, cert: new Uint8Array(0), signature, v: RATING_SIGNED_FORM };
  return { clientId: rateClientId(rater, 'admin'), seq: nonce, data: encodeControl({ op: 'rate', id, rating: value, by }) };
}

/** The same rating in decision 1281's signed form, which names no consortium (before decision 1387). */
function legacyRating(rater: NodeId, id: NodeId, value: number, nonce = 1): Proposal {
  const signature = identities.signerOf(rater).sign(legacyRateSignedBytes({ id, rating: value, nonce }));
  const by = { org: rater, admin: 'admin', nonce, cert: new Uint8Array(0), signature };
  return { clientId: rateClientId(rater, 'admin'), seq: nonce, data: encodeControl({ op: 'rate', id, rating: value, by }) };
}

/** A rating signed for another consortium (decision 1387): the same admin key, another genesis. */
function foreignRating(rater: NodeId, id: NodeId, value: number, nonce = 1): Proposal {
  const signature = identities.signerOf(rater).sign(rateSignedBytes({ consortium: new Uint8Array(32).fill(9), id, rating: value, nonce }));
  const by = { org: rater, admin: 'admin', nonce, cert: new Uint8Array(0), signature, v: RATING_SIGNED_FORM };
  return { clientId: rateClientId(rater, 'admin'), seq: nonce, data: encodeControl({ op: 'rate', id, rating: value, by }) };
}

describe('gpbft engine', () => {
  it('groups by geography and elects each group primary by T', () => {
    const c = new Cluster();
    const { config, primaries, head } = c.engines.get('h1')!.configuration();
    assert.deepEqual(config.groups.map((g) => [...g].sort().join(',')).sort(), ['h1,h2,h3,h4', 'h5,h6,h7,h8']);
    assert.equal(primaries.length, 2);
    // Every node computes the same configuration.
    for (const e of c.engines.values()) assert.deepEqual(e.configuration().config, config);
    assert.ok(primaries.includes(head));
  });

  it('decides a request through both layers; members verify the signature bundle', () => {
    const c = new Cluster();
    const { primaries } = c.engines.get('h1')!.configuration();
    const member = ids.find((id) => !primaries.includes(id))!;
    c.propose(member, tx(1));
    c.tick(2);
    c.settle(1);
    c.assertAgreement();
    const block = c.chains.get('h1')![0]!;
    assert.equal(block.certificate!.scheme, 'gpbft-bundle');
    const signers = block.certificate!.signatures.map((s) => s.nodeId);
    assert.ok(signers.length >= quorum(2) && signers.every((s) => primaries.includes(s)), 'bundle = commit2 signatures of the primaries');
    const types = new Set<string>(c.sent.map((s) => s.message.type));
    for (const t of [
      'gpbft/request',
      'gpbft/pre-prepare1',
      'gpbft/prepare1',
      'gpbft/commit1',
      'gpbft/pre-prepare2',
      'gpbft/prepare2',
      'gpbft/commit2',
      'gpbft/deliver',
    ])
      assert.ok(types.has(t), `${t} was sent`);
    // Members receive the package from their own group's primary.
    for (const d of c.sent.filter((s) => s.message.type === 'gpbft/deliver')) {
      const cfg = c.engines.get('h1')!.configuration().config;
      assert.ok(
        cfg.groups.some((g) => g.includes(d.from) && g.includes(d.to)),
        'deliver stays inside a group',
      );
    }
  });

  it('one group (4 hospitals): no layer 1, every member votes in layer 2, a bundle needs 3 of them, a head alone cannot make a member decide (decision 1399)', () => {
    const four = ids.slice(0, 4);
    const c = new Cluster({ coordinates, ratings, viewTimeoutTicks: 10, syncTicks: 5 }, four, true, four);
    const { config, head } = c.engines.get('h1')!.configuration();
    assert.equal(config.groups.length, 1);
    assert.deepEqual(
      [4, 5, 6, 7, 8, 15, 16].map((n) => gpbftFaultsTolerated(n)),
      [1, 1, 1, 2, 0, 0, 1],
    );
    c.propose('h1', tx(1));
    c.tick(2);
    c.settle(1);
    c.assertAgreement();
    const first = c.chains.get('h1')![0]!;
    const signers = first.certificate!.signatures.map((x) => x.nodeId);
    assert.ok(signers.length >= quorum(4) && signers.every((x) => four.includes(x)), `bundle of 3+ members: ${signers.join(',')}`);
    const voters = new Set(c.sent.filter((x) => x.message.type === 'gpbft/commit2').map((x) => x.from));
    assert.deepEqual([...voters].sort(), [...four].sort(), 'every member sent commit2');
    // …and no layer 1: the group's members judge the batch in layer 2 themselves.
    assert.deepEqual(
      c.sent.filter((x) => /^gpbft\/(pre-prepare1|prepare1|commit1|submit2)$/.test(x.message.type)),
      [],
      'no layer-1 message with a single group',
    );

    // A block for height 2 with commit2 signatures by the head alone (what decided a block in the
    // paper's single-voter layer 2) is refused by a member; with two more members it is decided.
    const view = c.engines.get('h1')!.configuration().view;
    const member = four.find((id) => id !== head)!;
    const proposals = [tx(2)];
    const digest = blockDigest(2, first.digest, proposals);
    const evidence = encode([]);
    const statement = statementBytes('commit2', view, 2, contentDigest(digest, evidence));
    const block = (by: readonly NodeId[]): DecidedBlock => ({
      height: 2,
      proposals,
      digest,
      previousDigest: first.digest,
      certificate: {
        scheme: 'gpbft-bundle',
        fields: { view, evidence },
        signatures: by.map((nodeId) => ({ nodeId, signature: identities.signerOf(nodeId).sign(statement) })),
      },
    });
    c.engines.get(member)!.step(head, { type: 'gpbft/deliver', block: block([head]) });
    c.run();
    assert.equal(c.engines.get(member)!.status().decidedHeight, 1, 'one signature decides nothing');
    const others = four.filter((id) => id !== head && id !== member).slice(0, 2);
    c.engines.get(member)!.step(head, { type: 'gpbft/deliver', block: block([head, ...others].sort()) });
    c.run();
    assert.equal(c.engines.get(member)!.status().decidedHeight, 2, 'three of the group decide it');
  });

  it('one group (4 hospitals): a member restarted behind the others catches up without a view change', () => {
    const four = ids.slice(0, 4);
    // The node's ratio: a view timeout of 20 ticks, a periodic sync every 40 (gpbft options' defaults).
    const c = new Cluster({ coordinates, ratings, viewTimeoutTicks: 20, syncTicks: 40 }, four, true, four);
    const { head } = c.engines.get('h1')!.configuration();
    const member = four.find((id) => id !== head)!;
    let seq = 0;
    for (let i = 0; i < 3; i++) c.propose(four[i % 4]!, tx(++seq));
    c.settle(1);
    c.crash(member);
    for (let i = 0; i < 6; i++) {
      c.propose(head, tx(++seq));
      c.tick();
    }
    c.start(member);
    // Its client re-submits at once, and the others' load goes on.
    c.propose(member, tx(++seq));
    for (let i = 0; i < 60; i++) {
      c.propose(four.filter((id) => id !== member)[i % 3]!, tx(++seq));
      c.tick();
    }
    c.settle(c.engines.get(head)!.status().decidedHeight);
    for (const id of four) assert.equal(c.engines.get(id)!.configuration().view, 0, `${id} is still in view 0`);
    c.assertAgreement();
  });

  it('decides a retried request once and keeps order across many requests', () => {
    const c = new Cluster();
    for (let s = 1; s <= 10; s++) c.propose(ids[s % ids.length]!, tx(s, `c${s % 3}`));
    c.propose('h3', tx(1, 'c1'));
    c.tick(30);
    const decided = c.chains.get('h5')!.flatMap((b) => b.proposals.map((p) => `${p.clientId}#${p.seq}`));
    assert.equal(new Set(decided).size, decided.length, 'no proposal decided twice');
    assert.equal(decided.length, 10);
    c.assertAgreement();
  });

  it('a failed primary is replaced by the next in its ranking (view change), and progress resumes', () => {
    const c = new Cluster();
    c.propose('h1', tx(1));
    c.settle(1);
    const before = c.engines.get('h2')!.configuration();
    const failed = before.head;
    c.crash(failed);
    const proposer = ids.find((id) => id !== failed)!;
    c.propose(proposer, tx(2));
    c.settle(2);
    const after = c.engines.get(proposer)!.configuration();
    assert.ok(after.view > before.view, 'view changed');
    const g = before.config.groups.findIndex((grp) => grp.includes(failed));
    const ranking = before.config.rankings[g]!;
    assert.notEqual(after.primaries[g], failed, 'the failed primary lost its role');
    assert.equal(after.primaries[g], ranking[(ranking.indexOf(failed) + (after.view - before.view)) % ranking.length], 'next down the ranking');
    c.start(failed);
    c.settle(2);
    c.assertAgreement();
  });

  /** A VIEW-CHANGE for `view` signed by `node`, reporting its decided chain and nothing prepared (made by the test). */
  function viewChangeBy(c: Cluster, node: NodeId, view: number): GpbftMessage {
    const status = c.engines.get(node)!.status();
    const unsigned = { view, node, height: status.decidedHeight, digest: c.chains.get(node)!.at(-1)?.digest ?? GENESIS_DIGEST, prepared: null };
    return { type: 'gpbft/view-change', vc: { ...unsigned, signature: identities.signerOf(node).sign(viewChangeBytes(unsigned)) } };
  }

  it('a member that asked for view 2 does not enter view 1: its report for view 2 must stay true (gpbft+regroup seed 242)', () => {
    const four = ids.slice(0, 4);
    const c = new Cluster({ coordinates, ratings, viewTimeoutTicks: 10, syncTicks: 5 }, four, true, four);
    const { config } = c.engines.get('h1')!.configuration();
    const head1 = headFor(config, 1);
    const member = four.find((id) => id !== head1 && id !== headFor(config, 2))!;
    const others = four.filter((id) => id !== member);
    // The others do not hear the member's view change (they stay in view 0 until view 1's NEW-VIEW).
    let asked = 0;
    c.tamper = (from, _to, m) => {
      if (from !== member || m.type !== 'gpbft/view-change') return m;
      asked = m.vc.view;
      return null;
    };
    // Two others ask for view 2: the member joins, reporting nothing prepared.
    for (const from of others.slice(0, 2)) c.engines.get(member)!.step(from, viewChangeBy(c, from, 2));
    c.run();
    assert.equal(asked, 2, 'joined view 2');
    // A valid NEW-VIEW for view 1 arrives (view 1 formed by the others meanwhile).
    const viewChanges = others.map((id) => (viewChangeBy(c, id, 1) as Extract<GpbftMessage, { type: 'gpbft/view-change' }>).vc);
    const newView: GpbftMessage = {
      type: 'gpbft/new-view',
      view: 1,
      height: 0,
      viewChanges,
      signature: identities.signerOf(head1).sign(newViewBytes(1, 0, viewChanges)),
    };
    const control = others.find((id) => id !== head1)!;
    c.engines.get(control)!.step(head1, newView);
    c.engines.get(member)!.step(head1, newView);
    c.run();
    assert.equal(c.engines.get(control)!.configuration().view, 1, 'the NEW-VIEW is valid: a member not asking for a later view enters it');
    assert.equal(c.engines.get(member)!.configuration().view, 0, 'the member asking for view 2 stays out of view 1');
  });

  it('4 groups of 4 (f2 = 1): a lone Byzantine member asking for view changes moves nobody; ordering goes on in view 0', () => {
    const c = new Cluster(options16, ids16, true, ids16);
    const { head, primaries } = c.engines.get(ids16[0]!)!.configuration();
    const liar = ids16.find((id) => id !== head && !primaries.includes(id))!;
    const correct = ids16.filter((id) => id !== liar);
    let seq = 0;
    for (let round = 1; round <= 6; round++) {
      // Every round the liar asks everyone for a view further on, and a client's request arrives.
      for (const to of correct) for (let view = round; view <= round + 2; view++) c.engines.get(to)!.step(liar, viewChangeBy(c, liar, view));
      c.run();
      c.propose(correct[round % correct.length]!, tx(++seq));
      c.tick(3);
    }
    c.settle(1);
    for (const id of correct) assert.equal(c.engines.get(id)!.configuration().view, 0, `${id} stayed in view 0`);
    assert.equal(c.chains.get(correct[0]!)!.flatMap((b) => b.proposals).length, seq, 'every request decided in view 0');
    assert.ok(!c.sent.some((m) => correct.includes(m.from) && m.message.type === 'gpbft/view-change'), 'no correct member asked for a view change');
    c.assertAgreement();
  });

  it('4 groups of 4: a Byzantine member flooding reports for far-ahead views does not crowd out the view change that replaces a crashed head', () => {
    const c = new Cluster(options16, ids16, true, ids16);
    c.propose('b1', tx(1));
    c.settle(1);
    const { head, primaries } = c.engines.get('b1')!.configuration();
    const liar = ids16.find((id) => id !== head && !primaries.includes(id))!;
    const correct = ids16.filter((id) => id !== liar && id !== head);
    // More far-ahead views than a member keeps reports for (16): every slot the liar's.
    for (const to of correct) for (let view = 1000; view < 1040; view++) c.engines.get(to)!.step(liar, viewChangeBy(c, liar, view));
    c.run();
    c.crash(head);
    c.propose(correct[0]!, tx(2));
    c.settle(2);
    for (const id of correct) {
      const view = c.engines.get(id)!.configuration().view;
      assert.ok(view > 0 && view < 1000, `${id} replaced the crashed head in a view near it (view ${view}), not the liar's`);
    }
    c.assertAgreement();
  });

  /** 4 groups of 4, one block decided, then a group primary that is not the head crashes. */
  function crashedGroupPrimary(): { c: Cluster; g: number; group: readonly NodeId[]; failed: NodeId } {
    const c = new Cluster(options16, ids16, true, ids16);
    c.propose('b1', tx(1));
    c.settle(1);
    const { head, primaries, config } = c.engines.get('b1')!.configuration();
    // Not the head's group: the crash leaves every other group and layer 2 working.
    const g = primaries.findIndex((p) => p !== head);
    const failed = primaries[g]!;
    c.crash(failed);
    return { c, g, group: config.groups[g]!, failed };
  }

  it('4 groups of 4: a request only one member holds when its group primary has crashed is still decided, without the client retrying elsewhere', () => {
    const { c, group, failed } = crashedGroupPrimary();
    const holder = group.find((id) => id !== failed)!;
    c.propose(holder, tx(2));
    c.settle(2);
    assert.ok(
      [...c.engines.keys()].every((id) =>
        c.chains
          .get(id)!
          .flatMap((b) => b.proposals)
          .some((p) => p.seq === 2),
      ),
      'the request is decided at every running node',
    );
    c.assertAgreement();
  });

  it("4 groups of 4: a crashed group primary is replaced although the other groups' blocks keep being decided", () => {
    const { c, g, group, failed } = crashedGroupPrimary();
    const starved = group.filter((id) => id !== failed);
    const served = ids16.filter((id) => !group.includes(id));
    c.propose(starved[0]!, tx(1, 'starved'));
    // Every tick another group's member gets a request: blocks keep coming, none holds the starved one.
    let seq = 0;
    const decidedStarved = (): boolean => starved.every((id) => c.chains.get(id)!.some((b) => b.proposals.some((p) => p.clientId === 'starved')));
    for (let i = 0; i < 200 && !decidedStarved(); i++) {
      c.propose(served[i % served.length]!, tx(++seq, 'busy'));
      c.tick();
    }
    assert.ok(decidedStarved(), "the starved group's request is decided");
    const after = c.engines.get(starved[0]!)!.configuration();
    assert.ok(after.view > 0, 'a view change replaced the crashed primary');
    assert.notEqual(after.primaries[g], failed);
    c.assertAgreement();
  });

  /**
   * A Byzantine layer-2 primary collects the others' commit2 for block 1 but sends none of its
   * own and never hands out a block (no deliver, no catch-up reply); view 0's commit2 between the
   * correct primaries is lost, so it alone decides height 1. Its view change (height 1) reaches the
   * next head before the others', which are held until `release`.
   */
  function withheldBlock(options: Record<string, unknown>, lie = 0): { c: Cluster; liar: NodeId; release: () => void } {
    const c = new Cluster(options, ids16, true, ids16);
    const { config, primaries, head } = c.engines.get('b1')!.configuration();
    const nextHead = headFor(config, 1);
    const liar = primaries.find((p) => p !== head && p !== nextHead)!;
    const held: Array<{ from: NodeId; message: GpbftMessage }> = [];
    let liarReported = false;
    c.tamper = (from, to, m) => {
      if (from === liar && (m.type === 'gpbft/commit2' || m.type === 'gpbft/deliver' || m.type === 'gpbft/blocks')) return null;
      if (m.type === 'gpbft/commit2' && m.view === 0 && to !== liar) return null;
      if (from === liar && m.type === 'gpbft/view-change' && lie > 0) {
        // It also claims `lie` blocks beyond the one it decided (signed by itself).
        const unsigned = { view: m.vc.view, node: m.vc.node, height: m.vc.height + lie, digest: m.vc.digest, prepared: m.vc.prepared };
        m = { type: 'gpbft/view-change', vc: { ...unsigned, signature: identities.signerOf(liar).sign(viewChangeBytes(unsigned)) } };
      }
      if (m.type === 'gpbft/view-change' && to === nextHead && !liarReported) {
        if (from !== liar) {
          held.push({ from, message: m });
          return null;
        }
        liarReported = true;
      }
      return m;
    };
    c.propose(
      ids16.find((id) => id !== liar)!,
      tx(1),
    );
    for (let i = 0; i < 5 && c.engines.get(liar)!.status().decidedHeight === 0; i++) c.tick();
    assert.equal(c.engines.get(liar)!.status().decidedHeight, 1, 'the liar alone decided height 1');
    assert.ok(ids16.filter((id) => id !== liar).every((id) => c.engines.get(id)!.status().decidedHeight === 0));
    for (let i = 0; i < 40 && !liarReported; i++) c.tick();
    assert.ok(liarReported, "the liar's view change (height 1) reached the next head first");
    return { c, liar, release: () => held.splice(0).forEach((h) => c.engines.get(nextHead)!.step(h.from, h.message)) };
  }

  it('a new view forms although the one node that decided the next block withholds it (campaign seed 842)', () => {
    const { c, liar, release } = withheldBlock(options16);
    release();
    // Before decision 1391 every head waited to catch up from the liar, for ever.
    c.settle(1, 200);
    c.propose(
      ids16.find((id) => id !== liar)!,
      tx(2),
    );
    c.settle(2, 400);
    c.assertAgreement();
    assert.ok(c.engines.get('b1')!.configuration().view > 0, 'decided in a later view');
  });

  for (const lie of [0, 5]) {
    it(`a new view forms although the one node that decided a block that regroups withholds it${lie > 0 ? ' and claims a higher height' : ''} (decision 1392)`, () => {
      // Every block regroups (periodBlocks 1): the primaries after block 1 differ from those before
      // it. Decision 1391 then caught up to every report first and waited for the withholder for
      // ever; decision 1392 counts the reports under both configurations and leaves it out.
      const options = { ...options16, periodBlocks: 1 };
      const before = new Cluster(options, ids16, true, ids16).engines.get('b1')!.configuration().config;
      const { c, liar, release } = withheldBlock(options, lie);
      const correct = ids16.find((id) => id !== liar)!;
      release();
      c.settle(1, 300);
      const after = c.engines.get(correct)!.configuration().config;
      assert.ok(after.period > before.period, 'block 1 regrouped');
      assert.notDeepEqual(after.rankings, before.rankings, 'with other primaries');
      c.propose(correct, tx(2));
      c.settle(2, 400);
      c.assertAgreement();
    });
  }

  it('a new view never leaves out a report that may come from a committer under the configuration the re-proposed block brings (decision 1392)', () => {
    // Block 1 regroups (periodBlocks 1). Two primaries of view 0 after it report height 2: had they
    // decided blocks 1 and 2, block 2's commit quorum under the new primaries could lie outside the
    // other reports, although those meet every quorum of the primaries before block 1. A new view
    // built on the others would re-propose block 1 and then cut another block 2.
    const options = { ...options16, periodBlocks: 1 };
    const reference = new Cluster(options, ids16, true, ids16);
    const before = reference.engines.get('b1')!.configuration().config;
    reference.propose('b1', tx(1));
    reference.settle(1);
    const after = reference.engines.get('b1')!.configuration().config;
    const nextHead = headFor(before, 1);
    const oldPrimaries = primariesFor(before, 0);
    const newPrimaries = primariesFor(after, 0).filter((id) => id !== nextHead);
    // Two of view 0's new primaries, at most one of them an old one: the rest still cover the old view 0.
    const ahead = [
      newPrimaries.find((id) => !oldPrimaries.includes(id))!,
      newPrimaries.find((id) => oldPrimaries.includes(id)) ?? newPrimaries.filter((id) => !oldPrimaries.includes(id))[1]!,
    ];
    assert.ok(ahead.every((id) => id !== undefined) && ahead[0] !== ahead[1], "the regroup changed view 0's primaries");
    assert.ok(ahead.filter((id) => oldPrimaries.includes(id)).length <= 1);

    const c = new Cluster(options, ids16, true, ids16);
    const viewChanges: ViewChange[] = [];
    c.tamper = (from, _to, m) => {
      // Block 1 is prepared everywhere and decided nowhere: view 0's commit2 is lost.
      if (m.type === 'gpbft/commit2' && m.view === 0) return null;
      if (m.type !== 'gpbft/view-change') return m;
      let vc = m.vc;
      if (ahead.includes(from)) {
        const unsigned = { view: vc.view, node: vc.node, height: 2, digest: new Uint8Array(32).fill(2), prepared: null };
        vc = { ...unsigned, signature: identities.signerOf(from).sign(viewChangeBytes(unsigned)) };
      }
      if (vc.view === 1 && !viewChanges.some((x) => x.node === vc.node)) viewChanges.push(vc);
      return { type: 'gpbft/view-change', vc };
    };
    c.propose('b1', tx(1));
    c.tick(120);
    assert.equal(viewChanges.length, 16, 'every node asked for view 1');
    assert.ok(
      viewChanges.some((vc) => vc.height === 0 && vc.prepared !== null),
      'block 1 prepared',
    );
    const newViews = c.sent.flatMap((s) => (s.message.type === 'gpbft/new-view' ? [s.message] : []));
    assert.ok(
      newViews.every((m) => ahead.every((id) => m.viewChanges.some((vc) => vc.node === id))),
      'no new view left out the reports above its height',
    );

    // A member refuses such a new view from the head, too.
    const usable = viewChanges.filter((vc) => !ahead.includes(vc.node)).sort((a, b) => (a.node < b.node ? -1 : 1));
    const member = ids16.find((id) => id !== nextHead && c.engines.get(id)!.configuration().view === 0)!;
    assert.ok(member !== undefined, 'a member still in view 0');
    const forged = {
      type: 'gpbft/new-view' as const,
      view: 1,
      height: 0,
      viewChanges: usable,
      signature: identities.signerOf(nextHead).sign(newViewBytes(1, 0, usable)),
    };
    c.tamper = null;
    c.engines.get(member)!.step(nextHead, forged);
    assert.equal(c.engines.get(member)!.configuration().view, 0, 'the member did not enter view 1');
  });

  it('a node that reports a height it never decided cannot stop the view change (decision 1391)', () => {
    const c = new Cluster(options16, ids16, true, ids16);
    c.propose('b1', tx(1));
    c.settle(1);
    const { config, head } = c.engines.get('b1')!.configuration();
    const nextHead = headFor(config, 1);
    const liar = ids16.find((id) => id !== head && id !== nextHead)!;
    const held: Array<{ from: NodeId; message: GpbftMessage }> = [];
    let liarReported = false;
    c.tamper = (from, to, m) => {
      if (from === liar && m.type === 'gpbft/view-change') {
        // Claims five blocks nobody decided (signed by itself: only the height is a lie).
        const unsigned = { view: m.vc.view, node: m.vc.node, height: m.vc.height + 5, digest: m.vc.digest, prepared: m.vc.prepared };
        if (to === nextHead) liarReported = true;
        return { type: 'gpbft/view-change', vc: { ...unsigned, signature: identities.signerOf(liar).sign(viewChangeBytes(unsigned)) } };
      }
      // The other view changes reach the next head after the liar's.
      if (m.type === 'gpbft/view-change' && to === nextHead && !liarReported) {
        held.push({ from, message: m });
        return null;
      }
      return m;
    };
    // The head of view 0 fails: a view change to view 1 and beyond.
    c.crash(head);
    c.propose(
      ids16.find((id) => id !== head && id !== liar)!,
      tx(2),
    );
    for (let i = 0; i < 60 && !liarReported; i++) c.tick();
    assert.ok(liarReported, "the liar's view change reached the next head first");
    for (const h of held.splice(0)) c.engines.get(nextHead)!.step(h.from, h.message);
    // Before: each head asked the liar for blocks it does not have, for ever.
    c.settle(2, 300);
    c.assertAgreement();
  });

  it('a new view does not skip a block that a reporter of height+1 prepared after the one it re-proposes (decision 1391)', () => {
    const c = new Cluster(options16, ids16, true, ids16);
    const { config, primaries, head } = c.engines.get('b1')!.configuration();
    const nextHead = headFor(config, 1);
    const others = primaries.filter((p) => p !== head && p !== nextHead);
    // The decider alone decides block 2, then crashes; the laggard stays at height 0 with block 1
    // prepared (its commit2 lost), so the next head's set reports height 1 and block 1 prepared.
    const decider = others[0]!;
    const laggard = primaries.includes(nextHead) ? nextHead : others[1]!;
    let setup = true;
    let headAsked = false;
    let newView = false;
    c.tamper = (from, to, m) => {
      if (from === nextHead && m.type === 'gpbft/view-change') headAsked = true;
      if (from === nextHead && m.type === 'gpbft/new-view') newView = true;
      // Until the next head forms the new view nobody learns a block except from layer 2's own
      // votes, and the next head only once it asked for the new view (as it catches up to form it).
      if (!newView && (m.type === 'gpbft/deliver' || m.type === 'gpbft/blocks') && !(to === nextHead && headAsked && !setup)) return null;
      if (setup && m.type === 'gpbft/commit2' && m.height === 1 && to === laggard) return null;
      if (setup && m.type === 'gpbft/commit2' && m.height === 2 && to !== decider) return null;
      return m;
    };
    const member = ids16.find((id) => !primaries.includes(id))!;
    const height = (id: NodeId): number => c.engines.get(id)!.status().decidedHeight;
    c.propose(member, tx(1));
    for (let i = 0; i < 5 && height(decider) < 1; i++) c.tick();
    c.propose(member, tx(2));
    for (let i = 0; i < 5 && height(decider) < 2; i++) c.tick();
    assert.equal(height(decider), 2, 'the decider decided block 2');
    assert.ok(primaries.every((p) => p === decider || height(p) === (p === laggard ? 0 : 1)));
    assert.equal(height(nextHead), 0);
    c.crash(decider);
    setup = false;
    // Another request, so that a block 2 cut afresh would differ from the decider's.
    c.propose(member, tx(3));
    // The reporters of height 1 hold block 2 prepared: the next head must start from height 1 and
    // re-propose it. Started from height 0 it re-decided block 1 and then cut another block 2.
    c.settle(2, 300);
    c.assertAgreement();
    c.start(decider);
    c.propose(member, tx(4));
    c.settle(3, 300);
    c.assertAgreement();
  });

  it('a member forwards a request it already holds pending at most once per tick (campaign seed 3878)', () => {
    // Two members that each took the other for the primary passed a request back and forth for
    // ever; with duplicated messages the copies multiplied until the simulator's queue filled.
    const c = new Cluster(options16, ids16, true, ids16);
    const { primaries } = c.engines.get('b1')!.configuration();
    const [member, other] = ids16.filter((id) => !primaries.includes(id));
    let forwarded = 0;
    // Nothing reaches the primaries: the request stays pending at the member.
    c.tamper = (from, to, m) => {
      if (from === member && m.type === 'gpbft/request') forwarded += 1;
      return primaries.includes(to) ? null : m;
    };
    const comesBack = (times: number, proposal: Proposal): void => {
      for (let i = 0; i < times; i++) c.engines.get(member!)!.step(other!, { type: 'gpbft/request', proposals: [proposal] });
      c.run();
    };
    c.propose(member!, tx(1));
    assert.equal(forwarded, 1, 'forwarded to its primary');
    comesBack(3, tx(1));
    assert.equal(forwarded, 2, 'forwarded once more as it comes back, not for every copy');
    comesBack(3, tx(2));
    assert.equal(forwarded, 3, 'a new request is forwarded');
    c.engines.get(member!)!.tick();
    c.run();
    const afterTick = forwarded;
    comesBack(3, tx(1));
    assert.equal(forwarded, afterTick + 1, 'once again in the next tick');
  });

  it('restarts from its durable state and catches up', () => {
    const c = new Cluster();
    c.propose('h1', tx(1));
    c.settle(1);
    c.crash('h6');
    c.propose('h2', tx(2));
    c.settle(2);
    c.start('h6');
    assert.equal(c.engines.get('h6')!.status().decidedHeight, 1, 'height survives the restart');
    c.tick(20);
    c.settle(2);
    c.assertAgreement();
  });

  it('a node behind a chain of large blocks asks for the next reply at once when one came cut by size', () => {
    const c = new Cluster();
    c.crash('h6');
    // 12 blocks of ~700 KB: replies are cut at CATCH_UP_BYTES_MAX (4 MiB), 5 blocks each.
    const big = (seq: number): Proposal => ({ clientId: 'c1', seq, data: new Uint8Array(700 * 1024).fill(seq) });
    for (let s = 1; s <= 12; s++) {
      c.propose('h1', big(s));
      c.settle(s);
    }
    c.start('h6');
    // Its periodic sync (every syncTicks = 5) starts the catch-up; without asking again at once after
    // a reply full by size, each of the three replies would wait for the next periodic sync.
    let ticks = 0;
    while (c.engines.get('h6')!.status().decidedHeight < 12 && ticks < 40) {
      c.tick();
      ticks += 1;
    }
    assert.equal(c.engines.get('h6')!.status().decidedHeight, 12);
    assert.ok(ticks <= 7, `caught up in ${ticks} ticks`);
    const replies = c.sent.filter((m) => m.to === 'h6' && m.message.type === 'gpbft/blocks');
    assert.ok(replies.length >= 3 && replies.every((m) => encode(m.message).byteLength <= CATCH_UP_BYTES_MAX + 1024), `${replies.length} replies`);
    c.assertAgreement();
  });

  it('node update: a joining hospital enters the group with the smallest md and catches up', () => {
    const c = new Cluster();
    const join = encodeControl({ op: 'join', id: 'newcomer', ...coordinates.newcomer!, rating: 90 });
    c.propose('h1', { clientId: `${CONTROL_CLIENT_PREFIX}admin`, seq: 1, data: join });
    c.settle(1);
    const { config } = c.engines.get('h1')!.configuration();
    const south = config.groups.find((g) => g.includes('h5'))!;
    assert.ok(south.includes('newcomer'), 'joined the nearby (southern) group');
    c.start('newcomer', ids); // boots with the original membership and learns the rest from the chain
    assert.equal(c.engines.get('newcomer')!.status().role, 'observer');
    c.tick(15);
    c.settle(1);
    assert.notEqual(c.engines.get('newcomer')!.status().role, 'observer');
    c.propose('newcomer', tx(5));
    c.settle(2);
    c.assertAgreement();
  });

  it('node update: a leaving hospital sends a signed quit request; it is removed and groups re-ranked', () => {
    const c = new Cluster();
    const quit = encodeControl({ op: 'leave', id: 'h8', signature: identities.signerOf('h8').sign(leaveSignedBytes('h8')) });
    c.propose('h8', { clientId: `${CONTROL_CLIENT_PREFIX}h8`, seq: 1, data: quit });
    c.settle(1);
    const { config } = c.engines.get('h1')!.configuration();
    assert.ok(!config.members.some((m) => m.id === 'h8'));
    assert.ok(!config.groups.flat().includes('h8'));
    assert.equal(c.engines.get('h8')!.status().role, 'observer');
    // A forged quit request (signed by someone else) is ignored.
    const forged = encodeControl({ op: 'leave', id: 'h7', signature: identities.signerOf('h1').sign(leaveSignedBytes('h7')) });
    c.propose('h1', { clientId: `${CONTROL_CLIENT_PREFIX}h1`, seq: 1, data: forged });
    c.settle(2);
    assert.ok(
      c.engines
        .get('h1')!
        .configuration()
        .config.members.some((m) => m.id === 'h7'),
    );
  });

  it('node update: a hospital rated below the threshold is removed; a group too small regroups', () => {
    const c = new Cluster();
    const { config: before } = c.engines.get('h1')!.configuration();
    c.propose('h1', rating('h5', 'h2', 40));
    c.settle(1);
    const { config } = c.engines.get('h5')!.configuration();
    assert.ok(!config.members.some((m) => m.id === 'h2'), 'removed below ratingThreshold 50');
    // 7 members cannot make two groups of ≥ 4: Algorithm 1 reruns with one group.
    assert.equal(before.groups.length, 2);
    assert.equal(config.groups.length, 1);
    c.propose('h3', tx(9));
    c.settle(2);
    c.assertAgreement();
  });

  it('regroups at every period boundary (periodBlocks)', () => {
    const c = new Cluster({ ...baseOptions, periodBlocks: 2 });
    c.propose('h1', tx(1));
    c.settle(1);
    assert.equal(c.engines.get('h1')!.configuration().config.period, 0);
    c.propose('h1', tx(2));
    c.settle(2);
    for (const e of c.engines.values()) assert.equal(e.configuration().config.period, 1);
  });

  it('a primary caught equivocating is barred from the primary role', () => {
    const c = new Cluster();
    const { primaries } = c.engines.get('h1')!.configuration();
    const liar = primaries[0]!;
    let lied = false;
    const rng = new SeededRng(3);
    // The liar signs a second, conflicting prepare2 and sends both to the other primary.
    c.tamper = (from, to, m) => {
      if (from === liar && m.type === 'gpbft/prepare2' && !lied) {
        lied = true;
        const twin = gpbftByzantine.equivocate(m, rng, identities.signerOf(liar))!;
        c.engines.get(to)?.step(from, twin);
      }
      return m;
    };
    c.propose('h1', tx(1));
    c.settle(1);
    c.tamper = null;
    assert.ok(lied);
    for (let s = 2; s <= 3; s++) {
      c.propose('h3', tx(s));
      c.settle(s);
    }
    const { config, primaries: now } = c.engines.get('h7')!.configuration();
    assert.ok(config.barred.includes(liar), 'evidence decided in a block bars the liar');
    assert.ok(!now.includes(liar));
    assert.ok(config.rankings.every((r) => !r.includes(liar)));
    c.assertAgreement();
  });

  it('drops malformed input without throwing', () => {
    const c = new Cluster();
    const e = c.engines.get('h1')!;
    const junk: unknown[] = [
      null,
      42,
      {},
      { type: 'gpbft/pre-prepare2' },
      { type: 'gpbft/deliver', block: { height: 1 } },
      { type: 'gpbft/sync', height: -1 },
      { type: 'gpbft/blocks', blocks: [{}] },
      { type: 'gpbft/new-view', view: 1, height: 0, viewChanges: [{}], signature: new Uint8Array(64) },
    ];
    for (const m of junk) e.step('h2', m as GpbftMessage);
    e.step('stranger', { type: 'gpbft/request', proposals: [tx(1)] });
    assert.equal(e.propose({ clientId: '', seq: 0, data: new Uint8Array() }).accepted, false);
    assert.ok(encode({ ok: true }).byteLength > 0);
  });
});

describe('gpbft orderer-set changes (Engine.reconfigure, decision 1280)', () => {
  const memberIdsOf = (c: Cluster, id: NodeId): string[] => [...c.engines.get(id)!.status().members].sort();
  const steps = (c: Cluster, id: NodeId): string[] =>
    c.chains
      .get(id)!
      .flatMap((b) => b.proposals)
      .filter((p) => p.clientId === MEMBERSHIP_CLIENT_ID)
      .map((p) => `${p.seq}`);

  it("a hospital joining a chain longer than the members retain replays it from their nodes' chains (EngineContext.archive)", () => {
    for (const archive of [true, false]) {
      const { newcomer: _c, ...genesisCoordinates } = coordinates;
      const { newcomer: _r, ...genesisRatings } = ratings;
      const c = new Cluster({ ...baseOptions, coordinates: genesisCoordinates, ratings: genesisRatings, retainBlocks: 4 }, ids, archive);
      for (let s = 1; s <= 10; s++) {
        c.propose(ids[s % ids.length]!, tx(s));
        c.settle(s);
      }
      c.start('newcomer', ids);
      c.target = { members: [...ids, 'newcomer'], profiles: { newcomer: { ...coordinates.newcomer!, rating: 90 } } };
      c.tick(60);
      const head = c.engines.get('h1')!.status().decidedHeight;
      assert.ok(head > 10, 'the members took the newcomer in (a membership block after the ten)');
      const newcomer = c.engines.get('newcomer')!;
      if (!archive) {
        assert.equal(newcomer.status().decidedHeight, 0, 'without the archive the newcomer cannot start: block 1 left retention');
        continue;
      }
      assert.equal(newcomer.status().decidedHeight, head, 'the newcomer replayed every block');
      assert.notEqual(newcomer.status().role, 'observer');
      c.propose('newcomer', tx(11));
      c.settle(head + 1);
      c.assertAgreement();
    }
  });

  it('a configured newcomer joins the nearest group with its configured position and rating, catches up and votes', () => {
    // The newcomer's position and rating come from the target's profiles (the config's node entry), not the options.
    const { newcomer: _c, ...genesisCoordinates } = coordinates;
    const { newcomer: _r, ...genesisRatings } = ratings;
    const c = new Cluster({ ...baseOptions, coordinates: genesisCoordinates, ratings: genesisRatings });
    c.start('newcomer', ids); // boots with the genesis membership, as an observer
    assert.equal(c.engines.get('newcomer')!.status().role, 'observer');
    assert.equal(c.engines.get('newcomer')!.reconfigure([...ids, 'newcomer']), 'stepping', 'a non-member waits');
    c.target = { members: [...ids, 'newcomer'], profiles: { newcomer: { ...coordinates.newcomer!, rating: 90 } } };
    c.tick(40);
    for (const id of [...ids, 'newcomer']) assert.deepEqual(memberIdsOf(c, id), [...ids, 'newcomer'].sort(), `${id} has the newcomer`);
    const { config } = c.engines.get('h1')!.configuration();
    assert.ok(config.groups.find((g) => g.includes('h5'))!.includes('newcomer'), 'joined the southern group (smallest md)');
    assert.equal(config.members.find((m) => m.id === 'newcomer')!.rating, 90, 'rating from the profile');
    assert.deepEqual(steps(c, 'h1'), ['1'], 'one membership entry, decided once');
    assert.equal(c.engines.get('h1')!.reconfigure(c.target.members, c.target.profiles), 'settled');
    assert.notEqual(c.engines.get('newcomer')!.status().role, 'observer');
    c.propose('newcomer', tx(1));
    c.settle(2);
    c.assertAgreement();
  });

  it('an orderer the configuration drops is removed: it can no longer propose or vote, the rest carry on', () => {
    const c = new Cluster();
    c.target = { members: ids.filter((id) => id !== 'h8'), profiles: {} };
    c.tick(40);
    for (const id of ids) assert.ok(!memberIdsOf(c, id).includes('h8'), `${id} removed h8`);
    const h8 = c.engines.get('h8')!;
    assert.equal(h8.status().role, 'observer');
    assert.deepEqual(h8.propose(tx(1)), { accepted: false, reason: 'not-member' });
    // What it still sends is dropped as a non-member's: a request it forwards is never ordered.
    for (const id of ids.filter((x) => x !== 'h8')) c.engines.get(id)!.step('h8', { type: 'gpbft/request', proposals: [tx(99, 'rogue')] });
    for (let s = 2; s <= 4; s++) {
      // (Seven members are one group, whose head cuts at once: propose may decide before it returns.)
      const next = c.engines.get('h2')!.status().decidedHeight + 1;
      c.propose('h2', tx(s));
      c.settle(next);
    }
    const later = c.chains.get('h1')!.slice(1);
    assert.ok(later.length >= 3);
    for (const b of later) assert.ok(!b.certificate!.signatures.some((sig) => sig.nodeId === 'h8'), 'no signature of h8 after its removal');
    c.tick(30);
    assert.ok(!c.chains.get('h1')!.some((b) => b.proposals.some((p) => p.clientId === 'rogue')), "the removed node's request was dropped");
    c.assertAgreement();
  });

  it("a membership entry that is not the members' own next step is never decided", () => {
    const c = new Cluster();
    c.target = { members: ids, profiles: {} };
    // h1 (a faulty primary or a stale ledger) asks to remove h7, which no one's configuration drops.
    const bogus = { clientId: MEMBERSHIP_CLIENT_ID, seq: 1, data: encodeControl({ op: 'remove', id: 'h7' }) };
    c.engines.get('h1')!.propose(bogus);
    c.propose('h3', tx(1));
    c.tick(60);
    c.settle(1);
    assert.deepEqual(steps(c, 'h3'), [], 'the bogus entry was not decided');
    assert.ok(memberIdsOf(c, 'h3').includes('h7'));
    c.assertAgreement();
  });

  it("a hospital removed by the paper's rules (rating below the threshold) is not joined again by reconfigure", () => {
    const c = new Cluster();
    c.target = { members: ids, profiles: {} };
    c.propose('h1', rating('h5', 'h2', 40));
    c.settle(1);
    c.tick(30);
    assert.ok(!memberIdsOf(c, 'h1').includes('h2'));
    assert.deepEqual(c.engines.get('h1')!.configuration().config.departed, ['h2']);
    assert.equal(c.engines.get('h1')!.reconfigure(ids), 'settled');
    assert.deepEqual(steps(c, 'h1'), []);
  });
});

describe('gpbft ratings carry their evidence (decision 1281)', () => {
  const ratingOf = (c: Cluster, at: NodeId, id: NodeId): number | undefined =>
    c.engines
      .get(at)!
      .configuration()
      .config.members.find((m) => m.id === id)?.rating;
  const decided = (c: Cluster, at: NodeId, p: Proposal): boolean =>
    c.chains.get(at)!.some((b) => b.proposals.some((q) => q.clientId === p.clientId && q.seq === p.seq));
  /** Make `id` a Byzantine node that orders and votes for any rating (it skips every check of its own). */
  const byzantine = (c: Cluster, id: NodeId): void => {
    (c.engines.get(id) as unknown as { ratingAcceptable: () => boolean }).ratingAcceptable = () => true;
  };

  it('a signed rating by another member hospital is decided and applied everywhere', () => {
    const c = new Cluster();
    c.propose('h3', rating('h5', 'h2', 60));
    c.settle(1);
    for (const id of ids) assert.equal(ratingOf(c, id, 'h2'), 60, id);
    c.assertAgreement();
  });

  it('refuses at the door a rating that is unsigned, forged, a self-rating, re-wrapped or of a non-member', () => {
    const c = new Cluster();
    const e = c.engines.get('h3')!;
    const unsigned: Proposal = { clientId: `${CONTROL_CLIENT_PREFIX}supervisor`, seq: 1, data: encodeControl({ op: 'rate', id: 'h2', rating: 10 }) };
    assert.deepEqual(e.propose(unsigned), { accepted: false, reason: 'invalid' });
    assert.deepEqual(e.propose(rating('h5', 'h2', 10, 1, 'h3')), { accepted: false, reason: 'invalid' }, 'h3 signed in h5’s name');
    assert.deepEqual(e.propose(rating('h2', 'h2', 10)), { accepted: false, reason: 'invalid' }, 'self-rating');
    assert.deepEqual(e.propose(rating('newcomer', 'h2', 10)), { accepted: false, reason: 'invalid' }, 'not a member');
    assert.deepEqual(e.propose(rating('h5', 'newcomer', 10)), { accepted: false, reason: 'invalid' }, 'rates a non-member');
    assert.deepEqual(e.propose({ ...rating('h5', 'h2', 10, 1), seq: 2 }), { accepted: false, reason: 'invalid' }, 'seq is not the signed nonce');
    assert.deepEqual(e.propose({ ...rating('h5', 'h2', 10, 1), clientId: rateClientId('h6', 'admin') }), { accepted: false, reason: 'invalid' });
    assert.deepEqual(e.propose(legacyRating('h5', 'h2', 10)), { accepted: false, reason: 'invalid' }, 'names no consortium (decision 1387)');
    assert.deepEqual(e.propose(foreignRating('h5', 'h2', 10)), { accepted: false, reason: 'invalid' }, 'signed for another consortium');
    assert.deepEqual(e.propose(rating('h5', 'h2', 10)), { accepted: true }, 'the same rating, signed for this consortium');
  });

  for (const [name, forged] of [
    ['an unsigned rating', { clientId: `${CONTROL_CLIENT_PREFIX}supervisor`, seq: 1, data: encodeControl({ op: 'rate', id: 'h2', rating: 10 }) }],
    ['a rating signed by the proposer in another hospital’s name', null],
    ['a self-rating', 'self'],
  ] as const) {
    it(`a Byzantine head and group primary cannot get ${name} decided; correct members carry on`, () => {
      const c = new Cluster();
      const { head } = c.engines.get('h1')!.configuration();
      byzantine(c, head);
      const other = ids.find((id) => id !== head && id !== 'h2')!;
      const p: Proposal = forged === null ? rating(other, 'h2', 10, 1, head) : forged === 'self' ? rating(head, head, 10) : forged;
      assert.ok(c.engines.get(head)!.propose(p).accepted);
      c.run();
      c.tick(40);
      const correct = ids.filter((id) => id !== head);
      for (const id of correct) assert.ok(!decided(c, id, p), `${id} decided the forged rating`);
      const target = forged === 'self' ? head : 'h2';
      for (const id of correct) assert.ok(ratingOf(c, id, target)! > 50, `${id} still has ${target} at its rating`);
      // Liveness: correct requests still get through (after a view change if the head stalls).
      c.propose(correct[0]!, tx(1));
      c.settle(1, 800);
      c.assertAgreement();
    });
  }

  it('a whole Byzantine group cannot get a forged rating past the correct primaries of layer 2', () => {
    const c = new Cluster();
    const { config, head } = c.engines.get('h1')!.configuration();
    const bad = config.groups.find((g) => g.includes(head))!;
    for (const id of bad) byzantine(c, id);
    const victim = config.groups.find((g) => !g.includes(head))![0]!;
    const p = rating(bad[0]!, victim, 10, 1, bad[1]!); // signed by the wrong key
    assert.ok(c.engines.get(head)!.propose(p).accepted);
    c.run();
    c.tick(60);
    for (const id of ids.filter((x) => !bad.includes(x))) {
      assert.ok(!decided(c, id, p), `${id} decided it`);
      assert.ok(ratingOf(c, id, victim) !== undefined, `${id} still has ${victim}`);
    }
  });

  it('a replayed rating is not decided twice, nor re-wrapped under a fresh seq', () => {
    const c = new Cluster();
    const first = rating('h5', 'h2', 60, 1);
    c.propose('h3', first);
    c.settle(1);
    c.propose('h3', rating('h5', 'h2', 90, 2));
    c.settle(2);
    for (const id of ids) assert.equal(ratingOf(c, id, 'h2'), 90);
    const { head } = c.engines.get('h1')!.configuration();
    byzantine(c, head);
    // The head replays the first signed rating as it was, and re-wrapped at seq 3.
    assert.ok(c.engines.get(head)!.propose(first).accepted);
    assert.ok(c.engines.get(head)!.propose({ ...first, seq: 3 }).accepted);
    c.run();
    c.tick(40);
    const correct = ids.filter((id) => id !== head);
    for (const id of correct) {
      assert.equal(ratingOf(c, id, 'h2'), 90, `${id}: the old rating was not applied again`);
      assert.ok(!c.chains.get(id)!.some((b) => b.proposals.some((q) => q.clientId === first.clientId && q.seq === 3)));
      assert.equal(c.chains.get(id)!.filter((b) => b.proposals.some((q) => q.clientId === first.clientId && q.seq === 1)).length, 1);
    }
  });

  it('a pending rating that stops being authorised (stale nonce, revoked admin) is given up, not held against the view timer', () => {
    let allowed = true;
    const stand = { authentic: () => true, authorised: () => allowed };
    const c = new Cluster({ ...baseOptions, ratingAuthority: stand });
    const { primaries } = c.engines.get('h1')!.configuration();
    const member = ids.find((id) => !primaries.includes(id))!;
    const p = rating('h5', 'h2', 10);
    assert.ok(c.engines.get(member)!.propose(p).accepted); // queued; nothing delivered yet
    allowed = false; // e.g. five minutes went by
    c.tick(100);
    assert.ok(!c.sent.some((m) => m.from === member && m.message.type === 'gpbft/view-change'), 'no view change over a dead rating');
    for (const id of ids) assert.ok(!decided(c, id, p));
    c.propose(member, tx(1));
    c.settle(1);
    for (const id of ids) assert.equal(c.engines.get(id)!.status().epoch, 0);
  });

  it('applying a decided block ignores a rating without valid evidence, the same way on every node', () => {
    // Beyond the fault bound (every primary signs): the bundle is valid, the rating is not.
    const deliver = (proposals: Proposal[]): GpbftEngine => {
      const e = getEngine('gpbft').create({
        id: 'h3',
        members: ids,
        rng: new SeededRng(1),
        storage: new MemoryStorage(),
        signer: identities.signerOf('h3'),
        verifier: identities.verifier,
        cutter: { countMax: 4, sizeBytesMax: 1 << 20, timeoutTicks: 1, pendingMax: 1000 },
        options: baseOptions,
      }) as GpbftEngine;
      const { primaries } = e.configuration();
      const digest = blockDigest(1, GENESIS_DIGEST, proposals);
      const evidence = encode([]);
      const statement = statementBytes('commit2', 0, 1, contentDigest(digest, evidence));
      const signatures = [...primaries].sort().map((nodeId) => ({ nodeId, signature: identities.signerOf(nodeId).sign(statement) }));
      const block: DecidedBlock = {
        height: 1,
        proposals,
        digest,
        previousDigest: GENESIS_DIGEST,
        certificate: { scheme: 'gpbft-bundle', fields: { view: 0, evidence }, signatures },
      };
      e.step(primaries[0]!, { type: 'gpbft/deliver', block });
      assert.equal(e.status().decidedHeight, 1, 'the block itself is decided');
      return e;
    };
    const members = (e: GpbftEngine): string[] => e.configuration().config.members.map((m) => m.id);
    const unsigned: Proposal = { clientId: `${CONTROL_CLIENT_PREFIX}supervisor`, seq: 1, data: encodeControl({ op: 'rate', id: 'h2', rating: 10 }) };
    assert.ok(members(deliver([unsigned])).includes('h2'), 'unsigned: ignored');
    assert.ok(members(deliver([rating('h5', 'h2', 10, 1, 'h1')])).includes('h2'), 'forged: ignored');
    assert.ok(members(deliver([{ ...rating('h5', 'h2', 10, 1), seq: 7 }])).includes('h2'), 'not bound to its nonce: ignored');
    assert.ok(members(deliver([rating('h2', 'h2', 10)])).includes('h2'), 'self-rating: ignored');
    assert.ok(members(deliver([foreignRating('h5', 'h2', 10)])).includes('h2'), 'signed for another consortium: ignored');
    assert.ok(!members(deliver([rating('h5', 'h2', 10)])).includes('h2'), 'a valid one is applied: below the threshold, removed');
    // A chain decided before decision 1387 replays alike: its ratings, of the old signed form, apply.
    assert.ok(!members(deliver([legacyRating('h5', 'h2', 10)])).includes('h2'), 'decided before 1387: applied');
  });
});
