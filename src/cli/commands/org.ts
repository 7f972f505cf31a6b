// Consortium membership at runtime: `medledger org add` (a new hospital: identities, node.yaml,
// config update, optionally its node), `medledger org remove <org>` (config update, optionally
// stop its node) and `medledger config show` (the config in force, from a node).
//
// Run against a consortium directory that holds the root CA key and the admins' keys (what
// `medledger init` / `up` write): the update is signed by admin1 of as many organisations as the
// modification policy needs (a majority). See src/node/membership.ts.
import type { Command } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConsortium } from '../../identity/index.ts';
import { ConfigUpdateError } from '../../ledger/config-update.ts';
import { configWithHospital, configWithoutHospital, localAdminSigners, prepareHospital, retireNodeDir, submitConfigUpdate, type ConfigUpdateOutcome } from '../../node/membership.ts';
import { isAlive, readPid, readStatusFile, spawnNode, stopProcesses } from '../../node/supervisor.ts';
import { clientFromDir, consortiumEndpoints, MedLedgerApiError, type MedLedgerClient } from '../../sdk/index.ts';
import { CliError, makeOutput } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_CONSORTIUM_DIR, resolveClient, withConnectOptions, type ConnectFlags } from './tx.ts';

const JOIN_TIMEOUT_MS = 180_000;
const ORG_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

function consortiumDir(flag: string | undefined): string {
  const dir = resolve(flag ?? DEFAULT_CONSORTIUM_DIR);
  if (!existsSync(join(dir, 'genesis.block'))) throw new CliError(`--dir ${flag ?? DEFAULT_CONSORTIUM_DIR}: no consortium there (genesis.block missing; run medledger init or up)`, 2);
  return dir;
}

/** An admin client through a member hospital's node (not `avoid`). */
function adminClient(dir: string, via: string | undefined, avoid?: string): { client: MedLedgerClient; org: string } {
  const candidates = consortiumEndpoints(dir).filter((n) => n.roles.includes('peer') && n.org !== avoid);
  const chosen = via ? candidates.find((n) => n.org === via) : candidates[0];
  if (!chosen) throw new CliError(via ? `--via ${via}: no node of that hospital in ${dir}${via === avoid ? ' (it is the one being removed)' : ''}` : `no member node to send the update through in ${dir}`, 2);
  return { client: clientFromDir(dir, chosen.org, 'admin1'), org: chosen.org };
}

async function runUpdate<T>(what: () => Promise<T>): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (err instanceof ConfigUpdateError) throw new CliError(err.message, 1);
    if (err instanceof MedLedgerApiError) throw new CliError(`${err.code}: ${err.message}`, 1);
    throw err;
  }
}

function describeOutcome(o: ConfigUpdateOutcome): string {
  return `config update ${o.sequence} committed in block ${o.blockNumber ?? '?'} (tx ${o.txId.slice(0, 16)}…): ${o.config.orgs.length} hospitals (${o.config.orgs.map((x) => x.org).join(', ')}), orderers ${o.config.orderers.map((x) => x.id).join(', ')}`;
}

