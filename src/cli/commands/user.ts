// People (and devices) over the life of a consortium (issue 12, item 1):
//   medledger user register --org X --name N --role R    the admin registers a person on X's node → one-time secret
//   medledger user request --name <name> --out <dir> [--submit <url> --secret <s> --ca <root-ca.pem>]
//                                                        on the user's machine: key + signing request (submitted with the secret)
//   medledger user enrol   --org X --pending | --id <id>  the CA admin issues the node's pending requests here and uploads them
//   medledger user enrol   --org X --request <csr> --role R   ... or a request handed over by hand
//   medledger user collect --out <dir> --secret <s>      the user fetches the certificate into <dir> (the secret is then spent)
//   medledger user revoke  --org X --user <name> | --serial <hex>   signed revocation, on chain
//   medledger user list    --org X                       identities in the directory, revoked or not
// The private key is made where it will be used and never passes through the hospital or a node.
// A revocation is a revocation list signed by the hospital's CA key, added to the consortium
// configuration by a config update that the hospital's own admin signs alone (decision 1206);
// every node's MSP refuses the certificate from the next block on.
import type { Command } from 'commander';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCertificate, parsePrivateKey, sign } from '../../crypto/index.ts';
import { createEnrolmentRequest, enrolFromRequest, readEnrolmentRequest } from '../../identity/enrolment.ts';
import { isIssuableRole, isValidIdentityName, loadConsortium, ROLES, type CertificateAuthority, type Role } from '../../identity/index.ts';
import { loadPseudonymKey, patientPseudonymOf } from '../../identity/pseudonym.ts';
import type { ConfigSigner } from '../../ledger/config-update.ts';
import { collectEnrolment, EnrolmentAdmin, requestEnrolment, revokeCertificates } from '../../sdk/enrolment.ts';
import { clientFromDir, MedLedgerApiError, type MedLedgerClient } from '../../sdk/index.ts';
import { CliError, makeOutput } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { DEFAULT_CONSORTIUM_DIR } from './tx.ts';
import { makeDirectory } from '../../files/directory.ts';

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

/** The org's CA (with its key, on this host), its first admin as a config signer, and a client as that admin. */
function adminOf(dir: string, org: string, needCaKey: boolean): { ca: CertificateAuthority; signer: ConfigSigner; client: MedLedgerClient; admin: string } {
  const consortium = loadConsortium(join(dir, 'crypto'));
  const ca = consortium.orgCas.get(org);
  if (!ca) throw new CliError(`no CA of ${org} in ${dir}`, 2);
  if (needCaKey && ca.keyPem === '')
    throw new CliError(`this directory does not hold ${org}'s CA key (crypto/${org}/ca-key.pem): do this on the host that keeps it`, 2);
  const admin = consortium.users.find((u) => u.org === org && u.role === 'admin');
  if (!admin) throw new CliError(`no admin of ${org} in this directory`, 2);
  const key = parsePrivateKey(admin.keyPem);
  return {
    ca,
    signer: { certPem: admin.certPem, signer: { sign: (m) => sign(key, m) } },
    client: clientFromDir(dir, org, admin.commonName),
    admin: admin.commonName,
  };
}

const ENROLMENT_FILE = 'enrolment.json';

