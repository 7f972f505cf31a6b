// Registers the hash-generator engine: 'hashgen' (the paper's thresholds, crash faults) and
// 'hashgen-bft' (the same engine with quorum 'bft' by default, Byzantine faults, f < n/3).
import type { SignatureVerifier } from '../../crypto/index.ts';
import type { DecidedBlock, NodeId } from '../engine.ts';
import { registerEngine, type EngineDefinition } from '../registry.ts';
import { hashgenByzantine } from './byzantine.ts';
import { HashgenEngine } from './engine.ts';
import type { HgMessage } from './messages.ts';
import { bftFaults, paperFaults, verifyHashgenCertificate, type QuorumMode } from './rules.ts';

export { HashgenEngine } from './engine.ts';
export type { HashgenDiagnostics, Misbehaviour } from './engine.ts';
export * from './rules.ts';
export type { HgMessage } from './messages.ts';
export { parseHashgenOptions, type HashgenOptions } from './options.ts';
export { hashgenByzantine } from './byzantine.ts';

function definition(name: string, quorum: QuorumMode): EngineDefinition<HgMessage> {
  return {
    name,
    faultModel: quorum === 'bft' ? 'byzantine' : 'crash',
    nodesMin: quorum === 'bft' ? 4 : 1,
    faultsTolerated: (n) => (quorum === 'bft' ? bftFaults(n) : paperFaults(n)),
    create: (ctx) => new HashgenEngine(ctx, { quorum }),
    byzantine: hashgenByzantine,
    // The registry check knows no engine options, and either engine may run with either
    // `quorum` option: the certificate's phase says which rule decided it ('validate' = the
    // paper's validation quorum, 'commit' = the bft commit quorum) and is checked against that
    // rule. A ledger that knows its configuration calls verifyHashgenCertificate with its mode.
    verifyCertificate: (block: DecidedBlock, members: readonly NodeId[], verifier: SignatureVerifier) => {
      const mode: QuorumMode = block.certificate?.fields.phase === 'validate' ? 'paper' : 'bft';
      return verifyHashgenCertificate(block, members, verifier, { mode, difficultyBits: 0 });
    },
  };
}

registerEngine<HgMessage>(definition('hashgen', 'paper'));
registerEngine<HgMessage>(definition('hashgen-bft', 'bft'));
