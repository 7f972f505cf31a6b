// Reaching a node as one user of a consortium directory (what `medledger init` wrote): keys from
// <dir>/crypto, the API URL from <dir>/<org>/node.yaml. Node.js only; the console's build swaps in
// connect.browser.ts (a browser signs in with the user's files instead).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseCertificate } from '../crypto/index.ts';
import { MedLedgerApiError } from './client.ts';
import { HealthClient } from './health.ts';

/** Connect as `<org>/<user>` of the consortium in `dir` (keys from <dir>/crypto, API URL from <dir>/<org>/node.yaml). */
export function connectAs(dir: string, org: string, user: string, apiUrl?: string): HealthClient {
  const read = (p: string, what: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      throw new MedLedgerApiError(0, 'NO_CREDENTIALS', `cannot read ${what} ${p} (is --dir a consortium directory, and --org/--user a member?)`);
    }
  };
  let url = apiUrl;
  if (!url) {
    const yaml = parseYaml(read(join(dir, org, 'node.yaml'), 'node configuration')) as { listen?: { api?: { host?: string; port?: number } } };
    const host = yaml.listen?.api?.host ?? '127.0.0.1';
    url = `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${yaml.listen?.api?.port ?? 0}`;
  }
  const certPem = read(join(dir, 'crypto', org, user, 'cert.pem'), 'certificate');
  return new HealthClient({
    url,
    certPem,
    keyPem: read(join(dir, 'crypto', org, user, 'key.pem'), 'key'),
    caPem: read(join(dir, 'crypto', 'root-ca.pem'), 'root CA'),
    // The on-chain identity: the certificate's CN, which for a patient is their pseudonym, not
    // the login name `user` that names the directory (decision 0906).
    user: `${org}/${parseCertificate(certPem).subject.commonName ?? user}`,
    failover: 'discover',
  });
}
