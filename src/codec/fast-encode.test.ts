import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as dagCbor from '@ipld/dag-cbor';
import fc from 'fast-check';
import { CodecError, encode } from './codec.ts';
import { fastEncode } from './fast-encode.ts';
import { cidOf, referenceEncode } from './reference.testkit.ts';

/** fastEncode either gives up (null) or writes exactly the reference's bytes; never bytes where it throws. */
function assertAgrees(value: unknown): boolean {
  const fast = fastEncode(value);
  if (fast === null) return false;
  const expected = referenceEncode(value);
  assert.ok('value' in expected, `fast path encoded a value the reference refuses: ${'error' in expected ? expected.error : ''}`);
  assert.equal(Buffer.from(fast).toString('hex'), Buffer.from(expected.value).toString('hex'));
  return true;
}

// Boundaries of CBOR's head sizes and of the safe-integer range.
const edgeNumbers = [0, -0, 1, -1, 23, 24, -24, -25, 255, 256, -256, -257, 65535, 65536, -65536, -65537, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), -(2 ** 32) - 1];
const edgeNumbersToo = [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, -(2 ** 53), 2 ** 64, 0.5, -1.5, 1e300, 5e-324, Number.EPSILON];
const strings = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }), // lone surrogates, astral characters
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', minLength: 60, maxLength: 300 }), // past the hand-converted length
);
const keys = fc.oneof(fc.constantFrom('type', 'term', 'entries', 'a', 'b', 'aa', 'é', 'z', '', 'index'), fc.string({ unit: 'binary', maxLength: 6 }));

// Mostly the data model, with now and then something only the reference may encode (or refuse).
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    { arbitrary: fc.constant(null), weight: 2 },
    { arbitrary: fc.boolean(), weight: 2 },
    { arbitrary: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), weight: 3 },
    { arbitrary: fc.integer(), weight: 3 },
    { arbitrary: fc.constantFrom(...edgeNumbers, ...edgeNumbersToo), weight: 3 },
    { arbitrary: fc.double(), weight: 2 }, // NaN and ±Infinity included
    { arbitrary: strings, weight: 4 },
    { arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 16 }).map(cidOf), weight: 1 },
    { arbitrary: fc.constantFrom<unknown>(undefined, new Map([['a', 1]]), new Date(0), 10n, new Uint16Array(2), { '/': 'x' }), weight: 1 },
    { arbitrary: fc.array(tie('value'), { maxLength: 6 }), weight: 3 },
    { arbitrary: fc.dictionary(keys, tie('value'), { maxKeys: 7 }), weight: 4 },
    { arbitrary: fc.dictionary(keys, tie('value'), { maxKeys: 4, noNullPrototype: false }), weight: 1 },
  ),
})).value;

