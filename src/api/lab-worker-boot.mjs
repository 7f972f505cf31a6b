// Entry of the lab's worker thread when the node runs from TypeScript sources (bin/medledger.js
// registers tsx in the main thread only; a worker starts without it). A compiled node starts
// lab-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./lab-worker.ts');
