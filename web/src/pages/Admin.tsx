// Administration (hospital IT, admins): this node's information and the consortium configuration
// in force (no secrets: certificates' holders, endpoints, policies), a connection test to every
// other node over the node-to-node mTLS links (PHDMF's "connection test"), and membership: the
// same config-update flow as `medledger config propose | sign | submit` — propose adding or
// removing a hospital (signed first by you), hand the update file to the other hospitals' admins,
// each signs it in their own console, and the proposer submits it once a majority has signed.
// Every signature is made in this browser with the admin's non-extractable key.
import {
  Alert,
  Badge,
  Button,
  Card,
  Checkbox,
  Divider,
  FileInput,
  Group,
  List,
  NumberInput,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { Choice } from '../components/Choice.tsx';
import { randomBytes } from '../../../src/codec/index.ts';
import type { ConsortiumConfig } from '../../../src/ledger/config.ts';
import {
  configSignaturesNeeded,
  decodeConfigDraft,
  encodeConfigDraft,
  finishConfigDraft,
  RUNTIME_MEMBERSHIP_ENGINES,
  signConfigDraft,
  startConfigDraft,
  type ConfigDraft,
  type ConfigDraftSummary,
} from '../../../src/ledger/config-update.ts';
import { configWithHospital, configWithoutHospital } from '../../../src/ledger/membership.ts';
import { holderOf } from '../app/cert.ts';
import { ErrorAlert } from '../app/errors.tsx';
import { localTime, shortHex, useLoad } from '../app/hooks.ts';
import { withWebCryptoSigner } from '../app/presign.ts';
import { useSession, type Session } from '../app/session.tsx';
import { downloadBytes } from '../components/RecordRead.tsx';
import { DataTable } from '../components/DataTable.tsx';

const PEM_BYTES_MAX = 64 * 1024;
const DRAFT_FILE_BYTES_MAX = 8 * 1024 * 1024;
const ORG_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

function signedOrgs(draft: ConfigDraft, config: ConsortiumConfig): string[] {
  const members = new Set(config.orgs.map((o) => o.org));
  const orgs = new Set<string>();
  for (const e of draft.endorsements) {
    const h = holderOf(e.endorser);
    if (h && h.role === 'admin' && members.has(h.org)) orgs.add(h.org);
  }
  return [...orgs].sort();
}

interface OpenDraft {
  readonly name: string;
  readonly draft: ConfigDraft;
  readonly summary: ConfigDraftSummary;
}

function describeChange(summary: ConfigDraftSummary, before: ConsortiumConfig | null): string {
  const after = summary.record.config.orgs.map((o) => o.org);
  if (!before) return `hospitals after: ${after.join(', ')}`;
  const was = before.orgs.map((o) => o.org);
  const added = after.filter((o) => !was.includes(o));
  const removed = was.filter((o) => !after.includes(o));
  const parts = [...added.map((o) => `add ${o}`), ...removed.map((o) => `remove ${o}`)];
  return parts.length ? parts.join(', ') : 'no change of members';
}

async function readFileBytes(file: File, max: number): Promise<Uint8Array> {
  if (file.size > max) throw new Error(`${file.name} is ${file.size} bytes (at most ${max})`);
  return new Uint8Array(await file.arrayBuffer());
}

function NodeInfo({ session }: { session: Session }): ReactNode {
  const status = useLoad(() => session.client.status(), [session]);
  const s = status.data;
  return (
    <Card withBorder>
      <Title order={3} size="h4" mb="xs">
        This node
      </Title>
      {status.error ? <ErrorAlert error={status.error} /> : null}
      {s ? (
        // Four columns only where the page is wide enough for a node id and a hash side by side
        // (beside the menu, a tablet's 768 px leaves ~500); values wrap rather than overlap.
        <SimpleGrid cols={{ base: 2, md: 4 }} data-testid="node-info" className="ml-wrap">
          <div>
            <Text size="xs" c="dimmed">
              Node
            </Text>
            <Text>{s.nodeId}</Text>
          </div>
          <div>
            <Text size="xs" c="dimmed">
              Hospital
            </Text>
            <Text>{s.org}</Text>
          </div>
          <div>
            <Text size="xs" c="dimmed">
              Roles
            </Text>
            <Text>{s.roles.join(' + ')}</Text>
          </div>
          <div>
            <Text size="xs" c="dimmed">
              Engine
            </Text>
            <Text>{s.consensus?.engine ?? 'peer only'}</Text>
          </div>
          <div>
            <Text size="xs" c="dimmed">
              Height
            </Text>
            <Text>{s.height}</Text>
          </div>
          <div>
            <Text size="xs" c="dimmed">
              Last block
            </Text>
            <Text ff="monospace" title={s.lastBlockHashHex}>
              {shortHex(s.lastBlockHashHex, 12)}
            </Text>
          </div>
          <div>
            <Text size="xs" c="dimmed">
              Config sequence
            </Text>
            <Text>{s.configSequence}</Text>
          </div>
          <div>
            <Text size="xs" c="dimmed">
              Running since
            </Text>
            <Text>{localTime(s.startedAtMs)}</Text>
          </div>
        </SimpleGrid>
      ) : null}
      {s?.genesisHashHex ? (
        // The consortium's identity: a hospital that applies pins it when it joins
        // (`medledger org join --genesis-hash`), given with the root certificate (decision 1387).
        <div data-testid="genesis-hash">
          <Text size="xs" c="dimmed" mt="sm">
            Consortium (genesis block hash) — give it with the root certificate to a hospital that joins
          </Text>
          <Text ff="monospace" size="sm" style={{ wordBreak: 'break-all' }}>
            {s.genesisHashHex}
          </Text>
        </div>
      ) : null}
    </Card>
  );
}

function ConfigView({ session }: { session: Session }): ReactNode {
  const config = useLoad(() => session.client.config(), [session]);
  const c = config.data;
  return (
    <Card withBorder>
      <Title order={3} size="h4" mb="xs">
        Consortium configuration in force
      </Title>
      {config.error ? <ErrorAlert error={config.error} /> : null}
      {c ? (
        <Stack gap="xs" data-testid="config">
          <Text size="sm">
            Sequence {c.sequence}
            {c.version ? ` (committed in block ${c.version.block})` : ' (genesis)'} · engine {c.engine} · hospitals {c.orgs.join(', ')} · orderers{' '}
            {c.orderers.join(', ')}
          </Text>
          <DataTable label="Nodes of the consortium" striped headings={['Node', 'Hospital', 'Roles', 'Node-to-node', 'API']}>
            {c.nodes.map((n) => (
              <Table.Tr key={n.id}>
                <Table.Td>{n.id}</Table.Td>
                <Table.Td>{n.org}</Table.Td>
                <Table.Td>{n.roles.join(' + ')}</Table.Td>
                <Table.Td>{n.p2pUrl}</Table.Td>
                <Table.Td>{n.apiUrl}</Table.Td>
              </Table.Tr>
            ))}
          </DataTable>
          <List size="sm">
            {c.contracts.map((x) => (
              <List.Item key={x.name}>
                contract {x.name} v{x.version}: endorsed by {x.endorsementPolicy}
              </List.Item>
            ))}
          </List>
          <Text size="sm">The next config update needs: {c.updatePolicy}</Text>
          <Text size="sm" data-testid="capabilities">
            Capabilities: {c.capabilities?.join(', ') || 'none'}
          </Text>
        </Stack>
      ) : null}
    </Card>
  );
}

function ConnectionTest({ session }: { session: Session }): ReactNode {
  const [result, setResult] = useState<Awaited<ReturnType<Session['client']['network']>> | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      setResult(await session.client.network());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4">
          Connection test
        </Title>
        <Button size="xs" onClick={() => void run()} loading={busy}>
          Test connections
        </Button>
      </Group>
      <Text size="sm" c="dimmed">
        This node asks every node of the consortium for its status over the mutually authenticated node-to-node link.
      </Text>
      {error ? <ErrorAlert error={error} /> : null}
      {result ? (
        <DataTable label="Connection test results" striped data-testid="connection-test" headings={['Node', 'Hospital', 'Result', 'Round trip', 'Height']}>
          {result.nodes.map((n) => (
            <Table.Tr key={n.nodeId}>
              <Table.Td>{n.nodeId}</Table.Td>
              <Table.Td>{n.org}</Table.Td>
              <Table.Td>
                {n.reachable ? (
                  <Badge color="green" variant="light">
                    reachable
                  </Badge>
                ) : (
                  <>
                    <Badge color="red" variant="light">
                      unreachable
                    </Badge>
                    <Text size="xs">{n.error}</Text>
                  </>
                )}
              </Table.Td>
              <Table.Td>{n.latencyMs === null ? '—' : `${Math.round(n.latencyMs)} ms`}</Table.Td>
              <Table.Td>{n.status?.height ?? '—'}</Table.Td>
            </Table.Tr>
          ))}
        </DataTable>
      ) : null}
    </Card>
  );
}

