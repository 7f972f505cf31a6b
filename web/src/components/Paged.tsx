// Every list in the console pages: a slice of the items and the control to move between slices.
// One helper so all pages behave alike (page size, reset to page 1 when the list changes, the
// "n–m of total" line screen readers announce).
import { Group, Pagination, Text } from '@mantine/core';
import { useEffect, useState, type ReactNode } from 'react';

export const DEFAULT_PAGE_SIZE = 10;

export interface Paged<T> {
  readonly items: readonly T[];
  readonly page: number;
  readonly pages: number;
  readonly total: number;
  /** Rows per page. */
  readonly pageSize: number;
  setPage(page: number): void;
}

export function usePaged<T>(all: readonly T[], pageSize = DEFAULT_PAGE_SIZE): Paged<T> {
  const [page, setPage] = useState(1);
  const pages = Math.max(1, Math.ceil(all.length / pageSize));
  // A list that shrank (a revoked consent, a new filter) must not leave the user on an empty page.
  useEffect(() => {
    if (page > pages) setPage(pages);
  }, [page, pages]);
  const current = Math.min(page, pages);
  return { items: all.slice((current - 1) * pageSize, current * pageSize), page: current, pages, total: all.length, pageSize, setPage };
}

export function PageControl<T>({ paged, label }: { paged: Paged<T>; label: string }): ReactNode {
  if (paged.total === 0) return null;
  const { pageSize } = paged;
  const first = (paged.page - 1) * pageSize + 1;
  const last = Math.min(paged.total, paged.page * pageSize);
  return (
    <Group justify="space-between" mt="xs">
      <Text size="sm" c="dimmed" aria-live="polite">
        {first}–{last} of {paged.total} {label}
      </Text>
      {paged.pages > 1 ? (
        <Pagination
          total={paged.pages}
          value={paged.page}
          onChange={paged.setPage}
          size="sm"
          aria-label={`Pages of ${label}`}
          getControlProps={(control) => ({ 'aria-label': `${control} page of ${label}` })}
          getItemProps={(page) => ({ 'aria-label': `${label}, page ${page}` })}
        />
      ) : null}
    </Group>
  );
}
