// Directories created along a path, one level at a time.
//
// Node's `mkdirSync(path, { recursive: true })` (and its promise form) never returns when the path
// lies under /proc: mkdir there answers ENOENT for a name whose parent exists, and Node's recursive
// walk takes that for "parent missing" and climbs back down forever (Node 20.20). A path a user
// gave (`--dir`, `--json <file>`, an output folder) may be anything, so every directory MedLedger
// creates goes through here: the first existing ancestor is found with stat, then each missing
// level is made with a plain mkdir, whose error (ENOENT, ENOTDIR, EACCES, …) is thrown as it is.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Path levels walked at most: deeper than any real file system path. */
const DEPTH_MAX = 256;

export interface MakeDirectoryOptions {
  /** Mode of each directory created (an existing one is left as it is). */
  readonly mode?: number;
}

/**
 * Make `path` a directory, creating its missing ancestors; nothing happens if it already is one.
 * Throws Node's error naming the path (code ENOTDIR if it or an ancestor is a file).
 */
export function makeDirectory(path: string, options: MakeDirectoryOptions = {}): void {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    const kind = kindOf(at);
    if (kind === 'directory') break;
    if (kind === 'other') throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${at}'`), { code: 'ENOTDIR', syscall: 'mkdir', path: at });
    missing.push(at);
    const parent = dirname(at);
    // The root always exists; a parent equal to its child means the walk reached it.
    if (parent === at || missing.length > DEPTH_MAX)
      throw Object.assign(new Error(`ENOENT: no such directory, mkdir '${path}'`), { code: 'ENOENT', syscall: 'mkdir', path });
    at = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]!, options.mode === undefined ? undefined : { mode: options.mode });
    } catch (err) {
      // Made meanwhile by another process (two nodes starting at once): fine if it is a directory.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || kindOf(missing[i]!) !== 'directory') throw err;
    }
  }
}

function kindOf(path: string): 'directory' | 'other' | 'absent' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch (err) {
    // ENOTDIR: an ancestor is a file — reported when the walk reaches it.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'absent';
    throw err;
  }
}
