// Shared CLI plumbing: every command supports --json, prints clear errors, and returns an
// exit code instead of calling process.exit (so commands are testable in-process).

/**
 * The line `medledger up` prints once its endpoint table is out and the nodes run in the
 * foreground. `npm start` (demo.ts) waits for it before it prints anything of its own, so that
 * "consortium is up" and the table come before the demo's seeding and its "Try" list (issue 17).
 */
export const UP_RUNNING_LINE = 'running; press Ctrl-C to stop';

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
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

export function makeOutput(
  json: boolean,
  write: (s: string) => void = (s) => process.stdout.write(s),
  writeErr: (s: string) => void = (s) => process.stderr.write(s),
): Output {
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

/** How an error names what it parses: an option by its flag, an argument as written in the usage (`<n>`). */
function named(name: string): string {
  return name.startsWith('<') ? name : `--${name}`;
}

/** Parse a positive integer option (or `<argument>`), naming it when it is wrong. */
export function parsePositiveInt(name: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new CliError(`${named(name)} must be an integer between 1 and ${max}, got "${text}"`, 2);
  }
  return n;
}

export function parseNonNegativeInt(name: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 0 || n > max) {
    throw new CliError(`${named(name)} must be an integer between 0 and ${max}, got "${text}"`, 2);
  }
  return n;
}

export function parseIntList(name: string, text: string, max = 100_000): number[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0 || parts.length > 64) throw new CliError(`--${name} must be a comma-separated list of 1 to 64 integers, got "${text}"`, 2);
  return parts.map((p) => parsePositiveInt(name, p, max));
}

const ENDORSE_REFUSED = /^(\S+) refused to endorse (\S+): (.*)$/s;
const INVALID_ARGUMENT = /^(?:(\S+) refused to endorse (\S+): )?invalid argument — (.*)$/s;

/**
 * What an API failure says to a person. A contract's validation error reaches the CLI inside the
 * gateway's endorsement refusal ("ENDORSEMENT_REFUSED: Hospital1 refused to endorse
 * health.grantConsent: invalid argument — scope.maxSensitivity: …"), which reads as if the hospital
 * had said no (issue 17). It is the caller's argument that is wrong, so that comes first, with the
 * field — and the option that sets it when the command has one (`flags`: the command's parsed
 * options, camelCase as commander gives them). Other failures keep their code in front.
 */
export function apiErrorText(code: string, message: string, flags: object = {}): string {
  const m = INVALID_ARGUMENT.exec(message);
  if (!m) {
    // Any other contract refusal met while endorsing: the contract's own sentence first (it says
    // what to do), then where it was found; the code stays for scripts that match on it.
    const refused = ENDORSE_REFUSED.exec(message);
    if (refused)
      return `${refused[3]!.replace(new RegExp(`^${refused[2]!.split('.').pop()!}: `), '')} (${refused[2]}, refused by ${refused[1]} while endorsing; nothing was ordered; ${code})`;
    return `${code}: ${message}`;
  }
  const [, org, fn, detail = ''] = m;
  // The contract joins up to five zod issues as "<path>: <message>; <path>: <message>".
  const issues = detail.split(/; (?=(?:[\w.[\]-]+|\(argument\)): )/).map((part) => {
    const colon = part.indexOf(': ');
    const field = colon < 0 ? '(argument)' : part.slice(0, colon);
    const why = colon < 0 ? part : part.slice(colon + 2);
    if (field === '(argument)') return `the argument as a whole: ${why}`;
    const leaf =
      field
        .split('.')
        .filter((s) => !/^\d+$/.test(s))
        .pop() ?? field;
    const option = leaf in flags ? ` (--${leaf.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)})` : '';
    return `${field}${option}: ${why}`;
  });
  const where = fn ? ` in ${fn}${org ? ` (found by ${org} while endorsing; nothing was ordered)` : ''}` : '';
  return `invalid argument${where}: ${issues.join('; ')}`;
}
