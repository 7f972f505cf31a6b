// `medledger record create|update|get|list|erase` — health records through a node's REST API,
// signed with the user's own key from <dir>/crypto (SDK HealthClient). Also the shared plumbing
// of the health commands (consent, access, audit, dataset, stats).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { MedLedgerApiError } from '../../sdk/client.ts';
import { patientPseudonym } from '../../identity/pseudonym.ts';
import { connectAs, HealthClient, sessionNoticeOf, type MyPatientsPage, type SessionNotice, type WithheldPart } from '../../sdk/health.ts';
import { apiErrorText, CliError, makeOutput, parsePositiveInt, type Output } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { parseCertificate } from '../../crypto/x509.ts';
import { readPemFile, withConnectOptions } from './tx.ts';
import { fhirSummary, granteeText, localTime, PatientNames, table, zoneNote } from '../readable.ts';

const INPUT_BYTES_MAX = 32 * 1024 * 1024;
const PSEUDONYM_RE = /^[0-9a-f]{32,64}$/;
const USER_REF_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}\/[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface HealthFlags {
  dir: string;
  org: string;
  user: string;
  url?: string;
  cert?: string;
  key?: string;
  ca?: string;
  json?: boolean;
}

/** A health subcommand with the connection options every node-facing command takes (tx.ts). */
export function healthCommand(parent: Command, name: string, description: string): Command {
  return withConnectOptions(parent.command(name).description(description));
}

/** The user's client: from the consortium directory, or from --cert/--key/--ca/--url. */
function healthClientOf(flags: HealthFlags): HealthClient {
  if (flags.cert || flags.key || flags.ca) {
    if (!flags.cert || !flags.key || !flags.ca || !flags.url)
      throw new CliError('--cert, --key, --ca and --url go together (or use --dir with --org and --user)', 2);
    const certPem = readPemFile(flags.cert, 'cert');
    // The on-chain identity is the certificate's: org from --org, id its CN (a patient's pseudonym).
    return new HealthClient({
      url: flags.url,
      certPem,
      keyPem: readPemFile(flags.key, 'key'),
      caPem: readPemFile(flags.ca, 'ca'),
      user: `${flags.org}/${parseCertificate(certPem).subject.commonName ?? flags.user}`,
      failover: 'discover',
    });
  }
  const dir = resolve(flags.dir);
  if (!existsSync(join(dir, 'crypto')))
    throw new CliError(`--dir ${flags.dir}: not a consortium directory (no crypto/); run \`npm start\` or \`medledger init\` first`, 2);
  return connectAs(dir, flags.org, flags.user, flags.url);
}

/** Run `fn` as the user; turn every failure into a clear CliError. */
export async function asUser<F extends HealthFlags>(flags: F, fn: (client: HealthClient, out: Output) => Promise<void>): Promise<void> {
  const out = makeOutput(flags.json ?? false);
  let client: HealthClient;
  try {
    client = healthClientOf(flags);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message, 2);
  }
  try {
    await fn(client, out);
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof MedLedgerApiError) throw new CliError(apiErrorText(err.code, err.message, flags), err.status === 0 ? 3 : 1);
    throw new CliError((err as Error).message, 1);
  } finally {
    client.close();
  }
}

/**
 * A patient given as a pseudonym, or as a patient user (`Hospital1/patient1`) of the consortium
 * directory: the pseudonym their hospital's CA put in their certificate (decision 0906). The
 * login name → pseudonym mapping lives only there, never on chain.
 */
export function resolvePatient(dir: string, patient: string, flag = 'patient'): string {
  if (PSEUDONYM_RE.test(patient)) return patient;
  if (!USER_REF_RE.test(patient))
    throw new CliError(`--${flag} must be a pseudonym (32–64 hex) or a user such as Hospital1/patient1, got "${patient.slice(0, 80)}"`, 2);
  const [org, name] = patient.split('/') as [string, string];
  try {
    return patientPseudonym(resolve(dir), org, name);
  } catch (err) {
    throw new CliError(`--${flag} ${patient}: ${(err as Error).message}; pass the pseudonym`, 2);
  }
}

