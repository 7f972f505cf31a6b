// The browser tab's title: the page, the hospital whose node serves it, the product. Five
// hospitals' consoles open side by side (the demo's tour uses three) are told apart by their tabs,
// and a screen reader announces where a client-side navigation landed (WCAG 2.4.2, pages titled
// by their topic); index.html's fixed title said "MedLedger console" everywhere.

const PRODUCT_TITLE = 'MedLedger';

/** "Records · Hospital2 · MedLedger"; the parts that are unknown are left out. */
export function documentTitle(pageName: string | null, org: string | null): string {
  return [pageName, org, PRODUCT_TITLE].filter((part): part is string => part !== null && part !== '').join(' · ');
}

/** The label of the page at `location` (a page's own path or below it), null when none is. */
export function pageNameAt(location: string, pages: readonly { readonly path: string; readonly label: string }[]): string | null {
  return pages.find((p) => location === p.path || location.startsWith(`${p.path}/`))?.label ?? null;
}
