// The consensus engine's durable store in a real node: a write-ahead log of PersistOp batches,
// each made durable before apply() returns, plus a periodic checkpoint file. It implements
// DurableState, so the engine restarts from exactly what it persisted.
//
// Record layout (little endian): [u32 length][u32 crc32 of payload][payload = DAG-CBOR ops].
// The file is kept ahead of its records with zeros written and fsync'd once (decision 1388, as
// etcd preallocates its WAL segments): a record then overwrites blocks the file system has
// already allocated, and its fdatasync flushes data only — no size or extent change to commit
// to the journal, which on ext4 made each append's fsync 2–3 times slower under load. A zero
// header marks the end of the records.
//
// A torn tail (crash mid-write: what one record can leave after the last good one) is detected
// by length/CRC and cut off on open; a bad record followed by more data, or data beyond what one
// record could leave, is corruption and stops the node (we never silently skip state a protocol
// relied on).
import {
  closeSync,
  constants as fsConstants,
  fdatasyncSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
  existsSync,
  ftruncateSync,
  fstatSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decode, encode, type Bytes } from '../codec/index.ts';
import type { DurableState, PersistOp } from '../consensus/engine.ts';
import { makeDirectory } from '../files/directory.ts';

const HEADER_BYTES = 8;
const RECORD_BYTES_MAX = 64 * 1024 * 1024;
/** Rewrite the checkpoint and start a fresh log once the log is this big. */
const LOG_BYTES_COMPACT = 32 * 1024 * 1024;
/**
 * Zeros written ahead of the records: the first extension is small (a test's or a quiet node's
 * log stays small), each next one doubles, up to the maximum, so a busy log extends rarely.
 */
const PREALLOCATE_BYTES_MIN = 256 * 1024;
const PREALLOCATE_BYTES_MAX = 8 * 1024 * 1024;
const ZEROS = Buffer.alloc(1024 * 1024);

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
  /** Where the records end: the next record is written here. */
  private logBytes = 0;
  /** The file's size: zeros from logBytes to here, written and fsync'd ahead of the records. */
  private allocatedBytes = 0;
  private readonly logPath: string;
  private readonly checkpointPath: string;
  /** How many bytes of torn tail were truncated when the log was opened. */
  readonly truncatedBytes: number;

  constructor(
    private readonly dir: string,
    private readonly options: WalOptions = {},
  ) {
    makeDirectory(dir);
    this.logPath = join(dir, 'wal.log');
    this.checkpointPath = join(dir, 'wal.checkpoint');
    if (existsSync(this.checkpointPath)) this.loadCheckpoint();
    // Not O_APPEND: records are written at their offset, into the zeros ahead of them.
    this.fd = openSync(this.logPath, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o600);
    this.truncatedBytes = this.replay();
    this.allocatedBytes = fstatSync(this.fd).size;
  }

  /** Where the records end in the log file (the rest of the file is zeros written ahead). */
  get endOffset(): number {
    return this.logBytes;
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
    this.ensureRoom(record.byteLength);
    writeAllAt(this.fd, record, this.logBytes);
    // A failed fsync throws and must stop the node: retrying could report lost data as durable.
    // fdatasync: the record lands in blocks ensureRoom allocated and made durable, so only data
    // is flushed (the file's size does not change).
    if (!this.options.unsafeNoSync) {
      const startedNs = process.hrtime.bigint();
      fdatasyncSync(this.fd);
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
      writeAllAt(fd, Buffer.from(bytes), 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.checkpointPath);
    syncDir(this.dir);
    // The old records must not be read after the checkpoint: cut the file, and write zeros ahead
    // again at the next record.
    ftruncateSync(this.fd, 0);
    fsyncSync(this.fd);
    this.logBytes = 0;
    this.allocatedBytes = 0;
  }

  /**
   * Make sure `bytes` more fit before the end of the zeros ahead; if not, write more zeros (the
   * next extension twice the last, within PREALLOCATE_BYTES_MIN..MAX) and fsync them with the
   * file's new size, before any record lands there.
   */
  private ensureRoom(bytes: number): void {
    if (this.logBytes + bytes <= this.allocatedBytes) return;
    const ahead = Math.min(PREALLOCATE_BYTES_MAX, Math.max(PREALLOCATE_BYTES_MIN, this.allocatedBytes));
    const target = Math.ceil((this.logBytes + bytes + ahead) / 4096) * 4096;
    for (let at = this.allocatedBytes; at < target;) at += writeSync(this.fd, ZEROS, 0, Math.min(ZEROS.byteLength, target - at), at);
    if (!this.options.unsafeNoSync) fsyncSync(this.fd);
    this.allocatedBytes = target;
  }

  private loadCheckpoint(): void {
    const pairs = decode<Array<[string, Bytes]>>(readFileSync(this.checkpointPath));
    for (const [k, v] of pairs) this.entries.set(k, v);
  }

  private replay(): number {
    const data = readFileSync(this.logPath);
    let offset = 0;
    for (;;) {
      const remaining = data.byteLength - offset;
      if (remaining < HEADER_BYTES) break;
      const length = data.readUInt32LE(offset);
      const crc = data.readUInt32LE(offset + 4);
      if (length === 0 && crc === 0) break; // the zeros ahead of the records: their end
      if (length > RECORD_BYTES_MAX || remaining < HEADER_BYTES + length) break;
      const payload = data.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
      if (crc32(payload) !== crc) {
        if (lastNonZeroIndex(data) >= offset + HEADER_BYTES + length) {
          throw new WalCorruptionError(
            `WAL ${this.logPath}: record at offset ${offset} fails its checksum and is followed by more data (corruption, not a torn write)`,
          );
        }
        break;
      }
      applyOps(this.entries, decode<EncodedOp[]>(payload));
      offset += HEADER_BYTES + length;
    }
    this.logBytes = offset;
    // After the last good record only zeros may follow, but for what one record written when the
    // process died can leave: its header, or some of its pages without it.
    const last = lastNonZeroIndex(data);
    if (last < offset) return 0;
    if (last >= offset + HEADER_BYTES + RECORD_BYTES_MAX)
      throw new WalCorruptionError(`WAL ${this.logPath}: data at offset ${last}, beyond the end of the records at ${offset} (corruption, not a torn write)`);
    ftruncateSync(this.fd, offset);
    fsyncSync(this.fd);
    return last + 1 - offset;
  }
}

/** The index of the last byte that is not zero, or -1. */
function lastNonZeroIndex(data: Buffer): number {
  // Back over whole runs of zeros (compared as memory, a MiB then a page at a time), then bytes.
  let end = data.byteLength;
  for (const step of [ZEROS.byteLength, 4096]) {
    const zeros = ZEROS.subarray(0, step);
    while (end >= step && data.subarray(end - step, end).equals(zeros)) end -= step;
  }
  let i = end - 1;
  while (i >= 0 && data[i] === 0) i -= 1;
  return i;
}

function applyOps(entries: Map<string, Bytes>, ops: readonly EncodedOp[]): void {
  for (const op of ops) {
    if (op.o === 'p') entries.set(op.k, op.v);
    else if (op.o === 'd') entries.delete(op.k);
    else for (const k of [...entries.keys()]) if (k.startsWith(op.k)) entries.delete(k);
  }
}

/** Write all of `buffer` at `position` (a short write continues where it stopped). */
function writeAllAt(fd: number, buffer: Buffer, position: number): void {
  let written = 0;
  while (written < buffer.byteLength) written += writeSync(fd, buffer, written, buffer.byteLength - written, position + written);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
