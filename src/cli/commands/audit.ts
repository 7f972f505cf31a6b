// `medledger audit record|patient|org|dataset|feed|provenance` — the on-chain audit trail, as
// entries or as FHIR AuditEvent / Provenance Bundles (--fhir).
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { parsePositiveInt } from '../output.ts';
import { asUser, healthCommand, morePages, PAGE_SIZE_MAX, pageOptions, resolvePatient, type HealthFlags } from './record.ts';

type Entry = { atMs: number; op: string; outcome: string; actor: { org: string; id: string; role: string }; recordId: string | null; datasetId?: string | null; purpose: string | null; reasons: string[]; securityAlert: boolean };

/** A patient acts under their pseudonym (decision 0906): 64 hex digits, shortened for the table (--json has it whole). */
function actorText(a: Entry['actor']): string {
  const id = a.role === 'patient' && a.id.length > 16 ? `${a.id.slice(0, 12)}…` : a.id;
  return `${a.org}/${id} (${a.role})`;
}

function table(r: unknown): string {
  const entries = (r as { entries?: Entry[] }).entries ?? [];
  if (entries.length === 0) return '(no entries)';
  return entries.map((e) => `${new Date(e.atMs).toISOString()}  ${e.op.padEnd(19)} ${e.outcome.padEnd(6)} ${actorText(e.actor).padEnd(32)} ${e.recordId ?? e.datasetId ?? ''} ${e.purpose ?? ''}${e.securityAlert ? '  SECURITY-ALERT' : ''}${e.outcome !== 'allow' && e.reasons.length ? `\n      ${e.reasons.join('; ')}` : ''}`).join('\n') + morePages((r as { bookmark?: string }).bookmark);
}

export function register(program: Command, _ctx: CommandContext): void {
  const audit = program.command('audit').description("Audit queries: a record's provenance, a patient's access log, an organisation's trail");
  const page = (c: Command): Command => pageOptions(c.option('--fhir', 'as a FHIR R4 Bundle of AuditEvent'));
  const query = async (f: HealthFlags & { fhir?: boolean; pageSize: string; bookmark?: string }, q: Record<string, unknown>): Promise<void> => asUser(f, async (c, out) => {
    const full = { ...q, pageSize: parsePositiveInt('page-size', f.pageSize, PAGE_SIZE_MAX), ...(f.bookmark ? { bookmark: f.bookmark } : {}) };
    const r = f.fhir ? await c.exportAuditEvents(full) : await c.auditTrail(full);
    out.result(r, () => (f.fhir ? JSON.stringify(r, null, 2) : table(r)));
  });

  page(healthCommand(audit, 'record', "A record's provenance timeline (every create, update, read, denial, erase)"))
    .requiredOption('--record-id <id>', 'record id')
    .action(async (f: HealthFlags & { recordId: string; fhir?: boolean; pageSize: string; bookmark?: string }) => query(f, { kind: 'record', recordId: f.recordId }));
  page(healthCommand(audit, 'patient', '"Who saw my data": the patient\'s access log (the patient only)'))
    .option('--patient <pseudonym|org/user>', 'the patient (default: --org/--user)')
    .action(async (f: HealthFlags & { patient?: string; fhir?: boolean; pageSize: string; bookmark?: string }) => query(f, { kind: 'patient', patient: resolvePatient(f.dir, f.patient ?? `${f.org}/${f.user}`) }));
  page(healthCommand(audit, 'org', "An organisation's audit trail (its admins, supervisors, auditors)"))
    .option('--of <org>', 'the organisation (default: --org)')
    .action(async (f: HealthFlags & { of?: string; fhir?: boolean; pageSize: string; bookmark?: string }) => query(f, { kind: 'org', org: f.of ?? f.org }));
  page(healthCommand(audit, 'dataset', "A dataset's trail (its owner's admins and supervisors)"))
    .requiredOption('--dataset-id <id>', 'dataset id')
    .action(async (f: HealthFlags & { datasetId: string; fhir?: boolean; pageSize: string; bookmark?: string }) => query(f, { kind: 'dataset', datasetId: f.datasetId }));

  healthCommand(audit, 'feed', "The patient's notifications (break-the-glass, security alerts, applications, care, erasures)")
    .option('--patient <pseudonym|org/user>', 'the patient (default: --org/--user)')
    .action(async (f: HealthFlags & { patient?: string }) => asUser(f, async (c, out) => {
      const r = await c.notifications(resolvePatient(f.dir, f.patient ?? `${f.org}/${f.user}`));
      out.result(r, () => JSON.stringify(r, null, 2));
    }));

  healthCommand(audit, 'provenance', "A record's FHIR Provenance Bundle (create / update / erase)")
    .requiredOption('--record-id <id>', 'record id')
    .action(async (f: HealthFlags & { recordId: string }) => asUser(f, async (c, out) => {
      const r = await c.exportProvenance(f.recordId);
      out.result(r, () => JSON.stringify(r, null, 2));
    }));
}
