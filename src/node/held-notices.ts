// The driver's side of Ready.noticesHeld (consensus/engine.ts; decisions 1405 and 1416), for the
// drivers that run on Node's timers: the node's orderer (node/orderer.ts) and the ordering
// benchmark's orderer (bench/ordering-node.ts). The simulator keeps its own, on virtual time.
//
// A Ready that says `noticesHeld: true` asks for one flush NOTICES_HOLD_MS later (not a second
// one while that is pending): by then the next entry has usually carried the commit index and
// nothing is left to send. A Ready that says `false` calls the pending flush off — left running,
// it would fire into a later round and send that round's notice before its own hold ran out.
import { NOTICES_HOLD_MS } from '../consensus/engine.ts';

export class HeldNoticesTimer {
  private timer: NodeJS.Timeout | null = null;

  /** `flush` calls the engine's flushNotices() and drives the Readys it makes. */
  constructor(
    private readonly flush: () => void,
    private readonly holdMs: number = NOTICES_HOLD_MS,
  ) {}

  /** After engine.advance(rd): act on rd.noticesHeld. */
  afterReady(noticesHeld: boolean | undefined): void {
    if (noticesHeld === true) {
      if (this.timer) return;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.holdMs);
    } else if (noticesHeld === false) this.cancel();
  }

  /** Whether a flush is due. */
  get pending(): boolean {
    return this.timer !== null;
  }

  /** Call the pending flush off (an entry carried the notices, or the driver stops). */
  cancel(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
  }
}
