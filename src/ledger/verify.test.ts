// `ledger verify` on a real chain: passes when intact; a byte flipped ANYWHERE in the block files
// makes it fail naming exactly the block whose record holds that byte; an altered world state is
// caught by comparison with the replay.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SeededRng } from '../consensus/rng.ts';
import { decodeStoredBlock, encodeStoredBlock, type ConsensusProof, type StoredBlock } from './block.ts';
import { encode as encodeValue, sha256 } from '../codec/index.ts';
import { encodeRecord, RECORD_HEADER_BYTES, segmentName } from './blockstore.ts';
import { TestKit, tempDir } from '../testing/ledger-network.ts';
import { consensusExtraProblem, verifyLedger } from './verify.ts';

const tmp = tempDir('medledger-verify-');
let ledgerDir = '';

before(async () => {
  const kit = await TestKit.create({ orgs: 2 });
  const [a, b] = kit.orgs.map((org) => kit.peer(org, join(tmp.dir, org)));
  const u = kit.user('Hospital1');
  const head = () => a!.ledger.getBlock(a!.ledger.height).block.header;
  for (let blk = 0; blk < 4; blk++) {
    const txs = [0, 1, 2].map((i) => kit.tx(u, [a!, b!], 'create', [`v${blk}-${i}`, 'alice', String(i)]).envelope);
    if (blk === 2) {
      // Two creates of one new key endorsed against the same state: the second is an MVCC conflict.
      txs.push(kit.tx(u, [a!, b!], 'create', ['dup', 'bob', '9']).envelope, kit.tx(u, [a!, b!], 'create', ['dup', 'carol', '8']).envelope);
    }
    const block = kit.block(head(), txs);
    a!.deliver(block);
    b!.deliver(block);
  }
  a!.close();
  b!.close();
  ledgerDir = join(tmp.dir, 'Hospital1');
});
after(() => tmp.cleanup());

/** [start, end) byte ranges of each block's record in segment 0. */
function recordRanges(path: string): Array<[number, number]> {
  const bytes = readFileSync(path);
  const ranges: Array<[number, number]> = [];
  let offset = 0;
  while (offset < bytes.length) {
    const end = offset + RECORD_HEADER_BYTES + bytes.readUInt32BE(offset + 4);
    ranges.push([offset, end]);
    offset = end;
  }
  return ranges;
}

function flip(path: string, offset: number, mask: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] = b[0]! ^ mask;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

