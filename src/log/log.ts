// Structured logs (pino). Level from MEDLEDGER_LOG_LEVEL (default 'info'; tests run 'silent').
// Never log keys, health data or request bodies: log identifiers and sizes only.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, bindings: Record<string, string> = {}): Logger {
  const level = process.env.MEDLEDGER_LOG_LEVEL ?? 'info';
  return pino({ name, level, base: { ...bindings }, redact: ['key', 'keyPem', 'privateKey', '*.keyPem', '*.privateKey'] });
}
