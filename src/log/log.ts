// Structured logs (pino). Level from MEDLEDGER_LOG_LEVEL (default 'info'; tests run 'silent').
// Never log keys, health data or request bodies: log identifiers and sizes only.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, bindings: Record<string, string> = {}): Logger {
  const level = process.env.MEDLEDGER_LOG_LEVEL ?? 'info';
  return pino({ name, level, base: { ...bindings }, redact: ['key', 'keyPem', 'privateKey', '*.keyPem', '*.privateKey'] });
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A log that keeps at most `perWindow` lines per key in each `windowMs`: a fault (a partition, a
 * flapping peer) must be visible without flooding the disk. Lines beyond the limit are counted,
 * and the next line logged for that key says how many were suppressed.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, { startMs: number; logged: number; suppressed: number }>();
  private static readonly KEYS_MAX = 1024;

  constructor(
    private readonly log: Logger,
    private readonly perWindow = 5,
    private readonly windowMs = 10_000,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  write(level: LogLevel, key: string, detail: Record<string, unknown>, message: string): void {
    const nowMs = this.clock();
    let w = this.windows.get(key);
    if (!w || nowMs - w.startMs >= this.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      if (!w && this.windows.size >= RateLimitedLog.KEYS_MAX) this.windows.delete(this.windows.keys().next().value!);
      w = { startMs: nowMs, logged: 0, suppressed: 0 };
      this.windows.set(key, w);
      if (suppressed > 0) detail = { ...detail, suppressedBefore: suppressed };
    }
    if (w.logged >= this.perWindow) {
      w.suppressed += 1;
      return;
    }
    w.logged += 1;
    this.log[level](detail, message);
  }
}
