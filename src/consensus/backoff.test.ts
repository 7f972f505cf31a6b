import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { viewChangeTimeoutTicks } from './backoff.ts';
import { EngineAssertionError } from './engine.ts';

describe('viewChangeTimeoutTicks', () => {
  it('doubles per failed view up to the cap', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 9].map((d) => viewChangeTimeoutTicks(10, d, 3)),
      [10, 20, 40, 80, 80, 80],
    );
    assert.equal(viewChangeTimeoutTicks(10, -1, 3), 10, 'no failed view yet');
  });
  it('stops the node rather than overflow to a timeout that never fires', () => {
    assert.throws(() => viewChangeTimeoutTicks(2 ** 52, 4, 4), EngineAssertionError);
  });
});
