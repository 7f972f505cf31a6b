// The console's lists: a table with one heading row, in a region keyboard users can scroll
// (TableScroll, as WCAG asks of scrollable areas). Too wide for its region, a list shows each row
// as a card of "heading: value" lines; a table of figures compared across rows (`stack={false}`)
// scrolls instead. The caller renders the rows (each its own <Table.Tr>), so a list keeps its own
// cells, keys and test ids; the other props (striped, highlightOnHover, data-testid …) go to
// Mantine's Table.
import { Table, type TableProps } from '@mantine/core';
import type { ReactNode } from 'react';
import { TableScroll } from './TableScroll.tsx';

export interface DataTableProps extends Omit<TableProps, 'children' | 'caption'> {
  /** Names the scrollable region for assistive technology. */
  readonly label: string;
  /** The column headings, in order ('' for a column of buttons). */
  readonly headings: readonly string[];
  /** A visible caption above the table. */
  readonly caption?: string;
  /** Rows as cards when the table is too wide for its region (default); false: the table scrolls. */
  readonly stack?: boolean;
  /**
   * Columns (by index) a phone does without, hidden below 576 px — for a list whose detail shows
   * them anyway, so that it stays a compact table there instead of a long column of cards. Give
   * each such column's cells the class `ml-wide-only` too.
   */
  readonly wideOnly?: readonly number[];
  readonly children: ReactNode;
}

export function DataTable({ label, headings, caption, stack = true, wideOnly = [], children, ...tableProps }: DataTableProps): ReactNode {
  return (
    <TableScroll label={label} stack={stack}>
      <Table {...(caption === undefined ? {} : { captionSide: 'top' as const })} {...tableProps}>
        {caption === undefined ? null : <Table.Caption>{caption}</Table.Caption>}
        <Table.Thead>
          <Table.Tr>
            {headings.map((h, i) => (
              <Table.Th key={i} {...(wideOnly.includes(i) ? { className: 'ml-wide-only' } : {})}>
                {h}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>{children}</Table.Tbody>
      </Table>
    </TableScroll>
  );
}
