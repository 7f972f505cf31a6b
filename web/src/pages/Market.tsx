// Data market & applications (PHDMF): the catalogue of datasets the hospitals list, an application
// for access with a purpose, the owners' decisions (an organisation's admins and supervisors for
// its datasets, a patient for their records), and the state of everyone's applications. Owners
// also register datasets (CSV) and open or close a listing to applications. Each step is a
// transaction signed in this browser; the contract decides who may do what.
import {
  Alert,
  Badge,
  Button,
  Card,
  FileInput,
  Group,
  Modal,
  MultiSelect,
  NumberInput,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useState, type FormEvent, type ReactNode } from 'react';
import { ErrorAlert } from '../app/errors.tsx';
import { localTime, useLoad } from '../app/hooks.ts';
import { useSession } from '../app/session.tsx';
import { PageControl, usePaged } from '../components/Paged.tsx';
import { TableScroll } from '../components/TableScroll.tsx';

const DATASET_PAGES_MAX = 20;
const DAY_MS = 86_400_000;
const DATASET_BYTES_MAX = 8 * 1024 * 1024;
const APPLICANT_ROLES = ['researcher', 'insurer', 'laboratory', 'doctor', 'nurse', 'supervisor'];
const STAFF = ['admin', 'supervisor'];
const RESEARCH_PURPOSES = ['HRESCH', 'CLINTRCH', 'PUBHLTH', 'HOPERAT', 'HPAYMT', 'COVERAGE', 'TREAT'];

export interface Dataset {
  readonly datasetId: string;
  readonly name: string;
  readonly description: string;
  readonly ownerOrg: string;
  readonly columns: readonly string[];
  readonly recordCount: number;
  readonly sizeBytes: number;
  readonly open: boolean;
  readonly minCohort?: number;
  readonly queryBudget?: number;
  readonly registeredAtMs: number;
}
interface Application {
  readonly applicationId: string;
  readonly applicant: string;
  readonly applicantRole: string;
  readonly target: { kind: 'dataset'; datasetId: string } | { kind: 'record'; recordId: string };
  readonly purpose: string;
  readonly actions: readonly string[];
  readonly period: { startMs: number; endMs: number };
  readonly maxSensitivity: string;
  readonly status: 'pending' | 'approved' | 'denied';
  readonly appliedAtMs: number;
  readonly decidedAtMs: number | null;
  readonly decidedBy: string | null;
}

export async function allDatasets(list: (bookmark: string) => Promise<unknown>): Promise<Dataset[]> {
  const out: Dataset[] = [];
  let bookmark = '';
  for (let i = 0; i < DATASET_PAGES_MAX; i++) {
    const page = (await list(bookmark)) as { datasets: Dataset[]; bookmark: string };
    out.push(...page.datasets);
    bookmark = page.bookmark;
    if (!bookmark) break;
  }
  return out;
}

const targetText = (t: Application['target']): string => (t.kind === 'dataset' ? `dataset ${t.datasetId}` : `record ${t.recordId}`);
const statusColor = (s: Application['status']): string => (s === 'approved' ? 'green' : s === 'denied' ? 'red' : 'yellow');

function ApplyForm({ dataset, onDone }: { dataset: Dataset; onDone(id: string): void }): ReactNode {
  const { health } = useSession();
  const [purpose, setPurpose] = useState<string | null>('HRESCH');
  const [actions, setActions] = useState<string[]>(['statistics']);
  const [days, setDays] = useState<number | string>(90);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const now = Date.now();
      const r = await health.apply({
        target: { kind: 'dataset', datasetId: dataset.datasetId },
        purpose,
        actions,
        period: { startMs: now - 60_000, endMs: now + Number(days) * DAY_MS },
        maxSensitivity: 'normal',
      });
      onDone(String((r.payload['application'] as { applicationId?: string } | undefined)?.applicationId ?? ''));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label={`Apply for ${dataset.name}`}>
      <Stack gap="sm">
        <Text size="sm">
          {dataset.description || dataset.name} — {dataset.recordCount} rows held by {dataset.ownerOrg}. Its owner decides.
        </Text>
        <Select label="Purpose" data={RESEARCH_PURPOSES} value={purpose} onChange={setPurpose} allowDeselect={false} />
        <MultiSelect
          label="Access"
          description="statistics: federated aggregates only (no rows leave the hospital)"
          data={['statistics', 'read']}
          value={actions}
          onChange={setActions}
        />
        <NumberInput label="For how many days" min={1} max={3650} value={days} onChange={setDays} />
        {error ? <ErrorAlert error={error} /> : null}
        <Button type="submit" loading={busy} w="fit-content" disabled={actions.length === 0}>
          Submit application
        </Button>
      </Stack>
    </form>
  );
}

