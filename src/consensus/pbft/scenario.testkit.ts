// PBFT in the shared scenario interpreter (consensus/scenario/): which fields of each message a
// script shows, and the state line (Engine.status plus the stable checkpoint).
import type { EngineMessage } from '../engine.ts';
import type { EngineScenario } from '../scenario/command.testkit.ts';
import { formatFields, formatValue, statusLine } from '../scenario/format.testkit.ts';
import type { PbftEngine } from './engine.ts';
import './index.ts';
import type { PbftMessage } from './messages.ts';

const FIELDS: Record<PbftMessage['type'], readonly string[]> = {
  'pbft/request': ['proposals'],
  'pbft/pre-prepare': ['view', 'seq', 'digest', 'batch'],
  'pbft/prepare': ['view', 'seq', 'digest'],
  'pbft/commit': ['view', 'seq', 'digest'],
  'pbft/checkpoint': ['seq', 'blockDigest'],
  'pbft/view-change': ['view', 'stableSeq', 'checkpointProof', 'prepared'],
  'pbft/new-view': ['view', 'viewChanges', 'prePrepares'],
  'pbft/status': ['view', 'changing', 'stableSeq', 'executedSeq'],
  'pbft/commit-cert': ['view', 'seq', 'digest', 'commits'],
  'pbft/state': ['seq', 'blockDigest', 'proof'],
};

function printMessage(message: EngineMessage): string {
  const m = message as PbftMessage;
  const line = formatFields(m.type, m, FIELDS[m.type] ?? []);
  // A new view re-proposes the prepared slots: show which.
  if (m.type === 'pbft/new-view') return `${line} seqs=${formatValue(m.prePrepares.map((p) => p.seq).join(',') || '-')}`;
  return line;
}

export const pbftScenario: EngineScenario = {
  engine: 'pbft',
  printMessage,
  state(_cluster, node) {
    if (!node.engine) return statusLine(node);
    const i = (node.engine as PbftEngine).inspect();
    return statusLine(node, `stable=${i.stableSeq}${i.changing ? ' changing' : ''}`);
  },
};
