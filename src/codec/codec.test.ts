import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CodecError, decode, encode, fromHex, hashValue, rawCid, rememberingEncoder, sha256, toHex } from './codec.ts';

// Values in the DAG-CBOR data model: no undefined, no NaN/Infinity, integers within safe range.
const dagValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.string(),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 5 }),
  ),
})).value;

describe('codec', () => {
  it('encode(decode(x)) is byte-identical for any canonical encoding', () => {
    fc.assert(
      fc.property(dagValue, (value) => {
        const bytes = encode(value);
        assert.deepEqual(encode(decode(bytes)), bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('key order never changes the bytes', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.integer(), { maxKeys: 8 }), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        assert.deepEqual(encode(reversed), encode(obj));
        assert.deepEqual(hashValue(reversed), hashValue(obj));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects undefined and non-canonical input with a CodecError', () => {
    assert.throws(() => encode({ a: undefined }), CodecError);
    // 0x1801 is the integer 1 in a non-minimal (1-byte follow-on) form: not canonical DAG-CBOR.
    assert.throws(() => decode(fromHex('1801')), CodecError);
    assert.throws(() => decode(new Uint8Array([0xff, 0x00])), CodecError);
  });

  it('rememberingEncoder encodes the same object once and any other object afresh', () => {
    const encodeOnce = rememberingEncoder();
    const a = { type: 'raft/append', term: 3 };
    const first = encodeOnce(a);
    assert.equal(encodeOnce(a), first, 'the same object: the same bytes, not encoded again');
    assert.deepEqual(first, encode(a));
    const b = { type: 'raft/append', term: 4 };
    assert.deepEqual(encodeOnce(b), encode(b));
    const equal = { type: 'raft/append', term: 4 };
    assert.notEqual(encodeOnce(equal), encodeOnce(b), 'identity, not equality, decides');
    assert.deepEqual(encodeOnce(a), first, 'an earlier object again is encoded again, to the same bytes');
  });

  it('sha256 matches the known test vector', () => {
    assert.equal(toHex(sha256('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('raw CIDs are CIDv1 raw sha2-256 (bafkrei…)', () => {
    const cid = rawCid(new TextEncoder().encode('hello world'));
    assert.equal(cid.version, 1);
    assert.equal(cid.code, 0x55);
    assert.equal(cid.toString(), 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
  });
});
