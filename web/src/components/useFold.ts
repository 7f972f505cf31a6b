// A layout that folds when its content does not fit its width — a list into cards (TableScroll),
// a choice's options one under another (Choice) — and unfolds once there is as much room as the
// content needed the last time it was laid out unfolded. That width is remembered, not measured
// again: measured while folded, it would be the folded layout's.
import { useRef, useState } from 'react';

export interface Fit {
  /** The width the content needs laid out unfolded (read only while unfolded). */
  readonly neededPx: number;
  /** The width there is for it. */
  readonly roomPx: number;
}

export interface Fold {
  readonly folded: boolean;
  /** Measures and folds or unfolds; true when it did (the caller's other measures are then stale). */
  readonly check: () => boolean;
}

/**
 * `measure` is told whether the layout is folded; it reads the DOM (through refs), so a `check`
 * kept by an observer set up once measures the layout in force.
 */
export function useFold(measure: (folded: boolean) => Fit | null): Fold {
  const [folded, setFolded] = useState(false);
  const foldedNow = useRef(false);
  foldedNow.current = folded;
  const neededPx = useRef(0);
  const check = (): boolean => {
    const fit = measure(foldedNow.current);
    if (!fit) return false;
    if (!foldedNow.current && fit.neededPx > fit.roomPx + 1) {
      neededPx.current = fit.neededPx;
      setFolded(true);
      return true;
    }
    if (foldedNow.current && fit.roomPx >= neededPx.current) {
      setFolded(false);
      return true;
    }
    return false;
  };
  return { folded, check };
}
