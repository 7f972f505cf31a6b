// The hash generators (paper 003) in the shared scenario interpreter: which fields each message
// shows (heartbeats are summarised: scripts would drown in them), and the state line.
import { utf8 } from '../../codec/index.ts';
import type { EngineMessage, Proposal } from '../engine.ts';
import { need, type Command, type EngineScenario } from '../scenario/command.testkit.ts';
import { formatFields, statusLine } from '../scenario/format.testkit.ts';
import type { HashgenEngine } from './engine.ts';
import './index.ts';
import { entryMembers, isMembershipEntry } from './membership.ts';
import type { HgMessage } from './messages.ts';

const FIELDS: Record<HgMessage['type'], readonly string[]> = {
  'hashgen/select': ['epoch', 'generator', 'cams'],
  'hashgen/suspect': ['epoch'],
  'hashgen/auth-req': ['epoch', 'candidate', 'height'],
  'hashgen/auth-vote': ['epoch', 'candidate', 'height'],
  'hashgen/block': ['epoch', 'height', 'proposals', 'generator', 'justification'],
  'hashgen/validate': ['epoch', 'height', 'digest'],
  'hashgen/seal': ['epoch', 'height', 'proposals', 'nonce', 'difficultyBits', 'validations'],
  'hashgen/commit': ['epoch', 'height', 'digest'],
  'hashgen/heartbeat': ['epoch', 'generator', 'height'],
  'hashgen/forward': ['proposals'],
  'hashgen/fetch': ['height'],
  'hashgen/blocks': ['blocks'],
};

/** A membership entry's data is a DAG-CBOR member list (decision 1295): show it as text. */
function readableProposals(ps: readonly Proposal[]): Proposal[] {
  return ps.map((p) => (isMembershipEntry(p) ? { ...p, data: utf8(`members:${(entryMembers(p) ?? []).join(',')}`) } : p));
}

function readable(m: HgMessage): HgMessage {
  if (m.type === 'hashgen/block' || m.type === 'hashgen/seal') return { ...m, proposals: readableProposals(m.proposals) };
  return m;
}

function printMessage(message: EngineMessage): string {
  const m = readable(message as HgMessage);
  return formatFields(m.type, m, FIELDS[m.type] ?? []);
}

const list = (kv: ReadonlyMap<string, string>, k: string): string[] => (kv.get(k) ?? '').split(',').filter((s) => s.length > 0);

// Membership changes (decision 1295): the driver calls Engine.reconfigure with the orderer set of
// the config in force on every tick; a script calls it on one node or on every live one.
const HASHGEN_COMMANDS: readonly Command[] = [
  {
    name: 'reconfigure',
    usage: 'reconfigure ID|all members=a,b,c — Engine.reconfigure toward that orderer set (prints each answer)',
    run({ cluster }, args) {
      const who = need(args, args.positional[0], 'node id or all');
      const ids = who === 'all' ? cluster.liveIds() : [who];
      const members = list(args.kv, 'members');
      const out: string[] = [];
      for (const id of ids) {
        const r = (cluster.engine(id) as unknown as HashgenEngine).reconfigure(members);
        cluster.processReady(id);
        out.push(`${id}: ${r}`);
      }
      return out;
    },
  },
];

export const hashgenScenario: EngineScenario = {
  engine: 'hashgen',
  printMessage,
  commands: HASHGEN_COMMANDS,
  state(_cluster, node) {
    if (!node.engine) return statusLine(node);
    const e = node.engine as unknown as HashgenEngine;
    const d = e.diagnostics();
    // The membership epoch is shown once it is not the genesis one.
    return d.membershipNumber > 0 ? statusLine(node, `members-epoch=${d.membershipNumber} members=${e.status().members.join(',')}`) : statusLine(node);
  },
};
