// Storage faults under real node processes (issue 11): a failed fsync of the block store and of the
// consensus WAL stop the node instead of carrying on, and a write torn by a crash is recovered;
// after a clean restart every node holds every acknowledged transaction and `ledger verify`
// passes. The faults are injected by a preloaded module (storage.ts) that the product never loads.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findIdentity, loadConsortium } from '../../identity/index.ts';
import { verifyLedger } from '../../ledger/verify.ts';
import { initConsortium } from '../../node/init.ts';
import { isAlive, readStatusFile, spawnNode, stopProcesses, waitUntilReady } from '../../node/supervisor.ts';
import { MedLedgerClient } from '../../sdk/client.ts';
import { freeBasePort } from '../../node/ports.ts';

const STORAGE_MODULE = join(import.meta.dirname, 'storage.ts');

describe('storage faults under a 3-node Raft consortium', { timeout: 400_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'medledger-storage-faults-'));
  const pids = new Map<string, number>();
  const clients: MedLedgerClient[] = [];
  let orgs: string[] = [];
  let apiUrls: string[] = [];
  const acked: string[] = [];
  let counter = 0;

  const start = (org: string, fault?: string): void => {
    pids.set(
      org,
      spawnNode(join(dir, org), {
        detached: false,
        env: { MEDLEDGER_LOG_LEVEL: 'info', ...(fault ? { MEDLEDGER_FAULT_STORAGE: fault } : {}) },
        ...(fault ? { nodeArgs: ['--import', 'tsx', '--import', STORAGE_MODULE] } : {}),
      }),
    );
  };
  const alive = (org: string): boolean => isAlive(pids.get(org) ?? -1);
  const client = (org: string): MedLedgerClient => {
    const consortium = loadConsortium(join(dir, 'crypto'));
    const id = findIdentity(consortium, org, 'doctor1')!;
    const i = orgs.indexOf(org);
    const c = new MedLedgerClient({ url: apiUrls[i]!, certPem: id.certPem, keyPem: id.keyPem, caPem: consortium.root.certPem, timeoutMs: 30_000 });
    clients.push(c);
    return c;
  };
  const submitSome = async (via: string, count: number): Promise<void> => {
    const c = client(via);
    for (let k = 0; k < count; k++) {
      const r = await c.submit('assets', 'create', [`s-${counter++}`, 'patient-s', '1'], { waitMs: 20_000 });
      assert.equal(r.code, 'VALID');
      acked.push(r.txId);
    }
  };
  const waitFor = async (what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };
  const caughtUp = (org: string): boolean => {
    const s = readStatusFile(join(dir, org));
    const others = orgs.filter((o) => o !== org).map((o) => readStatusFile(join(dir, o))?.height ?? 0);
    return s !== null && s.pid === pids.get(org) && s.height >= Math.max(...others);
  };
  const allAckedOn = async (org: string): Promise<void> => {
    const c = client(org);
    for (const txId of acked) assert.equal((await c.txStatus(txId, 20_000)).code, 'VALID', `${txId} on ${org}`);
  };

  before(async () => {
    const init = await initConsortium({ dir, orgs: 3, engine: 'raft', basePort: await freeBasePort(3), tickMs: 50 });
    orgs = init.nodes.map((n) => n.org);
    apiUrls = init.nodes.map((n) => n.apiUrl);
    for (const org of orgs) start(org);
    await waitUntilReady(
      orgs.map((org) => ({ nodeDir: join(dir, org), pid: pids.get(org)! })),
      120_000,
    );
  });
  after(async () => {
    for (const c of clients) c.close();
    await stopProcesses([...pids.values()].filter(isAlive), 10_000);
    rmSync(dir, { recursive: true, force: true });
  });

  const injectAndRecover = async (org: string, fault: string, expectInLog: RegExp | null): Promise<void> => {
    process.kill(pids.get(org)!, 'SIGKILL');
    await sleep(300);
    const logPath = join(dir, org, 'node.log');
    const logBefore = existsSync(logPath) ? readFileSync(logPath).length : 0;
    start(org, fault);
    await waitFor(`${org} running with the fault armed`, () => readStatusFile(join(dir, org))?.pid === pids.get(org));
    const via = orgs.find((o) => o !== org)!;
    // Commit through another node until the faulty one has stopped.
    for (let round = 0; round < 40 && alive(org); round++) await submitSome(via, 5);
    await waitFor(`${org} to stop`, () => !alive(org), 30_000);
    // Only what this run wrote: an earlier injection's line must not satisfy this one.
    if (expectInLog) assert.match(readFileSync(logPath).subarray(logBefore).toString('utf8'), expectInLog);
    await submitSome(via, 5);
    start(org);
    await waitFor(`${org} to recover and catch up`, () => caughtUp(org), 90_000);
    await allAckedOn(org);
  };

  it('a failed fsync of the block store stops the node; it recovers on restart with nothing acknowledged lost', async () => {
    await submitSome('Hospital1', 3);
    // The ledger's store (block delivery path), then the orderer's (consensus path: a tick or a
    // peer's message may be what writes the decided block — both must stop the node with the reason).
    await injectAndRecover('Hospital1', 'fsync-fail:peer-blocks:6', /storage failure: a block could not be written durably; the node stops/);
    await injectAndRecover('Hospital1', 'fsync-fail:orderer-blocks:6', /storage failure: a block could not be written durably; the node stops/);
  });

  it('a failed fsync of the consensus WAL stops the node (never carried past)', async () => {
    // The n-th sync is usually an append's fdatasync, sometimes the fsync of the zeros the WAL
    // writes ahead of its records (wal.ts ensureRoom): a dying disk fails either, both stop the node.
    await injectAndRecover('Hospital2', 'fsync-fail:wal:40', /EIO: i\/o error, f(data)?sync \(injected/);
  });

  it('a write torn by a crash (the WAL, then the block store) is recovered on restart', async () => {
    await injectAndRecover('Hospital3', 'torn-write:wal:40', null);
    await injectAndRecover('Hospital3', 'torn-write:blocks:10', null);
  });

  it('afterwards every node holds every acknowledged transaction and its files verify', async () => {
    for (const org of orgs) await allAckedOn(org);
    await stopProcesses([...pids.values()].filter(isAlive), 10_000);
    for (const org of orgs) {
      const r = await verifyLedger(join(dir, org, 'data'));
      assert.ok(r.ok, `${org}: ${r.problem?.reason}`);
    }
  });
});
