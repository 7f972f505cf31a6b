// Every engine is created the same way, by name, from an EngineContext. The simulator, the lab
// and the node runtime look engines up here; each engine module adds one entry.
import type { CutterConfig } from './cutter.ts';
import type { ByzantineSupport, DecidedArchive, DecidedBlock, DurableState, Engine, EngineMessage, NodeId, Proposal, Rng } from './engine.ts';
import type { Signer, SignatureVerifier } from '../crypto/index.ts';

export interface EngineContext {
  readonly id: NodeId;
  /** The initial membership (all orderer nodes), in a fixed order every node agrees on. */
  readonly members: readonly NodeId[];
  readonly rng: Rng;
  /** What this node persisted before (empty on first boot). */
  readonly storage: DurableState;
  readonly signer: Signer;
  readonly verifier: SignatureVerifier;
  readonly cutter: CutterConfig;
  /**
   * On a restart: the height the application (block store) had durably applied. An engine that
   * still holds decided blocks above it re-emits them in its first Ready, so a crash between
   * "engine persisted the decision" and "block store appended it" loses nothing.
   * Undefined means the application has everything the engine decided.
   */
  readonly appliedHeight?: number;
  /**
   * The application's decided blocks (the node's chain): engines that serve catch-up from blocks
   * they retain (EH-BFT, gpbft, hashgen) answer from here once a block left their retention, so a
   * node can replay a chain longer than that. Absent: catch-up is limited to retained blocks.
   */
  readonly archive?: DecidedArchive;
  /**
   * Engine-specific options (validated by the engine; unknown keys are an error). E.g. raft
   * {electionTicks, heartbeatTicks}, pbft {checkpointInterval}, gpbft {coordinates, ratings}.
   */
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface EngineDefinition<M extends EngineMessage = EngineMessage> {
  readonly name: string;
  /** Crash-fault tolerant ('crash') or Byzantine-fault tolerant ('byzantine'). */
  readonly faultModel: 'crash' | 'byzantine';
  /** Smallest cluster the engine supports. */
  readonly nodesMin: number;
  /** Max faulty nodes tolerated for n nodes. */
  faultsTolerated(nodes: number): number;
  create(ctx: EngineContext): Engine<M>;
  readonly byzantine?: ByzantineSupport<M>;
  /**
   * Optional: check a decided block's certificate (the simulator calls it on every decided block
   * of a correct node; the ledger may too). `members` is the initial membership, `verifier` knows
   * every member's key. Returns true when the certificate proves the block was decided.
   */
  verifyCertificate?(block: DecidedBlock, members: readonly NodeId[], verifier: SignatureVerifier): boolean;
  /**
   * Optional, for engines that order membership steps of their own in blocks (gpbft's node
   * update, decision 1280): the step a decided proposal is ('join' or 'remove' of `id`), or null
   * when it is a client's proposal. The simulator checks such entries against the member sets
   * the run asked for instead of against the clients' submissions.
   */
  membershipStep?(proposal: Proposal): { readonly op: 'join' | 'remove'; readonly id: NodeId } | null;
}

const registry = new Map<string, EngineDefinition>();

export function registerEngine<M extends EngineMessage>(def: EngineDefinition<M>): void {
  if (registry.has(def.name)) throw new Error(`engine "${def.name}" registered twice`);
  registry.set(def.name, def as unknown as EngineDefinition);
}

export function getEngine(name: string): EngineDefinition {
  const def = registry.get(name);
  if (!def) throw new Error(`unknown consensus engine "${name}" (known: ${[...registry.keys()].sort().join(', ') || 'none'})`);
  return def;
}

export function engineNames(): string[] {
  return [...registry.keys()].sort();
}
