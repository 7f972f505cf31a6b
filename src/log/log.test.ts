import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from 'pino';
import { RateLimitedLog } from './log.ts';

describe('RateLimitedLog', () => {
  it('keeps at most N lines per key and window, then says how many it suppressed', () => {
    const lines: Array<{ detail: Record<string, unknown>; message: string }> = [];
    const sink = { warn: (detail: Record<string, unknown>, message: string) => lines.push({ detail, message }) } as unknown as Logger;
    let nowMs = 0;
    const log = new RateLimitedLog(sink, 2, 1000, () => nowMs);
    for (let i = 0; i < 5; i++) log.write('warn', 'peer-down', { peer: 'a', i }, 'peer down');
    log.write('warn', 'other', { i: 9 }, 'another kind');
    assert.deepEqual(
      lines.map((l) => l.detail['i']),
      [0, 1, 9],
    );
    nowMs = 1000;
    log.write('warn', 'peer-down', { peer: 'a', i: 5 }, 'peer down');
    assert.deepEqual(lines.at(-1), { detail: { peer: 'a', i: 5, suppressedBefore: 3 }, message: 'peer down' });
  });
});
