// The custodian's key store: every part's data key, wrapped (AES-256-GCM) under the node's
// key-encryption key (KEK). The KEK is a 256-bit random file created on first start with mode
// 0600; the wrapped keys live in one small JSON file per record, so crypto-shredding a record is
// deleting that file (and, for good measure, the blobs). Without the wrapped key the sealed blob
// — which may have been copied to IPFS or a backup — is undecryptable.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex, utf8, type Bytes } from '../codec/index.ts';
import { DATA_KEY_BYTES, open, seal } from '../offchain/index.ts';
import { makeDirectory } from '../files/directory.ts';

const RECORD_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEY_FILE_BYTES_MAX = 1024 * 1024;

export class KeyStoreError extends Error {
  override readonly name = 'KeyStoreError';
}

/** Read the node's KEK, creating it (0600) on first use; refuse a file of the wrong size or mode. */
export function loadOrCreateKek(path: string): Bytes {
  if (!existsSync(path)) {
    const kek = randomBytes(DATA_KEY_BYTES);
    const tmp = `${path}.${toHex(randomBytes(4))}.tmp`;
    writeFileSync(tmp, kek, { mode: 0o600 });
    renameSync(tmp, path);
  }
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) {
    // A KEK readable by others is a leak waiting to happen: tighten it rather than refuse to start.
    chmodSync(path, 0o600);
  }
  const bytes = new Uint8Array(readFileSync(path));
  if (bytes.byteLength !== DATA_KEY_BYTES) throw new KeyStoreError(`key-encryption key ${path} must be ${DATA_KEY_BYTES} bytes, found ${bytes.byteLength}`);
  return bytes;
}

interface StoredKey {
  readonly version: number;
  readonly sensitivity: string;
  readonly cid: string;
  /** seal(KEK, dataKey, aad) as hex. */
  readonly wrapped: string;
  /** Who prepared the version, when, and the part's sealed size: the prepared-version bookkeeping survives a restart (decision 1160). */
  readonly preparedBy?: string;
  readonly atMs?: number;
  readonly sizeBytes?: number;
}

/** A stored key's metadata (never the key). */
export interface KeyEntryInfo {
  readonly version: number;
  readonly sensitivity: string;
  readonly cid: string;
  readonly preparedBy?: string;
  readonly atMs?: number;
  readonly sizeBytes?: number;
}

export class KeyStore {
  private readonly dir: string;

  constructor(
    rootDir: string,
    private readonly kek: Bytes,
  ) {
    this.dir = join(rootDir, 'keys');
    makeDirectory(this.dir, { mode: 0o700 });
  }

  private pathOf(recordId: string): string {
    if (!RECORD_ID_RE.test(recordId)) throw new KeyStoreError(`invalid record id ${JSON.stringify(recordId.slice(0, 80))}`);
    return join(this.dir, `${recordId}.json`);
  }

  private load(recordId: string): StoredKey[] {
    const path = this.pathOf(recordId);
    if (!existsSync(path)) return [];
    if (statSync(path).size > KEY_FILE_BYTES_MAX) throw new KeyStoreError(`key file of record ${recordId} is too large`);
    return JSON.parse(readFileSync(path, 'utf8')) as StoredKey[];
  }

  private save(recordId: string, keys: readonly StoredKey[]): void {
    const path = this.pathOf(recordId);
    const tmp = `${path}.${toHex(randomBytes(4))}.tmp`;
    writeFileSync(tmp, JSON.stringify(keys), { mode: 0o600 });
    renameSync(tmp, path);
  }

  static aad(recordId: string, version: number, sensitivity: string): Bytes {
    return utf8(`medledger-record|${recordId}|v${version}|${sensitivity}`);
  }

  put(
    recordId: string,
    version: number,
    sensitivity: string,
    cid: string,
    dataKey: Bytes,
    meta: { preparedBy?: string; atMs?: number; sizeBytes?: number } = {},
  ): void {
    const keys = this.load(recordId).filter((k) => !(k.version === version && k.sensitivity === sensitivity));
    const wrapped = seal(this.kek, dataKey, KeyStore.aad(recordId, version, sensitivity));
    keys.push({ version, sensitivity, cid, wrapped: toHex(wrapped), ...meta });
    this.save(recordId, keys);
  }

  /** The data key of the part with this CID, or null (never stored, or shredded). */
  get(recordId: string, cid: string): { dataKey: Bytes; version: number; sensitivity: string } | null {
    const k = this.load(recordId).find((x) => x.cid === cid);
    if (!k) return null;
    const dataKey = open(this.kek, fromHex(k.wrapped), KeyStore.aad(recordId, k.version, k.sensitivity), `wrapped key of record ${recordId}`);
    return { dataKey, version: k.version, sensitivity: k.sensitivity };
  }

  /** Metadata of every stored key of the record (no key material). */
  entries(recordId: string): KeyEntryInfo[] {
    return this.load(recordId).map(({ wrapped: _wrapped, ...info }) => info);
  }

  cids(recordId: string, version?: number): string[] {
    return this.load(recordId)
      .filter((k) => version === undefined || k.version === version)
      .map((k) => k.cid);
  }

  /** Drop the keys of one version (a create/update that the contract refused). */
  dropVersion(recordId: string, version: number): void {
    const keep = this.load(recordId).filter((k) => k.version !== version);
    if (keep.length === 0) this.shred(recordId);
    else this.save(recordId, keep);
  }

  /** Drop the keys of these parts only (a prepared dataset whose id another content took on chain). */
  dropCids(recordId: string, cids: readonly string[]): void {
    const keep = this.load(recordId).filter((k) => !cids.includes(k.cid));
    if (keep.length === 0) this.shred(recordId);
    else this.save(recordId, keep);
  }

  /** Crypto-shred: forget every key of the record. Returns the CIDs that were keyed. */
  shred(recordId: string): string[] {
    const cids = this.cids(recordId);
    const path = this.pathOf(recordId);
    if (existsSync(path)) unlinkSync(path);
    return cids;
  }

  recordIds(): string[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
  }
}
