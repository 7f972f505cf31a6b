// The consensus engine's durable store in a real node: a write-ahead log of PersistOp batches,
// each made durable before apply() returns, plus a checkpoint file. It implements DurableState,
// so the engine restarts from exactly what it persisted.
//
// Record layout (little endian): [u32 length][u32 crc32 of payload][payload = DAG-CBOR ops].
// Records go into segment files `wal-<16-digit number>.log` made of zeros written and fsync'd
// before any record lands in them (decision 1388, as etcd preallocates its WAL segments): a
// record then overwrites blocks the file system has already allocated, and its fdatasync flushes
// data only — no size or extent change to commit to the journal. A zero header marks the end of
// a segment's records.
//
// Nothing but a record's write and fdatasync happens on the caller's path (decision 1420): the
// next segment is prepared in the background (zeros written to a file of its own, fsync'd, then
// linked under its name and the directory fsync'd — a record's fdatasync would flush any dirty
// page of its own file, so the zeros must not be in it), and switching to it costs an open. A
// checkpoint (the whole map, tmp + fsync + rename) is written in the background too, covering the
// segments up to the one in use when it was taken (the next record starts a new segment), and
// those segments are deleted once it is durable. Should a background step fail, or the prepared
// segment not be ready, the same work is done synchronously, where a real disk failure throws.
//
// A torn tail (crash mid-write: what one record can leave after the last good one, in the last
// segment holding anything) is detected by length/CRC and zeroed on open; a bad record followed
// by more data, data beyond what one record could leave, data after the records of a segment
// followed by more, or a missing segment is corruption and stops the node (we never silently skip
// state a protocol relied on).
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decode, encode, type Bytes } from '../codec/index.ts';
import type { DurableState, PersistOp } from '../consensus/engine.ts';
import { makeDirectory } from '../files/directory.ts';

const HEADER_BYTES = 8;
const RECORD_BYTES_MAX = 64 * 1024 * 1024;
/** Write a checkpoint and drop the segments it covers once they hold this many bytes of records. */
const LOG_BYTES_COMPACT = 32 * 1024 * 1024;
/**
 * Segment sizes: the first is small (a test's or a quiet node's log stays small), each next one
 * twice the last, up to the maximum, so a busy log switches rarely. A record bigger than that gets
 * a segment of its own size.
 */
const SEGMENT_BYTES_MIN = 256 * 1024;
const SEGMENT_BYTES_MAX = 8 * 1024 * 1024;
const ZEROS = Buffer.alloc(1024 * 1024);
const SEGMENT_NAME = /^wal-(\d{16})\.log$/;
/** What a preparation or a checkpoint leaves when its process died before it finished. */
const UNFINISHED_NAME = /^wal[-.].*\.(prep|tmp)$/;
const CHECKPOINT_NAME = 'wal.checkpoint';
/** The single log file of the format before decision 1420, migrated into a checkpoint on open. */
const SINGLE_LOG_NAME = 'wal.log';

export class WalCorruptionError extends Error {
  override readonly name = 'WalCorruptionError';
}

type EncodedOp = { o: 'p'; k: string; v: Bytes } | { o: 'd'; k: string } | { o: 'x'; k: string };
/** The checkpoint: the map after every record of the segments numbered up to `through`. */
type Checkpoint = { through: number; entries: Array<[string, Bytes]> };

function toEncoded(op: PersistOp): EncodedOp {
  if (op.op === 'put') return { o: 'p', k: op.key, v: op.value };
  if (op.op === 'delete') return { o: 'd', k: op.key };
  return { o: 'x', k: op.prefix };
}

export function segmentName(sequence: number): string {
  return `wal-${String(sequence).padStart(16, '0')}.log`;
}

export interface WalOptions {
  /** For measurement scripts only: skip the records' fdatasync. Never set in a node. */
  readonly unsafeNoSync?: boolean;
  readonly compactBytes?: number;
  /** Told how long each fsync of an applied batch took (metrics, slow-disk warnings). */
  readonly onFsync?: (seconds: number) => void;
}

