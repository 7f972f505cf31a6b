// The in-memory Raft log: entries (offset, last] after a compaction point `offset` whose term is
// remembered (the snapshot's index/term). Durability is the engine's business (it turns every
// change into PersistOps); this class only keeps the entries and answers Raft's log questions.
import { assertInvariant } from '../engine.ts';
import { entrySizeBytes, type Entry } from './messages.ts';

export class RaftLog {
  private entries: Entry[];

  constructor(
    private offsetIndex: number,
    private offsetTerm: number,
    entries: readonly Entry[] = [],
  ) {
    this.entries = [...entries];
    entries.forEach((e, i) => assertInvariant(e.index === offsetIndex + 1 + i, 'log entries are contiguous'));
  }

  /** Index of the last compacted entry (the snapshot index); 0 when nothing was compacted. */
  get offset(): number {
    return this.offsetIndex;
  }

  firstIndex(): number {
    return this.offsetIndex + 1;
  }

  lastIndex(): number {
    return this.offsetIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at `index`, or undefined when it is compacted away or beyond the log. */
  term(index: number): number | undefined {
    if (index === this.offsetIndex) return this.offsetTerm;
    if (index < this.offsetIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offsetIndex - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offsetIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offsetIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The index of the first entry in `entries` that is new or conflicts with ours (0 if all are
   * already present with matching terms). Entries at or below the offset are compacted, hence
   * committed, hence match.
   */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (e.index <= this.offsetIndex) continue;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking (etcd's findConflictByTerm): the largest index <= `index` whose term is
   * <= `term`, with that term. Stops at the compaction point (term 0 there means "unknown").
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    if (index > this.lastIndex()) return { index, term: 0 };
    let i = index;
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
      i -= 1;
    }
  }

  /**
   * Append `entries` (contiguous, starting at most at lastIndex + 1), replacing any suffix from the
   * first entry's index on. Returns the indices removed beyond the new last index (for deletes).
   */
  append(entries: readonly Entry[]): { removedFrom: number; removedTo: number } | null {
    if (entries.length === 0) return null;
    const first = entries[0]!.index;
    assertInvariant(first > this.offsetIndex, 'append above the compaction point');
    assertInvariant(first <= this.lastIndex() + 1, 'append leaves no gap');
    const oldLast = this.lastIndex();
    this.entries.length = first - this.offsetIndex - 1;
    for (const e of entries) {
      assertInvariant(e.index === this.lastIndex() + 1, 'appended entries are contiguous');
      this.entries.push(e);
    }
    const newLast = this.lastIndex();
    return oldLast > newLast ? { removedFrom: newLast + 1, removedTo: oldLast } : null;
  }

  /**
   * Entries [lo, hi] limited to `countMax` entries and `sizeBytesMax` bytes (always at least one
   * entry when lo <= hi), or undefined when lo is compacted away.
   */
  slice(lo: number, hi: number, countMax: number, sizeBytesMax: number): Entry[] | undefined {
    if (lo <= this.offsetIndex) return undefined;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= Math.min(hi, this.lastIndex()) && out.length < countMax; i++) {
      const e = this.entry(i)!;
      const size = entrySizeBytes(e);
      if (out.length > 0 && bytes + size > sizeBytesMax) break;
      out.push(e);
      bytes += size;
    }
    return out;
  }

  /** Drop entries up to and including `index` (which must be in the log): log compaction. */
  compact(index: number): void {
    if (index <= this.offsetIndex) return;
    const t = this.term(index);
    assertInvariant(t !== undefined, 'compact within the log');
    this.entries = this.entries.slice(index - this.offsetIndex);
    this.offsetIndex = index;
    this.offsetTerm = t;
  }

  /** Replace the whole log by a snapshot point (snapshot install). */
  reset(index: number, term: number): void {
    this.entries = [];
    this.offsetIndex = index;
    this.offsetTerm = term;
  }
}
