// The endorsement-policy language, Fabric's signature-policy syntax:
//
//   policy    := principal | gate
//   gate      := ('AND' | 'OR') '(' policy (',' policy)* ')'
//              | 'OutOf' '(' integer ',' policy (',' policy)* ')'
//   principal := "'" org '.' role "'"
//
// Gate names are case-insensitive (Fabric accepts 'and', 'or', 'outof' too); formatPolicy writes
// the canonical spelling. Whitespace (space, tab, CR, LF) may appear between tokens.
// Positions in errors are 0-based character offsets into the text.
//
// Evaluation follows Fabric's semantics: every signer may satisfy at most ONE principal leaf,
// so OutOf(2, 'A.peer', 'A.peer') needs two distinct A peers. The evaluator finds an assignment
// if one exists (not greedily): see evaluatePolicy.
import { isRole, isValidOrgName, PRINCIPAL_ROLES, principalMatches, type Principal } from './roles.ts';

export type Policy =
  | { readonly type: 'signedBy'; readonly principal: Principal }
  | { readonly type: 'and'; readonly policies: readonly Policy[] }
  | { readonly type: 'or'; readonly policies: readonly Policy[] }
  | { readonly type: 'outOf'; readonly n: number; readonly policies: readonly Policy[] };

export const POLICY_TEXT_LENGTH_MAX = 4096;
export const POLICY_DEPTH_MAX = 16;
export const POLICY_PRINCIPALS_MAX = 64;
/** Signers beyond this many are ignored by evaluatePolicy (no policy has more leaves than POLICY_PRINCIPALS_MAX). */
export const POLICY_SIGNERS_MAX = 1024;
/**
 * Work budget of one evaluation. Realistic policies need a few hundred steps; only adversarial
 * shapes come near. If exceeded the result is `false` — deterministic (every peer computes the
 * same) and conservative (never accepts what was not proven).
 */
export const POLICY_EVAL_STEPS_MAX = 200_000;
const THRESHOLD_DIGITS_MAX = 4;

