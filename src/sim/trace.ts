// A bounded ring buffer of the last events of a run. Entries are stored as small tuples and only
// formatted when a trace is asked for (a violation, or `trace: true`), because a run records
// hundreds of thousands of events and almost never prints them.
import { toHex, type Bytes } from '../codec/index.ts';

type Entry = readonly [atMs: number, text: string, digest: Bytes | null];

export class TraceBuffer {
  private readonly entries: Entry[] = [];
  private next = 0;
  private total = 0;

  constructor(readonly capacity: number) {}

  add(atMs: number, text: string, digest: Bytes | null = null): void {
    const e: Entry = [atMs, text, digest];
    if (this.entries.length < this.capacity) this.entries.push(e);
    else this.entries[this.next] = e;
    this.next = (this.next + 1) % this.capacity;
    this.total += 1;
  }

  /** Oldest first. */
  format(): string[] {
    const ordered = this.entries.length < this.capacity ? this.entries : [...this.entries.slice(this.next), ...this.entries.slice(0, this.next)];
    const lines = ordered.map(([t, text, digest]) => `t=${formatMs(t)}ms ${text}${digest ? ` ${toHex(digest).slice(0, 12)}` : ''}`);
    const skipped = this.total - ordered.length;
    return skipped > 0 ? [`… ${skipped} earlier events not kept`, ...lines] : lines;
  }
}

export function formatMs(ms: number): string {
  return (Math.round(ms * 100) / 100).toString();
}
