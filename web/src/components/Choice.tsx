// A choice among a few options shown side by side (Mantine's SegmentedControl) that stacks its
// options one under another when they do not fit its width: side by side on a phone, the
// provenance page's fourth option ("My organisation") was cut off at the screen's edge, out of
// sight and out of reach. Decided by measuring, as the lists' cards are (useFold).
import { SegmentedControl, type SegmentedControlProps } from '@mantine/core';
import { useEffect, useLayoutEffect, useRef, type ReactNode } from 'react';
import { useFold } from './useFold.ts';

/** Mantine's padding around the options (4 px a side). */
const CONTROL_PADDING_PX = 8;

export function Choice(props: Omit<SegmentedControlProps, 'orientation' | 'fullWidth'>): ReactNode {
  const ref = useRef<HTMLDivElement>(null);
  const { folded: vertical, check } = useFold((folded) => {
    const el = ref.current;
    const room = el?.parentElement?.clientWidth;
    if (!el || room === undefined) return null;
    if (folded) return { neededPx: 0, roomPx: room };
    // Measured on the options' words (the inline text of each, whole even where it is cut), not
    // on the control's widths: stretched to its parent, its options are as wide as it is, and its
    // sliding indicator (absolutely placed, still where the stacked layout put it) would count in
    // its scroll width.
    const needed = [...el.querySelectorAll<HTMLElement>('.mantine-SegmentedControl-control')].reduce(
      (sum, option) => {
        const label = option.querySelector<HTMLElement>('.mantine-SegmentedControl-label');
        const words = option.querySelector<HTMLElement>('.mantine-SegmentedControl-innerLabel');
        if (!label || !words) return sum + option.offsetWidth;
        const style = getComputedStyle(label);
        const labelPaddingPx = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
        return sum + option.offsetWidth - label.clientWidth + labelPaddingPx + Math.ceil(words.getBoundingClientRect().width);
      },
      el.offsetWidth - el.clientWidth + CONTROL_PADDING_PX,
    );
    // Cut inside its own box (stretched to its parent), or wider than its parent (laid out inline).
    return { neededPx: needed, roomPx: Math.min(room, el.offsetWidth) };
  });
  const update = (): void => void check();
  useLayoutEffect(update);
  useEffect(() => {
    const parent = ref.current?.parentElement;
    if (!parent) return;
    const resized = new ResizeObserver(update);
    resized.observe(parent);
    return () => resized.disconnect();
  }, []); // `update` reads refs only
  return <SegmentedControl ref={ref} {...props} orientation={vertical ? 'vertical' : 'horizontal'} />;
}
