// The simulator's event queue: a bounded binary min-heap ordered by (virtual time, insertion
// sequence). The sequence makes ties deterministic — two events at the same virtual time always
// run in the order they were scheduled — which is what makes a seed replay exactly.

export interface Scheduled<E> {
  readonly atMs: number;
  readonly seq: number;
  readonly event: E;
}

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

export class EventQueue<E> {
  private readonly heap: Scheduled<E>[] = [];
  private nextSeq = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`event queue capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.heap.length;
  }

  get isFull(): boolean {
    return this.heap.length >= this.capacity;
  }

  /** Throws QueueFullError when full: callers that may drop (the network) check isFull first. */
  push(atMs: number, event: E): void {
    if (!Number.isFinite(atMs)) throw new RangeError(`event time must be finite, got ${atMs}`);
    if (this.heap.length >= this.capacity) throw new QueueFullError(`event queue full (${this.capacity} events)`);
    const item: Scheduled<E> = { atMs, seq: this.nextSeq++, event };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(item, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = item;
  }

  peek(): Scheduled<E> | undefined {
    return this.heap[0];
  }

  pop(): Scheduled<E> | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = last;
        let target = -1;
        if (l < h.length && less(h[l]!, smallest)) {
          smallest = h[l]!;
          target = l;
        }
        if (r < h.length && less(h[r]!, smallest)) {
          smallest = h[r]!;
          target = r;
        }
        if (target < 0) break;
        h[i] = smallest;
        i = target;
      }
      h[i] = last;
    }
    return top;
  }
}

function less<E>(a: Scheduled<E>, b: Scheduled<E>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
