// My data (patients): my pseudonym (what I tell a doctor so they can find me), my records (opened
// through the same audited access as anyone's), my consents — grant with grantee, actions,
// purposes, period, scope and sensitivity; revoke — who accessed my data and when, and my
// notifications (break-the-glass alerts, care relations started for me, applications). Every
// change is a transaction signed in this browser with the patient's own key.
import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  CopyButton,
  Group,
  Modal,
  MultiSelect,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Tabs,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useState, type FormEvent, type ReactNode } from 'react';
import { ErrorAlert } from '../app/errors.tsx';
import { localTime, shortHex, useLoad } from '../app/hooks.ts';
import { useSession } from '../app/session.tsx';
import { PageControl, usePaged } from '../components/Paged.tsx';
import { LoadMore } from '../components/LoadMore.tsx';
import { granteeText, type Grantee } from '../app/grantee.ts';
import { useLedgerList } from '../app/ledger-pages.ts';
import { ReadOutcome, type ReadResult } from '../components/RecordRead.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { useReveal } from '../components/reveal.ts';
import { ActionOutcome } from '../components/ActionOutcome.tsx';
import { Choice } from '../components/Choice.tsx';

/** Entries fetched per load, the latest first; older ones on demand (decision 0907). */
const LOG_ENTRIES_PER_LOAD = 100;
const RECORDS_PER_LOAD = 100;
const NOTIFICATIONS_PER_LOAD = 50;
const LOG_ROWS_PER_PAGE = 15;
const ACTIONS = ['read', 'write', 'share', 'statistics'];
const PURPOSES = [
  { value: 'TREAT', label: 'Treatment (TREAT)' },
  { value: 'ETREAT', label: 'Emergency treatment (ETREAT)' },
  { value: 'CAREMGT', label: 'Care management (CAREMGT)' },
  { value: 'HOPERAT', label: 'Healthcare operations (HOPERAT)' },
  { value: 'HRESCH', label: 'Research (HRESCH)' },
  { value: 'CLINTRCH', label: 'Clinical trial (CLINTRCH)' },
  { value: 'PUBHLTH', label: 'Public health (PUBHLTH)' },
  { value: 'HPAYMT', label: 'Payment (HPAYMT)' },
  { value: 'COVERAGE', label: 'Coverage (COVERAGE)' },
  { value: 'FAMRQT', label: 'Family request (FAMRQT)' },
  { value: 'PWATRNY', label: 'Power of attorney (PWATRNY)' },
  { value: 'HLEGAL', label: 'Legal (HLEGAL)' },
];
const ROLES = ['doctor', 'nurse', 'researcher', 'insurer', 'supervisor'];
const DAY_MS = 86_400_000;

interface Consent {
  readonly consentId: string;
  readonly grantee: Grantee;
  readonly actions: readonly string[];
  readonly purposes: readonly string[];
  readonly period: { startMs: number; endMs: number };
  readonly scope: { recordIds: readonly string[]; categories: readonly string[]; maxSensitivity: string };
  readonly grantedAtMs: number;
}
interface AuditEntry {
  readonly auditId: string;
  readonly atMs: number;
  readonly op: string;
  readonly outcome: string;
  readonly actor: { org: string; id: string; role: string };
  readonly recordedBy: { org: string; id: string } | null;
  readonly purpose: string | null;
  readonly recordId: string | null;
  readonly flags: readonly string[];
  readonly reasons: readonly string[];
  readonly txId: string;
}
interface Notification {
  readonly auditId: string;
  readonly atMs: number;
  readonly kind: string;
  readonly actor: string;
  readonly recordId: string | null;
  readonly applicationId: string | null;
}
interface RecordMeta {
  readonly recordId: string;
  readonly category: string;
  readonly sensitivity: string;
  readonly version: number;
  readonly custodian: string;
  readonly updatedAtMs: number;
}