interface Segment {
  readonly sequence: number;
  readonly fd: number;
  readonly sizeBytes: number;
}

export class WriteAheadLog implements DurableState {
  private readonly entries = new Map<string, Bytes>();
  private active: Segment;
  /** Where the records end in the active segment: the next record is written here. */
  private logBytes = 0;
  /** The oldest segment on disk (segments before it are covered by the checkpoint and deleted). */
  private firstSequence: number;
  /** Bytes of records in the segments the checkpoint does not cover. */
  private bytesSinceCheckpoint = 0;
  /** A segment made ready in the background: the next switch opens it. */
  private prepared: { readonly sequence: number; readonly sizeBytes: number } | undefined;
  /** Which preparation counts: one started before a synchronous switch is abandoned. */
  private preparation = 0;
  private preparing = false;
  private checkpointing = false;
  /** A background checkpoint failed: the next one is written synchronously (and throws if it fails again). */
  private checkpointFailed = false;
  /** The checkpoint just taken covers the active segment: the next record starts a new one. */
  private switchBeforeNextRecord = false;
  private closed = false;
  private readonly background = new Set<Promise<void>>();
  private readonly checkpointPath: string;
  /** How many bytes of torn tail were zeroed when the log was opened. */
  readonly truncatedBytes: number;

  constructor(
    private readonly dir: string,
    private readonly options: WalOptions = {},
  ) {
    makeDirectory(dir);
    this.checkpointPath = join(dir, CHECKPOINT_NAME);
    for (const name of readdirSync(dir)) if (UNFINISHED_NAME.test(name)) unlinkSync(join(dir, name));
    let through = existsSync(this.checkpointPath) ? this.loadCheckpoint() : 0;
    let truncatedBytes = 0;
    if (existsSync(join(dir, SINGLE_LOG_NAME))) {
      truncatedBytes = this.migrateSingleLog(through);
      through = 0;
    }
    const opened = this.openSegments(through);
    truncatedBytes += opened.truncatedBytes;
    this.truncatedBytes = truncatedBytes;
    this.firstSequence = through + 1;
    this.active = opened.active;
    this.startPreparing();
  }

  /** Where the records end in the active segment (the rest of it is zeros written ahead). */
  get endOffset(): number {
    return this.logBytes;
  }

  /** The active segment's file (tests and tools). */
  get activeSegmentPath(): string {
    return join(this.dir, segmentName(this.active.sequence));
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
    if (this.closed) throw new Error('write-ahead log is closed');
    if (ops.length === 0) return;
    const encoded = ops.map(toEncoded);
    const payload = encode(encoded);
    if (payload.byteLength > RECORD_BYTES_MAX) throw new WalCorruptionError(`WAL record of ${payload.byteLength} bytes exceeds ${RECORD_BYTES_MAX}`);
    const record = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
    record.writeUInt32LE(payload.byteLength, 0);
    record.writeUInt32LE(crc32(payload), 4);
    record.set(payload, HEADER_BYTES);
    if (this.switchBeforeNextRecord || this.logBytes + record.byteLength > this.active.sizeBytes) this.switchSegment(record.byteLength);
    writeAllAt(this.active.fd, record, this.logBytes);
    // A failed fsync throws and must stop the node: retrying could report lost data as durable.
    // fdatasync: the record lands in blocks allocated and made durable before, so only data is
    // flushed (the file's size does not change).
    if (!this.options.unsafeNoSync) {
      const startedNs = process.hrtime.bigint();
      fdatasyncSync(this.active.fd);
      this.options.onFsync?.(Number(process.hrtime.bigint() - startedNs) / 1e9);
    }
    this.logBytes += record.byteLength;
    this.bytesSinceCheckpoint += record.byteLength;
    applyOps(this.entries, encoded);
    if (this.bytesSinceCheckpoint >= (this.options.compactBytes ?? LOG_BYTES_COMPACT)) this.checkpoint();
  }

