// `medledger consent grant|revoke|list|export` — a patient's FHIR-Consent-shaped permissions, on chain.
// `list` shows those in force; `list --ended` those whose period ended, a page at a time (decision 0911).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { granteeText, localDate, localTime, PatientNames, table, zoneNote, type Grantee } from '../readable.ts';
import { asUser, healthCommand, list, morePages, PAGE_SIZE_MAX, pageOptions, resolvePatient, type HealthFlags } from './record.ts';

const DAY_MS = 86_400_000;

type Consent = {
  consentId: string;
  patient: string;
  grantee: Grantee;
  actions: string[];
  purposes: string[];
  period: { startMs: number; endMs: number };
  scope: { recordIds: string[]; categories: string[]; maxSensitivity: string };
  status: string;
  grantedAtMs: number;
  revokedAtMs: number | null;
};

/** The patient's consents: who may do what, for which purpose, up to which sensitivity, until when. */
export function consentTable(r: unknown, names: PatientNames, none = '(no consents in force)', nowMs = Date.now()): string {
  const consents = (Array.isArray(r) ? r : []) as Consent[];
  if (consents.length === 0) return none;
  const scope = (s: Consent['scope']): string =>
    [
      s.recordIds.length ? `records ${s.recordIds.join(',')}` : 'all records',
      s.categories.length ? `of type ${s.categories.join(',')}` : '',
      `up to ${s.maxSensitivity}`,
    ]
      .filter(Boolean)
      .join(' ');
  return [
    `consents of ${names.label(consents[0]!.patient)}:`,
    table(
      ['consent', 'granted to', 'may', 'for', 'scope', 'valid', 'status'],
      consents.map((x) => [
        x.consentId,
        granteeText(x.grantee, names),
        x.actions.join(','),
        x.purposes.join(','),
        scope(x.scope),
        `${localDate(x.period.startMs)} to ${localDate(x.period.endMs)}`,
        x.status === 'revoked' && x.revokedAtMs
          ? `revoked ${localTime(x.revokedAtMs)}`
          : x.period.endMs <= nowMs
            ? `ended ${localTime(x.period.endMs)}`
            : x.period.startMs > nowMs
              ? `not yet in force: from ${localTime(x.period.startMs)}`
              : `${x.status} since ${localTime(x.grantedAtMs)}`,
      ]),
    ),
    '',
    zoneNote(),
  ].join('\n');
}

/** `--from`: a local date (its midnight) or an ISO time with its zone; anything else is refused by name. */
export function startOf(text: string): number {
  const date = /^(\d{4})-(\d\d)-(\d\d)$/.exec(text);
  const ms = date ? new Date(Number(date[1]), Number(date[2]) - 1, Number(date[3])).getTime() : /^\d{4}-\d\d-\d\dT/.test(text) ? Date.parse(text) : NaN;
  // new Date() rolls 2026-02-31 over into March: a date must come back as written.
  const exact = !date || localDate(ms) === text;
  if (!Number.isFinite(ms) || !exact)
    throw new CliError(`--from must be a date (YYYY-MM-DD) or an ISO time (2026-12-24T08:00:00Z), got "${text.slice(0, 40)}"`, 2);
  return ms;
}

function grantee(text: string): Record<string, string> {
  const [kind, rest = ''] = text.split(':', 2) as [string, string?];
  if (kind === 'user' && rest.includes('/')) return { kind: 'user', user: rest };
  if (kind === 'org' && rest) return { kind: 'org', org: rest };
  if (kind === 'role' && rest) {
    const [role, org] = rest.split('@', 2);
    return { kind: 'role', role: role!, ...(org ? { org } : {}) };
  }
  throw new CliError(`--grantee must be user:<Org/name>, org:<Org> or role:<role>[@<Org>], got "${text.slice(0, 80)}"`, 2);
}

