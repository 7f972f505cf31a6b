// The consensus engine's durable store in a real node: an append-only, fsync'd write-ahead log
// of PersistOp batches plus a periodic checkpoint file. It implements DurableState, so the
// engine restarts from exactly what it persisted.
//
// Record layout (little endian): [u32 length][u32 crc32 of payload][payload = DAG-CBOR ops].
// A torn tail (crash mid-append) is detected by length/CRC and truncated on open; a bad record
// followed by good data is corruption and stops the node (we never silently skip state a
// protocol relied on).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, existsSync, ftruncateSync, mkdirSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decode, encode, type Bytes } from '../codec/index.ts';
import type { DurableState, PersistOp } from '../consensus/engine.ts';

const HEADER_BYTES = 8;
const RECORD_BYTES_MAX = 64 * 1024 * 1024;
/** Rewrite the checkpoint and start a fresh log once the log is this big. */
const LOG_BYTES_COMPACT = 32 * 1024 * 1024;

export class WalCorruptionError extends Error {
  override readonly name = 'WalCorruptionError';
}

type EncodedOp = { o: 'p'; k: string; v: Bytes } | { o: 'd'; k: string } | { o: 'x'; k: string };

function toEncoded(op: PersistOp): EncodedOp {
  if (op.op === 'put') return { o: 'p', k: op.key, v: op.value };
  if (op.op === 'delete') return { o: 'd', k: op.key };
  return { o: 'x', k: op.prefix };
}

export interface WalOptions {
  /** For tests of crash behaviour only: skip fsync. Never set in a node. */
  readonly unsafeNoSync?: boolean;
  readonly compactBytes?: number;
  /** Told how long each fsync of an applied batch took (metrics, slow-disk warnings). */
  readonly onFsync?: (seconds: number) => void;
}

export class WriteAheadLog implements DurableState {
  private readonly entries = new Map<string, Bytes>();
  private fd: number;
  private logBytes = 0;
  private readonly logPath: string;
  private readonly checkpointPath: string;
  /** How many bytes of torn tail were truncated when the log was opened. */
  readonly truncatedBytes: number;

  constructor(
    private readonly dir: string,
    private readonly options: WalOptions = {},
  ) {
    mkdirSync(dir, { recursive: true });
    this.logPath = join(dir, 'wal.log');
    this.checkpointPath = join(dir, 'wal.checkpoint');
    if (existsSync(this.checkpointPath)) this.loadCheckpoint();
    this.fd = openSync(this.logPath, 'a+');
    this.truncatedBytes = this.replay();
  }

  get(key: string): Bytes | undefined {
    return this.entries.get(key);
  }

  keysWithPrefix(prefix: string): readonly string[] {
    const keys: string[] = [];
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) keys.push(k);
    return keys.sort();
  }

  /** Durably apply a batch: returns only after the record is fsync'd. */
  apply(ops: readonly PersistOp[]): void {
    if (ops.length === 0) return;
    const payload = encode(ops.map(toEncoded));
    if (payload.byteLength > RECORD_BYTES_MAX) throw new WalCorruptionError(`WAL record of ${payload.byteLength} bytes exceeds ${RECORD_BYTES_MAX}`);
    const record = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
    record.writeUInt32LE(payload.byteLength, 0);
    record.writeUInt32LE(crc32(payload), 4);
    record.set(payload, HEADER_BYTES);
    writeAll(this.fd, record);
    // A failed fsync throws and must stop the node: retrying could report lost data as durable.
    if (!this.options.unsafeNoSync) {
      const startedNs = process.hrtime.bigint();
      fsyncSync(this.fd);
      this.options.onFsync?.(Number(process.hrtime.bigint() - startedNs) / 1e9);
    }
    this.logBytes += record.byteLength;
    applyOps(this.entries, ops.map(toEncoded));
    if (this.logBytes >= (this.options.compactBytes ?? LOG_BYTES_COMPACT)) this.compact();
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Write the whole map as a checkpoint (tmp + fsync + rename), then start an empty log. */
  compact(): void {
    const tmp = `${this.checkpointPath}.tmp`;
    const bytes = encode([...this.entries].map(([k, v]) => [k, v]));
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, Buffer.from(bytes));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.checkpointPath);
    syncDir(this.dir);
    ftruncateSync(this.fd, 0);
    fsyncSync(this.fd);
    this.logBytes = 0;
  }

  private loadCheckpoint(): void {
    const pairs = decode<Array<[string, Bytes]>>(readFileSync(this.checkpointPath));
    for (const [k, v] of pairs) this.entries.set(k, v);
  }

  private replay(): number {
    const size = fstatSync(this.fd).size;
    const data = readFileSync(this.logPath);
    let offset = 0;
    while (offset < data.byteLength) {
      const remaining = data.byteLength - offset;
      if (remaining < HEADER_BYTES) break;
      const length = data.readUInt32LE(offset);
      const crc = data.readUInt32LE(offset + 4);
      if (length > RECORD_BYTES_MAX || remaining < HEADER_BYTES + length) break;
      const payload = data.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
      if (crc32(payload) !== crc) {
        if (offset + HEADER_BYTES + length < data.byteLength) {
          throw new WalCorruptionError(
            `WAL ${this.logPath}: record at offset ${offset} fails its checksum and is followed by more data (corruption, not a torn write)`,
          );
        }
        break;
      }
      applyOps(this.entries, decode<EncodedOp[]>(payload));
      offset += HEADER_BYTES + length;
    }
    if (offset < size) {
      ftruncateSync(this.fd, offset);
      fsyncSync(this.fd);
    }
    this.logBytes = offset;
    return size - offset;
  }
}

function applyOps(entries: Map<string, Bytes>, ops: readonly EncodedOp[]): void {
  for (const op of ops) {
    if (op.o === 'p') entries.set(op.k, op.v);
    else if (op.o === 'd') entries.delete(op.k);
    else for (const k of [...entries.keys()]) if (k.startsWith(op.k)) entries.delete(k);
  }
}

function writeAll(fd: number, buffer: Buffer): void {
  let written = 0;
  while (written < buffer.byteLength) written += writeSync(fd, buffer, written, buffer.byteLength - written);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
