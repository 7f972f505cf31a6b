// A horizontally scrollable wrapper for wide tables that keyboard users can scroll too (a named
// region, focusable while it scrolls), as WCAG asks of scrollable areas. A table wider than its
// region does one of two things:
// - a list of things (nodes, records, datasets, consents: `stack`) turns each row into a card of
//   "heading: value" lines, one card per row, side by side where the width allows. At a tablet's
//   or a phone's width a row's last column (its Open or Apply button) then stays in sight.
// - a table of figures compared across its rows, or a CSV file's columns, keeps its columns: it
//   scrolls, shades the side where columns are out of sight and writes a line under it saying so.
import { useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { useFold } from './useFold.ts';

interface Hidden {
  readonly left: boolean;
  readonly right: boolean;
}

/** Which sides of a scroll region have content out of sight (1 px of slack for rounding). */
function hiddenSides(el: HTMLElement): Hidden {
  return { left: el.scrollLeft > 1, right: el.scrollLeft + el.clientWidth < el.scrollWidth - 1 };
}

/**
 * Names each body cell by its column's heading (`data-label`, which the stacked layout's CSS shows
 * before the value). A cell spanning every column (a list's "nothing yet" line) has no heading. In
 * the stacked layout the table's parts are no longer laid out as a table, so they also say their
 * roles: not every browser keeps a table's semantics once its CSS display changes.
 */
function labelCells(table: HTMLTableElement, stacked: boolean): void {
  const headings = [...table.querySelectorAll(':scope > thead > tr > th')].map((th) => th.textContent ?? '');
  const role = (el: Element, name: string): void => {
    if (stacked) el.setAttribute('role', name);
    else el.removeAttribute('role');
  };
  role(table, 'table');
  for (const group of table.querySelectorAll(':scope > thead, :scope > tbody')) role(group, 'rowgroup');
  for (const th of table.querySelectorAll(':scope > thead > tr > th')) role(th, 'columnheader');
  for (const tr of table.querySelectorAll(':scope > thead > tr, :scope > tbody > tr')) {
    role(tr, 'row');
    if (tr.parentElement?.tagName !== 'TBODY') continue;
    let column = 0;
    for (const td of tr.children) {
      if (!(td instanceof HTMLTableCellElement)) continue;
      const spansAll = td.colSpan >= headings.length && headings.length > 1;
      td.setAttribute('data-label', spansAll ? '' : (headings[column] ?? ''));
      role(td, 'cell');
      column += td.colSpan;
    }
  }
}

export function TableScroll({ label, stack = false, children }: { label: string; stack?: boolean; children: ReactNode }): ReactNode {
  const ref = useRef<HTMLDivElement>(null);
  const [hidden, setHidden] = useState<Hidden>({ left: false, right: false });
  // A list (`stack`) too wide for its region is shown as cards.
  const { folded: stacked, check } = useFold((folded) => {
    const el = ref.current;
    if (!stack || !el) return null;
    return { neededPx: folded ? 0 : el.scrollWidth, roomPx: el.clientWidth };
  });
  const update = (): void => {
    const el = ref.current;
    if (!el || check()) return;
    const next = hiddenSides(el);
    setHidden((h) => (h.left === next.left && h.right === next.right ? h : next));
  };
  // After every render, before the browser paints: rows loaded or changed make the table wider or
  // narrower, and a list too wide for its region is shown as cards without a frame of it as a table.
  useLayoutEffect(() => {
    const table = ref.current?.querySelector(':scope > table');
    if (stack && table instanceof HTMLTableElement) labelCells(table, stacked);
    update();
  });
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.addEventListener('scroll', update, { passive: true });
    // The region (the window resized) and the table (a cell's content grew on its own).
    const resized = new ResizeObserver(update);
    resized.observe(el);
    if (el.firstElementChild) resized.observe(el.firstElementChild);
    return () => {
      el.removeEventListener('scroll', update);
      resized.disconnect();
    };
  }, []); // `update` reads refs (and `stack`, fixed for a table's life)
  const scrolls = !stacked && (hidden.left || hidden.right);
  return (
    <div>
      <div
        className="ml-table-frame"
        data-stacked={stacked || undefined}
        data-hidden-left={(scrolls && hidden.left) || undefined}
        data-hidden-right={(scrolls && hidden.right) || undefined}
      >
        {/* A Tab stop only while there is something to scroll: a table that fits, or a list shown
            as cards, would be a stop with nothing to do. */}
        <div ref={ref} className="ml-table-scroll" tabIndex={scrolls ? 0 : undefined} role="region" aria-label={label}>
          {children}
        </div>
      </div>
      {scrolls ? (
        // Screen readers read the table's columns whatever is in sight: the line is for the eye.
        <p className="ml-table-more" aria-hidden="true">
          {hidden.right ? 'More columns to the right: scroll sideways' : 'More columns to the left: scroll back'}
        </p>
      ) : null}
    </div>
  );
}
