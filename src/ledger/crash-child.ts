// Child process of recovery.test.ts: opens a ledger (recovering it), reports what recovery did,
// then commits the remaining prepared blocks until done — or until the parent kills it with
// SIGKILL, or it kills itself right after appending block N (argv[4]) and before the state commit.
import { readFileSync } from 'node:fs';
import { decode, type Bytes } from '../codec/index.ts';
import { decodeBlock } from './block.ts';
import { Ledger } from './ledger.ts';

const [dir, blocksFile, crashAfterAppend] = process.argv.slice(2);
if (!dir || !blocksFile) throw new Error('usage: crash-child.ts <ledger-dir> <blocks.cbor> [crash-after-append]');
const blocks = decode<Bytes[]>(readFileSync(blocksFile)).map(decodeBlock);
const crashAt = crashAfterAppend === undefined ? -1 : Number(crashAfterAppend);
const ledger = Ledger.open(dir, blocks[0], {
  afterAppendForTests: (n) => {
    if (n === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write(`open ${ledger.height} ${ledger.recovery.reapplied} ${ledger.recovery.truncatedBlock ?? -1}\n`);
for (let n = ledger.height + 1; n < blocks.length; n++) {
  ledger.commitBlock(blocks[n]!);
}
process.stdout.write(`done ${ledger.height}\n`);
ledger.close();
