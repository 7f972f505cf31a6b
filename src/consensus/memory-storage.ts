// An in-memory DurableState that applies PersistOps: what the simulator and tests use as a
// node's "disk". Real nodes use the fsync'd write-ahead log in src/node.
import type { Bytes } from '../codec/index.ts';
import type { DurableState, PersistOp } from './engine.ts';

export class MemoryStorage implements DurableState {
  private readonly entries = new Map<string, Bytes>();

  get(key: string): Bytes | undefined {
    return this.entries.get(key);
  }

  keysWithPrefix(prefix: string): readonly string[] {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  apply(ops: readonly PersistOp[]): void {
    for (const op of ops) {
      if (op.op === 'put') this.entries.set(op.key, op.value);
      else if (op.op === 'delete') this.entries.delete(op.key);
      else for (const k of [...this.entries.keys()]) if (k.startsWith(op.prefix)) this.entries.delete(k);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
