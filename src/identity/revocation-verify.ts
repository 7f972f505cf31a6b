// The revocation-list check a config update runs (ledger/config-update.ts), as its own module so
// that the console's build can put a browser sibling in its place: node:crypto's X.509 verifier
// does not run in a browser. On Node (every node, the CLI) it is the real check.
export { verifyRevocationList } from './revocation.ts';
