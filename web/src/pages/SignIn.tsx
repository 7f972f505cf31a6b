// Sign-in with the user's own credentials: the certificate and private key PEM files that
// `medledger init` (or the hospital's CA) issued, chosen with the file picker or dropped on the
// page. The key is imported into WebCrypto as non-extractable and never leaves the browser; the
// node only ever sees signatures. In a demo consortium the node also lists its demo users. A new
// user enrols here with their one-time secret: the key pair is made in this browser (EnrolInBrowser).
import { Anchor, Button, Card, Center, Group, List, Loader, Stack, Text, Title } from '@mantine/core';
import { useCallback, useEffect, useId, useState, type DragEvent, type ReactNode } from 'react';
import { ErrorAlert } from '../app/errors.tsx';
import { useDocumentTitle } from '../app/hooks.ts';
import { documentTitle } from '../app/title.ts';
import { EnrolInBrowser } from '../components/EnrolInBrowser.tsx';
import { useSessionApi, type ConsoleConfig } from '../app/session.tsx';

const PEM_FILE_BYTES_MAX = 64 * 1024;

interface Picked {
  certPem: string | null;
  keyPem: string | null;
  names: string[];
}

/** Sort dropped or picked files into certificate and key by their PEM labels, not their names. */
async function readCredentials(files: readonly File[]): Promise<Picked> {
  const out: Picked = { certPem: null, keyPem: null, names: [] };
  for (const f of files.slice(0, 4)) {
    if (f.size > PEM_FILE_BYTES_MAX) throw new Error(`${f.name} is ${f.size} bytes: not a certificate or key file (at most ${PEM_FILE_BYTES_MAX})`);
    const text = await f.text();
    out.names.push(f.name);
    if (text.includes('-----BEGIN CERTIFICATE-----')) out.certPem = text;
    else if (text.includes('-----BEGIN PRIVATE KEY-----')) out.keyPem = text;
    else if (text.includes('-----BEGIN EC PRIVATE KEY-----'))
      throw new Error(`${f.name} is a SEC1 "EC PRIVATE KEY": convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt), as medledger init writes keys`);
    else throw new Error(`${f.name} is neither a PEM certificate nor a PEM private key`);
  }
  return out;
}

interface DemoUser {
  readonly user: string;
  readonly role: string;
}

function DemoUsers({ node }: { node: ConsoleConfig }): ReactNode {
  const { signIn } = useSessionApi();
  const [users, setUsers] = useState<readonly DemoUser[] | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    fetch('/console/demo-users', { credentials: 'omit' })
      .then(async (r) => (r.ok ? ((await r.json()) as { users: DemoUser[] }).users : []))
      .then(setUsers, () => setUsers([]));
  }, []);
  // role="status": an aria-label is not allowed on the loader's bare element (axe aria-prohibited-attr).
  if (users === null) return <Loader size="sm" role="status" aria-label="Loading demo users" />;
  if (users.length === 0) return null;
  const pick = async (u: DemoUser): Promise<void> => {
    setBusy(u.user);
    setError(null);
    try {
      const r = await fetch(`/console/demo-users/${encodeURIComponent(u.user)}`, { credentials: 'omit' });
      if (!r.ok) throw new Error(`the node did not hand out ${u.user}'s demo credentials (HTTP ${r.status})`);
      const c = (await r.json()) as { certPem: string; keyPem: string };
      await signIn(c.certPem, c.keyPem);
    } catch (e) {
      setError(e);
      setBusy(null);
    }
  };
  return (
    <Card withBorder>
      <Stack gap="xs">
        <Title order={2} size="h4">
          Demo users of {node.org}
        </Title>
        <Text size="sm" c="dimmed">
          This node runs a demo consortium, so it offers its users' demo credentials for a quick start. A node started without demo mode has no such list.
        </Text>
        <Group gap="xs">
          {users.map((u) => (
            <Button
              key={u.user}
              variant="light"
              size="xs"
              loading={busy === u.user}
              disabled={busy !== null && busy !== u.user}
              onClick={() => void pick(u)}
              aria-label={`Sign in as ${u.user}, ${u.role}`}
            >
              {u.user} · {u.role}
            </Button>
          ))}
        </Group>
        {error ? <ErrorAlert error={error} title="Demo sign-in failed" /> : null}
      </Stack>
    </Card>
  );
}