export function readInput(path: string, what: string): Buffer {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new CliError(`${what} ${path}: no such file`, 2);
  }
  if (size > INPUT_BYTES_MAX) throw new CliError(`${what} ${path}: ${size} bytes exceeds ${INPUT_BYTES_MAX}`, 2);
  return readFileSync(path);
}

/** An "org/commonName" option (a provider, a grantee user). */
export function userRefOption(flag: string, value: string): string {
  if (!USER_REF_RE.test(value)) throw new CliError(`--${flag} must be a user such as Hospital2/doctor1, got "${value.slice(0, 80)}"`, 2);
  return value;
}

/**
 * What a user must be told about their BMRS session after a decision (decision 0901): a recorded
 * violation, the session's death, a dead session — and for a dead one the exact command CAMS runs.
 */
export function sessionAdvice(session: SessionNotice | null): string[] {
  if (!session?.notice) return [];
  const lines = [`BMRS: ${session.notice}`];
  if (session.dead) {
    const cams = session.reauthorizeBy ?? '<CAMS organisation>';
    const target = 'recordId' in session.reauthorizeArgs ? `--record-id ${session.reauthorizeArgs.recordId}` : `--patient ${session.reauthorizeArgs.patient}`;
    lines.push(
      `To re-authorize, an admin of ${cams} runs:`,
      `  medledger access reauthorize --org ${cams} --user <admin> --provider ${session.provider} ${target}`,
    );
  }
  return lines;
}

/** "withheld: the restricted part — care relation: …" lines of an allowed read. */
export function withheldLines(withheld: readonly WithheldPart[]): string[] {
  return withheld.map((w) => `withheld: the ${w.sensitivity} part — ${w.reasons.join('; ')}`);
}

/** Human output of a refused access (read, write, break-the-glass): reasons, then the session advice. */
export function deniedText(txId: string, decision: Record<string, unknown>): string {
  const reasons = Array.isArray(decision['reasons']) ? (decision['reasons'] as unknown[]).map(String) : [];
  return [`DENIED (audited in tx ${txId}):`, ...reasons.map((r) => `  ${r}`), ...sessionAdvice(sessionNoticeOf(decision))].join('\n');
}

/** Listings and audit queries are paged on chain (at most 200 a page). */
export const PAGE_SIZE_MAX = 200;
export interface PageFlags {
  pageSize: string;
  bookmark?: string;
}

export function pageOptions(c: Command): Command {
  return c.option('--page-size <n>', `entries per page (1..${PAGE_SIZE_MAX})`, '50').option('--bookmark <b>', 'the next page (printed after a full page)');
}

/**
 * Human output's last line when there is a next page, ready to paste into a shell: a bookmark is a
 * state key ("aix|pp|…"), and an unquoted '|' would start a pipe.
 */
export function morePages(bookmark: string | undefined, alsoFlags = ''): string {
  return bookmark ? `\n(more: --bookmark ${shellWord(bookmark)}${alsoFlags ? ` ${alsoFlags}` : ''})` : '';
}

/** `text` as one POSIX shell word: as it is when it holds only safe characters, else single-quoted. */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

export function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const partsOf = (r: Record<string, unknown>): Array<Record<string, unknown>> => {
  const parts = (r['record'] as Record<string, unknown> | undefined)?.['parts'];
  return Array.isArray(parts) ? (parts as Array<Record<string, unknown>>) : [];
};

/** An access decision's basis ({rule, consentId?, applicationId?, …}) in words. */
export function basisText(basis: unknown): string {
  if (typeof basis === 'string') return basis;
  if (typeof basis !== 'object' || basis === null) return 'no recorded basis';
  const b = basis as Record<string, unknown>;
  const rule = String(b['rule'] ?? 'rule');
  // {rule: 'consent', consentId: 'c…'} reads "consent c…", not "consent, consent c…".
  const rest = Object.entries(b)
    .filter(([k, v]) => k !== 'rule' && v !== null && v !== undefined)
    .map(([k, v]) => (k === `${rule}Id` ? String(v) : `${k.replace(/Id$/, '')} ${String(v)}`));
  return rest.length > 0 && rest[0] === String(b[`${rule}Id`]) ? `${rule} ${rest.join(', ')}` : [rule, ...rest].join(', ');
}

