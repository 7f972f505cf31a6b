// Data market & applications (PHDMF): the catalogue of datasets the hospitals list — searched and
// filtered on the node, each row with the caller's own standing (owner / approved / pending / not
// authorised) —, an application for access with a purpose, the owners' decisions (an
// organisation's admins and supervisors for its datasets, a patient for their records), and the
// state of everyone's applications. Owners register datasets (CSV), open or close a listing to
// applications, publish new versions, withdraw / reopen a listing and delete a dataset
// (crypto-shredded at its custodian); an authorised user downloads it whole or by columns and rows
// (decision 1260). Each step is a transaction signed in this browser; the contract decides who may
// do what, and every download, allowed or refused, is audited on chain.
import {
  Alert,
  Badge,
  Button,
  Card,
  FileInput,
  Group,
  Menu,
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
import { useState, type DependencyList, type FormEvent, type ReactNode } from 'react';
import { ErrorAlert } from '../app/errors.tsx';
import { localTime, shortHex, useLoad } from '../app/hooks.ts';
import { useSession } from '../app/session.tsx';
import { PageControl, usePaged } from '../components/Paged.tsx';
import { LoadMore } from '../components/LoadMore.tsx';
import { Choice } from '../components/Choice.tsx';
import { useLedgerList, type LedgerPages } from '../app/ledger-pages.ts';
import { CsvTable, downloadBytes } from '../components/RecordRead.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { useReveal } from '../components/reveal.ts';
import { ActionOutcome } from '../components/ActionOutcome.tsx';
import type { DatasetDownloadResult, DatasetFilters } from '../../../src/sdk/health.ts';

/** The catalogue (and the Analytics picker): datasets a call asks for, and gathered before they are shown; more on demand. */
export const DATASETS_PER_CALL = 50;
export const DATASETS_PER_LOAD = 100;
const DAY_MS = 86_400_000;
const DATASET_BYTES_MAX = 8 * 1024 * 1024;
// Not 'laboratory' or 'device': the contract refuses them every dataset function (decision 1253).
const APPLICANT_ROLES = ['researcher', 'insurer', 'doctor', 'nurse', 'supervisor'];
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
  // Lifecycle and the caller's standing (decision 1260; listDatasets adds them to every listing).
  readonly status: 'listed' | 'withdrawn' | 'deleted';
  readonly version: number;
  readonly type: string;
  readonly tags: readonly string[];
  readonly access: Standing;
  readonly authorised: boolean;
  /** When `approved`: the actions the caller's approved applications grant now. */
  readonly grantedActions?: readonly string[];
}
export type Standing = 'owner' | 'approved' | 'pending' | 'not-authorised' | 'withdrawn' | 'deleted';
interface DatasetVersionInfo {
  readonly version: number;
  readonly cid: string;
  readonly commitment: string | null;
  readonly columns: readonly string[];
  readonly recordCount: number;
  readonly sizeBytes: number;
  readonly by: string;
  readonly atMs: number;
}
interface DatasetVersions {
  readonly status: string;
  readonly currentVersion: number;
  readonly versions: readonly DatasetVersionInfo[];
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

const targetText = (t: Application['target']): string => (t.kind === 'dataset' ? `dataset ${t.datasetId}` : `record ${t.recordId}`);
const statusColor = (s: Application['status']): string => (s === 'approved' ? 'green' : s === 'denied' ? 'red' : 'yellow');
/** An application not denied whose period is over grants nothing, approved or not: shown as ended. */
const hasEnded = (a: Application, nowMs: number): boolean => a.status !== 'denied' && a.period.endMs <= nowMs;

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

const STANDING_TEXT: Readonly<Record<Standing, string>> = {
  owner: 'owner',
  approved: 'authorised',
  pending: 'application pending',
  'not-authorised': 'not authorised',
  withdrawn: 'withdrawn',
  deleted: 'deleted',
};
const standingColor = (s: Standing): string => (s === 'owner' || s === 'approved' ? 'green' : s === 'pending' ? 'yellow' : s === 'deleted' ? 'red' : 'gray');
// A badge's label is cut with an ellipsis when the table is narrow; the standing must be read whole.
const NO_TRUNCATION = { label: { overflow: 'visible' } } as const;
const statusColor2 = (s: Dataset['status']): string => (s === 'listed' ? 'green' : s === 'deleted' ? 'red' : 'gray');

/** A CSV chosen in the browser, checked for size: its bytes, or a problem in plain words. */
async function csvBytes(file: File | null): Promise<Uint8Array | string> {
  if (!file) return 'Choose a CSV file.';
  if (file.size > DATASET_BYTES_MAX) return `At most ${DATASET_BYTES_MAX} bytes can be uploaded here.`;
  return new Uint8Array(await file.arrayBuffer());
}

function NewVersionForm({ dataset, onDone }: { dataset: Dataset; onDone(msg: string): void }): ReactNode {
  const { health } = useSession();
  const [file, setFile] = useState<File | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setProblem(null);
    setError(null);
    const data = await csvBytes(file);
    if (typeof data === 'string') return setProblem(data);
    setBusy(true);
    try {
      const r = await health.updateDataset({ datasetId: dataset.datasetId, data, mediaType: 'text/csv' });
      const version = (r['dataset'] as { version?: number } | undefined)?.version ?? dataset.version + 1;
      onDone(`Published version ${version} of ${dataset.datasetId}; earlier versions stay downloadable and provable.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label={`New version of ${dataset.datasetId}`}>
      <Stack gap="sm">
        <Text size="sm">
          Version {dataset.version + 1} of {dataset.name}: sealed at your node under a fresh data key, its CID and keyed commitment listed on the ledger.
          Version {dataset.version} and earlier stay downloadable.
        </Text>
        <FileInput label="CSV file" accept=".csv,text/csv" value={file} onChange={setFile} required />
        {problem ? (
          <Alert color="red" role="alert">
            {problem}
          </Alert>
        ) : null}
        {error ? <ErrorAlert error={error} /> : null}
        <Button type="submit" loading={busy} w="fit-content">
          Publish version
        </Button>
      </Stack>
    </form>
  );
}

function DeleteForm({ dataset, onDone }: { dataset: Dataset; onDone(msg: string): void }): ReactNode {
  const { health } = useSession();
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await health.deleteDataset(dataset.datasetId);
      onDone(`Deleted ${dataset.datasetId}: ${dataset.ownerOrg}'s node destroys the keys of every version, then the blobs. The history stays auditable.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label={`Delete ${dataset.datasetId}`}>
      <Stack gap="sm">
        <Alert color="red" title="This cannot be undone">
          Every version's data key is destroyed at the custodian once the deletion commits (crypto-shredding), so nobody — the owner included — can download it
          again; approvals stop working. The ledger keeps the listing marked deleted, its version history (CIDs, keyed commitments) and the audit trail.
        </Alert>
        <TextInput label={`Type ${dataset.datasetId} to confirm`} value={typed} onChange={(e) => setTyped(e.currentTarget.value)} autoComplete="off" />
        {error ? <ErrorAlert error={error} /> : null}
        <Button type="submit" color="red" loading={busy} disabled={typed !== dataset.datasetId} w="fit-content">
          Delete dataset
        </Button>
      </Stack>
    </form>
  );
}

function DownloadForm({ dataset, onDone }: { dataset: Dataset; onDone(): void }): ReactNode {
  const { health } = useSession();
  const versions = useLoad(async () => (await health.datasetVersions(dataset.datasetId)) as DatasetVersions, [health, dataset.datasetId]);
  const [purpose, setPurpose] = useState<string | null>('HRESCH');
  const [version, setVersion] = useState<string | null>(String(dataset.version));
  const [columns, setColumns] = useState<string[]>([]);
  const [from, setFrom] = useState<number | string>('');
  const [to, setTo] = useState<number | string>('');
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<DatasetDownloadResult | null>(null);
  // The download's outcome comes below the form, in a dialog that scrolls on a phone.
  const outcomeRef = useReveal<HTMLDivElement>(result);
  const chosen = versions.data?.versions.find((v) => String(v.version) === version) ?? null;
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setProblem(null);
    setError(null);
    setResult(null);
    if ((from === '') !== (to === '')) return setProblem('Give both the first and the last row, or neither (all rows).');
    if (from !== '' && Number(from) > Number(to)) return setProblem('The first row comes before the last row.');
    setBusy(true);
    try {
      const r = await health.downloadDataset({
        datasetId: dataset.datasetId,
        purpose: purpose ?? 'HRESCH',
        version: Number(version),
        ...(columns.length > 0 ? { columns } : {}),
        ...(from !== '' ? { rows: { from: Number(from), to: Number(to) } } : {}),
      });
      setResult(r);
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fileName = (r: DatasetDownloadResult): string => `${dataset.datasetId}-v${r.version ?? version}${columns.length > 0 || from !== '' ? '-part' : ''}.csv`;
  return (
    <Stack gap="sm">
      <form onSubmit={(e) => void submit(e)} aria-label={`Download ${dataset.datasetId}`}>
        <Stack gap="sm">
          <Text size="sm">
            The download is decided on the ledger and audited (who, which version, which columns and rows); {dataset.ownerOrg}'s node serves the version only
            against that transaction, and your node checks it against the version's CID and keyed commitment before cutting out your selection.
          </Text>
          {versions.error ? <ErrorAlert error={versions.error} /> : null}
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <Select label="Purpose" data={RESEARCH_PURPOSES} value={purpose} onChange={setPurpose} allowDeselect={false} />
            <Select
              label="Version"
              data={(versions.data?.versions ?? []).map((v) => ({ value: String(v.version), label: `${v.version} — ${localTime(v.atMs)}` }))}
              value={version}
              onChange={(v) => {
                setVersion(v);
                setColumns([]);
              }}
              allowDeselect={false}
            />
          </SimpleGrid>
          <MultiSelect
            label="Columns"
            description="None chosen: every column"
            data={[...(chosen?.columns ?? dataset.columns)]}
            value={columns}
            onChange={setColumns}
          />
          <SimpleGrid cols={2} className="ml-fields">
            <NumberInput label="First row" description="1-based; empty: all rows" min={1} value={from} onChange={setFrom} />
            <NumberInput label="Last row" min={1} value={to} onChange={setTo} />
          </SimpleGrid>
          {chosen ? (
            <Text size="xs" c="dimmed" data-testid="download-version-proof">
              Version {chosen.version}: CID {shortHex(chosen.cid, 20)}, commitment{' '}
              {chosen.commitment ? shortHex(chosen.commitment, 16) : 'none (listed before versions)'}, {chosen.recordCount} rows, by {chosen.by}
            </Text>
          ) : null}
          {problem ? (
            <Alert color="red" role="alert">
              {problem}
            </Alert>
          ) : null}
          {error ? <ErrorAlert error={error} /> : null}
          <Button type="submit" loading={busy} w="fit-content">
            Download
          </Button>
        </Stack>
      </form>
      {result ? (
        <Stack ref={outcomeRef}>
          {!result.allowed ? (
            <Alert color="red" title="Download refused" role="alert" data-testid="download-refused">
              <Text size="sm">
                {result.code}: {result.reasons.join('; ')}
              </Text>
              <Text size="xs">The refusal is recorded on the ledger (audit {result.auditId}).</Text>
            </Alert>
          ) : null}
          {result.allowed && result.content ? (
            <Stack gap="xs" data-testid="download-result" data-tx-id={result.txId} data-audit-id={result.auditId}>
              <Group gap="xs">
                <Badge color={result.verified?.cid ? 'green' : 'red'} variant="light">
                  CID {result.verified?.cid ? 'verified' : 'NOT verified'}
                </Badge>
                <Badge color={result.verified?.commitment ? 'green' : 'gray'} variant="light">
                  commitment {result.verified?.commitment ? 'verified' : 'not checked'}
                </Badge>
                <Text size="xs" className="ml-wrap" style={{ minWidth: 0 }}>
                  version {result.version} from {result.custodian}, audit {result.auditId}
                </Text>
              </Group>
              <Button
                size="xs"
                variant="default"
                w="fit-content"
                onClick={() => downloadBytes(result.content!, result.mediaType ?? 'text/csv', fileName(result))}
              >
                Save {fileName(result)}
              </Button>
              {result.mediaType === 'text/csv' ? <CsvTable bytes={result.content} label="Downloaded rows" /> : null}
            </Stack>
          ) : null}
        </Stack>
      ) : null}
    </Stack>
  );
}

type Dialog =
  { kind: 'apply'; dataset: Dataset } | { kind: 'version'; dataset: Dataset } | { kind: 'delete'; dataset: Dataset } | { kind: 'download'; dataset: Dataset };

const DIALOG_TITLE: Readonly<Record<Dialog['kind'], string>> = { apply: 'Apply for', version: 'New version of', delete: 'Delete', download: 'Download' };

function Catalogue({ onApplied }: { onApplied(msg: string): void }): ReactNode {
  const { health, client, me } = useSession();
  const [tick, setTick] = useState(0);
  const [filters, setFilters] = useState<DatasetFilters>({});
  const [q, setQ] = useState('');
  const [owner, setOwner] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>('listed');
  const [type, setType] = useState<string | null>(null);
  const [tag, setTag] = useState('');
  const orgs = useLoad(async () => (await client.config()).orgs, [client]);
  const list = useLedgerList<Dataset>(
    async (bookmark) => {
      const page = (await health.listDatasets(bookmark, DATASETS_PER_CALL, filters)) as { datasets: Dataset[]; bookmark: string };
      return { items: page.datasets, bookmark: page.bookmark };
    },
    DATASETS_PER_LOAD,
    [health, tick, filters],
  );
  const paged = usePaged(list.items ?? []);
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [registering, reg] = useDisclosure(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const mayApply = APPLICANT_ROLES.includes(me.role);
  // "authorised" in the catalogue means an approved application in its period, for any access; a
  // download needs one for `read` (a statistics approval is not a licence to download, decision
  // 1260): the listing says which actions are granted now (`grantedActions`).
  const grantedActions = (d: Dataset): readonly string[] => d.grantedActions ?? [];
  const mayDownload = (d: Dataset): boolean => d.access === 'owner' || (d.access === 'approved' && grantedActions(d).includes('read'));
  const act = async (what: () => Promise<unknown>, done: string): Promise<void> => {
    setError(null);
    setNotice(null);
    try {
      await what();
      setNotice(done);
      setTick((t) => t + 1);
    } catch (err) {
      setError(err);
    }
  };
  const search = (e: FormEvent): void => {
    e.preventDefault();
    setFilters({
      ...(q.trim() ? { q: q.trim() } : {}),
      ...(owner ? { ownerOrg: owner } : {}),
      ...(status ? { status: status as NonNullable<DatasetFilters['status']> } : {}),
      ...(type ? { type: type as NonNullable<DatasetFilters['type']> } : {}),
      ...(tag.trim() ? { tag: tag.trim() } : {}),
    });
  };
  const finished = (msg: string): void => {
    setDialog(null);
    setNotice(msg);
    setTick((t) => t + 1);
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
      <form onSubmit={search} aria-label="Search the catalogue">
        <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }} mb="sm" verticalSpacing="xs">
          <TextInput
            label="Search"
            placeholder="name, tag, …"
            title="Words in the name, description or tags"
            value={q}
            onChange={(e) => setQ(e.currentTarget.value)}
          />
          <Select label="Owner" placeholder="any" data={orgs.data ?? []} value={owner} onChange={setOwner} clearable />
          <Select
            label="Status"
            data={[
              { value: 'listed', label: 'listed' },
              { value: 'withdrawn', label: 'withdrawn' },
              { value: 'deleted', label: 'deleted' },
              { value: 'all', label: 'all' },
            ]}
            value={status}
            onChange={setStatus}
            allowDeselect={false}
          />
          <Select label="Type" placeholder="any" data={['csv', 'fhir']} value={type} onChange={setType} clearable />
          <TextInput label="Tag" value={tag} onChange={(e) => setTag(e.currentTarget.value)} />
          {/* At the foot of its grid cell: level with the fields beside it, whose labels sit above. */}
          <Button type="submit" variant="light" style={{ alignSelf: 'end' }}>
            Search
          </Button>
        </SimpleGrid>
      </form>
      <ActionOutcome done={notice} error={error} testId="catalogue-notice" mb="xs" />
      {list.error ? <ErrorAlert error={list.error} /> : null}
      {paged.total > 0 ? (
        <DataTable label="Datasets" striped data-testid="catalogue" headings={['Dataset', 'Owner', 'Columns', 'Rows', 'Version', 'Listing', 'You', '']}>
          {paged.items.map((d) => {
            const live = d.status !== 'deleted';
            return (
              <Table.Tr key={d.datasetId} data-dataset-id={d.datasetId}>
                <Table.Td>
                  <Text size="sm" fw={600}>
                    {d.name}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {d.datasetId}
                    {d.description ? ` — ${d.description}` : ''}
                    {d.tags.length > 0 ? ` · tags: ${d.tags.join(', ')}` : ''}
                  </Text>
                </Table.Td>
                <Table.Td>{d.ownerOrg}</Table.Td>
                <Table.Td>{d.columns.join(', ')}</Table.Td>
                <Table.Td>{d.recordCount}</Table.Td>
                <Table.Td>{d.version}</Table.Td>
                <Table.Td>
                  <Badge color={statusColor2(d.status)} variant="light">
                    {d.status}
                  </Badge>
                  {d.status === 'listed' ? <Text size="xs">{d.open ? 'open to applications' : 'closed to applications'}</Text> : null}
                </Table.Td>
                <Table.Td>
                  <Badge color={standingColor(d.access)} variant="light" data-testid="standing" styles={NO_TRUNCATION}>
                    {STANDING_TEXT[d.access]}
                    {d.access === 'approved' && grantedActions(d).length > 0 ? ` (${grantedActions(d).join(', ')})` : ''}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    {mayApply && d.access !== 'owner' ? (
                      <Button
                        size="xs"
                        disabled={!d.open || d.status !== 'listed'}
                        onClick={() => setDialog({ kind: 'apply', dataset: d })}
                        aria-label={`Apply for ${d.datasetId}`}
                      >
                        Apply
                      </Button>
                    ) : null}
                    {mayDownload(d) && live ? (
                      <Button size="xs" variant="light" onClick={() => setDialog({ kind: 'download', dataset: d })} aria-label={`Download ${d.datasetId}`}>
                        Download
                      </Button>
                    ) : null}
                    {d.access === 'owner' && live ? (
                      <Menu position="bottom-end" withinPortal>
                        <Menu.Target>
                          <Button size="xs" variant="default" aria-label={`Manage ${d.datasetId}`}>
                            Manage
                          </Button>
                        </Menu.Target>
                        <Menu.Dropdown>
                          <Menu.Item onClick={() => setDialog({ kind: 'version', dataset: d })}>Publish a new version</Menu.Item>
                          {d.status === 'listed' ? (
                            <Menu.Item
                              onClick={() =>
                                void act(
                                  () => health.submit('setDatasetAccess', { datasetId: d.datasetId, open: !d.open }),
                                  `${d.datasetId} is ${d.open ? 'closed to' : 'open for'} applications.`,
                                )
                              }
                            >
                              {d.open ? 'Close to applications' : 'Open to applications'}
                            </Menu.Item>
                          ) : null}
                          {d.status === 'listed' ? (
                            <Menu.Item
                              onClick={() =>
                                void act(
                                  () => health.withdrawDataset(d.datasetId),
                                  `Withdrew ${d.datasetId}: hidden from the catalogue (see it under Status: withdrawn), no new applications; approvals granted keep working until they end.`,
                                )
                              }
                            >
                              Withdraw listing
                            </Menu.Item>
                          ) : (
                            <Menu.Item onClick={() => void act(() => health.reopenDataset(d.datasetId), `Reopened ${d.datasetId}: listed again.`)}>
                              Reopen listing
                            </Menu.Item>
                          )}
                          <Menu.Divider />
                          <Menu.Item color="red" onClick={() => setDialog({ kind: 'delete', dataset: d })}>
                            Delete…
                          </Menu.Item>
                        </Menu.Dropdown>
                      </Menu>
                    ) : null}
                  </Group>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </DataTable>
      ) : list.items && !list.more ? (
        <Text size="sm">No dataset matches.</Text>
      ) : null}
      <PageControl paged={paged} label="datasets" />
      <LoadMore pages={list} paged={paged} label="Load more datasets" testId="catalogue-more" />
      <Modal
        opened={dialog !== null}
        onClose={() => setDialog(null)}
        closeButtonProps={{ 'aria-label': 'Close' }}
        title={dialog ? `${DIALOG_TITLE[dialog.kind]} ${dialog.kind === 'apply' ? dialog.dataset.name : dialog.dataset.datasetId}` : ''}
        size="lg"
      >
        {dialog?.kind === 'apply' ? (
          <ApplyForm
            dataset={dialog.dataset}
            onDone={(id) => {
              setDialog(null);
              onApplied(`Application ${id} submitted: ${dialog.dataset.ownerOrg} decides.`);
            }}
          />
        ) : null}
        {dialog?.kind === 'version' ? <NewVersionForm dataset={dialog.dataset} onDone={finished} /> : null}
        {dialog?.kind === 'delete' ? <DeleteForm dataset={dialog.dataset} onDone={finished} /> : null}
        {dialog?.kind === 'download' ? <DownloadForm dataset={dialog.dataset} onDone={() => undefined} /> : null}
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

/** Applications fetched per load, the latest first; older ones on demand (decision 0908). */
const APPLICATIONS_PER_LOAD = 50;

type ApplicationStatus = Application['status'];

/**
 * An owner's or an applicant's applications from the ledger, a page at a time, the latest first;
 * read again from the first page when `reloads` change.
 */
function useApplications(
  query: { owner: string } | { applicant: string } | null,
  status: ApplicationStatus | null,
  reloads: DependencyList,
): LedgerPages<Application> {
  const { health } = useSession();
  const subject = query === null ? '' : 'owner' in query ? `owner ${query.owner}` : `applicant ${query.applicant}`;
  return useLedgerList<Application>(
    async (bookmark) => {
      if (query === null) return { items: [], bookmark: '' };
      const page = (await health.listApplications(query, {
        order: 'newest',
        pageSize: APPLICATIONS_PER_LOAD,
        ...(status ? { status } : {}),
        ...(bookmark ? { bookmark } : {}),
      })) as { applications: Application[]; bookmark: string };
      return { items: page.applications, bookmark: page.bookmark };
    },
    APPLICATIONS_PER_LOAD,
    [health, status, subject, ...reloads],
  );
}

function ApplicationTable({
  pages,
  label,
  testId,
  decide,
  none = 'None.',
}: {
  pages: LedgerPages<Application>;
  label: string;
  testId: string;
  decide?: (a: Application, approve: boolean) => void;
  /** What an empty list says. */
  none?: string;
}): ReactNode {
  const apps = pages.items ?? [];
  const paged = usePaged(apps);
  // Read at each render: the list is loaded again after every decision, and a period ending while
  // the page is open is shown at the next one.
  const nowMs = Date.now();
  if (pages.error) return <ErrorAlert error={pages.error} />;
  if (pages.items === null) return null;
  if (apps.length === 0 && !pages.more) return <Text size="sm">{none}</Text>;
  return (
    <>
      {apps.length === 0 ? null : (
        <DataTable
          label={label}
          striped
          data-testid={testId}
          headings={['Applied', 'Applicant', 'For', 'Purpose', 'Access', 'Until', 'State', ...(decide ? [''] : [])]}
        >
          {paged.items.map((a) => {
            const ended = hasEnded(a, nowMs);
            return (
              <Table.Tr key={a.applicationId} data-application-id={a.applicationId}>
                <Table.Td>{localTime(a.appliedAtMs)}</Table.Td>
                <Table.Td>
                  {a.applicant} ({a.applicantRole})
                </Table.Td>
                <Table.Td>{targetText(a.target)}</Table.Td>
                <Table.Td>{a.purpose}</Table.Td>
                <Table.Td>{a.actions.join(', ')}</Table.Td>
                <Table.Td>{new Date(a.period.endMs).toLocaleDateString()}</Table.Td>
                <Table.Td>
                  <Badge color={ended ? 'gray' : statusColor(a.status)} variant="light">
                    {ended ? 'ended' : a.status}
                  </Badge>
                  {a.decidedBy ? (
                    <Text size="xs" c="dimmed">
                      {ended ? 'approved ' : ''}by {a.decidedBy}
                    </Text>
                  ) : ended ? (
                    <Text size="xs" c="dimmed">
                      never decided
                    </Text>
                  ) : null}
                </Table.Td>
                {decide ? (
                  <Table.Td>
                    {a.status === 'pending' ? (
                      <Group gap={4} wrap="nowrap">
                        {ended ? null : (
                          <Button size="xs" color="green" onClick={() => decide(a, true)} aria-label={`Approve ${a.applicationId}`}>
                            Approve
                          </Button>
                        )}
                        <Button size="xs" color="red" variant="outline" onClick={() => decide(a, false)} aria-label={`Deny ${a.applicationId}`}>
                          Deny
                        </Button>
                      </Group>
                    ) : null}
                  </Table.Td>
                ) : null}
              </Table.Tr>
            );
          })}
        </DataTable>
      )}
      <PageControl paged={paged} label="applications" />
      <LoadMore pages={pages} paged={paged} label="Load older applications" testId={`${testId}-more`} />
    </>
  );
}

function Applications({ tick }: { tick: number }): ReactNode {
  const { health, me } = useSession();
  const [local, setLocal] = useState(0);
  const isOwner = STAFF.includes(me.role) || me.role === 'patient';
  const [show, setShow] = useState<'all' | 'pending'>('all');
  const mine = useApplications(APPLICANT_ROLES.includes(me.role) ? { applicant: `${me.org}/${me.id}` } : null, null, [tick, local]);
  const toDecide = useApplications(isOwner ? { owner: me.role === 'patient' ? me.id : me.org } : null, show === 'pending' ? 'pending' : null, [tick, local]);
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
          <ApplicationTable pages={mine} label="My applications" testId="my-applications" />
        </Card>
      ) : null}
      {isOwner ? (
        <Card withBorder>
          <Title order={3} size="h4" mb="xs">
            {me.role === 'patient' ? 'Applications for my records' : `Applications to ${me.org}`}
          </Title>
          <Choice
            value={show}
            onChange={(v) => setShow(v === 'pending' ? 'pending' : 'all')}
            data={[
              { value: 'all', label: 'All, the latest first' },
              { value: 'pending', label: 'Awaiting a decision' },
            ]}
            aria-label="Which applications"
            mb="xs"
          />
          <ActionOutcome done={done} error={error} testId="decision-notice" mb="xs" />
          {/* A new choice starts at its first page (keyed); a decision's reload stays where the row is. */}
          <ApplicationTable
            key={show}
            pages={toDecide}
            label="Applications to decide"
            testId="applications-to-decide"
            decide={decide}
            none={show === 'pending' ? 'None awaiting a decision.' : 'None.'}
          />
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
      <ActionOutcome done={notice} testId="market-notice" />
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
