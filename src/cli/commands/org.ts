// Consortium membership at runtime: `medledger org add` (a new hospital: identities, node.yaml,
// config update, optionally its node), `medledger org remove <org>` (config update, optionally
// stop its node), `medledger config show` (the config in force, from a node), and for admins on
// different hosts `config propose` → `config sign` (each admin, offline) → `config submit`.
//
// Run against a consortium directory that holds the root CA key and the admins' keys (what
// `medledger init` / `up` write): the update is signed by admin1 of as many organisations as the
// modification policy needs (a majority). See src/cli/membership.ts.
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkSelfSignedCa, parseCertificate, parsePrivateKey, sign } from '../../crypto/index.ts';
import { loadConsortium, Msp } from '../../identity/index.ts';
import { CAPABILITIES, hasCapability, type Capability, type ConsortiumConfig } from '../../ledger/config.ts';
import {
  ConfigUpdateError,
  configSignaturesNeeded,
  decodeConfigDraft,
  encodeConfigDraft,
  finishConfigDraft,
  RUNTIME_MEMBERSHIP_ENGINES,
  signConfigDraft,
  startConfigDraft,
  type ConfigDraft,
  type ConfigDraftSummary,
  type ConfigSigner,
} from '../../ledger/config-update.ts';
import { nodeIdOf } from '../../node/init.ts';
import {
  configWithHospital,
  configWithoutHospital,
  localAdminSigners,
  prepareHospital,
  retireNodeDir,
  submitConfigUpdate,
  type ConfigUpdateOutcome,
} from '../membership.ts';
import { isAlive, readPid, readStatusFile, spawnNode, stopProcesses } from '../../node/supervisor.ts';
import { clientFromDir, consortiumEndpoints, consortiumIdOf, MedLedgerApiError, MedLedgerClient, userCredentials } from '../../sdk/index.ts';
import { CliError, makeOutput, parsePositiveInt } from '../output.ts';
import {
  APPLICATION_FILE,
  applyForMembership,
  certifiedCa,
  configureJoined,
  conflictsWithConfig,
  describeApplication,
  hospitalFromApplication,
  planJoin,
  readApplicantState,
  readApplicationFile,
} from '../application.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_CONSORTIUM_DIR, readPemFile, resolveClient, withConnectOptions, type ConnectFlags } from './tx.ts';

const JOIN_TIMEOUT_MS = 180_000;
const ORG_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

function consortiumDir(flag: string | undefined): string {
  const dir = resolve(flag ?? DEFAULT_CONSORTIUM_DIR);
  if (!existsSync(join(dir, 'genesis.block')))
    throw new CliError(`--dir ${flag ?? DEFAULT_CONSORTIUM_DIR}: no consortium there (genesis.block missing; run medledger init or up)`, 2);
  return dir;
}

