// The browser build replaces platform.ts with platform.browser.ts: both must export the same
// names and give the same bytes, or a browser would compute other hashes and txIds than a node.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as browser from './platform.browser.ts';
import * as node from './platform.ts';

describe('codec platform: Node and browser implementations agree', () => {
  it('export the same functions', () => {
    assert.deepEqual(Object.keys(browser).sort(), Object.keys(node).sort());
  });

  it('sha256, hex, base64, equality, concatenation and UTF-8 length give identical results', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 64 }), (a, b, text) => {
        assert.deepEqual(browser.sha256(a), node.sha256(a));
        assert.deepEqual(browser.sha256(text), node.sha256(text));
        assert.equal(browser.toHex(a), node.toHex(a));
        assert.deepEqual(browser.hexToBytesUnchecked(node.toHex(a)), a);
        assert.equal(browser.toBase64(a), node.toBase64(a));
        assert.deepEqual(browser.fromBase64(node.toBase64(a)), a);
        assert.equal(browser.bytesEqual(a, b), node.bytesEqual(a, b));
        assert.deepEqual(browser.concatBytes([a, b]), node.concatBytes([a, b]));
        assert.equal(browser.utf8ByteLength(text), node.utf8ByteLength(text));
      }),
      { numRuns: 500 },
    );
  });

  it('refuse the same non-canonical base64', () => {
    for (const text of ['', 'QQ==', 'QR==', 'QQ=', 'QQ', 'Q===', 'QUJD', 'QUJ=', 'QU I=', 'QUJD\n', '****', 'QUJDRA==']) {
      assert.deepEqual(browser.fromBase64(text), node.fromBase64(text), JSON.stringify(text));
    }
  });

  it('random bytes have the asked length and differ', () => {
    for (const impl of [browser, node]) {
      assert.equal(impl.randomBytes(100_000).length, 100_000);
      assert.notDeepEqual(impl.randomBytes(16), impl.randomBytes(16));
    }
  });
});
