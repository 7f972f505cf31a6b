// Raft in the shared scenario interpreter (consensus/scenario/): its message printer, its state
// line and the commands only Raft has (elections on demand, conf changes, leader transfer, the log).
import type { EngineMessage, NodeId } from '../engine.ts';
import { ScenarioCluster, type ScenarioNode } from '../scenario/cluster.testkit.ts';
import { formatMessage, need, type Command, type EngineScenario } from '../scenario/command.testkit.ts';
import { formatProposal } from '../scenario/format.testkit.ts';
import './index.ts';
import type { RaftEngine } from './engine.ts';
import type { Entry, RaftMessage } from './messages.ts';

/** A scenario cluster whose engines are Raft (tests reach Raft-only methods through engine()). */
export class RaftCluster extends ScenarioCluster {
  constructor() {
    super('raft', { certificateRequired: certificateRequired });
  }

  override engine(id: NodeId): RaftEngine {
    return super.engine(id) as RaftEngine;
  }
}

// figure8_unsafe commits an entry of a previous term on purpose: its blocks cannot carry a valid
// leader certificate, which is the point of the script.
function certificateRequired(node: ScenarioNode): boolean {
  return node.options['unsafeCommitPreviousTerm'] !== true;
}

function raft(cluster: ScenarioCluster, id: NodeId): RaftEngine {
  return cluster.engine(id) as RaftEngine;
}

function fmtEntry(e: Entry): string {
  const head = `${e.index}/${e.term}`;
  if (e.kind === 'noop') return `${head} noop`;
  if (e.kind === 'conf') return `${head} ${fmtConf(e.conf!)}`;
  return `${head} [${e.proposals.map(formatProposal).join(' ')}]`;
}

function fmtConf(c: { voters: readonly string[]; outgoing: readonly string[]; learners: readonly string[] }): string {
  let s = `voters=(${[...c.voters].sort().join(' ')})`;
  if (c.outgoing.length > 0) s += `&&(${[...c.outgoing].sort().join(' ')})`;
  if (c.learners.length > 0) s += ` learners=(${[...c.learners].sort().join(' ')})`;
  return s;
}

function printMessage(message: EngineMessage): string {
  const msg = message as RaftMessage;
  const head = `${msg.type.replace(/^raft\//, '')} term=${msg.term}`;
  switch (msg.type) {
    case 'raft/prevote':
    case 'raft/vote':
      return `${head} last=${msg.lastIndex}/${msg.lastTerm}${msg.transfer ? ' transfer' : ''}`;
    case 'raft/prevote-resp':
    case 'raft/vote-resp':
      return `${head}${msg.reject ? ' rejected' : ' granted'}`;
    case 'raft/append':
      return `${head} prev=${msg.prevIndex}/${msg.prevTerm} commit=${msg.commit} entries=[${msg.entries.map(fmtEntry).join(', ')}]`;
    case 'raft/append-resp':
      return msg.reject ? `${head} reject index=${msg.index} hint=${msg.hintIndex}/${msg.hintTerm}` : `${head} index=${msg.index}`;
    case 'raft/heartbeat':
      return `${head} commit=${msg.commit}`;
    case 'raft/commit':
      return `${head} prev=${msg.prevIndex}/${msg.prevTerm} commit=${msg.commit}`;
    case 'raft/snapshot':
      return `${head} snapshot=${msg.snapshot.index}/${msg.snapshot.term} height=${msg.snapshot.height} ${fmtConf(msg.snapshot.conf)}`;
    case 'raft/forward':
      return `${head} [${msg.proposals.map(formatProposal).join(' ')}]`;
    default:
      return head;
  }
}

function state(cluster: ScenarioCluster, node: ScenarioNode): string {
  if (!node.engine) return `${node.id}: crashed`;
  const s = raft(cluster, node.id).raftStatus();
  return `${node.id}: ${s.role} term=${s.term} lead=${s.lead ?? '-'} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} height=${s.height} ${fmtConf(s.conf)}`;
}

const list = (kv: ReadonlyMap<string, string>, k: string): string[] => (kv.get(k) ?? '').split(',').filter((s) => s.length > 0);

const RAFT_COMMANDS: readonly Command[] = [
  {
    name: 'campaign',
    usage: 'campaign ID — start an election on ID now; prints what it sent',
    run(env, args) {
      const id = need(args, args.positional[0], 'node id');
      raft(env.cluster, id).campaignNow();
      return env.cluster.processReady(id).map((m) => formatMessage(env, m));
    },
  },
  {
    name: 'propose-conf-change',
    usage: 'propose-conf-change ID [add=a,b] [remove=c] [learners=d]',
    run({ cluster }, args) {
      const id = need(args, args.positional[0], 'node id');
      const r = raft(cluster, id).proposeConfChange({ add: list(args.kv, 'add'), remove: list(args.kv, 'remove'), addLearners: list(args.kv, 'learners') });
      cluster.processReady(id);
      return [r.accepted ? `accepted at index ${r.index}` : `rejected: ${r.reason}`];
    },
  },
  {
    name: 'reconfigure',
    usage: 'reconfigure ID members=a,b,c — one Engine.reconfigure step toward that voter set (printed)',
    run({ cluster }, args) {
      const id = need(args, args.positional[0], 'node id');
      const r = raft(cluster, id).reconfigure(list(args.kv, 'members'));
      cluster.processReady(id);
      return [r];
    },
  },
  {
    name: 'transfer-leader',
    usage: 'transfer-leader ID TO',
    run(env, args) {
      const id = need(args, args.positional[0], 'node id');
      const ok = raft(env.cluster, id).transferLeadership(need(args, args.positional[1], 'target'));
      return [ok ? 'transfer started' : 'transfer refused', ...env.cluster.processReady(id).map((m) => formatMessage(env, m))];
    },
  },
  {
    name: 'raft-state',
    usage: 'raft-state — every node: role, term, leader, commit, applied, last index, height, configuration',
    run({ cluster }) {
      return [...cluster.nodes.values()].map((n) => state(cluster, n));
    },
  },
  {
    name: 'status',
    usage: "status ID — state, vote, log bounds and the leader's progress per follower",
    run({ cluster }, args) {
      const id = need(args, args.positional[0], 'node id');
      const s = raft(cluster, id).raftStatus();
      const lines = [state(cluster, cluster.node(id)), `vote=${s.vote ?? '-'} first=${s.firstIndex} snapshot=${s.snapshotIndex} submitted=${s.submitted}`];
      for (const [pid, p] of s.progress) {
        lines.push(`  ${pid}: ${p.state} match=${p.match} next=${p.next}${p.inflight ? ` inflight=${p.inflight}` : ''}${p.paused ? ' paused' : ''}`);
      }
      return lines;
    },
  },
  {
    name: 'log',
    usage: "log ID — the entries of ID's log",
    run({ cluster }, args) {
      const e = raft(cluster, need(args, args.positional[0], 'node id'));
      const s = e.raftStatus();
      const lines = e.entries(s.firstIndex, s.lastIndex).map(fmtEntry);
      return lines.length > 0 ? lines : [`(empty, snapshot at ${s.snapshotIndex})`];
    },
  },
];

export const raftScenario: EngineScenario = {
  engine: 'raft',
  printMessage,
  state,
  commands: RAFT_COMMANDS,
  certificateRequired,
};
