import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encode, sha256 } from '../codec/index.ts';
import { batchDigest, encodeBatchForDigest } from './digest.ts';
import type { Proposal } from './engine.ts';

const reference = (proposals: readonly Proposal[]): Uint8Array => new Uint8Array(encode(proposals.map((p) => ({ c: p.clientId, s: p.seq, d: p.data }))));
/** Bytes compared as bytes (the general encoder may hand back a Buffer). */
const same = (a: Uint8Array | null, b: Uint8Array, message?: string): void =>
  assert.deepEqual(a === null ? null : new Uint8Array(a), new Uint8Array(b), message);

// Lengths at each CBOR header boundary (1, 2, 3, 5 bytes of header).
const BOUNDARY_LENGTHS = [0, 1, 23, 24, 255, 256, 65_535, 65_536];
const BOUNDARY_SEQS = [0, 23, 24, 255, 256, 65_535, 65_536, 0xffff_ffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER];

describe('batch digest encoding (decision 1381)', () => {
  it('writes the same bytes as the DAG-CBOR encoder at every header boundary', () => {
    for (const length of BOUNDARY_LENGTHS) {
      for (const seq of BOUNDARY_SEQS) {
        const proposals = [{ clientId: 'c'.repeat(Math.min(length, 300)), seq, data: new Uint8Array(length).fill(7) }];
        same(encodeBatchForDigest(proposals), reference(proposals), `length ${length}, seq ${seq}`);
      }
    }
    const many = Array.from({ length: 300 }, (_, i) => ({ clientId: `org${i % 3}`, seq: i, data: new Uint8Array([i & 0xff]) }));
    same(encodeBatchForDigest(many), reference(many));
    same(encodeBatchForDigest([]), reference([]));
  });

  it('writes the same bytes for any batch of ASCII client ids and non-negative safe seqs', () => {
    const proposal = fc.record({
      clientId: fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
      seq: fc.oneof(fc.nat(), fc.constantFrom(...BOUNDARY_SEQS), fc.maxSafeNat()),
      data: fc.uint8Array({ maxLength: 600 }),
    });
    fc.assert(
      fc.property(fc.array(proposal, { maxLength: 40 }), (proposals) => {
        same(encodeBatchForDigest(proposals), reference(proposals));
        same(batchDigest([...proposals]), sha256(reference(proposals)));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves to the general encoder what it does not handle, with the same digest', () => {
    const odd: Proposal[][] = [
      [{ clientId: 'hôpital', seq: 1, data: new Uint8Array([1]) }],
      [{ clientId: 'c', seq: -1, data: new Uint8Array([1]) }],
      [{ clientId: 'c', seq: 1.5, data: new Uint8Array([1]) }],
      [{ clientId: 'c', seq: Number.MAX_SAFE_INTEGER + 2, data: new Uint8Array([1]) }],
    ];
    for (const proposals of odd) {
      assert.equal(encodeBatchForDigest(proposals), null);
      same(batchDigest(proposals), sha256(reference(proposals)));
    }
  });

  it('grows past its buffer for a large batch and stays exact afterwards', () => {
    const big = [{ clientId: 'c', seq: 1, data: new Uint8Array(5 * 1024 * 1024).fill(3) }];
    same(batchDigest(big), sha256(reference(big)));
    const small = [{ clientId: 'c', seq: 2, data: new Uint8Array([9]) }];
    same(batchDigest(small), sha256(reference(small)));
  });
});