/** An admin client through a member hospital's node (not `avoid`). */
function adminClient(dir: string, via: string | undefined, avoid?: string): { client: MedLedgerClient; org: string } {
  const candidates = consortiumEndpoints(dir).filter((n) => n.roles.includes('peer') && n.org !== avoid);
  const chosen = via ? candidates.find((n) => n.org === via) : candidates[0];
  if (!chosen)
    throw new CliError(
      via
        ? `--via ${via}: no node of that hospital in ${dir}${via === avoid ? ' (it is the one being removed)' : ''}`
        : `no member node to send the update through in ${dir}`,
      2,
    );
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
  const org = program
    .command('org')
    .description('Add or remove a hospital of a running consortium (config transactions); apply, review and join as a new hospital');

  org
    .command('add')
    .description(
      'Add a hospital: issue its CA, node and demo users under the consortium root, write its node.yaml, commit the config update signed by a majority of admins; --start runs its node',
    )
    .option('--dir <dir>', `consortium directory (default ${DEFAULT_CONSORTIUM_DIR})`)
    .option('--org <name>', 'name of the new hospital (default: the next HospitalN)')
    .option('--host <host>', 'address its node listens on and is reached at', '127.0.0.1')
    .option('--via <org>', 'member hospital whose node receives the update (default: the first)')
    .option('--start', 'start its node (detached, like up --detach) and wait until it has synced and votes')
    .option('--lat <degrees>', 'gpbft: latitude of the hospital (it joins the group nearest to it; default: a position derived from its node id)')
    .option('--lon <degrees>', 'gpbft: longitude of the hospital')
    .option('--rating <0-1>', "gpbft: the hospital's comprehensive rating (default: one derived from its node id)")
    .option('--json', 'print the result as JSON')
    .action(async (flags: { dir?: string; org?: string; host: string; via?: string; start?: boolean; json?: boolean } & PlacementFlags) => {
      const out = makeOutput(flags.json ?? false);
      const dir = consortiumDir(flags.dir);
      const placement = gpbftPlacement(flags);
      if (flags.org !== undefined && !ORG_NAME.test(flags.org))
        throw new CliError(`--org ${flags.org.slice(0, 64)}: a hospital name is a letter, then up to 63 letters, digits, '_' or '-'`, 2);
      const { client, org: via } = adminClient(dir, flags.via);
      try {
        const live = await runUpdate(() => client.config());
        if (flags.org && live.orgs.some((o) => o.toLowerCase() === flags.org!.toLowerCase()))
          throw new CliError(`${flags.org} is already a member of the consortium`, 1);
        out.info(`issuing identities for ${flags.org ?? 'the new hospital'} …`);
        const hospital = await runUpdate(() =>
          prepareHospital(dir, {
            ...(flags.org ? { org: flags.org } : {}),
            host: flags.host,
            tickMs: live.state.record.config.ordering.tickMs,
            engine: live.engine,
            ...placement,
          }),
        );
        const consortium = loadConsortium(join(dir, 'crypto'));
        out.info(`submitting the config update through ${via} …`);
        const outcome = await runUpdate(() =>
          submitConfigUpdate(
            client,
            (c) => localAdminSigners(consortium, c, via),
            (c) => configWithHospital(c, hospital),
          ),
        );
        const nodeDir = join(dir, hospital.org);
        let joined: { height: number; voters: readonly string[] } | null = null;
        if (flags.start) {
          out.info(`starting ${hospital.endpoint.id} …`);
          const pid = spawnNode(nodeDir, { detached: true });
          writeFileSync(join(nodeDir, 'node.pid'), `${pid}\n`);
          joined = await waitJoined(
            nodeDir,
            pid,
            hospital.endpoint.id,
            outcome.blockNumber ?? 0,
            outcome.config.orderers.some((o) => o.id === hospital.endpoint.id),
          );
        }
        const result = {
          org: hospital.org,
          nodeId: hospital.endpoint.id,
          p2pUrl: hospital.endpoint.p2pUrl,
          apiUrl: hospital.endpoint.apiUrl,
          config: hospital.configPath,
          sequence: outcome.sequence,
          txId: outcome.txId,
          blockNumber: outcome.blockNumber,
          orderer: outcome.config.orderers.some((o) => o.id === hospital.endpoint.id),
          started: joined,
        };
        out.result(result, () =>
          [
            describeOutcome(outcome),
            `${hospital.org}: node ${hospital.endpoint.id}, p2p ${hospital.endpoint.p2pUrl}, API ${hospital.endpoint.apiUrl}`,
            `  configuration: ${hospital.configPath}`,
            result.orderer
              ? `  it orders too: ${newOrdererNote(outcome.config.ordering.engine)}`
              : `  peer only: the ${outcome.config.ordering.engine} engine has a fixed orderer set`,
            joined
              ? `  started: synced to block ${joined.height}${result.orderer ? `; voters ${joined.voters.join(', ')}` : ''}`
              : `  start it with: medledger node start --config ${hospital.configPath}`,
          ].join('\n'),
        );
      } finally {
        client.close();
      }
    });

  org
    .command('remove [org]')
    .description(
      'Remove a hospital: commit the config update (signed by a majority of admins) that drops its CA, node and orderer; --stop stops its local node',
    )
    .option('--dir <dir>', `consortium directory (default ${DEFAULT_CONSORTIUM_DIR})`)
    // `org add --org <name>` names the hospital it adds; `org remove --org <name>` reads the same (issue 17).
    .option('--org <name>', 'the hospital to remove (or give it as the argument)')
    .option('--via <org>', 'member hospital whose node receives the update (default: the first other one)')
    .option('--stop', 'stop its node process (started by up / org add --start) once the update is committed')
    .option('--json', 'print the result as JSON')
    .action(async (arg: string | undefined, flags: { dir?: string; org?: string; via?: string; stop?: boolean; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      if (arg !== undefined && flags.org !== undefined && arg !== flags.org)
        throw new CliError(`two hospitals named: ${arg} and --org ${flags.org}; give one`, 2);
      const name = arg ?? flags.org;
      if (name === undefined) throw new CliError('name the hospital to remove: medledger org remove <org> (or --org <org>)', 2);
      if (!ORG_NAME.test(name)) throw new CliError(`${name.slice(0, 64)}: not a hospital name`, 2);
      const dir = consortiumDir(flags.dir);
      const { client, org: via } = adminClient(dir, flags.via, name);
      try {
        const consortium = loadConsortium(join(dir, 'crypto'));
        out.info(`submitting the config update that removes ${name} through ${via} …`);
        const outcome = await runUpdate(() =>
          submitConfigUpdate(
            client,
            (c) => localAdminSigners(consortium, c, via),
            (c) => configWithoutHospital(c, name),
          ),
        );
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
          ]
            .filter((l) => l.length > 0)
            .join('\n'),
        );
      } finally {
        client.close();
      }
    });

  // A hospital applies on its own machine; the admins review and admit it (config propose
  // --application, sign, submit); it joins from any member node (decision 1250).
  org
    .command('apply')
    .description(
      "On the prospective hospital's machine: make its CA, node and admin identities here (keys never leave) and write the signed application to send to the consortium's admins",
    )
    .requiredOption('--dir <dir>', "the new hospital's directory (created; becomes its consortium directory once admitted)")
    .requiredOption('--org <name>', 'the hospital applying, e.g. Hospital6')
    .requiredOption('--p2p-port <port>', 'port of its node-to-node listener')
    .requiredOption('--api-port <port>', 'port of its API')
    .requiredOption('--contact-name <name>', 'who the admins can call about the application')
    .requiredOption('--contact-email <email>', 'their e-mail address')
    .option('--contact-phone <phone>', 'their phone number')
    .option('--note <text>', 'a short note to the reviewers')
    .option('--host <host>', 'address the other nodes reach its node at (in its URLs and certificate)', '127.0.0.1')
    .option('--listen-host <host>', 'address its node listens on (default: --host)')
    .option('--demo-users', 'also issue the demo users (doctors, nurses, patients, …) besides admin1')
    .option('--out <file>', 'where to write the application (default <dir>/application.json)')
    .option('--json', 'print the result as JSON')
    .action(
      async (flags: {
        dir: string;
        org: string;
        p2pPort: string;
        apiPort: string;
        contactName: string;
        contactEmail: string;
        contactPhone?: string;
        note?: string;
        host: string;
        listenHost?: string;
        demoUsers?: boolean;
        out?: string;
        json?: boolean;
      }) => {
        const out = makeOutput(flags.json ?? false);
        if (!ORG_NAME.test(flags.org))
          throw new CliError(`--org ${flags.org.slice(0, 64)}: a hospital name is a letter, then up to 63 letters, digits, '_' or '-'`, 2);
        const dir = resolve(flags.dir);
        const result = await applyForMembership({
          dir,
          org: flags.org,
          host: flags.host,
          listenHost: flags.listenHost ?? flags.host,
          p2pPort: parsePositiveInt('p2p-port', flags.p2pPort, 65535),
          apiPort: parsePositiveInt('api-port', flags.apiPort, 65535),
          contact: { name: flags.contactName, email: flags.contactEmail, ...(flags.contactPhone ? { phone: flags.contactPhone } : {}) },
          ...(flags.note ? { note: flags.note } : {}),
          demoUsers: flags.demoUsers ?? false,
          out: resolve(flags.out ?? join(dir, APPLICATION_FILE)),
        });
        out.result({ org: flags.org, application: result.application, caKeyFingerprintHex: result.fingerprint, crypto: result.cryptoDir }, () =>
          [
            `application of ${flags.org} written to ${result.application}`,
            `  its keys stay in ${result.cryptoDir}`,
            `  CA key fingerprint sha256:${result.fingerprint}`,
            '  send the application to an admin of the consortium, and read them the fingerprint by another channel (phone, letter);',
            `  once they have admitted ${flags.org}: medledger org join --dir ${flags.dir} --from <a member node's API URL> --root-ca <the consortium's root-ca.pem>`,
          ].join('\n'),
        );
      },
    );

  withConnectOptions(
    org
      .command('review <application>')
      .description('As an admin: show what an application asks, check its signature and certificates, and check it against the config in force'),
  )
    .option('--offline', 'check the file only, without asking a node for the config in force')
    .action(async (file: string, flags: ConnectFlags & { offline?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const v = readApplicationFile(resolve(file));
      let consortium: { sequence: number; conflicts: string[]; needed: number; orgs: string[] } | null = null;
      if (!flags.offline) {
        const client = resolveClient(flags);
        try {
          const live = await runUpdate(() => client.config());
          consortium = {
            sequence: live.sequence,
            conflicts: conflictsWithConfig(v, live.state.record.config),
            needed: configSignaturesNeeded(live.state.record.config),
            orgs: live.orgs,
          };
        } finally {
          client.close();
        }
      }
      const a = v.application;
      const result = {
        org: a.org,
        nodeId: a.nodeId,
        p2pUrl: a.p2pUrl,
        apiUrl: a.apiUrl,
        contact: a.contact,
        note: a.note ?? null,
        createdAtMs: a.createdAtMs,
        caKeyFingerprintHex: v.caKeyFingerprintHex,
        signature: 'valid',
        consortium,
      };
      if (consortium && consortium.conflicts.length > 0) {
        out.result(result, () => describeApplication(v).join('\n'));
        throw new CliError(`application of ${a.org} refused: ${consortium.conflicts.join('; ')}`, 1);
      }
      out.result(result, () =>
        [
          ...describeApplication(v),
          consortium
            ? `  consortium  no conflict with config ${consortium.sequence} (${consortium.orgs.join(', ')}); admitting it needs admins of ${consortium.needed} hospitals`
            : '  consortium  not checked (--offline)',
          `next: medledger config propose --application ${file} --out <update file>, then config sign / config submit as for any config update`,
        ].join('\n'),
      );
    });

  // Where the root key is kept apart from the admins (the supervision centre): certify there,
  // hand the certificate to the proposing admin (config propose --application … --org-ca).
  org
    .command('certify <application>')
    .description("Where the consortium root key is: check an application and certify the applicant's own CA key (for config propose --application … --org-ca)")
    .option('--dir <dir>', `consortium directory whose crypto/ holds the root certificate and key (default ${DEFAULT_CONSORTIUM_DIR})`)
    .option('--root-cert <pem>', 'the root CA certificate (instead of <dir>/crypto/root-ca.pem)')
    .option('--root-key <pem>', 'the root CA key (instead of <dir>/crypto/root-ca-key.pem)')
    .requiredOption('--out <file>', 'where to write the certified CA certificate')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, flags: { dir?: string; rootCert?: string; rootKey?: string; out: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const v = readApplicationFile(resolve(file));
      const cryptoDir = join(resolve(flags.dir ?? DEFAULT_CONSORTIUM_DIR), 'crypto');
      const rootCertPem = readPemFile(flags.rootCert ?? join(cryptoDir, 'root-ca.pem'), 'root-cert');
      const rootKeyPem = readPemFile(flags.rootKey ?? join(cryptoDir, 'root-ca-key.pem'), 'root-key');
      const pem = await certifiedCa(v, rootCertPem, { rootKeyPem });
      writeFileSync(resolve(flags.out), pem, { mode: 0o644 });
      out.result(
        { org: v.application.org, caKeyFingerprintHex: v.caKeyFingerprintHex, file: resolve(flags.out) },
        () => `${v.application.org}'s CA (key sha256:${v.caKeyFingerprintHex}) certified by the root: ${resolve(flags.out)}`,
      );
    });

  org
    .command('join')
    .description(
      "On the admitted hospital's machine: download the config in force and the genesis block from any member node, check them, write node.yaml; --start runs the node until it has caught up",
    )
    .requiredOption('--dir <dir>', 'the directory medledger org apply wrote')
    .requiredOption('--from <url>', "a member node's API URL (https://host:port)")
    .requiredOption('--root-ca <pem>', "the consortium's root CA certificate, obtained from the consortium by another channel (the only TLS trust anchor)")
    .option(
      '--genesis-hash <hex>',
      "the consortium's genesis block hash, obtained with the root CA (a member's `medledger status`): the genesis block the node sends must have it",
    )
    .option('--user <name>', 'the admin whose key signs the requests', 'admin1')
    .option('--start', 'start the node (detached) and wait until it has synced past its admission')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { dir: string; from: string; rootCa: string; genesisHash?: string; user: string; start?: boolean; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const dir = resolve(flags.dir);
      const state = readApplicantState(dir);
      if (!/^https:\/\/[^/?#@]+:\d{1,5}\/?$/.test(flags.from)) throw new CliError(`--from ${flags.from.slice(0, 100)}: a node's API URL, https://host:port`, 2);
      if (flags.genesisHash !== undefined && !/^[0-9a-fA-F]{64}$/.test(flags.genesisHash))
        throw new CliError(`--genesis-hash ${flags.genesisHash.slice(0, 100)}: 64 hexadecimal digits (a SHA-256 hash)`, 2);
      const rootCertPem = readPemFile(flags.rootCa, 'root-ca');
      try {
        checkSelfSignedCa(parseCertificate(rootCertPem));
      } catch (err) {
        throw new CliError(`--root-ca ${flags.rootCa}: not a root CA certificate (${(err as Error).message})`, 2);
      }
      const userDir = join(dir, 'crypto', state.org, flags.user);
      if (!existsSync(join(userDir, 'key.pem'))) throw new CliError(`--user ${flags.user}: no identity of ${state.org} in ${join(dir, 'crypto')}`, 2);
      const client = new MedLedgerClient({
        url: flags.from,
        certPem: readFileSync(join(userDir, 'cert.pem'), 'utf8'),
        keyPem: readFileSync(join(userDir, 'key.pem'), 'utf8'),
        caPem: rootCertPem,
        timeoutMs: 20_000,
      });
      let nodeYaml: string;
      let plan;
      try {
        let live;
        try {
          live = await client.config();
        } catch (err) {
          // Before the update commits the node does not know this hospital's CA: its admin is a stranger.
          if (err instanceof MedLedgerApiError && err.status === 401)
            throw new CliError(`${state.org} is not admitted yet (the node refuses its admin: ${err.message})`, 1);
          throw err;
        }
        const genesis = await runUpdate(() => client.rawBlock(0));
        plan = planJoin(dir, state, { sequence: live.sequence, config: live.state.record.config }, genesis.block, rootCertPem, flags.genesisHash);
        nodeYaml = configureJoined(dir, state, plan, rootCertPem);
      } catch (err) {
        if (err instanceof MedLedgerApiError) throw new CliError(`${flags.from}: ${err.code}: ${err.message}`, 1);
        throw err;
      } finally {
        client.close();
      }
      const nodeDir = join(dir, state.org);
      const orders = plan.config.orderers.some((o) => o.id === state.nodeId);
      let joined: { height: number; voters: readonly string[] } | null = null;
      if (flags.start) {
        out.info(`starting ${state.nodeId} …`);
        const pid = spawnNode(nodeDir, { detached: true });
        writeFileSync(join(nodeDir, 'node.pid'), `${pid}\n`);
        joined = await waitJoined(nodeDir, pid, state.nodeId, 0, orders);
      }
      out.result(
        {
          org: state.org,
          nodeId: state.nodeId,
          config: nodeYaml,
          sequence: plan.sequence,
          orderer: orders,
          started: joined !== null,
          height: joined?.height ?? null,
        },
        () =>
          [
            `${state.org} is a member (config sequence ${plan.sequence}); configured ${nodeYaml}`,
            `  genesis block and root certificate written to ${dir}; its CA, as the root certified it, in ${join(dir, 'crypto', state.org, 'ca.pem')}`,
            orders
              ? `  it orders too: ${newOrdererNote(plan.config.ordering.engine)}`
              : `  peer only: the ${plan.config.ordering.engine} engine has a fixed orderer set`,
            joined
              ? `  started: synced to block ${joined.height}; check its connections with: medledger node check --dir ${flags.dir} --org ${state.org}`
              : `  start it with: medledger node start --config ${nodeYaml}; then: medledger node check --dir ${flags.dir} --org ${state.org}`,
          ].join('\n'),
      );
    });

  const config = program.command('config').description('The consortium configuration, and config updates signed by admins on their own hosts');

  withConnectOptions(
    config.command('propose').description('Start a config update as an admin (your signature first) and write it to a file for the other admins to sign'),
    { apiUrlAlias: false },
  )
    .option('--add-org <name>', 'add a hospital (with --org-ca, --node-cert, --p2p-url, --api-url)')
    .option('--org-ca <pem>', "the new hospital's CA certificate, issued by the consortium root")
    .option('--node-cert <pem>', "the new hospital's node certificate")
    .option('--p2p-url <url>', 'wss://host:port of its node')
    .option('--api-url <url>', 'https://host:port of its API')
    .option('--remove-org <name>', 'remove a hospital')
    .option(
      '--capability <name>',
      `switch a capability on for the whole chain, never off again (${CAPABILITIES.join(', ')}: every proposal must name this consortium, decision 1389)`,
    )
    .option('--application <file>', 'admit a hospital that applied (medledger org apply): its CA is certified by the root, with --root-key or --org-ca')
    .option('--root-key <pem>', "the consortium root CA key that certifies the applicant's CA (default: <dir>/crypto/root-ca-key.pem if there)")
    .requiredOption('--out <file>', 'where to write the update')
    .action(
      async (
        flags: ConnectFlags & {
          addOrg?: string;
          orgCa?: string;
          nodeCert?: string;
          p2pUrl?: string;
          apiUrl?: string;
          removeOrg?: string;
          capability?: string;
          application?: string;
          rootKey?: string;
          out: string;
        },
      ) => {
        const out = makeOutput(flags.json ?? false);
        if ([flags.addOrg, flags.removeOrg, flags.capability, flags.application].filter((x) => x !== undefined).length !== 1)
          throw new CliError('give exactly one of --add-org, --remove-org, --capability or --application', 2);
        const capability = flags.capability;
        if (capability !== undefined && !(CAPABILITIES as readonly string[]).includes(capability))
          throw new CliError(`--capability ${capability.slice(0, 64)}: not a capability (known: ${CAPABILITIES.join(', ')})`, 2);
        // The application is checked before anything else: a tampered file never reaches a node.
        const applied = flags.application !== undefined ? readApplicationFile(resolve(flags.application)) : null;
        const me = resolveSigner(flags);
        const client = resolveClient(flags);
        try {
          const live = await runUpdate(() => client.config());
          let next: ConsortiumConfig;
          if (applied) {
            const conflicts = conflictsWithConfig(applied, live.state.record.config);
            if (conflicts.length > 0) throw new CliError(`application of ${applied.application.org} refused: ${conflicts.join('; ')}`, 1);
            const rootCertPem = live.state.record.config.rootCertPem;
            const rootKeyPath =
              flags.rootKey ?? (flags.orgCa === undefined ? join(resolve(flags.dir ?? DEFAULT_CONSORTIUM_DIR), 'crypto', 'root-ca-key.pem') : undefined);
            let caPem: string;
            if (rootKeyPath !== undefined) {
              if (!existsSync(rootKeyPath))
                throw new CliError(
                  `the root CA key is not at ${rootKeyPath}: the applicant's CA must be certified where the root key is (--root-key <pem>), or pass the certified CA with --org-ca`,
                  2,
                );
              caPem = await certifiedCa(applied, rootCertPem, { rootKeyPem: readPemFile(rootKeyPath, 'root-key') });
            } else {
              caPem = await certifiedCa(applied, rootCertPem, { givenPem: readPemFile(flags.orgCa!, 'org-ca') });
            }
            next = await runUpdate(async () => configWithHospital(live.state.record.config, hospitalFromApplication(applied, caPem, live.engine)));
          } else if (flags.addOrg !== undefined) {
            const name = flags.addOrg;
            if (!ORG_NAME.test(name)) throw new CliError(`--add-org ${name.slice(0, 64)}: not a hospital name`, 2);
            for (const [opt, v] of [
              ['--org-ca', flags.orgCa],
              ['--node-cert', flags.nodeCert],
              ['--p2p-url', flags.p2pUrl],
              ['--api-url', flags.apiUrl],
            ] as const) {
              if (!v) throw new CliError(`--add-org needs ${opt}`, 2);
            }
            const caCertPem = readPemFile(flags.orgCa!, 'org-ca');
            const nodeCertPem = readPemFile(flags.nodeCert!, 'node-cert');
            const roles: ('peer' | 'orderer')[] = RUNTIME_MEMBERSHIP_ENGINES.has(live.engine) ? ['peer', 'orderer'] : ['peer'];
            next = await runUpdate(async () =>
              configWithHospital(live.state.record.config, {
                org: name,
                caCertPem,
                nodeCertPem,
                endpoint: { id: nodeIdOf(name), org: name, roles, p2pUrl: flags.p2pUrl!, apiUrl: flags.apiUrl! },
              }),
            );
          } else if (capability !== undefined) {
            const current = live.state.record.config;
            if (hasCapability(current, capability as Capability)) throw new CliError(`capability ${capability} is already on in config ${live.sequence}`, 1);
            next = { ...current, capabilities: [...(current.capabilities ?? []), capability as Capability] };
          } else {
            next = await runUpdate(async () => configWithoutHospital(live.state.record.config, flags.removeOrg!));
          }
          const consortium = await runUpdate(() => client.consortium());
          const draft = await runUpdate(async () =>
            signConfigDraft(
              startConfigDraft({
                state: live.state,
                next,
                creatorCertPem: me.certPem,
                nonce: new Uint8Array(randomBytes(24)),
                timestampMs: Date.now(),
                ...(consortium === undefined ? {} : { consortium }),
              }).draft,
              me,
            ),
          );
          writeFileSync(resolve(flags.out), encodeConfigDraft(draft), { mode: 0o644 });
          const { summary } = readDraft(flags.out);
          const signers = signedOrgs(draft, live.state.record.config);
          const needed = configSignaturesNeeded(live.state.record.config);
          out.result(
            {
              file: resolve(flags.out),
              txId: summary.txId,
              sequence: summary.record.sequence,
              signedBy: signers,
              needed,
              ...(applied ? { application: { org: applied.application.org, caKeyFingerprintHex: applied.caKeyFingerprintHex } } : {}),
            },
            () =>
              [
                ...(applied ? [`admits ${applied.application.org} (CA key sha256:${applied.caKeyFingerprintHex}), its CA certified by the root`] : []),
                describeDraft(summary, signers, needed),
                `written to ${resolve(flags.out)}; next: medledger config sign ${flags.out} (by other hospitals' admins), then medledger config submit ${flags.out} (by you)`,
              ].join('\n'),
          );
        } finally {
          client.close();
        }
      },
    );

  withConnectOptions(config.command('sign <file>').description('Add your admin signature to a config update file (offline: only your key is used)')).action(
    async (file: string, flags: ConnectFlags) => {
      const out = makeOutput(flags.json ?? false);
      const { draft, summary } = readDraft(file);
      const me = resolveSigner(flags);
      // Signing offline with a consortium directory: refuse an update built for another consortium (decision 1389).
      const genesisPath = flags.cert ? null : join(resolve(flags.dir ?? DEFAULT_CONSORTIUM_DIR), 'genesis.block');
      if (summary.consortium !== undefined && genesisPath !== null && existsSync(genesisPath)) {
        const mine = consortiumIdOf(dirname(genesisPath));
        if (mine !== summary.consortium)
          throw new CliError(
            `${file} is an update of another consortium (genesis ${summary.consortium.slice(0, 16)}…), not of ${dirname(genesisPath)} (genesis ${mine.slice(0, 16)}…): not signed`,
            1,
          );
      }
      const signed = signConfigDraft(draft, me);
      writeFileSync(resolve(file), encodeConfigDraft(signed), { mode: 0o644 });
      const signers = signedOrgs(signed, summary.record.config);
      out.result({ file: resolve(file), txId: summary.txId, sequence: summary.record.sequence, signatures: signed.endorsements.length }, () =>
        [describeDraft(summary, signers, null), `signed; ${signed.endorsements.length} signature(s) in ${resolve(file)}`].join('\n'),
      );
    },
  );

  withConnectOptions(
    config.command('submit <file>').description('Submit a config update file you proposed, once enough admins have signed it; waits for its validation code'),
  ).action(async (file: string, flags: ConnectFlags) => {
    const out = makeOutput(flags.json ?? false);
    const { draft, summary } = readDraft(file);
    const me = resolveSigner(flags);
    if (me.certPem.trim() !== summary.creator.trim())
      throw new CliError("only the admin who proposed this update can submit it (the gateway accepts its caller's own transactions)", 2);
    const client = resolveClient(flags);
    try {
      const live = await runUpdate(() => client.config());
      const needed = configSignaturesNeeded(live.state.record.config);
      const signers = signedOrgs(draft, live.state.record.config);
      if (signers.length < needed)
        throw new CliError(`admins of ${needed} hospitals must sign; signed by ${signers.join(', ') || 'none'} (medledger config sign ${file})`, 1);
      if (live.sequence + 1 !== summary.record.sequence)
        throw new CliError(`the update was built on config ${summary.record.sequence - 1}, but config ${live.sequence} is in force: propose it again`, 1);
      const status = await runUpdate(() => client.submitEnvelope(finishConfigDraft(draft, me.signer), { waitMs: 30_000 }));
      if (status.code !== 'VALID')
        throw new CliError(`config update ${summary.txId} was not committed: ${status.code ?? status.status}${status.reason ? ` (${status.reason})` : ''}`, 1);
      out.result(
        { txId: summary.txId, sequence: summary.record.sequence, blockNumber: status.blockNumber },
        () => `config update ${summary.record.sequence} committed in block ${status.blockNumber}: ${summary.record.config.orgs.map((o) => o.org).join(', ')}`,
      );
    } finally {
      client.close();
    }
  });

  withConnectOptions(
    config
      .command('show')
      .description('The configuration in force on a node: sequence, hospitals, orderers, nodes, contracts and who must sign the next update'),
  ).action(async (flags: ConnectFlags) => {
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
          `capabilities: ${c.capabilities?.join(', ') || 'none'}`,
        ].join('\n'),
      );
    } finally {
      client.close();
    }
  });
}

