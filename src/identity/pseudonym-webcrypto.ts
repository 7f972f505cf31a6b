// A patient's pseudonym computed with WebCrypto (decision 1211): the same HMAC-SHA256 as
// pseudonym.ts `patientPseudonymOf` — keyed by the hospital's pseudonymisation key as written in
// pseudonym.key (its 64 hex characters are the HMAC key's bytes, as node:crypto's createHmac uses
// a string key) — so that the console can register a patient in an admin's browser. The key is
// imported non-extractable and used for this one computation. Imports nothing from Node.

const KEY_RE = /^[0-9a-f]{64}$/;

/** The pseudonym of patient `login` of hospital `org` under the key text of pseudonym.key. */
export async function patientPseudonymWebCrypto(pseudonymKeyText: string, org: string, login: string): Promise<string> {
  const text = pseudonymKeyText.trim();
  if (!KEY_RE.test(text)) throw new Error('not a pseudonymisation key: pseudonym.key holds 64 lowercase hex digits');
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error('WebCrypto is not available here (a browser needs a secure context)');
  const enc = new TextEncoder();
  const key = await subtle.importKey('raw', enc.encode(text), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await subtle.sign('HMAC', key, enc.encode(`medledger-patient|${org}/${login}`)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
}
