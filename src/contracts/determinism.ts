// Contracts must compute the same result on every endorsing peer (DESIGN §4): no clock, no
// randomness, no timers, no I/O. We enforce what JavaScript lets us enforce cheaply and reliably:
// for the synchronous duration of a contract call, the global sources of non-determinism are
// replaced by functions that throw ContractDeterminismError, and restored in `finally`.
//
// Why synchronous contracts: Node runs one JavaScript stack at a time, so while a synchronous
// contract call is on the stack no other code (timers, I/O callbacks, other requests) can run
// and observe the patched globals — patching is safe for the rest of the process. An async
// contract would yield at each await, letting unrelated code run under the patches (breaking
// it) or the contract run unpatched. Contract functions are therefore synchronous (the stub is
// synchronous: better-sqlite3 reads are), and a function that returns a Promise is rejected.
//
// A contract cannot escape by catching the error: every violation is recorded, and the call
// fails after it returns even if the contract swallowed the exception.
//
// Not covered (documented limitation): modules a contract imports itself (node:fs,
// node:crypto.randomBytes, …). Contracts ship with the node, are code-reviewed, and the lint
// configuration forbids those imports under src/contracts.

export class ContractDeterminismError extends Error {
  override readonly name = 'ContractDeterminismError';
}

type Patch = { readonly target: object; readonly prop: string; readonly saved: PropertyDescriptor | undefined };

let active = false;
let violations: string[] = [];

function violation(what: string): never {
  const message = `contracts must be deterministic: ${what} is not allowed (use the stub's getTxTimestamp / getTxID instead)`;
  if (violations.length < 16) violations.push(message);
  throw new ContractDeterminismError(message);
}

function thrower(what: string): (...args: unknown[]) => never {
  return () => violation(what);
}

function patch(patches: Patch[], target: object, prop: string, value: unknown): void {
  patches.push({ target, prop, saved: Object.getOwnPropertyDescriptor(target, prop) });
  Object.defineProperty(target, prop, { value, configurable: true, writable: true, enumerable: false });
}

function restore(patches: readonly Patch[]): void {
  for (let i = patches.length - 1; i >= 0; i--) {
    const p = patches[i]!;
    if (p.saved) Object.defineProperty(p.target, p.prop, p.saved);
    else delete (p.target as Record<string, unknown>)[p.prop];
  }
}

/** A Date that still parses and formats given instants but refuses to read the clock. */
function guardedDate(RealDate: DateConstructor): DateConstructor {
  return new Proxy(RealDate, {
    construct(target, args, newTarget) {
      if (args.length === 0) violation('new Date() without arguments (reads the clock)');
      return Reflect.construct(target, args, newTarget) as object;
    },
    apply() {
      return violation('Date() (reads the clock)');
    },
    get(target, prop, receiver) {
      if (prop === 'now') return thrower('Date.now()');
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

// Built once: the replacements are the same objects on every call (cheap per contract call).
const GUARDED_DATE = guardedDate(Date);
const THROWERS = {
  random: thrower('Math.random()'),
  getRandomValues: thrower('crypto.getRandomValues()'),
  randomUUID: thrower('crypto.randomUUID()'),
  performanceNow: thrower('performance.now()'),
  hrtime: Object.assign(thrower('process.hrtime()'), { bigint: thrower('process.hrtime.bigint()') }),
  timers: ['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'fetch'].map((name) => [name, thrower(`${name}()`)] as const),
};

/**
 * Run `fn` with the non-deterministic globals disabled. Throws ContractDeterminismError if the
 * function touched any of them (even if it caught the error), or if it returned a Promise.
 */
export function runDeterministic<T>(fn: () => T): T {
  if (active) throw new ContractDeterminismError('contract calls cannot nest');
  const g = globalThis as unknown as Record<string, unknown>;
  const patches: Patch[] = [];
  active = true;
  violations = [];
  let result: T;
  try {
    patch(patches, globalThis, 'Date', GUARDED_DATE);
    patch(patches, Math, 'random', THROWERS.random);
    const webCrypto = g['crypto'] as object | undefined;
    if (webCrypto) {
      patch(patches, webCrypto, 'getRandomValues', THROWERS.getRandomValues);
      patch(patches, webCrypto, 'randomUUID', THROWERS.randomUUID);
    }
    const perf = g['performance'] as object | undefined;
    if (perf) patch(patches, perf, 'now', THROWERS.performanceNow);
    for (const [name, replacement] of THROWERS.timers) {
      if (name in g) patch(patches, globalThis, name, replacement);
    }
    patch(patches, process, 'hrtime', THROWERS.hrtime);
    result = fn();
  } finally {
    restore(patches);
    active = false;
  }
  const first = violations[0];
  violations = [];
  if (first !== undefined) throw new ContractDeterminismError(first);
  if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
    // The promise may reject later; make sure that never becomes an unhandled rejection.
    (result as unknown as Promise<unknown>).then(
      () => undefined,
      () => undefined,
    );
    throw new ContractDeterminismError('contract functions must be synchronous (it returned a Promise)');
  }
  return result;
}
