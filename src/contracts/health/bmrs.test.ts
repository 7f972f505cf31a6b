import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BMRS_ACTIONS, BMRS_STATES, BMRS_TABLE, bmrsDrive, bmrsStep, bmrsTakePermission, type BmrsAction, type BmrsState } from './bmrs.ts';

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
    assert.deepEqual(
      entries.map(([f, a]) => `${f}:${a}`),
      ['2:Violation'],
    );
  });

  it('drives an access: authenticate then permission, later no action', () => {
    const first = bmrsDrive(0, 'permission');
    assert.deepEqual(
      first.steps.map((s) => `${s.from}-${s.action}->${s.to}`),
      ['0-Authentication->1', '1-Permission->2'],
    );
    const again = bmrsDrive(first.to, 'permission');
    assert.deepEqual(
      again.steps.map((s) => s.action),
      ['NoAction'],
    );
    assert.equal(again.to, 2);
  });

  it('violations walk toward the dead state: 0 → 1 → 2, then 2 → 3', () => {
    const v1 = bmrsDrive(0, 'violation');
    assert.deepEqual(
      v1.steps.map((s) => `${s.from}-${s.action}->${s.to}`),
      ['0-Authentication->1', '1-Violation->2'],
    );
    const v2 = bmrsDrive(v1.to, 'violation');
    assert.equal(v2.to, 3);
    // An allowed access after death is still refused by the machine (logged as Permission at 3).
    const dead = bmrsDrive(3, 'permission');
    assert.deepEqual(
      dead.steps.map((s) => `${s.from}-${s.action}->${s.to}:${s.message}`),
      ['3-Permission->3:error and abort'],
    );
  });

  it('after a permitted access a single violation kills the session', () => {
    assert.equal(bmrsDrive(bmrsDrive(0, 'permission').to, 'violation').to, 3);
  });

  it('an honest denial is not a step of the machine: it authenticates a new session and leaves any other where it is', () => {
    assert.deepEqual(
      bmrsDrive(0, 'denial').steps.map((s) => `${s.from}-${s.action}->${s.to}`),
      ['0-Authentication->1'],
    );
    for (const state of [1, 2] as const) {
      const run = bmrsDrive(state, 'denial');
      assert.deepEqual(run.steps, []);
      assert.equal(run.to, state);
    }
    // However many honest denials, a session that held permission keeps it.
    let s: BmrsState = bmrsDrive(0, 'permission').to;
    for (let i = 0; i < 10; i++) s = bmrsDrive(s, 'denial').to;
    assert.equal(s, 2);
    // In the dead state a denial is logged as No Action and refused like everything else.
    assert.deepEqual(
      bmrsDrive(3, 'denial').steps.map((x) => `${x.action}:${x.message}`),
      ['NoAction:error and abort'],
    );
  });

  it('a revocation takes the permission back: (2, Permission) → 1 "take permission"; nothing held, no step', () => {
    const taken = bmrsTakePermission(2);
    assert.deepEqual(
      taken.steps.map((x) => `${x.from}-${x.action}->${x.to}:${x.message}`),
      ['2-Permission->1:take permission'],
    );
    for (const state of [0, 1, 3] as const) assert.deepEqual(bmrsTakePermission(state), { from: state, to: state, steps: [] });
    // One violation after the revocation warns (1 → 2); a second kills.
    assert.equal(bmrsDrive(taken.to, 'violation').to, 2);
    assert.equal(bmrsDrive(bmrsDrive(taken.to, 'violation').to, 'violation').to, 3);
  });
});
