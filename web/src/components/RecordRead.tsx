// The outcome of an audited read, as a clinician needs to see it: the access decision the ledger
// recorded (allowed or denied, on what basis, why), the BMRS session notice, the proof that what
// is shown is what the chain names, and the content itself — FHIR rendered for reading, CSV as a
// table, images inline, every part downloadable.
//
// What "verified" means here, precisely: the decision is a committed, VALID transaction (looked up
// on the ledger from the browser); each part's content address equals the CID in that committed
// decision; and the user's own hospital node recomputed that CID over the sealed bytes it fetched
// from the custodian and the keyed commitment over the decrypted content before releasing it (the
// content route refuses anything else with INTEGRITY). The browser never holds the data key, so the
// commitment itself is checked by the node, and the page says so.
import { Alert, Anchor, Badge, Button, Card, Group, List, Stack, Table, Text, Title } from '@mantine/core';
import { useMemo, type ReactNode } from 'react';
import type { HealthClient, RecordPart } from '../../../src/sdk/health.ts';
import { shortHex, useLoad } from '../app/hooks.ts';
import { ErrorAlert } from '../app/errors.tsx';
import { FhirResourceView } from './Fhir.tsx';
import { TableScroll } from './TableScroll.tsx';

export type ReadResult = Awaited<ReturnType<HealthClient['readRecord']>>;

const CSV_ROWS_SHOWN = 20;
const decoder = new TextDecoder();

interface OnChainPart {
  readonly sensitivity: string;
  readonly cid: string;
  readonly mediaType: string;
  readonly sizeBytes?: number;
}

function onChainParts(decision: Record<string, unknown>): OnChainPart[] {
  const record = decision['record'];
  if (typeof record !== 'object' || record === null) return [];
  const parts = (record as { parts?: unknown }).parts;
  return Array.isArray(parts) ? (parts as OnChainPart[]) : [];
}

const EXTENSIONS: Readonly<Record<string, string>> = {
  'application/fhir+json': 'json',
  'application/json': 'json',
  'text/csv': 'csv',
  'application/pdf': 'pdf',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'text/plain': 'txt',
};

export function downloadBytes(bytes: Uint8Array, mediaType: string, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: mediaType }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

