import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_MALLOC_ENV, nodeProcessEnv } from './supervisor.ts';

describe('node process environment (decision 1380)', () => {
  it('adds the malloc settings to what the node inherits', () => {
    const env = nodeProcessEnv({ PATH: '/usr/bin', MEDLEDGER_LOG_LEVEL: 'info' });
    assert.equal(env['MALLOC_MMAP_THRESHOLD_'], String(16 * 1024 * 1024));
    assert.equal(env['MALLOC_TRIM_THRESHOLD_'], String(128 * 1024 * 1024));
    assert.equal(env['PATH'], '/usr/bin');
    assert.equal(env['MEDLEDGER_LOG_LEVEL'], 'info');
  });

  it('lets an operator’s own settings and the caller’s extras win', () => {
    const env = nodeProcessEnv({ MALLOC_MMAP_THRESHOLD_: '131072' }, { MALLOC_TRIM_THRESHOLD_: '0', EXTRA: '1' });
    assert.equal(env['MALLOC_MMAP_THRESHOLD_'], '131072');
    assert.equal(env['MALLOC_TRIM_THRESHOLD_'], '0');
    assert.equal(env['EXTRA'], '1');
  });

  it('names only glibc malloc tunables (nothing that changes what a node does)', () => {
    for (const name of Object.keys(NODE_MALLOC_ENV)) assert.match(name, /^MALLOC_[A-Z_]+_$/);
  });
});
