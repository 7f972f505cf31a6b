import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { encode, utf8 } from '../codec/index.ts';
import { bytesEqual, sha256, toHex, concatBytes } from '../codec/index.ts';
import { dataHash } from './block.ts';
import {
  buildEnvelope,
  buildProposal,
  computeTxId,
  encodeEnvelope,
  endorsementMessage,
  parseTx,
  parsedTxMemo,
  ParsedTxMemo,
  TxFormatError,
  type ParsedTx,
} from './tx.ts';

function envelopeBytes(tag: string): Uint8Array {
  const proposal = buildProposal({
    contract: 'assets',
    fn: 'create',
    args: [tag, 'owner', '1'],
    creator: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
    nonce: new Uint8Array(randomBytes(24)),
    timestampMs: 1,
  });
  const response = encode({
    proposalHash: new Uint8Array(32),
    rwset: { namespaces: [] },
    result: { status: 200, message: '', payload: new Uint8Array(0) },
    event: null,
  });
  return encodeEnvelope(buildEnvelope({ proposal: encode(proposal), response, endorsements: [] }, { sign: () => new Uint8Array(64) }));
}

describe('parsed transaction memo', () => {
  it('decodes the same bytes once (a shared, equal result) and never remembers a failure', () => {
    const memo = new ParsedTxMemo(1024 * 1024);
    let decodes = 0;
    const decodeAll = (b: Uint8Array): ParsedTx => {
      decodes += 1;
      return { tag: b.byteLength } as unknown as ParsedTx;
    };
    const a = new Uint8Array([1, 2, 3]);
    const first = memo.parse(a, decodeAll);
    assert.equal(memo.parse(new Uint8Array([1, 2, 3]), decodeAll), first, 'equal bytes in another buffer hit');
    assert.equal(decodes, 1);
    assert.equal(memo.hits, 1);
    const failing = (): ParsedTx => {
      decodes += 1;
      throw new TxFormatError('bad');
    };
    assert.throws(() => memo.parse(new Uint8Array([9]), failing), TxFormatError);
    assert.throws(() => memo.parse(new Uint8Array([9]), failing), TxFormatError);
    assert.equal(decodes, 3);
  });

  it('stays within its byte bound, oldest out first; large envelopes bypass it', () => {
    const memo = new ParsedTxMemo(1600);
    const decodeAll = (b: Uint8Array): ParsedTx => ({ first: b[0] }) as unknown as ParsedTx;
    for (let i = 0; i < 40; i++) memo.parse(new Uint8Array(100).fill(i), decodeAll);
    assert.ok(memo.coveredBytes <= 1600);
    assert.equal(memo.size, 16);
    const hits = memo.hits;
    memo.parse(new Uint8Array(100).fill(39), decodeAll);
    assert.equal(memo.hits, hits + 1, 'the newest is kept');
    memo.parse(new Uint8Array(100).fill(0), decodeAll);
    assert.equal(memo.hits, hits + 1, 'the oldest was evicted');
    memo.parse(new Uint8Array(200), decodeAll); // > bytesMax / 16
    assert.equal(memo.size, 16);
  });

  it('finds the same bytes object by identity, even after its hashed entry was evicted', () => {
    const memo = new ParsedTxMemo(1600);
    let decodes = 0;
    const decodeAll = (b: Uint8Array): ParsedTx => {
      decodes += 1;
      return { first: b[0] } as unknown as ParsedTx;
    };
    const kept = new Uint8Array(100).fill(200);
    const parsed = memo.parse(kept, decodeAll);
    for (let i = 0; i < 40; i++) memo.parse(new Uint8Array(100).fill(i), decodeAll); // evicts kept's hashed entry
    assert.equal(decodes, 41);
    assert.equal(memo.parse(kept, decodeAll), parsed, 'the same object: no decode');
    assert.equal(decodes, 41);
    memo.parse(new Uint8Array(100).fill(200), decodeAll); // equal bytes, another object: hashed path, evicted
    assert.equal(decodes, 42);
  });

  it('parseTx goes through the process memo and still refuses malformed bytes', () => {
    const bytes = envelopeBytes(`memo-${Date.now()}`);
    const hits = parsedTxMemo.hits;
    const a = parseTx(bytes);
    const b = parseTx(new Uint8Array(bytes));
    assert.equal(a, b);
    assert.equal(parsedTxMemo.hits, hits + 1);
    assert.throws(() => parseTx(utf8('not cbor')), TxFormatError);
  });

  it('derived values remembered by object identity are recomputed for other inputs', () => {
    const nonce = new Uint8Array(randomBytes(24));
    const fresh = (pem: string): string => toHex(sha256(concatBytes([nonce, utf8(pem)])));
    assert.equal(computeTxId(nonce, 'PEM-A'), fresh('PEM-A'));
    assert.equal(computeTxId(nonce, 'PEM-B'), fresh('PEM-B'), 'same nonce object, another creator: recomputed');
    assert.equal(computeTxId(nonce, 'PEM-A'), fresh('PEM-A'));

    const response = new Uint8Array([1, 2, 3]);
    const m1 = endorsementMessage(response, 'E1');
    assert.equal(endorsementMessage(response, 'E1'), m1, 'built once per (response, endorser)');
    assert.ok(bytesEqual(m1, encode({ response, endorser: 'E1' })));
    assert.ok(bytesEqual(endorsementMessage(response, 'E2'), encode({ response, endorser: 'E2' })));
    assert.ok(bytesEqual(endorsementMessage(new Uint8Array([1, 2, 4]), 'E1'), encode({ response: new Uint8Array([1, 2, 4]), endorser: 'E1' })));

    const data = [new Uint8Array([1]), new Uint8Array([2])];
    assert.ok(bytesEqual(dataHash(data), sha256(encode(data))));
    const other = [new Uint8Array([1]), new Uint8Array([3])];
    assert.ok(bytesEqual(dataHash(other), sha256(encode(other))), 'another array is hashed afresh');
  });
});
