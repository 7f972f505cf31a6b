// Bringing what the user asked for into sight. An action's outcome (statistics, a record opened,
// a lab run, a block found) appears below the form or list that asked for it; on a phone, and on
// a short laptop screen, that is below the fold, and the user sees nothing happen but a button
// stop spinning. The page then scrolls just enough to show the outcome — and not at all when it
// is in sight already, so a wide screen does not jump.
import { useEffect, useRef, type RefObject } from 'react';

/** Space kept between the sticky header and what is scrolled to. */
const MARGIN_PX = 12;
/** How much of a tall outcome must show below its top for it to count as in sight. */
const SHOWN_FRACTION_MIN = 0.25;

/** The nearest ancestor that scrolls vertically (a dialog's body), or null for the window. */
function scrollingAncestor(el: HTMLElement): HTMLElement | null {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const { overflowY } = getComputedStyle(p);
    if ((overflowY === 'auto' || overflowY === 'scroll') && p.scrollHeight > p.clientHeight) return p;
  }
  return null;
}

/** The part of the screen `el` can be seen in: the window below the page's header, or a dialog below its own (sticky) title bar. */
function viewOf(container: HTMLElement | null): { top: number; bottom: number } {
  if (!container) return { top: document.querySelector('header')?.getBoundingClientRect().bottom ?? 0, bottom: window.innerHeight };
  const frame = container.getBoundingClientRect();
  const titleBar = [...container.children].find((c) => getComputedStyle(c).position === 'sticky');
  return { top: titleBar ? titleBar.getBoundingClientRect().bottom : frame.top, bottom: Math.min(frame.bottom, window.innerHeight) };
}

/** Where `el` is, the scrolling box around it (null: the window) and the part of the screen it can be seen in. */
function placeOf(el: HTMLElement): { box: DOMRect; container: HTMLElement | null; view: { top: number; bottom: number } } {
  const container = scrollingAncestor(el);
  return { box: el.getBoundingClientRect(), container, view: viewOf(container) };
}

function shown(box: DOMRect, view: { top: number; bottom: number }, align: 'start' | 'center'): boolean {
  return align === 'center'
    ? box.top >= view.top && box.bottom <= view.bottom
    : box.top >= view.top && box.top + Math.min(box.height, (view.bottom - view.top) * SHOWN_FRACTION_MIN) <= view.bottom;
}

/**
 * Whether `el` is in sight in the window or the dialog that scrolls around it: with 'start' its
 * top shows, with a quarter of the view or all of it below; with 'center' all of it shows.
 */
export function isInSight(el: HTMLElement, align: 'start' | 'center' = 'start'): boolean {
  const { box, view } = placeOf(el);
  return shown(box, view, align);
}

/**
 * Scroll so that `el` is in sight, if it is not — the window, or the dialog that scrolls around
 * it. 'start' puts its top just below the header or title bar (in sight: its top shows, with a
 * quarter of the view or all of it below); 'center' puts it mid-view (in sight: all of it
 * shows). Returns whether it scrolled.
 */
export function revealIfOutOfSight(el: HTMLElement, align: 'start' | 'center' = 'start'): boolean {
  const { box, container, view } = placeOf(el);
  if (shown(box, view, align)) return false;
  const by = align === 'center' ? box.top + box.height / 2 - (view.top + view.bottom) / 2 : box.top - view.top - MARGIN_PX;
  (container ?? window).scrollBy({ top: by });
  return true;
}

/**
 * A ref for an outcome's element: each time `outcome` changes to something (not null, undefined
 * or false), the element is brought into sight once laid out. Measured in the next frame: a
 * table inside may decide in its own layout pass to show its rows as cards, and grow.
 */
export function useReveal<T extends HTMLElement>(outcome: unknown): RefObject<T | null> {
  const ref = useRef<T>(null);
  const shown = useRef<unknown>(outcome);
  useEffect(() => {
    if (outcome === shown.current) return;
    if (outcome === null || outcome === undefined || outcome === false) {
      shown.current = outcome;
      return;
    }
    // Counted as shown only once revealed: an effect run twice (React's StrictMode) cancels the
    // first frame, and the second run must still ask for one.
    const frame = requestAnimationFrame(() => {
      shown.current = outcome;
      if (ref.current) revealIfOutOfSight(ref.current);
    });
    return () => cancelAnimationFrame(frame);
  }, [outcome]);
  return ref;
}
