// `medledger status`: ask every node of the consortium (the config in force, or the folder's list when
// no node answers) for its status through its gateway, in parallel, and print one line per node: roles, consensus role,
// the leader/primary it sees, height and last block hash. A node that does not answer is listed
// with the reason (connection refused names its URL); the exit code is then 1.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { consortiumEndpoints, MedLedgerApiError, MedLedgerClient, userCredentials, type NodeStatusJson } from '../../sdk/index.ts';
import { CliError, makeOutput } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_CONSORTIUM_DIR, resolveClient, withConnectOptions, type ConnectFlags } from './tx.ts';

export interface NodeReport {
  readonly nodeId: string;
  readonly org: string;
  readonly apiUrl: string;
  readonly reachable: boolean;
  readonly error: string | null;
  readonly roles: readonly string[];
  readonly engine: string | null;
  readonly consensusRole: string | null;
  readonly leader: string | null;
  readonly epoch: number | null;
  readonly height: number | null;
  readonly lastBlockHashHex: string | null;
  readonly connectedPeers: readonly string[];
  /** Sequence of the consortium config in force on the node; null when it does not answer. */
  readonly configSequence: number | null;
  /** A newly added hospital's node still catching up to the config update that admits it. */
  readonly joining: boolean;
  /** The node-to-node protocol it speaks; null when it does not answer. */
  readonly protocol: string | null;
  /** The hash of its genesis block (the consortium's identity, decision 1387); null when it does not answer or is older. */
  readonly genesisHashHex: string | null;
}

const STATUS_TIMEOUT_MS = 5_000;

function report(base: { nodeId: string; org: string; apiUrl: string }, s: NodeStatusJson | null, error: string | null): NodeReport {
  const c = s?.consensus as { engine?: string; role?: string; leader?: string | null; epoch?: number } | null | undefined;
  return {
    ...base,
    reachable: s !== null,
    error,
    roles: s?.roles ?? [],
    engine: c?.engine ?? null,
    consensusRole: c?.role ?? null,
    leader: c?.leader ?? null,
    epoch: typeof c?.epoch === 'number' ? c.epoch : null,
    height: s?.height ?? null,
    lastBlockHashHex: s?.lastBlockHashHex ?? null,
    connectedPeers: s?.connectedPeers ?? [],
    configSequence: s?.configSequence ?? null,
    joining: s?.joining ?? false,
    protocol: s?.protocol ?? null,
    genesisHashHex: s?.genesisHashHex ?? null,
  };
}

/** The node list of the consortium config in force, from the first node that answers (asked in parallel); null if none does. */
async function configInForce(clients: ReadonlyArray<{ client: MedLedgerClient }>): Promise<Array<{ id: string; org: string; apiUrl: string }> | null> {
  try {
    return await Promise.any(
      clients.map(async ({ client }) => {
        const c = await client.config();
        if (c.nodes.length === 0) throw new Error('the config in force lists no node endpoints');
        return c.nodes.map((n) => ({ id: n.id, org: n.org, apiUrl: n.apiUrl }));
      }),
    );
  } catch {
    // No node answers: each one is reported (with its reason) from the folder's list.
    return null;
  } finally {
    for (const { client } of clients) client.close();
  }
}

