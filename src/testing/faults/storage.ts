// Storage faults for one node process of the fault suite, loaded with `node --import` before the
// node starts (test runs only: nothing in the product reads this). MEDLEDGER_FAULT_STORAGE is
// `<kind>:<target>:<n>`:
//   fsync-fail:<target>:<n>  the n-th fsync or fdatasync of a <target> file fails with EIO (a dying disk);
//   torn-write:<target>:<n>  the n-th write to a <target> file writes half its bytes, then the
//                            process is killed (power lost mid-write);
// <target> is `wal` (the consensus write-ahead log), `blocks` (any block store's segments), or
// `orderer-blocks` / `peer-blocks` (only the orderer's, only the ledger's: which one a `blocks`
// count lands on depends on timing, and each has its own failure path).
// It replaces node:fs's writeSync/fsyncSync/fdatasyncSync/openSync/closeSync and re-syncs the ESM named exports
// (module.syncBuiltinESMExports), so the product's own `import { fsyncSync } from 'node:fs'` calls
// go through here unchanged.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const spec = process.env.MEDLEDGER_FAULT_STORAGE ?? '';
const m = /^(fsync-fail|torn-write):(wal|blocks|orderer-blocks|peer-blocks):(\d+)$/.exec(spec);
if (spec !== '' && !m) throw new Error(`MEDLEDGER_FAULT_STORAGE: expected <fsync-fail|torn-write>:<wal|blocks|orderer-blocks|peer-blocks>:<n>, got ${spec}`);
if (m) {
  const [, kind, target, nth] = m;
  const segment = /blocks-\d+\.bin$/;
  const inOrderer = /[/\\]orderer[/\\]blocks[/\\]/;
  const matches = (path: string): boolean => {
    if (target === 'wal') return /wal\.log$/.test(path);
    if (!segment.test(path)) return false;
    if (target === 'orderer-blocks') return inOrderer.test(path);
    if (target === 'peer-blocks') return !inOrderer.test(path);
    return true;
  };
  const paths = new Map<number, string>();
  let count = 0;
  const real = { openSync: fs.openSync, closeSync: fs.closeSync, writeSync: fs.writeSync, fsyncSync: fs.fsyncSync, fdatasyncSync: fs.fdatasyncSync };
  fs.openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    const fd = (real.openSync as (...a: unknown[]) => number)(path, ...rest);
    paths.set(fd, String(path));
    return fd;
  }) as typeof fs.openSync;
  fs.closeSync = ((fd: number) => {
    paths.delete(fd);
    real.closeSync(fd);
  }) as typeof fs.closeSync;
  const hit = (fd: number): boolean => matches(paths.get(fd) ?? '') && ++count === Number(nth);
  if (kind === 'fsync-fail') {
    // fsync and fdatasync count alike: the WAL fdatasyncs its records (decision 1388).
    const failing = (name: 'fsync' | 'fdatasync', sync: (fd: number) => void) =>
      ((fd: number) => {
        if (hit(fd)) {
          const err = new Error(`EIO: i/o error, ${name} (injected by the fault suite on ${paths.get(fd)})`) as NodeJS.ErrnoException;
          err.code = 'EIO';
          throw err;
        }
        sync(fd);
      }) as typeof fs.fsyncSync;
    fs.fsyncSync = failing('fsync', real.fsyncSync);
    fs.fdatasyncSync = failing('fdatasync', real.fdatasyncSync);
  } else {
    fs.writeSync = ((fd: number, buffer: NodeJS.ArrayBufferView, ...rest: unknown[]) => {
      if (typeof buffer !== 'string' && hit(fd)) {
        const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
        const offset = typeof rest[0] === 'number' ? rest[0] : 0;
        const length = typeof rest[1] === 'number' ? rest[1] : bytes.byteLength - offset;
        const position = typeof rest[2] === 'number' ? rest[2] : null;
        real.writeSync(fd, bytes, offset, Math.max(1, Math.floor(length / 2)), position);
        process.kill(process.pid, 'SIGKILL');
      }
      return (real.writeSync as (...a: unknown[]) => number)(fd, buffer, ...rest);
    }) as typeof fs.writeSync;
  }
  syncBuiltinESMExports();
}
export {};
