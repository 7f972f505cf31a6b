// Multi-process tests (issue 5): real node processes, real sockets, real disks, kill -9.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifyLedger } from '../ledger/verify.ts';
import { MedLedgerApiError } from '../sdk/index.ts';
import { startTestNetwork, type TestNetwork } from './testdata/network.ts';

describe('five-hospital Raft network under kill -9', { timeout: 420_000 }, () => {
  let net: TestNetwork;
  before(async () => {
    net = await startTestNetwork({ orgs: 5, engine: 'raft' });
  });
  after(async () => {
    await net?.stop();
  });

  it('elects a new leader, keeps committing, the restarted node catches up, nothing acknowledged is lost or duplicated', async () => {
    const committed = new Map<string, string>(); // txId → asset id
    let lastCommittedBlock = 0;
    let lastCommittedTxId = '';
    let stopStream = false;
    let counter = 0;
    const failures: string[] = [];
    // A steady stream: 4 workers, each sending through a random live node.
    const worker = async (w: number): Promise<void> => {
      while (!stopStream) {
        const live = net.liveOrgs();
        const org = live[Math.floor(Math.random() * live.length)]!;
        const id = `w${w}-${counter++}`;
        try {
          const r = await net.client(org).submit('assets', 'create', [id, 'patient-7', '1'], { waitMs: 15_000 });
          if (r.code === 'VALID') {
            committed.set(r.txId, id);
            if ((r.blockNumber ?? 0) >= lastCommittedBlock) lastCommittedTxId = r.txId;
            lastCommittedBlock = Math.max(lastCommittedBlock, r.blockNumber ?? 0);
          }
        } catch (err) {
          // The node we asked died, or the leader changed mid-flight: the client retries with a
          // new transaction (a new txId); only reported commits count.
          failures.push(err instanceof MedLedgerApiError ? err.code : (err as Error).message);
          await sleep(100);
        }
      }
    };
    const workers = [0, 1, 2, 3].map((w) => worker(w));

    await net.waitFor('20 commits', () => committed.size >= 20, 60_000);
    const leader = net.status(net.orgs[0]!)?.consensus?.leader;
    assert.ok(leader, 'a leader is known');
    const leaderOrg = leader.replace(/^node\./, '');
    net.kill(leaderOrg);
    const beforeKill = committed.size;

    await net.waitFor(
      'a new leader',
      () => {
        const views = net.liveOrgs().map((o) => net.status(o)?.consensus?.leader ?? null);
        return views.length === 4 && views.every((l) => l !== null && l !== leader && l === views[0]);
      },
      60_000,
    );
    await net.waitFor('20 more commits after the kill', () => committed.size >= beforeKill + 20, 90_000);

    net.restart(leaderOrg);
    await net.waitFor(
      'the restarted node to catch up',
      () => {
        const s = net.status(leaderOrg);
        const others = net.orgs.filter((o) => o !== leaderOrg).map((o) => net.status(o)!.height);
        return s !== null && s.pid === net.pids.get(leaderOrg) && s.height >= Math.min(...others);
      },
      90_000,
    );

    // A follower killed while clients submit: gateways route endorsement around it at once
    // (the dead peer's link is down, so it is not asked; a request in flight fails when the link
    // drops) instead of waiting out a 10 s request timeout (issue 11). The bound is generous —
    // endorsement and commit here take well under a second — and sits below the old timeout.
    const follower = net.liveOrgs().find((o) => `node.${o}` !== net.status(o)?.consensus?.leader && o !== leaderOrg)!;
    net.kill(follower);
    await sleep(300);
    for (const org of net.liveOrgs()) {
      for (let i = 0; i < 3; i++) {
        const startedMs = Date.now();
        const r = await net.client(org).submit('assets', 'create', [`after-${follower}-${org}-${i}`, 'patient-7', '1'], { waitMs: 15_000 });
        const tookMs = Date.now() - startedMs;
        assert.equal(r.code, 'VALID');
        committed.set(r.txId, `after-${follower}-${org}-${i}`);
        if ((r.blockNumber ?? 0) >= lastCommittedBlock) lastCommittedTxId = r.txId;
        lastCommittedBlock = Math.max(lastCommittedBlock, r.blockNumber ?? 0);
        assert.ok(tookMs < 5_000, `a submission through ${org} with ${follower} down took ${tookMs} ms`);
      }
    }
    net.restart(follower);
    await net.waitFor(
      'the restarted follower to catch up',
      () => {
        const s = net.status(follower);
        return s !== null && s.pid === net.pids.get(follower) && s.height >= lastCommittedBlock;
      },
      90_000,
    );

    stopStream = true;
    await Promise.all(workers);
    // Ask each node, not the status files (rewritten once a second, so they can be stale): the
    // transaction of the highest acknowledged block is committed on every node, and then every
    // node's live head is the same block (no transaction is submitted any more).
    for (const org of net.orgs) {
      assert.equal((await net.client(org).txStatus(lastCommittedTxId, 60_000)).status, 'COMMITTED', `${lastCommittedTxId} committed on ${org}`);
    }
    // A submission whose client gave up may still land in a later block: poll the live heads briefly.
    let heads = await Promise.all(net.orgs.map((o) => net.client(o).status()));
    for (let i = 0; i < 50 && !heads.every((h) => h.lastBlockHashHex === heads[0]!.lastBlockHashHex); i++) {
      await sleep(200);
      heads = await Promise.all(net.orgs.map((o) => net.client(o).status()));
    }
    for (const h of heads) {
      assert.equal(h.height, heads[0]!.height, `${h.org} at height ${h.height}, ${heads[0]!.org} at ${heads[0]!.height}`);
      assert.equal(h.lastBlockHashHex, heads[0]!.lastBlockHashHex, `${h.org} and ${heads[0]!.org} have the same head block`);
    }
    assert.ok(heads[0]!.height >= lastCommittedBlock);

    // Every transaction reported committed is in the chain exactly once (as VALID).
    const reader = net.client(net.orgs[1]!);
    const height = heads[0]!.height;
    const seen = new Map<string, number>();
    for (let n = 1; n <= height; n++) {
      const block = await reader.block(n);
      for (const tx of block.txs) if (tx.txId) seen.set(tx.txId, (seen.get(tx.txId) ?? 0) + (tx.code === 'VALID' ? 1 : 0));
    }
    for (const txId of committed.keys()) {
      assert.equal(
        seen.get(txId),
        1,
        `committed ${txId} appears once as VALID (failed attempts, retried as new transactions: ${failures.slice(0, 20).join(', ') || 'none'})`,
      );
    }

    // Each node's ledger verifies end to end (after a clean stop, so files are quiescent).
    await net.stop();
    for (const org of net.orgs) {
      const report = await verifyLedger(net.nodeDir(org) + '/data');
      assert.ok(report.ok, `${org}: ${report.problem?.reason}`);
      assert.equal(report.blocksVerified, height + 1);
    }
  });
});

