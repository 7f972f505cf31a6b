// Three Raft engines in memory, driven by hand: each pump() delivers every message until quiet
// (no ticks), so a test sees exactly which messages one input causes. Used by the commit-notice
// (decision 1370) and eager-cut (decisions 1350, 1372) tests.
import assert from 'node:assert/strict';
import { directoryVerifier, generateKeyPair, keyPairSigner } from '../../crypto/index.ts';
import type { DecidedBlock, Outbound } from '../engine.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import { RaftEngine } from './engine.ts';
import type { RaftMessage } from './messages.ts';

const key = generateKeyPair();
export const ids = ['1', '2', '3'];
export const verifier = directoryVerifier(new Map(ids.map((id) => [id, key.publicKey])));
/** The signer each node of the cluster uses (tests that craft a message as a node would). */
export const signerOf = (id: string): ReturnType<typeof keyPairSigner> => keyPairSigner(id, key);

export type Sent = { from: string } & Outbound<RaftMessage>;

export interface Cluster {
  readonly engines: Map<string, RaftEngine>;
  readonly leader: RaftEngine;
  /** Every block each node's driver was handed, in order. */
  readonly decided: Map<string, DecidedBlock[]>;
  /**
   * Deliver every message until quiet (no ticks); returns every message sent, in order. When
   * quiet, the drivers' hold of notices runs out (they are sent and delivered too), unless 'hold'.
   */
  pump(drop?: (m: Sent) => boolean, quiet?: 'flush' | 'hold'): Sent[];
  /** Let one node's driver collect and carry out its Readies; its messages wait for pump(). */
  drain(id: string): void;
}

/** A leader is elected before it returns. A long cutter timeout (50 ticks): nothing partial leaves without the eager cut. */
export function cluster(eagerCutUncommittedMax: number, eagerCutEntryProposalsMax = 0): Cluster {
  // Each engine starts from, and its driver persists into, the same storage.
  const storages = new Map(ids.map((id) => [id, new MemoryStorage()]));
  const engines = new Map(
    ids.map((id) => [
      id,
      new RaftEngine({
        id,
        members: ids,
        rng: new SeededRng(Number(id)),
        storage: storages.get(id)!,
        signer: signerOf(id),
        verifier,
        cutter: { countMax: 100, sizeBytesMax: 1024 * 1024, timeoutTicks: 50, pendingMax: 1000 },
        options: { eagerCutUncommittedMax, eagerCutEntryProposalsMax },
      }),
    ]),
  );
  let queue: Sent[] = [];
  let sent: Sent[] = [];
  let drop: (m: Sent) => boolean = () => false;
  const decided = new Map<string, DecidedBlock[]>(ids.map((id) => [id, []]));
  const drain = (id: string): void => {
    const e = engines.get(id)!;
    while (e.hasReady()) {
      const rd = e.ready();
      storages.get(id)!.apply(rd.persist);
      for (const m of rd.messages) {
        sent.push({ from: id, ...m });
        if (!drop({ from: id, ...m })) queue.push({ from: id, ...m });
      }
      decided.get(id)!.push(...rd.decided);
      e.advance(rd);
    }
  };
  const flush = (id: string): void => {
    engines.get(id)!.flushNotices();
    drain(id);
  };
  const pump = (dropIf: (m: Sent) => boolean = () => false, quiet: 'flush' | 'hold' = 'flush'): Sent[] => {
    drop = dropIf;
    for (const id of ids) drain(id);
    for (let round = 0; round < 100; round++) {
      if (queue.length === 0) {
        // Quiet: the drivers' short hold of notices (Ready.noticesHeld, decision 1405) runs out.
        if (quiet === 'hold') break;
        for (const id of ids) flush(id);
        if (queue.length === 0) break;
      }
      const batch = queue;
      queue = [];
      for (const m of batch) {
        engines.get(m.to)!.step(m.from, m.message);
        drain(m.to);
      }
    }
    const out = sent;
    sent = [];
    return out;
  };
  for (let t = 0; t < 40 && ![...engines.values()].some((e) => e.status().role === 'leader'); t++) {
    for (const e of engines.values()) e.tick();
    pump();
  }
  const leader = [...engines.values()].find((e) => e.status().role === 'leader');
  assert.ok(leader, 'a leader is elected');
  pump();
  return { engines, leader, decided, pump, drain };
}
