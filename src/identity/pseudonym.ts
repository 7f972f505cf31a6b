// Patient pseudonyms (decision 0906). A patient is known on chain only by a pseudonym: their
// hospital derives it from the patient's own identifier with a key only that hospital holds, and
// its CA issues the patient's certificate to it (CN = X.520 pseudonym attribute). The mapping
// login name → certificate → pseudonym stays in the hospital's crypto directory; the chain sees
// the pseudonym and the hospital that enrolled it, nothing else.
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCertificate } from '../crypto/x509.ts';

/** `<crypto dir>/<org>/pseudonym.key`: the hospital's pseudonymisation key (64 hex, mode 0600). */
export const PSEUDONYM_KEY_FILE = 'pseudonym.key';
const KEY_RE = /^[0-9a-f]{64}$/;

/**
 * Pseudonym of a patient: HMAC-SHA256 under the hospital's pseudonymisation key, so the chain
 * never holds the patient's identifier and nobody without the key — no other hospital, no ledger
 * holder — can recompute or confirm it from a guessed identifier.
 */
export function pseudonymOf(secret: string, user: string): string {
  return createHmac('sha256', secret).update(`medledger-patient|${user}`).digest('hex');
}

/**
 * The pseudonym of patient `login` of hospital `org`: the one derivation every enrolment path uses
 * (init's demo patients, `user enrol`, `user register`, the SDK), so a patient re-enrolled later
 * keeps the pseudonym their records are filed under.
 */
export function patientPseudonymOf(secret: string, org: string, login: string): string {
  return pseudonymOf(secret, `${org}/${login}`);
}

/** A fresh pseudonymisation key for a hospital (256 random bits, hex). */
export function newPseudonymKey(): string {
  return randomBytes(32).toString('hex');
}

/** Keep a hospital's key beside its CA (`<crypto dir>/<org>/pseudonym.key`, mode 0600); never overwrites. */
export function savePseudonymKey(cryptoDir: string, org: string, key: string): void {
  if (!KEY_RE.test(key)) throw new Error('a pseudonymisation key is 64 lowercase hex digits');
  const path = join(cryptoDir, org, PSEUDONYM_KEY_FILE);
  writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

export function loadPseudonymKey(cryptoDir: string, org: string): string {
  const path = join(cryptoDir, org, PSEUDONYM_KEY_FILE);
  const key = existsSync(path) ? readFileSync(path, 'utf8').trim() : '';
  if (!KEY_RE.test(key)) throw new Error(`${path} is missing or not a pseudonymisation key (64 hex digits)`);
  return key;
}

/** The pseudonym a patient certificate carries (X.520 pseudonym attribute), or null for any other certificate. */
export function pseudonymInCertificate(certPem: string): string | null {
  const cert = parseCertificate(certPem);
  return cert.subject.organizationalUnits.includes('patient') ? cert.subject.pseudonym : null;
}

/**
 * A patient user's pseudonym, read from their certificate in a consortium directory
 * (`<dir>/crypto/<org>/<name>/cert.pem`): how the hospital that holds the directory resolves
 * its patient's login name. Throws when there is no such user or it is not a patient.
 */
export function patientPseudonym(dir: string, org: string, name: string): string {
  const path = join(dir, 'crypto', org, name, 'cert.pem');
  let certPem: string;
  try {
    certPem = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`no certificate ${path}: ${org}/${name} is not a user of this consortium directory`);
  }
  const pseudonym = pseudonymInCertificate(certPem);
  if (pseudonym === null) throw new Error(`${org}/${name} is not a patient (${path} carries no pseudonym)`);
  return pseudonym;
}