const DRAFT_FILE_BYTES_MAX = 8 * 1024 * 1024;

/** The signing identity of the connect flags (a key on this host; nothing goes over the network). */
function resolveSigner(flags: ConnectFlags): ConfigSigner {
  let certPem: string;
  let keyPem: string;
  if (flags.cert || flags.key) {
    if (!flags.cert || !flags.key) throw new CliError('--cert and --key go together', 2);
    certPem = readPemFile(flags.cert, 'cert');
    keyPem = readPemFile(flags.key, 'key');
  } else {
    try {
      ({ certPem, keyPem } = userCredentials(resolve(flags.dir ?? DEFAULT_CONSORTIUM_DIR), flags.org ?? 'Hospital1', flags.user ?? 'admin1'));
    } catch (err) {
      if (err instanceof MedLedgerApiError) throw new CliError(err.message, 2);
      throw err;
    }
  }
  let key;
  try {
    key = parsePrivateKey(keyPem);
  } catch (err) {
    throw new CliError(`signing key: ${(err as Error).message}`, 2);
  }
  return { certPem, signer: { sign: (m) => sign(key, m) } };
}

function readDraft(path: string): ReturnType<typeof decodeConfigDraft> {
  try {
    const p = resolve(path);
    if (!existsSync(p)) throw new CliError(`config update file ${path}: no such file`, 2);
    if (statSync(p).size > DRAFT_FILE_BYTES_MAX) throw new CliError(`config update file ${path}: larger than ${DRAFT_FILE_BYTES_MAX} bytes`, 2);
    return decodeConfigDraft(new Uint8Array(readFileSync(p)));
  } catch (err) {
    if (err instanceof ConfigUpdateError) throw new CliError(`${path}: ${err.message}`, 2);
    throw err;
  }
}

