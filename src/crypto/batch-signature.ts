// Batch signatures (decision 1384): one ECDSA signature for many messages, each message still
// carrying a signature that anyone verifies on its own.
//
// The signer builds a Merkle tree over the messages, signs its root once, and gives message i
// the root signature plus the path from its leaf to the root (as in the IETF "Batch Signing for
// TLS" draft, with RFC 6962's leaf/node prefixes). A verifier recomputes the root from the message
// and the path and checks the root signature; a process that checks many messages of one batch
// verifies the root signature once (the verified-signature memo answers the rest), so a batch of
// n transactions costs one signature and, per process, one verification instead of n of each.
//
// Soundness: a path that leads to a signed root proves that the signer put this exact message in
// the tree (finding another would need a SHA-256 second preimage; leaves and inner nodes hash
// under different prefixes, so a node cannot pose as a leaf). What is signed is ROOT_DOMAIN ‖ root,
// whose first byte 0xff no MedLedger signer ever puts first in a plain signed message (DAG-CBOR
// never starts with 0xff, nor do the request-signing and consensus statements), so a plain
// signature is never a root signature or the reverse.
//
// Wire form, carried where a 64-byte P1363 signature goes (a plain signature is exactly 64 bytes,
// a batch one never is):
//   0xb5 ‖ depth (1..BATCH_DEPTH_MAX) ‖ root signature (64) ‖ depth × (side ‖ sibling hash (32))
// side 0: the sibling is on the left; 1: on the right. Canonical: any other byte is invalid.
// Browser-safe: only codec's hashing, no node:crypto.
import { concatBytes, sha256, utf8, type Bytes } from '../codec/index.ts';

/** IEEE P1363 r‖s of ECDSA P-256: what a plain signature is. */
export const P1363_SIGNATURE_SIZE_BYTES = 64;
export const BATCH_SIGNATURE_TAG = 0xb5;
/** A tree at most 2^12 = 4,096 messages wide: every batch API takes at most a few hundred. */
export const BATCH_DEPTH_MAX = 12;
export const BATCH_MESSAGES_MAX = 2 ** BATCH_DEPTH_MAX;

const HASH_SIZE_BYTES = 32;
const STEP_SIZE_BYTES = 1 + HASH_SIZE_BYTES;
const HEADER_SIZE_BYTES = 2 + P1363_SIGNATURE_SIZE_BYTES;
const SIDE_LEFT = 0;
const SIDE_RIGHT = 1;

const ROOT_DOMAIN = concatBytes([new Uint8Array([0xff]), utf8('medledger/batch-signature/v1'), new Uint8Array([0])]);
const LEAF_PREFIX = new Uint8Array([0]);
const NODE_PREFIX = new Uint8Array([1]);

function leafHash(message: Bytes): Bytes {
  return sha256(concatBytes([LEAF_PREFIX, message]));
}

/** One inner node's input, reused: hashing is synchronous, so no two calls share it at once. */
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE_BYTES);
nodeInput[0] = NODE_PREFIX[0]!;

function nodeHash(left: Bytes, right: Bytes): Bytes {
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE_BYTES);
  return sha256(nodeInput);
}

/** The bytes the root signature is over. */
export function batchRootMessage(root: Bytes): Bytes {
  if (root.byteLength !== HASH_SIZE_BYTES) throw new RangeError(`a batch root is ${HASH_SIZE_BYTES} bytes`);
  return concatBytes([ROOT_DOMAIN, root]);
}

export function isBatchSignature(signature: Bytes): boolean {
  return signature.byteLength !== P1363_SIGNATURE_SIZE_BYTES && signature[0] === BATCH_SIGNATURE_TAG;
}

interface Step {
  readonly side: number;
  readonly sibling: Bytes;
}

/** A tree over the messages: its root message to sign, and each message's path. */
export interface BatchTree {
  readonly rootMessage: Bytes;
  /** Message i's signature, given the root signature. */
  signatureFor(index: number, rootSignature: Bytes): Bytes;
}

