// Provenance (auditors and supervisors, admins; patients for their own data): the timeline of
// every operation on a record, a dataset, a patient or the whole organisation — created, updated,
// shared, read, refused, break-the-glass, erased — as the ledger recorded it, with a download as a
// FHIR R4 Bundle of AuditEvent (and, for a record, of Provenance). Who may see which trail is the
// contract's rule (decision 0905); a refused query says why.
import { Alert, Anchor, Badge, Button, Card, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { Choice } from '../components/Choice.tsx';
import { ErrorAlert } from '../app/errors.tsx';
import { localTime, shortHex } from '../app/hooks.ts';
import { useSession } from '../app/session.tsx';
import { PageControl, usePaged } from '../components/Paged.tsx';
import { downloadBytes } from '../components/RecordRead.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { useReveal } from '../components/reveal.ts';
import { useLedgerPages, type LedgerPage } from '../app/ledger-pages.ts';
import { LoadMore } from '../components/LoadMore.tsx';

/** Pages of a FHIR export joined into one file at most (the contract bounds a page at 200). */
const EXPORT_PAGES_MAX = 50;
/** Events fetched per load: the first at once, then on demand (decision 0907). */
const EVENTS_PER_LOAD = 100;
const ROWS_PER_PAGE = 15;
const PSEUDONYM_RE = /^[0-9a-f]{32,64}$/;

type Kind = 'record' | 'patient' | 'dataset' | 'org';
interface Actor {
  readonly org: string;
  readonly id: string;
  readonly role: string;
}
export interface AuditEntry {
  readonly auditId: string;
  readonly txId: string;
  readonly atMs: number;
  readonly op: string;
  readonly actor: Actor;
  readonly recordedBy: Actor | null;
  readonly outcome: 'allow' | 'deny';
  readonly purpose: string | null;
  readonly patient: string | null;
  readonly recordId: string | null;
  readonly version: number | null;
  readonly datasetId: string | null;
  readonly custodian: string | null;
  readonly reasons: readonly string[];
  readonly flags: readonly string[];
  readonly securityAlert: boolean;
}

const OPS: Readonly<Record<string, string>> = {
  'record.create': 'created',
  'record.update': 'updated',
  'record.erase': 'erased',
  'access.read': 'read',
  'access.write': 'write',
  'access.share': 'shared',
  'access.statistics': 'statistics',
  'consent.grant': 'consent granted',
  'consent.revoke': 'consent revoked',
  'application.apply': 'applied',
  'application.approve': 'application approved',
  'application.deny': 'application denied',
  'care.start': 'care started',
  'care.end': 'care ended',
  'patient.enrol': 'patient enrolled',
  'dataset.register': 'dataset registered',
  'dataset.access': 'listing changed',
  'stats.request': 'statistics requested',
  'stats.result': 'statistics recorded',
  'bmrs.reauthorize': 'session re-authorized',
};

/** The event in the words of the issue's timeline: refused and break-the-glass are what an auditor looks for first. */
function eventLabel(e: AuditEntry): { text: string; color: string } {
  if (e.flags.includes('break-the-glass')) return { text: `${OPS[e.op] ?? e.op} · break the glass`, color: 'orange' };
  if (e.outcome === 'deny') return { text: `${OPS[e.op] ?? e.op} · refused`, color: 'red' };
  if (e.op === 'record.erase') return { text: 'erased', color: 'gray' };
  return { text: OPS[e.op] ?? e.op, color: e.securityAlert ? 'orange' : 'blue' };
}

/**
 * The address of a timeline (`?record=…`, `?dataset=…`, `?patient=…`, `?org`): a timeline can be
 * bookmarked, opened from another one's subject, and left with the browser's Back.
 */
function timelineSearch(kind: Kind, subject: string): string {
  return kind === 'org' ? 'org' : new URLSearchParams({ [kind]: subject }).toString();
}

function timelineFromSearch(search: string): { kind: Kind; subject: string } | null {
  const params = new URLSearchParams(search);
  for (const kind of ['record', 'dataset', 'patient'] as const) {
    const subject = params.get(kind);
    if (subject !== null) return { kind, subject };
  }
  return params.has('org') ? { kind: 'org', subject: '' } : null;
}

const who = (a: Actor): string => `${a.org}/${PSEUDONYM_RE.test(a.id) ? `patient ${shortHex(a.id, 10)}` : a.id}`;

export function ProvenancePage(): ReactNode {
  const { health, me } = useSession();
  const [kind, setKind] = useState<Kind>(me.role === 'patient' ? 'patient' : 'record');
  const [subject, setSubject] = useState(me.role === 'patient' ? me.id : '');
  // Newest first by default: after weeks of use an auditor looks first at what happened lately.
  const [order, setOrder] = useState<'newest' | 'oldest'>('newest');
  const trail = useLedgerPages<AuditEntry>();
  const entries = trail.items;
  const [shownQuery, setShownQuery] = useState<Record<string, unknown> | null>(null);
  const [shownOrder, setShownOrder] = useState<'newest' | 'oldest'>('newest');
  const [note, setNote] = useState<string | null>(null);
  const [downloadNote, setDownloadNote] = useState<string | null>(null);
  const [formError, setError] = useState<unknown>(null);
  const error = formError ?? trail.error;
  const paged = usePaged(entries ?? [], ROWS_PER_PAGE);
  const kinds =
    me.role === 'patient'
      ? [
          { value: 'patient', label: 'My data' },
          { value: 'record', label: 'A record' },
        ]
      : [
          { value: 'record', label: 'A record' },
          { value: 'patient', label: 'A patient' },
          { value: 'dataset', label: 'A dataset' },
          { value: 'org', label: 'My organisation' },
        ];
  const search = useSearch();
  const [, navigate] = useLocation();
  /** The timeline shown or being loaded, as its address: the URL changing to it loads nothing more. */
  const shownSearch = useRef<string | null>(null);

  const queryFor = (k: Kind, s: string): Record<string, unknown> => {
    if (k === 'record') return { kind: 'record', recordId: s };
    if (k === 'dataset') return { kind: 'dataset', datasetId: s };
    if (k === 'org') return { kind: 'org', org: s || me.org };
    // A patient sees their own log; staff see what their organisation's trail holds about the
    // patient (the contract reads it from the patient's index, decision 0907).
    if (me.role === 'patient') return { kind: 'patient', patient: me.id };
    return { kind: 'patient', patient: s, org: me.org };
  };

  /** Shows a timeline and makes its address the page's (replacing the one that asked for it: `fromAddress`). */
  const show = async (kind: Kind, subject: string, fromAddress = false, inOrder: 'newest' | 'oldest' = order): Promise<void> => {
    setError(null);
    setNote(null);
    setDownloadNote(null);
    const s = subject.trim();
    if (kind !== 'org' && !(kind === 'patient' && me.role === 'patient') && s === '') {
      setError(new Error(`Give the ${kind === 'record' ? 'record id' : kind === 'dataset' ? 'dataset id' : "patient's pseudonym"}.`));
      return;
    }
    if (kind === 'patient' && me.role !== 'patient' && !PSEUDONYM_RE.test(s)) {
      setError(new Error('A patient is named by their pseudonym (32–64 hexadecimal characters).'));
      return;
    }
    const address = timelineSearch(kind, s);
    shownSearch.current = address;
    if (search !== address) navigate(`~/provenance?${address}`, { replace: fromAddress });
    const query = queryFor(kind, s);
    if (query['org'] !== undefined && query['kind'] === 'patient')
      setNote(`Events about this patient in ${me.org}'s trail (the patient's whole log is theirs to see).`);
    setShownQuery(null);
    setShownOrder(inOrder);
    paged.setPage(1);
    const fetch = async (bookmark: string): Promise<LedgerPage<AuditEntry>> => {
      const page = (await health.auditTrail({ ...query, order: inOrder, pageSize: EVENTS_PER_LOAD, ...(bookmark ? { bookmark } : {}) })) as {
        entries: AuditEntry[];
        bookmark: string;
      };
      return { items: page.entries, bookmark: page.bookmark };
    };
    await trail.start(fetch, EVENTS_PER_LOAD);
    setShownQuery(query);
  };

  // A timeline's address (a link from another timeline, a bookmark, Back) shows that timeline.
  useEffect(() => {
    const wanted = timelineFromSearch(search);
    if (wanted === null || shownSearch.current === timelineSearch(wanted.kind, wanted.subject)) return;
    if (!kinds.some((k) => k.value === wanted.kind)) return;
    const subject = wanted.kind === 'patient' && me.role === 'patient' ? me.id : wanted.subject;
    setKind(wanted.kind);
    setSubject(subject);
    void show(wanted.kind, subject, true);
  }, [search]); // `show` reads the session, fixed while signed in

  const download = async (what: 'audit' | 'provenance'): Promise<void> => {
    if (!shownQuery) return;
    setError(null);
    setDownloadNote(null);
    try {
      // Page through the export and join the pages into one Bundle (the contract bounds a page at 200).
      const entry: unknown[] = [];
      let first: Record<string, unknown> | null = null;
      let bookmark = '';
      let events = 0;
      for (let i = 0; i < EXPORT_PAGES_MAX; i++) {
        const page = (
          what === 'audit'
            ? await health.exportAuditEvents({ ...shownQuery, order: shownOrder, pageSize: 200, ...(bookmark ? { bookmark } : {}) })
            : await health.evaluate('exportProvenance', { recordId: shownQuery['recordId'], pageSize: 200, ...(bookmark ? { bookmark } : {}) })
        ) as { bundle: Record<string, unknown>; bookmark: string };
        first ??= page.bundle;
        const got = Array.isArray(page.bundle['entry']) ? (page.bundle['entry'] as unknown[]) : [];
        entry.push(...got);
        events += got.length;
        bookmark = page.bookmark;
        if (!bookmark) break;
      }
      // Never a silent cut: the file says how far it goes when the trail holds more.
      if (bookmark)
        setDownloadNote(
          `The file holds the ${what === 'audit' && shownOrder === 'newest' ? 'latest' : 'first'} ${events} events; the ledger holds more. The command line exports the rest page by page (medledger audit … --fhir --bookmark).`,
        );
      const r = { bundle: { ...(first ?? { resourceType: 'Bundle', type: 'collection' }), entry } };
      const subjectName =
        shownQuery['kind'] === 'patient'
          ? `patient-${shortHex(String(shownQuery['patient']), 12).replace('…', '')}`
          : String(shownQuery['recordId'] ?? shownQuery['datasetId'] ?? shownQuery['org']);
      const name = `${what === 'audit' ? 'AuditEvent' : 'Provenance'}-${subjectName}.json`;
      downloadBytes(new TextEncoder().encode(JSON.stringify(r.bundle, null, 2)), 'application/fhir+json', name);
    } catch (err) {
      setError(err);
    }
  };

  // A timeline opened from a link far down another (a phone's long column of cards) shows from its
  // top; one shown below the form, in sight.
  const timelineRef = useReveal<HTMLDivElement>(entries ?? error);

  /** A subject this page can show the timeline of, as a link to it (an organisation's events lead to each one's own), unless it is the one shown. */
  const subjectLink = (subjectKind: Kind, subject: string, text: string): ReactNode => {
    const address = timelineSearch(subjectKind, subject);
    return kinds.some((k) => k.value === subjectKind) && address !== search ? (
      <Anchor component={Link} href={`~/provenance?${address}`} size="sm">
        {text}
      </Anchor>
    ) : (
      text
    );
  };
  return (
    <Stack>
      <Title order={2}>Provenance</Title>
      <Card withBorder>
        <form
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            void show(kind, subject);
          }}
          aria-label="Show a timeline"
        >
          <Stack gap="sm">
            <Choice
              value={kind}
              onChange={(v) => {
                setKind(v as Kind);
                setSubject(v === 'patient' && me.role === 'patient' ? me.id : '');
              }}
              data={kinds}
              aria-label="Timeline of"
            />
            {kind === 'org' || (kind === 'patient' && me.role === 'patient') ? null : (
              <TextInput
                label={kind === 'record' ? 'Record id' : kind === 'dataset' ? 'Dataset id' : 'Patient pseudonym'}
                value={subject}
                onChange={(e) => setSubject(e.currentTarget.value)}
              />
            )}
            <Choice
              value={order}
              onChange={(v) => {
                const next = v === 'oldest' ? 'oldest' : 'newest';
                setOrder(next);
                // A timeline on screen turns round at once; otherwise the choice waits for Show timeline.
                if (entries !== null) void show(kind, subject, false, next);
              }}
              data={[
                { value: 'newest', label: 'Newest first' },
                { value: 'oldest', label: 'Oldest first' },
              ]}
              aria-label="Order of the timeline"
            />
            <Group>
              <Button type="submit" loading={trail.loading === 'list'}>
                Show timeline
              </Button>
            </Group>
          </Stack>
        </form>
      </Card>
      {error || entries ? (
        <Stack ref={timelineRef}>
          {error ? <ErrorAlert error={error} /> : null}
          {entries ? (
            <Card withBorder>
              <Group justify="space-between" mb="xs" wrap="wrap">
                <Text size="sm" data-testid="timeline-count">
                  {entries.length} events{trail.more ? ' loaded' : ''}, {shownOrder === 'newest' ? 'newest' : 'oldest'} first
                  {trail.more ? `; ${shownOrder === 'newest' ? 'older' : 'later'} ones are on the ledger` : ''}
                </Text>
                <Group gap="xs">
                  <Button size="xs" variant="default" onClick={() => void download('audit')}>
                    Download FHIR AuditEvent Bundle
                  </Button>
                  {shownQuery?.['kind'] === 'record' ? (
                    <Button size="xs" variant="default" onClick={() => void download('provenance')}>
                      Download FHIR Provenance Bundle
                    </Button>
                  ) : null}
                </Group>
              </Group>
              {note ? (
                <Text size="xs" c="dimmed" mb="xs">
                  {note}
                </Text>
              ) : null}
              {downloadNote ? (
                <Alert color="yellow" mb="xs" data-testid="download-note" withCloseButton onClose={() => setDownloadNote(null)} closeButtonLabel="Dismiss">
                  {downloadNote}
                </Alert>
              ) : null}
              <DataTable label="Timeline" striped data-testid="timeline" headings={['When', 'Event', 'Who', 'Subject', 'Purpose', 'Why', 'Transaction']}>
                {paged.items.map((e) => {
                  const label = eventLabel(e);
                  return (
                    <Table.Tr key={e.auditId}>
                      <Table.Td>{localTime(e.atMs)}</Table.Td>
                      <Table.Td>
                        <Badge color={label.color} variant="light">
                          {label.text}
                        </Badge>
                      </Table.Td>
                      <Table.Td>
                        {who(e.actor)} ({e.actor.role})
                        {e.recordedBy ? (
                          <Text size="xs" c="dimmed">
                            served and recorded by {e.recordedBy.org}
                          </Text>
                        ) : null}
                      </Table.Td>
                      <Table.Td>
                        {e.recordId
                          ? subjectLink('record', e.recordId, `record ${e.recordId}${e.version ? ` v${e.version}` : ''}`)
                          : e.datasetId
                            ? subjectLink('dataset', e.datasetId, `dataset ${e.datasetId}`)
                            : e.patient
                              ? subjectLink('patient', e.patient, `patient ${shortHex(e.patient, 10)}`)
                              : '—'}
                      </Table.Td>
                      <Table.Td>{e.purpose ?? '—'}</Table.Td>
                      <Table.Td>
                        {/* A reason may name a consent by its id, one long word: it wraps rather than
                        widen the column until the table no longer fits a 1280 px page. */}
                        <Text size="xs" className="ml-wrap">
                          {e.reasons.join('; ') || '—'}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {/* The transaction as the ledger holds it: the Blocks page opens its block. */}
                        <Anchor
                          component={Link}
                          href={`~/blocks?find=${e.txId}`}
                          size="xs"
                          ff="monospace"
                          title={e.txId}
                          aria-label={`Open the block of transaction ${shortHex(e.txId, 10)}`}
                        >
                          {shortHex(e.txId, 10)}
                        </Anchor>
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </DataTable>
              <PageControl paged={paged} label="events" />
              <LoadMore pages={trail} paged={paged} label={shownOrder === 'newest' ? 'Load older events' : 'Load later events'} testId="timeline-more" />
            </Card>
          ) : null}
        </Stack>
      ) : null}
    </Stack>
  );
}