describe('ledger verify', () => {
  it('passes on an intact ledger and counts the codes', async () => {
    const report = await verifyLedger(ledgerDir);
    assert.equal(report.ok, true, JSON.stringify(report.problem));
    assert.equal(report.blocksVerified, 5);
    assert.equal(report.transactions, 14);
    assert.equal(report.codes.VALID, 13);
    assert.equal(report.codes.MVCC_READ_CONFLICT, 1);
    assert.equal(report.stateKeys, 26); // 13 assets + 13 owner-index keys
  });

  it('names the block holding any flipped byte', async () => {
    const path = join(ledgerDir, 'blocks', segmentName(0));
    const ranges = recordRanges(path);
    const size = ranges[ranges.length - 1]![1];
    const rng = new SeededRng(20261121);
    // Every record header field and a spread of random offsets.
    const offsets = [0, 5, 9, 20, 47, 48, size - 1, ...Array.from({ length: 12 }, () => rng.nextInt(size))];
    for (const offset of offsets) {
      const expected = ranges.findIndex(([s, e]) => offset >= s && offset < e);
      const mask = 1 << rng.nextInt(8);
      flip(path, offset, mask);
      try {
        const report = await verifyLedger(ledgerDir);
        assert.equal(report.ok, false, `flip at ${offset} not detected`);
        assert.equal(report.problem?.block, expected, `flip at ${offset}: ${report.problem?.reason}`);
      } finally {
        flip(path, offset, mask);
      }
    }
    assert.equal((await verifyLedger(ledgerDir)).ok, true);
  });

  it('catches tampering that rewrites records with valid checksums', async () => {
    const path = join(ledgerDir, 'blocks', segmentName(0));
    const original = readFileSync(path);
    const records = recordRanges(path).map(([s, e]) => original.subarray(s + RECORD_HEADER_BYTES, e));
    const rewrite = (number: number, change: (s: StoredBlock) => StoredBlock): void => {
      const out = records.map((payload, n) => encodeRecord(n, n === number ? encodeStoredBlock(change(decodeStoredBlock(payload))) : payload));
      writeFileSync(path, Buffer.concat(out));
    };
    const cases: Array<[number, (s: StoredBlock) => StoredBlock, RegExp]> = [
      // A conflicting transaction relabelled VALID (and vice versa).
      [3, (s) => ({ ...s, validation: s.validation.map(() => 'VALID' as const) }), /stored as VALID but re-validates as MVCC_READ_CONFLICT/],
      [2, (s) => ({ ...s, validation: s.validation.map((c, i) => (i === 0 ? 'MVCC_READ_CONFLICT' : c)) }), /re-validates as VALID/],
      // A transaction dropped from a block.
      [1, (s) => ({ ...s, block: { ...s.block, data: s.block.data.slice(1) }, validation: s.validation.slice(1) }), /dataHash/],
      // A header timestamp moved.
      [4, (s) => ({ ...s, block: { ...s.block, header: { ...s.block.header, timestampMs: s.block.header.timestampMs + 1 } } }), /timestamp|signature/],
    ];
    try {
      for (const [number, change, reason] of cases) {
        rewrite(number, change);
        const report = await verifyLedger(ledgerDir);
        assert.equal(report.ok, false);
        assert.equal(report.problem?.block, number);
        assert.match(report.problem!.reason, reason);
      }
    } finally {
      writeFileSync(path, original);
    }
    assert.equal((await verifyLedger(ledgerDir)).ok, true);
  });

  it('detects an altered world state', async () => {
    const statePath = join(ledgerDir, 'state.sqlite');
    const db = new Database(statePath);
    const row = db.prepare<[], { value: Buffer }>("SELECT value FROM state WHERE key = 'v1-1'").get()!;
    db.prepare("UPDATE state SET value = ? WHERE key = 'v1-1'").run(Buffer.from('{"owner":"mallory"}'));
    db.close();
    try {
      const report = await verifyLedger(ledgerDir);
      assert.equal(report.ok, false);
      assert.equal(report.problem?.block, null);
      assert.match(report.problem!.reason, /state/);
    } finally {
      const restore = new Database(statePath);
      restore.prepare("UPDATE state SET value = ? WHERE key = 'v1-1'").run(row.value);
      restore.close();
    }
  });
});

describe('ledger verify: the engine extra bytes beside a block (decision 1390)', () => {
  const meta = encodeValue({ proposer: 'n1', handover: false, prevCert: null, evidence: [] });
  const proof = (extra: Uint8Array | undefined, metaDigest: Uint8Array | undefined): ConsensusProof => ({
    engine: 'ehbft',
    height: 3,
    digest: new Uint8Array(32),
    previousDigest: new Uint8Array(32),
    proposalIds: [],
    certificate: { scheme: 'ehbft-commit', fields: metaDigest === undefined ? { view: 0 } : { view: 0, metaDigest }, signatures: [] },
    ...(extra === undefined ? {} : { extra }),
  });
  it('accepts extra bytes whose digest the certificate signs, and a proof without any', () => {
    assert.equal(consensusExtraProblem(proof(meta, sha256(meta))), null);
    assert.equal(consensusExtraProblem(proof(undefined, undefined)), null);
  });
  it('names extra bytes that were changed, or that no certificate field binds', () => {
    const changed = Uint8Array.from(meta);
    changed[changed.length - 1] = changed.at(-1)! ^ 1;
    assert.match(consensusExtraProblem(proof(changed, sha256(meta))) ?? '', /do not match the certificate's metaDigest/);
    assert.match(consensusExtraProblem(proof(meta, undefined)) ?? '', /does not bind/);
  });
});
