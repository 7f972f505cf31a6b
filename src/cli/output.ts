// Shared CLI plumbing: every command supports --json, prints clear errors, and returns an
// exit code instead of calling process.exit (so commands are testable in-process).

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export interface Output {
  readonly json: boolean;
  /** Human-readable line (suppressed in --json mode). */
  info(line: string): void;
  /** The command's result: printed as JSON in --json mode, else rendered by `human`. */
  result(value: unknown, human?: (value: unknown) => string): void;
  error(line: string): void;
}

export function makeOutput(json: boolean, write: (s: string) => void = (s) => process.stdout.write(s), writeErr: (s: string) => void = (s) => process.stderr.write(s)): Output {
  return {
    json,
    info(line) {
      if (!json) write(`${line}\n`);
    },
    result(value, human) {
      if (json) write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
      else if (human) write(`${human(value)}\n`);
    },
    error(line) {
      writeErr(`error: ${line}\n`);
    },
  };
}

/** Bytes print as hex, bigints as strings: JSON output must never throw. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Parse a positive integer option, naming the option when it is wrong. */
export function parsePositiveInt(name: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new CliError(`--${name} must be an integer between 1 and ${max}, got "${text}"`, 2);
  }
  return n;
}

export function parseNonNegativeInt(name: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 0 || n > max) {
    throw new CliError(`--${name} must be an integer between 0 and ${max}, got "${text}"`, 2);
  }
  return n;
}

export function parseIntList(name: string, text: string, max = 100_000): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0 || parts.length > 64) throw new CliError(`--${name} must be a comma-separated list of 1 to 64 integers, got "${text}"`, 2);
  return parts.map((p) => parsePositiveInt(name, p, max));
}