const actorText = (a: { org: string; id: string }): string => `${a.org}/${/^[0-9a-f]{32,}$/.test(a.id) ? 'you' : a.id}`;
const OP_TEXT: Readonly<Record<string, string>> = {
  'access.read': 'read',
  'access.write': 'write',
  'access.share': 'share',
  'access.statistics': 'statistics',
  'record.create': 'created a record',
  'record.update': 'updated a record',
  'record.erase': 'erased a record',
  'consent.grant': 'granted a consent',
  'consent.revoke': 'revoked a consent',
  'care.start': 'started care',
  'care.end': 'ended care',
  'patient.enrol': 'enrolled you',
};

function MyRecords(): ReactNode {
  const { health, me } = useSession();
  // A page of the ledger's list at a time, the next on demand: one call of 100 left the rest unsaid.
  const list = useLedgerList<RecordMeta>(
    async (bookmark) => {
      const page = (await health.listRecords(me.id, 'PATRQT', bookmark, RECORDS_PER_LOAD)) as { records: RecordMeta[]; bookmark: string };
      return { items: page.records, bookmark: page.bookmark };
    },
    RECORDS_PER_LOAD,
    [health, me.id],
  );
  const paged = usePaged(list.items ?? []);
  const [open, setOpen] = useState<{ recordId: string; result: ReadResult } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const read = async (recordId: string): Promise<void> => {
    setBusy(recordId);
    setError(null);
    try {
      setOpen({ recordId, result: await health.readRecord({ recordId, purpose: 'PATRQT' }) });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  // The record opened comes below the list of records: brought into sight.
  const outcomeRef = useReveal<HTMLDivElement>(open ?? error);
  return (
    <Stack>
      {list.error ? <ErrorAlert error={list.error} /> : null}
      {list.items && list.items.length === 0 && !list.more ? <Text size="sm">No records yet.</Text> : null}
      {paged.total > 0 ? (
        <DataTable label="My records" striped data-testid="my-records" headings={['Record', 'Category', 'Sensitivity', 'Held by', 'Updated', '']}>
          {paged.items.map((r) => (
            <Table.Tr key={r.recordId}>
              <Table.Td>{r.recordId}</Table.Td>
              <Table.Td>{r.category}</Table.Td>
              <Table.Td>
                <Badge variant="light">{r.sensitivity}</Badge>
              </Table.Td>
              <Table.Td>{r.custodian}</Table.Td>
              <Table.Td>{localTime(r.updatedAtMs)}</Table.Td>
              <Table.Td>
                <Button size="xs" loading={busy === r.recordId} onClick={() => void read(r.recordId)} aria-label={`Open ${r.recordId}`}>
                  Open
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </DataTable>
      ) : null}
      <PageControl paged={paged} label="records" />
      <LoadMore pages={list} paged={paged} label="Load more records" testId="my-records-more" />
      {error || open ? (
        <Stack ref={outcomeRef}>
          {error ? <ErrorAlert error={error} /> : null}
          {open ? (
            <>
              <Title order={3} size="h4">
                {open.recordId}
              </Title>
              <ReadOutcome result={open.result} recordId={open.recordId} client={health} />
            </>
          ) : null}
        </Stack>
      ) : null}
    </Stack>
  );
}

const dateInput = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

function GrantForm({ onDone }: { onDone(): void }): ReactNode {
  const { health, me } = useSession();
  const [kind, setKind] = useState<'user' | 'org' | 'role'>('user');
  const [user, setUser] = useState('');
  const [org, setOrg] = useState('');
  const [role, setRole] = useState<string | null>('doctor');
  const [actions, setActions] = useState<string[]>(['read']);
  const [purposes, setPurposes] = useState<string[]>(['TREAT']);
  const [from, setFrom] = useState(dateInput(Date.now()));
  const [until, setUntil] = useState(dateInput(Date.now() + 30 * DAY_MS));
  const [maxSensitivity, setMaxSensitivity] = useState<string | null>('normal');
  const [recordIds, setRecordIds] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setProblem(null);
    setError(null);
    const grantee =
      kind === 'user'
        ? { kind, user: user.trim() }
        : kind === 'org'
          ? { kind, org: org.trim() }
          : { kind, role: role ?? 'doctor', ...(org.trim() ? { org: org.trim() } : {}) };
    if (kind === 'user' && !/^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.@-]*$/.test(user.trim()))
      return setProblem('Name the person as organisation/user, e.g. Hospital2/doctor1.');
    if (kind === 'org' && org.trim() === '') return setProblem('Name the organisation, e.g. Hospital2.');
    if (actions.length === 0 || purposes.length === 0) return setProblem('Choose at least one action and one purpose.');
    // From the start of the first day to the end of the last, in the patient's local time.
    const startMs = Date.parse(`${from}T00:00:00`);
    const endMs = Date.parse(`${until}T23:59:59`);
    if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || endMs <= Date.now()) return setProblem('The consent must end in the future.');
    const ids = recordIds.split(/[\s,]+/).filter((x) => x !== '');
    setBusy(true);
    try {
      await health.grantConsent({
        patient: me.id,
        grantee,
        actions,
        purposes,
        period: { startMs, endMs },
        scope: { recordIds: ids, categories: [], maxSensitivity: maxSensitivity ?? 'normal' },
      });
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Grant a consent">
      <Stack gap="sm">
        <Select
          label="Who"
          data={[
            { value: 'user', label: 'A person' },
            { value: 'org', label: 'Everyone at an organisation' },
            { value: 'role', label: 'Everyone with a role' },
          ]}
          value={kind}
          onChange={(v) => setKind((v ?? 'user') as typeof kind)}
          allowDeselect={false}
        />
        {kind === 'user' ? (
          <TextInput
            label="Person (organisation/user)"
            placeholder="Hospital2/doctor1"
            value={user}
            onChange={(e) => setUser(e.currentTarget.value)}
            required
          />
        ) : null}
        {kind === 'role' ? <Select label="Role" data={ROLES} value={role} onChange={setRole} allowDeselect={false} /> : null}
        {kind !== 'user' ? (
          <TextInput
            label={kind === 'org' ? 'Organisation' : 'Organisation (optional)'}
            description={kind === 'org' ? 'The people who work there — not its other patients' : undefined}
            placeholder="Hospital2"
            value={org}
            onChange={(e) => setOrg(e.currentTarget.value)}
            required={kind === 'org'}
          />
        ) : null}
        <MultiSelect label="May" data={ACTIONS} value={actions} onChange={setActions} />
        <MultiSelect label="For the purposes" data={PURPOSES} value={purposes} onChange={setPurposes} />
        <SimpleGrid cols={2}>
          <TextInput type="date" label="From" value={from} onChange={(e) => setFrom(e.currentTarget.value)} required />
          <TextInput type="date" label="Until" value={until} onChange={(e) => setUntil(e.currentTarget.value)} required />
        </SimpleGrid>
        <Select
          label="Up to sensitivity"
          description="Parts above this level stay withheld"
          data={['normal', 'sensitive', 'restricted']}
          value={maxSensitivity}
          onChange={setMaxSensitivity}
          allowDeselect={false}
        />
        <TextInput
          label="Only these records (optional)"
          description="Record ids, separated by commas; empty means all my records"
          value={recordIds}
          onChange={(e) => setRecordIds(e.currentTarget.value)}
        />
        {problem ? (
          <Alert color="red" role="alert">
            {problem}
          </Alert>
        ) : null}
        {error ? <ErrorAlert error={error} /> : null}
        <Button type="submit" loading={busy} w="fit-content">
          Grant consent
        </Button>
      </Stack>
    </form>
  );
}

function MyConsents(): ReactNode {
  const { health, me } = useSession();
  const [tick, setTick] = useState(0);
  const list = useLoad(async () => (await health.listConsents(me.id)) as Consent[], [health, me.id, tick]);
  const paged = usePaged(list.data ?? []);
  const [granting, grant] = useDisclosure(false);
  const [show, setShow] = useState<'in-force' | 'ended'>('in-force');
  const inForce = show === 'in-force';
  const [revoking, setRevoking] = useState<Consent | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const revoke = async (c: Consent): Promise<void> => {
    setError(null);
    try {
      await health.revokeConsent(c.consentId);
      setDone(`Revoked the consent for ${granteeText(c.grantee)}: it no longer opens anything, from the next block on.`);
      setTick((t) => t + 1);
    } catch (err) {
      setError(err);
    } finally {
      setRevoking(null);
    }
  };
  return (
    <Stack>
      <Group>
        <Button
          onClick={() => {
            setDone(null);
            grant.open();
          }}
        >
          Grant a consent
        </Button>
      </Group>
      <ActionOutcome done={done} error={error} testId="consent-notice" />
      <Choice
        value={show}
        onChange={(v) => setShow(v === 'ended' ? 'ended' : 'in-force')}
        data={[
          { value: 'in-force', label: 'In force' },
          { value: 'ended', label: 'Ended' },
        ]}
        aria-label="Which consents"
      />
      {show === 'ended' ? <EndedConsents /> : null}
      {inForce && list.error ? <ErrorAlert error={list.error} /> : null}
      {inForce && list.data && list.data.length === 0 ? <Text size="sm">You have no consents in force.</Text> : null}
      {inForce && paged.total > 0 ? (
        <DataTable label="My consents" striped data-testid="consents" headings={['Who', 'May', 'Purposes', 'Period', 'Scope', '']}>
          {paged.items.map((c) => (
            <Table.Tr key={c.consentId} data-consent-id={c.consentId}>
              <ConsentCells consent={c} />
              <Table.Td>
                <Button size="xs" color="red" variant="outline" onClick={() => setRevoking(c)} aria-label={`Revoke consent for ${granteeText(c.grantee)}`}>
                  Revoke
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </DataTable>
      ) : null}
      {inForce ? <PageControl paged={paged} label="consents" /> : null}
      <Modal opened={granting} onClose={grant.close} closeButtonProps={{ 'aria-label': 'Close' }} title="Grant a consent" size="lg">
        <GrantForm
          onDone={() => {
            grant.close();
            setDone('Consent granted: it is on the ledger.');
            setShow('in-force');
            setTick((t) => t + 1);
          }}
        />
      </Modal>
      <Modal opened={revoking !== null} onClose={() => setRevoking(null)} closeButtonProps={{ 'aria-label': 'Close' }} title="Revoke this consent?">
        <Stack>
          <Text size="sm">
            {revoking
              ? `${granteeText(revoking.grantee)} will no longer be able to ${revoking.actions.join(', ')} your data. Acting on it afterwards is recorded as a violation.`
              : ''}
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRevoking(null)}>
              Cancel
            </Button>
            <Button
              color="red"
              onClick={() => {
                if (revoking) void revoke(revoking);
              }}
            >
              Revoke consent
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

/** A consent's row in either list: who, what, why, when (marked before its period and once it is over), which records. */
function ConsentCells({ consent: c }: { consent: Consent }): ReactNode {
  const nowMs = Date.now();
  return (
    <>
      <Table.Td>{granteeText(c.grantee)}</Table.Td>
      <Table.Td>{c.actions.join(', ')}</Table.Td>
      <Table.Td>{c.purposes.join(', ')}</Table.Td>
      <Table.Td>
        {new Date(c.period.startMs).toLocaleDateString()} – {new Date(c.period.endMs).toLocaleDateString()}
        {c.period.endMs <= nowMs ? ' (ended)' : c.period.startMs > nowMs ? ' (not yet in force)' : ''}
      </Table.Td>
      <Table.Td>
        up to {c.scope.maxSensitivity}
        {c.scope.recordIds.length ? `; records ${c.scope.recordIds.join(', ')}` : '; all records'}
      </Table.Td>
    </>
  );
}

/** Consents per call, and per load, of the ended ones (decision 0911). */
const ENDED_CONSENTS_PER_LOAD = 50;

/**
 * The patient's consents whose period ended, the latest ended first, a page at a time: they open
 * nothing any more, and the ledger keeps them apart from those in force (decision 0911).
 */
function EndedConsents(): ReactNode {
  const { health, me } = useSession();
  const list = useLedgerList<Consent>(
    async (bookmark) => {
      const page = (await health.listEndedConsents(me.id, { pageSize: ENDED_CONSENTS_PER_LOAD, ...(bookmark ? { bookmark } : {}) })) as {
        consents: Consent[];
        bookmark: string;
      };
      return { items: page.consents, bookmark: page.bookmark };
    },
    ENDED_CONSENTS_PER_LOAD,
    [health, me.id],
  );
  const paged = usePaged(list.items ?? []);
  if (list.error) return <ErrorAlert error={list.error} />;
  if (list.items === null) return null;
  if (list.items.length === 0 && !list.more) return <Text size="sm">None of your consents has ended.</Text>;
  return (
    <>
      {list.items.length === 0 ? null : (
        <DataTable label="Ended consents" striped data-testid="ended-consents" headings={['Who', 'May', 'Purposes', 'Period', 'Scope']}>
          {paged.items.map((c) => (
            <Table.Tr key={c.consentId} data-consent-id={c.consentId}>
              <ConsentCells consent={c} />
            </Table.Tr>
          ))}
        </DataTable>
      )}
      <PageControl paged={paged} label="consents" />
      <LoadMore pages={list} paged={paged} label="Load earlier consents" testId="ended-consents-more" />
    </>
  );
}

function AccessLog(): ReactNode {
  const { health, me } = useSession();
  const log = useLedgerList<AuditEntry>(
    async (bookmark) => {
      const page = (await health.auditTrail({
        kind: 'patient',
        patient: me.id,
        order: 'newest',
        pageSize: LOG_ENTRIES_PER_LOAD,
        ...(bookmark ? { bookmark } : {}),
      })) as {
        entries: AuditEntry[];
        bookmark: string;
      };
      return { items: page.entries, bookmark: page.bookmark };
    },
    LOG_ENTRIES_PER_LOAD,
    [health, me.id],
  );
  const paged = usePaged(log.items ?? [], LOG_ROWS_PER_PAGE);
  return (
    <Stack>
      <Text size="sm" c="dimmed">
        Every decision about your data, newest first, as the ledger recorded it. A read served by another hospital also appears as that hospital's confirmation
        ("served by").
      </Text>
      {log.error ? <ErrorAlert error={log.error} /> : null}
      {paged.total > 0 ? (
        <DataTable label="Who accessed my data" striped data-testid="access-log" headings={['When', 'Who', 'What', 'Record', 'Purpose', 'Outcome']}>
          {paged.items.map((e) => (
            <Table.Tr key={`${e.auditId}`}>
              <Table.Td>{localTime(e.atMs)}</Table.Td>
              <Table.Td>
                {actorText(e.actor)} ({e.actor.role})
                {e.recordedBy ? (
                  <Text size="xs" c="dimmed">
                    served by {e.recordedBy.org}
                  </Text>
                ) : null}
              </Table.Td>
              <Table.Td>{OP_TEXT[e.op] ?? e.op}</Table.Td>
              <Table.Td>{e.recordId ?? '—'}</Table.Td>
              <Table.Td>{e.purpose ?? '—'}</Table.Td>
              <Table.Td>
                <Group gap={4}>
                  <Badge color={e.outcome === 'allow' ? 'green' : 'red'} variant="light">
                    {e.outcome === 'allow' ? 'allowed' : 'denied'}
                  </Badge>
                  {e.flags.includes('break-the-glass') ? <Badge color="orange">break the glass</Badge> : null}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </DataTable>
      ) : null}
      <PageControl paged={paged} label="entries" />
      <LoadMore pages={log} paged={paged} label="Load older entries" testId="access-log-more" />
    </Stack>
  );
}

function Notifications(): ReactNode {
  const { health, me } = useSession();
  const feed = useLedgerList<Notification>(
    async (bookmark) => {
      const page = (await health.notifications(me.id, { order: 'newest', pageSize: NOTIFICATIONS_PER_LOAD, ...(bookmark ? { bookmark } : {}) })) as {
        notifications: Notification[];
        bookmark: string;
      };
      return { items: page.notifications, bookmark: page.bookmark };
    },
    NOTIFICATIONS_PER_LOAD,
    [health, me.id],
  );
  const paged = usePaged(feed.items ?? []);
  const text = (n: Notification): string =>
    n.kind === 'break-the-glass'
      ? `${n.actor} broke the glass to read ${n.recordId ?? 'a record'}`
      : n.kind === 'security-alert'
        ? `Security alert: ${n.actor} on ${n.recordId ?? 'your data'}`
        : n.kind === 'care'
          ? `${n.actor} started a care relation for you`
          : n.kind === 'application'
            ? `${n.actor} applied for access (${n.applicationId ?? ''})`
            : n.kind === 'erasure'
              ? `${n.actor} erased ${n.recordId ?? 'a record'}`
              : `${n.kind} by ${n.actor}`;
  return (
    <Stack>
      {feed.error ? <ErrorAlert error={feed.error} /> : null}
      {feed.items && feed.items.length === 0 && !feed.more ? <Text size="sm">No notifications.</Text> : null}
      <Stack gap="xs" data-testid="notifications">
        {paged.items.map((n) => (
          <Alert key={n.auditId} color={n.kind === 'break-the-glass' || n.kind === 'security-alert' ? 'orange' : 'blue'} title={localTime(n.atMs)}>
            {text(n)}
          </Alert>
        ))}
      </Stack>
      <PageControl paged={paged} label="notifications" />
      <LoadMore
        pages={feed}
        paged={paged}

        label="Load older notifications"
        testId="notifications-more"
      />
    </Stack>
  );
}

export function MyDataPage(): ReactNode {
  const { me } = useSession();
  return (
    <Stack>
      <Title order={2}>My data</Title>
      <Card withBorder>
        <Text size="sm">Your pseudonym — the only name the ledger knows you by. Give it to a doctor so they can find your records:</Text>
        <Group gap="xs" mt={4}>
          {/* Read aloud or shown to a doctor: all 64 digits stay on screen, wrapped on a narrow one. */}
          <Code data-testid="my-pseudonym" className="ml-wrap" style={{ minWidth: 0 }}>
            {me.id}
          </Code>
          <CopyButton value={me.id}>
            {({ copied, copy }) => (
              <Button size="xs" variant="default" onClick={copy}>
                {copied ? 'Copied' : 'Copy'}
              </Button>
            )}
          </CopyButton>
        </Group>
        <Text size="xs" c="dimmed" mt={4}>
          Shortened elsewhere as {shortHex(me.id, 16)}
        </Text>
      </Card>
      <Tabs defaultValue="records" keepMounted={false}>
        <Tabs.List aria-label="My data">
          <Tabs.Tab value="records">My records</Tabs.Tab>
          <Tabs.Tab value="consents">My consents</Tabs.Tab>
          <Tabs.Tab value="log">Who accessed my data</Tabs.Tab>
          <Tabs.Tab value="notifications">Notifications</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="records" pt="md">
          <MyRecords />
        </Tabs.Panel>
        <Tabs.Panel value="consents" pt="md">
          <MyConsents />
        </Tabs.Panel>
        <Tabs.Panel value="log" pt="md">
          <AccessLog />
        </Tabs.Panel>
        <Tabs.Panel value="notifications" pt="md">
          <Notifications />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
