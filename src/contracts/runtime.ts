// The contract runtime: how a peer runs a contract function against its committed state.
//
// A contract is a named set of synchronous functions. Each function declares:
//   kind  'submit'   — may write; its result is endorsed, ordered and committed;
//         'evaluate' — read-only (the stub refuses writes); answered by one peer, never ordered;
//   roles — the roles allowed to call it (the ACL endorsing peers enforce); omitted = any member.
// The runtime runs the handler under the determinism guard, maps failures to a response status
// (200 ok, 400 refused by the contract or a limit, 500 contract bug or determinism violation),
// and returns the read/write set the stub recorded. Peers endorse only status 200.
import { utf8, type Bytes } from '../codec/index.ts';
import type { ContractEvent, ContractResult, RwSet } from '../ledger/tx.ts';
import type { StateReader } from '../ledger/state.ts';
import { LEDGER_LIMITS } from '../ledger/limits.ts';
import { ContractDeterminismError, runDeterministic } from './determinism.ts';
import { KeyError } from '../ledger/keys.ts';
import { ChaincodeStub, ContractLimitError, type CreatorInfo } from './stub.ts';

export type ContractReturn = string | Bytes | undefined | void;

export interface ContractFunction {
  readonly kind: 'submit' | 'evaluate';
  readonly roles?: readonly string[];
  readonly description?: string;
  readonly handler: (stub: ChaincodeStub, args: readonly string[]) => ContractReturn;
}

export interface Contract {
  readonly name: string;
  readonly version: string;
  readonly functions: Readonly<Record<string, ContractFunction>>;
}

/** Thrown by contract code to refuse a request (bad arguments, business rule): status 400. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
}

export const STATUS_OK = 200;
export const STATUS_REFUSED = 400;
export const STATUS_FAILED = 500;
const MESSAGE_LENGTH_MAX = 1024;

export class ContractRegistry {
  private readonly contracts = new Map<string, Contract>();

  register(contract: Contract): this {
    if (this.contracts.has(contract.name)) throw new Error(`contract "${contract.name}" registered twice`);
    for (const [fn, def] of Object.entries(contract.functions)) {
      if (def.kind !== 'submit' && def.kind !== 'evaluate') throw new Error(`contract ${contract.name}.${fn}: kind must be 'submit' or 'evaluate'`);
    }
    this.contracts.set(contract.name, contract);
    return this;
  }

  get(name: string): Contract | undefined {
    return this.contracts.get(name);
  }

  names(): string[] {
    return [...this.contracts.keys()].sort();
  }
}

/** Own-property lookup, so "constructor" or "__proto__" never resolve to Object's members. */
export function findFunction(contract: Contract, fn: string): ContractFunction | undefined {
  return Object.prototype.hasOwnProperty.call(contract.functions, fn) ? contract.functions[fn] : undefined;
}

/** null when allowed, else the reason. */
export function checkAcl(contract: Contract, fn: string, role: string): string | null {
  const def = findFunction(contract, fn);
  if (!def) return `contract ${contract.name} has no function "${fn}"`;
  if (def.roles && !def.roles.includes(role)) return `role "${role}" may not call ${contract.name}.${fn} (allowed: ${def.roles.join(', ')})`;
  return null;
}

export interface InvokeInput {
  readonly contract: Contract;
  readonly fn: string;
  readonly args: readonly string[];
  readonly txId: string;
  readonly timestampMs: number;
  readonly creator: CreatorInfo;
  readonly state: StateReader;
}

export interface Invocation {
  readonly result: ContractResult;
  readonly rwset: RwSet;
  readonly event: ContractEvent | null;
}

function clip(message: string): string {
  return message.length > MESSAGE_LENGTH_MAX ? `${message.slice(0, MESSAGE_LENGTH_MAX)}…` : message;
}

function failure(status: number, message: string): Invocation {
  return { result: { status, message: clip(message), payload: new Uint8Array(0) }, rwset: { namespaces: [] }, event: null };
}

/** Run one contract function (never throws for contract-side failures: they become a status). */
export function invoke(input: InvokeInput): Invocation {
  const def = findFunction(input.contract, input.fn);
  if (!def) return failure(STATUS_REFUSED, `contract ${input.contract.name} has no function "${input.fn}"`);
  const stub = new ChaincodeStub({
    namespace: input.contract.name,
    txId: input.txId,
    timestampMs: input.timestampMs,
    creator: input.creator,
    fn: input.fn,
    args: input.args,
    state: input.state,
    readOnly: def.kind === 'evaluate',
  });
  let returned: ContractReturn;
  try {
    returned = runDeterministic(() => def.handler(stub, input.args));
  } catch (err) {
    if (err instanceof ContractDeterminismError) return failure(STATUS_FAILED, `determinism violation: ${err.message}`);
    if (err instanceof ContractError || err instanceof ContractLimitError || err instanceof KeyError) return failure(STATUS_REFUSED, err.message);
    return failure(STATUS_FAILED, `contract ${input.contract.name}.${input.fn} failed: ${(err as Error)?.message ?? String(err)}`);
  }
  let payload: Bytes;
  if (returned === undefined) payload = new Uint8Array(0);
  else if (typeof returned === 'string') payload = utf8(returned);
  else if (returned instanceof Uint8Array) payload = new Uint8Array(returned);
  else return failure(STATUS_FAILED, `contract ${input.contract.name}.${input.fn} returned ${typeof returned}; return a string, bytes or nothing`);
  if (payload.byteLength > LEDGER_LIMITS.responsePayloadBytesMax) {
    return failure(
      STATUS_FAILED,
      `contract ${input.contract.name}.${input.fn} returned ${payload.byteLength} bytes (limit ${LEDGER_LIMITS.responsePayloadBytesMax})`,
    );
  }
  const { rwset, event } = stub.result();
  const empty = rwset.reads.length === 0 && rwset.rangeReads.length === 0 && rwset.writes.length === 0;
  return { result: { status: STATUS_OK, message: '', payload }, rwset: { namespaces: empty ? [] : [rwset] }, event };
}
