// Small data hooks over the SDK: one async load with loading/error state and a reload.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Loaded<T> {
  readonly data: T | null;
  readonly error: unknown;
  readonly loading: boolean;
  reload(): void;
}

export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const run = ++latest.current;
    setLoading(true);
    load().then(
      (d) => {
        if (run !== latest.current) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (run !== latest.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Run an action with busy/error/result state (forms and buttons). */
export function useAction<A extends unknown[], R>(
  act: (...args: A) => Promise<R>,
): { run: (...args: A) => Promise<R | undefined>; busy: boolean; error: unknown; result: R | null; reset(): void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<R | null>(null);
  const run = useCallback(
    async (...args: A) => {
      setBusy(true);
      setError(null);
      try {
        const r = await act(...args);
        setResult(r);
        return r;
      } catch (e) {
        setError(e);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [act],
  );
  const reset = useCallback(() => {
    setError(null);
    setResult(null);
  }, []);
  return { run, busy, error, result, reset };
}

export const shortHex = (hex: string, n = 12): string => (hex.length > n ? `${hex.slice(0, n)}…` : hex);
export const localTime = (ms: number): string => new Date(ms).toLocaleString();

/**
 * Set the browser tab's title while this component is shown (title.ts). A parent's effect runs
 * after its children's, so only the component that knows the page — the frame or the sign-in
 * page — sets it, never a parent above it.
 */
export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = title;
  }, [title]);
}
