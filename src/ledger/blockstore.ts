// The block store: append-only segment files in a node's directory, one record per block.
//
//   record = magic "MLB1" (4) | payloadLength u32 BE (4) | blockNumber u64 BE (8)
//          | sha256(length ‖ number ‖ payload) (32) | payload
//
// The checksum covers the length and number too, so a flipped bit anywhere in a record is caught
// (a damaged magic or length is caught by the magic check or by the checksum of the misread
// range). Each append is one positional write followed by fsync; a failed write or fsync leaves
// the store unusable (DESIGN §4: a failed fsync stops the node, it is never retried).
//
// Opening scans every record and builds the in-memory index number → (segment, offset). A record
// that fails its check is a torn write only if nothing follows it (it reaches or passes the end
// of the last segment) AND its number is above `protectedHeight` — the height the caller's world
// state already committed, which must therefore exist intact. A torn tail is truncated (and
// reported in `repaired`); anything else is a BlockStoreCorruptionError naming the block number,
// never a silent skip. Opening scans the whole chain (O(size)); for the sizes this project runs,
// a full integrity check at every start is worth more than the seconds a persisted index would save.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Bytes } from '../codec/index.ts';
import { makeDirectory } from '../files/directory.ts';

const MAGIC = Buffer.from('MLB1', 'ascii');
export const RECORD_HEADER_BYTES = 48;
/** One block's payload: bounded so a corrupt length never makes us allocate gigabytes. */
export const RECORD_PAYLOAD_BYTES_MAX = 256 * 1024 * 1024;
const SEGMENT_RE = /^blocks-(\d{6})\.bin$/;
export const DEFAULT_SEGMENT_BYTES_MAX = 64 * 1024 * 1024;

export class BlockStoreCorruptionError extends Error {
  override readonly name = 'BlockStoreCorruptionError';
  constructor(
    readonly blockNumber: number,
    readonly segment: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`block store corrupt at block ${blockNumber} (${segment} offset ${offset}): ${reason}`);
  }
}

export class BlockStoreError extends Error {
  override readonly name = 'BlockStoreError';
}

export function segmentName(index: number): string {
  return `blocks-${String(index).padStart(6, '0')}.bin`;
}

function listSegments(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir)
    .filter((n) => SEGMENT_RE.test(n))
    .sort();
  names.forEach((n, i) => {
    if (n !== segmentName(i)) throw new BlockStoreError(`block store ${dir}: segment ${segmentName(i)} is missing (found ${n})`);
  });
  return names;
}

function checksum(header: Buffer, payload: Buffer): Buffer {
  return createHash('sha256').update(header.subarray(4, 16)).update(payload).digest();
}

export function encodeRecord(number: number, payload: Bytes): Buffer {
  if (payload.byteLength > RECORD_PAYLOAD_BYTES_MAX)
    throw new BlockStoreError(`block ${number}: ${payload.byteLength} bytes exceeds ${RECORD_PAYLOAD_BYTES_MAX}`);
  const record = Buffer.alloc(RECORD_HEADER_BYTES + payload.byteLength);
  MAGIC.copy(record, 0);
  record.writeUInt32BE(payload.byteLength, 4);
  record.writeBigUInt64BE(BigInt(number), 8);
  const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  body.copy(record, RECORD_HEADER_BYTES);
  checksum(record, body).copy(record, 16);
  return record;
}

