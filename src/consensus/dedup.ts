// Exactly-once decisions: engines filter the decided stream through this window so that a
// proposal retried by its client (or forwarded twice) is decided once. The window is a pure
// function of the decided history, so every correct node filters identically.
import type { Proposal } from './engine.ts';

export const DEDUP_WINDOW_MAX = 4096;

interface ClientWindow {
  /** Every seq <= low has been decided (or is older than the window and refused). */
  low: number;
  /** Decided seqs above `low`. */
  above: Set<number>;
}

export class DedupWindow {
  private readonly clients = new Map<string, ClientWindow>();

  constructor(private readonly clientsMax = 100_000) {}

  isDecided(p: Pick<Proposal, 'clientId' | 'seq'>): boolean {
    const w = this.clients.get(p.clientId);
    if (!w) return false;
    return p.seq <= w.low || w.above.has(p.seq);
  }

  /** Record a decision. Returns false when it was already decided (the caller drops it). */
  markDecided(p: Pick<Proposal, 'clientId' | 'seq'>): boolean {
    let w = this.clients.get(p.clientId);
    if (!w) {
      if (this.clients.size >= this.clientsMax) {
        const oldest = this.clients.keys().next().value;
        if (oldest !== undefined) this.clients.delete(oldest);
      }
      w = { low: 0, above: new Set() };
      this.clients.set(p.clientId, w);
    }
    if (p.seq <= w.low || w.above.has(p.seq)) return false;
    w.above.add(p.seq);
    while (w.above.has(w.low + 1)) {
      w.above.delete(w.low + 1);
      w.low += 1;
    }
    // Bound memory: a client that leaves gaps for too long loses them (they count as decided).
    if (w.above.size > DEDUP_WINDOW_MAX) {
      const sorted = [...w.above].sort((a, b) => a - b);
      const drop = sorted.slice(0, sorted.length - DEDUP_WINDOW_MAX);
      for (const s of drop) w.above.delete(s);
      w.low = Math.max(w.low, drop[drop.length - 1] ?? w.low);
    }
    return true;
  }

  /** Serializable form, for snapshots. */
  toJSON(): Array<[string, number, number[]]> {
    return [...this.clients].map(([c, w]) => [c, w.low, [...w.above].sort((a, b) => a - b)]);
  }

  static fromJSON(entries: Array<[string, number, number[]]>): DedupWindow {
    const d = new DedupWindow();
    for (const [c, low, above] of entries) d.clients.set(c, { low, above: new Set(above) });
    return d;
  }
}