export function register(program: Command, _ctx: CommandContext): void {
  const consent = program.command('consent').description("Patient consent (FHIR Consent): who may do what with the patient's records");

  healthCommand(consent, 'grant', 'Grant a consent (the patient only)')
    .requiredOption('--grantee <who>', 'user:Hospital2/doctor1 | org:Hospital2 (the people who work there, not its patients) | role:doctor[@Hospital2]')
    .option('--patient <pseudonym|org/user>', 'the patient (default: --org/--user)')
    .option('--actions <list>', 'read,write,share,statistics', 'read')
    .option('--purposes <list>', 'HL7 purposes of use, e.g. TREAT,HRESCH', 'TREAT')
    .option('--from <date>', 'start of the period: a date (YYYY-MM-DD, local midnight) or an ISO time (default: now)')
    .option('--days <n>', 'valid for this many days from its start', '30')
    .option('--max-sensitivity <level>', 'normal | sensitive | restricted', 'sensitive')
    .option('--records <ids>', 'limit to these record ids')
    .option('--categories <list>', 'limit to these categories (FHIR resource types)')
    .action(
      async (
        f: HealthFlags & {
          grantee: string;
          patient?: string;
          actions: string;
          purposes: string;
          from?: string;
          days: string;
          maxSensitivity: string;
          records?: string;
          categories?: string;
        },
      ) =>
        asUser(f, async (c, out) => {
          const days = Number(f.days);
          if (!Number.isFinite(days) || days <= 0 || days > 3650) throw new CliError('--days must be a number in (0, 3650]', 2);
          const now = Date.now();
          // Without --from the period starts a minute back: a node's clock a little behind ours
          // must not see a consent that has not begun yet.
          const startMs = f.from === undefined ? now - 60_000 : startOf(f.from);
          const endMs = (f.from === undefined ? now : startMs) + Math.round(days * DAY_MS);
          if (endMs <= now) throw new CliError(`the consent would end ${localTime(endMs)}, before now: move --from or raise --days`, 2);
          const r = await c.grantConsent({
            patient: resolvePatient(f.dir, f.patient ?? `${f.org}/${f.user}`),
            grantee: grantee(f.grantee),
            actions: list(f.actions),
            purposes: list(f.purposes),
            period: { startMs, endMs },
            scope: { recordIds: list(f.records), categories: list(f.categories), maxSensitivity: f.maxSensitivity },
          });
          out.result(
            { txId: r.txId, ...r.payload },
            () =>
              `consent ${String((r.payload['consent'] as Record<string, unknown>)?.['consentId'])} granted (tx ${r.txId})` +
              (startMs > now ? `; in force from ${localTime(startMs)}, ${zoneNote()}` : ''),
          );
        }),
    );

  healthCommand(consent, 'revoke', 'Revoke a consent (the patient only)')
    .requiredOption('--consent-id <id>', 'consent id')
    .action(async (f: HealthFlags & { consentId: string }) =>
      asUser(f, async (c, out) => {
        const r = await c.revokeConsent(f.consentId);
        out.result({ txId: r.txId, ...r.payload }, () => `consent ${f.consentId} revoked (tx ${r.txId})`);
      }),
    );

  pageOptions(healthCommand(consent, 'list', "The patient's consents in force; with --ended, those whose period ended, the latest first, a page at a time"))
    .option('--patient <pseudonym|org/user>', 'the patient (default: --org/--user)')
    .option('--ended', 'the consents whose period ended (not revoked)')
    .action(async (f: HealthFlags & { patient?: string; ended?: boolean; pageSize: string; bookmark?: string }) =>
      asUser(f, async (c, out) => {
        const patient = resolvePatient(f.dir, f.patient ?? `${f.org}/${f.user}`);
        const names = new PatientNames(resolve(f.dir), f.org);
        if (!f.ended) {
          if (f.bookmark !== undefined) throw new CliError('--bookmark pages the ended consents: add --ended', 2);
          const r = await c.listConsents(patient);
          out.result(r, () => consentTable(r, names));
          return;
        }
        const r = (await c.listEndedConsents(patient, {
          pageSize: parsePositiveInt('page-size', f.pageSize, PAGE_SIZE_MAX),
          ...(f.bookmark ? { bookmark: f.bookmark } : {}),
        })) as { consents: unknown[]; bookmark: string };
        out.result(
          r,
          () =>
            `${consentTable(r.consents, names, r.bookmark ? '(no ended consents on this page)' : '(no ended consents)')}${morePages(r.bookmark, '--ended')}`,
        );
      }),
    );

  healthCommand(consent, 'export', 'A consent as a FHIR R4 Consent resource')
    .requiredOption('--consent-id <id>', 'consent id')
    .action(async (f: HealthFlags & { consentId: string }) =>
      asUser(f, async (c, out) => {
        const r = await c.exportConsent(f.consentId);
        out.result(r, () => JSON.stringify(r, null, 2));
      }),
    );
}
