// A horizontally scrollable wrapper for wide tables that keyboard users can scroll too (focusable,
// named region), as WCAG asks of scrollable areas.
import type { ReactNode } from 'react';

export function TableScroll({ label, children }: { label: string; children: ReactNode }): ReactNode {
  return (
    <div className="ml-table-scroll" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}