/** Distinct organisations whose admins signed (certificate subject O=…, as the MSP will see it). */
function signedOrgs(draft: ConfigDraft, config: ConsortiumConfig): string[] {
  const msp = new Msp({ rootCertPem: config.rootCertPem, orgs: config.orgs.map((o) => ({ org: o.org, caCertPem: o.caCertPem })) });
  const orgs = new Set<string>();
  for (const e of draft.endorsements) {
    try {
      const id = msp.validate(e.endorser, Date.now());
      if (id.role === 'admin') orgs.add(id.org);
    } catch {
      // Not an admin of a member organisation: it will not count at validation either.
    }
  }
  return [...orgs].sort();
}

function describeDraft(summary: ConfigDraftSummary, signers: readonly string[], needed: number | null): string {
  const c = summary.record.config;
  return [
    `config update ${summary.record.sequence} (tx ${summary.txId.slice(0, 16)}…), built on ${summary.basedOn ? `the config committed in block ${summary.basedOn.block}` : 'genesis'}${summary.consortium ? ` of the consortium of genesis ${summary.consortium.slice(0, 16)}…` : ''}`,
    `  hospitals: ${c.orgs.map((o) => o.org).join(', ')}`,
    `  orderers:  ${c.orderers.map((o) => o.id).join(', ')}`,
    ...(c.capabilities?.length ? [`  capabilities: ${c.capabilities.join(', ')}`] : []),
    `  signed by admins of: ${signers.join(', ') || 'nobody yet'}${needed !== null ? ` (${needed} needed)` : ''}`,
  ].join('\n');
}