export function register(program: Command, ctx: CommandContext): void {
  const user = program.command('user').description('Enrol, list and revoke the people and devices of a hospital (certificates from its CA)');

  user
    .command('request')
    .description("On the user's own machine: make a key pair and a certificate signing request; send only the request to the hospital")
    .requiredOption('--name <name>', 'the name to be known by (a patient: their login name; the hospital issues the certificate to their pseudonym)')
    .requiredOption('--out <dir>', 'where to write key.pem (stays here) and request.pem (to send)')
    .option('--submit <url>', "submit the request to your hospital's node (https://host:port of its API; needs --secret and --ca)")
    .option('--secret <secret>', 'the enrolment secret your administrator gave you (medledger user register)')
    .option('--ca <file>', "the consortium root CA certificate (root-ca.pem): how this machine recognises the node's TLS certificate")
    .option('--json', 'print the result as JSON')
    .action(async (flags: { name: string; out: string; submit?: string; secret?: string; ca?: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      if (!isValidIdentityName(flags.name))
        throw new CliError(`--name ${flags.name.slice(0, 80)}: a letter or digit, then up to 63 letters, digits, '.', '_', '@', '-'`, 2);
      if (flags.submit !== undefined && (flags.secret === undefined || flags.ca === undefined))
        throw new CliError('--submit needs --secret <the enrolment secret> and --ca <root-ca.pem>', 2);
      const caPem = flags.ca !== undefined ? readSmallFile(resolve(flags.ca), '--ca') : '';
      const dir = resolve(flags.out);
      if (existsSync(join(dir, 'key.pem'))) throw new CliError(`${dir} already holds a key.pem; choose another --out (a key is never overwritten)`, 2);
      const { csrPem, keyPem } = await createEnrolmentRequest(flags.name).catch(failure);
      makeDirectory(dir);
      writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
      writeFileSync(join(dir, 'request.pem'), csrPem);
      let enrolment: { id: string; url: string } | null = null;
      if (flags.submit !== undefined) {
        // The key stays written: a refused submission can be retried with the same request.pem.
        const r = await requestEnrolment({ url: flags.submit, caPem }, { secret: flags.secret!, csrPem }).catch(failure);
        enrolment = { id: r.id, url: flags.submit };
        writeFileSync(join(dir, ENROLMENT_FILE), `${JSON.stringify({ ...enrolment, caPem }, null, 2)}\n`);
      }
      out.result({ key: join(dir, 'key.pem'), request: join(dir, 'request.pem'), enrolment }, () =>
        [
          `key:     ${join(dir, 'key.pem')} (keep it here; it never leaves this machine)`,
          enrolment
            ? `request: submitted to ${enrolment.url} as enrolment ${enrolment.id}; once your administrator has issued it: medledger user collect --out ${flags.out} --secret <the same secret>`
            : `request: ${join(dir, 'request.pem')} (send this to your hospital's administrator)`,
        ].join('\n'),
      );
    });

  user
    .command('register')
    .description("The hospital's admin: register a person to enrol on its node (name, role); prints a one-time enrolment secret for them")
    .option('--dir <dir>', `consortium directory (default ${DEFAULT_CONSORTIUM_DIR})`)
    .option('--org <hospital>', 'the hospital')
    .requiredOption('--name <name>', 'the name they will ask with (a patient: their login name; the chain sees only their pseudonym)')
    .requiredOption('--role <role>', 'admin, doctor, nurse, patient, researcher, insurer, laboratory, supervisor or device (a sensor)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { dir?: string; org?: string; name: string; role: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const dir = consortiumDir(flags.dir);
      const org = orgOf(flags.org, dir);
      if (!isValidIdentityName(flags.name)) throw new CliError(`--name ${flags.name.slice(0, 80)}: not a valid user name`, 2);
      if (!isIssuableRole(flags.role) || flags.role === 'peer' || flags.role === 'orderer')
        throw new CliError(`--role ${flags.role.slice(0, 40)}: one of admin, doctor, nurse, patient, researcher, insurer, laboratory, supervisor, device`, 2);
      // A patient's pseudonym is derived here, where the hospital's key is (decision 0906).
      let pseudonym: string | undefined;
      if (flags.role === 'patient') {
        try {
          pseudonym = patientPseudonymOf(loadPseudonymKey(join(dir, 'crypto'), org), org, flags.name);
        } catch (err) {
          throw new CliError(`a patient is registered where ${org}'s pseudonymisation key is: ${(err as Error).message}`, 2);
        }
      }
      const { client } = adminOf(dir, org, false);
      try {
        const r = await new EnrolmentAdmin(client).register({ name: flags.name, role: flags.role, ...(pseudonym ? { pseudonym } : {}) }).catch(failure);
        out.result({ ...r, apiUrl: client.url }, () =>
          [
            `registered ${org}/${r.name} as ${r.role}${r.pseudonym ? ` (on chain as pseudonym ${r.pseudonym.slice(0, 12)}…)` : ''}; registration ${r.id}`,
            `enrolment secret (shown once; give it to ${r.name} privately; expires ${r.expiresAt}):`,
            `  ${r.secret}`,
            `they run: medledger user request --name ${r.name} --out <dir> --submit ${client.url} --secret <secret> --ca root-ca.pem`,
            `then you: medledger user enrol --org ${org} --pending`,
            ...(r.replacesSerials.length
              ? [`re-enrolment: their current certificate(s) ${r.replacesSerials.join(', ')} are revoked when you issue the new one`]
              : []),
          ].join('\n'),
        );
      } finally {
        client.close();
      }
    });

  user
    .command('collect')
    .description("On the user's machine: fetch the issued certificate of a submitted request into --out (beside key.pem); the secret is then spent")
    .requiredOption('--out <dir>', 'the directory of `user request --submit` (key.pem, enrolment.json)')
    .requiredOption('--secret <secret>', 'the enrolment secret')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { out: string; secret: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const dir = resolve(flags.out);
      let enrolment: { id: string; url: string; caPem: string };
      try {
        enrolment = JSON.parse(readSmallFile(join(dir, ENROLMENT_FILE), 'enrolment')) as typeof enrolment;
      } catch (err) {
        if (err instanceof CliError) throw new CliError(`${dir} holds no submitted request (${ENROLMENT_FILE}): run medledger user request --submit first`, 2);
        throw new CliError(`${join(dir, ENROLMENT_FILE)} is not readable JSON`, 2);
      }
      if (existsSync(join(dir, 'cert.pem'))) throw new CliError(`${dir} already holds a cert.pem (a certificate is never overwritten)`, 2);
      const keyPem = readSmallFile(join(dir, 'key.pem'), 'key');
      const r = await collectEnrolment({ url: enrolment.url, caPem: enrolment.caPem }, { id: enrolment.id, secret: flags.secret, keyPem }).catch(failure);
      if (r.certPem === null || r.caChainPem === null)
        throw new CliError(
          `enrolment ${r.id} is ${r.status}: not issued yet; ask your administrator to run medledger user enrol --pending, then collect again`,
          1,
        );
      writeFileSync(join(dir, 'cert.pem'), r.certPem);
      writeFileSync(join(dir, 'ca-chain.pem'), r.caChainPem);
      const c = parseCertificate(r.certPem);
      out.result({ id: r.id, cert: join(dir, 'cert.pem'), caChain: join(dir, 'ca-chain.pem'), serialHex: c.serialHex, org: c.subject.organization }, () =>
        [
          `certificate: ${join(dir, 'cert.pem')} (${c.subject.organization}, serial ${c.serialHex}); with key.pem beside it, it signs in`,
          `CA chain:    ${join(dir, 'ca-chain.pem')}`,
        ].join('\n'),
      );
    });

  user
    .command('enrol')
    .description(
      "The hospital's CA admin: issue certificates here (the CA key never leaves this host) — the requests pending on the node (--pending, --id), or a request handed over (--request)",
    )
    .option('--dir <dir>', `consortium directory (default ${DEFAULT_CONSORTIUM_DIR})`)
    .option('--org <hospital>', 'the issuing hospital (its CA key is in <dir>/crypto/<org>/ca-key.pem)')
    .option('--pending', "issue every request pending on the hospital's node (medledger user register + request --submit) and upload the certificates")
    .option('--id <id>', 'issue this pending enrolment only')
    .option('--keep-old', 're-enrolment: do not revoke the earlier certificates of the same name')
    .option('--request <file>', 'or: the request.pem the user sent')
    .option('--role <role>', `with --request: one of ${ROLES.join(', ')}`)
    .option('--out <file>', 'with --request: where to write the certificate (default <dir>/crypto/<org>/<name>/cert.pem)')
    .option('--json', 'print the result as JSON')
    .action(
      async (flags: {
        dir?: string;
        org?: string;
        pending?: boolean;
        id?: string;
        keepOld?: boolean;
        request?: string;
        role?: string;
        out?: string;
        json?: boolean;
      }) => {
        const out = makeOutput(flags.json ?? false);
        const dir = consortiumDir(flags.dir);
        const org = orgOf(flags.org, dir);
        const fromNode = flags.pending === true || flags.id !== undefined;
        if (fromNode === (flags.request !== undefined)) throw new CliError('give --pending (or --id <id>), or --request <file> --role <role>', 2);
        if (fromNode) {
          if (!(await enrolPending(out, dir, org, flags))) ctx.exitCode = 1;
          return;
        }
        if (flags.role === undefined) throw new CliError('--request needs --role <role>', 2);
        if (!isIssuableRole(flags.role)) throw new CliError(`--role ${flags.role.slice(0, 40)}: one of ${ROLES.join(', ')}`, 2);
        const role: Role = flags.role;
        const csrPem = readSmallFile(resolve(flags.request!), '--request');
        const consortium = loadConsortium(join(dir, 'crypto'));
        const ca = consortium.orgCas.get(org);
        if (!ca || ca.keyPem === '')
          throw new CliError(`this directory does not hold ${org}'s CA key (crypto/${org}/ca-key.pem): enrol on the host that keeps it`, 2);
        const requested = await readEnrolmentRequest(csrPem).catch(failure);
        // A patient's certificate names their pseudonym, derived by their hospital's key from the
        // login name they asked with (decision 0906): their name never reaches the chain.
        const pseudonym = role === 'patient' ? patientPseudonymOf(loadPseudonymKey(join(dir, 'crypto'), org), org, requested.commonName) : undefined;
        const issued = await enrolFromRequest(ca, csrPem, { role, ...(pseudonym ? { pseudonym, commonName: pseudonym } : {}) }).catch(failure);
        const target = resolve(flags.out ?? join(dir, 'crypto', org, requested.commonName, 'cert.pem'));
        makeDirectory(resolve(target, '..'));
        writeFileSync(target, issued.certPem);
        const serialHex = parseCertificate(issued.certPem).serialHex;
        out.result({ org, name: requested.commonName, role, id: pseudonym ?? requested.commonName, serialHex, cert: target }, () =>
          [
            `issued ${org}/${requested.commonName} as ${role}${pseudonym ? ` (on chain as pseudonym ${pseudonym.slice(0, 12)}…)` : ''}, serial ${serialHex}`,
            `certificate: ${target} (send it back; with their key.pem it signs in)`,
          ].join('\n'),
        );
      },
    );

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
      const { ca, signer, client } = adminOf(dir, org, true);
      try {
        // The list is signed here with the CA key; the config update by the hospital's admin alone (decision 1206).
        const outcome = await revokeCertificates(client, { ca, serials: [serialHex], signers: [signer] }).catch(failure);
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

/** `user enrol --pending | --id`: issue the node's pending requests here, upload, revoke what a re-enrolment replaces. */
async function enrolPending(out: ReturnType<typeof makeOutput>, dir: string, org: string, flags: { id?: string; keepOld?: boolean }): Promise<boolean> {
  if (flags.id !== undefined && !/^[0-9a-f]{32}$/.test(flags.id)) throw new CliError(`--id ${flags.id.slice(0, 80)}: an enrolment id (32 hex digits)`, 2);
  const { ca, signer, client } = adminOf(dir, org, true);
  let pseudonymKey: string | undefined;
  try {
    pseudonymKey = loadPseudonymKey(join(dir, 'crypto'), org);
  } catch {
    pseudonymKey = undefined; // only patients need it; their issue is refused with a reason
  }
  try {
    const admin = new EnrolmentAdmin(client);
    const { issued, refused } = await admin
      .issuePending(ca, { ...(pseudonymKey ? { pseudonymKey } : {}), ...(flags.id ? { ids: [flags.id] } : {}) })
      .catch(failure);
    // Keep a copy in the directory, as `enrol --request` does (user list, user revoke --user read it).
    const written = issued.map((i) => {
      const target = join(dir, 'crypto', org, i.name, 'cert.pem');
      makeDirectory(join(dir, 'crypto', org, i.name));
      writeFileSync(target, i.certPem);
      return { ...i, cert: target };
    });
    const replaced = flags.keepOld ? [] : [...new Set(issued.flatMap((i) => i.replacesSerials))];
    const revocation = replaced.length ? await revokeCertificates(client, { ca, serials: replaced, signers: [signer] }).catch(failure) : null;
    if (flags.id !== undefined && issued.length === 0 && refused.length === 0) throw new CliError(`no pending enrolment ${flags.id} on ${org}'s node`, 1);
    out.result(
      {
        org,
        issued: written.map(({ certPem: _c, ...rest }) => rest),
        refused,
        revoked: replaced,
        ...(revocation ? { revocation: { sequence: revocation.sequence, blockNumber: revocation.blockNumber, txId: revocation.txId } } : {}),
      },
      () =>
        [
          `${org}: ${issued.length} issued, ${refused.length} refused`,
          ...written.map((i) => `  issued ${i.name} as ${i.role}, serial ${i.serialHex} (uploaded; they collect it with their secret)`),
          ...refused.map((r) => `  refused ${r.name} (${r.id}): ${r.message} (${r.code})`),
          ...(revocation ? [`  re-enrolment: revoked ${replaced.join(', ')} (config update ${revocation.sequence})`] : []),
        ].join('\n'),
    );
    return refused.length === 0;
  } finally {
    client.close();
  }
}
