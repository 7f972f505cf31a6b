// People (and devices) over the life of a consortium (issue 12, item 1):
//   medledger user request --name <name> --out <dir>     on the user's machine: key + signing request
//   medledger user enrol   --org X --request <csr> --role R   the hospital's CA admin issues the certificate
//   medledger user revoke  --org X --user <name> | --serial <hex>   signed revocation, on chain
//   medledger user list    --org X                       identities in the directory, revoked or not
// The private key is made where it will be used and never passes through the hospital or a node.
// A revocation is a revocation list signed by the hospital's CA key, added to the consortium
// configuration by a config update that the hospital's own admin signs alone (decision 1206);
// every node's MSP refuses the certificate from the next block on.
import type { Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCertificate, parsePrivateKey, sign } from '../../crypto/index.ts';
import { createEnrolmentRequest, enrolFromRequest, readEnrolmentRequest } from '../../identity/enrolment.ts';
import { createRevocationList, isIssuableRole, isValidIdentityName, loadConsortium, ROLES, type Role } from '../../identity/index.ts';
import { loadPseudonymKey, pseudonymOf } from '../../identity/pseudonym.ts';
import { configWithRevocation, type ConfigSigner } from '../../ledger/config-update.ts';
import { clientFromDir, MedLedgerApiError } from '../../sdk/index.ts';
import { submitConfigUpdate } from '../membership.ts';
import { CliError, makeOutput } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_CONSORTIUM_DIR } from './tx.ts';

const ORG_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

function consortiumDir(flag: string | undefined): string {
  const dir = resolve(flag ?? DEFAULT_CONSORTIUM_DIR);
  if (!existsSync(join(dir, 'genesis.block')))
    throw new CliError(`--dir ${flag ?? DEFAULT_CONSORTIUM_DIR}: no consortium there (genesis.block missing; run medledger init or up)`, 2);
  return dir;
}

function orgOf(flag: string | undefined, dir: string): string {
  if (!flag || !ORG_NAME.test(flag)) throw new CliError('--org <hospital> is required (e.g. --org Hospital1)', 2);
  if (!existsSync(join(dir, 'crypto', flag, 'ca.pem'))) throw new CliError(`--org ${flag}: no such hospital in ${dir}`, 2);
  return flag;
}

function readSmallFile(path: string, what: string): string {
  if (!existsSync(path)) throw new CliError(`${what} ${path}: no such file`, 2);
  if (statSync(path).size > 64 * 1024) throw new CliError(`${what} ${path}: larger than 64 KiB`, 2);
  return readFileSync(path, 'utf8');
}

function failure(err: unknown): never {
  if (err instanceof CliError) throw err;
  if (err instanceof MedLedgerApiError) throw new CliError(`${err.message} (${err.code})`, 1);
  throw new CliError((err as Error).message, 1);
}

