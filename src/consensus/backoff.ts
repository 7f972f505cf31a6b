// The view-change timeout every leader-based BFT engine uses (issue 14 §2): the base timeout
// doubles with each consecutive failed view, up to a cap, so that correct nodes whose timers
// started at different moments end up waiting long enough to meet in one view (PBFT §4.5.2).
import { assertInvariant } from './engine.ts';

/** base · 2^min(doublings, doublingsMax), in ticks. */
export function viewChangeTimeoutTicks(baseTicks: number, doublings: number, doublingsMax: number): number {
  const ticks = baseTicks * 2 ** Math.min(Math.max(doublings, 0), doublingsMax);
  assertInvariant(Number.isSafeInteger(ticks) && ticks >= baseTicks, `a view-change timeout is a whole number of ticks ≥ ${baseTicks} (got ${ticks})`);
  return ticks;
}