describe('fastEncode (decision 1410)', () => {
  it('writes the bytes @ipld/dag-cbor writes, on random values, and encodes most of them itself', () => {
    let fast = 0;
    let total = 0;
    fc.assert(
      fc.property(anyValue, (value) => {
        total += 1;
        if (assertAgrees(value)) fast += 1;
      }),
      { numRuns: 3000 },
    );
    // Deep trees with one odd leaf go to the reference; the data model itself must not.
    assert.ok(fast / total > 0.6, `only ${fast} of ${total} values took the fast path`);
  });

  it('takes the data model itself, every time', () => {
    const model = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        strings,
        fc.uint8Array({ maxLength: 64 }),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(keys, tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    fc.assert(
      fc.property(model, (value) => {
        assert.ok(assertAgrees(value), 'a data-model value went to the reference encoder');
      }),
      { numRuns: 1000 },
    );
  });

  it('sorts map keys length-first, then by their UTF-8 bytes', () => {
    const value = { bb: 1, a: 2, é: 3, b: 4, '': 5, aa: 6, z: 7, '\u{1F600}': 8, '\uFFFF': 9 };
    assert.ok(assertAgrees(value));
    const order = Object.keys(dagCbor.decode(fastEncode(value)!) as object);
    assert.deepEqual(order, ['', 'a', 'b', 'z', 'aa', 'bb', 'é', '\uFFFF', '\u{1F600}']);
    // Where UTF-16 order (JavaScript's) and UTF-8 order differ at the same UTF-8 length: a BMP
    // character above the surrogates against an astral one, an unpaired surrogate (written as
    // U+FFFD) against U+FFFC.
    assert.ok(assertAgrees({ '\u{10000}': 1, '\uE000a': 2 }));
    assert.ok(assertAgrees({ '\uD800': 1, '\uFFFC': 2 }));
    assert.ok(assertAgrees({ '\uFFFC': 1, '\uDC00': 2 }));
  });

  it('writes unpaired surrogates as U+FFFD, as TextEncoder does, in short and long strings', () => {
    for (const s of ['\uD800', 'a\uDC00b', '\uD83D', '\uDE00\uD83D', `${'x'.repeat(70)}\uD800`, `\uDFFF${'é'.repeat(40)}`]) {
      assert.ok(assertAgrees(s));
      assert.ok(assertAgrees({ [s]: s }));
    }
  });

  it('a plain object that @ipld/dag-cbor takes for a CID is encoded as the CID it takes it for', () => {
    const cid = cidOf(new Uint8Array([1, 2, 3]));
    const lookalike = { version: cid.version, code: cid.code, multihash: cid.multihash, bytes: cid.bytes, '/': cid.bytes };
    assert.equal(fastEncode(lookalike), null);
    assert.deepEqual(encode(lookalike), dagCbor.encode(cid));
    assert.ok(assertAgrees({ link: cid, list: [cid] }));
  });

  it('leaves to the reference what is outside the data model, and encode() throws its error', () => {
    for (const value of [{ a: undefined }, [1, undefined], Number.NaN, Infinity, new Map(), 1n, new Date(0), [new Uint32Array(1)]]) {
      assert.equal(fastEncode(value), null);
    }
    assert.throws(
      () => encode({ a: undefined }),
      (err: unknown) => err instanceof CodecError && /undefined/.test(err.message),
    );
    assert.throws(
      () => encode([Number.NaN]),
      (err: unknown) => err instanceof CodecError && /NaN/.test(err.message),
    );
    // A class instance: cborg writes its fields as a map; the reference does it, the bytes are its.
    class Point {
      constructor(
        readonly y: number,
        readonly x: number,
      ) {}
    }
    assert.equal(fastEncode(new Point(1, 2)), null);
    assert.deepEqual(encode(new Point(1, 2)), dagCbor.encode({ x: 2, y: 1 }));
  });

  it('a cycle or nesting past its limit goes to the reference, which refuses the cycle and encodes the deep value', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    assert.equal(fastEncode(cyclic), null);
    assert.throws(() => encode(cyclic), CodecError);
    let deep: unknown = 1;
    for (let i = 0; i < 300; i++) deep = [deep];
    assert.equal(fastEncode(deep), null);
    assert.deepEqual(encode(deep), dagCbor.encode(deep));
    let shallow: unknown = { leaf: true };
    for (let i = 0; i < 200; i++) shallow = { inner: shallow };
    assert.ok(assertAgrees(shallow));
  });

  it('every result is its own array: a large value, then small ones, share nothing', () => {
    const big = { payload: new Uint8Array(3 * 1024 * 1024).fill(7), list: Array.from({ length: 1000 }, (_, i) => `entry ${i}`) };
    const bigBytes = fastEncode(big)!;
    assert.ok(assertAgrees(big));
    const first = fastEncode({ n: 1 })!;
    const copy = Uint8Array.from(first);
    const second = fastEncode({ n: 2, more: 'x'.repeat(100) })!;
    assert.deepEqual(first, copy);
    assert.notEqual(first.buffer, second.buffer);
    assert.equal(first.byteOffset, 0);
    assert.equal(first.buffer.byteLength, first.byteLength);
    assert.equal(bigBytes[bigBytes.byteLength - 1], dagCbor.encode(big).at(-1));
  });

  it('an encode re-entered from a getter gets the same bytes', () => {
    const inner = { k: 'v' };
    const outer = {
      get nested(): Uint8Array {
        return encode(inner);
      },
    };
    assert.deepEqual(encode(outer), dagCbor.encode({ nested: dagCbor.encode(inner) }));
  });
});
