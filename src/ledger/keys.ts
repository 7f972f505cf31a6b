// Key rules shared by the stub (while simulating) and the validator (while committing).
// Keys are compared as UTF-8 bytes, exactly as SQLite's BINARY collation orders them, so a range
// merged in memory (validation overlays a block's pending writes) has the order SQLite gives.
import { LEDGER_LIMITS } from './limits.ts';

/** Fabric's composite-key namespace marker and the largest code point (range end marker). */
export const COMPOSITE_KEY_NAMESPACE = '\u0000';
export const MAX_UNICODE_RUNE = '\u{10FFFF}';

export class KeyError extends Error {
  override readonly name = 'KeyError';
}

export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The smallest key strictly greater than `key` in byte order. */
export function keySuccessor(key: string): string {
  return `${key}\u0000`;
}

function isWellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

/** Throws KeyError when a key may not be stored; returns its size in bytes. */
export function checkKey(key: string): number {
  if (typeof key !== 'string' || key.length === 0) throw new KeyError('a key must be a non-empty string');
  if (!isWellFormed(key)) throw new KeyError('a key must be well-formed UTF-8 (no lone surrogates)');
  if (key.includes(MAX_UNICODE_RUNE)) throw new KeyError('a key must not contain U+10FFFF (reserved as the range end marker)');
  const size = Buffer.byteLength(key, 'utf8');
  if (size > LEDGER_LIMITS.keySizeBytesMax) throw new KeyError(`key of ${size} bytes exceeds ${LEDGER_LIMITS.keySizeBytesMax}`);
  return size;
}

export function createCompositeKey(objectType: string, attributes: readonly string[]): string {
  const check = (part: string, what: string): void => {
    if (typeof part !== 'string') throw new KeyError(`${what} must be a string`);
    if (part.includes(COMPOSITE_KEY_NAMESPACE) || part.includes(MAX_UNICODE_RUNE)) {
      throw new KeyError(`${what} must not contain U+0000 or U+10FFFF`);
    }
    if (!isWellFormed(part)) throw new KeyError(`${what} must be well-formed UTF-8`);
  };
  check(objectType, 'object type');
  let key = `${COMPOSITE_KEY_NAMESPACE}${objectType}${COMPOSITE_KEY_NAMESPACE}`;
  attributes.forEach((a, i) => {
    check(a, `attribute ${i}`);
    key += `${a}${COMPOSITE_KEY_NAMESPACE}`;
  });
  return key;
}

export function splitCompositeKey(key: string): { objectType: string; attributes: string[] } {
  if (!key.startsWith(COMPOSITE_KEY_NAMESPACE)) throw new KeyError('not a composite key');
  const parts = key.slice(1).split(COMPOSITE_KEY_NAMESPACE);
  // "\0type\0a\0b\0" splits into [type, a, b, ''].
  if (parts.length < 2 || parts[parts.length - 1] !== '') throw new KeyError('malformed composite key');
  return { objectType: parts[0]!, attributes: parts.slice(1, -1) };
}
