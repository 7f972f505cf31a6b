// Engine options (EngineContext.options) are external input — they come from the consortium
// configuration — so every engine validates them the same way (issue 14 §2): a strict zod object
// (unknown keys are errors), integer bounds on every tick count and size, cross-field rules as a
// check function, and one error class whose message names the engine, the option, the rule and
// the value given.
import { z } from 'zod';

export class EngineOptionsError extends Error {
  override readonly name = 'EngineOptionsError';
}

/** An integer option in [min, max] (every count, size and tick option has both bounds). */
export function intIn(min: number, max: number): z.ZodNumber {
  return z.number().int().min(min).max(max);
}

/** A fraction in [0, 1]. */
export function fraction(): z.ZodNumber {
  return z.number().min(0).max(1);
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function shown(v: unknown): string {
  if (typeof v === 'function') return 'a function';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function describeIssue(engine: string, issue: z.core.$ZodIssue, raw: unknown, known: readonly string[]): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = path ? `${path} option` : 'option';
    return `unknown ${engine} ${where} "${issue.keys[0]}" (known: ${path ? issue.keys.join(', ') : known.join(', ')})`;
  }
  const got = `got ${shown(valueAt(raw, issue.path))}`;
  const name = `${engine} option ${path || '(options)'}`;
  switch (issue.code) {
    case 'too_big':
      return `${name} must be at most ${String(issue.maximum)}, ${got}`;
    case 'too_small':
      return `${name} must be at least ${String(issue.minimum)}, ${got}`;
    case 'invalid_type':
      return `${name} must be ${issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`}, ${got}`;
    case 'invalid_value':
      return `${name} must be one of ${issue.values.map((v) => String(v)).join('|')}, ${got}`;
    default:
      return `${name}: ${issue.message}, ${got}`;
  }
}

/**
 * Validate an engine's options. `schema` is a strict object whose fields carry their defaults;
 * `check` states the rules that relate several options (null when they hold).
 */
export function parseEngineOptions<S extends z.ZodObject>(
  engine: string,
  schema: S,
  raw: unknown,
  check?: (options: z.output<S>) => string | null,
): z.output<S> {
  const input = raw ?? {};
  if (typeof input !== 'object' || Array.isArray(input)) throw new EngineOptionsError(`${engine} options must be an object, got ${shown(input)}`);
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new EngineOptionsError(describeIssue(engine, issue, input, Object.keys(schema.shape)));
  }
  const problem = check?.(result.data);
  if (problem) throw new EngineOptionsError(`${engine} option ${problem}`);
  return result.data;
}
