// A list read from the node a page at a time (an audit trail, a patient's notifications, a list
// of records, a hospital's identities): the first page at once, the next on demand (decision 0907). Loading a whole list
// before showing it capped it silently — a hospital's trail after a few weeks holds more events
// than any load could fetch, and the latest, read last, were the ones cut off.
import { useCallback, useEffect, useRef, useState, type DependencyList } from 'react';

/** One answer of the contract: its entries and where the next page starts ('' at the end). */
export interface LedgerPage<T> {
  readonly items: readonly T[];
  readonly bookmark: string;
}

export type FetchPage<T> = (bookmark: string) => Promise<LedgerPage<T>>;

/**
 * Calls made for one load at most. A filtered list (a hospital's view of a patient) may answer
 * short or empty pages while more follow; the load stops here and offers the rest on demand.
 */
export const CALLS_PER_LOAD_MAX = 20;

export interface LedgerPages<T> {
  /** Everything loaded so far, in the list's order; null before the first load ends. */
  readonly items: readonly T[] | null;
  /** The ledger holds more entries beyond those loaded. */
  readonly more: boolean;
  /** What is being loaded: a new list (`start`) or the next entries of this one (`next`). */
  readonly loading: 'list' | 'more' | null;
  readonly error: unknown;
  /**
   * Loads a new list from its first page, `wanted` entries per load (a later call makes an earlier
   * one's answers void).
   */
  start(fetch: FetchPage<T>, wanted: number): Promise<void>;
  /** Loads the next entries of the current list, as many as `start` asked for. */
  next(): Promise<void>;
}

export function useLedgerPages<T>(): LedgerPages<T> {
  const [items, setItems] = useState<readonly T[] | null>(null);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState<'list' | 'more' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const list = useRef<{ fetch: FetchPage<T>; wanted: number; bookmark: string; generation: number } | null>(null);
  const generation = useRef(0);

  const load = useCallback(async (fresh: boolean): Promise<void> => {
    const current = list.current;
    if (current === null) return;
    setLoading(fresh ? 'list' : 'more');
    setError(null);
    const got: T[] = [];
    let bookmark = current.bookmark;
    try {
      for (let call = 0; call < CALLS_PER_LOAD_MAX; call++) {
        const page = await current.fetch(bookmark);
        if (current.generation !== generation.current) return;
        got.push(...page.items);
        bookmark = page.bookmark;
        if (bookmark === '' || got.length >= current.wanted) break;
      }
      current.bookmark = bookmark;
      setItems((before) => (fresh || before === null ? got : [...before, ...got]));
      setMore(bookmark !== '');
    } catch (err) {
      if (current.generation !== generation.current) return;
      if (fresh) setItems(null);
      setError(err);
    } finally {
      if (current.generation === generation.current) setLoading(null);
    }
  }, []);

  const start = useCallback(
    (fetch: FetchPage<T>, wanted: number): Promise<void> => {
      list.current = { fetch, wanted, bookmark: '', generation: ++generation.current };
      return load(true);
    },
    [load],
  );
  const next = useCallback((): Promise<void> => (list.current?.bookmark ? load(false) : Promise.resolve()), [load]);
  return { items, more, loading, error, start, next };
}

/**
 * A list loaded from its first page whenever `deps` change (the page's subject, a reload tick);
 * `fetch` reads what `deps` name, as a `useEffect` body would.
 */
export function useLedgerList<T>(fetch: FetchPage<T>, wanted: number, deps: DependencyList): LedgerPages<T> {
  const pages = useLedgerPages<T>();
  const { start } = pages;
  useEffect(() => {
    void start(fetch, wanted);
  }, [...deps, start]); // `fetch` is new each render; `deps` say when it reads something else
  return pages;
}
