// A horizontally scrollable wrapper for wide tables that keyboard users can scroll too (focusable,
// named region), as WCAG asks of scrollable areas. A table wider than its region shows that it
// is: a shade on the side where columns are out of sight and a line under it saying so — at a
// tablet's width a list's last column (its Open or Apply button) would otherwise sit out of sight
// with nothing to tell it is there.
import { useEffect, useRef, useState, type ReactNode } from 'react';

interface Hidden {
  readonly left: boolean;
  readonly right: boolean;
}

/** Which sides of a scroll region have content out of sight (1 px of slack for rounding). */
function hiddenSides(el: HTMLElement): Hidden {
  return { left: el.scrollLeft > 1, right: el.scrollLeft + el.clientWidth < el.scrollWidth - 1 };
}

export function TableScroll({ label, children }: { label: string; children: ReactNode }): ReactNode {
  const ref = useRef<HTMLDivElement>(null);
  const [hidden, setHidden] = useState<Hidden>({ left: false, right: false });
  const update = (): void => {
    const el = ref.current;
    if (!el) return;
    const next = hiddenSides(el);
    setHidden((h) => (h.left === next.left && h.right === next.right ? h : next));
  };
  // After every render: rows loaded or changed make the table wider or narrower.
  useEffect(update);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.addEventListener('scroll', update, { passive: true });
    const resized = new ResizeObserver(update);
    resized.observe(el);
    return () => {
      el.removeEventListener('scroll', update);
      resized.disconnect();
    };
  }, []);
  return (
    <div>
      <div className="ml-table-frame" data-hidden-left={hidden.left || undefined} data-hidden-right={hidden.right || undefined}>
        <div ref={ref} className="ml-table-scroll" tabIndex={0} role="region" aria-label={label}>
          {children}
        </div>
      </div>
      {hidden.left || hidden.right ? (
        // Screen readers read the table's columns whatever is in sight: the line is for the eye.
        <p className="ml-table-more" aria-hidden="true">
          {hidden.right ? 'More columns to the right: scroll sideways' : 'More columns to the left: scroll back'}
        </p>
      ) : null}
    </div>
  );
}