  /** Stops writing; background work in flight finishes without renaming or deleting anything. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.active.fd);
  }

  /** Resolves when no background preparation or checkpoint is in flight (tests). */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /**
   * Take a checkpoint of the whole map now, covering every segment up to the active one, and
   * start the next record in a new segment. Written in the background unless the last background
   * checkpoint failed (then here, throwing what the disk says).
   */
  compact(): void {
    this.checkpoint();
  }

  private checkpoint(): void {
    if (this.checkpointing || this.closed) return;
    const through = this.active.sequence;
    const bytes = encode({ through, entries: [...this.entries] } satisfies Checkpoint);
    this.switchBeforeNextRecord = true;
    this.bytesSinceCheckpoint = 0;
    if (this.checkpointFailed) {
      writeCheckpointSync(this.dir, this.checkpointPath, bytes);
      for (let s = this.firstSequence; s <= through; s++) unlinkIfThere(join(this.dir, segmentName(s)));
      this.firstSequence = through + 1;
      this.checkpointFailed = false;
      return;
    }
    this.checkpointing = true;
    this.track(
      (async () => {
        const tmp = `${this.checkpointPath}.${through}.tmp`;
        try {
          const handle = await open(tmp, 'w', 0o600);
          try {
            await handle.write(bytes, 0, bytes.byteLength, 0);
            await handle.sync();
          } finally {
            await handle.close();
          }
          if (this.closed) return void (await unlink(tmp).catch(() => undefined));
          await rename(tmp, this.checkpointPath);
          await syncDirAsync(this.dir);
          // The checkpoint is durable: the segments it covers are not needed any more. After a
          // close they are left for the next open (which deletes what a checkpoint covers).
          if (this.closed) return;
          for (let s = this.firstSequence; s <= through; s++) await unlink(join(this.dir, segmentName(s))).catch(ignoreMissing);
          this.firstSequence = through + 1;
        } catch {
          // Nothing is lost (the segments stay); the next checkpoint is written synchronously,
          // where a failing disk throws and stops the node.
          this.checkpointFailed = true;
          await unlink(tmp).catch(() => undefined);
        } finally {
          this.checkpointing = false;
        }
      })(),
    );
  }

  /** Move to the next segment: the one prepared in the background if ready and big enough, else one made here. */
  private switchSegment(recordBytes: number): void {
    const sequence = this.active.sequence + 1;
    const path = join(this.dir, segmentName(sequence));
    let next: Segment;
    const ready = this.prepared;
    if (ready !== undefined && ready.sequence === sequence && ready.sizeBytes >= recordBytes) {
      next = { sequence, fd: openSync(path, fsConstants.O_RDWR), sizeBytes: ready.sizeBytes };
    } else {
      // Abandon what is in flight: it must not count once this segment exists.
      this.preparation += 1;
      this.preparing = false;
      next = this.createSegmentSync(sequence, Math.max(recordBytes, nextSegmentBytes(this.active.sizeBytes)));
    }
    this.prepared = undefined;
    closeSync(this.active.fd);
    this.active = next;
    this.logBytes = 0;
    this.switchBeforeNextRecord = false;
    this.startPreparing();
  }

  /**
   * Make segment `sequence` of at least `minBytes` here: zeros written and fsync'd, then the
   * directory. If a background preparation linked it meanwhile (it does so only once its zeros
   * are durable), it is used as it is when big enough.
   */
  private createSegmentSync(sequence: number, minBytes: number): Segment {
    const path = join(this.dir, segmentName(sequence));
    const sizeBytes = Math.ceil(minBytes / 4096) * 4096;
    let fd: number;
    try {
      fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      fd = openSync(path, fsConstants.O_RDWR);
      const existing = fstatSync(fd).size;
      if (existing >= minBytes) {
        syncDir(this.dir);
        return { sequence, fd, sizeBytes: existing };
      }
      closeSync(fd);
      unlinkSync(path);
      fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    }
    for (let at = 0; at < sizeBytes;) at += writeSync(fd, ZEROS, 0, Math.min(ZEROS.byteLength, sizeBytes - at), at);
    fsyncSync(fd);
    syncDir(this.dir);
    return { sequence, fd, sizeBytes };
  }

