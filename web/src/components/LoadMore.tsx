// The button under a list read from the ledger a page at a time (app/ledger-pages.ts): it loads
// the next entries and turns the table to the first of them, so what was asked for is in sight;
// under a list that is still empty it says that more remain to be read (decision 1213).
import { Button, Group, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import type { LedgerPages } from '../app/ledger-pages.ts';
import type { Paged } from './Paged.tsx';

export function LoadMore<T, R = T>({
  pages,
  paged,
  label,
  testId,
}: {
  pages: LedgerPages<T>;
  /** The table's rows: the entries loaded, or rows made of them (then as many or fewer). */
  paged: Paged<R>;
  label: string;
  testId: string;
}): ReactNode {
  if (!pages.more) return null;
  const load = async (): Promise<void> => {
    // Rows made of entries (several entries to a row) grow by the new rows only: count the rows.
    const before = paged.total;
    await pages.next();
    paged.setPage(Math.floor(before / paged.pageSize) + 1);
  };
  return (
    <Group mt="xs">
      {paged.total === 0 ? (
        // A filtered list (one status, what a hospital holds) may read a whole load of entries and
        // keep none: say so, or the page shows a button under nothing and the user cannot tell
        // "none" from "none yet".
        <Text size="sm" data-testid={`${testId}-none-yet`}>
          None found among the entries read so far; the ledger holds more.
        </Text>
      ) : null}
      <Button variant="default" size="sm" loading={pages.loading === 'more'} onClick={() => void load()} data-testid={testId}>
        {label}
      </Button>
    </Group>
  );
}