/** Wait until the new node has left joining mode, caught up and (if it orders) is a voter. */
async function waitJoined(
  nodeDir: string,
  pid: number,
  nodeId: string,
  configBlock: number,
  orders: boolean,
): Promise<{ height: number; voters: readonly string[] }> {
  const deadline = Date.now() + JOIN_TIMEOUT_MS;
  for (;;) {
    if (!isAlive(pid)) throw new CliError(`the node in ${nodeDir} exited; see ${join(nodeDir, 'node.log')}`, 1);
    const s = readStatusFile(nodeDir);
    const voters = s?.consensus?.members ?? [];
    if (s && !s.joining && s.height >= configBlock && (!orders || voters.includes(nodeId))) return { height: s.height, voters };
    if (Date.now() > deadline)
      throw new CliError(
        `${nodeId} did not join within ${JOIN_TIMEOUT_MS / 1000} s (height ${s?.height ?? '?'}, joining ${s?.joining ?? '?'}); see ${join(nodeDir, 'node.log')}`,
        1,
      );
    await sleep(250);
  }
}

const placementSchema = z
  .object({
    lat: z.coerce.number().min(-90).max(90).optional(),
    lon: z.coerce.number().min(-180).max(180).optional(),
    rating: z.coerce.number().min(0).max(1).optional(),
  })
  .refine((p) => (p.lat === undefined) === (p.lon === undefined), { message: '--lat and --lon go together' });

