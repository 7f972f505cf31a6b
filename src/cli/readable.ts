// Human output of the CLI (issue 17): what a hospital's IT staff read without --json. Times are
// local clock times, not epoch milliseconds; patients are named as the directory knows them
// (Hospital1/patient1) or by a shortened pseudonym; lists are aligned tables. --json keeps the
// machine form unchanged, so nothing here may be the only place a value is shown in full.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pseudonymInCertificate } from '../identity/pseudonym.ts';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** "2026-12-03 23:05:17" in the machine's time zone: what a person compares with their clock. */
export function localTime(ms: number | null | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '-';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** "2026-12-03" (local): for validity periods, where the second does not matter. */
export function localDate(ms: number | null | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '-';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/** The time zone the times above are in, said once under a table (e.g. "times: local (UTC+01:00)"). */
export function zoneNote(now = new Date()): string {
  const off = -now.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `times are local (UTC${sign}${pad2(Math.floor(Math.abs(off) / 60))}:${pad2(Math.abs(off) % 60)})`;
}

/** A long hex identifier cut to its first 12 digits; --json has it whole. */
export function shortHex(id: string, keep = 12): string {
  return /^[0-9a-f]+$/.test(id) && id.length > keep + 4 ? `${id.slice(0, keep)}…` : id;
}

/**
 * Aligned columns; the last column is not padded (it may be long). A row of one cell is a note
 * under the row before it (e.g. why a request was refused): indented, outside the columns.
 */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const cols = rows.filter((r) => r.length > 1);
  const widths = headers.map((h, i) => Math.max(h.length, ...cols.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map((r) => (r.length > 1 ? line(r) : `    ${r[0] ?? ''}`))].join('\n');
}

/**
 * Patients' names as the caller's own hospital knows them: pseudonym → "Hospital1/patient1", from
 * the patient certificates under <dir>/crypto/<org>/. Decision 0906: the patient's hospital holds
 * that mapping (its patient registry) and nobody else can make it, so only the caller's own
 * hospital's patients are named — even in the demo, whose one directory holds every hospital's
 * (a demo shortcut); any other pseudonym is shortened. Nothing named here goes on chain.
 * Read lazily, once, and only when a pseudonym is to be printed.
 */
export class PatientNames {
  private names: Map<string, string> | null = null;

  constructor(
    private readonly dir: string,
    private readonly org: string,
  ) {}

  private load(): Map<string, string> {
    const names = new Map<string, string>();
    const crypto = join(this.dir, 'crypto');
    const entries = (p: string): string[] => {
      try {
        return readdirSync(p, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => e.name);
      } catch {
        return [];
      }
    };
    for (const org of entries(crypto).filter((o) => o === this.org)) {
      for (const user of entries(join(crypto, org))) {
        try {
          const pseudonym = pseudonymInCertificate(readFileSync(join(crypto, org, user, 'cert.pem'), 'utf8'));
          if (pseudonym) names.set(pseudonym, `${org}/${user}`);
        } catch {
          // Not a user directory (the CA's own files, a request in progress): nobody to name.
        }
      }
    }
    return names;
  }

  /** The login name, if this directory holds the patient's certificate. */
  nameOf(pseudonym: string): string | null {
    this.names ??= this.load();
    return this.names.get(pseudonym) ?? null;
  }

  /** "Hospital1/patient1" when known, else the shortened pseudonym. */
  label(pseudonym: string): string {
    return this.nameOf(pseudonym) ?? shortHex(pseudonym);
  }
}

/** An on-chain actor "org/id": a patient's id is their pseudonym, named or shortened. */
export function actorLabel(names: PatientNames, org: string, id: string): string {
  if (/^[0-9a-f]{32,64}$/.test(id)) {
    const known = names.nameOf(id);
    return known ?? `${org}/${shortHex(id)}`;
  }
  return `${org}/${id}`;
}

/** "Hospital2/doctor1" or "Hospital1/5f3a…" in a string that names an actor as "org/id". */
export function actorRefLabel(names: PatientNames, ref: string): string {
  const slash = ref.indexOf('/');
  return slash < 0 ? ref : actorLabel(names, ref.slice(0, slash), ref.slice(slash + 1));
}

/**
 * A FHIR resource (or Bundle) as lines a clinician reads: type, id, the coded name and the value.
 * Anything this does not know is printed as indented JSON under its type, so nothing is hidden.
 */
export function fhirSummary(resource: unknown): string[] {
  if (typeof resource !== 'object' || resource === null) return [String(resource)];
  const r = resource as Record<string, unknown>;
  if (r['resourceType'] === 'Bundle' && Array.isArray(r['entry'])) {
    const entries = r['entry'] as Array<{ resource?: unknown }>;
    return [
      `Bundle (${String(r['type'] ?? 'collection')}, ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'})`,
      ...entries.flatMap((e) => fhirSummary(e.resource).map((l) => `  ${l}`)),
    ];
  }
  const type = String(r['resourceType'] ?? 'resource');
  const id = typeof r['id'] === 'string' ? ` ${r['id']}` : '';
  const code = r['code'] as { text?: string; coding?: Array<{ system?: string; code?: string; display?: string }> } | undefined;
  const coding = code?.coding?.[0];
  const name = code?.text ?? coding?.display ?? coding?.code;
  if (name === undefined)
    return [
      `${type}${id}:`,
      ...JSON.stringify(r, null, 2)
        .split('\n')
        .map((l) => `  ${l}`),
    ];
  const system = coding?.system?.includes('loinc')
    ? 'LOINC'
    : coding?.system?.includes('icd-10')
      ? 'ICD-10'
      : coding?.system?.includes('snomed')
        ? 'SNOMED CT'
        : null;
  const codeText = coding?.code && system ? ` (${system} ${coding.code})` : '';
  const q = r['valueQuantity'] as { value?: number; unit?: string } | undefined;
  const value = q?.value !== undefined ? ` = ${q.value}${q.unit ? ` ${q.unit}` : ''}` : typeof r['valueString'] === 'string' ? ` = ${r['valueString']}` : '';
  const status = typeof r['status'] === 'string' ? ` [${r['status']}]` : '';
  return [`${type}${id}: ${name}${codeText}${value}${status}`];
}

/** Whom a consent names, as the contract stores it. */
export interface Grantee {
  readonly kind: string;
  readonly user?: string;
  readonly org?: string;
  readonly role?: string;
}

/** Whom a consent names, in words: a user by name (a patient's pseudonym shortened), else everyone at a hospital or with a role. */
export function granteeText(g: Grantee, names: PatientNames): string {
  if (g.kind === 'user' && g.user) return actorRefLabel(names, g.user);
  if (g.kind === 'org') return `anyone at ${g.org ?? '?'}`;
  if (g.kind === 'role') return `every ${g.role ?? '?'}${g.org ? ` at ${g.org}` : ''}`;
  return g.kind;
}
