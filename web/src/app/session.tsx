// The signed-in user: their certificate, a WebCrypto signer over their non-extractable key, and
// the SDK client for this node (the same MedLedgerClient the CLI uses, with fetch underneath).
// Signing in asks the node who the certificate is (GET /v1/whoami): that one signed request
// proves the key matches the certificate and that the node's MSP accepts it now.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { importP256SigningKey, webCryptoSigner } from '../../../src/crypto/webcrypto.ts';
import { MedLedgerClient } from '../../../src/sdk/client.ts';
import { HealthClient } from '../../../src/sdk/health.ts';
import type { WhoAmIResponseT } from '../../../src/protocol/schemas.ts';
import { clearSession, loadSession, saveSession } from './keystore.ts';

export interface ConsoleConfig {
  readonly nodeId: string;
  readonly org: string;
  readonly demo: boolean;
}

export interface Session {
  readonly me: WhoAmIResponseT;
  readonly certPem: string;
  /** The gateway client (blocks, status, transactions). */
  readonly client: MedLedgerClient;
  /** Health data as this user: records, consents, applications, audit, statistics. */
  readonly health: HealthClient;
  readonly node: ConsoleConfig;
  /** This user's signature (WebCrypto, non-extractable key): for what the SDK does not sign itself, such as config updates. */
  readonly sign: (message: Uint8Array) => Promise<Uint8Array>;
}

type State =
  | { readonly kind: 'loading' }
  | { readonly kind: 'failed'; readonly error: string }
  | { readonly kind: 'signed-out'; readonly node: ConsoleConfig }
  | { readonly kind: 'signed-in'; readonly session: Session };

interface SessionApi {
  readonly state: State;
  signIn(certPem: string, keyPem: string): Promise<void>;
  /** Sign in with a key already held as a non-extractable CryptoKey (one enrolled in this browser). */
  signInWithKey(certPem: string, key: CryptoKey): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionApi | null>(null);

/** The node did not answer, or answered 5xx: worth asking again (a restart, a dropped connection). */
class NodeUnreachable extends Error {}

/** Attempts at the console's first request, and the wait before the second (doubling: ~7.5 s in all). */
const CONFIG_ATTEMPTS_MAX = 5;
const CONFIG_RETRY_FIRST_MS = 500;

async function fetchConsoleConfig(): Promise<ConsoleConfig> {
  let res: Response;
  try {
    res = await fetch('/console/config.json', { credentials: 'omit' });
  } catch (err) {
    throw new NodeUnreachable(`this node did not answer (${(err as Error).message})`);
  }
  if (res.status >= 500) throw new NodeUnreachable(`this node did not describe itself (HTTP ${res.status})`);
  if (!res.ok) throw new Error(`this node did not describe itself (HTTP ${res.status})`);
  const body = (await res.json()) as Partial<ConsoleConfig>;
  if (typeof body.nodeId !== 'string' || typeof body.org !== 'string') throw new Error('this node sent a malformed console configuration');
  return { nodeId: body.nodeId, org: body.org, demo: body.demo === true };
}

/** fetchConsoleConfig, asked again while the node is unreachable; a malformed answer is final. */
async function fetchConsoleConfigPatiently(cancelled: () => boolean): Promise<ConsoleConfig> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchConsoleConfig();
    } catch (err) {
      if (!(err instanceof NodeUnreachable) || attempt >= CONFIG_ATTEMPTS_MAX || cancelled()) throw err;
      await new Promise((resolve) => setTimeout(resolve, CONFIG_RETRY_FIRST_MS * 2 ** (attempt - 1)));
    }
  }
}

async function connect(node: ConsoleConfig, certPem: string, key: CryptoKey): Promise<Session> {
  const signer = webCryptoSigner(key);
  const options = { url: window.location.origin, certPem, signer: { certPem, ...signer }, nodeId: node.nodeId };
  const me = await new MedLedgerClient(options).whoami();
  const health = new HealthClient({ ...options, user: `${me.org}/${me.id}` });
  return { me, certPem, client: health.client, health, node, sign: (m) => signer.sign(m) };
}

export function SessionProvider({ children }: { children: ReactNode }): ReactNode {
  const [state, setState] = useState<State>({ kind: 'loading' });

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      try {
        const node = await fetchConsoleConfigPatiently(() => cancelled);
        const stored = await loadSession();
        if (stored) {
          try {
            const session = await connect(node, stored.certPem, stored.key);
            if (!cancelled) setState({ kind: 'signed-in', session });
            return;
          } catch {
            // The certificate expired or was revoked meanwhile, or the node changed: sign in again.
            await clearSession();
          }
        }
        if (!cancelled) setState({ kind: 'signed-out', node });
      } catch (err) {
        if (!cancelled) setState({ kind: 'failed', error: (err as Error).message });
      }
    })();
    return () => {
      cancelled = true;
    };
  }, []);

  const signIn = useCallback(
    async (certPem: string, keyPem: string) => {
      const node = state.kind === 'signed-out' ? state.node : state.kind === 'signed-in' ? state.session.node : await fetchConsoleConfig();
      // Non-extractable from here on: the PEM text is dropped once this function returns.
      const key = await importP256SigningKey(keyPem, { extractable: false });
      const session = await connect(node, certPem, key);
      await saveSession(certPem, key);
      setState({ kind: 'signed-in', session });
    },
    [state],
  );

  const signInWithKey = useCallback(
    async (certPem: string, key: CryptoKey) => {
      const node = state.kind === 'signed-out' ? state.node : state.kind === 'signed-in' ? state.session.node : await fetchConsoleConfig();
      const session = await connect(node, certPem, key);
      await saveSession(certPem, key);
      setState({ kind: 'signed-in', session });
    },
    [state],
  );

  const signOut = useCallback(async () => {
    const node = state.kind === 'signed-in' ? state.session.node : state.kind === 'signed-out' ? state.node : null;
    if (state.kind === 'signed-in') state.session.client.close();
    await clearSession();
    setState(node ? { kind: 'signed-out', node } : { kind: 'loading' });
  }, [state]);

  const api = useMemo(() => ({ state, signIn, signInWithKey, signOut }), [state, signIn, signInWithKey, signOut]);
  return <SessionContext.Provider value={api}>{children}</SessionContext.Provider>;
}

export function useSessionApi(): SessionApi {
  const api = useContext(SessionContext);
  if (!api) throw new Error('useSessionApi outside SessionProvider');
  return api;
}

/** The signed-in session (pages are only rendered when there is one). */
export function useSession(): Session {
  const { state } = useSessionApi();
  if (state.kind !== 'signed-in') throw new Error('useSession without a signed-in user');
  return state.session;
}
