// Browser sibling of revocation-verify.ts (the console's build swaps it in). The console builds
// config updates that add or remove a hospital, which carry no new revocation list; a list is
// signed by a hospital's CA with `medledger user revoke`, and every node verifies it when the
// update is validated. Asked to verify one here, say so instead of pretending to.
import type { RevocationList } from './revocation.ts';

export function verifyRevocationList(list: RevocationList, _caCertPem: string): void {
  throw new Error(
    `the revocation list of ${list.org} cannot be verified in a browser: issue revocations with \`medledger user revoke\` (the nodes verify them)`,
  );
}