/** A decision's flags (break-the-glass, security-alert, notify-patient) after the basis, or nothing. */
export function flagsText(flags: unknown): string {
  return Array.isArray(flags) && flags.length > 0 ? `; flagged ${flags.map(String).join(', ')}` : '';
}

/** A released part for a person: FHIR as a summary (--json or --out has the resource), text as text. */
export function contentText(mediaType: string, content: string): string {
  if (mediaType.includes('json')) {
    try {
      return [...fhirSummary(JSON.parse(content)), '(the full resource: --json, or --out <file>)'].join('\n');
    } catch {
      return content;
    }
  }
  return content;
}

/**
 * A clinician's patients, one line each with every basis (care first, then each consent). The page
 * size counts the index keys read, so a page may hold fewer patients, or none while more follow.
 */
export function patientsTable(r: MyPatientsPage, names: PatientNames, nowMs = Date.now()): string {
  if (r.patients.length === 0)
    return r.bookmark
      ? '(no patients on this page: the keys it read were ended care relations)'
      : '(no care relation, and no consent names you, your hospital or your role)';
  return [
    table(
      ['patient', 'hospital', 'your basis'],
      r.patients.map((p) => [
        // Whole: it is what `record list --patient` takes for another hospital's patient.
        names.nameOf(p.patient) ?? p.patient,
        p.patientOrg ?? '-',
        [
          ...(p.care ? [`in your care since ${localTime(p.care.startedAtMs)}`] : []),
          ...p.consents.map(
            (x) =>
              `consent ${x.consentId}${x.grantee.kind === 'user' ? '' : ` to ${granteeText(x.grantee, names)}`}: ${x.actions.join(',')} for ${x.purposes.join(',')} up to ${x.maxSensitivity}, ` +
              (x.startMs > nowMs ? `not yet in force: from ${localTime(x.startMs)} ` : '') +
              `until ${localTime(x.endMs)}`,
          ),
        ].join('; '),
      ]),
    ),
    '',
    `${zoneNote()}; a patient's records: medledger record list --patient <patient>`,
  ].join('\n');
}

function inputOf(flags: { fhir?: string; file?: string; mediaType?: string; sensitivity?: string }): Parameters<HealthClient['createRecord']>[0]['input'] {
  if (flags.fhir && flags.file) throw new CliError('give either --fhir or --file, not both', 2);
  if (flags.fhir) {
    try {
      return { kind: 'fhir', resource: JSON.parse(readInput(flags.fhir, '--fhir').toString('utf8')) as unknown };
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`--fhir ${flags.fhir}: not JSON (${(err as Error).message})`, 2);
    }
  }
  if (flags.file) {
    if (!flags.mediaType) throw new CliError('--file needs --media-type (e.g. text/csv, application/pdf, image/png)', 2);
    const s = flags.sensitivity;
    if (s !== undefined && !['normal', 'sensitive', 'restricted'].includes(s)) throw new CliError('--sensitivity must be normal, sensitive or restricted', 2);
    return { kind: 'file', data: readInput(flags.file, '--file'), mediaType: flags.mediaType, ...(s ? { sensitivity: s as 'normal' } : {}) };
  }
  throw new CliError('give the content: --fhir <resource.json> or --file <path> --media-type <type>', 2);
}

