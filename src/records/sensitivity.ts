// Sensitivity classification of FHIR content (DESIGN §5): a record is split into at most one part
// per level (normal / sensitive / restricted) so that a reader allowed "up to sensitive" is given
// the normal and sensitive parts and never the keys of the restricted one.
//
// A rule matches a resource by resource type, by a code (system + code, or a code prefix such as
// ICD-10 "F" for mental and behavioural disorders) anywhere in its `code`, `category`,
// `valueCodeableConcept` or `meta.security`, and assigns a level; the highest matching level wins,
// the default is `normal`. Rules are data (JSON-loadable), so a hospital can replace the defaults.
import { z } from 'zod';
import type { Sensitivity } from '../contracts/health/model.ts';
import { SENSITIVITIES } from '../contracts/health/model.ts';

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';

export const sensitivityRuleSchema = z.strictObject({
  /** Why the rule exists (shown in `explain`). */
  label: z.string().min(1).max(200),
  sensitivity: z.enum(SENSITIVITIES),
  resourceTypes: z
    .array(z.string().regex(/^[A-Z][A-Za-z]{1,63}$/))
    .max(50)
    .optional(),
  /** Exact codes: `system|code`. */
  codes: z.array(z.string().min(3).max(300)).max(500).optional(),
  /** Code prefixes: `system|prefix` (ICD-10 chapters and blocks). */
  codePrefixes: z.array(z.string().min(3).max(300)).max(500).optional(),
});
export type SensitivityRule = z.infer<typeof sensitivityRuleSchema>;
export const sensitivityRulesSchema = z.array(sensitivityRuleSchema).max(200);

/** The defaults (documented in docs/architecture/health-data.md). */
export const DEFAULT_SENSITIVITY_RULES: readonly SensitivityRule[] = [
  {
    label: 'mental health: ICD-10 chapter V (F00–F99), SNOMED mental disorder',
    sensitivity: 'restricted',
    codePrefixes: [`${ICD10}|F`],
    codes: [`${SNOMED}|74732009`, `${SNOMED}|35489007`, `${SNOMED}|69322001`],
  },
  {
    label: 'HIV: ICD-10 B20–B24, Z21; SNOMED HIV infection; LOINC HIV tests',
    sensitivity: 'restricted',
    codePrefixes: [`${ICD10}|B20`, `${ICD10}|B21`, `${ICD10}|B22`, `${ICD10}|B23`, `${ICD10}|B24`, `${ICD10}|Z21`],
    codes: [`${SNOMED}|86406008`, `${SNOMED}|165816005`, `${LOINC}|75622-1`, `${LOINC}|7917-8`, `${LOINC}|20447-9`],
  },
  {
    label: 'genetics: sequences, genetic tests, ICD-10 Z15 (genetic susceptibility)',
    sensitivity: 'restricted',
    resourceTypes: ['MolecularSequence'],
    codePrefixes: [`${ICD10}|Z15`],
    codes: [`${LOINC}|51969-4`, `${LOINC}|55232-3`],
  },
  {
    label: 'labelled restricted / very restricted (meta.security R or V)',
    sensitivity: 'restricted',
    codes: [`${CONFIDENTIALITY}|R`, `${CONFIDENTIALITY}|V`],
  },
  {
    label: 'sexual and reproductive health: ICD-10 A50–A64, O00–O08',
    sensitivity: 'sensitive',
    codePrefixes: [`${ICD10}|A5`, `${ICD10}|A60`, `${ICD10}|A63`, `${ICD10}|A64`, `${ICD10}|O0`],
  },
  {
    label: 'social history observations',
    sensitivity: 'sensitive',
    codes: ['http://terminology.hl7.org/CodeSystem/observation-category|social-history'],
  },
];

const RANK: Record<Sensitivity, number> = { normal: 0, sensitive: 1, restricted: 2 };

interface Coding {
  system?: unknown;
  code?: unknown;
}

