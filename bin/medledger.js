#!/usr/bin/env node
// The `medledger` command. It runs the TypeScript sources through tsx's loader so that
// what you run is always what is in src/ (no stale build to forget about).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
