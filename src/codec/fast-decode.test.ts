import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as dagCbor from '@ipld/dag-cbor';
import fc from 'fast-check';
import { CID } from 'multiformats/cid';
import { CodecError, decode, encode } from './codec.ts';
import { fastDecode, NOT_DECODED } from './fast-decode.ts';
import { cidOf, referenceDecode } from './reference.testkit.ts';

/** fastDecode either gives up or returns exactly what @ipld/dag-cbor returns; never a value where it throws. */
function assertAgrees(bytes: Uint8Array): boolean {
  const fast = fastDecode(bytes);
  if (fast === NOT_DECODED) return false;
  const expected = referenceDecode(bytes);
  assert.ok(
    'value' in expected,
    `fast path decoded bytes the reference refuses (${'error' in expected ? expected.error : ''}): ${Buffer.from(bytes).toString('hex')}`,
  );
  assert.deepStrictEqual(fast, expected.value);
  return true;
}

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s/g, ''), 'hex'));

const strings = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }), // non-ASCII: the reference's
  fc.string({ minLength: 30, maxLength: 80 }), // past the remembered length
  fc.constantFrom('raft/append', 'normal', 'bench-client', 'consensus', ''),
);
const keys = fc.oneof(fc.constantFrom('type', 'term', 'entries', 'a', 'b', 'aa', 'z', '', 'index', 'é'), fc.string({ maxLength: 6 }));
const value = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    { arbitrary: fc.constant(null), weight: 2 },
    { arbitrary: fc.boolean(), weight: 2 },
    { arbitrary: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), weight: 3 },
    { arbitrary: fc.integer(), weight: 3 },
    {
      arbitrary: fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, -(2 ** 32) - 1),
      weight: 2,
    },
    { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 1 },
    { arbitrary: strings, weight: 4 },
    { arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 16 }).map(cidOf), weight: 1 },
    { arbitrary: fc.array(tie('value'), { maxLength: 6 }), weight: 3 },
    { arbitrary: fc.dictionary(keys, tie('value'), { maxKeys: 7 }), weight: 4 },
  ),
})).value;

/** A few bytes changed, inserted, removed or cut off. */
const corruption = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('remove' as const), at: fc.nat(), byte: fc.constant(0) }),
    fc.record({ op: fc.constant('cut' as const), at: fc.nat(), byte: fc.constant(0) }),
  ),
  { minLength: 1, maxLength: 3 },
);

function corrupt(bytes: Uint8Array, changes: ReadonlyArray<{ op: 'set' | 'insert' | 'remove' | 'cut'; at: number; byte: number }>): Uint8Array {
  let out = [...bytes];
  for (const c of changes) {
    const at = out.length === 0 ? 0 : c.at % out.length;
    if (c.op === 'set' && out.length > 0) out[at] = c.byte;
    else if (c.op === 'insert') out.splice(at, 0, c.byte);
    else if (c.op === 'remove') out.splice(at, 1);
    else out = out.slice(0, at);
  }
  return new Uint8Array(out);
}

