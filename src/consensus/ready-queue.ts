// The output side every engine needs: what to persist, what to send and what was decided,
// accumulated between ready() and advance(). advance() removes exactly what the given Ready
// held, so output produced while the driver was busy is kept for the next Ready.
import type { DecidedBlock, Outbound, PersistOp, Ready, RestoreRequest } from './engine.ts';

export class ReadyQueue<M> {
  readonly persist: PersistOp[] = [];
  readonly messages: Outbound<M>[] = [];
  readonly decided: DecidedBlock[] = [];
  /** A restore the application must perform (decided-chain.ts: blocks it lacks are gone). */
  restore: RestoreRequest | null = null;

  hasReady(): boolean {
    return this.persist.length > 0 || this.messages.length > 0 || this.decided.length > 0 || this.restore !== null;
  }

  /** A snapshot of the pending output (the same batch until advance). */
  ready(): Ready<M> {
    return { persist: [...this.persist], messages: [...this.messages], decided: [...this.decided], restore: this.restore };
  }

  advance(ready: Ready<M>): void {
    this.persist.splice(0, ready.persist.length);
    this.messages.splice(0, ready.messages.length);
    this.decided.splice(0, ready.decided.length);
    if (ready.restore !== null && ready.restore === this.restore) this.restore = null;
  }
}