export class PolicyParseError extends Error {
  override readonly name = 'PolicyParseError';
  constructor(
    readonly position: number,
    readonly expected: string,
    readonly found: string,
    detail?: string,
  ) {
    super(detail ?? `expected ${expected} at position ${position}, found ${found}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Constructors (for code that builds policies directly)

export function signedBy(org: string, role: Principal['role']): Policy {
  return { type: 'signedBy', principal: { org, role } };
}
export function and(...policies: Policy[]): Policy {
  return { type: 'and', policies };
}
export function or(...policies: Policy[]): Policy {
  return { type: 'or', policies };
}
export function outOf(n: number, ...policies: Policy[]): Policy {
  return { type: 'outOf', n, policies };
}

// ---------------------------------------------------------------------------------------------
// Parser

type Token =
  | { readonly kind: 'lparen' | 'rparen' | 'comma' | 'end'; readonly pos: number; readonly text: string }
  | { readonly kind: 'word' | 'int'; readonly pos: number; readonly text: string }
  | { readonly kind: 'string'; readonly pos: number; readonly text: string; readonly value: string };

const GATE_EXPECTATION = "'AND', 'OR', 'OutOf' or a principal like 'Org.role'";

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'end of input';
    case 'string':
      return `principal ${token.text.length > 60 ? `${token.text.slice(0, 60)}…` : token.text}`;
    default: {
      const text = token.text.length > 40 ? `${token.text.slice(0, 40)}…` : token.text;
      return `'${text}'`;
    }
  }
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
}

function isWordChar(ch: string): boolean {
  return /^[A-Za-z0-9_]$/.test(ch);
}

class Parser {
  private pos = 0;
  private principals = 0;
  private peeked: Token | null = null;

  constructor(private readonly text: string) {}

  parse(): Policy {
    const policy = this.policy(1);
    const end = this.next();
    if (end.kind !== 'end') throw new PolicyParseError(end.pos, 'end of input', describe(end));
    return policy;
  }

  private peek(): Token {
    if (this.peeked === null) this.peeked = this.lex();
    return this.peeked;
  }

  private next(): Token {
    const token = this.peek();
    this.peeked = null;
    return token;
  }

  private lex(): Token {
    const { text } = this;
    while (this.pos < text.length && isSpace(text.charAt(this.pos))) this.pos++;
    const start = this.pos;
    if (start >= text.length) return { kind: 'end', pos: start, text: '' };
    const ch = text.charAt(start);
    if (ch === '(') {
      this.pos++;
      return { kind: 'lparen', pos: start, text: ch };
    }
    if (ch === ')') {
      this.pos++;
      return { kind: 'rparen', pos: start, text: ch };
    }
    if (ch === ',') {
      this.pos++;
      return { kind: 'comma', pos: start, text: ch };
    }
    if (ch === "'") {
      const close = text.indexOf("'", start + 1);
      if (close < 0) throw new PolicyParseError(text.length, "closing ' of the principal", 'end of input');
      this.pos = close + 1;
      return { kind: 'string', pos: start, text: text.slice(start, close + 1), value: text.slice(start + 1, close) };
    }
    if (isWordChar(ch)) {
      let end = start;
      while (end < text.length && isWordChar(text.charAt(end))) end++;
      this.pos = end;
      const word = text.slice(start, end);
      return { kind: /^[0-9]+$/.test(word) ? 'int' : 'word', pos: start, text: word };
    }
    // Any other character is a token of its own, reported as found by whoever expected something else.
    this.pos++;
    const codePoint = text.codePointAt(start) ?? 0;
    if (codePoint > 0xffff) this.pos++;
    return { kind: 'word', pos: start, text: String.fromCodePoint(codePoint) };
  }

  private expect(kind: Token['kind'], expected: string): Token {
    const token = this.next();
    if (token.kind !== kind) throw new PolicyParseError(token.pos, expected, describe(token));
    return token;
  }

  private policy(depth: number): Policy {
    const token = this.next();
    if (token.kind === 'string') return this.principal(token);
    if (token.kind !== 'word') throw new PolicyParseError(token.pos, GATE_EXPECTATION, describe(token));
    const gate = token.text.toLowerCase();
    if (gate !== 'and' && gate !== 'or' && gate !== 'outof') {
      throw new PolicyParseError(token.pos, GATE_EXPECTATION, describe(token));
    }
    if (depth > POLICY_DEPTH_MAX) {
      throw new PolicyParseError(
        token.pos,
        `at most ${POLICY_DEPTH_MAX} levels of nesting`,
        describe(token),
        `policy nests deeper than ${POLICY_DEPTH_MAX} levels at position ${token.pos}`,
      );
    }
    this.expect('lparen', `'(' after ${token.text}`);
    let n = 0;
    let nPos = 0;
    if (gate === 'outof') {
      const count = this.next();
      if (count.kind !== 'int') throw new PolicyParseError(count.pos, 'a threshold (a whole number)', describe(count));
      if (count.text.length > THRESHOLD_DIGITS_MAX) {
        throw new PolicyParseError(count.pos, `a threshold of at most ${THRESHOLD_DIGITS_MAX} digits`, describe(count));
      }
      n = Number(count.text);
      nPos = count.pos;
      this.expect('comma', "',' after the threshold");
    }
    const policies: Policy[] = [this.policy(depth + 1)];
    for (;;) {
      const sep = this.next();
      if (sep.kind === 'rparen') break;
      if (sep.kind !== 'comma') throw new PolicyParseError(sep.pos, "',' or ')'", describe(sep));
      policies.push(this.policy(depth + 1));
    }
    if (gate === 'and') return { type: 'and', policies };
    if (gate === 'or') return { type: 'or', policies };
    if (n < 1 || n > policies.length) {
      const expected = `a threshold between 1 and ${policies.length} (the number of sub-policies)`;
      throw new PolicyParseError(
        nPos,
        expected,
        `${n}`,
        `OutOf threshold ${n} at position ${nPos} must be between 1 and ${policies.length} (the number of sub-policies)`,
      );
    }
    return { type: 'outOf', n, policies };
  }

  private principal(token: Extract<Token, { kind: 'string' }>): Policy {
    this.principals++;
    if (this.principals > POLICY_PRINCIPALS_MAX) {
      throw new PolicyParseError(
        token.pos,
        `at most ${POLICY_PRINCIPALS_MAX} principals`,
        describe(token),
        `policy has more than ${POLICY_PRINCIPALS_MAX} principals (the one at position ${token.pos} is one too many)`,
      );
    }
    const body = token.value;
    const orgStart = token.pos + 1;
    const dot = body.indexOf('.');
    if (dot < 0) {
      // The text between the quotes has no dot: report the closing quote where the dot was due.
      throw new PolicyParseError(orgStart + body.length, "'.' between organisation and role (principal 'Org.role')", `"'"`);
    }
    const org = body.slice(0, dot);
    const role = body.slice(dot + 1);
    if (!isValidOrgName(org)) {
      throw new PolicyParseError(orgStart, 'an organisation name (a letter, then letters, digits, _ or -)', org === '' ? "'.'" : `'${org.slice(0, 40)}'`);
    }
    if (!isRole(role)) {
      throw new PolicyParseError(orgStart + dot + 1, `a role (${PRINCIPAL_ROLES.join(', ')})`, role === '' ? `"'"` : `'${role.slice(0, 40)}'`);
    }
    return { type: 'signedBy', principal: { org, role } };
  }
}

/** Parse a policy; throws PolicyParseError (and nothing else) on any bad input. */
export function parsePolicy(text: string): Policy {
  if (typeof text !== 'string') throw new PolicyParseError(0, 'policy text', typeof text);
  if (text.length > POLICY_TEXT_LENGTH_MAX) {
    throw new PolicyParseError(
      POLICY_TEXT_LENGTH_MAX,
      `at most ${POLICY_TEXT_LENGTH_MAX} characters`,
      `${text.length} characters`,
      `policy text is ${text.length} characters long, at most ${POLICY_TEXT_LENGTH_MAX} are allowed`,
    );
  }
  return new Parser(text).parse();
}

export function formatPolicy(policy: Policy): string {
  switch (policy.type) {
    case 'signedBy':
      return `'${policy.principal.org}.${policy.principal.role}'`;
    case 'and':
      return `AND(${policy.policies.map(formatPolicy).join(', ')})`;
    case 'or':
      return `OR(${policy.policies.map(formatPolicy).join(', ')})`;
    case 'outOf':
      return `OutOf(${policy.n}, ${policy.policies.map(formatPolicy).join(', ')})`;
  }
}

/** Every principal leaf, in order (duplicates kept). */
export function policyPrincipals(policy: Policy): Principal[] {
  const out: Principal[] = [];
  const walk = (p: Policy): void => {
    if (p.type === 'signedBy') out.push(p.principal);
    else p.policies.forEach(walk);
  };
  walk(policy);
  return out;
}

/**
 * Check a policy AST that came from outside (decoded from the wire or a file) against the same
 * rules the parser enforces. Returns it typed, or throws PolicyParseError (position 0).
 */
export function validatePolicy(value: unknown): Policy {
  let principals = 0;
  const fail = (expected: string, found: string): never => {
    throw new PolicyParseError(0, expected, found, `invalid policy structure: expected ${expected}, found ${found}`);
  };
  const walk = (v: unknown, depth: number): Policy => {
    if (typeof v !== 'object' || v === null) return fail('a policy object', typeof v);
    const node = v as Record<string, unknown>;
    if (node['type'] === 'signedBy') {
      const principal = node['principal'] as Record<string, unknown> | null | undefined;
      const org = principal?.['org'];
      const role = principal?.['role'];
      if (typeof org !== 'string' || !isValidOrgName(org)) return fail('a valid organisation name', String(org).slice(0, 40));
      if (typeof role !== 'string' || !isRole(role)) return fail('a role', String(role).slice(0, 40));
      if (++principals > POLICY_PRINCIPALS_MAX) return fail(`at most ${POLICY_PRINCIPALS_MAX} principals`, `${principals}`);
      return { type: 'signedBy', principal: { org, role } };
    }
    const type = node['type'];
    if (type !== 'and' && type !== 'or' && type !== 'outOf') return fail("type 'signedBy', 'and', 'or' or 'outOf'", String(type).slice(0, 40));
    if (depth > POLICY_DEPTH_MAX) return fail(`at most ${POLICY_DEPTH_MAX} levels of nesting`, `${depth}`);
    const subs = node['policies'];
    if (!Array.isArray(subs) || subs.length === 0) return fail('a non-empty policies array', Array.isArray(subs) ? 'empty array' : typeof subs);
    if (subs.length > POLICY_PRINCIPALS_MAX) return fail(`at most ${POLICY_PRINCIPALS_MAX} sub-policies`, `${subs.length}`);
    const policies = subs.map((s: unknown) => walk(s, depth + 1));
    if (type === 'and') return { type, policies };
    if (type === 'or') return { type, policies };
    const n = node['n'];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > policies.length) {
      return fail(`a threshold between 1 and ${policies.length}`, String(n));
    }
    return { type, n, policies };
  };
  return walk(value, 1);
}

// ---------------------------------------------------------------------------------------------
// Evaluator

/**
 * Is the policy satisfied by these signers, each signer satisfying at most one principal leaf?
 *
 * `signers` must be DISTINCT identities (one entry per identity, e.g. deduplicated by
 * certificate): two entries count as two signers.
 *
 * How: signers are grouped into classes of signers that satisfy exactly the same set of the
 * policy's principals (interchangeable for this policy), with counts. Two exact methods:
 *  1. residuals: for each subtree and each vector of remaining class counts, the Pareto-maximal
 *     remaining vectors after satisfying that subtree (more remaining signers never hurt, so
 *     dominated vectors are dropped; classes no later leaf can use are zeroed, so states that
 *     differ only there merge). Strong on wide thresholds over distinct principals.
 *  2. selection (satisfiableBySelection): branch only on which children of each gate to
 *     satisfy, keeping a bipartite matching of chosen leaves to signers. Strong on many
 *     overlapping principals ('A.member', 'A.client', 'A.doctor' … crossing each other).
 * Method 1 runs first; if it exhausts its work budget (POLICY_EVAL_STEPS_MAX) method 2 runs with
 * a fresh budget. If both exhaust theirs the answer is false: deterministic (every peer
 * computes the same) and conservative (never accepts what was not proven).
 */
export interface EvaluatePolicyOptions {
  /** Work budget per method (default POLICY_EVAL_STEPS_MAX). */
  readonly stepsMax?: number;
  /** 'auto' (default): residuals, then selection if over budget. The others exist for tests. */
  readonly method?: 'auto' | 'residual' | 'selection';
}

/**
 * Verdicts already computed, per policy object (the validator and the gateways keep their parsed
 * policies): a block's transactions are endorsed by the same few sets of organisations, and the
 * evaluator below is general — it builds classes and a numbered tree for every call (issue 13: 2 %
 * of a node's time at 2-of-3). The verdict depends only on the policy and the multiset of
 * (org, role) of the signers, so that multiset, sorted, is the key. Bounded per policy; the policy
 * objects themselves are held weakly.
 */
const policyVerdicts = new WeakMap<Policy, Map<string, boolean>>();
const POLICY_VERDICTS_PER_POLICY_MAX = 256;

/** The sorted multiset of signers as a key, or null when a signer is malformed (not memoised). */
function signersKey(signers: readonly Principal[]): string | null {
  if (signers.length > POLICY_SIGNERS_MAX) return null;
  const parts: string[] = [];
  for (const signer of signers) {
    if (typeof signer !== 'object' || signer === null || typeof signer.org !== 'string' || typeof signer.role !== 'string') return null;
    parts.push(`${signer.org.length}:${signer.org}:${signer.role}`);
  }
  return parts.sort().join('|');
}

export function evaluatePolicy(policy: Policy, signers: readonly Principal[], options: EvaluatePolicyOptions = {}): boolean {
  if (options.stepsMax !== undefined || options.method !== undefined) return evaluatePolicyUncached(policy, signers, options);
  const key = signersKey(signers);
  if (key === null) return evaluatePolicyUncached(policy, signers, options);
  let verdicts = policyVerdicts.get(policy);
  if (verdicts === undefined) {
    verdicts = new Map();
    policyVerdicts.set(policy, verdicts);
  }
  const known = verdicts.get(key);
  if (known !== undefined) return known;
  const verdict = evaluatePolicyUncached(policy, signers, options);
  if (verdicts.size >= POLICY_VERDICTS_PER_POLICY_MAX) verdicts.delete(verdicts.keys().next().value!);
  verdicts.set(key, verdict);
  return verdict;
}

function evaluatePolicyUncached(policy: Policy, signers: readonly Principal[], options: EvaluatePolicyOptions): boolean {
  const stepsMax = options.stepsMax ?? POLICY_EVAL_STEPS_MAX;
  const method = options.method ?? 'auto';
  const leaves = policyPrincipals(policy);
  if (leaves.length === 0) return false;
  // Distinct principal patterns and, per signer, which of them it satisfies.
  const patternKeys: string[] = [];
  const patterns: Principal[] = [];
  for (const leaf of leaves) {
    const key = `${leaf.org}.${leaf.role}`;
    if (!patternKeys.includes(key)) {
      patternKeys.push(key);
      patterns.push(leaf);
    }
  }
  const classIndex = new Map<string, number>();
  const classAccepts: boolean[][] = []; // class → pattern → accepted
  const counts: number[] = [];
  for (const signer of signers.slice(0, POLICY_SIGNERS_MAX)) {
    // Malformed entries can satisfy nothing (signers normally come from Msp.validate).
    if (typeof signer !== 'object' || signer === null || typeof signer.org !== 'string' || typeof signer.role !== 'string' || !isRole(signer.role)) continue;
    const accepts = patterns.map((pattern) => principalMatches(pattern, signer));
    if (!accepts.includes(true)) continue;
    const signature = accepts.map((a) => (a ? '1' : '0')).join('');
    let index = classIndex.get(signature);
    if (index === undefined) {
      index = counts.length;
      classIndex.set(signature, index);
      classAccepts.push(accepts);
      counts.push(0);
    }
    // No policy can use more signers of one class than it has leaves.
    if ((counts[index] ?? 0) < leaves.length) counts[index] = (counts[index] ?? 0) + 1;
  }
  if (counts.length === 0) return false;

  // Number the tree's nodes for memoisation; for each leaf, the classes that may fill it;
  // for each node, the (exclusive) global index of its last leaf.
  interface Node {
    readonly id: number;
    readonly need: number;
    readonly children: readonly Node[];
    readonly classes: readonly number[]; // leaves only
    readonly leafEnd: number;
  }
  let nextId = 0;
  let nextLeaf = 0;
  const leafClasses: number[][] = [];
  const build = (p: Policy): Node => {
    const id = nextId++;
    if (p.type === 'signedBy') {
      const patternIndex = patternKeys.indexOf(`${p.principal.org}.${p.principal.role}`);
      const classes: number[] = [];
      classAccepts.forEach((accepts, c) => {
        if (accepts[patternIndex] === true) classes.push(c);
      });
      leafClasses.push(classes);
      nextLeaf++;
      return { id, need: 1, children: [], classes, leafEnd: nextLeaf };
    }
    const children = p.policies.map(build);
    const need = p.type === 'and' ? children.length : p.type === 'or' ? 1 : p.n;
    return { id, need, children, classes: [], leafEnd: nextLeaf };
  };
  const root = build(policy);
  // liveFrom[i][c]: does any leaf at global index >= i accept class c? Once no later leaf can use
  // a class, how many of its signers remain no longer matters: such components are set to 0 so
  // that states differing only there collapse into one (this keeps e.g. OutOf(32, 64 different
  // orgs) linear instead of exponential).
  const liveFrom: boolean[][] = Array.from({ length: leafClasses.length + 1 }, () => counts.map(() => false));
  for (let i = leafClasses.length - 1; i >= 0; i--) {
    const live = (liveFrom[i] = [...(liveFrom[i + 1] ?? [])]);
    for (const c of leafClasses[i] ?? []) live[c] = true;
  }

  type State = readonly number[];
  let steps = 0;
  const memo = new Map<string, readonly State[]>();
  const overBudget = (): boolean => steps > stepsMax;

  const project = (state: State, leafIndex: number): State => {
    const live = liveFrom[leafIndex] ?? [];
    return state.map((v, c) => (live[c] === true ? v : 0));
  };

  const addPareto = (set: State[], candidate: State): void => {
    steps += set.length + 1;
    for (const s of set) if (s.every((v, i) => v >= (candidate[i] ?? 0))) return; // dominated or equal
    for (let i = set.length - 1; i >= 0; i--) {
      const s = set[i];
      if (s !== undefined && candidate.every((v, j) => v >= (s[j] ?? 0))) set.splice(i, 1);
    }
    set.push(candidate);
  };

  // Residual states (projected to what leaves after `node` can use) after satisfying `node`
  // starting from `state`; [] if impossible. `firstOnly` (the root) stops at the first way found.
  const resid = (node: Node, state: State, firstOnly: boolean): readonly State[] => {
    const key = `${node.id}|${state.join(',')}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const out: State[] = [];
    if (node.children.length === 0) {
      for (const c of node.classes) {
        if ((state[c] ?? 0) > 0) {
          const next = state.slice();
          next[c] = (next[c] ?? 0) - 1;
          addPareto(out, project(next, node.leafEnd));
        }
      }
    } else {
      // layers[j]: states reachable having satisfied j of the children seen so far.
      let layers: State[][] = [[state]];
      for (let k = 0; k < node.children.length; k++) {
        const child = node.children[k];
        if (child === undefined) break;
        const remainingChildren = node.children.length - k;
        // Iterate j downwards so that a state produced by this child is not fed to it again.
        for (let j = Math.min(layers.length - 1, node.need - 1); j >= 0; j--) {
          // A layer that cannot reach `need` even with every remaining child is useless.
          if (j + remainingChildren < node.need) continue;
          for (const s of layers[j] ?? []) {
            if (overBudget()) return [];
            for (const r of resid(child, s, false)) {
              const target = layers[j + 1] ?? (layers[j + 1] = []);
              addPareto(target, r);
            }
          }
        }
        // Everything from here on is matched against leaves after this child only.
        layers = layers.map((layer) => {
          const projected: State[] = [];
          for (const s of layer) addPareto(projected, project(s, child.leafEnd));
          return projected;
        });
        if (firstOnly && (layers[node.need]?.length ?? 0) > 0) break;
      }
      for (const s of layers[node.need] ?? []) addPareto(out, project(s, node.leafEnd));
    }
    memo.set(key, out);
    return out;
  };

  if (method === 'selection') return satisfiableBySelection(root, leafClasses, counts, stepsMax);
  const result = resid(root, project(counts, 0), true);
  if (!overBudget()) return result.length > 0;
  if (method === 'residual') return false;
  // The residual method ran out of budget (many crossing principals). Try the second method,
  // which is strong exactly there, with a fresh budget of its own.
  return satisfiableBySelection(root, leafClasses, counts, stepsMax);
}

const FAILED_MEMO_ENTRIES_MAX = 100_000;

interface SelectionNode {
  readonly id: number;
  readonly need: number;
  readonly children: readonly SelectionNode[];
  readonly leafEnd: number;
}

/**
 * Second exact method: depth-first search over WHICH children of each gate to satisfy, keeping
 * a maximum bipartite matching (with class capacities) between the chosen leaves and the signer
 * classes, extended by augmenting paths. Which signer fills which leaf is never branched on —
 * the matching re-assigns as needed — so the search only branches on policy structure. Pruned
 * by a lower bound on the leaves still needed, and by a memo of failed (obligations, chosen
 * leaves) situations. Under its own step budget; false if that is exhausted.
 */
function satisfiableBySelection(root: SelectionNode, leafClasses: readonly (readonly number[])[], capacity: readonly number[], stepsMax: number): boolean {
  let steps = 0;
  const totalSigners = capacity.reduce((a, b) => a + b, 0);
  // Minimum number of leaves a node needs; minRest[id][i][r]: fewest leaves to satisfy r more
  // children of node id from child index i on.
  const minLeaves = new Map<number, number>();
  const minRest = new Map<number, number[][]>();
  const prepare = (node: SelectionNode): number => {
    if (node.children.length === 0) {
      minLeaves.set(node.id, 1);
      return 1;
    }
    const mins = node.children.map(prepare);
    const table: number[][] = [];
    for (let i = 0; i <= mins.length; i++) {
      const sorted = mins.slice(i).sort((a, b) => a - b);
      const prefix = [0];
      for (const m of sorted) prefix.push((prefix[prefix.length - 1] ?? 0) + m);
      table.push(prefix);
    }
    minRest.set(node.id, table);
    const own = table[0]?.[node.need] ?? Number.POSITIVE_INFINITY;
    minLeaves.set(node.id, own);
    return own;
  };
  if (prepare(root) > totalSigners) return false;

  // The matching: chosen leaf (global index) → class; used capacity per class.
  const assigned = new Map<number, number>();
  const used = capacity.map(() => 0);
  const tryAssign = (leaf: number, visited: Set<number>): boolean => {
    for (const c of leafClasses[leaf] ?? []) {
      steps++;
      if (visited.has(c)) continue;
      visited.add(c);
      if ((used[c] ?? 0) < (capacity[c] ?? 0)) {
        used[c] = (used[c] ?? 0) + 1;
        assigned.set(leaf, c);
        return true;
      }
      // Class full: try to move one of its leaves elsewhere.
      for (const [other, oc] of assigned) {
        if (oc !== c) continue;
        if (tryAssign(other, visited)) {
          // `other` moved to another class (its used count was incremented there), freeing
          // one unit of c for `leaf`.
          assigned.set(leaf, c);
          return true;
        }
      }
    }
    return false;
  };

  interface Frame {
    readonly node: SelectionNode;
    readonly i: number;
    readonly remaining: number;
  }
  const stack: Frame[] = [];
  const failed = new Set<string>();
  const chosenKey = (): string => [...assigned.keys()].sort((a, b) => a - b).join(',');
  const lowerBound = (): number => {
    let sum = 0;
    for (const f of stack) sum += minRest.get(f.node.id)?.[f.i]?.[f.remaining] ?? Number.POSITIVE_INFINITY;
    return sum;
  };

  const solve = (): boolean => {
    if (steps++ > stepsMax) return false;
    const top = stack.pop();
    if (top === undefined) return true;
    try {
      if (top.remaining === 0) return solve();
      if (top.node.children.length - top.i < top.remaining) return false;
      const key = `${stack.map((f) => `${f.node.id}:${f.i}:${f.remaining}`).join('/')}|${top.node.id}:${top.i}:${top.remaining}|${chosenKey()}`;
      if (failed.has(key)) return false;
      stack.push(top);
      const bound = assigned.size + lowerBound();
      stack.pop();
      if (bound > totalSigners) return false;
      const child = top.node.children[top.i];
      if (child === undefined) return false;
      // Option 1: satisfy this child, then the rest of this gate.
      stack.push({ node: top.node, i: top.i + 1, remaining: top.remaining - 1 });
      let ok = startNode(child);
      stack.pop();
      if (!ok) {
        // Option 2: skip this child.
        stack.push({ node: top.node, i: top.i + 1, remaining: top.remaining });
        ok = solve();
        stack.pop();
      }
      if (!ok && steps <= stepsMax && failed.size < FAILED_MEMO_ENTRIES_MAX) failed.add(key);
      return ok;
    } finally {
      stack.push(top);
    }
  };

  const startNode = (node: SelectionNode): boolean => {
    if (node.children.length === 0) {
      const leaf = node.leafEnd - 1;
      const savedAssigned = new Map(assigned);
      const savedUsed = used.slice();
      if (!tryAssign(leaf, new Set())) {
        restore(savedAssigned, savedUsed);
        return false;
      }
      const ok = solve();
      restore(savedAssigned, savedUsed);
      return ok;
    }
    stack.push({ node, i: 0, remaining: node.need });
    const ok = solve();
    stack.pop();
    return ok;
  };
  const restore = (savedAssigned: Map<number, number>, savedUsed: number[]): void => {
    assigned.clear();
    for (const [k, v] of savedAssigned) assigned.set(k, v);
    savedUsed.forEach((v, c) => (used[c] = v));
  };

  return startNode(root) && steps <= stepsMax;
}
