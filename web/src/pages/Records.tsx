// Records (doctors, nurses, supervisors): find a patient — from the caller's own care relations
// and the consents naming them, or by the pseudonym the patient shares — list the records the
// caller has a basis to read (metadata only), open one through the audited access decision and see
// it verified and rendered; create and update records from FHIR JSON or a file; erase (the
// custodian's supervisors). Every decision is a transaction signed in this browser.
import { Alert, Badge, Button, Card, Group, Modal, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useCallback, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { Link, Route, Switch, useLocation, useParams } from 'wouter';
import { ErrorAlert } from '../app/errors.tsx';
import { localTime, shortHex, useLoad } from '../app/hooks.ts';
import { useSession } from '../app/session.tsx';
import { PageControl, usePaged } from '../components/Paged.tsx';
import { LoadMore } from '../components/LoadMore.tsx';
import { granteeText } from '../app/grantee.ts';
import type { MyPatient } from '../../../src/sdk/health.ts';
import { useLedgerList } from '../app/ledger-pages.ts';
import { ReadOutcome, type ReadResult } from '../components/RecordRead.tsx';
import { RecordForm, type RecordFormValue } from '../components/RecordForm.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { useReveal } from '../components/reveal.ts';
import { ActionOutcome } from '../components/ActionOutcome.tsx';

const PSEUDONYM_RE = /^[0-9a-f]{32,64}$/;
/** Records fetched per load; more on demand (decision 0907). */
const RECORDS_PER_LOAD = 50;
/** myPatients reads this many index keys a call (care relations, ended ones too, then consents). */
const PATIENT_KEYS_PER_CALL = 200;
/** Patients a load gathers before it shows them; more on demand. */
const PATIENTS_PER_LOAD = 100;
export const READ_PURPOSES = ['TREAT', 'ETREAT', 'HOPERAT', 'CAREMGT', 'PATRQT'] as const;

interface RecordMeta {
  readonly recordId: string;
  readonly category: string;
  readonly sensitivity: string;
  readonly version: number;
  readonly custodian: string;
  readonly updatedAtMs: number;
}

/**
 * One row per patient: the contract lists care relations, then consents, a page at a time, so a
 * patient in care who also consented comes twice (decision 0909).
 */
function mergePatients(entries: readonly MyPatient[]): MyPatient[] {
  const byPatient = new Map<string, MyPatient>();
  for (const e of entries) {
    const seen = byPatient.get(e.patient);
    byPatient.set(e.patient, seen ? { ...seen, care: seen.care ?? e.care, consents: [...seen.consents, ...e.consents] } : e);
  }
  return [...byPatient.values()];
}

function PatientFinder(): ReactNode {
  const { health } = useSession();
  const [, navigate] = useLocation();
  const mine = useLedgerList<MyPatient>(
    async (bookmark) => {
      const page = await health.myPatients({ pageSize: PATIENT_KEYS_PER_CALL, ...(bookmark ? { bookmark } : {}) });
      return { items: page.patients, bookmark: page.bookmark };
    },
    PATIENTS_PER_LOAD,
    [health],
  );
  const rows = useMemo(() => (mine.items === null ? null : mergePatients(mine.items)), [mine.items]);
  const paged = usePaged(rows ?? []);
  // A consent may be granted ahead of its period: it is shown with its start (decision 0913).
  const nowMs = Date.now();
  const [pseudonym, setPseudonym] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const find = (e: FormEvent): void => {
    e.preventDefault();
    const p = pseudonym.trim().toLowerCase();
    if (!PSEUDONYM_RE.test(p)) return setProblem('A patient pseudonym is 32 to 64 hexadecimal characters: the patient finds theirs on their "My data" page.');
    navigate(`/patient/${p}`);
  };
  return (
    <Stack>
      <Card withBorder>
        <Title order={3} size="h4" mb="xs">
          Your patients
        </Title>
        <Text size="sm" c="dimmed" mb="xs">
          Patients you care for, and patients whose consent names you, your hospital or your role. Patients are known on the ledger only by pseudonym.
        </Text>
        {mine.error ? <ErrorAlert error={mine.error} /> : null}
        {rows && rows.length === 0 && !mine.more ? <Text size="sm">No care relation and no consent names you, your hospital or your role yet.</Text> : null}
        {paged.total > 0 ? (
          <DataTable label="Your patients" striped highlightOnHover data-testid="my-patients" headings={['Patient', 'Hospital', 'Your basis', '']}>
            {paged.items.map((p) => (
              <Table.Tr key={p.patient}>
                <Table.Td>
                  <Text size="sm" ff="monospace" title={p.patient}>
                    {shortHex(p.patient, 16)}
                  </Text>
                </Table.Td>
                <Table.Td>{p.patientOrg ?? '—'}</Table.Td>
                <Table.Td>
                  <Stack gap={2}>
                    {p.care ? <Text size="sm">in your care since {localTime(p.care.startedAtMs)}</Text> : null}
                    {p.consents.map((c) => (
                      <Text size="sm" key={c.consentId} data-consent-id={c.consentId}>
                        consent{c.grantee.kind === 'user' ? '' : ` to ${granteeText(c.grantee)}`}: {c.actions.join(', ')} for {c.purposes.join(', ')}, up to{' '}
                        {c.maxSensitivity},{' '}
                        {c.startMs > nowMs ? (
                          <>
                            <Badge size="sm" color="gray" variant="light">
                              not yet in force
                            </Badge>{' '}
                            from {localTime(c.startMs)}{' '}
                          </>
                        ) : null}
                        until {localTime(c.endMs)}
                      </Text>
                    ))}
                  </Stack>
                </Table.Td>
                <Table.Td>
                  <Button size="xs" component={Link} href={`/patient/${p.patient}`} aria-label={`Records of patient ${shortHex(p.patient, 16)}`}>
                    Records
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </DataTable>
        ) : null}
        <PageControl paged={paged} label="patients" />
        <LoadMore pages={mine} paged={paged} label="Load more patients" testId="my-patients-more" />
      </Card>
      <Card withBorder>
        <form onSubmit={find} aria-label="Find a patient by pseudonym">
          <Group align="flex-end">
            <TextInput
              label="Find a patient by pseudonym"
              description="The patient can read it to you from their My data page"
              value={pseudonym}
              onChange={(e) => setPseudonym(e.currentTarget.value)}
              // At least 16rem before the button goes under it: a phone gives a 64-digit pseudonym
              // the card's whole width, not what is left beside the button.
              style={{ flex: '1 1 16rem' }}
            />
            <Button type="submit">Show records</Button>
          </Group>
          {problem ? (
            <Alert color="red" mt="xs" role="alert">
              {problem}
            </Alert>
          ) : null}
        </form>
      </Card>
    </Stack>
  );
}

function PatientRecords({ patient }: { patient: string }): ReactNode {
  const { health, me } = useSession();
  const [purpose, setPurpose] = useState<string>('TREAT');
  const [creating, { open, close }] = useDisclosure(false);
  const [, navigate] = useLocation();
  const [created, setCreated] = useState<Record<string, unknown> | null>(null);
  // A page of the ledger's list at a time, the next on demand: fetching up to 500 and stopping
  // there left the rest of a long history unsaid.
  const list = useLedgerList<RecordMeta>(
    async (bookmark) => {
      const page = (await health.listRecords(patient, purpose, bookmark, RECORDS_PER_LOAD)) as { records: RecordMeta[]; bookmark: string };
      return { items: page.records, bookmark: page.bookmark };
    },
    RECORDS_PER_LOAD,
    [health, patient, purpose],
  );
  const paged = usePaged(list.items ?? []);
  const create = useCallback(
    async (v: RecordFormValue) => {
      const r = await health.createRecord({ recordId: v.recordId, patient, input: v.input, purpose });
      setCreated(r);
      if (r['allowed'] === true) {
        close();
        navigate(`/record/${v.recordId}`);
      }
    },
    [health, patient, purpose, close, navigate],
  );
  const mayWrite = me.role === 'doctor' || me.role === 'nurse';
  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Title order={3} size="h4">
          Records of patient <span title={patient}>{shortHex(patient, 16)}</span>
        </Title>
        <Group>
          <Select label="Purpose" data={[...READ_PURPOSES]} value={purpose} onChange={(v) => setPurpose(v ?? 'TREAT')} allowDeselect={false} w={140} />
          {mayWrite ? (
            <Button
              mt={24}
              onClick={() => {
                setCreated(null);
                open();
              }}
            >
              New record
            </Button>
          ) : null}
        </Group>
      </Group>
      {list.error ? <ErrorAlert error={list.error} /> : null}
      {list.items && list.items.length === 0 && !list.more ? (
        <Text size="sm">No record of this patient that you have a basis to read for {purpose}.</Text>
      ) : null}
      {paged.total > 0 ? (
        <DataTable
          label="Records"
          striped
          highlightOnHover
          data-testid="records"
          headings={['Record', 'Category', 'Sensitivity', 'Version', 'Custodian', 'Updated']}
        >
          {paged.items.map((r) => (
            <Table.Tr key={r.recordId}>
              <Table.Td>
                <Link href={`/record/${r.recordId}`}>{r.recordId}</Link>
              </Table.Td>
              <Table.Td>{r.category}</Table.Td>
              <Table.Td>
                <Badge variant="light">{r.sensitivity}</Badge>
              </Table.Td>
              <Table.Td>{r.version}</Table.Td>
              <Table.Td>{r.custodian}</Table.Td>
              <Table.Td>{localTime(r.updatedAtMs)}</Table.Td>
            </Table.Tr>
          ))}
        </DataTable>
      ) : null}
      <PageControl paged={paged} label="records" />
      <LoadMore pages={list} paged={paged} label="Load more records" testId="records-more" />
      <Modal opened={creating} onClose={close} closeButtonProps={{ 'aria-label': 'Close' }} title="New record" size="lg">
        <RecordForm mode="create" submitLabel="Create record" onSubmit={create} />
        {created && created['allowed'] !== true ? (
          <ErrorAlert title="The ledger refused the write" error={new Error((created['reasons'] as string[] | undefined)?.join('; ') ?? 'denied')} />
        ) : null}
      </Modal>
    </Stack>
  );
}

function RecordDetail({ recordId }: { recordId: string }): ReactNode {
  const { health, me } = useSession();
  const [purpose, setPurpose] = useState<string>('TREAT');
  const [result, setResult] = useState<ReadResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  // The record opened (or why not) comes below its metadata and actions: brought into sight.
  const outcomeRef = useReveal<HTMLDivElement>(result ?? error);
  const [busy, setBusy] = useState(false);
  const [updating, upd] = useDisclosure(false);
  const [erasing, era] = useDisclosure(false);
  const [notice, setNotice] = useState<string | null>(null);
  const meta = useLoad(() => health.evaluate('getRecord', { recordId, purpose: 'TREAT' }) as Promise<Record<string, unknown>>, [health, recordId, notice]);
  const read = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await health.readRecord({ recordId, purpose }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const update = async (v: RecordFormValue): Promise<void> => {
    const r = await health.updateRecord({ recordId, input: v.input, purpose });
    if (r['allowed'] !== true) throw new Error(`the ledger refused the update: ${((r['reasons'] as string[] | undefined) ?? []).join('; ')}`);
    upd.close();
    setResult(null);
    setNotice(
      `Version ${String((r['record'] as { version?: number } | undefined)?.version ?? 'new')} written (transaction ${shortHex(String(r['txId']), 16)}).`,
    );
  };
  const erase = async (): Promise<void> => {
    try {
      const r = await health.eraseRecord(recordId);
      era.close();
      setResult(null);
      setNotice(
        `Erased (transaction ${shortHex(String(r['txId']), 16)}): only a non-identifying proof stays on the ledger, and the custodian shreds the content keys.`,
      );
    } catch (err) {
      era.close();
      setError(err);
    }
  };
  const m = meta.data;
  const erased = m !== null && m['erased'] === true;
  return (
    <Stack>
      <Title order={3} size="h4">
        Record {recordId}
      </Title>
      {m ? (
        <Text size="sm" data-testid="record-meta">
          {erased ? 'Erased. ' : ''}Patient <span title={String(m['patient'] ?? '')}>{shortHex(String(m['patient'] ?? '—'), 16)}</span> ·{' '}
          {String(m['category'] ?? '')} · {String(m['sensitivity'] ?? '')} · version {String(m['version'] ?? '—')} · custodian {String(m['custodian'] ?? '—')}
          {m['patient'] ? (
            <>
              {' '}
              · <Link href={`/patient/${String(m['patient'])}`}>other records</Link>
            </>
          ) : null}
        </Text>
      ) : null}
      {meta.error && !result ? (
        <Text size="sm" c="dimmed">
          Metadata: {(meta.error as Error).message}
        </Text>
      ) : null}
      <ActionOutcome done={notice} testId="notice" />
      <Card withBorder>
        <Group align="flex-end" wrap="wrap">
          <Select
            label="Purpose of this read"
            data={[...READ_PURPOSES]}
            value={purpose}
            onChange={(v) => setPurpose(v ?? 'TREAT')}
            allowDeselect={false}
            w={180}
          />
          <Button onClick={() => void read()} loading={busy} disabled={erased}>
            Open record
          </Button>
          {me.role === 'doctor' || me.role === 'nurse' ? (
            <Button variant="default" onClick={upd.open} disabled={erased}>
              New version
            </Button>
          ) : null}
          {me.role === 'supervisor' ? (
            <Button color="red" variant="outline" onClick={era.open} disabled={erased}>
              Erase…
            </Button>
          ) : null}
        </Group>
        <Text size="xs" c="dimmed" mt="xs">
          Opening a record is decided on the ledger and audited; the patient sees it in their access log.
        </Text>
      </Card>
      {error || result ? (
        <Stack ref={outcomeRef}>
          {error ? <ErrorAlert error={error} /> : null}
          {result ? <ReadOutcome result={result} recordId={recordId} client={health} /> : null}
        </Stack>
      ) : null}
      <Modal opened={updating} onClose={upd.close} closeButtonProps={{ 'aria-label': 'Close' }} title={`New version of ${recordId}`} size="lg">
        <RecordForm mode="update" recordId={recordId} submitLabel="Write new version" onSubmit={update} />
      </Modal>
      <Modal opened={erasing} onClose={era.close} closeButtonProps={{ 'aria-label': 'Close' }} title={`Erase ${recordId}?`}>
        <Stack>
          <Text size="sm">
            Erasure cannot be undone: the content keys are destroyed at the custodian and the ledger keeps only a proof that the record existed and was erased.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={era.close}>
              Cancel
            </Button>
            <Button color="red" onClick={() => void erase()}>
              Erase record
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function PatientRoute(): ReactNode {
  const { pp } = useParams<{ pp: string }>();
  return PSEUDONYM_RE.test(pp) ? <PatientRecords patient={pp} /> : <ErrorAlert error={new Error(`"${pp.slice(0, 80)}" is not a patient pseudonym`)} />;
}

function RecordRoute(): ReactNode {
  const { id } = useParams<{ id: string }>();
  return <RecordDetail key={id} recordId={decodeURIComponent(id)} />;
}

export function RecordsPage(): ReactNode {
  return (
    <Stack>
      <Group gap="xs">
        <Title order={2}>Records</Title>
        <Button size="xs" variant="subtle" component={Link} href="/">
          Find a patient
        </Button>
      </Group>
      <Switch>
        <Route path="/patient/:pp">
          <PatientRoute />
        </Route>
        <Route path="/record/:id">
          <RecordRoute />
        </Route>
        <Route>
          <PatientFinder />
        </Route>
      </Switch>
    </Stack>
  );
}