export function batchTree(messages: readonly Bytes[]): BatchTree {
  if (messages.length < 2 || messages.length > BATCH_MESSAGES_MAX) throw new RangeError(`a batch tree holds 2 to ${BATCH_MESSAGES_MAX} messages`);
  const paths: Step[][] = messages.map(() => []);
  // Each entry of a level: its hash and the leaves under it (their paths grow together).
  let level: Array<{ hash: Bytes; leaves: number[] }> = messages.map((m, i) => ({ hash: leafHash(m), leaves: [i] }));
  while (level.length > 1) {
    const next: Array<{ hash: Bytes; leaves: number[] }> = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i]!;
      const right = level[i + 1];
      // An odd last node goes up as is (no step): paths stay as short as the tree is deep.
      if (right === undefined) {
        next.push(left);
        continue;
      }
      for (const leaf of left.leaves) paths[leaf]!.push({ side: SIDE_RIGHT, sibling: right.hash });
      for (const leaf of right.leaves) paths[leaf]!.push({ side: SIDE_LEFT, sibling: left.hash });
      next.push({ hash: nodeHash(left.hash, right.hash), leaves: [...left.leaves, ...right.leaves] });
    }
    level = next;
  }
  const rootMessage = batchRootMessage(level[0]!.hash);
  return {
    rootMessage,
    signatureFor(index, rootSignature) {
      const path = paths[index];
      if (path === undefined) throw new RangeError(`no message ${index} in this batch`);
      if (rootSignature.byteLength !== P1363_SIGNATURE_SIZE_BYTES) throw new RangeError('a root signature is a 64-byte P1363 signature');
      const out = new Uint8Array(HEADER_SIZE_BYTES + path.length * STEP_SIZE_BYTES);
      out[0] = BATCH_SIGNATURE_TAG;
      out[1] = path.length;
      out.set(rootSignature, 2);
      path.forEach((step, k) => {
        const at = HEADER_SIZE_BYTES + k * STEP_SIZE_BYTES;
        out[at] = step.side;
        out.set(step.sibling, at + 1);
      });
      return out;
    },
  };
}

/** Sign many messages with one signature (one message: a plain signature, nothing added). */
export function signBatch(messages: readonly Bytes[], sign: (message: Bytes) => Bytes): Bytes[] {
  if (messages.length <= 1) return messages.map((m) => sign(m));
  const tree = batchTree(messages);
  const rootSignature = sign(tree.rootMessage);
  return messages.map((_, i) => tree.signatureFor(i, rootSignature));
}

/** signBatch for a signer that answers asynchronously (WebCrypto, the SDK's signers). */
export async function signBatchAsync(messages: readonly Bytes[], sign: (message: Bytes) => Bytes | Promise<Bytes>): Promise<Bytes[]> {
  if (messages.length <= 1) return Promise.all(messages.map((m) => sign(m)));
  const tree = batchTree(messages);
  const rootSignature = await sign(tree.rootMessage);
  return messages.map((_, i) => tree.signatureFor(i, rootSignature));
}

/** What a batch signature claims for one message: the root message and its signature; null when malformed. */
export function openBatchSignature(message: Bytes, signature: Bytes): { readonly rootMessage: Bytes; readonly rootSignature: Bytes } | null {
  if (!isBatchSignature(signature) || signature.byteLength < HEADER_SIZE_BYTES) return null;
  const depth = signature[1]!;
  if (depth < 1 || depth > BATCH_DEPTH_MAX || signature.byteLength !== HEADER_SIZE_BYTES + depth * STEP_SIZE_BYTES) return null;
  let hash = leafHash(message);
  for (let k = 0; k < depth; k += 1) {
    const at = HEADER_SIZE_BYTES + k * STEP_SIZE_BYTES;
    const side = signature[at];
    const sibling = signature.subarray(at + 1, at + STEP_SIZE_BYTES);
    if (side === SIDE_LEFT) hash = nodeHash(sibling, hash);
    else if (side === SIDE_RIGHT) hash = nodeHash(hash, sibling);
    else return null;
  }
  return { rootMessage: batchRootMessage(hash), rootSignature: signature.subarray(2, HEADER_SIZE_BYTES) };
}

/** A plain verification: (public key, message, 64-byte signature) → valid. */
export type PlainVerify<K> = (publicKey: K, message: Bytes, signature: Bytes) => boolean;

/**
 * Successes by the signature's bytes object: the gateway, orderer admission and validation of
 * one node check the same parsed signature object, and then skip even the path's hashes. Keyed
 * also by the verifier, so a stricter verifier never inherits another's answer.
 */
const verifiedBatchSignatures = new WeakMap<Bytes, { readonly publicKey: unknown; readonly message: Bytes; readonly plain: unknown }>();

/**
 * Verify a signature that is plain or a batch signature: a plain one goes to `plain`; a batch one
 * is opened and its root signature goes to `plain` (whose memo then answers the batch's other
 * messages). Never throws: malformed is simply not valid.
 */
export function verifyBatchable<K extends object>(plain: PlainVerify<K>, publicKey: K, message: Bytes, signature: Bytes): boolean {
  if (!isBatchSignature(signature)) return plain(publicKey, message, signature);
  const known = verifiedBatchSignatures.get(signature);
  if (known !== undefined && known.publicKey === publicKey && known.message === message && known.plain === plain) return true;
  const opened = openBatchSignature(message, signature);
  if (opened === null || !plain(publicKey, opened.rootMessage, opened.rootSignature)) return false;
  verifiedBatchSignatures.set(signature, { publicKey, message, plain });
  return true;
}