/** Every system|code of the fields rules look at (bounded: resources are size-limited upstream). */
function codingsOf(resource: Record<string, unknown>): string[] {
  const out: string[] = [];
  const take = (c: unknown): void => {
    if (typeof c !== 'object' || c === null) return;
    const coding = c as Coding;
    if (typeof coding.code === 'string') out.push(`${typeof coding.system === 'string' ? coding.system : ''}|${coding.code}`);
  };
  const concept = (cc: unknown): void => {
    if (Array.isArray(cc)) {
      for (const x of cc) concept(x);
      return;
    }
    if (typeof cc === 'object' && cc !== null && Array.isArray((cc as { coding?: unknown }).coding))
      for (const c of (cc as { coding: unknown[] }).coding) take(c);
  };
  concept(resource['code']);
  concept(resource['category']);
  concept(resource['valueCodeableConcept']);
  const meta = resource['meta'];
  if (typeof meta === 'object' && meta !== null && Array.isArray((meta as { security?: unknown }).security))
    for (const s of (meta as { security: unknown[] }).security) take(s);
  return out;
}

export interface Classification {
  readonly sensitivity: Sensitivity;
  /** Labels of the rules that matched. */
  readonly matched: readonly string[];
}

export function classifyResource(resource: Record<string, unknown>, rules: readonly SensitivityRule[] = DEFAULT_SENSITIVITY_RULES): Classification {
  const type = typeof resource['resourceType'] === 'string' ? resource['resourceType'] : '';
  const codes = codingsOf(resource);
  let level: Sensitivity = 'normal';
  const matched: string[] = [];
  for (const rule of rules) {
    const hit =
      (rule.resourceTypes?.includes(type) ?? false) ||
      codes.some((c) => rule.codes?.includes(c) ?? false) ||
      codes.some((c) => rule.codePrefixes?.some((p) => c.startsWith(p)) ?? false);
    if (!hit) continue;
    matched.push(rule.label);
    if (RANK[rule.sensitivity] > RANK[level]) level = rule.sensitivity;
  }
  return { sensitivity: level, matched };
}

/** The level of one `system|code` (a code cell of a CSV code column) under the code rules. */
export function classifyCode(systemCode: string, rules: readonly SensitivityRule[] = DEFAULT_SENSITIVITY_RULES): Classification {
  let level: Sensitivity = 'normal';
  const matched: string[] = [];
  for (const rule of rules) {
    if (!(rule.codes?.includes(systemCode) ?? false) && !(rule.codePrefixes?.some((p) => systemCode.startsWith(p)) ?? false)) continue;
    matched.push(rule.label);
    if (RANK[rule.sensitivity] > RANK[level]) level = rule.sensitivity;
  }
  return { sensitivity: level, matched };
}

export interface FhirPart {
  readonly sensitivity: Sensitivity;
  /** The part's content: the resource itself, or a collection Bundle of the entries at this level. */
  readonly resource: Record<string, unknown>;
  readonly resourceCount: number;
}

/**
 * Split a (validated) resource or Bundle by sensitivity. A Bundle's entries are grouped into one
 * collection Bundle per level (entry order kept); any other resource is one part at its level.
 */
export function splitBySensitivity(resource: Record<string, unknown>, rules: readonly SensitivityRule[] = DEFAULT_SENSITIVITY_RULES): FhirPart[] {
  if (resource['resourceType'] !== 'Bundle') {
    return [{ sensitivity: classifyResource(resource, rules).sensitivity, resource, resourceCount: 1 }];
  }
  const entries = Array.isArray(resource['entry']) ? (resource['entry'] as unknown[]) : [];
  const groups = new Map<Sensitivity, unknown[]>();
  for (const e of entries) {
    const r = typeof e === 'object' && e !== null ? (e as { resource?: unknown }).resource : undefined;
    const level = typeof r === 'object' && r !== null ? classifyResource(r as Record<string, unknown>, rules).sensitivity : 'normal';
    const list = groups.get(level) ?? [];
    list.push(e);
    groups.set(level, list);
  }
  if (groups.size === 0) return [{ sensitivity: 'normal', resource, resourceCount: 0 }];
  return SENSITIVITIES.filter((s) => groups.has(s)).map((s) => ({
    sensitivity: s,
    resource: { resourceType: 'Bundle', type: 'collection', entry: groups.get(s)! },
    resourceCount: groups.get(s)!.length,
  }));
}

export function maxLevel(levels: readonly Sensitivity[]): Sensitivity {
  let out: Sensitivity = 'normal';
  for (const l of levels) if (RANK[l] > RANK[out]) out = l;
  return out;
}
