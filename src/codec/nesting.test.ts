// The nesting-depth scanners (nesting.ts): exact on generated values, blind to brackets inside
// strings, early-stopping on absurd depths, and the bound decode() enforces with them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CBOR_NESTING_DEPTH_MAX, CodecError, decode, encode } from './codec.ts';
import { cborNestingDepth, jsonNestingDepth, valueNestingDepth } from './nesting.ts';

/** Reference depth, recursive (fine for the small generated values). */
function depthOf(v: unknown): number {
  if (v instanceof Uint8Array || typeof v !== 'object' || v === null) return 0;
  const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
  return 1 + Math.max(0, ...children.map(depthOf));
}

const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    // Strings full of the characters a naive scanner would miscount.
    fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', 'a', 'é', '\n') }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: fc.constantFrom('{', '"', '\\', 'k'), maxLength: 4 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const cborValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.string(),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 30 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 30 }),
  ),
})).value;

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('jsonNestingDepth', () => {
  it('equals the depth of the value, whatever the strings contain', () => {
    fc.assert(
      fc.property(jsonValue, (v) => {
        const bytes = new Uint8Array(Buffer.from(JSON.stringify(v), 'utf8'));
        assert.equal(jsonNestingDepth(bytes), depthOf(v));
        assert.equal(valueNestingDepth(JSON.parse(JSON.stringify(v))), depthOf(v));
      }),
      { numRuns: 500 },
    );
  });

  it('ignores brackets in strings and escaped quotes; stops early on absurd depths', () => {
    const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
    assert.equal(jsonNestingDepth(text('{"a": "[[[\\"{{{", "b": [1, {"c": "]]]"}]}')), 3);
    assert.equal(jsonNestingDepth(text('"just a string"')), 0);
    assert.equal(jsonNestingDepth(text(nested(100_000))), 100_000);
    // Stops as soon as it passes the bound: the answer is bound + 1, not the full depth.
    assert.equal(jsonNestingDepth(text(nested(100_000)), 64), 65);
    assert.equal(jsonNestingDepth(text(nested(64)), 64), 64);
  });
});

describe('valueNestingDepth', () => {
  it('walks 100 000 levels without recursion and terminates on a cycle', () => {
    const deep = JSON.parse(nested(100_000)) as unknown;
    assert.equal(valueNestingDepth(deep), 100_000);
    assert.equal(valueNestingDepth(deep, 64), 65);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.equal(valueNestingDepth(cyclic, 64), 65);
    assert.equal(valueNestingDepth({ bytes: new Uint8Array(4) }), 1, 'bytes are a leaf');
  });
});

describe('cborNestingDepth and decode()', () => {
  it('equals the depth of the encoded value', () => {
    fc.assert(
      fc.property(cborValue, (v) => {
        assert.equal(cborNestingDepth(encode(v)), depthOf(v));
      }),
      { numRuns: 500 },
    );
  });

  it('decode() takes the bound and refuses one level more with a CodecError, without overflowing the stack', () => {
    // Arrays of one element nested n levels: 0x81 repeated, then null (0xf6).
    const arrays = (n: number): Uint8Array => new Uint8Array([...new Array<number>(n).fill(0x81), 0xf6]);
    assert.equal(cborNestingDepth(arrays(CBOR_NESTING_DEPTH_MAX)), CBOR_NESTING_DEPTH_MAX);
    assert.doesNotThrow(() => decode(arrays(CBOR_NESTING_DEPTH_MAX)));
    for (const n of [CBOR_NESTING_DEPTH_MAX + 1, 5_000, 1_000_000]) {
      assert.throws(
        () => decode(arrays(n)),
        (e: unknown) => e instanceof CodecError && new RegExp(`nested deeper than ${CBOR_NESTING_DEPTH_MAX} levels`).test(e.message),
      );
    }
    // Maps nested through their values, and a tag (42, a CID's) wrapping a deep array, count too.
    const maps = new Uint8Array([...Array.from({ length: 200 }, () => [0xa1, 0x61, 0x61]).flat(), 0xf6]);
    assert.equal(cborNestingDepth(maps), 200);
    assert.equal(cborNestingDepth(new Uint8Array([0xd8, 42, ...arrays(3)])), 4);
    // Long strings are skipped by their length, not scanned: brackets' bytes inside do not count.
    assert.equal(cborNestingDepth(encode(['\u0081'.repeat(1000), new Uint8Array(1000).fill(0x81)])), 1);
  });
});
