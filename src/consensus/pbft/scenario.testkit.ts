// PBFT in the shared scenario interpreter (consensus/scenario/): which fields of each message a
// script shows, and the state line (Engine.status plus the stable checkpoint).
import { utf8 } from '../../codec/index.ts';
import type { EngineMessage } from '../engine.ts';
import { entryMembers, isMembershipEntry } from './epoch.ts';
import { need, type Command, type EngineScenario } from '../scenario/command.testkit.ts';
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

/** A membership entry's data is a DAG-CBOR member list: show it as text. */
function readable(m: PbftMessage): PbftMessage {
  if (m.type !== 'pbft/pre-prepare' || !m.batch.some(isMembershipEntry)) return m;
  return { ...m, batch: m.batch.map((p) => (isMembershipEntry(p) ? { ...p, data: utf8(`members:${(entryMembers(p) ?? []).join(',')}`) } : p)) };
}

function printMessage(message: EngineMessage): string {
  const m = readable(message as PbftMessage);
  const line = formatFields(m.type, m, FIELDS[m.type] ?? []);
  // A new view re-proposes the prepared slots: show which.
  if (m.type === 'pbft/new-view') return `${line} seqs=${formatValue(m.prePrepares.map((p) => p.seq).join(',') || '-')}`;
  return line;
}

const list = (kv: ReadonlyMap<string, string>, k: string): string[] => (kv.get(k) ?? '').split(',').filter((s) => s.length > 0);

// Membership changes (decision 1270): the driver calls Engine.reconfigure with the orderer set of
// the config in force on every tick; a script calls it on one node or on every live one.
const PBFT_COMMANDS: readonly Command[] = [
  {
    name: 'reconfigure',
    usage: 'reconfigure ID|all members=a,b,c — Engine.reconfigure toward that orderer set (prints each answer)',
    run({ cluster }, args) {
      const who = need(args, args.positional[0], 'node id or all');
      const ids = who === 'all' ? cluster.liveIds() : [who];
      const members = list(args.kv, 'members');
      const out: string[] = [];
      for (const id of ids) {
        const r = (cluster.engine(id) as PbftEngine).reconfigure(members);
        cluster.processReady(id);
        out.push(`${id}: ${r}`);
      }
      return out;
    },
  },
];

export const pbftScenario: EngineScenario = {
  engine: 'pbft',
  printMessage,
  commands: PBFT_COMMANDS,
  state(_cluster, node) {
    if (!node.engine) return statusLine(node);
    const i = (node.engine as PbftEngine).inspect();
    // The membership epoch is shown once it is not the genesis one.
    const epoch = i.epoch > 0 ? ` members-epoch=${i.epoch} members=${i.members.join(',')}` : '';
    return statusLine(node, `stable=${i.stableSeq}${i.changing ? ' changing' : ''}${epoch}`);
  },
};
