// Shared by the fast encoder's and decoder's tests: what @ipld/dag-cbor, the reference, makes of an
// input (a result or its error message), and CIDs to put in random values.
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as Digest from 'multiformats/hashes/digest';
import { sha256 } from './platform.ts';

export type Outcome<T> = { readonly value: T } | { readonly error: string };

function outcome<T>(run: () => T): Outcome<T> {
  try {
    return { value: run() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export const referenceEncode = (value: unknown): Outcome<Uint8Array> => outcome(() => dagCbor.encode(value));
export const referenceDecode = (bytes: Uint8Array): Outcome<unknown> => outcome(() => dagCbor.decode(bytes));

/** A CIDv1 (raw, sha2-256) of the bytes. */
export const cidOf = (bytes: Uint8Array): CID => CID.create(1, raw.code, Digest.create(0x12, sha256(bytes)));
