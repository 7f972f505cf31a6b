// FHIR resources as a clinician reads them: the fields that matter for each common resource type
// (Patient, Observation, Condition, MedicationRequest, AllergyIntolerance, DiagnosticReport, and a
// Bundle of any of them), and a generic view for everything else so no content is ever hidden.
// The content is untrusted input rendered as text (React escapes it); nothing is evaluated.
import { Badge, Card, Code, Group, Stack, Table, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';

type Json = Record<string, unknown>;

const BUNDLE_ENTRIES_MAX = 50;
const GENERIC_TEXT_MAX = 20_000;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null);

/** A CodeableConcept (or Coding) in words: its text, else the first coding's display, else system|code. */
export function conceptText(v: unknown): string | null {
  if (!isObject(v)) return null;
  const text = str(v['text']);
  if (text) return text;
  if (str(v['display'])) return str(v['display']);
  for (const c of arr(v['coding'])) {
    if (!isObject(c)) continue;
    const display = str(c['display']);
    const code = str(c['code']);
    if (display) return code ? `${display} (${code})` : display;
    if (code) return code;
  }
  return str(v['code']);
}

function quantityText(v: unknown): string | null {
  if (!isObject(v)) return null;
  const value = str(v['value']);
  if (value === null) return null;
  const unit = str(v['unit']) ?? str(v['code']) ?? '';
  const comparator = str(v['comparator']) ?? '';
  return `${comparator}${value}${unit ? ` ${unit}` : ''}`;
}

/** A FHIR value[x] (Quantity, CodeableConcept, string, boolean, integer, dateTime, Period, Range…). */
function valueText(resource: Json, prefix = 'value'): string | null {
  for (const [k, v] of Object.entries(resource)) {
    if (!k.startsWith(prefix) || k === prefix) continue;
    const kind = k.slice(prefix.length);
    if (kind === 'Quantity') return quantityText(v);
    if (kind === 'CodeableConcept' || kind === 'Coding') return conceptText(v);
    if (kind === 'Range' && isObject(v)) return `${quantityText(v['low']) ?? '…'} – ${quantityText(v['high']) ?? '…'}`;
    if (kind === 'Period' && isObject(v)) return `${str(v['start']) ?? '…'} – ${str(v['end']) ?? '…'}`;
    if (str(v)) return str(v);
  }
  return null;
}

function humanName(v: unknown): string | null {
  const names = arr(v).filter(isObject);
  const n = names.find((x) => x['use'] === 'official') ?? names[0];
  if (!n) return null;
  if (str(n['text'])) return str(n['text']);
  const given = arr(n['given'])
    .map(str)
    .filter((x): x is string => x !== null)
    .join(' ');
  return [given, str(n['family'])].filter((x) => x).join(' ') || null;
}

function refText(v: unknown): string | null {
  if (!isObject(v)) return null;
  return str(v['display']) ?? str(v['reference']);
}

