// A minimal synchronous driver for counting messages of one consensus instance at sizes the
// simulator does not run (it caps clusters at NODES_MAX = 64): every node is a real engine from
// the registry with in-memory storage and the simulator's 'fast' keyed-hash signatures; messages
// are delivered in FIFO order, all of them, with no loss and no clock. Ticks are given only when
// the cluster is quiet and the proposal is not yet decided everywhere (so timers that a protocol
// needs to cut a batch still fire); a tick budget bounds the run. Not a simulator: no faults, no
// checkers — only the counts the lab reports, from the same engine code the simulator runs.
import { encode } from '../codec/index.ts';
import { DEFAULT_CUTTER_CONFIG, type CutterConfig } from '../consensus/cutter.ts';
import type { Engine, EngineMessage, NodeId, Proposal } from '../consensus/engine.ts';
import { MemoryStorage } from '../consensus/memory-storage.ts';
import { getEngine } from '../consensus/registry.ts';
import { SeededRng } from '../consensus/rng.ts';
import { makeIdentities } from '../sim/crypto.ts';

export interface SyncRunOptions {
  readonly engine: string;
  readonly nodes: number;
  readonly seed: number;
  readonly engineOptions?: Readonly<Record<string, unknown>>;
  readonly cutter?: Partial<CutterConfig>;
  /** Index of the node the single proposal is submitted to (default 0). */
  readonly submitTo?: number;
  readonly ticksMax?: number;
  readonly deliveriesMax?: number;
}

export interface SyncRunResult {
  readonly messagesByType: Record<string, { count: number; bytes: number }>;
  /** Nodes that decided the proposal. */
  readonly decidedNodes: number;
  readonly ticks: number;
}

export const SYNC_NODES_MAX = 1024;

export function runOneInstance(o: SyncRunOptions): SyncRunResult {
  if (!Number.isSafeInteger(o.nodes) || o.nodes < 1 || o.nodes > SYNC_NODES_MAX) throw new RangeError(`nodes must be 1..${SYNC_NODES_MAX}`);
  const def = getEngine(o.engine);
  const ids: NodeId[] = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const rng = new SeededRng(o.seed);
  const identities = makeIdentities('fast', ids, rng);
  const cutter: CutterConfig = { ...DEFAULT_CUTTER_CONFIG, ...o.cutter };
  const engines = new Map<NodeId, Engine<EngineMessage>>();
  const storages = new Map<NodeId, MemoryStorage>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    storages.set(id, storage);
    engines.set(
      id,
      def.create({
        id,
        members: ids,
        rng: rng.fork(),
        storage,
        signer: identities.signerOf(id),
        verifier: identities.verifier,
        cutter,
        ...(o.engineOptions ? { options: o.engineOptions } : {}),
      }),
    );
  }
  const counts: Record<string, { count: number; bytes: number }> = {};
  const queue: Array<{ from: NodeId; to: NodeId; message: EngineMessage }> = [];
  const decided = new Set<NodeId>();
  const drain = (): void => {
    for (const [id, e] of engines) {
      while (e.hasReady()) {
        const rd = e.ready();
        storages.get(id)!.apply(rd.persist);
        for (const m of rd.messages) {
          const c = (counts[m.message.type] ??= { count: 0, bytes: 0 });
          c.count += 1;
          c.bytes += encode(m.message).byteLength;
          queue.push({ from: id, to: m.to, message: m.message });
        }
        if (rd.decided.some((b) => b.proposals.length > 0)) decided.add(id);
        e.advance(rd);
      }
    }
  };
  const proposal: Proposal = { clientId: 'lab-client', seq: 1, data: new TextEncoder().encode('one consensus instance') };
  const target = engines.get(ids[o.submitTo ?? 0] ?? ids[0]!)!;
  const res = target.propose(proposal);
  if (!res.accepted) throw new Error(`${o.engine} refused the lab proposal: ${res.reason}`);
  drain();
  const deliveriesMax = o.deliveriesMax ?? 5_000_000;
  const ticksMax = o.ticksMax ?? 50;
  let deliveries = 0;
  let ticks = 0;
  while (decided.size < ids.length) {
    while (queue.length > 0) {
      const m = queue.shift()!;
      if (++deliveries > deliveriesMax) throw new Error(`more than ${deliveriesMax} deliveries for one instance`);
      engines.get(m.to)?.step(m.from, m.message);
      drain();
    }
    // Quiet: the drivers' short hold of notices (Ready.noticesHeld, decision 1405) runs out.
    for (const e of engines.values()) e.flushNotices?.();
    drain();
    if (queue.length > 0) continue;
    if (decided.size >= ids.length) break;
    if (++ticks > ticksMax) break;
    for (const e of engines.values()) e.tick();
    drain();
  }
  // Deliver what is still in flight (late commits…): their replies count too, no more ticks.
  while (queue.length > 0 && deliveries++ <= deliveriesMax) {
    const m = queue.shift()!;
    engines.get(m.to)?.step(m.from, m.message);
    drain();
  }
  return { messagesByType: counts, decidedNodes: decided.size, ticks };
}
