// Where a signed-in user's key lives between page loads: IndexedDB, as a WebCrypto CryptoKey
// that was imported non-extractable — the browser can sign with it but no script can read it
// back. It is kept "for the session": stored under a random id held in sessionStorage, so it
// survives a reload but not closing the tab, and sign-out deletes it. Entries of sessions that
// ended without signing out are removed at the next sign-in.

const DB_NAME = 'medledger-console';
const STORE = 'sessions';
const SESSION_KEY = 'medledger-session-id';

export interface StoredSession {
  readonly certPem: string;
  readonly key: CryptoKey;
  readonly savedAtMs: number;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('cannot open IndexedDB'));
  });
}

async function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = act(tx.objectStore(STORE));
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
