// `medledger audit record|patient|org|dataset|feed|provenance` — the on-chain audit trail, as
// entries or as FHIR AuditEvent / Provenance Bundles (--fhir).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { parsePositiveInt } from '../output.ts';
import { actorLabel, actorRefLabel, localTime, PatientNames, table, zoneNote } from '../readable.ts';
import { asUser, healthCommand, morePages, PAGE_SIZE_MAX, pageOptions, resolvePatient, type HealthFlags } from './record.ts';

type Actor = { org: string; id: string; role: string };
type Entry = {
  txId?: string;
  atMs: number;
  op: string;
  outcome: string;
  actor: Actor;
  recordedBy?: Actor | null;
  recordId: string | null;
  datasetId?: string | null;
  consentId?: string | null;
  applicationId?: string | null;
  purpose: string | null;
  reasons: string[];
  securityAlert: boolean;
  flags?: string[];
  ticket?: string | null;
  part?: string | null;
};

/**
 * The audit trail as a table. A read across hospitals is on chain twice: the access decision
 * (the reader's node) and the custodian node's confirmation of the parts it served (decision 1153).
 * Shown as two identical lines they looked like two reads (issue 17), so a confirmation whose
 * access decision is on the same page becomes a note on that line ("served by Hospital1");
 * one whose decision is not shown stays a line of its own that says who recorded it.
 */
export function auditTable(r: unknown, names: PatientNames, moreFlags = ''): string {
  const entries = (r as { entries?: Entry[] }).entries ?? [];
  const bookmark = (r as { bookmark?: string }).bookmark;
  // A page read through a filter (a hospital's view of a patient) may hold nothing while more follow.
  if (entries.length === 0) return bookmark ? `(no entries on this page)${morePages(bookmark, moreFlags)}` : '(no entries)';
  const byTx = new Map(entries.filter((e) => !e.recordedBy && e.txId).map((e) => [e.txId!, e]));
  const served = new Map<Entry, Entry[]>();
  const rows: Entry[] = [];
  for (const e of entries) {
    const decision = e.recordedBy && e.ticket ? byTx.get(e.ticket) : undefined;
    if (decision) served.set(decision, [...(served.get(decision) ?? []), e]);
    else rows.push(e);
  }
  const lines: string[][] = [];
  for (const e of rows) {
    const notes: string[] = [];
    if (e.securityAlert) notes.push('SECURITY ALERT');
    if (e.flags?.includes('break-the-glass')) notes.push('break the glass');
    // One note per custodian and outcome: "served by Hospital1 (normal, restricted parts)".
    const groups = new Map<string, string[]>();
    for (const s of served.get(e) ?? []) {
      const k = `${s.outcome === 'allow' ? 'served' : 'NOT served'} by ${s.recordedBy!.org}`;
      groups.set(k, [...(groups.get(k) ?? []), ...(s.part ? [s.part] : [])]);
    }
    for (const [k, parts] of groups) notes.push(`${k}${parts.length ? ` (${parts.join(', ')} part${parts.length > 1 ? 's' : ''})` : ''}`);
    if (e.recordedBy) notes.push(`recorded by ${e.recordedBy.org} (custodian) for this read${e.part ? `: ${e.part} part` : ''}`);
    lines.push([
      localTime(e.atMs),
      e.recordedBy ? `${e.op} (served)` : e.op,
      e.outcome,
      `${actorLabel(names, e.actor.org, e.actor.id)} (${e.actor.role})`,
      e.recordId ?? e.datasetId ?? e.consentId ?? e.applicationId ?? '',
      e.purpose ?? '',
      notes.join('; '),
    ]);
    if (e.outcome !== 'allow' && e.reasons.length) lines.push([`why: ${e.reasons.join('; ')}`]);
  }
  return [table(['time', 'event', 'result', 'who', 'record / dataset', 'purpose', 'note'], lines), '', zoneNote()].join('\n') + morePages(bookmark, moreFlags);
}

type Notification = { atMs: number; kind: string; actor: string; recordId: string | null; applicationId: string | null };

const NOTIFICATION_TEXT: Record<string, string> = {
  'break-the-glass': 'emergency read without consent (break the glass)',
  'security-alert': 'security alert',
  consent: 'consent changed',
  application: 'access application',
  erasure: 'record erased',
  care: 'care relation started or ended',
};

