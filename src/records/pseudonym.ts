import { createHmac } from 'node:crypto';

/**
 * Pseudonym of a patient user: HMAC-SHA256 under a consortium secret, so the chain never holds
 * the user's name and the pseudonym cannot be recomputed without the secret.
 */
export function pseudonymOf(secret: string, user: string): string {
  return createHmac('sha256', secret).update(`medledger-patient|${user}`).digest('hex');
}
