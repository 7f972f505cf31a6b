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
  const dismiss = (): void => setFloating(false);
  return (
    <>
      <Box ref={ref} mb={mb}>
        {error ? (
          <ErrorAlert error={error} />
        ) : (
          <Alert color="green" data-testid={testId}>
            {done}
          </Alert>
        )}
      </Box>
      {floating ? (
        // A copy for the eye: the notice above is the one announced (role=alert), so this one is a
        // note, in a landmark of its own at the foot of the screen.
        <Affix position={{ bottom: 12, left: 12, right: 12 }}>
          <Box component="section" aria-label="Outcome" maw={560} mx="auto" className="ml-floating-outcome" data-testid={`${testId}-floating`}>
            {error ? (
              <ErrorAlert error={error} role="note" onClose={dismiss} />
            ) : (
              <Alert color="green" role="note" withCloseButton closeButtonLabel="Dismiss" onClose={dismiss}>
                {done}
              </Alert>
            )}
          </Box>
        </Affix>
      ) : null}
    </>
  );
}