export function feedTable(r: unknown, names: PatientNames, moreFlags = ''): string {
  const items = (r as { notifications?: Notification[] }).notifications ?? [];
  if (items.length === 0) return '(no notifications)';
  return (
    [
      table(
        ['time', 'what', 'by', 'record / application'],
        items.map((n) => [localTime(n.atMs), NOTIFICATION_TEXT[n.kind] ?? n.kind, actorRefLabel(names, n.actor), n.recordId ?? n.applicationId ?? '']),
      ),
      '',
      zoneNote(),
    ].join('\n') + morePages((r as { bookmark?: string }).bookmark, moreFlags)
  );
}

export function register(program: Command, _ctx: CommandContext): void {
  const audit = program.command('audit').description("Audit queries: a record's provenance, a patient's access log, an organisation's trail");
  const page = (c: Command): Command =>
    pageOptions(c.option('--fhir', 'as a FHIR R4 Bundle of AuditEvent').option('--newest-first', 'the latest events first (default: oldest first)'));
  type AuditFlags = HealthFlags & { fhir?: boolean; newestFirst?: boolean; pageSize: string; bookmark?: string };
  const query = async (f: AuditFlags, q: Record<string, unknown>): Promise<void> =>
    asUser(f, async (c, out) => {
      const full = {
        ...q,
        pageSize: parsePositiveInt('page-size', f.pageSize, PAGE_SIZE_MAX),
        ...(f.newestFirst ? { order: 'newest' } : {}),
        ...(f.bookmark ? { bookmark: f.bookmark } : {}),
      };
      const r = f.fhir ? await c.exportAuditEvents(full) : await c.auditTrail(full);
      out.result(r, () =>
        f.fhir ? JSON.stringify(r, null, 2) : auditTable(r, new PatientNames(resolve(f.dir), f.org), f.newestFirst ? '--newest-first' : ''),
      );
    });

  page(healthCommand(audit, 'record', "A record's provenance timeline (every create, update, read, denial, erase)"))
    .requiredOption('--record-id <id>', 'record id')
    .action(async (f: AuditFlags & { recordId: string }) => query(f, { kind: 'record', recordId: f.recordId }));
  page(
    healthCommand(
      audit,
      'patient',
      '"Who saw my data": the patient\'s access log (the patient only); with --of, what an organisation\'s trail holds about a patient',
    ),
  )
    .option('--patient <pseudonym|org/user>', 'the patient (default: --org/--user)')
    .option('--of <org>', 'the organisation whose trail to read (its admins and supervisors; a page may then hold fewer entries than --page-size)')
    .action(async (f: AuditFlags & { patient?: string; of?: string }) =>
      query(f, { kind: 'patient', patient: resolvePatient(f.dir, f.patient ?? `${f.org}/${f.user}`), ...(f.of ? { org: f.of } : {}) }),
    );
  page(healthCommand(audit, 'org', "An organisation's audit trail (its admins, supervisors, auditors)"))
    .option('--of <org>', 'the organisation (default: --org)')
    .action(async (f: AuditFlags & { of?: string }) => query(f, { kind: 'org', org: f.of ?? f.org }));
  page(healthCommand(audit, 'dataset', "A dataset's trail (its owner's admins and supervisors)"))
    .requiredOption('--dataset-id <id>', 'dataset id')
    .action(async (f: AuditFlags & { datasetId: string }) => query(f, { kind: 'dataset', datasetId: f.datasetId }));

  pageOptions(healthCommand(audit, 'feed', "The patient's notifications, latest first (break-the-glass, security alerts, applications, care, erasures)"))
    .option('--patient <pseudonym|org/user>', 'the patient (default: --org/--user)')
    .option('--oldest-first', 'from the first notification on (default: the latest first)')
    .action(async (f: HealthFlags & { patient?: string; oldestFirst?: boolean; pageSize: string; bookmark?: string }) =>
      asUser(f, async (c, out) => {
        const r = await c.notifications(resolvePatient(f.dir, f.patient ?? `${f.org}/${f.user}`), {
          order: f.oldestFirst ? 'oldest' : 'newest',
          pageSize: parsePositiveInt('page-size', f.pageSize, PAGE_SIZE_MAX),
          ...(f.bookmark ? { bookmark: f.bookmark } : {}),
        });
        out.result(r, () => feedTable(r, new PatientNames(resolve(f.dir), f.org), f.oldestFirst ? '--oldest-first' : ''));
      }),
    );

  healthCommand(audit, 'provenance', "A record's FHIR Provenance Bundle (create / update / erase)")
    .requiredOption('--record-id <id>', 'record id')
    .action(async (f: HealthFlags & { recordId: string }) =>
      asUser(f, async (c, out) => {
        const r = await c.exportProvenance(f.recordId);
        out.result(r, () => JSON.stringify(r, null, 2));
      }),
    );
}
