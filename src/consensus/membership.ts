// Member-list helpers shared by engines whose orderer set changes at runtime (issue 12 item 4):
// the driver names a target (the orderer set of the config in force, Engine.reconfigure) and the
// engine moves toward it one member at a time, each step agreed through its own protocol.
// PBFT (decision 1270), EH-BFT (1290) and hashgen (1295) use these; gpbft has its own node-update rules (1280).
import type { NodeId } from './engine.ts';

/** Bound on a member list (decoding of an entry, a certificate field or a target). */
export const MEMBER_LIST_MAX = 1024;
/** Bound on one node id in a member list. */
export const MEMBER_ID_CHARS_MAX = 256;

/** A valid member list: distinct non-empty ids within bounds; null otherwise. */
export function parseMemberList(x: unknown): NodeId[] | null {
  if (!Array.isArray(x) || x.length === 0 || x.length > MEMBER_LIST_MAX) return null;
  const out: NodeId[] = [];
  for (const m of x) {
    if (typeof m !== 'string' || m.length === 0 || m.length > MEMBER_ID_CHARS_MAX) return null;
    out.push(m);
  }
  return new Set(out).size === out.length ? out : null;
}

export function sameMemberList(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((m, i) => m === b[i]);
}

export function sameMemberSet(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  const s = new Set(a);
  return a.length === b.length && b.every((m) => s.has(m));
}

/**
 * One member at a time toward `target`: first add the first target member missing (appended, so
 * every node computes the same order), else remove the first member not in target that is not
 * in `keep` (members the engine cannot lose, e.g. a faithful CAMS). Adding first keeps the fault
 * tolerance of a replacement. Null when there is no step left to take.
 */
export function nextMemberStep(current: readonly NodeId[], target: readonly NodeId[], keep: ReadonlySet<NodeId> = new Set()): NodeId[] | null {
  const cur = new Set(current);
  const add = target.find((m) => !cur.has(m));
  if (add !== undefined) return [...current, add];
  const tgt = new Set(target);
  const remove = current.find((m) => !tgt.has(m) && !keep.has(m));
  if (remove !== undefined && current.length > 1) return current.filter((m) => m !== remove);
  return null;
}

/**
 * What `next` changes from `current` when it is a single step as nextMemberStep makes them (one
 * member appended, or one removed with the order kept); null otherwise.
 */
export function singleStep(current: readonly NodeId[], next: readonly NodeId[]): { readonly added: NodeId } | { readonly removed: NodeId } | null {
  if (next.length === current.length + 1 && sameMemberList(current, next.slice(0, -1))) {
    const added = next[next.length - 1]!;
    return current.includes(added) ? null : { added };
  }
  if (next.length + 1 === current.length && next.length > 0) {
    const removed = current.find((m) => !next.includes(m));
    if (
      removed === undefined ||
      !sameMemberList(
        current.filter((m) => m !== removed),
        next,
      )
    )
      return null;
    return { removed };
  }
  return null;
}