function RegisterForm({ onDone }: { onDone(): void }): ReactNode {
  const { health } = useSession();
  const [datasetId, setDatasetId] = useState('');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [open, setOpen] = useState(true);
  const [minCohort, setMinCohort] = useState<number | string>('');
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setProblem(null);
    setError(null);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(datasetId)) return setProblem('The dataset id uses letters, digits, dot, dash, underscore (at most 64).');
    if (!file) return setProblem('Choose a CSV file.');
    if (file.size > DATASET_BYTES_MAX) return setProblem(`At most ${DATASET_BYTES_MAX} bytes can be uploaded here.`);
    setBusy(true);
    try {
      await health.registerDataset({
        datasetId,
        name: name || datasetId,
        description,
        data: new Uint8Array(await file.arrayBuffer()),
        mediaType: 'text/csv',
        open,
        ...(minCohort !== '' ? { minCohort: Number(minCohort) } : {}),
      });
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Register a dataset">
      <Stack gap="sm">
        <SimpleGrid cols={2}>
          <TextInput label="Dataset id" value={datasetId} onChange={(e) => setDatasetId(e.currentTarget.value)} required />
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
        </SimpleGrid>
        <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
        <FileInput
          label="CSV file"
          description="A header row and at least one numeric column; sealed and kept at your node, never on the ledger"
          accept=".csv,text/csv"
          value={file}
          onChange={setFile}
          required
        />
        <NumberInput
          label="Minimum cohort (optional)"
          description="Smallest count a statistic over it may release; at least the consortium's floor"
          min={1}
          value={minCohort}
          onChange={setMinCohort}
        />
        <Switch label="Open to applications" checked={open} onChange={(e) => setOpen(e.currentTarget.checked)} />
        {problem ? (
          <Alert color="red" role="alert">
            {problem}
          </Alert>
        ) : null}
        {error ? <ErrorAlert error={error} /> : null}
        <Button type="submit" loading={busy} w="fit-content">
          Register dataset
        </Button>
      </Stack>
    </form>
  );
}