export function register(program: Command, _ctx: CommandContext): void {
  const record = program.command('record').description('Health records: encrypted off chain at the custodian, registered on chain');

  healthCommand(record, 'create', 'Create a record from a FHIR resource/Bundle or a file (split by sensitivity, sealed, registered)')
    .requiredOption('--record-id <id>', 'new record id')
    .requiredOption('--patient <pseudonym|org/user>', 'the patient')
    .option('--fhir <file>', 'FHIR R4 resource or Bundle (JSON)')
    .option('--file <path>', 'a file (CSV, PDF, image)')
    .option('--media-type <type>', 'media type of --file')
    .option('--sensitivity <level>', 'sensitivity of --file (default normal; for a CSV the floor of every column, which column rules may raise)')
    .option('--purpose <code>', 'purpose of use', 'TREAT')
    .action(
      async (f: HealthFlags & { recordId: string; patient: string; fhir?: string; file?: string; mediaType?: string; sensitivity?: string; purpose: string }) =>
        asUser(f, async (c, out) => {
          const r = await c.createRecord({ recordId: f.recordId, patient: resolvePatient(f.dir, f.patient), input: inputOf(f), purpose: f.purpose });
          // A refused write is committed and audited like a refused read: same exit code (4).
          if (r['allowed'] !== true) _ctx.exitCode = 4;
          out.result(r, () =>
            r['allowed'] === true
              ? [
                  `created ${f.recordId} (tx ${String(r['txId'])}), sealed at its custodian in part(s) by sensitivity:`,
                  ...partsOf(r).map(
                    (p) => `  ${String(p['sensitivity']).padEnd(10)} ${String(p['mediaType'])}, ${String(p['sizeBytes'])} bytes, ${String(p['cid'])}`,
                  ),
                ].join('\n')
              : deniedText(String(r['txId']), r),
          );
        }),
    );

  healthCommand(record, 'update', 'Write a new version of a record (earlier versions are kept)')
    .requiredOption('--record-id <id>', 'record id')
    .option('--fhir <file>', 'FHIR R4 resource or Bundle (JSON)')
    .option('--file <path>', 'a file')
    .option('--media-type <type>', 'media type of --file')
    .option('--sensitivity <level>', 'sensitivity of --file')
    .option('--purpose <code>', 'purpose of use', 'TREAT')
    .action(async (f: HealthFlags & { recordId: string; fhir?: string; file?: string; mediaType?: string; sensitivity?: string; purpose: string }) =>
      asUser(f, async (c, out) => {
        const r = await c.updateRecord({ recordId: f.recordId, input: inputOf(f), purpose: f.purpose });
        if (r['allowed'] !== true) _ctx.exitCode = 4;
        out.result(r, () =>
          r['allowed'] === true
            ? `updated ${f.recordId} to version ${String((r['record'] as Record<string, unknown>)?.['version'])}`
            : deniedText(String(r['txId']), r),
        );
      }),
    );

  healthCommand(
    record,
    'get',
    'Read a record: an audited on-chain access decision, then the released parts (CID and commitment verified); without --sensitivity, every part you may see (the others are withheld, and it says why)',
  )
    .requiredOption('--record-id <id>', 'record id')
    .option('--purpose <code>', 'purpose of use (TREAT, ETREAT, BTG, HRESCH, PATRQT, …)', 'TREAT')
    .option('--reason <code>', 'reason code (required for break-the-glass), e.g. unconscious-no-proxy')
    .option('--sensitivity <level>', 'highest sensitivity wanted (default: every part you may see; a level you may not see is a denial)')
    .option('--version <n>', 'an earlier version')
    .option('--out <file>', 'write the content here instead of printing it (a CSV record: the re-joined CSV of the released parts; otherwise the first part)')
    .action(async (f: HealthFlags & { recordId: string; purpose: string; reason?: string; sensitivity?: string; version?: string; out?: string }) =>
      asUser(f, async (c, out) => {
        const version = f.version === undefined ? undefined : Number(f.version);
        if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw new CliError('--version must be a positive integer', 2);
        const r = await c.readRecord({
          recordId: f.recordId,
          purpose: f.purpose,
          ...(f.reason ? { reason: f.reason } : {}),
          ...(f.sensitivity ? { sensitivity: f.sensitivity } : {}),
          ...(version ? { version } : {}),
        });
        if (!r.allowed) {
          out.result({ allowed: false, txId: r.txId, decision: r.decision, session: r.session }, () => deniedText(r.txId, r.decision));
          _ctx.exitCode = 4;
          return;
        }
        // A CSV record split by column sensitivity comes back as one part per released level: the
        // user gets one CSV (the parts re-joined on their row key), without the withheld columns.
        const csv = r.csv;
        if (f.out && (csv ?? r.parts[0])) writeFileSync(f.out, csv ?? r.parts[0]!.content);
        const parts = r.parts.map((p) => ({
          sensitivity: p.sensitivity,
          mediaType: p.mediaType,
          cid: p.cid,
          content:
            p.mediaType.includes('json') || p.mediaType.startsWith('text/') ? Buffer.from(p.content).toString('utf8') : `<${p.content.byteLength} bytes>`,
        }));
        const head = `record ${f.recordId} v${r.version} from ${r.custodian}: allowed by ${basisText(r.decision['basis'])}${flagsText(r.decision['flags'])} (audited in tx ${r.txId})`;
        // What was released and what was withheld (and why), before the content.
        const summary = [`released: ${parts.map((p) => `the ${p.sensitivity} part`).join(', ') || 'nothing'}`, ...withheldLines(r.withheld)];
        out.result(
          {
            allowed: true,
            txId: r.txId,
            custodian: r.custodian,
            version: r.version,
            flags: r.decision['flags'],
            basis: r.decision['basis'],
            released: parts.map((p) => p.sensitivity),
            withheld: r.withheld,
            session: r.session,
            parts,
            ...(csv ? { csv: Buffer.from(csv).toString('utf8') } : {}),
          },
          () =>
            (csv
              ? [
                  head,
                  ...summary,
                  `--- CSV re-joined from the ${parts.map((p) => p.sensitivity).join(', ')} part(s) (${parts.map((p) => p.cid).join(', ')})`,
                  f.out ? `(written to ${f.out})` : Buffer.from(csv).toString('utf8').trimEnd(),
                ]
              : [
                  head,
                  ...summary,
                  ...parts.map(
                    (p) => `--- ${p.sensitivity} part (${p.mediaType}, ${p.cid})\n${f.out ? `(written to ${f.out})` : contentText(p.mediaType, p.content)}`,
                  ),
                ]
            ).join('\n'),
        );
      }),
    );

  pageOptions(healthCommand(record, 'list', "List a patient's records the user has a basis to read (metadata only)"))
    .requiredOption('--patient <pseudonym|org/user>', 'the patient')
    .option('--purpose <code>', 'purpose of use', 'TREAT')
    .action(async (f: HealthFlags & PageFlags & { patient: string; purpose: string }) =>
      asUser(f, async (c, out) => {
        const r = (await c.listRecords(
          resolvePatient(f.dir, f.patient),
          f.purpose,
          f.bookmark ?? '',
          parsePositiveInt('page-size', f.pageSize, PAGE_SIZE_MAX),
        )) as { records: Array<Record<string, unknown>>; bookmark?: string };
        out.result(
          r,
          () =>
            (r.records.length === 0
              ? '(no records you may read)'
              : r.records
                  .map(
                    (x) =>
                      `${String(x['recordId']).padEnd(20)} ${String(x['category']).padEnd(14)} ${String(x['sensitivity']).padEnd(11)} v${String(x['version'])}  ${String(x['custodian'])}`,
                  )
                  .join('\n')) + morePages(r.bookmark),
        );
      }),
    );

  pageOptions(
    healthCommand(
      record,
      'patients',
      'The patients you have a basis for: those in your care, then those whose consent names you, your hospital or your role (one not yet in force says from when), a page at a time',
    ),
  ).action(async (f: HealthFlags & PageFlags) =>
    asUser(f, async (c, out) => {
      const r = await c.myPatients({
        pageSize: parsePositiveInt('page-size', f.pageSize, PAGE_SIZE_MAX),
        ...(f.bookmark ? { bookmark: f.bookmark } : {}),
      });
      out.result(r, () => patientsTable(r, new PatientNames(resolve(f.dir), f.org)) + morePages(r.bookmark));
    }),
  );

  healthCommand(record, 'erase', 'Erase a record (patient or custodian staff): on-chain tombstone, keys and blobs crypto-shredded')
    .requiredOption('--record-id <id>', 'record id')
    .action(async (f: HealthFlags & { recordId: string }) =>
      asUser(f, async (c, out) => {
        const r = await c.eraseRecord(f.recordId);
        const t = (r['erased'] ?? {}) as Record<string, unknown>;
        out.result(
          r,
          () =>
            `erased ${f.recordId} (tx ${String(r['txId'])}): ${String(t['versions'])} version(s) by ${String(t['erasedBy'])}; every node shreds its keys and blobs`,
        );
      }),
    );
}
