// Where a signed-in user's key lives between page loads: IndexedDB, as a WebCrypto CryptoKey
// that was imported non-extractable — the browser can sign with it but no script can read it
// back. It is kept "for the session": stored under a random id held in sessionStorage, so it
// survives a reload but not closing the tab, and sign-out deletes it. Entries of sessions that
// ended without signing out are removed at the next sign-in.
//
// A second store keeps the identities ENROLLED in this browser (decision 1210): the key pair was
// generated here, non-extractable, so this browser profile is the only place it exists. Such an
// entry outlives sign-out (it is the user's key, not a session); "Forget" deletes it for good.

const DB_NAME = 'medledger-console';
const STORE = 'sessions';
const ENROLLED = 'enrolled';
const SESSION_KEY = 'medledger-session-id';

export interface StoredSession {
  readonly certPem: string;
  readonly key: CryptoKey;
  readonly savedAtMs: number;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 2);
    req.onupgradeneeded = () => {
      for (const name of [STORE, ENROLLED]) if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('cannot open IndexedDB'));
  });
}

async function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>, storeName = STORE): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const req = act(tx.objectStore(storeName));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Keep this tab's credentials (replacing any earlier ones of this browser). */
export async function saveSession(certPem: string, key: CryptoKey): Promise<void> {
  if (key.extractable) throw new Error('refusing to store an extractable key');
  await run('readwrite', (s) => s.clear());
  const id = randomId();
  const entry: StoredSession = { certPem, key, savedAtMs: Date.now() };
  await run('readwrite', (s) => s.put(entry, id));
  sessionStorage.setItem(SESSION_KEY, id);
}

/** This tab's credentials, or null (never signed in here, or the tab was closed since). */
export async function loadSession(): Promise<StoredSession | null> {
  const id = sessionStorage.getItem(SESSION_KEY);
  if (!id) return null;
  try {
    const entry = await run<StoredSession | undefined>('readonly', (s) => s.get(id) as IDBRequest<StoredSession | undefined>);
    return entry ?? null;
  } catch {
    return null;
  }
}

export async function clearSession(): Promise<void> {
  sessionStorage.removeItem(SESSION_KEY);
  await run('readwrite', (s) => s.clear()).catch(() => undefined);
}

/**
 * An identity being enrolled, or enrolled, in this browser: the request's enrolment id and
 * secret until the certificate is collected (the secret is spent then and dropped), and the
 * non-extractable private key throughout.
 */
export interface EnrolledIdentity {
  readonly enrolmentId: string;
  readonly name: string;
  /** The hospital whose node took the request (the console's node). */
  readonly org: string;
  readonly key: CryptoKey;
  readonly secret: string | null;
  readonly certPem: string | null;
  readonly requestedAtMs: number;
}

export async function saveEnrolled(entry: EnrolledIdentity): Promise<void> {
  if (entry.key.extractable) throw new Error('refusing to store an extractable key');
  await run('readwrite', (s) => s.put(entry, entry.enrolmentId), ENROLLED);
}

export async function listEnrolled(): Promise<EnrolledIdentity[]> {
  try {
    return await run<EnrolledIdentity[]>('readonly', (s) => s.getAll() as IDBRequest<EnrolledIdentity[]>, ENROLLED);
  } catch {
    return [];
  }
}

export async function forgetEnrolled(enrolmentId: string): Promise<void> {
  await run('readwrite', (s) => s.delete(enrolmentId), ENROLLED);
}