export function CsvTable({ bytes, label }: { bytes: Uint8Array; label: string }): ReactNode {
  const rows = decoder
    .decode(bytes)
    .split(/\r?\n/)
    .filter((l) => l !== '')
    .map((l) => l.split(','));
  const [head, ...body] = rows;
  if (!head) return <Text size="sm">Empty CSV.</Text>;
  return (
    <TableScroll label={label}>
      <Table striped withTableBorder>
        <Table.Thead>
          <Table.Tr>
            {head.map((h, i) => (
              <Table.Th key={i}>{h}</Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {body.slice(0, CSV_ROWS_SHOWN).map((r, i) => (
            <Table.Tr key={i}>
              {r.map((c, j) => (
                <Table.Td key={j}>{c}</Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {body.length > CSV_ROWS_SHOWN ? (
        <Text size="xs" c="dimmed">
          {body.length - CSV_ROWS_SHOWN} more rows: download to see them all
        </Text>
      ) : null}
    </TableScroll>
  );
}

function ImagePreview({ part }: { part: RecordPart }): ReactNode {
  const url = useMemo(() => URL.createObjectURL(new Blob([part.content as BlobPart], { type: part.mediaType })), [part]);
  return <img src={url} alt={`Image part (${part.sensitivity})`} style={{ maxWidth: '100%', maxHeight: 480 }} />;
}

function PartContent({ part }: { part: RecordPart }): ReactNode {
  if (part.mediaType === 'application/fhir+json' || part.mediaType === 'application/json') {
    try {
      return <FhirResourceView resource={JSON.parse(decoder.decode(part.content)) as unknown} />;
    } catch {
      return (
        <Text size="sm" c="red">
          This part is not valid JSON.
        </Text>
      );
    }
  }
  if (part.mediaType === 'text/csv') return <CsvTable bytes={part.content} label={`CSV content (${part.sensitivity} part)`} />;
  if (/^image\/(png|jpeg|gif|webp)$/.test(part.mediaType)) return <ImagePreview part={part} />;
  if (part.mediaType.startsWith('text/'))
    return (
      <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
        {decoder.decode(part.content.subarray(0, 20_000))}
      </Text>
    );
  return (
    <Text size="sm" c="dimmed">
      {part.mediaType} content: download it to open it.
    </Text>
  );
}

function Verification({ result, client }: { result: ReadResult; client: HealthClient }): ReactNode {
  const status = useLoad(() => client.client.txStatus(result.txId, 10_000), [result.txId]);
  const chain = onChainParts(result.decision);
  const matches = result.parts.map((p) => chain.some((c) => c.cid === p.cid && c.sensitivity === p.sensitivity));
  const allMatch = matches.length > 0 && matches.every((m) => m);
  const committed = status.data?.code === 'VALID';
  return (
    <Card withBorder data-testid="verification" aria-label="Verification">
      <Title order={4} size="h5" mb="xs">
        Verification
      </Title>
      <List spacing={4} size="sm" className="ml-checks">
        <List.Item
          icon={
            <Badge color={committed ? 'green' : status.loading ? 'gray' : 'red'} variant="light" size="sm" miw={36}>
              {committed ? 'ok' : status.loading ? '…' : 'no'}
            </Badge>
          }
        >
          {committed ? (
            <>
              Access decision committed on the ledger: block {status.data?.blockNumber}, transaction {shortHex(result.txId, 16)}, VALID
            </>
          ) : status.loading ? (
            'Looking the decision up on the ledger…'
          ) : (
            <>
              Decision {shortHex(result.txId, 16)} not found VALID on the ledger ({status.data?.code ?? 'no answer'})
            </>
          )}
        </List.Item>
        <List.Item
          icon={
            <Badge color={allMatch ? 'green' : 'red'} variant="light" size="sm" miw={36}>
              {allMatch ? 'ok' : 'no'}
            </Badge>
          }
        >
          {allMatch ? (
            <>Content addresses match the chain: {result.parts.map((p) => `${p.sensitivity} ${shortHex(p.cid, 14)}`).join(', ')}</>
          ) : (
            'A part does not carry the content address the chain names'
          )}
        </List.Item>
        <List.Item
          icon={
            <Badge color="green" variant="light" size="sm" miw={36}>
              ok
            </Badge>
          }
        >
          Integrity checked by your hospital's node: it recomputed each CID over the sealed bytes fetched from {result.custodian ?? 'the custodian'} and the
          keyed commitment over the decrypted content (content that fails either is never released)
        </List.Item>
      </List>
      {committed && allMatch ? (
        <Text size="sm" fw={700} c="green" mt="xs" data-testid="verified">
          Verified
        </Text>
      ) : null}
    </Card>
  );
}

/** A read's full outcome: decision, session notice, verification and the released content. */
export function ReadOutcome({ result, recordId, client }: { result: ReadResult; recordId: string; client: HealthClient }): ReactNode {
  const d = result.decision;
  const reasons = Array.isArray(d['reasons']) ? (d['reasons'] as string[]) : [];
  const flags = Array.isArray(d['flags']) ? (d['flags'] as string[]) : [];
  const basis = d['basis'] && typeof d['basis'] === 'object' ? (d['basis'] as Record<string, unknown>) : null;
  return (
    // Ids and hashes (a consent id, an audit id) are single words wider than a tablet's column:
    // they wrap anywhere rather than run over the card's edge.
    <Stack data-testid="read-outcome" className="ml-wrap">
      {result.allowed ? (
        <Alert color={flags.includes('break-the-glass') ? 'orange' : 'green'} title="Access allowed — the decision is on the ledger" data-testid="decision">
          <Text size="sm">
            Basis: {basis ? String(basis['rule'] ?? 'rule') : 'rule'}
            {basis && basis['consentId'] ? ` (consent ${String(basis['consentId'])})` : ''}
            {flags.length ? `; flags: ${flags.join(', ')}` : ''}
          </Text>
          <Text size="xs" c="dimmed">
            audit {String(d['auditId'] ?? '')} · transaction {shortHex(result.txId, 16)} · version {result.version} · custodian {result.custodian}
          </Text>
        </Alert>
      ) : (
        <Alert color="red" title="Access denied — the refusal is recorded on the ledger" role="alert" data-testid="decision">
          <List size="sm">
            {reasons.map((r, i) => (
              <List.Item key={i}>{r}</List.Item>
            ))}
          </List>
          <Text size="xs" c="dimmed">
            audit {String(d['auditId'] ?? '')} · transaction {shortHex(result.txId, 16)}
          </Text>
        </Alert>
      )}
      {result.session?.notice ? (
        <Alert color="orange" title={`Your BMRS session: ${result.session.stateName}`}>
          {result.session.notice}
        </Alert>
      ) : null}
      {result.allowed ? <Verification result={result} client={client} /> : null}
      {result.parts.map((p) => (
        <Card key={p.cid} withBorder data-testid="record-part">
          <Group justify="space-between" mb="xs" wrap="wrap">
            <Group gap="xs">
              <Badge color={p.sensitivity === 'normal' ? 'blue' : p.sensitivity === 'sensitive' ? 'grape' : 'red'}>{p.sensitivity}</Badge>
              <Text size="sm">
                {p.mediaType} · {p.content.byteLength} bytes · CID <span title={p.cid}>{shortHex(p.cid, 20)}</span>
              </Text>
            </Group>
            <Button
              size="xs"
              variant="default"
              onClick={() => downloadBytes(p.content, p.mediaType, `${recordId}-v${result.version ?? 0}-${p.sensitivity}.${EXTENSIONS[p.mediaType] ?? 'bin'}`)}
            >
              Download {p.sensitivity} part
            </Button>
          </Group>
          <PartContent part={p} />
        </Card>
      ))}
      {result.csv && result.parts.length > 1 ? (
        <Anchor component="button" type="button" size="sm" onClick={() => downloadBytes(result.csv!, 'text/csv', `${recordId}-joined.csv`)}>
          Download the released parts joined into one CSV
        </Anchor>
      ) : null}
      {result.withheld.length > 0 ? (
        <Alert color="gray" title="Withheld parts" data-testid="withheld">
          <List size="sm">
            {result.withheld.map((w, i) => (
              <List.Item key={i}>
                The {w.sensitivity} part: {w.reasons.join('; ')}
              </List.Item>
            ))}
          </List>
        </Alert>
      ) : null}
    </Stack>
  );
}

export function ReadError({ error }: { error: unknown }): ReactNode {
  return error ? <ErrorAlert error={error} /> : null;
}
