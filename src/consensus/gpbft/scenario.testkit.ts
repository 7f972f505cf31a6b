// The grouped two-layer PBFT (paper 002) in the shared scenario interpreter: which fields each
// message shows, and a state line with the node's group role, view, height and the view's head.
import type { EngineMessage } from '../engine.ts';
import type { EngineScenario } from '../scenario/command.testkit.ts';
import { formatFields, statusLine } from '../scenario/format.testkit.ts';
import './index.ts';
import type { GpbftEngine } from './engine.ts';
import type { GpbftMessage } from './messages.ts';

const FIELDS: Record<GpbftMessage['type'], readonly string[]> = {
  'gpbft/request': ['proposals'],
  'gpbft/pre-prepare1': ['view', 'group', 'seq', 'proposals'],
  'gpbft/prepare1': ['view', 'group', 'seq', 'digest'],
  'gpbft/commit1': ['view', 'group', 'seq', 'digest'],
  'gpbft/submit2': ['view', 'group', 'seq', 'proposals', 'cert'],
  'gpbft/pre-prepare2': ['view', 'height', 'group', 'seq', 'proposals', 'cert', 'reproposal', 'digest'],
  'gpbft/prepare2': ['view', 'height'],
  'gpbft/commit2': ['view', 'height'],
  'gpbft/deliver': [],
  'gpbft/view-change': [],
  'gpbft/new-view': ['view', 'height', 'viewChanges'],
  'gpbft/evidence': [],
  'gpbft/sync': ['height'],
  'gpbft/blocks': ['blocks'],
};

function printMessage(message: EngineMessage): string {
  const m = message as GpbftMessage;
  const line = formatFields(m.type, m, FIELDS[m.type] ?? []);
  if (m.type === 'gpbft/deliver') return `${line} height=${m.block.height} proposals=${m.block.proposals.length}`;
  if (m.type === 'gpbft/view-change') return `${line} view=${m.vc.view} height=${m.vc.height} from=${m.vc.node}`;
  if (m.type === 'gpbft/evidence') return `${line} against=${m.evidence.node}`;
  return line;
}

export const gpbftScenario: EngineScenario = {
  engine: 'gpbft',
  printMessage,
  state(_cluster, node) {
    if (!node.engine) return statusLine(node);
    const c = (node.engine as GpbftEngine).configuration();
    return statusLine(node, `head=${c.head} primaries=${c.primaries.join(',')} groups=${c.config.groups.map((g) => g.join(',')).join('|')}`);
  },
};