  /** Prepare the segment after the active one in the background (zeros in a file of its own). */
  private startPreparing(): void {
    if (this.preparing || this.closed || this.prepared !== undefined) return;
    this.preparing = true;
    const generation = ++this.preparation;
    const sequence = this.active.sequence + 1;
    const sizeBytes = nextSegmentBytes(this.active.sizeBytes);
    const path = join(this.dir, segmentName(sequence));
    // A name of its own: an abandoned preparation still in flight never touches another's file.
    const tmp = `${path}.${randomBytes(6).toString('hex')}.prep`;
    const current = (): boolean => generation === this.preparation && !this.closed;
    this.track(
      (async () => {
        try {
          const handle = await open(tmp, 'wx', 0o600);
          try {
            for (let at = 0; at < sizeBytes;) at += (await handle.write(ZEROS, 0, Math.min(ZEROS.byteLength, sizeBytes - at), at)).bytesWritten;
            await handle.sync();
          } finally {
            await handle.close();
          }
          if (!current()) return;
          // link, not rename: it never replaces a segment a synchronous switch made meanwhile.
          await link(tmp, path);
          await syncDirAsync(this.dir);
          if (current()) this.prepared = { sequence, sizeBytes };
        } catch {
          // The switch makes the segment itself, where a failing disk throws and stops the node.
        } finally {
          await unlink(tmp).catch(() => undefined);
          if (generation === this.preparation) this.preparing = false;
        }
      })(),
    );
  }

  private track(job: Promise<void>): void {
    this.background.add(job);
    void job.finally(() => this.background.delete(job));
  }

  /** Loads the checkpoint into the map; returns the last segment it covers (0 for the format before decision 1420). */
  private loadCheckpoint(): number {
    const checkpoint = decode<Checkpoint | Array<[string, Bytes]>>(readFileSync(this.checkpointPath));
    const pairs = Array.isArray(checkpoint) ? checkpoint : checkpoint.entries;
    for (const [k, v] of pairs) this.entries.set(k, v);
    return Array.isArray(checkpoint) ? 0 : checkpoint.through;
  }

  /**
   * The log of the format before decision 1420, one file `wal.log`: replayed on the checkpoint,
   * written into a new checkpoint, then deleted. Should the process die between the two, the
   * next open replays it again on the new checkpoint, which gives the same map: every op sets or
   * removes keys, so replaying a log on the state it led to changes nothing.
   */
  private migrateSingleLog(through: number): number {
    if (through !== 0) throw new WalCorruptionError(`WAL ${this.dir}: both ${SINGLE_LOG_NAME} and segments covered by a checkpoint`);
    const path = join(this.dir, SINGLE_LOG_NAME);
    const data = readFileSync(path);
    const end = this.replayRecords(data, path);
    const torn = tornTailBytes(data, end, path);
    writeCheckpointSync(this.dir, this.checkpointPath, encode({ through: 0, entries: [...this.entries] } satisfies Checkpoint));
    unlinkSync(path);
    syncDir(this.dir);
    return torn;
  }

