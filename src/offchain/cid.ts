// Content addresses exactly as IPFS computes them, so a hospital could pin the stored bytes on
// IPFS unchanged: CIDv1, sha2-256, raw leaves, fixed 256 KiB chunks, balanced DAG. A file that
// fits in one chunk is a single raw block: CID = CIDv1(raw, sha256(bytes)).
import { importBytes } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { rawCid, type Bytes } from '../codec/index.ts';

export const CHUNK_BYTES = 256 * 1024;

/** Throwaway block sink: we need the root address, not the intermediate blocks. */
const discard = { put: async (cid: unknown) => cid } as unknown as Parameters<typeof importBytes>[1];

export async function cidOf(bytes: Bytes): Promise<string> {
  if (bytes.byteLength <= CHUNK_BYTES) return rawCid(bytes).toString();
  const result = await importBytes(bytes, discard, {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_BYTES }),
  });
  return result.cid.toString();
}
