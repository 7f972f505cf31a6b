// Field formatting for the engines' message printers: short, stable across runs (digests are
// content hashes, so they repeat; signatures are randomised and are never printed).
import { toHex } from '../../codec/index.ts';
import type { Proposal } from '../engine.ts';

export function formatProposal(p: Proposal): string {
  return `${p.clientId}#${p.seq}:${Buffer.from(p.data).toString('utf8')}`;
}

function isProposal(v: unknown): v is Proposal {
  return typeof v === 'object' && v !== null && 'clientId' in v && 'seq' in v && (v as { data?: unknown }).data instanceof Uint8Array;
}

/** One value: numbers and strings as is, bytes as their first 4 bytes in hex, proposals spelled out, other lists by length. */
export function formatValue(v: unknown): string {
  if (v instanceof Uint8Array) return toHex(v.subarray(0, 4));
  if (Array.isArray(v)) return v.every(isProposal) && v.length > 0 ? `[${v.map(formatProposal).join(' ')}]` : `[${v.length}]`;
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return '{…}';
  return String(v);
}

/**
 * `type k=v k=v` for the named fields of a message (absent fields are skipped). The type is printed
 * without its `<engine>/` prefix: a script runs one engine, so the prefix would only repeat.
 */
export function formatFields(type: string, message: object, fields: readonly string[]): string {
  const record = message as Record<string, unknown>;
  const parts = [type.replace(/^[a-z]+\//, '')];
  for (const f of fields) if (f in record && record[f] !== undefined) parts.push(`${f}=${formatValue(record[f])}`);
  return parts.join(' ');
}

/** A node's Engine.status() on one line (`crashed` when it is down), plus engine-specific detail. */
export function statusLine(
  node: { readonly id: string; readonly engine: { status(): { role: string; epoch: number; leader: string | null; decidedHeight: number } } | null },
  detail = '',
): string {
  if (!node.engine) return `${node.id}: crashed`;
  const s = node.engine.status();
  return `${node.id}: ${s.role} epoch=${s.epoch} leader=${s.leader ?? '-'} height=${s.decidedHeight}${detail ? ` ${detail}` : ''}`;
}
