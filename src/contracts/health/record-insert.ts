// The health record a transaction inserts, read from its endorsed read/write set — what EH-BFT's
// leader checks each proposal against (paper 001, enhancement b: no double insertion; issue 12
// item 4). createRecord writes the record's first version under 'recv|<recordId>|000001' in the
// health contract's namespace (fn-records.ts); no other function writes a version 1, so that
// write is an insertion and its record id is the key. The engine orders opaque bytes: the node
// hands this function to it (node/orderer.ts), the engine stays free of ledger formats.
import type { Bytes } from '../../codec/index.ts';
import { parseTx } from '../../ledger/tx.ts';
import { HEALTH_CONTRACT } from './contract-support.ts';
import { key, pad, SEP } from './state.ts';

const FIRST_VERSION = pad(1, 6);

/** 'health/rec|<recordId>' for a transaction that creates a health record; null otherwise (or undecodable). */
export function insertedRecordKey(envelope: Bytes): string | null {
  let writes;
  try {
    writes = parseTx(envelope).response.rwset.namespaces.find((ns) => ns.namespace === HEALTH_CONTRACT)?.writes;
  } catch {
    return null;
  }
  for (const w of writes ?? []) {
    if (w.isDelete) continue;
    const parts = w.key.split(SEP);
    if (parts.length === 3 && parts[0] === 'recv' && parts[1] && parts[2] === FIRST_VERSION) return `${HEALTH_CONTRACT}/${key('rec', parts[1]!)}`;
  }
  return null;
}