function Catalogue({ onApplied }: { onApplied(msg: string): void }): ReactNode {
  const { health, me } = useSession();
  const [tick, setTick] = useState(0);
  const list = useLoad(() => allDatasets((b) => health.listDatasets(b, 50)), [health, tick]);
  const paged = usePaged(list.data ?? []);
  const [applying, setApplying] = useState<Dataset | null>(null);
  const [registering, reg] = useDisclosure(false);
  const [error, setError] = useState<unknown>(null);
  const mayApply = APPLICANT_ROLES.includes(me.role);
  const isOwnerStaff = (d: Dataset): boolean => STAFF.includes(me.role) && d.ownerOrg === me.org;
  const toggle = async (d: Dataset): Promise<void> => {
    setError(null);
    try {
      await health.submit('setDatasetAccess', { datasetId: d.datasetId, open: !d.open });
      setTick((t) => t + 1);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4">
          Catalogue
        </Title>
        {STAFF.includes(me.role) ? (
          <Button size="xs" onClick={reg.open}>
            Register a dataset
          </Button>
        ) : null}
      </Group>
      {list.error ? <ErrorAlert error={list.error} /> : null}
      {error ? <ErrorAlert error={error} /> : null}
      {paged.total > 0 ? (
        <TableScroll label="Datasets">
          <Table striped data-testid="catalogue">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Dataset</Table.Th>
                <Table.Th>Owner</Table.Th>
                <Table.Th>Columns</Table.Th>
                <Table.Th>Rows</Table.Th>
                <Table.Th>Listing</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {paged.items.map((d) => (
                <Table.Tr key={d.datasetId}>
                  <Table.Td>
                    <Text size="sm" fw={600}>
                      {d.name}
                    </Text>
                    <Text size="xs" c="dimmed">
                      {d.datasetId}
                      {d.description ? ` — ${d.description}` : ''}
                    </Text>
                  </Table.Td>
                  <Table.Td>{d.ownerOrg}</Table.Td>
                  <Table.Td>{d.columns.join(', ')}</Table.Td>
                  <Table.Td>{d.recordCount}</Table.Td>
                  <Table.Td>
                    <Badge color={d.open ? 'green' : 'gray'} variant="light">
                      {d.open ? 'open' : 'closed'}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      {mayApply ? (
                        <Button size="xs" disabled={!d.open} onClick={() => setApplying(d)} aria-label={`Apply for ${d.datasetId}`}>
                          Apply
                        </Button>
                      ) : null}
                      {isOwnerStaff(d) ? (
                        <Button size="xs" variant="default" onClick={() => void toggle(d)} aria-label={`${d.open ? 'Close' : 'Open'} ${d.datasetId}`}>
                          {d.open ? 'Close' : 'Open'}
                        </Button>
                      ) : null}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </TableScroll>
      ) : null}
      <PageControl paged={paged} label="datasets" />
      <Modal
        opened={applying !== null}
        onClose={() => setApplying(null)}
        closeButtonProps={{ 'aria-label': 'Close' }}
        title={applying ? `Apply for ${applying.name}` : ''}
        size="lg"
      >
        {applying ? (
          <ApplyForm
            dataset={applying}
            onDone={(id) => {
              setApplying(null);
              onApplied(`Application ${id} submitted: ${applying.ownerOrg} decides.`);
            }}
          />
        ) : null}
      </Modal>
      <Modal opened={registering} onClose={reg.close} closeButtonProps={{ 'aria-label': 'Close' }} title="Register a dataset" size="lg">
        <RegisterForm
          onDone={() => {
            reg.close();
            setTick((t) => t + 1);
          }}
        />
      </Modal>
    </Card>
  );
}

function ApplicationTable({
  apps,
  label,
  testId,
  decide,
}: {
  apps: readonly Application[];
  label: string;
  testId: string;
  decide?: (a: Application, approve: boolean) => void;
}): ReactNode {
  const paged = usePaged([...apps].sort((a, b) => b.appliedAtMs - a.appliedAtMs));
  if (apps.length === 0) return <Text size="sm">None.</Text>;
  return (
    <>
      <TableScroll label={label}>
        <Table striped data-testid={testId}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Applied</Table.Th>
              <Table.Th>Applicant</Table.Th>
              <Table.Th>For</Table.Th>
              <Table.Th>Purpose</Table.Th>
              <Table.Th>Access</Table.Th>
              <Table.Th>Until</Table.Th>
              <Table.Th>State</Table.Th>
              {decide ? <Table.Th /> : null}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {paged.items.map((a) => (
              <Table.Tr key={a.applicationId}>
                <Table.Td>{localTime(a.appliedAtMs)}</Table.Td>
                <Table.Td>
                  {a.applicant} ({a.applicantRole})
                </Table.Td>
                <Table.Td>{targetText(a.target)}</Table.Td>
                <Table.Td>{a.purpose}</Table.Td>
                <Table.Td>{a.actions.join(', ')}</Table.Td>
                <Table.Td>{new Date(a.period.endMs).toLocaleDateString()}</Table.Td>
                <Table.Td>
                  <Badge color={statusColor(a.status)} variant="light">
                    {a.status}
                  </Badge>
                  {a.decidedBy ? (
                    <Text size="xs" c="dimmed">
                      by {a.decidedBy}
                    </Text>
                  ) : null}
                </Table.Td>
                {decide ? (
                  <Table.Td>
                    {a.status === 'pending' ? (
                      <Group gap={4} wrap="nowrap">
                        <Button size="xs" color="green" onClick={() => decide(a, true)} aria-label={`Approve ${a.applicationId}`}>
                          Approve
                        </Button>
                        <Button size="xs" color="red" variant="outline" onClick={() => decide(a, false)} aria-label={`Deny ${a.applicationId}`}>
                          Deny
                        </Button>
                      </Group>
                    ) : null}
                  </Table.Td>
                ) : null}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </TableScroll>
      <PageControl paged={paged} label="applications" />
    </>
  );
}

function Applications({ tick }: { tick: number }): ReactNode {
  const { health, me } = useSession();
  const [local, setLocal] = useState(0);
  const isOwner = STAFF.includes(me.role) || me.role === 'patient';
  const mine = useLoad(
    async () => (APPLICANT_ROLES.includes(me.role) ? ((await health.listApplications({ applicant: `${me.org}/${me.id}` })) as Application[]) : []),
    [health, tick, local],
  );
  const toDecide = useLoad(
    async () => (isOwner ? ((await health.listApplications({ owner: me.role === 'patient' ? me.id : me.org })) as Application[]) : []),
    [health, tick, local],
  );
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const decide = (a: Application, approve: boolean): void => {
    setError(null);
    health.decideApplication(a.applicationId, approve).then(() => {
      setDone(`${approve ? 'Approved' : 'Denied'} ${a.applicant}'s application for ${targetText(a.target)}.`);
      setLocal((t) => t + 1);
    }, setError);
  };
  return (
    <>
      {APPLICANT_ROLES.includes(me.role) ? (
        <Card withBorder>
          <Title order={3} size="h4" mb="xs">
            My applications
          </Title>
          {mine.error ? <ErrorAlert error={mine.error} /> : null}
          {mine.data ? <ApplicationTable apps={mine.data} label="My applications" testId="my-applications" /> : null}
        </Card>
      ) : null}
      {isOwner ? (
        <Card withBorder>
          <Title order={3} size="h4" mb="xs">
            {me.role === 'patient' ? 'Applications for my records' : `Applications to ${me.org}`}
          </Title>
          {done ? (
            <Alert color="green" mb="xs" data-testid="decision-notice">
              {done}
            </Alert>
          ) : null}
          {error ? <ErrorAlert error={error} /> : null}
          {toDecide.error ? <ErrorAlert error={toDecide.error} /> : null}
          {toDecide.data ? <ApplicationTable apps={toDecide.data} label="Applications to decide" testId="applications-to-decide" decide={decide} /> : null}
        </Card>
      ) : null}
    </>
  );
}

export function MarketPage(): ReactNode {
  const [tick, setTick] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <Stack>
      <Title order={2}>Data market</Title>
      {notice ? (
        <Alert color="green" data-testid="market-notice">
          {notice}
        </Alert>
      ) : null}
      <Catalogue
        onApplied={(msg) => {
          setNotice(msg);
          setTick((t) => t + 1);
        }}
      />
      <Applications tick={tick} />
    </Stack>
  );
}
