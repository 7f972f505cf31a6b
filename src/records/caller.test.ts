// The gateway caller's resubmission policy (submitWithResubmission): which outcomes of a
// submission are proposed again. Each attempt here is a scripted Gateway outcome — the policy is
// what is under test; the network tests exercise the real Gateway.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../codec/index.ts';
import { GatewayError } from '../node/gateway.ts';
import { CallerError, RESUBMITTABLE_CODES, submitWithResubmission, type SubmitAttempt } from './caller.ts';

function script(outcomes: ReadonlyArray<SubmitAttempt | Error>): { attempt: () => Promise<SubmitAttempt>; calls: () => number } {
  let n = 0;
  return {
    attempt: async () => {
      const o = outcomes[Math.min(n, outcomes.length - 1)]!;
      n++;
      if (o instanceof Error) throw o;
      return o;
    },
    calls: () => n,
  };
}
const outcome = (code: string, i: number): SubmitAttempt => ({ txId: `tx${i}`, code, payload: utf8(JSON.stringify({ attempt: i })) });
const noWait = (): number => 0;

describe('submitWithResubmission', () => {
  it('proposes again after a phantom read conflict (a range it read changed) and after an MVCC conflict', async () => {
    for (const code of ['PHANTOM_READ_CONFLICT', 'MVCC_READ_CONFLICT']) {
      const s = script([outcome(code, 1), outcome('VALID', 2)]);
      const r = await submitWithResubmission('access', s.attempt, noWait);
      assert.deepEqual({ txId: r.txId, payload: r.payload, calls: s.calls() }, { txId: 'tx2', payload: { attempt: 2 }, calls: 2 }, code);
    }
    assert.deepEqual([...RESUBMITTABLE_CODES].sort(), ['MVCC_READ_CONFLICT', 'PHANTOM_READ_CONFLICT']);
  });

  it('gives up after four conflicting attempts, naming the last code', async () => {
    const s = script([outcome('PHANTOM_READ_CONFLICT', 1)]);
    await assert.rejects(
      submitWithResubmission('grantConsent', s.attempt, noWait),
      (err: unknown) => err instanceof CallerError && /grantConsent was not committed \(PHANTOM_READ_CONFLICT\)/.test(err.message),
    );
    assert.equal(s.calls(), 4);
  });

  it('does not resubmit any other validation code; retries endorsement-phase refusals, rethrows others', async () => {
    const bad = script([{ ...outcome('ENDORSEMENT_POLICY_FAILURE', 1), reason: 'too few' }, outcome('VALID', 2)]);
    await assert.rejects(submitWithResubmission('access', bad.attempt, noWait), /ENDORSEMENT_POLICY_FAILURE: too few/);
    assert.equal(bad.calls(), 1);
    const stale = script([new GatewayError('ENDORSEMENT_MISMATCH', 'peers disagree'), outcome('VALID', 2)]);
    assert.equal((await submitWithResubmission('access', stale.attempt, noWait)).txId, 'tx2');
    const down = script([new GatewayError('ORDERER_REJECTED', 'no'), outcome('VALID', 2)]);
    await assert.rejects(submitWithResubmission('access', down.attempt, noWait), /no/);
    assert.equal(down.calls(), 1);
  });
});