export function register(program: Command, _ctx: CommandContext): void {
  const org = program.command('org').description('Add or remove a hospital of a running consortium (config transactions)');

  org
    .command('add')
    .description('Add a hospital: issue its CA, node and demo users under the consortium root, write its node.yaml, commit the config update signed by a majority of admins; --start runs its node')
    .option('--dir <dir>', `consortium directory (default ${DEFAULT_CONSORTIUM_DIR})`)
    .option('--org <name>', 'name of the new hospital (default: the next HospitalN)')
    .option('--host <host>', 'address its node listens on and is reached at', '127.0.0.1')
    .option('--via <org>', 'member hospital whose node receives the update (default: the first)')
    .option('--start', 'start its node (detached, like up --detach) and wait until it has synced and votes')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { dir?: string; org?: string; host: string; via?: string; start?: boolean; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const dir = consortiumDir(flags.dir);
      if (flags.org !== undefined && !ORG_NAME.test(flags.org)) throw new CliError(`--org ${flags.org.slice(0, 64)}: a hospital name is a letter, then up to 63 letters, digits, '_' or '-'`, 2);
      const { client, org: via } = adminClient(dir, flags.via);
      process.once('beforeExit', () => client.close());
      const live = await runUpdate(() => client.config());
      if (flags.org && live.orgs.some((o) => o.toLowerCase() === flags.org!.toLowerCase())) throw new CliError(`${flags.org} is already a member of the consortium`, 1);
      out.info(`issuing identities for ${flags.org ?? 'the new hospital'} …`);
      const hospital = await runUpdate(() => prepareHospital(dir, { ...(flags.org ? { org: flags.org } : {}), host: flags.host, tickMs: live.state.record.config.ordering.tickMs, engine: live.engine }));
      const consortium = loadConsortium(join(dir, 'crypto'));
      out.info(`submitting the config update through ${via} …`);
      const outcome = await runUpdate(() => submitConfigUpdate(client, (c) => localAdminSigners(consortium, c, via), (c) => configWithHospital(c, hospital)));
      const nodeDir = join(dir, hospital.org);
      let joined: { height: number; voters: readonly string[] } | null = null;
      if (flags.start) {
        out.info(`starting ${hospital.endpoint.id} …`);
        const pid = spawnNode(nodeDir, { detached: true });
        writeFileSync(join(nodeDir, 'node.pid'), `${pid}\n`);
        joined = await waitJoined(nodeDir, pid, hospital.endpoint.id, outcome.blockNumber ?? 0, outcome.config.orderers.some((o) => o.id === hospital.endpoint.id));
      }
      const result = { org: hospital.org, nodeId: hospital.endpoint.id, p2pUrl: hospital.endpoint.p2pUrl, apiUrl: hospital.endpoint.apiUrl, config: hospital.configPath, sequence: outcome.sequence, txId: outcome.txId, blockNumber: outcome.blockNumber, orderer: outcome.config.orderers.some((o) => o.id === hospital.endpoint.id), started: joined };
      out.result(result, () =>
        [
          describeOutcome(outcome),
          `${hospital.org}: node ${hospital.endpoint.id}, p2p ${hospital.endpoint.p2pUrl}, API ${hospital.endpoint.apiUrl}`,
          `  configuration: ${hospital.configPath}`,
          result.orderer ? '  it orders too: Raft takes it in as a learner and promotes it to voter once it has caught up' : `  peer only: the ${outcome.config.ordering.engine} engine has a fixed orderer set`,
          joined ? `  started: synced to block ${joined.height}${result.orderer ? `; voters ${joined.voters.join(', ')}` : ''}` : `  start it with: medledger node start --config ${hospital.configPath}`,
        ].join('\n'),
      );
    });

  org
    .command('remove <org>')
    .description('Remove a hospital: commit the config update (signed by a majority of admins) that drops its CA, node and orderer; --stop stops its local node')
    .option('--dir <dir>', `consortium directory (default ${DEFAULT_CONSORTIUM_DIR})`)
    .option('--via <org>', 'member hospital whose node receives the update (default: the first other one)')
    .option('--stop', 'stop its node process (started by up / org add --start) once the update is committed')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, flags: { dir?: string; via?: string; stop?: boolean; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      if (!ORG_NAME.test(name)) throw new CliError(`${name.slice(0, 64)}: not a hospital name`, 2);
      const dir = consortiumDir(flags.dir);
      const { client, org: via } = adminClient(dir, flags.via, name);
      process.once('beforeExit', () => client.close());
      const consortium = loadConsortium(join(dir, 'crypto'));
      out.info(`submitting the config update that removes ${name} through ${via} …`);
      const outcome = await runUpdate(() => submitConfigUpdate(client, (c) => localAdminSigners(consortium, c, via), (c) => configWithoutHospital(c, name)));
      let stopped = false;
      const nodeDir = join(dir, name);
      const pid = existsSync(nodeDir) ? readPid(nodeDir) : null;
      if (flags.stop && pid !== null && isAlive(pid)) {
        await stopProcesses([pid], 10_000);
        stopped = true;
      }
      const retired = existsSync(nodeDir) ? retireNodeDir(dir, name) : null;
      out.result({ org: name, sequence: outcome.sequence, txId: outcome.txId, blockNumber: outcome.blockNumber, stopped, retiredConfig: retired }, () =>
        [
          describeOutcome(outcome),
          `${name} is no longer a member: the other nodes refuse its connections and its users' transactions`,
          retired ? `  its node.yaml was set aside as ${retired} (its data is kept)` : '',
          stopped ? '  its node was stopped' : pid !== null && isAlive(pid) ? `  its node (pid ${pid}) is still running; stop it with kill ${pid}` : '',
        ].filter((l) => l.length > 0).join('\n'),
      );
    });

  withConnectOptions(program.command('config').description('The consortium configuration').command('show').description('The configuration in force on a node: sequence, hospitals, orderers, nodes, contracts and who must sign the next update'))
    .action(async (flags: ConnectFlags) => {
      const out = makeOutput(flags.json ?? false);
      const client = resolveClient(flags);
      try {
        const c = await runUpdate(() => client.config());
        const { state: _state, configBase64: _bytes, ...shown } = c;
        out.result(shown, () =>
          [
            `config sequence ${c.sequence}${c.version ? ` (committed in block ${c.version.block})` : ' (genesis)'}; engine ${c.engine}`,
            `hospitals: ${c.orgs.join(', ')}`,
            `orderers:  ${c.orderers.join(', ')}`,
            'nodes:',
            ...c.nodes.map((n) => `  ${n.id.padEnd(20)} ${n.roles.join('+').padEnd(13)} ${n.apiUrl}`),
            'contracts:',
            ...c.contracts.map((x) => `  ${x.name} v${x.version}: ${x.endorsementPolicy}`),
            `next update needs: ${c.updatePolicy}`,
          ].join('\n'),
        );
      } finally {
        client.close();
      }
    });
}

/** Wait until the new node has left joining mode, caught up and (if it orders) is a voter. */
async function waitJoined(nodeDir: string, pid: number, nodeId: string, configBlock: number, orders: boolean): Promise<{ height: number; voters: readonly string[] }> {
  const deadline = Date.now() + JOIN_TIMEOUT_MS;
  for (;;) {
    if (!isAlive(pid)) throw new CliError(`the node in ${nodeDir} exited; see ${join(nodeDir, 'node.log')}`, 1);
    const s = readStatusFile(nodeDir);
    const voters = s?.consensus?.members ?? [];
    if (s && !s.joining && s.height >= configBlock && (!orders || voters.includes(nodeId))) return { height: s.height, voters };
    if (Date.now() > deadline) throw new CliError(`${nodeId} did not join within ${JOIN_TIMEOUT_MS / 1000} s (height ${s?.height ?? '?'}, joining ${s?.joining ?? '?'}); see ${join(nodeDir, 'node.log')}`, 1);
    await sleep(250);
  }
}
