// EH-BFT (paper 001) in the shared scenario interpreter: which fields each message shows, and a
// state line with the role, view, height and the next height's quorum plan (eligible voters, votes needed).
import type { EngineMessage } from '../engine.ts';
import { nodeIds, type Command, type EngineScenario } from '../scenario/command.testkit.ts';
import { formatFields, formatValue, statusLine } from '../scenario/format.testkit.ts';
import type { EhbftEngine } from './engine.ts';
import './index.ts';
import type { EhbftMessage } from './messages.ts';

const FIELDS: Record<EhbftMessage['type'], readonly string[]> = {
  'ehbft/forward': ['proposals'],
  'ehbft/version-query': ['view', 'height'],
  'ehbft/version': ['view', 'height', 'digest'],
  'ehbft/pre-prepare': ['view', 'height', 'proposals'],
  'ehbft/vote': ['phase', 'view', 'height', 'digest'],
  'ehbft/prepare': [],
  'ehbft/commit': [],
  'ehbft/block': [],
  'ehbft/fetch': ['height'],
  'ehbft/status': ['height'],
  'ehbft/evidence': ['evidence'],
  'ehbft/blocks': ['blocks'],
  'ehbft/view-change': [],
};

function printMessage(message: EngineMessage): string {
  const m = message as EhbftMessage;
  const line = formatFields(m.type, m, FIELDS[m.type] ?? []);
  switch (m.type) {
    case 'ehbft/pre-prepare':
      // Wire proposals are not Proposal objects: show how many, whether a view change justifies
      // it, and the next member list of a membership block (decision 1290).
      return `${line}${m.justification ? ` justified-by=${m.justification.length}` : ''}${m.meta.members ? ` members=${m.meta.members.join(',')}` : ''}`;
    case 'ehbft/prepare':
    case 'ehbft/commit':
      return `${line} phase=${m.cert.phase} view=${m.cert.view} height=${m.cert.height} digest=${formatValue(m.cert.digest)} votes=${m.cert.votes.length}`;
    case 'ehbft/block':
      return `${line} height=${m.block.height} votes=${m.block.cert.votes.length}`;
    case 'ehbft/view-change':
      return `${line} view=${m.vc.view} height=${m.vc.height} lock=${m.vc.lock ? `${m.vc.lock.view}/${formatValue(m.vc.lock.digest)}` : '-'}`;
    default:
      return line;
  }
}

/** `reconfigure ID|all M1,M2,…` — the driver's call with the orderer set of the config in force. */
const reconfigure: Command = {
  name: 'reconfigure',
  usage: 'reconfigure ID|all M1,M2,… — Engine.reconfigure with the target member list; prints each result',
  run(env, args) {
    const members = (args.positional[1] ?? '').split(',').filter((m) => m.length > 0);
    return nodeIds(env, args, args.positional[0]).map((id) => {
      const result = (env.cluster.engine(id) as EhbftEngine).reconfigure(members);
      env.cluster.processReady(id);
      return `${id}: ${result}`;
    });
  },
};

/** `membership` — each live node's epoch, first height of the epoch and members. */
const membership: Command = {
  name: 'membership',
  usage: 'membership — per live node: role, epoch number, its first height, members',
  run(env) {
    return env.cluster.liveIds().map((id) => {
      const e = env.cluster.engine(id) as EhbftEngine;
      const epoch = e.epoch();
      return `${id}: ${e.status().role} epoch=${epoch.number} from=${epoch.start} members=${epoch.members.join(',')}`;
    });
  },
};

export const ehbftScenario: EngineScenario = {
  engine: 'ehbft',
  printMessage,
  commands: [reconfigure, membership],
  state(_cluster, node) {
    if (!node.engine) return statusLine(node);
    const plan = (node.engine as EhbftEngine).quorumPlan();
    return statusLine(node, `quorum=${plan.quorum}/${plan.eligible.length} (${plan.mode})`);
  },
};