/** `org add --lat --lon --rating`: a gpbft hospital's node entry (decision 1280). */
type PlacementFlags = { lat?: string; lon?: string; rating?: string };

function gpbftPlacement(flags: PlacementFlags): { location?: { lat: number; lon: number }; rating?: number } {
  const parsed = placementSchema.safeParse({ lat: flags.lat, lon: flags.lon, rating: flags.rating });
  if (!parsed.success) throw new CliError(`--lat/--lon/--rating: ${parsed.error.issues.map((i) => i.message).join('; ')}`, 2);
  const { lat, lon, rating } = parsed.data;
  return { ...(lat !== undefined && lon !== undefined ? { location: { lat, lon } } : {}), ...(rating !== undefined ? { rating } : {}) };
}

/** How the consortium's engine takes in a new orderer (decisions 0005, 1270, 1280, 1290, 1295). */
function newOrdererNote(engine: string): string {
  if (engine === 'raft') return 'Raft takes it in as a learner and promotes it to voter once it has caught up';
  if (engine === 'pbft') return 'the primary orders a membership entry for it; it comes in by state transfer, then votes';
  if (engine === 'hashgen' || engine === 'hashgen-bft')
    return 'the generator proposes a membership entry for it; it fetches the decided blocks, then validates';
  if (engine === 'ehbft') return 'the leader proposes a membership block for it; it fetches the decided blocks, then votes';
  if (engine === 'gpbft') return "the members order the paper's join step for it (to the nearest group); it catches up from their blocks, then votes";
  return `the ${engine} engine moves its orderer set toward the new config one orderer at a time`;
}