describe('fastDecode (decision 1418)', () => {
  it('returns what @ipld/dag-cbor returns, on the canonical bytes of random values, and decodes most of them itself', () => {
    let fast = 0;
    let total = 0;
    fc.assert(
      fc.property(value, (v) => {
        total += 1;
        if (assertAgrees(encode(v))) fast += 1;
      }),
      { numRuns: 3000 },
    );
    // Trees with one float or non-ASCII string go to the reference; the rest must not.
    assert.ok(fast / total > 0.5, `only ${fast} of ${total} values took the fast path`);
  });

  it('takes MedLedger-shaped values (ASCII text, safe integers, bytes, CIDs) itself, every time', () => {
    const ascii = fc.string({ maxLength: 40 }).filter((s) => [...s].every((c) => c.charCodeAt(0) < 0x80));
    const model = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
        ascii,
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 8 }).map(cidOf),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(ascii, tie('value'), { maxKeys: 5 }).filter((d) => !Object.hasOwn(d, '__proto__')),
      ),
    })).value;
    fc.assert(
      fc.property(model, (v) => {
        assert.ok(assertAgrees(encode(v)), 'a MedLedger-shaped value went to the reference decoder');
      }),
      { numRuns: 1000 },
    );
  });

  it('never returns a value for corrupted bytes that the reference refuses or reads differently', () => {
    fc.assert(
      fc.property(value, corruption, (v, changes) => {
        assertAgrees(corrupt(encode(v), changes));
      }),
      { numRuns: 5000 },
    );
  });

  it('leaves non-canonical and out-of-model input to the reference: decode() still decodes it, or throws its error', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['an integer in a longer head than needed', hex('18 05')],
      ['a length in a longer head than needed', hex('58 01 aa')],
      ['keys out of canonical order', hex('a2 61 62 01 61 61 02')],
      ['a longer key before a shorter one', hex('a2 62 61 61 01 61 62 02')],
      ['a repeated key', hex('a2 61 61 01 61 61 02')],
      ['a __proto__ key', hex('a1 69 5f5f70726f746f5f5f 01')],
      ['bytes after the item', hex('01 02')],
      ['a truncated map', hex('a2 61 61 01')],
      ['an indefinite-length array', hex('9f 01 ff')],
      ['a float', hex('fb 3ff8000000000000')],
      ['undefined', hex('f7')],
      ['another tag', hex('c1 01')],
      ['non-ASCII text', hex('62 c3a9')],
      ['2^53, past the safe range', hex('1b 0020000000000000')],
      ['−2^53, past the safe range', hex('3b 001fffffffffffff')],
      ['a non-string key', hex('a1 01 02')],
      ['nothing at all', new Uint8Array(0)],
    ];
    for (const [name, bytes] of cases) {
      assert.equal(fastDecode(bytes), NOT_DECODED, name);
      const expected = referenceDecode(bytes);
      if ('value' in expected) assert.deepStrictEqual(decode(bytes), expected.value, name);
      else assert.throws(() => decode(bytes), CodecError, name);
    }
    // The ends of the safe range are its own.
    assert.equal(fastDecode(hex('1b 001fffffffffffff')), Number.MAX_SAFE_INTEGER);
    assert.equal(fastDecode(hex('3b 001ffffffffffffe')), -Number.MAX_SAFE_INTEGER);
    assert.equal(fastDecode(hex('1a 00010000')), 65536);
  });

  it('bounds nesting: deep input goes to the reference path, which decodes it or names the depth', () => {
    const nested = (levels: number): Uint8Array => new Uint8Array([...new Array<number>(levels).fill(0x81), 0x01]);
    assert.notEqual(fastDecode(nested(60)), NOT_DECODED);
    assert.equal(fastDecode(nested(100)), NOT_DECODED);
    assert.deepStrictEqual(decode(nested(100)), dagCbor.decode(nested(100)));
    assert.throws(
      () => decode(nested(10_000)),
      (err: unknown) => err instanceof CodecError && /nested deeper/.test(err.message),
    );
  });

  it('hands out byte strings as plain copies, from a Buffer too', () => {
    const input = Buffer.from(encode({ data: new Uint8Array([1, 2, 3]), list: [new Uint8Array(100).fill(7)] }));
    const out = fastDecode(input) as { data: Uint8Array; list: Uint8Array[] };
    assert.equal(Object.getPrototypeOf(out.data), Uint8Array.prototype);
    input.fill(0);
    assert.deepStrictEqual([...out.data], [1, 2, 3]);
    assert.equal(out.list[0]![99], 7);
  });

  it('reads CIDs as @ipld/dag-cbor does, and leaves a malformed one to it', () => {
    const cid = cidOf(new Uint8Array([1, 2, 3]));
    const bytes = encode({ link: cid, list: [cid] });
    assert.ok(assertAgrees(bytes));
    assert.ok(CID.asCID((fastDecode(bytes) as { link: unknown }).link)?.equals(cid));
    // Tag 42 whose bytes lack the leading 0x00.
    const bad = hex('d8 2a 42 0155');
    assert.equal(fastDecode(bad), NOT_DECODED);
    assert.throws(() => decode(bad), CodecError);
  });

  it('remembers short strings by their bytes, never confusing two of them', () => {
    // Many distinct short strings: more than the table's slots, so slots are reused.
    const words = Array.from({ length: 10_000 }, (_, i) => `w${i.toString(36)}`);
    const bytes = encode(words);
    assert.deepStrictEqual(fastDecode(bytes), words);
    assert.deepStrictEqual(fastDecode(bytes), words);
    assert.deepStrictEqual(fastDecode(encode({ ab: 'ba', ba: 'ab' })), { ab: 'ba', ba: 'ab' });
  });
});
