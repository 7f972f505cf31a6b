import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BMRS_ACTIONS, BMRS_STATES, BMRS_TABLE, bmrsDrive, bmrsStep, type BmrsAction, type BmrsState } from './bmrs.ts';

// The table as written in docs/decisions/0901-bmrs-state-machine.md, typed out again by hand so a
// change to either side fails here.
const EXPECTED: Array<[BmrsState, BmrsAction, BmrsState, string]> = [
  [0, 'Authentication', 1, 'authentication is successful'],
  [0, 'NoAction', 0, 'no action required'],
  [0, 'Permission', 0, 'error and abort'],
  [0, 'Violation', 0, 'error and abort'],
  [1, 'Authentication', 1, 'authentication is successful'],
  [1, 'NoAction', 0, 'no action required'],
  [1, 'Permission', 2, 'permission granted'],
  [1, 'Violation', 2, 'error and abort'],
  [2, 'Authentication', 2, 'error and abort'],
  [2, 'NoAction', 2, 'no action required'],
  [2, 'Permission', 1, 'take permission'],
  [2, 'Violation', 3, 'error and abort'],
  [3, 'Authentication', 3, 'error and abort'],
  [3, 'NoAction', 3, 'error and abort'],
  [3, 'Permission', 3, 'error and abort'],
  [3, 'Violation', 3, 'error and abort'],
];

describe('BMRS state machine (paper 004, Algorithm 1)', () => {
  it('the table is total: every state × action has exactly one transition', () => {
    assert.equal(EXPECTED.length, BMRS_STATES.length * BMRS_ACTIONS.length);
    for (const s of BMRS_STATES) for (const a of BMRS_ACTIONS) assert.ok(BMRS_TABLE[s][a], `${s} ${a}`);
  });

  for (const [from, action, to, message] of EXPECTED) {
    it(`state ${from} --${action}--> ${to} (${message})`, () => {
      const tr = bmrsStep(from, action);
      assert.equal(tr.to, to);
      assert.equal(tr.message, message);
      assert.equal(tr.ok, message !== 'error and abort');
    });
  }

  it('the dead state absorbs every action; nothing but state 2 + Violation enters it', () => {
    for (const a of BMRS_ACTIONS) assert.equal(bmrsStep(3, a).to, 3);
    const entries = EXPECTED.filter(([from, , to]) => to === 3 && from !== 3);
    assert.deepEqual(entries.map(([f, a]) => `${f}:${a}`), ['2:Violation']);
  });

  it('drives an access: authenticate then permission, later no action', () => {
    const first = bmrsDrive(0, true);
    assert.deepEqual(first.steps.map((s) => `${s.from}-${s.action}->${s.to}`), ['0-Authentication->1', '1-Permission->2']);
    const again = bmrsDrive(first.to, true);
    assert.deepEqual(again.steps.map((s) => s.action), ['NoAction']);
    assert.equal(again.to, 2);
  });

  it('violations walk toward the dead state: 0 → 1 → 2, then 2 → 3', () => {
    const v1 = bmrsDrive(0, false);
    assert.deepEqual(v1.steps.map((s) => `${s.from}-${s.action}->${s.to}`), ['0-Authentication->1', '1-Violation->2']);
    const v2 = bmrsDrive(v1.to, false);
    assert.equal(v2.to, 3);
    // An allowed access after death is still refused by the machine (logged as Permission at 3).
    const dead = bmrsDrive(3, true);
    assert.deepEqual(dead.steps.map((s) => `${s.from}-${s.action}->${s.to}:${s.message}`), ['3-Permission->3:error and abort']);
  });

  it('after a permitted access a single violation kills the session', () => {
    assert.equal(bmrsDrive(bmrsDrive(0, true).to, false).to, 3);
  });
});
