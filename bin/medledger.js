#!/usr/bin/env node
// The `medledger` command. It runs the TypeScript sources through tsx's loader so that
// what you run is always what is in src/ (no stale build to forget about).
import { register } from 'tsx/esm/api';

register();
// `medledger … | head`: the reader has gone, so the rest of the output has nowhere to go. That is
// the shell's normal way of saying "enough", not a failure: stop quietly (as cat and grep do).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