function Fields({ rows, label }: { rows: ReadonlyArray<readonly [string, string | null]>; label: string }): ReactNode {
  const shown = rows.filter((r): r is readonly [string, string] => r[1] !== null);
  if (shown.length === 0) return null;
  return (
    <Table withRowBorders={false} verticalSpacing={2} aria-label={label}>
      <Table.Tbody>
        {shown.map(([k, v]) => (
          <Table.Tr key={k}>
            <Table.Th w={180} scope="row">
              <Text size="sm" c="dimmed">
                {k}
              </Text>
            </Table.Th>
            <Table.Td>
              <Text size="sm">{v}</Text>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function Header({ type, title, status }: { type: string; title: string; status?: string | null }): ReactNode {
  return (
    <Group gap="xs" wrap="wrap">
      <Badge variant="outline" radius="sm">
        {type}
      </Badge>
      <Title order={4} size="h5">
        {title}
      </Title>
      {status ? (
        <Badge color="gray" variant="light">
          {status}
        </Badge>
      ) : null}
    </Group>
  );
}

function ObservationView({ r }: { r: Json }): ReactNode {
  const components = arr(r['component']).filter(isObject);
  return (
    <Stack gap={4}>
      <Header type="Observation" title={conceptText(r['code']) ?? 'Observation'} status={str(r['status'])} />
      <Fields
        label="Observation"
        rows={[
          ['Value', valueText(r)],
          [
            'Interpretation',
            arr(r['interpretation'])
              .map(conceptText)
              .filter((x) => x)
              .join(', ') || null,
          ],
          [
            'Reference range',
            arr(r['referenceRange'])
              .filter(isObject)
              .map((x) => `${quantityText(x['low']) ?? '…'} – ${quantityText(x['high']) ?? '…'}`)
              .join('; ') || null,
          ],
          ['When', str(r['effectiveDateTime']) ?? (isObject(r['effectivePeriod']) ? str(r['effectivePeriod']['start']) : null) ?? str(r['issued'])],
          [
            'Category',
            arr(r['category'])
              .map(conceptText)
              .filter((x) => x)
              .join(', ') || null,
          ],
          ['Subject', refText(r['subject'])],
          [
            'Performer',
            arr(r['performer'])
              .map(refText)
              .filter((x) => x)
              .join(', ') || null,
          ],
          ...components.map((c, i) => [`${conceptText(c['code']) ?? `Component ${i + 1}`}`, valueText(c)] as const),
          [
            'Note',
            arr(r['note'])
              .filter(isObject)
              .map((n) => str(n['text']))
              .filter((x) => x)
              .join(' ') || null,
          ],
        ]}
      />
    </Stack>
  );
}

function ConditionView({ r }: { r: Json }): ReactNode {
  return (
    <Stack gap={4}>
      <Header type="Condition" title={conceptText(r['code']) ?? 'Condition'} status={conceptText(r['clinicalStatus'])} />
      <Fields
        label="Condition"
        rows={[
          ['Verification', conceptText(r['verificationStatus'])],
          ['Severity', conceptText(r['severity'])],
          ['Onset', valueText(r, 'onset')],
          ['Abatement', valueText(r, 'abatement')],
          ['Recorded', str(r['recordedDate'])],
          [
            'Body site',
            arr(r['bodySite'])
              .map(conceptText)
              .filter((x) => x)
              .join(', ') || null,
          ],
          ['Subject', refText(r['subject'])],
          [
            'Note',
            arr(r['note'])
              .filter(isObject)
              .map((n) => str(n['text']))
              .filter((x) => x)
              .join(' ') || null,
          ],
        ]}
      />
    </Stack>
  );
}

function MedicationRequestView({ r }: { r: Json }): ReactNode {
  const dosage = arr(r['dosageInstruction'])
    .filter(isObject)
    .map((d) => str(d['text']) ?? conceptText(d['route']))
    .filter((x) => x)
    .join('; ');
  return (
    <Stack gap={4}>
      <Header
        type="MedicationRequest"
        title={conceptText(r['medicationCodeableConcept']) ?? refText(r['medicationReference']) ?? 'Medication'}
        status={str(r['status'])}
      />
      <Fields
        label="Medication request"
        rows={[
          ['Intent', str(r['intent'])],
          ['Dosage', dosage || null],
          ['Authored', str(r['authoredOn'])],
          ['Requester', refText(r['requester'])],
          [
            'Reason',
            arr(r['reasonCode'])
              .map(conceptText)
              .filter((x) => x)
              .join(', ') || null,
          ],
          ['Subject', refText(r['subject'])],
          [
            'Note',
            arr(r['note'])
              .filter(isObject)
              .map((n) => str(n['text']))
              .filter((x) => x)
              .join(' ') || null,
          ],
        ]}
      />
    </Stack>
  );
}

function AllergyView({ r }: { r: Json }): ReactNode {
  const reactions = arr(r['reaction'])
    .filter(isObject)
    .map((x) =>
      [
        arr(x['manifestation'])
          .map(conceptText)
          .filter((m) => m)
          .join(', '),
        str(x['severity']),
      ]
        .filter((m) => m)
        .join(' — '),
    )
    .filter((x) => x);
  const criticality = str(r['criticality']);
  return (
    <Stack gap={4}>
      <Group gap="xs">
        <Header type="AllergyIntolerance" title={conceptText(r['code']) ?? 'Allergy'} status={conceptText(r['clinicalStatus'])} />
        {criticality === 'high' ? <Badge color="red">high criticality</Badge> : null}
      </Group>
      <Fields
        label="Allergy or intolerance"
        rows={[
          ['Type', str(r['type'])],
          [
            'Category',
            arr(r['category'])
              .map(str)
              .filter((x) => x)
              .join(', ') || null,
          ],
          ['Criticality', criticality],
          ['Reactions', reactions.join('; ') || null],
          ['Verification', conceptText(r['verificationStatus'])],
          ['Onset', valueText(r, 'onset')],
          ['Recorded', str(r['recordedDate'])],
          ['Patient', refText(r['patient'])],
        ]}
      />
    </Stack>
  );
}

function DiagnosticReportView({ r }: { r: Json }): ReactNode {
  return (
    <Stack gap={4}>
      <Header type="DiagnosticReport" title={conceptText(r['code']) ?? 'Report'} status={str(r['status'])} />
      <Fields
        label="Diagnostic report"
        rows={[
          ['Conclusion', str(r['conclusion'])],
          [
            'Findings',
            arr(r['conclusionCode'])
              .map(conceptText)
              .filter((x) => x)
              .join(', ') || null,
          ],
          [
            'Category',
            arr(r['category'])
              .map(conceptText)
              .filter((x) => x)
              .join(', ') || null,
          ],
          ['When', str(r['effectiveDateTime']) ?? str(r['issued'])],
          [
            'Results',
            arr(r['result'])
              .map(refText)
              .filter((x) => x)
              .join(', ') || null,
          ],
          [
            'Performer',
            arr(r['performer'])
              .map(refText)
              .filter((x) => x)
              .join(', ') || null,
          ],
          ['Subject', refText(r['subject'])],
        ]}
      />
    </Stack>
  );
}

function PatientView({ r }: { r: Json }): ReactNode {
  const telecom = arr(r['telecom'])
    .filter(isObject)
    .map((t) => str(t['value']))
    .filter((x) => x)
    .join(', ');
  const address = arr(r['address'])
    .filter(isObject)
    .map((a) => str(a['text']) ?? [arr(a['line']).map(str).join(' '), str(a['city']), str(a['country'])].filter((x) => x).join(', '))
    .filter((x) => x)
    .join('; ');
  return (
    <Stack gap={4}>
      <Header type="Patient" title={humanName(r['name']) ?? 'Patient'} status={r['active'] === false ? 'inactive' : null} />
      <Fields
        label="Patient"
        rows={[
          ['Gender', str(r['gender'])],
          ['Born', str(r['birthDate'])],
          ['Deceased', valueText(r, 'deceased')],
          ['Contact', telecom || null],
          ['Address', address || null],
          [
            'Language',
            arr(r['communication'])
              .filter(isObject)
              .map((c) => conceptText(c['language']))
              .filter((x) => x)
              .join(', ') || null,
          ],
        ]}
      />
    </Stack>
  );
}

function GenericView({ r }: { r: Json }): ReactNode {
  const text = JSON.stringify(r, null, 2);
  return (
    <Stack gap={4}>
      <Header type={str(r['resourceType']) ?? 'JSON'} title="(shown as stored)" />
      <Code block>
        {text.length > GENERIC_TEXT_MAX ? `${text.slice(0, GENERIC_TEXT_MAX)}\n… (${text.length - GENERIC_TEXT_MAX} more characters: download the part)` : text}
      </Code>
    </Stack>
  );
}

function BundleView({ r, depth }: { r: Json; depth: number }): ReactNode {
  const entries = arr(r['entry'])
    .filter(isObject)
    .map((e) => e['resource'])
    .filter(isObject);
  return (
    <Stack gap="xs">
      <Header type="Bundle" title={`${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}`} status={str(r['type'])} />
      {entries.slice(0, BUNDLE_ENTRIES_MAX).map((e, i) => (
        <Card key={i} withBorder padding="xs">
          <FhirResourceView resource={e} depth={depth + 1} />
        </Card>
      ))}
      {entries.length > BUNDLE_ENTRIES_MAX ? (
        <Text size="sm" c="dimmed">
          … {entries.length - BUNDLE_ENTRIES_MAX} more entries (download the part to see them all)
        </Text>
      ) : null}
    </Stack>
  );
}

/** One FHIR resource, rendered for a clinician; unknown types (and nesting deeper than 3) as stored JSON. */
export function FhirResourceView({ resource, depth = 0 }: { resource: unknown; depth?: number }): ReactNode {
  if (!isObject(resource)) return <Text size="sm">Not a FHIR resource.</Text>;
  switch (depth > 3 ? '' : resource['resourceType']) {
    case 'Observation':
      return <ObservationView r={resource} />;
    case 'Condition':
      return <ConditionView r={resource} />;
    case 'MedicationRequest':
      return <MedicationRequestView r={resource} />;
    case 'AllergyIntolerance':
      return <AllergyView r={resource} />;
    case 'DiagnosticReport':
      return <DiagnosticReportView r={resource} />;
    case 'Patient':
      return <PatientView r={resource} />;
    case 'Bundle':
      return <BundleView r={resource} depth={depth} />;
    default:
      return <GenericView r={resource} />;
  }
}