export function SignInPage({ node }: { node: ConsoleConfig }): ReactNode {
  useDocumentTitle(documentTitle('Sign in', node.org));
  const { signIn } = useSessionApi();
  const inputId = useId();
  const [picked, setPicked] = useState<Picked>({ certPem: null, keyPem: null, names: [] });
  const [dragging, setDragging] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const take = useCallback(async (files: readonly File[]) => {
    setError(null);
    try {
      const p = await readCredentials(files);
      setPicked((prev) => ({ certPem: p.certPem ?? prev.certPem, keyPem: p.keyPem ?? prev.keyPem, names: [...prev.names, ...p.names].slice(-4) }));
    } catch (e) {
      setError(e);
    }
  }, []);

  const onDrop = (e: DragEvent<HTMLDivElement>): void => {
    e.preventDefault();
    setDragging(false);
    void take(Array.from(e.dataTransfer.files));
  };

  const submit = async (): Promise<void> => {
    if (!picked.certPem || !picked.keyPem) return;
    setBusy(true);
    setError(null);
    try {
      await signIn(picked.certPem, picked.keyPem);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" p="md">
      <Stack maw={640} w="100%">
        <Title order={1}>MedLedger console</Title>
        <Text>
          Sign in at {node.org}'s node ({node.nodeId}) with your certificate and private key.
        </Text>
        <Card withBorder>
          <Stack>
            <div
              className="ml-dropzone"
              data-active={dragging}
              onDragOver={(e) => {
                e.preventDefault();
                setDragging(true);
              }}
              onDragLeave={() => setDragging(false)}
              onDrop={onDrop}
            >
              <Stack gap="xs" align="center">
                <Text>
                  Drop <strong>cert.pem</strong> and <strong>key.pem</strong> here, or
                </Text>
                <label htmlFor={inputId}>
                  <Text span c="blue.9" td="underline" style={{ cursor: 'pointer' }}>
                    choose the files
                  </Text>
                </label>
                <input
                  id={inputId}
                  type="file"
                  multiple
                  accept=".pem,application/x-pem-file,text/plain"
                  data-testid="credential-files"
                  aria-label="Certificate and private key files (PEM)"
                  // The browser's own control is wider than a phone's drop zone.
                  style={{ maxWidth: '100%' }}
                  onChange={(e) => void take(Array.from(e.currentTarget.files ?? []))}
                />
                <Text size="xs" c="dimmed">
                  As issued under crypto/&lt;hospital&gt;/&lt;user&gt;/ by medledger init. The key is imported into your browser as non-extractable: it signs,
                  it is never sent.
                </Text>
              </Stack>
            </div>
            <List size="sm">
              <List.Item>Certificate: {picked.certPem ? 'chosen' : 'not yet'}</List.Item>
              <List.Item>Private key: {picked.keyPem ? 'chosen' : 'not yet'}</List.Item>
            </List>
            <Group>
              <Button onClick={() => void submit()} disabled={!picked.certPem || !picked.keyPem} loading={busy}>
                Sign in
              </Button>
              {picked.names.length > 0 ? (
                <Anchor component="button" type="button" size="sm" onClick={() => setPicked({ certPem: null, keyPem: null, names: [] })}>
                  Clear
                </Anchor>
              ) : null}
            </Group>
            {error ? <ErrorAlert error={error} title="Sign-in failed" /> : null}
          </Stack>
        </Card>
        {node.demo ? <DemoUsers node={node} /> : null}
        <EnrolInBrowser node={node} />
        <Text size="sm" c="dimmed">
          This console is served by the hospital's own MedLedger node: every file of this page comes from it, and it talks only to it.
        </Text>
      </Stack>
    </Center>
  );
}