  /** Replays the segments after the checkpoint's, repairs a torn tail, and opens the one to write into. */
  private openSegments(through: number): { active: Segment; truncatedBytes: number } {
    const sequences = readdirSync(this.dir)
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    // Covered by the checkpoint: left by a deletion the process did not finish.
    for (const s of sequences) if (s <= through) unlinkSync(join(this.dir, segmentName(s)));
    const after = sequences.filter((s) => s > through);
    after.forEach((s, i) => {
      if (s !== through + 1 + i) throw new WalCorruptionError(`WAL ${this.dir}: segment ${through + 1 + i} is missing (found ${s})`);
    });
    const datas = after.map((s) => readFileSync(join(this.dir, segmentName(s))));
    const lastWithData = datas.findLastIndex((d) => lastNonZeroIndex(d) >= 0);
    let truncatedBytes = 0;
    let activeIndex = -1;
    let activeEnd = 0;
    datas.forEach((data, i) => {
      if (i > lastWithData) return;
      const path = join(this.dir, segmentName(after[i]!));
      const end = this.replayRecords(data, path);
      this.bytesSinceCheckpoint += end;
      const last = lastNonZeroIndex(data);
      if (last >= end && i < lastWithData)
        throw new WalCorruptionError(`WAL ${path}: data at offset ${end} after its records, and a later segment holds more (corruption, not a torn write)`);
      const torn = tornTailBytes(data, end, path);
      if (torn > 0) {
        const fd = openSync(path, fsConstants.O_RDWR);
        try {
          for (let at = end; at < end + torn;) at += writeSync(fd, ZEROS, 0, Math.min(ZEROS.byteLength, end + torn - at), at);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        truncatedBytes += torn;
      }
      activeIndex = i;
      activeEnd = end;
    });
    // Segments after the last one holding anything are empty (prepared, never written): dropped.
    for (let i = activeIndex + 1; i < after.length; i++) unlinkSync(join(this.dir, segmentName(after[i]!)));
    if (activeIndex < 0) return { active: this.createSegmentSync(through + 1, SEGMENT_BYTES_MIN), truncatedBytes };
    const sequence = after[activeIndex]!;
    this.logBytes = activeEnd;
    const fd = openSync(join(this.dir, segmentName(sequence)), fsConstants.O_RDWR);
    return { active: { sequence, fd, sizeBytes: fstatSync(fd).size }, truncatedBytes };
  }

  /** Applies the records of one file to the map; returns where they end. */
  private replayRecords(data: Buffer, path: string): number {
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
            `WAL ${path}: record at offset ${offset} fails its checksum and is followed by more data (corruption, not a torn write)`,
          );
        }
        break;
      }
      applyOps(this.entries, decode<EncodedOp[]>(payload));
      offset += HEADER_BYTES + length;
    }
    return offset;
  }
}

function nextSegmentBytes(currentBytes: number): number {
  return Math.min(SEGMENT_BYTES_MAX, Math.max(SEGMENT_BYTES_MIN, currentBytes * 2));
}

/**
 * What follows the records of the last file holding anything: only zeros, but for what one record
 * written when the process died can leave (its header, or some of its pages without it). Returns
 * how many bytes that is (to be zeroed); anything beyond that reach is corruption.
 */
function tornTailBytes(data: Buffer, end: number, path: string): number {
  const last = lastNonZeroIndex(data);
  if (last < end) return 0;
  if (last >= end + HEADER_BYTES + RECORD_BYTES_MAX)
    throw new WalCorruptionError(`WAL ${path}: data at offset ${last}, beyond the end of the records at ${end} (corruption, not a torn write)`);
  return last + 1 - end;
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
function writeAllAt(fd: number, buffer: Uint8Array, position: number): void {
  let written = 0;
  while (written < buffer.byteLength) written += writeSync(fd, buffer, written, buffer.byteLength - written, position + written);
}

/** tmp + fsync + rename + directory fsync: the checkpoint is either the old one or the new one, whole. */
function writeCheckpointSync(dir: string, checkpointPath: string, bytes: Uint8Array): void {
  const tmp = `${checkpointPath}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeAllAt(fd, bytes, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, checkpointPath);
  syncDir(dir);
}

function unlinkIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    ignoreMissing(err);
  }
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function syncDirAsync(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
