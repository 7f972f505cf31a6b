// A temporary directory for a test that goes when the test process ends — and stays when the
// process ends in failure, as evidence. For tests that still read a directory after what wrote
// it stopped (a network's ledgers verified after stop()), or that create many small ones.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs = new Set<string>();

export function tempDirRemovedAtExit(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (dirs.size === 0)
    process.once('exit', (code) => {
      if (code !== 0) return;
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
  dirs.add(dir);
  return dir;
}