function Propose({ session, onDraft }: { session: Session; onDraft(d: OpenDraft): void }): ReactNode {
  const [mode, setMode] = useState<'remove' | 'add'>('add');
  const config = useLoad(() => session.client.config(), [session]);
  const [removeOrg, setRemoveOrg] = useState<string | null>(null);
  const [org, setOrg] = useState('');
  const [caFile, setCaFile] = useState<File | null>(null);
  const [nodeFile, setNodeFile] = useState<File | null>(null);
  const [p2pUrl, setP2pUrl] = useState('');
  const [apiUrl, setApiUrl] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const live = await session.client.config();
      const current = live.state.record.config;
      let next: ConsortiumConfig;
      if (mode === 'remove') {
        if (!removeOrg) throw new Error('Choose the hospital to remove.');
        next = configWithoutHospital(current, removeOrg);
      } else {
        if (!ORG_NAME.test(org)) throw new Error('A hospital name starts with a letter and uses letters, digits, dash and underscore.');
        if (!caFile || !nodeFile) throw new Error("Choose the new hospital's CA certificate and its node certificate (PEM).");
        if (!/^wss:\/\//.test(p2pUrl) || !/^https:\/\//.test(apiUrl))
          throw new Error('The node-to-node address is wss://host:port and the API address https://host:port.');
        const caCertPem = new TextDecoder().decode(await readFileBytes(caFile, PEM_BYTES_MAX));
        const nodeCertPem = new TextDecoder().decode(await readFileBytes(nodeFile, PEM_BYTES_MAX));
        const roles: ('peer' | 'orderer')[] = RUNTIME_MEMBERSHIP_ENGINES.has(live.engine) ? ['peer', 'orderer'] : ['peer'];
        next = configWithHospital(current, { org, caCertPem, nodeCertPem, endpoint: { id: `node.${org}`, org, roles, p2pUrl, apiUrl } });
      }
      const consortium = await session.client.consortium();
      const started = startConfigDraft({
        state: live.state,
        next,
        creatorCertPem: session.certPem,
        nonce: randomBytes(24),
        timestampMs: Date.now(),
        ...(consortium === undefined ? {} : { consortium }),
      });
      const signed = await withWebCryptoSigner((signer) => signConfigDraft(started.draft, { certPem: session.certPem, signer }), session.sign);
      const bytes = encodeConfigDraft(signed);
      const name = `config-update-${started.record.sequence}.medledger`;
      downloadBytes(bytes, 'application/octet-stream', name);
      onDraft({ name, ...decodeConfigDraft(bytes) });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const others = (config.data?.orgs ?? []).filter((o) => o !== session.me.org);
  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Propose a config update">
      <Stack gap="sm">
        <Choice
          value={mode}
          onChange={(v) => setMode(v as 'add' | 'remove')}
          data={[
            { value: 'add', label: 'Add a hospital' },
            { value: 'remove', label: 'Remove a hospital' },
          ]}
          aria-label="Change"
        />
        {mode === 'remove' ? (
          <Select label="Hospital to remove" data={others} value={removeOrg} onChange={setRemoveOrg} />
        ) : (
          <>
            <TextInput label="New hospital's name" value={org} onChange={(e) => setOrg(e.currentTarget.value)} placeholder="Hospital6" />
            <SimpleGrid cols={2} className="ml-fields">
              <FileInput label="Its CA certificate (PEM)" description="Issued by the consortium root" accept=".pem" value={caFile} onChange={setCaFile} />
              <FileInput label="Its node certificate (PEM)" description="Issued by its CA" accept=".pem" value={nodeFile} onChange={setNodeFile} />
              <TextInput label="Node-to-node address" placeholder="wss://host:7406" value={p2pUrl} onChange={(e) => setP2pUrl(e.currentTarget.value)} />
              <TextInput label="API address" placeholder="https://host:7407" value={apiUrl} onChange={(e) => setApiUrl(e.currentTarget.value)} />
            </SimpleGrid>
          </>
        )}
        {error ? <ErrorAlert error={error} /> : null}
        <Button type="submit" loading={busy} w="fit-content">
          Propose and sign
        </Button>
      </Stack>
    </form>
  );
}

