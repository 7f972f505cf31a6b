// A Byzantine node that alone holds a lock must not stop every later view change (decision 1394).
//
// The attack: the view-0 leader gathers a quorum of phase-1 votes, locks the block on its own and
// never sends the PREPARE, so no correct node locks. In every view change after that it reports
// its lock (a valid certificate: the signatures are the correct nodes') but without the block's
// body, which is not signed and so can be withheld. Its vote carries the highest lock, so before
// 1394 each new leader took it first and waited for a body nobody else had: no view ever started.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../../codec/index.ts';
import { Cluster } from './cluster.testkit.ts';

function keysDecided(c: Cluster, name: string): string[] {
  return c.instance(name).decided.flatMap((b) => b.proposals.map((x) => `${x.clientId}#${x.seq}`));
}

/** n0 withholds its PREPAREs and strips the body of any lock it reports in a view change. */
function withholdLock(c: Cluster): { reportedLocks: number } {
  const seen = { reportedLocks: 0 };
  c.interceptor = (env) => {
    if (env.from !== 'n0') return true;
    const m = env.message;
    if (m.type === 'ehbft/prepare') return false;
    if (m.type === 'ehbft/view-change' && m.vc.lock !== null) {
      seen.reportedLocks += 1;
      return [{ ...env, message: { ...m, lockBody: null } }];
    }
    return true;
  };
  return seen;
}

describe('ehbft: a lock reported without its body', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: the correct nodes leave the withholder's vote out and decide (4 nodes, n0 Byzantine)`, () => {
      const c = new Cluster({ nodes: 4, seed });
      assert.equal(c.engine('n1').leaderOf(0), 'n0', 'n0 leads view 0');
      const seen = withholdLock(c);
      c.propose('n0', { clientId: 'alice', seq: 1, data: utf8('allergy: penicillin') });
      c.propose('n1', { clientId: 'bob', seq: 1, data: utf8('blood type: O+') });
      c.run(300);
      assert.ok(seen.reportedLocks > 0, 'n0 reported a lock without its body');
      for (const name of ['n1', 'n2', 'n3']) {
        assert.ok(c.instance(name).decided.length >= 1, `${name} decided`);
        assert.ok(keysDecided(c, name).includes('bob#1'), `${name} decided bob#1: ${keysDecided(c, name).join(',')}`);
      }
      assert.deepEqual(c.conflicts(['n1', 'n2', 'n3']), []);
      // Nothing the correct nodes decided differs from what n0 locked at height 1 unless its lock was
      // never decided: a correct node's decided chain is the one chain.
      assert.deepEqual(keysDecided(c, 'n1'), keysDecided(c, 'n2'));
    });
  }
});