describe('four-hospital PBFT network with a Byzantine member', { timeout: 300_000 }, () => {
  let net: TestNetwork;
  let byzantine: ChildProcess | null = null;
  let byzantineOut = '';
  before(async () => {
    // Hospital4's real identity is used by a tampering replica instead of an honest node.
    net = await startTestNetwork({ orgs: 4, engine: 'pbft', start: ['Hospital1', 'Hospital2', 'Hospital3'] });
    byzantine = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'testdata', 'byzantine-node.ts'), join(net.nodeDir('Hospital4'), 'node.yaml')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, MEDLEDGER_LOG_LEVEL: 'silent' },
      },
    );
    // Everything it prints: 'ready' once it is attacking, its report when it stops.
    byzantine.stdout!.on('data', (d: Buffer) => (byzantineOut += d.toString()));
    const deadline = Date.now() + 120_000;
    while (!byzantineOut.includes('ready\n')) {
      if (Date.now() > deadline || byzantine.exitCode !== null) throw new Error(`the Byzantine replica did not start: ${byzantineOut}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    byzantine?.kill('SIGKILL');
    await net?.stop();
  });

  it('keeps one history and commits every acknowledged transaction once while a member sends garbage and forged messages', async () => {
    const honest = ['Hospital1', 'Hospital2', 'Hospital3'];
    const committed: string[] = [];
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all(
        honest.map((org, i) => net.client(org).submit('assets', 'create', [`b${round}-${i}`, 'patient-9', String(round)], { waitMs: 30_000 })),
      );
      for (const r of results) {
        assert.equal(r.code, 'VALID');
        committed.push(r.txId);
      }
    }
    await net.waitFor(
      'the honest nodes on one chain',
      () => {
        const st = honest.map((o) => net.status(o));
        return st.every((s) => s && s.height === st[0]!.height && s.lastBlockHashHex === st[0]!.lastBlockHashHex);
      },
      60_000,
    );
    // Every acknowledged transaction committed on the node we read from (asked by commit status,
    // not by the status files, which are written once a second and can be stale).
    const reader = net.client('Hospital2');
    for (const txId of committed) assert.equal((await reader.txStatus(txId, 30_000)).status, 'COMMITTED', `${txId} committed on Hospital2`);
    const height = (await reader.status()).height;
    const seen = new Map<string, number>();
    for (let n = 1; n <= height; n++) {
      for (const tx of (await reader.block(n)).txs) if (tx.txId && tx.code === 'VALID') seen.set(tx.txId, (seen.get(tx.txId) ?? 0) + 1);
    }
    for (const txId of committed) assert.equal(seen.get(txId), 1, `${txId} once`);
    // The Byzantine replica really did its worst.
    const report = new Promise<string>((resolve) => {
      byzantine!.once('exit', () => resolve(byzantineOut));
    });
    byzantine!.kill('SIGTERM');
    const sent = JSON.parse((await report).trim().split('\n').pop()!) as Record<string, number>;
    assert.ok(sent.garbage! > 50 && sent.forged! + sent.mutated! + sent.equivocated! > 0, JSON.stringify(sent));
    byzantine = null;
  });
});

describe('four-hospital PBFT network whose primary dies with no load', { timeout: 240_000 }, () => {
  let net: TestNetwork;
  before(async () => {
    net = await startTestNetwork({ orgs: 4, engine: 'pbft' });
  });
  after(async () => {
    await net?.stop();
  });

  it('replaces the dead primary without any client request, then commits (issue 11)', async () => {
    const first = await net.client('Hospital2').submit('assets', 'create', ['idle-0', 'patient-3', '1'], { waitMs: 30_000 });
    assert.equal(first.code, 'VALID');
    await net.waitFor(
      'one primary known to all',
      () => {
        const leaders = net.orgs.map((o) => net.status(o)?.consensus?.leader ?? null);
        return leaders.every((l) => l !== null && l === leaders[0]);
      },
      30_000,
    );
    const primary = net.status('Hospital1')!.consensus!.leader!;
    const primaryOrg = primary.replace(/^node\./, '');
    net.kill(primaryOrg);
    // No submissions now: only the backups' silent-primary timers can move the view.
    const rest = net.orgs.filter((o) => o !== primaryOrg);
    await net.waitFor(
      'a new primary agreed by the three others',
      () => {
        const leaders = rest.map((o) => net.status(o)?.consensus?.leader ?? null);
        return leaders.every((l) => l !== null && l !== primary && l === leaders[0]);
      },
      60_000,
    );
    const after = await net.client(rest[0]!).submit('assets', 'create', ['idle-1', 'patient-3', '1'], { waitMs: 30_000 });
    assert.equal(after.code, 'VALID');
  });
});
