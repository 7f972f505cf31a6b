// What an action taken on a row of a list did (an application approved, a consent revoked, a
// dataset withdrawn, an application sent from a row's dialog), told above the list, where the
// list's state is told. On a phone, or further down a long list, that place is out of sight: the
// user sees the row change, or nothing, and no word of what happened. Then the outcome also shows
// at the foot of the screen, where they are, until it is dismissed, comes into sight above, or
// FLOAT_MS pass — and the page does not scroll: someone deciding applications one after another
// stays at their row (decision 1209; decision 1208 scrolls to outcomes that appear below the
// control that asked).
import { Affix, Alert, Box } from '@mantine/core';
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ErrorAlert } from '../app/errors.tsx';
import { isInSight } from './reveal.ts';

/** How long the copy at the foot of the screen stays, unless dismissed or the outcome comes into sight. */
const FLOAT_MS = 12_000;
/** Told to every ActionOutcome when one starts floating: one copy at the foot of the screen at a time, the latest. */
const FLOATING_EVENT = 'ml-outcome-floating';

export interface ActionOutcomeProps {
  /** What was done, in a sentence; null when nothing is to be told. */
  readonly done: string | null;
  /** What went wrong, if the action failed. */
  readonly error?: unknown;
  /** The notice's test id; its copy at the foot of the screen is `<testId>-floating`. */
  readonly testId: string;
  readonly mb?: string;
}

export function ActionOutcome({ done, error = null, testId, mb }: ActionOutcomeProps): ReactNode {
  const ref = useRef<HTMLDivElement>(null);
  const me = useId();
  const [floating, setFloating] = useState(false);
  const outcome: unknown = error ?? done;
  useEffect(() => {
    setFloating(false);
    if (outcome === null || outcome === undefined) return;
    // Measured after layout: the list below may still change with the action's effect.
    const frame = requestAnimationFrame(() => {
      if (ref.current && !isInSight(ref.current)) setFloating(true);
    });
    return () => cancelAnimationFrame(frame);
  }, [outcome]);
  useEffect(() => {
    if (!floating) return;
    window.dispatchEvent(new CustomEvent(FLOATING_EVENT, { detail: me }));
    const timer = setTimeout(() => setFloating(false), FLOAT_MS);
    const scrolled = (): void => {
      if (ref.current && isInSight(ref.current)) setFloating(false);
    };
    const another = (e: Event): void => {
      if ((e as CustomEvent<string>).detail !== me) setFloating(false);
    };
    window.addEventListener('scroll', scrolled, { passive: true });
    window.addEventListener(FLOATING_EVENT, another);
    return () => {
      clearTimeout(timer);
      window.removeEventListener('scroll', scrolled);
      window.removeEventListener(FLOATING_EVENT, another);
    };
  }, [floating, me]);
  if (outcome === null || outcome === undefined) return null;
  // The notice, and its copy at the foot of the screen: a note (the notice above is the one
  // announced, role=alert) with a Dismiss button.
  const dismiss = (): void => setFloating(false);
  const told = (copy: boolean): ReactNode =>
    error ? (
      <ErrorAlert error={error} {...(copy ? { role: 'note' as const, onClose: dismiss } : {})} />
    ) : (
      <Alert color="green" {...(copy ? { role: 'note', withCloseButton: true, closeButtonLabel: 'Dismiss', onClose: dismiss } : { 'data-testid': testId })}>
        {done}
      </Alert>
    );
  return (
    <>
      <Box ref={ref} mb={mb}>
        {told(false)}
      </Box>
      {floating ? (
        // In a landmark of its own: every element of the page sits in one.
        <Affix position={{ bottom: 12, left: 12, right: 12 }}>
          <Box component="section" aria-label="Outcome" maw={560} mx="auto" className="ml-floating-outcome" data-testid={`${testId}-floating`}>
            {told(true)}
          </Box>
        </Affix>
      ) : null}
    </>
  );
}
