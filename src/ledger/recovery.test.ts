// Crash recovery with real processes: a child commits prepared blocks in a loop and is killed
// with SIGKILL — at seeded random moments, and exactly between a block-store append and its
// state commit — and a torn half-record is left at the end of the block file once. After every
// kill the ledger must reopen at one consistent height (store = state) and pass `verify`; in the
// end it must hold exactly the state of a ledger that was never interrupted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, encode, toHex, type Bytes } from '../codec/index.ts';
import { SeededRng } from '../consensus/rng.ts';
import { decodeBlock, encodeBlock, type Block } from './block.ts';
import { segmentName } from './blockstore.ts';
import { Ledger, ledgerPaths } from './ledger.ts';
import { TestKit, tempDir } from '../testing/ledger-network.ts';
import { verifyLedger } from './verify.ts';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const tmp = tempDir('medledger-recovery-');
const BLOCKS = 24;
let blocksFile = '';
let referenceStateHash = '';
let genesis: Block;

before(async () => {
  const kit = await TestKit.create({ orgs: 1 });
  genesis = kit.genesis;
  const scratch = kit.peer(kit.orgs[0]!, join(tmp.dir, 'scratch'));
  const u = kit.user(kit.orgs[0]!);
  const blocks: Block[] = [kit.genesis];
  for (let b = 1; b <= BLOCKS; b++) {
    const txs = [0, 1, 2].map((i) => kit.tx(u, [scratch], 'create', [`k${b}-${i}`, 'alice', String(i)]).envelope);
    if (b > 1) {
      // Two transfers of one asset in the same block: the second is an MVCC conflict.
      txs.push(kit.tx(u, [scratch], 'transfer', [`k${b - 1}-0`, 'bob']).envelope, kit.tx(u, [scratch], 'transfer', [`k${b - 1}-0`, 'carol']).envelope);
    }
    const block = kit.block(scratch.ledger.getBlock(scratch.height).block.header, txs);
    scratch.deliver(block);
    blocks.push(block);
  }
  referenceStateHash = toHex(scratch.ledger.stateHash());
  scratch.close();
  blocksFile = join(tmp.dir, 'blocks.cbor');
  writeFileSync(blocksFile, encode(blocks.map(encodeBlock)));
});
after(() => tmp.cleanup());

interface ChildRun {
  readonly lines: string[];
  readonly killedBySelf: boolean;
}

/** Run the child; kill it after `killAfterMs` once it reports "open" (null: let it finish). */
function runChild(dir: string, killAfterMs: number | null, crashAfterAppend?: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', CHILD, dir, blocksFile, ...(crashAfterAppend === undefined ? [] : [String(crashAfterAppend)])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (line.startsWith('open ') && killAfterMs !== null) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`child failed (${code}): ${stderr}`));
      else resolve({ lines, killedBySelf: signal === 'SIGKILL' && killAfterMs === null });
    });
  });
}

/** Reopen (recovering) and check: store and state at one height, verify passes. Returns the height. */
async function checkConsistent(dir: string): Promise<number> {
  const ledger = Ledger.open(dir, genesis);
  const height = ledger.height;
  assert.equal(ledger.savepoint().height, height, 'state and block store at the same height');
  ledger.close();
  const report = await verifyLedger(dir);
  assert.equal(report.ok, true, `verify after recovery: ${JSON.stringify(report.problem)}`);
  return height;
}

describe('crash recovery (child processes killed with SIGKILL)', () => {
  it('recovers to a consistent height after every kill and ends with the uninterrupted state', async () => {
    const dir = join(tmp.dir, 'node');
    const rng = new SeededRng(42);
    let height = 0;

    // 1. Killed exactly between "block appended" and "state committed": reopen must re-apply it.
    const first = await runChild(dir, null, 3);
    assert.ok(first.killedBySelf);
    height = await checkConsistent(dir);
    assert.equal(height, 3, 'block 3 was durable in the store and is re-applied');

    // 2. Killed at random moments while committing.
    for (let i = 0; i < 2; i++) {
      await runChild(dir, rng.nextInt(60));
      const h = await checkConsistent(dir);
      assert.ok(h >= height, 'never loses a committed block');
      height = h;
    }

    // 3. A torn half-record at the end of the block file (a crash inside the append's write);
    //    this run truncates it and finishes the chain.
    appendFileSync(join(dir, 'blocks', segmentName(0)), Buffer.concat([Buffer.from('MLB1'), Buffer.alloc(30, 7)]));
    const final = await runChild(dir, null);
    const open = final.lines.find((l) => l.startsWith('open '))!.split(' ');
    assert.equal(Number(open[3]), height + 1, 'the torn record (block height+1) was truncated');
    assert.ok(final.lines.includes(`done ${BLOCKS}`));

    // 4. The recovered ledger equals the ledger that was never interrupted.
    assert.equal(await checkConsistent(dir), BLOCKS);
    const ledger = Ledger.open(dir, genesis);
    assert.equal(toHex(ledger.stateHash()), referenceStateHash);
    ledger.close();
  });

  it('rebuilds a state database that lost its last commits from the block store (power cut with synchronous = NORMAL)', async () => {
    // The state database does not fsync its commits (decision 1330): after a power cut it may be
    // several blocks behind the fsync'd block store. Simulated by putting back a copy of the
    // state files taken at block 4 after the ledger went on to block BLOCKS.
    const dir = join(tmp.dir, 'lagging-state');
    const blocks = decode<Bytes[]>(readFileSync(blocksFile)).map(decodeBlock);
    const statePath = ledgerPaths(dir).state;
    const stateFiles = [statePath, `${statePath}-wal`, `${statePath}-shm`];
    let ledger = Ledger.open(dir, genesis);
    for (let n = 1; n <= 4; n++) ledger.commitBlock(blocks[n]!);
    ledger.close();
    for (const f of stateFiles) if (existsSync(f)) copyFileSync(f, `${f}.at4`);
    ledger = Ledger.open(dir, genesis);
    for (let n = 5; n <= BLOCKS; n++) ledger.commitBlock(blocks[n]!);
    ledger.close();
    for (const f of stateFiles) {
      rmSync(f, { force: true });
      if (existsSync(`${f}.at4`)) copyFileSync(`${f}.at4`, f);
    }
    ledger = Ledger.open(dir, genesis);
    assert.equal(ledger.recovery.reapplied, BLOCKS - 4, 'every block above the old savepoint is re-applied');
    assert.equal(ledger.height, BLOCKS);
    assert.equal(toHex(ledger.stateHash()), referenceStateHash);
    ledger.close();
    const report = await verifyLedger(dir);
    assert.equal(report.ok, true, `verify after rebuilding: ${JSON.stringify(report.problem)}`);
  });
});
