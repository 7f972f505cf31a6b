// Every engine drops what a member sends it malformed, whatever the field and whatever the value:
// real messages of a faulty run (elections, view changes, catch-up) with one or two fields replaced
// by another type, a boundary number, a huge array or empty bytes, stepped into a correct node.
// A node stops on an engine assertion (node/node.ts), so an assertion a peer's message can trigger
// is a remote kill switch, and any other throw is a bug the node only logs. For the BFT engines the
// mutations come from one Byzantine member and are also re-signed with its key (the engine's
// `resign` hook), so they pass signature checks and reach the protocol's logic; the correct nodes
// must still agree and decide new work afterwards. (The simulator's `mutate` changes fields by
// one in their own type; this changes them to anything DAG-CBOR can carry.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../codec/index.ts';
import { Cluster, type Envelope } from './cluster.ts';
import type { EngineMessage, NodeId } from './engine.ts';
import { SeededRng } from './rng.ts';
import { clusterConfig, ENGINE_TEST_SIZES } from './cluster.testkit.ts';

const MUTATIONS = 1_500;

type Path = ReadonlyArray<string | number>;

/** Every field path of a message below its type, arrays sampled (their first elements). */
function fieldPaths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (prefix.length > 7 || value instanceof Uint8Array) return out;
  if (Array.isArray(value)) value.slice(0, 4).forEach((x, i) => (out.push([...prefix, i]), fieldPaths(x, [...prefix, i], out)));
  else if (value !== null && typeof value === 'object')
    for (const [k, x] of Object.entries(value)) {
      if (prefix.length === 0 && k === 'type') continue;
      out.push([...prefix, k]);
      fieldPaths(x, [...prefix, k], out);
    }
  return out;
}

function at(value: unknown, path: Path): unknown {
  let x = value;
  for (const k of path) x = x !== null && typeof x === 'object' ? (x as Record<string | number, unknown>)[k] : undefined;
  return x;
}

function replaced(value: unknown, path: Path, by: unknown): unknown {
  if (path.length === 0) return by;
  const [k, ...rest] = path;
  const copy = (Array.isArray(value) ? [...(value as unknown[])] : { ...(value as Record<string, unknown>) }) as Record<string | number, unknown>;
  copy[k!] = replaced(copy[k!], rest, by);
  return copy;
}

/** A value DAG-CBOR can carry, often at a boundary of the old one's type, often of another type. */
function anotherValue(old: unknown, rng: SeededRng, ids: readonly NodeId[]): unknown {
  const choices: unknown[] = [
    0,
    -1,
    1,
    2 ** 31,
    Number.MAX_SAFE_INTEGER,
    1e300,
    0.5,
    '',
    'x',
    ids[rng.nextInt(ids.length)],
    new Uint8Array(0),
    new Uint8Array(32),
    [],
    [null],
    {},
    null,
    true,
  ];
  if (typeof old === 'number') choices.push(old + 1, old - 1, old + 1_000_000, -old - 1);
  if (Array.isArray(old)) choices.push([...old, ...old], old.slice(1), Array<unknown>(300).fill(old[0] ?? 0));
  if (old instanceof Uint8Array) choices.push(old.slice(1), new Uint8Array(old.length), new Uint8Array(70_000));
  return choices[rng.nextInt(choices.length)];
}

function describeMessage(m: EngineMessage): string {
  return JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? `bytes(${v.length})` : v)).slice(0, 400);
}

describe('consensus: every engine drops a malformed message from a member, whatever it holds', () => {
  // solo has no peer to send it anything.
  for (const [engine, n] of ENGINE_TEST_SIZES.filter(([e]) => e !== 'solo')) {
    it(`${engine}: ${MUTATIONS} mutated messages of a faulty run, no throw${engine === 'raft' || engine === 'hashgen' ? '' : '; the correct nodes still agree and decide'}`, () => {
      const c = new Cluster(clusterConfig(engine, n));
      const ids = c.ids;
      const identities = c.config.identities;
      let seq = 0;
      const propose = (at: NodeId): void => void c.propose(at, { clientId: 'c', seq: ++seq, data: utf8(`tx ${seq}`) });
      // A run with a crash and a restart, for a corpus with elections, view changes and catch-up.
      c.tick(30);
      for (let i = 0; i < 6; i++) propose(ids[i % n]!);
      c.tick(40);
      c.crash('n0');
      for (let i = 0; i < 6; i++) propose(ids[1 + (i % (n - 1))]!);
      c.tick(150);
      c.restart('n0');
      c.tick(100);
      const byType = new Map<string, Envelope[]>();
      for (const e of c.sent) {
        const pool = byType.get(e.message.type);
        if (pool) pool.push(e);
        else byType.set(e.message.type, [e]);
      }
      const types = [...byType.keys()].sort();
      assert.ok(types.length >= 6, `a varied corpus: ${types.join(', ')}`);

      // The last member is Byzantine in the BFT engines: the mutations are its, re-signed with its key.
      const byzantine = ids[n - 1]!;
      // Only an engine that tolerates Byzantine members is asked to stay live under one (hashgen's
      // paper quorums have the hooks too, for the lab's fork demonstration, but a crash fault model).
      const hooks = c.definition.faultModel === 'byzantine' ? c.definition.byzantine : undefined;
      const rng = new SeededRng(2026);
      const failures: string[] = [];
      for (let i = 0; i < MUTATIONS && failures.length < 5; i++) {
        const pool = byType.get(types[rng.nextInt(types.length)]!)!;
        const original = pool[rng.nextInt(pool.length)]!;
        let m = original.message;
        for (let k = 0, edits = 1 + rng.nextInt(2); k < edits; k++) {
          const paths = fieldPaths(m);
          if (paths.length === 0) break;
          // Half the time a top-level field (view, height, sequence…: what a handler reads first).
          const top = paths.filter((q) => q.length === 1);
          const path = rng.nextInt(2) === 0 && top.length > 0 ? top[rng.nextInt(top.length)]! : paths[rng.nextInt(paths.length)]!;
          m = replaced(m, path, anotherValue(at(m, path), rng, ids)) as EngineMessage;
        }
        let from = original.from;
        if (hooks) {
          from = byzantine;
          if (rng.nextInt(2) === 0) {
            try {
              m = hooks.resign(m, identities.signerOf(byzantine));
            } catch {
              // The Byzantine node could not even re-sign this garbage: send it unsigned.
            }
          }
        }
        const victims = ids.filter((x) => x !== from);
        const victim = c.instance(victims[rng.nextInt(victims.length)]!);
        try {
          victim.engine!.step(from, m);
          c.collect(victim);
        } catch (err) {
          failures.push(`${victim.name} threw ${(err as Error).name}: ${(err as Error).message}\n  on ${describeMessage(m)} from ${from}`);
          c.crash(victim.name);
          c.restart(victim.name);
        }
        if (i % 40 === 39) {
          propose(ids[rng.nextInt(n - 1)]!);
          c.tick(1);
        }
      }
      assert.deepEqual(failures, []);
      if (!hooks) return; // crash-fault engines: a member's message is trusted once well-formed
      const correct = ids.filter((x) => x !== byzantine);
      c.propose(correct[0]!, { clientId: 'after', seq: 1, data: utf8('after the fuzz') });
      c.tick(300);
      assert.deepEqual(c.conflicts(correct), []);
      for (const id of correct) {
        const keys = c.instance(id).decided.flatMap((b) => b.proposals.map((p) => `${p.clientId}#${p.seq}`));
        assert.ok(keys.includes('after#1'), `${id} decided the proposal made after the fuzz`);
      }
    });
  }
});
