// A node's id (node.Hospital1) in a narrow column: it may break after a dot, never inside a name
// ("node.Hospi / tal1" read as two names on a tablet).
import { Fragment, type ReactNode } from 'react';

export function NodeId({ id }: { id: string }): ReactNode {
  const parts = id.split('.');
  return (
    <span className="ml-id">
      {parts.map((part, i) => (
        <Fragment key={i}>
          {part}
          {i < parts.length - 1 ? (
            <>
              .<wbr />
            </>
          ) : null}
        </Fragment>
      ))}
    </span>
  );
}
