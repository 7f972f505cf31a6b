// Tests only: run `medledger …` in this process through main() and capture what it prints.
import { main } from './main.ts';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function runCli(args: readonly string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  const stderrWrite = process.stderr.write.bind(process.stderr);
  // Commands write strings; the test runner talks to its parent over stdout in binary chunks,
  // which must pass through untouched.
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) =>
    typeof s === 'string' ? ((out += s), true) : stdoutWrite(s, ...rest)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array, ...rest: never[]) =>
    typeof s === 'string' ? ((err += s), true) : stderrWrite(s, ...rest)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'medledger', ...args]);
    return { code, out, err };
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
}
