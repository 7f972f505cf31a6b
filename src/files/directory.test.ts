import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeDirectory } from './directory.ts';

const root = mkdtempSync(join(tmpdir(), 'medledger-mkdir-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('makeDirectory', () => {
  it('creates every missing level, with the mode asked for', () => {
    const deep = join(root, 'a', 'b', 'c');
    makeDirectory(deep, { mode: 0o700 });
    assert.ok(statSync(deep).isDirectory());
    for (const d of [join(root, 'a'), join(root, 'a', 'b'), deep]) assert.equal(statSync(d).mode & 0o777, 0o700 & ~process.umask());
  });

  it('leaves an existing directory as it is', () => {
    const dir = join(root, 'exists');
    makeDirectory(dir);
    writeFileSync(join(dir, 'kept'), 'x');
    makeDirectory(dir);
    assert.ok(existsSync(join(dir, 'kept')));
  });

  it('refuses a file in the way, naming it (ENOTDIR)', () => {
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    assert.throws(() => makeDirectory(file), { code: 'ENOTDIR', message: new RegExp(`'${file}'`) });
    assert.throws(() => makeDirectory(join(file, 'below', 'deeper')), { code: 'ENOTDIR', message: new RegExp(`'${file}'`) });
  });

  it('returns an error under /proc instead of looping (Node 20 recursive mkdir never returns there)', { skip: process.platform !== 'linux' }, () => {
    assert.throws(() => makeDirectory('/proc/medledger-nowhere/below'), { code: 'ENOENT' });
  });

  it('accepts a relative path', () => {
    const before = process.cwd();
    process.chdir(root);
    try {
      makeDirectory(join('rel', 'x'));
    } finally {
      process.chdir(before);
    }
    assert.ok(statSync(join(root, 'rel', 'x')).isDirectory());
  });
});