/** The human table and its summary lines (exported for its test). */
export function renderStatus(nodes: readonly NodeReport[]): string {
  const lines = [
    `${'node'.padEnd(22)} ${'org'.padEnd(12)} ${'roles'.padEnd(13)} ${'consensus'.padEnd(18)} ${'leader'.padEnd(22)} ${'height'.padStart(7)}  last block hash`,
  ];
  for (const n of nodes) {
    if (!n.reachable) {
      lines.push(`${n.nodeId.padEnd(22)} ${n.org.padEnd(12)} DOWN: ${n.error}`);
      continue;
    }
    lines.push(
      `${n.nodeId.padEnd(22)} ${n.org.padEnd(12)} ${n.roles.join('+').padEnd(13)} ${`${n.engine ?? '-'} ${n.consensusRole ?? ''}`.padEnd(18)} ${(n.leader ?? '-').padEnd(22)} ${String(n.height).padStart(7)}  ${(n.lastBlockHashHex ?? '').slice(0, 16)}…`,
    );
  }
  const up = nodes.filter((n) => n.reachable);
  const heights = new Set(up.map((n) => `${n.height}:${n.lastBlockHashHex}`));
  const leaders = new Set(up.map((n) => n.leader).filter((l) => l !== null));
  const joining = up.filter((n) => n.joining).map((n) => n.nodeId);
  const sequences = new Set(up.map((n) => n.configSequence));
  const protocols = new Set(up.map((n) => n.protocol ?? 'unknown (older than decision 1386)'));
  const geneses = new Set(up.map((n) => n.genesisHashHex).filter((g) => g !== null));
  lines.push('');
  lines.push(
    `config ${sequences.size <= 1 ? `sequence ${[...sequences][0] ?? 0} on every node` : `sequences differ (${up.map((n) => `${n.nodeId} ${n.configSequence}`).join(', ')}): some nodes are catching up`}${joining.length ? `; joining: ${joining.join(', ')}` : ''}`,
  );
  if (protocols.size > 1)
    lines.push(
      `protocols differ (${up.map((n) => `${n.nodeId} ${n.protocol ?? 'older'}`).join(', ')}): nodes of different versions keep no connection with one another — upgrade every node`,
    );
  // An applicant pins the genesis hash (org join --genesis-hash); nodes of two geneses are two consortia.
  if (geneses.size === 1) lines.push(`consortium genesis block ${[...geneses][0]}`);
  else if (geneses.size > 1)
    lines.push(
      `genesis blocks differ (${up.map((n) => `${n.nodeId} ${(n.genesisHashHex ?? 'unknown').slice(0, 16)}…`).join(', ')}): these nodes are not all of one consortium`,
    );
  lines.push(
    `${up.length}/${nodes.length} nodes answer; ${heights.size <= 1 ? 'all at the same height and last block hash' : 'heights or last block hashes differ (catching up, or a fork)'}; ${leaders.size === 1 ? `leader ${[...leaders][0]}` : leaders.size === 0 ? 'no leader known' : `nodes disagree on the leader (${[...leaders].join(', ')})`}`,
  );
  return lines.join('\n');
}

export function register(program: Command, ctx: CommandContext): void {
  withConnectOptions(
    program.command('status').description("Every node of the consortium: roles, leader/primary, height and last block hash (through each node's gateway)"),
  ).action(async (flags: ConnectFlags, cmd: Command) => {
    const out = makeOutput(flags.json ?? false);
    let targets: { nodeId: string; org: string; apiUrl: string; client: MedLedgerClient }[];
    // --dir has a default; only a --dir the user gave (or $MEDLEDGER_DIR) means "every node of it".
    if (flags.url && (flags.cert || cmd.getOptionValueSource('dir') === 'default')) {
      // One explicit node.
      const client = resolveClient(flags);
      targets = [{ nodeId: flags.url, org: '?', apiUrl: client.url, client }];
    } else {
      const dir = resolve(flags.dir ?? DEFAULT_CONSORTIUM_DIR);
      if (!existsSync(dir)) throw new CliError(`--dir ${flags.dir ?? DEFAULT_CONSORTIUM_DIR}: no such directory (run medledger up first)`, 2);
      try {
        const creds = userCredentials(dir, flags.org ?? 'Hospital1', flags.user ?? 'admin1');
        const connect = (n: { id: string; org: string; apiUrl: string }) => ({
          nodeId: n.id,
          org: n.org,
          apiUrl: n.apiUrl,
          client: new MedLedgerClient({ url: n.apiUrl, ...creds, timeoutMs: STATUS_TIMEOUT_MS }),
        });
        const known = consortiumEndpoints(dir);
        // The folder knows the consortium as it was when it was made (a joined hospital's folder
        // holds the genesis list); the config in force, asked of any node that answers, names the
        // nodes added and removed since.
        const inForce = await configInForce(known.map(connect));
        targets = (inForce ?? known).map(connect);
      } catch (err) {
        if (err instanceof MedLedgerApiError) throw new CliError(err.message, 2);
        throw err;
      }
    }
    const nodes = await Promise.all(
      targets.map(async (t) => {
        const base = { nodeId: t.nodeId, org: t.org, apiUrl: t.apiUrl };
        try {
          const s = await t.client.status();
          return report({ ...base, nodeId: s.nodeId, org: s.org }, s, null);
        } catch (err) {
          return report(base, null, err instanceof MedLedgerApiError ? err.message : (err as Error).message);
        } finally {
          t.client.close();
        }
      }),
    );
    out.result({ nodes }, () => renderStatus(nodes));
    if (nodes.some((n) => !n.reachable)) ctx.exitCode = 1;
  });
}