function DraftPanel({ session, open, onChange }: { session: Session; open: OpenDraft; onChange(d: OpenDraft): void }): ReactNode {
  const config = useLoad(() => session.client.config(), [session, open]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<'sign' | 'submit' | null>(null);
  const [committed, setCommitted] = useState<string | null>(null);
  const current = config.data?.state.record.config ?? null;
  const signers = current ? signedOrgs(open.draft, current) : [];
  const needed = current ? configSignaturesNeeded(current) : null;
  const mine = open.summary.creator.trim() === session.certPem.trim();
  const signedByMe = open.draft.endorsements.some((e) => e.endorser.trim() === session.certPem.trim());
  const stale = config.data ? config.data.sequence + 1 !== open.summary.record.sequence : false;
  // An update built for another consortium (decision 1389) is not signed or submitted here.
  const consortium = useLoad(() => session.client.consortium(), [session]);
  const foreign = open.summary.consortium !== undefined && typeof consortium.data === 'string' && consortium.data !== open.summary.consortium;
  const sign = async (): Promise<void> => {
    setBusy('sign');
    setError(null);
    try {
      const signed = await withWebCryptoSigner((signer) => signConfigDraft(open.draft, { certPem: session.certPem, signer }), session.sign);
      const bytes = encodeConfigDraft(signed);
      downloadBytes(bytes, 'application/octet-stream', open.name);
      onChange({ name: open.name, ...decodeConfigDraft(bytes) });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  const submit = async (): Promise<void> => {
    setBusy('submit');
    setError(null);
    try {
      const envelope = await withWebCryptoSigner((signer) => finishConfigDraft(open.draft, signer), session.sign);
      const status = await session.client.submitEnvelope(envelope, { waitMs: 30_000 });
      if (status.code !== 'VALID')
        throw new Error(`config update ${open.summary.txId} was not committed: ${status.code ?? status.status}${status.reason ? ` (${status.reason})` : ''}`);
      setCommitted(
        `Config update ${open.summary.record.sequence} committed in block ${status.blockNumber}: hospitals ${open.summary.record.config.orgs.map((o) => o.org).join(', ')}.`,
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  return (
    <Card withBorder data-testid="draft">
      <Title order={4} size="h5">
        Config update {open.summary.record.sequence} ({open.name})
      </Title>
      <List size="sm" mt="xs">
        <List.Item>Change: {describeChange(open.summary, current)}</List.Item>
        <List.Item>
          Proposed by {holderOf(open.summary.creator)?.org ?? '?'}/{holderOf(open.summary.creator)?.name ?? '?'} · transaction {shortHex(open.summary.txId, 16)}
        </List.Item>
        <List.Item data-testid="draft-signers">
          Signed by admins of: {signers.join(', ') || 'nobody yet'}
          {needed !== null ? ` (${needed} of ${current?.orgs.length} needed)` : ''}
        </List.Item>
      </List>
      {foreign ? (
        <Alert color="red" mt="xs" data-testid="draft-foreign">
          This update was built for another consortium (genesis block {shortHex(open.summary.consortium ?? '', 16)}), not this one: it cannot be signed or
          submitted here.
        </Alert>
      ) : null}
      {stale ? (
        <Alert color="orange" mt="xs">
          Config {config.data?.sequence} is in force; this update was built on {open.summary.record.sequence - 1}: propose it again.
        </Alert>
      ) : null}
      {committed ? (
        <Alert color="green" mt="xs" data-testid="config-committed">
          {committed}
        </Alert>
      ) : null}
      {error ? <ErrorAlert error={error} /> : null}
      <Group mt="sm">
        <Button variant="default" onClick={() => void sign()} loading={busy === 'sign'} disabled={signedByMe || stale || foreign || committed !== null}>
          {signedByMe ? 'Signed by you' : 'Sign (and download the file)'}
        </Button>
        {mine ? (
          <Button
            onClick={() => void submit()}
            loading={busy === 'submit'}
            disabled={stale || foreign || committed !== null || (needed !== null && signers.length < needed)}
          >
            Submit to the ledger
          </Button>
        ) : (
          <Text size="xs" c="dimmed">
            Only the proposer submits: send the signed file back to them.
          </Text>
        )}
      </Group>
    </Card>
  );
}

function Membership({ session }: { session: Session }): ReactNode {
  const [open, setOpen] = useState<OpenDraft | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = async (file: File | null): Promise<void> => {
    setError(null);
    if (!file) return;
    try {
      setOpen({ name: file.name, ...decodeConfigDraft(await readFileBytes(file, DRAFT_FILE_BYTES_MAX)) });
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Card withBorder>
      <Title order={3} size="h4" mb="xs">
        Membership
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        A config update needs the signatures of admins of a majority of the hospitals. Propose it here (you sign first; the update file downloads), send the
        file to the other admins, each opens it in their console and signs, and you submit it.
      </Text>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Propose session={session} onDraft={setOpen} />
        <Stack gap="sm">
          <FileInput
            label="Open an update file to sign or submit"
            accept=".medledger,application/octet-stream"
            onChange={(f) => void load(f)}
            clearable
            data-testid="draft-file"
          />
          {error ? <ErrorAlert error={error} /> : null}
          {open ? <DraftPanel session={session} open={open} onChange={setOpen} /> : null}
        </Stack>
      </SimpleGrid>
    </Card>
  );
}

/**
 * gpbft's node update (paper 002 §2.2.2, decision 1280), for a consortium ordered by gpbft: an
 * admin rates another hospital's node (0–100; below the consortium's rating threshold it is
 * removed). The rating is signed in this browser with the admin's key and names this consortium
 * (decisions 1281, 1387); every member checks it before voting. `medledger node rate` does the same.
 * And the paper's quit request: an admin has their own hospital's node leave (GpbftLeave below).
 */
function GpbftRating({ session }: { session: Session }): ReactNode {
  const status = useLoad(() => session.client.status(), [session]);
  const [nodeId, setNodeId] = useState<string | null>(null);
  const [rating, setRating] = useState<number | string>(50);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  // Kept here, not in GpbftLeave: once the leave is decided this node is no longer a member and the
  // leave section goes away — often before the answer is read (a fast consortium), which took the
  // confirmation with it.
  const [left, setLeft] = useState<string | null>(null);
  const consensus = status.data?.consensus as { engine: string; members?: unknown } | null | undefined;
  if (!consensus || consensus.engine !== 'gpbft') return null;
  const members = Array.isArray(consensus.members) ? consensus.members.filter((m): m is string => typeof m === 'string') : [];
  // Not one's own hospital's node: the node refuses a self-rating (SELF_RATING).
  const others = members.filter((m) => m !== `node.${session.me.org}`);
  const rate = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setDone(null);
    setBusy(true);
    try {
      if (nodeId === null) throw new Error("Choose the hospital's node to rate.");
      const value = Number(rating);
      if (!Number.isFinite(value) || value < 0 || value > 100) throw new Error('A rating is a number from 0 to 100.');
      const r = await session.client.gpbftRate(nodeId, value);
      setDone(`Rating of ${r.nodeId} submitted for ordering as ${r.clientId}#${r.seq}; it takes effect in the block that decides it.`);
      status.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card withBorder data-testid="gpbft-rating">
      <Title order={3} size="h4" mb="xs">
        Rate a hospital's node (gpbft)
      </Title>
      <Text size="sm" c="dimmed" mb="xs">
        The paper's comprehensive rating, 0–100: below the consortium's rating threshold the node is removed. Signed here with your key; every member checks it
        before voting. Members now: {members.join(', ') || '—'}.
      </Text>
      <form onSubmit={(e) => void rate(e)} aria-label="Rate a hospital's node">
        <Group align="end">
          <Select label="Node" data={others} value={nodeId} onChange={setNodeId} placeholder="another hospital's node" />
          <NumberInput label="Rating" min={0} max={100} value={rating} onChange={setRating} w={120} />
          <Button type="submit" loading={busy}>
            Rate
          </Button>
        </Group>
      </form>
      {done ? (
        <Alert color="green" mt="xs" data-testid="gpbft-rated">
          {done}
        </Alert>
      ) : null}
      {error ? <ErrorAlert error={error} /> : null}
      {members.includes(`node.${session.me.org}`) ? (
        <>
          <Divider my="md" />
          <GpbftLeave
            session={session}
            onLeft={(message) => {
              setLeft(message);
              status.reload();
            }}
          />
        </>
      ) : null}
      {left ? (
        <Alert color="green" mt="xs" data-testid="gpbft-left">
          {left}
        </Alert>
      ) : null}
    </Card>
  );
}

/**
 * The paper's quit request: this hospital's node asks to leave the consortium. The node signs the
 * request with its own key (every member checks that the leaving node signed it), so the browser
 * only asks it to, as an admin of this hospital (`medledger node leave` does the same). Leaving is
 * not undone by a click: joining again is a config update the other hospitals sign.
 */
function GpbftLeave({ session, onLeft }: { session: Session; onLeft: (confirmation: string) => void }): ReactNode {
  const [understood, setUnderstood] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const node = `node.${session.me.org}`;
  const leave = async (): Promise<void> => {
    setError(null);
    setBusy(true);
    try {
      const r = await session.client.gpbftLeave();
      setUnderstood(false);
      onLeft(`${r.nodeId}'s request to leave was submitted for ordering as ${r.clientId}#${r.seq}; the node stops ordering in the block that decides it.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap="xs" data-testid="gpbft-leave">
      <Title order={4} size="h5">
        Leave the consortium
      </Title>
      <Text size="sm" c="dimmed">
        Your hospital's node ({node}) asks the others to remove it: it stops ordering and voting once the request is decided. Coming back takes a config update
        signed by the other hospitals.
      </Text>
      <Group align="center">
        <Checkbox
          label={`I understand that ${node} stops ordering for the consortium`}
          checked={understood}
          onChange={(e) => setUnderstood(e.currentTarget.checked)}
        />
        <Button color="red" variant="light" disabled={!understood} loading={busy} onClick={() => void leave()}>
          Leave
        </Button>
      </Group>
      {error ? <ErrorAlert error={error} /> : null}
    </Stack>
  );
}

export function AdminPage(): ReactNode {
  const session = useSession();
  return (
    <Stack>
      <Title order={2}>Administration</Title>
      <NodeInfo session={session} />
      <ConnectionTest session={session} />
      <ConfigView session={session} />
      <GpbftRating session={session} />
      <Membership session={session} />
    </Stack>
  );
}
