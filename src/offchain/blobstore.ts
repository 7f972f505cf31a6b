// Off-chain blob storage, addressed by CID. The interface is what every adapter implements; the
// default keeps one file per blob on the node's disk, named by its CID (the same address IPFS gives
// the same bytes), so the directory could be pinned on IPFS as it is.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseCid, type Bytes } from '../codec/index.ts';
import { cidOf } from './cid.ts';
import { IntegrityError } from './envelope.ts';
import { makeDirectory } from '../files/directory.ts';

export interface BlobStore {
  /** Store bytes; returns their CID. Idempotent. */
  put(bytes: Bytes): Promise<string>;
  /** The bytes, checked against the CID (IntegrityError if they do not match), or null if absent. */
  get(cid: string): Promise<Bytes | null>;
  has(cid: string): Promise<boolean>;
  /** Remove the blob (erasure). Returns whether it existed. */
  delete(cid: string): Promise<boolean>;
}

export const BLOB_BYTES_MAX = 64 * 1024 * 1024;

export class FsBlobStore implements BlobStore {
  private readonly dir: string;

  constructor(rootDir: string) {
    this.dir = join(rootDir, 'blobs');
    makeDirectory(this.dir);
  }

  private pathOf(cid: string): string {
    // parseCid validates the text, so a CID can never be a path like "../x".
    const canonical = parseCid(cid).toString();
    return join(this.dir, canonical.slice(-2), canonical);
  }

  async put(bytes: Bytes): Promise<string> {
    if (bytes.byteLength > BLOB_BYTES_MAX) throw new RangeError(`blob of ${bytes.byteLength} bytes exceeds ${BLOB_BYTES_MAX}`);
    const cid = await cidOf(bytes);
    const path = this.pathOf(cid);
    if (existsSync(path)) return cid;
    makeDirectory(join(path, '..'));
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let written = 0;
      while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    return cid;
  }

  async get(cid: string): Promise<Bytes | null> {
    const path = this.pathOf(cid);
    if (!existsSync(path)) return null;
    if (statSync(path).size > BLOB_BYTES_MAX) throw new IntegrityError(`blob ${cid} is larger than any blob this store writes`);
    const bytes = new Uint8Array(readFileSync(path));
    const actual = await cidOf(bytes);
    if (actual !== parseCid(cid).toString()) throw new IntegrityError(`blob ${cid} does not match its address (stored bytes hash to ${actual})`);
    return bytes;
  }

  async has(cid: string): Promise<boolean> {
    return existsSync(this.pathOf(cid));
  }

  async delete(cid: string): Promise<boolean> {
    const path = this.pathOf(cid);
    if (!existsSync(path)) return false;
    unlinkSync(path);
    return true;
  }
}