export function register(program: Command, _ctx: CommandContext): void {
  const user = program.command('user').description('Enrol, list and revoke the people and devices of a hospital (certificates from its CA)');

  user
    .command('request')
    .description("On the user's own machine: make a key pair and a certificate signing request; send only the request to the hospital")
    .requiredOption('--name <name>', 'the name to be known by (a patient: their login name; the hospital issues the certificate to their pseudonym)')
    .requiredOption('--out <dir>', 'where to write key.pem (stays here) and request.pem (to send)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { name: string; out: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      if (!isValidIdentityName(flags.name))
        throw new CliError(`--name ${flags.name.slice(0, 80)}: a letter or digit, then up to 63 letters, digits, '.', '_', '@', '-'`, 2);
      const dir = resolve(flags.out);
      if (existsSync(join(dir, 'key.pem'))) throw new CliError(`${dir} already holds a key.pem; choose another --out (a key is never overwritten)`, 2);
      const { csrPem, keyPem } = await createEnrolmentRequest(flags.name).catch(failure);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
      writeFileSync(join(dir, 'request.pem'), csrPem);
      out.result(
        { key: join(dir, 'key.pem'), request: join(dir, 'request.pem') },
        () =>
          `key:     ${join(dir, 'key.pem')} (keep it here; it never leaves this machine)\nrequest: ${join(dir, 'request.pem')} (send this to your hospital's administrator)`,
      );
    });

  user
    .command('enrol')
    .description("The hospital's CA admin: check a signing request and issue the certificate (a new person, or a new key for one: re-enrolment)")
    .option('--dir <dir>', `consortium directory (default ${DEFAULT_CONSORTIUM_DIR})`)
    .option('--org <hospital>', 'the issuing hospital (its CA key is in <dir>/crypto/<org>/ca-key.pem)')
    .requiredOption('--request <file>', 'the request.pem the user sent')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--out <file>', 'where to write the certificate (default <dir>/crypto/<org>/<name>/cert.pem)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { dir?: string; org?: string; request: string; role: string; out?: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const dir = consortiumDir(flags.dir);
      const org = orgOf(flags.org, dir);
      if (!isIssuableRole(flags.role)) throw new CliError(`--role ${flags.role.slice(0, 40)}: one of ${ROLES.join(', ')}`, 2);
      const role: Role = flags.role;
      const csrPem = readSmallFile(resolve(flags.request), '--request');
      const consortium = loadConsortium(join(dir, 'crypto'));
      const ca = consortium.orgCas.get(org);
      if (!ca || ca.keyPem === '')
        throw new CliError(`this directory does not hold ${org}'s CA key (crypto/${org}/ca-key.pem): enrol on the host that keeps it`, 2);
      const requested = await readEnrolmentRequest(csrPem).catch(failure);
      // A patient's certificate names their pseudonym, derived by their hospital's key from the
      // login name they asked with (decision 0906): their name never reaches the chain.
      const pseudonym = role === 'patient' ? pseudonymOf(loadPseudonymKey(join(dir, 'crypto'), org), requested.commonName) : undefined;
      const issued = await enrolFromRequest(ca, csrPem, { role, ...(pseudonym ? { pseudonym, commonName: pseudonym } : {}) }).catch(failure);
      const target = resolve(flags.out ?? join(dir, 'crypto', org, requested.commonName, 'cert.pem'));
      mkdirSync(resolve(target, '..'), { recursive: true });
      writeFileSync(target, issued.certPem);
      const serialHex = parseCertificate(issued.certPem).serialHex;
      out.result({ org, name: requested.commonName, role, id: pseudonym ?? requested.commonName, serialHex, cert: target }, () =>
        [
          `issued ${org}/${requested.commonName} as ${role}${pseudonym ? ` (on chain as pseudonym ${pseudonym.slice(0, 12)}…)` : ''}, serial ${serialHex}`,
          `certificate: ${target} (send it back; with their key.pem it signs in)`,
        ].join('\n'),
      );
    });

  user
    .command('revoke')
    .description('Revoke a certificate of your hospital: signed by its CA, committed by its admin; every node refuses it from the next block')
    .option('--dir <dir>', `consortium directory (default ${DEFAULT_CONSORTIUM_DIR})`)
    .option('--org <hospital>', 'the hospital that issued the certificate')
    .option('--user <name>', 'the user whose certificate (<dir>/crypto/<org>/<name>/cert.pem) is revoked')
    .option('--serial <hex>', 'or the certificate serial (hex) itself')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { dir?: string; org?: string; user?: string; serial?: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const dir = consortiumDir(flags.dir);
      const org = orgOf(flags.org, dir);
      if ((flags.user === undefined) === (flags.serial === undefined)) throw new CliError('give --user <name> or --serial <hex> (one of them)', 2);
      let serialHex: string;
      let who: string;
      if (flags.user !== undefined) {
        if (!isValidIdentityName(flags.user)) throw new CliError(`--user ${flags.user.slice(0, 80)}: not a valid user name`, 2);
        const certPem = readSmallFile(join(dir, 'crypto', org, flags.user, 'cert.pem'), 'certificate');
        serialHex = parseCertificate(certPem).serialHex;
        who = `${org}/${flags.user}`;
      } else {
        if (!/^[0-9a-fA-F]{1,64}$/.test(flags.serial!)) throw new CliError(`--serial ${flags.serial!.slice(0, 80)}: 1-64 hex digits`, 2);
        serialHex = flags.serial!.toLowerCase().replace(/^0+/, '') || '0';
        who = `serial ${serialHex} of ${org}`;
      }
      const consortium = loadConsortium(join(dir, 'crypto'));
      const ca = consortium.orgCas.get(org);
      if (!ca || ca.keyPem === '') throw new CliError(`this directory does not hold ${org}'s CA key: revoke on the host that keeps it`, 2);
      const admin = consortium.users.find((u) => u.org === org && u.role === 'admin');
      if (!admin) throw new CliError(`no admin of ${org} in this directory to sign the update`, 2);
      const list = createRevocationList(ca, [serialHex], Date.now());
      const key = parsePrivateKey(admin.keyPem);
      const signer: ConfigSigner = { certPem: admin.certPem, signer: { sign: (m) => sign(key, m) } };
      const client = clientFromDir(dir, org, admin.commonName);
      try {
        const outcome = await submitConfigUpdate(
          client,
          () => [signer],
          (config) => configWithRevocation(config, list),
        ).catch(failure);
        out.result(
          { revoked: who, org, serialHex, sequence: outcome.sequence, blockNumber: outcome.blockNumber, txId: outcome.txId },
          () =>
            `revoked ${who} (serial ${serialHex}): config update ${outcome.sequence} in block ${outcome.blockNumber ?? '?'}; every node refuses this certificate from the next block`,
        );
      } finally {
        client.close();
      }
    });

  user
    .command('list')
    .description("A hospital's identities in this directory: name, role, serial, expiry, and whether the consortium has revoked it")
    .option('--dir <dir>', `consortium directory (default ${DEFAULT_CONSORTIUM_DIR})`)
    .option('--org <hospital>', 'the hospital')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { dir?: string; org?: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const dir = consortiumDir(flags.dir);
      const org = orgOf(flags.org, dir);
      const orgDir = join(dir, 'crypto', org);
      // The revocations in force, from the org's own node (the directory may be stale).
      let revoked = new Set<string>();
      let source = 'the consortium configuration on its node';
      const client = clientFromDir(dir, org, 'admin1');
      try {
        const { state } = await client.config();
        revoked = new Set((state.record.config.orgs.find((o) => o.org === org)?.revocations ?? []).flatMap((r) => r.serials));
      } catch (err) {
        source = `unknown (its node did not answer: ${(err as Error).message.slice(0, 120)})`;
      } finally {
        client.close();
      }
      const rows = readdirSync(orgDir)
        .filter((name) => existsSync(join(orgDir, name, 'cert.pem')))
        .sort()
        .map((name) => {
          const c = parseCertificate(readFileSync(join(orgDir, name, 'cert.pem'), 'utf8'));
          return {
            name,
            id: c.subject.commonName ?? name,
            role: c.subject.organizationalUnits.find((u) => (ROLES as readonly string[]).includes(u)) ?? c.subject.organizationalUnits[0] ?? '?',
            serialHex: c.serialHex,
            notAfter: new Date(c.notAfterMs).toISOString().slice(0, 10),
            revoked: revoked.has(c.serialHex),
          };
        });
      out.result({ org, revocationsFrom: source, users: rows }, () =>
        [
          `${org}: ${rows.length} identities (revocations: ${source})`,
          `  ${'name'.padEnd(22)} ${'role'.padEnd(11)} ${'expires'.padEnd(10)}  status`,
          ...rows.map((r) => `  ${r.name.padEnd(22)} ${r.role.padEnd(11)} ${r.notAfter}  ${r.revoked ? 'REVOKED' : 'valid'}`),
        ].join('\n'),
      );
    });
}