interface RecordLocation {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

/** A problem found while scanning: where, and whether it could be a torn final write. */
interface ScanProblem {
  readonly blockNumber: number;
  readonly segment: number;
  readonly offset: number;
  readonly reason: string;
  /** Nothing intact follows it: an interrupted last append would look exactly like this. */
  readonly atTail: boolean;
}

type ScanItem =
  | { readonly kind: 'record'; readonly number: number; readonly payload: Buffer; readonly location: RecordLocation }
  | { readonly kind: 'problem'; readonly problem: ScanProblem };

function isAllZero(buf: Buffer): boolean {
  for (const b of buf) if (b !== 0) return false;
  return true;
}

/** Walk every record of every segment in order; stops after the first problem. */
function* scan(dir: string, segments: readonly string[]): Generator<ScanItem> {
  let expected = 0;
  for (let s = 0; s < segments.length; s++) {
    const path = join(dir, segments[s]!);
    const isLastSegment = s === segments.length - 1;
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      let offset = 0;
      const header = Buffer.alloc(RECORD_HEADER_BYTES);
      while (offset < size) {
        const problem = (reason: string, recordEnd: number): ScanItem => ({
          kind: 'problem',
          problem: { blockNumber: expected, segment: s, offset, reason, atTail: isLastSegment && recordEnd >= size },
        });
        const remaining = size - offset;
        if (remaining < RECORD_HEADER_BYTES) {
          yield problem(`incomplete record header (${remaining} of ${RECORD_HEADER_BYTES} bytes)`, size);
          return;
        }
        readSync(fd, header, 0, RECORD_HEADER_BYTES, offset);
        if (!header.subarray(0, 4).equals(MAGIC)) {
          // The length cannot be trusted; only an all-zero rest of file (a pre-allocated but
          // unwritten tail) counts as a torn write.
          const rest = Buffer.alloc(Math.min(remaining, 1024 * 1024));
          readSync(fd, rest, 0, rest.length, offset);
          const tail = rest.length === remaining && isAllZero(rest);
          yield problem('bad record magic', tail ? size : offset);
          return;
        }
        const length = header.readUInt32BE(4);
        const end = offset + RECORD_HEADER_BYTES + length;
        if (length > RECORD_PAYLOAD_BYTES_MAX) {
          yield problem(`record length ${length} exceeds ${RECORD_PAYLOAD_BYTES_MAX}`, end);
          return;
        }
        if (end > size) {
          yield problem(`record extends past the end of the file (${end} > ${size})`, end);
          return;
        }
        const payload = Buffer.alloc(length);
        readSync(fd, payload, 0, length, offset + RECORD_HEADER_BYTES);
        if (!checksum(header, payload).equals(header.subarray(16, 48))) {
          yield problem('checksum mismatch', end);
          return;
        }
        const number = Number(header.readBigUInt64BE(8));
        if (number !== expected) {
          yield problem(`record holds block ${number} where block ${expected} was expected`, end);
          return;
        }
        yield { kind: 'record', number, payload, location: { segment: s, offset, length } };
        expected += 1;
        offset = end;
      }
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Read every block payload in order without changing anything (what `ledger verify` uses).
 * Throws BlockStoreCorruptionError at the first damaged record, torn tails included.
 */
export function* readAllBlocks(dir: string): Generator<{ readonly number: number; readonly payload: Bytes }> {
  const segments = listSegments(dir);
  for (const item of scan(dir, segments)) {
    if (item.kind === 'problem') {
      const p = item.problem;
      throw new BlockStoreCorruptionError(
        p.blockNumber,
        segments[p.segment]!,
        p.offset,
        p.atTail ? `${p.reason} (at the end of the store: an interrupted write?)` : p.reason,
      );
    }
    yield { number: item.number, payload: new Uint8Array(item.payload.buffer, item.payload.byteOffset, item.payload.byteLength) };
  }
}

export interface BlockStoreOptions {
  /** Blocks 0..protectedHeight are known committed elsewhere: damage to them is never "torn". */
  readonly protectedHeight?: number;
  readonly segmentBytesMax?: number;
}

export interface TailRepair {
  readonly blockNumber: number;
  readonly truncatedBytes: number;
  readonly reason: string;
}

export class BlockStore {
  private readonly locations: RecordLocation[] = [];
  private readonly segments: string[];
  private writeFd: number | null = null;
  private writeOffset = 0;
  private failed: Error | null = null;
  private closed = false;
  private readonly segmentBytesMax: number;
  readonly repaired: TailRepair | null;

  private constructor(
    readonly dir: string,
    options: BlockStoreOptions,
  ) {
    this.segmentBytesMax = options.segmentBytesMax ?? DEFAULT_SEGMENT_BYTES_MAX;
    makeDirectory(dir);
    this.segments = listSegments(dir);
    let repaired: TailRepair | null = null;
    for (const item of scan(dir, this.segments)) {
      if (item.kind === 'record') {
        this.locations.push(item.location);
        continue;
      }
      const p = item.problem;
      const protectedHeight = options.protectedHeight ?? -1;
      if (!p.atTail || p.blockNumber <= protectedHeight) {
        const why = p.atTail ? `${p.reason}; the world state already committed it (height ${protectedHeight})` : p.reason;
        throw new BlockStoreCorruptionError(p.blockNumber, this.segments[p.segment]!, p.offset, why);
      }
      // A torn final append: cut it off so the next append starts on a record boundary.
      const path = join(dir, this.segments[p.segment]!);
      const fd = openSync(path, 'r+');
      try {
        const size = fstatSync(fd).size;
        ftruncateSync(fd, p.offset);
        fsyncSync(fd);
        repaired = { blockNumber: p.blockNumber, truncatedBytes: size - p.offset, reason: p.reason };
      } finally {
        closeSync(fd);
      }
    }
    this.repaired = repaired;
  }

  /** Open (creating the directory if needed), verifying every record; see the file comment. */
  static open(dir: string, options: BlockStoreOptions = {}): BlockStore {
    return new BlockStore(dir, options);
  }

  /** Number of blocks stored; the next block appended must carry this number. */
  get count(): number {
    return this.locations.length;
  }

  append(number: number, payload: Bytes): void {
    this.checkUsable();
    if (number !== this.locations.length) throw new BlockStoreError(`append: block ${number} out of order (next is ${this.locations.length})`);
    const record = encodeRecord(number, payload);
    try {
      this.prepareSegment(record.length);
      const fd = this.writeFd!;
      let written = 0;
      while (written < record.length) {
        written += writeSync(fd, record, written, record.length - written, this.writeOffset + written);
      }
      fsyncSync(fd);
    } catch (err) {
      this.failed = err as Error;
      throw new BlockStoreError(`append of block ${number} failed, the store is now read-only until restart: ${(err as Error).message}`, { cause: err });
    }
    this.locations.push({ segment: this.segments.length - 1, offset: this.writeOffset, length: payload.byteLength });
    this.writeOffset += record.length;
  }

  private prepareSegment(recordBytes: number): void {
    if (this.writeFd === null && this.segments.length > 0) {
      const name = this.segments[this.segments.length - 1]!;
      this.writeFd = openSync(join(this.dir, name), 'r+');
      this.writeOffset = fstatSync(this.writeFd).size;
    }
    const needNew = this.segments.length === 0 || (this.writeOffset > 0 && this.writeOffset + recordBytes > this.segmentBytesMax);
    if (!needNew) return;
    if (this.writeFd !== null) closeSync(this.writeFd);
    const name = segmentName(this.segments.length);
    this.writeFd = openSync(join(this.dir, name), 'wx+');
    this.segments.push(name);
    this.writeOffset = 0;
    // Make the new file's directory entry durable too, or a crash could lose the whole segment.
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  read(number: number): Bytes {
    this.checkOpen();
    const loc = this.locations[number];
    if (!loc) throw new BlockStoreError(`block ${number} is not in the store (height ${this.locations.length})`);
    const name = this.segments[loc.segment]!;
    const fd = openSync(join(this.dir, name), 'r');
    try {
      const record = Buffer.alloc(RECORD_HEADER_BYTES + loc.length);
      readSync(fd, record, 0, record.length, loc.offset);
      const payload = record.subarray(RECORD_HEADER_BYTES);
      if (!record.subarray(0, 4).equals(MAGIC) || !checksum(record, payload).equals(record.subarray(16, 48))) {
        throw new BlockStoreCorruptionError(number, name, loc.offset, 'checksum mismatch on read');
      }
      return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
    } finally {
      closeSync(fd);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new BlockStoreError('block store is closed');
  }

  private checkUsable(): void {
    this.checkOpen();
    if (this.failed) throw new BlockStoreError(`block store failed earlier: ${this.failed.message}`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.writeFd !== null) closeSync(this.writeFd);
    this.writeFd = null;
  }
}
