// Blocks: a block explorer. The latest blocks, a block's header and hashes, the consensus
// certificate and its signers, its transactions with validation codes, creators and contract
// calls; for auditors (admins, supervisors) the read/write sets decoded in the browser from the
// block's own bytes — keys, versions and value sizes/hashes only, never values. Search by block
// number, transaction id or record id. "Verify chain" recomputes every header hash and link here,
// in the browser (and, for auditors, each block's data hash from its transactions).
import { Badge, Button, Card, Code, Group, Pagination, Progress, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { Fragment, useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { useSearch } from 'wouter';
import type { BlockResponseT } from '../../../src/protocol/schemas.ts';
import { fromHex, sha256, toHex } from '../../../src/codec/index.ts';
import { blockHash, dataHash, decodeBlock } from '../../../src/ledger/block.ts';
import { parseAll, TxFormatError } from '../../../src/ledger/tx.ts';
import { ErrorAlert } from '../app/errors.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { revealIfOutOfSight } from '../components/reveal.ts';
import { localTime, shortHex, useLoad } from '../app/hooks.ts';
import { useSession, type Session } from '../app/session.tsx';

const PAGE_SIZE = 10;
/** The longest search the field takes (a block number, a transaction id or a record id). */
const FIND_CHARS_MAX = 200;
const VERIFY_BLOCKS_MAX = 100_000;

const isAuditor = (role: string): boolean => role === 'admin' || role === 'supervisor';

interface DecodedTx {
  readonly position: number;
  readonly txId: string | null;
  readonly call: string;
  readonly code: string;
  readonly namespaces: ReadonlyArray<{
    readonly namespace: string;
    readonly reads: ReadonlyArray<{ key: string; version: string }>;
    readonly writes: ReadonlyArray<{ key: string; kind: 'put' | 'delete'; sizeBytes: number; sha256: string }>;
    readonly rangeReads: number;
  }>;
  readonly error: string | null;
}

/** Read/write sets of a raw block: keys and metadata, never the values themselves. */
function decodeRwSets(bytes: Uint8Array, validation: readonly string[]): { txs: DecodedTx[]; dataHashHex: string } {
  const block = decodeBlock(bytes);
  const parsed = block.header.number === 0 ? [] : parseAll(block.data);
  const txs = parsed.map((p, i): DecodedTx => {
    if (p instanceof TxFormatError) return { position: i, txId: null, call: '—', code: validation[i] ?? '?', namespaces: [], error: p.message };
    return {
      position: i,
      txId: p.proposal.txId,
      call: `${p.proposal.contract}.${p.proposal.fn}`,
      code: validation[i] ?? '?',
      namespaces: p.response.rwset.namespaces.map((ns) => ({
        namespace: ns.namespace,
        reads: ns.reads.map((r) => ({ key: r.key, version: r.version ? `${r.version.block}:${r.version.tx}` : 'absent' })),
        writes: ns.writes.map((w) => ({
          key: w.key,
          kind: w.isDelete ? ('delete' as const) : ('put' as const),
          sizeBytes: w.value?.byteLength ?? 0,
          sha256: w.value ? toHex(sha256(w.value)) : '',
        })),
        rangeReads: ns.rangeReads.length,
      })),
      error: null,
    };
  });
  return { txs, dataHashHex: toHex(dataHash(block.data)) };
}

function recomputedHeaderHash(b: BlockResponseT): string {
  return toHex(blockHash({ number: b.number, previousHash: fromHex(b.previousHashHex), dataHash: fromHex(b.dataHashHex), timestampMs: b.timestampMs }));
}

function BlockDetail({
  session,
  number,
  soughtTxId,
  reveal,
  settled,
  onOpen,
}: {
  session: Session;
  number: number;
  /** The transaction a search named: its row is marked and scrolled into sight. */
  soughtTxId: string | null;
  /** Raised each time the user asks for a block (a search, the list): bring it into sight. */
  reveal: number;
  /** False while what is laid out above the detail (the list, on a phone) may still grow. */
  settled: boolean;
  onOpen: (n: number) => void;
}): ReactNode {
  const { client, me } = session;
  const soughtRow = useRef<HTMLTableRowElement | null>(null);
  const card = useRef<HTMLDivElement | null>(null);
  const revealed = useRef(0);
  const summary = useLoad(() => client.block(number), [client, number]);
  const raw = useLoad(async () => (isAuditor(me.role) ? client.rawBlock(number) : null), [client, number, me.role]);
  const decoded = raw.data
    ? (() => {
        try {
          return decodeRwSets(raw.data.block, raw.data.validation);
        } catch (e) {
          return e as Error;
        }
      })()
    : null;
  const b = summary.data;
  const loaded = b !== null && b.number === number;
  const sought = loaded && soughtTxId !== null ? b.txs.find((t) => t.txId === soughtTxId) : undefined;
  // Once the block asked for has loaded, bring what was asked for into sight, if it is not: the
  // transaction searched for (a block may hold hundreds), else the block's top. On a phone the
  // detail comes after the whole list of latest blocks; on a wide screen it is usually in sight
  // already and nothing moves. The first block shown on opening the page is not asked for.
  // Measured in the next frame: the transactions' table decides in its own layout pass whether it
  // shows its rows as cards (much taller on a phone), after this effect would run.
  useEffect(() => {
    if (!loaded || !settled || reveal === revealed.current) return;
    const frame = requestAnimationFrame(() => {
      revealed.current = reveal;
      if (soughtRow.current) revealIfOutOfSight(soughtRow.current, 'center');
      else if (card.current) revealIfOutOfSight(card.current, 'start');
    });
    return () => cancelAnimationFrame(frame);
  }, [loaded, settled, reveal, sought]);
  if (summary.error) return <ErrorAlert error={summary.error} />;
  if (!b) return <Text>Loading block {number}…</Text>;
  const hashOk = recomputedHeaderHash(b) === b.hashHex;
  return (
    <Card withBorder data-testid="block-detail" ref={card}>
      <Stack>
        <Group justify="space-between">
          <Title order={3}>Block {b.number}</Title>
          <Group gap="xs">
            <Button size="xs" variant="default" disabled={b.number === 0} onClick={() => onOpen(b.number - 1)}>
              Previous block
            </Button>
            <Button size="xs" variant="default" onClick={() => onOpen(b.number + 1)}>
              Next block
            </Button>
          </Group>
        </Group>
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <Text size="sm">Time: {localTime(b.timestampMs)}</Text>
          <Text size="sm">Engine: {b.engine ?? '—'}</Text>
          <Text size="sm">
            Hash: <span className="ml-hash">{b.hashHex}</span>{' '}
            {hashOk ? (
              <Badge color="green" size="sm">
                recomputed here
              </Badge>
            ) : (
              <Badge color="red" size="sm">
                does not match its header
              </Badge>
            )}
          </Text>
          <Text size="sm">
            Previous hash: <span className="ml-hash">{b.previousHashHex}</span>
          </Text>
          <Text size="sm">
            Data hash: <span className="ml-hash">{b.dataHashHex}</span>{' '}
            {decoded && !(decoded instanceof Error) ? (
              decoded.dataHashHex === b.dataHashHex ? (
                <Badge color="green" size="sm">
                  recomputed from the transactions
                </Badge>
              ) : (
                <Badge color="red" size="sm">
                  does not match the transactions
                </Badge>
              )
            ) : null}
          </Text>
          {/* Each node's orderer writes and signs its own copy of a decided block; who decided it is
              the consensus certificate's business, below. */}
          <Text size="sm">Copy signed by orderer: {b.orderers.length > 0 ? b.orderers.join(', ') : '—'}</Text>
        </SimpleGrid>
        <div>
          <Title order={4} size="h5">
            Consensus certificate
          </Title>
          {b.certificate ? (
            <Text size="sm">
              {b.certificate.scheme}: {b.certificate.signers.length} signature{b.certificate.signers.length === 1 ? '' : 's'} by{' '}
              {b.certificate.signers.join(', ') || '—'}
              {Object.keys(b.certificate.fields).length > 0
                ? `; ${Object.entries(b.certificate.fields)
                    .map(([k, v]) => `${k} ${String(v).slice(0, 24)}`)
                    .join(', ')}`
                : ''}
            </Text>
          ) : (
            <Text size="sm" c="dimmed">
              {b.number === 0 ? 'Genesis: the trust anchor, no certificate.' : 'This engine gives no certificate for this block.'}
            </Text>
          )}
        </div>
        {sought ? (
          <Text size="sm" role="status" data-testid="sought-tx">
            Transaction <span className="ml-hash">{shortHex(sought.txId ?? '', 16)}</span> is #{sought.position} of this block&apos;s {b.txs.length}, marked
            below.
          </Text>
        ) : null}
        <DataTable
          label="Transactions of the block"
          captionSide="top"
          striped
          data-testid="block-txs"
          caption="Transactions"
          headings={['#', 'Transaction id', 'Call, by', 'Validation']}
        >
          {b.txs.map((t) => (
            <Table.Tr key={t.position} {...(t === sought ? { ref: soughtRow, 'aria-current': 'true' as const, className: 'ml-sought' } : {})}>
              <Table.Td>{t.position}</Table.Td>
              <Table.Td className="ml-hash" title={t.txId ?? ''}>
                {t.txId ? shortHex(t.txId, 16) : '—'}
              </Table.Td>
              {/* The creator under the call, not in a column of its own: the table then fits the
                  detail's half of a 1280 px page with its Validation column in sight. */}
              <Table.Td>
                {t.contract ? `${t.contract}.${t.fn}` : '—'}
                <Text size="xs" c="dimmed">
                  {t.creatorOrg ? (
                    <>
                      by {t.creatorOrg}/<wbr />
                      {t.creatorId}
                    </>
                  ) : (
                    'creator unknown'
                  )}
                </Text>
              </Table.Td>
              <Table.Td>
                <Badge color={t.code === 'VALID' ? 'green' : 'red'} variant="light">
                  {t.code}
                </Badge>
              </Table.Td>
            </Table.Tr>
          ))}
          {b.txs.length === 0 ? (
            <Table.Tr>
              <Table.Td colSpan={4}>{b.number === 0 ? 'The genesis block holds the consortium configuration.' : 'No transactions.'}</Table.Td>
            </Table.Tr>
          ) : null}
        </DataTable>
        {isAuditor(me.role) ? (
          <div>
            <Title order={4} size="h5">
              Read/write sets (keys and metadata; values are never shown)
            </Title>
            {raw.error ? <ErrorAlert error={raw.error} /> : null}
            {decoded instanceof Error ? <ErrorAlert error={decoded} title="This block's bytes do not decode" /> : null}
            {decoded && !(decoded instanceof Error)
              ? decoded.txs.map((t) => (
                  <Card
                    key={t.position}
                    withBorder
                    mt="xs"
                    data-testid="rwset"
                    {...(sought && t.txId === sought.txId ? { 'aria-current': 'true' as const, className: 'ml-sought-card' } : {})}
                  >
                    <Text size="sm" fw={600}>
                      #{t.position} {t.call}{' '}
                      <Badge size="xs" variant="light" color={t.code === 'VALID' ? 'green' : 'red'}>
                        {t.code}
                      </Badge>
                    </Text>
                    {t.error ? (
                      <Text size="sm" c="red">
                        {t.error}
                      </Text>
                    ) : null}
                    {t.namespaces.map((ns) => (
                      <Stack key={ns.namespace} gap={2} mt={4}>
                        <Text size="xs" c="dimmed">
                          namespace {ns.namespace}: {ns.reads.length} reads, {ns.rangeReads} range reads, {ns.writes.length} writes
                        </Text>
                        {ns.reads.slice(0, 50).map((r) => (
                          <Text key={`r${r.key}`} size="xs" className="ml-mono">
                            read {r.key} @ {r.version}
                          </Text>
                        ))}
                        {ns.writes.slice(0, 50).map((w) => (
                          <Text key={`w${w.key}`} size="xs" className="ml-mono">
                            {w.kind} {w.key}
                            {w.kind === 'put' ? ` (${w.sizeBytes} bytes, sha256 ${shortHex(w.sha256, 16)})` : ''}
                          </Text>
                        ))}
                      </Stack>
                    ))}
                  </Card>
                ))
              : null}
          </div>
        ) : (
          <Text size="xs" c="dimmed">
            Read/write sets are shown to admins and supervisors (auditors): they name every key a transaction touched.
          </Text>
        )}
      </Stack>
    </Card>
  );
}

function VerifyChain({ session, height }: { session: Session; height: number }): ReactNode {
  const { client, me } = session;
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const cancel = useRef(false);
  const run = async (): Promise<void> => {
    cancel.current = false;
    setResult(null);
    setError(null);
    const total = Math.min(height, VERIFY_BLOCKS_MAX) + 1;
    setProgress({ done: 0, total });
    let previous: string | null = null;
    const withData = isAuditor(me.role);
    try {
      for (let n = 0; n < total; n++) {
        if (cancel.current) {
          setResult({ ok: false, text: `stopped after ${n} blocks` });
          return;
        }
        const b = await client.block(n);
        if (recomputedHeaderHash(b) !== b.hashHex) return setResult({ ok: false, text: `block ${n}: its header does not hash to ${shortHex(b.hashHex)}` });
        if (previous !== null && b.previousHashHex !== previous) return setResult({ ok: false, text: `block ${n} does not link to block ${n - 1}` });
        if (withData) {
          const raw = await client.rawBlock(n);
          if (toHex(dataHash(decodeBlock(raw.block).data)) !== b.dataHashHex)
            return setResult({ ok: false, text: `block ${n}: its transactions do not hash to its data hash` });
        }
        previous = b.hashHex;
        if (n % 5 === 0 || n === total - 1) setProgress({ done: n + 1, total });
      }
      setResult({
        ok: true,
        text: `${total} blocks (0–${total - 1}): every header hash recomputed and every link checked${withData ? ', every data hash recomputed from the transactions' : ''}; last hash ${shortHex(previous ?? '', 16)}`,
      });
    } catch (e) {
      setError(e);
    } finally {
      setProgress((p) => (p ? { ...p } : null));
    }
  };
  const running = progress !== null && result === null && error === null && progress.done < progress.total;
  return (
    <Card withBorder>
      <Stack gap="xs">
        <Group justify="space-between">
          <Title order={3} size="h5">
            Verify the chain in this browser
          </Title>
          <Group gap="xs">
            <Button size="xs" onClick={() => void run()} loading={running}>
              Verify chain
            </Button>
            {running ? (
              <Button
                size="xs"
                variant="default"
                onClick={() => {
                  cancel.current = true;
                }}
              >
                Stop
              </Button>
            ) : null}
          </Group>
        </Group>
        <Text size="xs" c="dimmed">
          Fetches every block from this node and recomputes its header hash (sha-256 of the canonical header) and its link to the previous block here, without
          trusting the node's arithmetic.
        </Text>
        {progress ? <Progress value={(100 * progress.done) / progress.total} aria-label={`verified ${progress.done} of ${progress.total} blocks`} /> : null}
        {result ? (
          <Text size="sm" c={result.ok ? 'green' : 'red'} data-testid="verify-result" role="status">
            {result.ok ? 'Chain verified: ' : 'Verification failed: '}
            {result.text}
          </Text>
        ) : null}
        {error ? <ErrorAlert error={error} /> : null}
      </Stack>
    </Card>
  );
}

export function BlocksPage(): ReactNode {
  const session = useSession();
  const { client } = session;
  const status = useLoad(() => client.status(), [client]);
  const height = status.data?.height ?? 0;
  const [page, setPage] = useState(1);
  const [open, setOpen] = useState<number | null>(null);
  const [query, setQuery] = useState('');
  const [searchError, setSearchError] = useState<unknown>(null);
  /** The transaction the last search named (by its id or a record's), marked in its block. */
  const [soughtTxId, setSoughtTxId] = useState<string | null>(null);
  /** Counts the user's requests for a block, each of which brings the block into sight. */
  const [reveal, setReveal] = useState(0);
  const openAsked = useCallback((n: number) => {
    setOpen(n);
    setReveal((r) => r + 1);
  }, []);
  const pages = Math.max(1, Math.ceil((height + 1) / PAGE_SIZE));
  const top = height - (page - 1) * PAGE_SIZE;
  const list = useLoad(async () => {
    const numbers = Array.from({ length: Math.min(PAGE_SIZE, top + 1) }, (_, i) => top - i).filter((n) => n >= 0);
    return Promise.all(numbers.map((n) => client.block(n)));
  }, [client, top]);

  // The list above the detail (on a phone) has its final rows once the height is known and the
  // blocks from the current top have loaded (until then it shows a shorter list, or none).
  const listSettled = status.error !== null || list.error !== null || (status.data !== null && list.data?.[0]?.number === top);
  useEffect(() => {
    if (open === null && status.data) setOpen(status.data.height);
  }, [open, status.data]);

  const find = useCallback(
    async (text: string) => {
      setSearchError(null);
      setSoughtTxId(null);
      const q = text.trim();
      try {
        if (/^\d+$/.test(q)) {
          const n = Number(q);
          await client.block(n);
          openAsked(n);
        } else if (/^[0-9a-f]{64}$/i.test(q)) {
          const s = await client.txStatus(q.toLowerCase());
          if (s.blockNumber === null) throw new Error(`transaction ${q} is not in a block yet`);
          setSoughtTxId(q.toLowerCase());
          openAsked(s.blockNumber);
        } else if (q !== '') {
          // A record id: its current version's transaction, through the contract's own access rules.
          const bytes = await client.evaluate('health', 'getRecord', [JSON.stringify({ recordId: q, purpose: 'TREAT' })]);
          const rec = JSON.parse(new TextDecoder().decode(bytes)) as { txId?: string } | null;
          if (!rec?.txId) throw new Error(`record ${q} was not found, or its metadata is not visible to you`);
          const s = await client.txStatus(rec.txId);
          if (s.blockNumber === null) throw new Error(`record ${q}'s transaction is not in a block yet`);
          setSoughtTxId(rec.txId);
          openAsked(s.blockNumber);
        }
      } catch (err) {
        setSearchError(err);
      }
    },
    [client, openAsked],
  );
  // A link from another page (a provenance timeline's transaction: /blocks?find=<txId>) opens the
  // block that holds what it names, as if typed in the search field.
  const searchParams = useSearch();
  useEffect(() => {
    const wanted = new URLSearchParams(searchParams).get('find');
    if (wanted === null || wanted.length > FIND_CHARS_MAX) return;
    setQuery(wanted);
    void find(wanted);
  }, [searchParams, find]);

  return (
    <Stack>
      <Title order={2}>Blocks</Title>
      {status.error ? <ErrorAlert error={status.error} /> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void find(query);
        }}
        role="search"
      >
        <Group align="flex-end">
          <TextInput
            label="Find a block"
            description="a block number, a transaction id (64 hex digits) or a record id"
            value={query}
            onChange={(e) => setQuery(e.currentTarget.value)}
            w={420}
            maxLength={FIND_CHARS_MAX}
          />
          <Button type="submit">Find</Button>
        </Group>
      </form>
      {searchError ? <ErrorAlert error={searchError} title="Not found" /> : null}
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Stack>
          <Card withBorder>
            <Title order={3} size="h5">
              Latest blocks (height {height})
            </Title>
            {list.error ? <ErrorAlert error={list.error} /> : null}
            <DataTable
              label="Latest blocks table"
              highlightOnHover
              data-testid="block-list"
              headings={['Block', 'Time', 'Transactions', 'Hash']}
              wideOnly={[3]}
            >
              {(list.data ?? []).map((b) => (
                <Table.Tr key={b.number}>
                  <Table.Td>
                    <Button
                      size="compact-xs"
                      variant={open === b.number ? 'filled' : 'subtle'}
                      onClick={() => openAsked(b.number)}
                      aria-label={`Open block ${b.number}`}
                    >
                      {b.number}
                    </Button>
                  </Table.Td>
                  <Table.Td className="ml-nowrap-wide">
                    {localTime(b.timestampMs)
                      .split(', ')
                      .map((part, i, parts) => (
                        <Fragment key={i}>
                          <span>{i < parts.length - 1 ? `${part},` : part}</span>{' '}
                        </Fragment>
                      ))}
                  </Table.Td>
                  <Table.Td>
                    {b.txs.length} ({b.txs.filter((t) => t.code === 'VALID').length} valid)
                  </Table.Td>
                  <Table.Td className="ml-hash ml-wide-only" title={b.hashHex}>
                    {shortHex(b.hashHex, 8)}
                  </Table.Td>
                </Table.Tr>
              ))}
            </DataTable>
            <Pagination
              total={pages}
              value={page}
              onChange={setPage}
              size="sm"
              mt="xs"
              getControlProps={(control) => ({ 'aria-label': `${control} page` })}
              getItemProps={(p) => ({ 'aria-label': `Blocks page ${p}` })}
            />
          </Card>
          <VerifyChain session={session} height={height} />
        </Stack>
        {open !== null ? (
          <BlockDetail session={session} number={open} soughtTxId={soughtTxId} reveal={reveal} settled={listSettled} onOpen={setOpen} />
        ) : (
          <Code>Choose a block.</Code>
        )}
      </SimpleGrid>
    </Stack>
  );
}
