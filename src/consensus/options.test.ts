// Every engine's options fail the same way: the engine, the option, the rule and the value given.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { EngineOptionsError, fraction, intIn, parseEngineOptions } from './options.ts';
import { parseEhbftOptions } from './ehbft/options.ts';
import { parseGpbftOptions } from './gpbft/options.ts';
import { parseHashgenOptions } from './hashgen/options.ts';
import { parsePbftOptions } from './pbft/options.ts';
import { parseRaftOptions } from './raft/options.ts';

const schema = z.strictObject({ ticks: intIn(1, 10).default(5), share: fraction().default(0.5), mode: z.enum(['a', 'b']).default('a') });

describe('parseEngineOptions', () => {
  it('fills defaults and keeps valid values', () => {
    assert.deepEqual(parseEngineOptions('x', schema, undefined), { ticks: 5, share: 0.5, mode: 'a' });
    assert.deepEqual(parseEngineOptions('x', schema, { ticks: 10, mode: 'b' }), { ticks: 10, share: 0.5, mode: 'b' });
  });

  const cases: Array<[unknown, string]> = [
    [{ tick: 1 }, 'unknown x option "tick" (known: ticks, share, mode)'],
    [{ ticks: 11 }, 'x option ticks must be at most 10, got 11'],
    [{ ticks: 0 }, 'x option ticks must be at least 1, got 0'],
    [{ ticks: 1.5 }, 'x option ticks must be an integer, got 1.5'],
    [{ ticks: '3' }, 'x option ticks must be a number, got "3"'],
    [{ share: 2 }, 'x option share must be at most 1, got 2'],
    [{ mode: 'c' }, 'x option mode must be one of a|b, got "c"'],
    [[1], 'x options must be an object, got [1]'],
  ];
  for (const [raw, message] of cases) {
    it(`refuses ${JSON.stringify(raw)}`, () => {
      assert.throws(
        () => parseEngineOptions('x', schema, raw),
        (e: Error) => e instanceof EngineOptionsError && e.message === message,
      );
    });
  }

  it('states cross-option rules through the check', () => {
    assert.throws(
      () => parseEngineOptions('x', schema, { ticks: 2 }, (o) => (o.ticks > 3 ? null : 'ticks must exceed 3')),
      /^EngineOptionsError: x option ticks must exceed 3$/,
    );
  });

  it('is the one style of every engine', () => {
    const parsers: Array<[string, () => unknown]> = [
      ['raft', () => parseRaftOptions({ bogus: 1 })],
      ['pbft', () => parsePbftOptions({ bogus: 1 })],
      ['gpbft', () => parseGpbftOptions({ bogus: 1 })],
      ['ehbft', () => parseEhbftOptions({ bogus: 1 })],
      ['hashgen', () => parseHashgenOptions({ bogus: 1 }, ['n1'])],
    ];
    for (const [engine, parse] of parsers) {
      assert.throws(parse, (e: Error) => e instanceof EngineOptionsError && e.message.startsWith(`unknown ${engine} option "bogus" (known: `), engine);
    }
  });

  it('names the retransmission period retransmitTicks in every engine that has one, and nothing else (decision 1404)', () => {
    assert.equal(parsePbftOptions({ retransmitTicks: 3 }).retransmitTicks, 3);
    assert.equal(parseEhbftOptions({ retransmitTicks: 3 }).retransmitTicks, 3);
    assert.equal(parseHashgenOptions({ retransmitTicks: 3 }, ['n1']).retransmitTicks, 3);
    assert.throws(() => parsePbftOptions({ statusIntervalTicks: 3 }), /unknown pbft option "statusIntervalTicks"/);
    assert.throws(() => parseHashgenOptions({ resendTicks: 3 }, ['n1']), /unknown hashgen option "resendTicks"/);
  });
});
