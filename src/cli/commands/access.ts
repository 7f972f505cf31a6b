// `medledger access apply|approve|deny|list|btg|session|reauthorize` — PHDMF access applications,
// break-the-glass, and BMRS sessions (a provider's standing with a patient; CAMS revives dead ones).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { SessionTarget } from '../../sdk/health.ts';
import { CliError, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { actorRefLabel, localDate, localTime, PatientNames, table, zoneNote } from '../readable.ts';
import {
  asUser,
  contentText,
  deniedText,
  flagsText,
  healthCommand,
  list,
  morePages,
  PAGE_SIZE_MAX,
  pageOptions,
  resolvePatient,
  userRefOption,
  withheldLines,
  type HealthFlags,
} from './record.ts';

/** A session's patient: --patient (pseudonym or demo user) or --record-id (a record of that patient), exactly one. */
function sessionTarget(f: HealthFlags & { patient?: string; recordId?: string }): SessionTarget {
  if (!f.patient === !f.recordId) throw new CliError('give exactly one of --patient or --record-id', 2);
  return f.patient ? { patient: resolvePatient(f.dir, f.patient) } : { recordId: f.recordId! };
}

const DAY_MS = 86_400_000;
const ORG_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * An application's owner: an organisation as given, or a patient — as their pseudonym or as the
 * user a patient knows themselves by (Hospital2/patient1), which the contract never sees (issue 17:
 * a patient has no other way to learn their pseudonym than `medledger whoami`).
 */
function ownerOf(dir: string, owner: string): string {
  return ORG_RE.test(owner) ? owner : resolvePatient(dir, owner, 'owner');
}

type Application = {
  applicationId: string;
  applicant: string;
  applicantRole: string;
  target: { kind: string; recordId?: string; datasetId?: string };
  owner?: string;
  purpose: string;
  actions: string[];
  period: { startMs: number; endMs: number };
  maxSensitivity: string;
  status: string;
  appliedAtMs: number;
  decidedAtMs: number | null;
  decidedBy: string | null;
};

/** An application's owner: an organisation, a patient (named or shortened), or — for an applicant — not shown (decision 0906). */
function ownerText(owner: string | undefined, names: PatientNames): string {
  if (owner === undefined) return '(the patient)';
  return /^[0-9a-f]{32,64}$/.test(owner) ? names.label(owner) : owner;
}

const APPLICATION_STATUSES = ['pending', 'approved', 'denied'] as const;
function applicationStatusOption(text: string): (typeof APPLICATION_STATUSES)[number] {
  const status = APPLICATION_STATUSES.find((s) => s === text);
  if (!status) throw new CliError(`--status must be one of ${APPLICATION_STATUSES.join(', ')} (got ${JSON.stringify(text.slice(0, 40))})`, 2);
  return status;
}

/**
 * A page of `listApplications` ({applications, bookmark}); `moreFlags` repeat the query's options in the
 * next-page hint. An application not denied whose period is over says so first: it grants nothing.
 */
export function applicationTable(r: unknown, names: PatientNames, moreFlags = '', nowMs = Date.now()): string {
  const page = (typeof r === 'object' && r !== null ? r : {}) as { applications?: Application[]; bookmark?: string };
  const apps = page.applications ?? [];
  if (apps.length === 0) return page.bookmark ? `(no applications on this page)${morePages(page.bookmark, moreFlags)}` : '(no applications)';
  return (
    [
      table(
        ['application', 'applicant', 'wants', 'of', 'owner', 'for', 'valid', 'status'],
        apps.map((a) => [
          a.applicationId,
          `${actorRefLabel(names, a.applicant)} (${a.applicantRole})`,
          `${a.actions.join(',')} up to ${a.maxSensitivity}`,
          `${a.target.kind} ${a.target.recordId ?? a.target.datasetId ?? ''}`,
          ownerText(a.owner, names),
          a.purpose,
          `${localDate(a.period.startMs)} to ${localDate(a.period.endMs)}`,
          `${a.status !== 'denied' && a.period.endMs <= nowMs ? `ended ${localTime(a.period.endMs)}, ` : ''}${
            a.decidedAtMs
              ? `${a.status} by ${a.decidedBy ? actorRefLabel(names, a.decidedBy) : '?'} ${localTime(a.decidedAtMs)}`
              : `${a.status} (applied ${localTime(a.appliedAtMs)})`
          }`,
        ]),
      ),
      '',
      zoneNote(),
    ].join('\n') + morePages(page.bookmark, moreFlags)
  );
}

export function register(program: Command, ctx: CommandContext): void {
  const access = program.command('access').description('Access applications (apply / approve / deny) and break-the-glass reads');

  healthCommand(access, 'apply', 'Apply for access to a record or a dataset; its owner decides')
    .option('--record <id>', 'a record')
    .option('--dataset <id>', 'a dataset of the data market')
    .requiredOption('--purpose <code>', 'purpose of use, e.g. HRESCH')
    .option('--actions <list>', 'read,statistics,…', 'read')
    .option('--days <n>', 'for this many days', '30')
    .option('--max-sensitivity <level>', 'normal | sensitive | restricted', 'sensitive')
    .action(async (f: HealthFlags & { record?: string; dataset?: string; purpose: string; actions: string; days: string; maxSensitivity: string }) =>
      asUser(f, async (c, out) => {
        if (!f.record === !f.dataset) throw new CliError('give exactly one of --record or --dataset', 2);
        const days = Number(f.days);
        if (!Number.isFinite(days) || days <= 0 || days > 3650) throw new CliError('--days must be a number in (0, 3650]', 2);
        const now = Date.now();
        const r = await c.apply({
          target: f.record ? { kind: 'record', recordId: f.record } : { kind: 'dataset', datasetId: f.dataset! },
          purpose: f.purpose,
          actions: list(f.actions),
          period: { startMs: now - 60_000, endMs: now + Math.round(days * DAY_MS) },
          maxSensitivity: f.maxSensitivity,
        });
        out.result(
          { txId: r.txId, ...r.payload },
          () => `application ${String((r.payload['application'] as Record<string, unknown>)?.['applicationId'])} submitted (tx ${r.txId})`,
        );
      }),
    );

  for (const [name, approve] of [
    ['approve', true],
    ['deny', false],
  ] as const) {
    healthCommand(access, name, `${approve ? 'Approve' : 'Deny'} an application (the patient for a record, the owner's admin/supervisor for a dataset)`)
      .requiredOption('--application-id <id>', 'application id')
      .action(async (f: HealthFlags & { applicationId: string }) =>
        asUser(f, async (c, out) => {
          const r = await c.decideApplication(f.applicationId, approve);
          out.result({ txId: r.txId, ...r.payload }, () => `application ${f.applicationId} ${approve ? 'approved' : 'denied'} (tx ${r.txId})`);
        }),
      );
  }

  pageOptions(healthCommand(access, 'list', 'Applications awaiting an owner, or made by an applicant, the latest first'))
    .option('--owner <org|org/user|pseudonym>', 'owner: an organisation (its datasets), or a patient (Hospital1/patient1 or their pseudonym)')
    .option('--applicant <org/user>', 'applicant')
    .option('--status <status>', `only applications in this state: ${APPLICATION_STATUSES.join(', ')}`)
    .option('--oldest-first', 'from the first application on (default: the latest first)')
    .action(async (f: HealthFlags & { owner?: string; applicant?: string; status?: string; oldestFirst?: boolean; pageSize: string; bookmark?: string }) =>
      asUser(f, async (c, out) => {
        if (!f.owner === !f.applicant) throw new CliError('give exactly one of --owner or --applicant', 2);
        const status = f.status === undefined ? undefined : applicationStatusOption(f.status);
        const r = await c.listApplications(f.owner ? { owner: ownerOf(f.dir, f.owner) } : { applicant: userRefOption('applicant', f.applicant!) }, {
          order: f.oldestFirst ? 'oldest' : 'newest',
          pageSize: parsePositiveInt('page-size', f.pageSize, PAGE_SIZE_MAX),
          ...(status ? { status } : {}),
          ...(f.bookmark ? { bookmark: f.bookmark } : {}),
        });
        const again = [f.status ? `--status ${f.status}` : '', f.oldestFirst ? '--oldest-first' : ''].filter((x) => x !== '').join(' ');
        out.result(r, () => applicationTable(r, new PatientNames(resolve(f.dir), f.org), again));
      }),
    );

  healthCommand(access, 'btg', 'Break the glass: an emergency read without consent (doctors; flagged, audited as a security alert, the patient is notified)')
    .requiredOption('--record-id <id>', 'record id')
    .requiredOption('--reason <code>', 'emergency reason code, e.g. unconscious-no-proxy')
    .action(async (f: HealthFlags & { recordId: string; reason: string }) =>
      asUser(f, async (c, out) => {
        const r = await c.readRecord({ recordId: f.recordId, purpose: 'BTG', reason: f.reason });
        if (!r.allowed) ctx.exitCode = 4;
        const parts = r.parts.map((p) => ({
          sensitivity: p.sensitivity,
          mediaType: p.mediaType,
          cid: p.cid,
          content: Buffer.from(p.content).toString('utf8'),
        }));
        out.result(
          { allowed: r.allowed, txId: r.txId, flags: r.decision['flags'], reasons: r.decision['reasons'], withheld: r.withheld, session: r.session, parts },
          () =>
            r.allowed
              ? [
                  `BREAK-THE-GLASS read of ${f.recordId} (audited in tx ${r.txId})${flagsText(r.decision['flags'])}`,
                  `released: ${parts.map((p) => `the ${p.sensitivity} part`).join(', ') || 'nothing'}`,
                  ...withheldLines(r.withheld),
                  ...parts.map((p) => `--- ${p.sensitivity} part (${p.mediaType}, ${p.cid})\n${contentText(p.mediaType, p.content)}`),
                ].join('\n')
              : deniedText(r.txId, r.decision),
        );
      }),
    );

  healthCommand(
    access,
    'session',
    "A provider's BMRS session with a patient: user, CAMS, service provider or dead (the provider, the patient, CAMS admins, the provider's admins/supervisors)",
  )
    .option('--provider <org/user>', 'the service provider (default: you)')
    .option('--patient <pseudonym|org/user>', 'the patient')
    .option('--record-id <id>', 'or a record of the patient')
    .action(async (f: HealthFlags & { provider?: string; patient?: string; recordId?: string }) =>
      asUser(f, async (c, out) => {
        const provider = f.provider === undefined ? `${f.org}/${f.user}` : userRefOption('provider', f.provider);
        const s = await c.bmrsSession(provider, sessionTarget(f));
        out.result(s, () =>
          [
            `BMRS session of ${provider}: state ${s.state} (${s.stateName}), ${s.violations} violation(s)`,
            ...(s.state === 3
              ? [
                  `dead: every request is refused, break-the-glass included. To re-authorize, an admin of ${s.reauthorizeBy ?? 'the CAMS organisation'} runs:`,
                  `  medledger access reauthorize --org ${s.reauthorizeBy ?? '<CAMS org>'} --user <admin> --provider ${provider} --patient ${s.patient}`,
                ]
              : []),
          ].join('\n'),
        );
      }),
    );

  healthCommand(access, 'reauthorize', "CAMS: revive a provider's dead BMRS session with a patient into state 1 (an admin of the CAMS organisation; audited)")
    .requiredOption('--provider <org/user>', 'the provider whose session died, e.g. Hospital2/doctor1')
    .option('--patient <pseudonym|org/user>', 'the patient')
    .option('--record-id <id>', 'or a record of the patient (the one the refusal names)')
    .action(async (f: HealthFlags & { provider: string; patient?: string; recordId?: string }) =>
      asUser(f, async (c, out) => {
        const provider = userRefOption('provider', f.provider);
        const r = await c.reauthorize(provider, sessionTarget(f));
        out.result(
          r,
          () =>
            `BMRS session of ${provider} re-authorized by CAMS: dead → ${r.stateName} (state ${r.state}); their next permitted request makes them a service provider again (audited, tx ${r.txId})`,
        );
      }),
    );
}
