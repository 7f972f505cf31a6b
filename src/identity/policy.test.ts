import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  and,
  evaluatePolicy,
  formatPolicy,
  or,
  outOf,
  parsePolicy,
  POLICY_DEPTH_MAX,
  POLICY_PRINCIPALS_MAX,
  POLICY_TEXT_LENGTH_MAX,
  PolicyParseError,
  policyPrincipals,
  signedBy,
  validatePolicy,
  type Policy,
} from './policy.ts';
import { PRINCIPAL_ROLES, principalMatches, type Principal, type Role } from './roles.ts';

const p = (org: string, role: Role): Principal => ({ org, role });

function parseError(text: string): PolicyParseError {
  try {
    parsePolicy(text);
  } catch (err) {
    assert.ok(err instanceof PolicyParseError, `expected PolicyParseError for ${JSON.stringify(text)}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(text)} not to parse`);
}

describe('policy parser', () => {
  it('parses principals and gates into the AST', () => {
    assert.deepEqual(parsePolicy("'Hosp1.peer'"), signedBy('Hosp1', 'peer'));
    assert.deepEqual(
      parsePolicy("AND('Hosp1.peer', OutOf(2, 'Hosp2.peer', 'Hosp3.peer', 'Hosp4.peer'))"),
      and(signedBy('Hosp1', 'peer'), outOf(2, signedBy('Hosp2', 'peer'), signedBy('Hosp3', 'peer'), signedBy('Hosp4', 'peer'))),
    );
    assert.deepEqual(parsePolicy("OR('A.admin','B.member')"), or(signedBy('A', 'admin'), signedBy('B', 'member')));
    // Whitespace anywhere between tokens, gate names case-insensitive.
    assert.deepEqual(parsePolicy("  and ( 'A.doctor' ,\n\t'B-2_x.client' )  "), and(signedBy('A', 'doctor'), signedBy('B-2_x', 'client')));
    assert.deepEqual(parsePolicy("outof(1, 'A.nurse')"), outOf(1, signedBy('A', 'nurse')));
    for (const role of PRINCIPAL_ROLES) assert.deepEqual(parsePolicy(`'Org.${role}'`), signedBy('Org', role));
    // The least-privilege roles of decision 1253 are principals like any other.
    assert.deepEqual(parsePolicy("OR('Hospital1.device', 'Hospital1.laboratory')"), or(signedBy('Hospital1', 'device'), signedBy('Hospital1', 'laboratory')));
  });

  it('formats canonically and round-trips', () => {
    const text = "OutOf(2, 'A.peer', AND('B.peer', 'B.admin'), OR('C.doctor', 'C.supervisor'))";
    assert.equal(formatPolicy(parsePolicy(text)), text);
    assert.equal(formatPolicy(parsePolicy("and('A.peer','B.peer')")), "AND('A.peer', 'B.peer')");
  });

  it('reports position and expectation precisely', () => {
    const table: Array<[string, number, string | RegExp, string]> = [
      // text, position, expected, found
      ["AND('A.peer' 'B.peer')", 13, "',' or ')'", "principal 'B.peer'"],
      ["AND('A.peer', 'B.peer',)", 23, /^'AND', 'OR', 'OutOf' or a principal/, "')'"],
      ["OutOf(2, 'A.peer', 'B.peer'", 27, "',' or ')'", 'end of input'],
      ['', 0, /^'AND', 'OR', 'OutOf' or a principal/, 'end of input'],
      ['XOR(1)', 0, /^'AND'/, "'XOR'"],
      ['AND', 3, "'(' after AND", 'end of input'],
      ['AND()', 4, /^'AND'/, "')'"],
      ["OutOf('A.peer')", 6, 'a threshold (a whole number)', "principal 'A.peer'"],
      ["OutOf(1 'A.peer')", 8, "',' after the threshold", "principal 'A.peer'"],
      ["OutOf(12345, 'A.peer')", 6, /at most 4 digits/, "'12345'"],
      ["'A.peer' 'B.peer'", 9, 'end of input', "principal 'B.peer'"],
      ["'A.peer", 7, "closing ' of the principal", 'end of input'],
      ["'Apeer'", 6, /^'\.' between organisation and role/, `"'"`],
      ["'A.surgeon'", 3, /^a role \(member, admin/, "'surgeon'"],
      ["'A.'", 3, /^a role/, `"'"`],
      ["'.peer'", 1, /^an organisation name/, "'.'"],
      ["'1A.peer'", 1, /^an organisation name/, "'1A'"],
      ["AND('A.peer'; 'B.peer')", 12, "',' or ')'", "';'"],
      ['"A.peer"', 0, /^'AND'/, `'"'`],
      ['AND(😀)', 4, /^'AND'/, "'😀'"],
    ];
    for (const [text, position, expected, found] of table) {
      const err = parseError(text);
      assert.equal(err.position, position, `${text}: ${err.message}`);
      if (typeof expected === 'string') assert.equal(err.expected, expected, text);
      else assert.match(err.expected, expected, text);
      assert.equal(err.found, found, text);
    }
    assert.equal(parseError("AND('A.peer' 'B.peer')").message, "expected ',' or ')' at position 13, found principal 'B.peer'");
    assert.equal(parseError("OR('A.peer', 'B.peer'(").message, "expected ',' or ')' at position 21, found '('");
  });

  it('checks OutOf thresholds: 1..number of sub-policies', () => {
    const zero = parseError("OutOf(0, 'A.peer')");
    assert.equal(zero.position, 6);
    assert.match(zero.message, /OutOf threshold 0 at position 6 must be between 1 and 1/);
    const three = parseError("OutOf(3, 'A.peer', 'B.peer')");
    assert.match(three.expected, /between 1 and 2/);
    assert.deepEqual(parsePolicy("OutOf(2, 'A.peer', 'B.peer')"), outOf(2, signedBy('A', 'peer'), signedBy('B', 'peer')));
  });

  it('enforces length, depth and principal limits', () => {
    const long = parseError(`'A.peer'${' '.repeat(POLICY_TEXT_LENGTH_MAX)}`);
    assert.equal(long.position, POLICY_TEXT_LENGTH_MAX);
    assert.match(long.message, /at most 4096/);

    const nest = (levels: number): string => `${'OR('.repeat(levels)}'A.peer'${')'.repeat(levels)}`;
    parsePolicy(nest(POLICY_DEPTH_MAX));
    const deep = parseError(nest(POLICY_DEPTH_MAX + 1));
    assert.equal(deep.position, 3 * POLICY_DEPTH_MAX);
    assert.match(deep.message, /deeper than 16 levels/);

    const many = (n: number): string => `OR(${Array.from({ length: n }, (_, i) => `'O${i}.peer'`).join(',')})`;
    assert.equal(policyPrincipals(parsePolicy(many(POLICY_PRINCIPALS_MAX))).length, POLICY_PRINCIPALS_MAX);
    assert.match(parseError(many(POLICY_PRINCIPALS_MAX + 1)).message, /more than 64 principals/);
    // Very deep input is refused by the depth limit, never by a stack overflow.
    assert.match(parseError('AND('.repeat(1000)).message, /deeper than/);
    assert.equal(parseError(42 as unknown as string).expected, 'policy text');
  });

  it('validatePolicy checks ASTs from outside by the same rules', () => {
    const ast = parsePolicy("OutOf(2, 'A.peer', 'B.peer', OR('C.doctor', 'C.nurse'))");
    assert.deepEqual(validatePolicy(JSON.parse(JSON.stringify(ast))), ast);
    assert.throws(() => validatePolicy({ type: 'outOf', n: 3, policies: [signedBy('A', 'peer')] }), PolicyParseError);
    assert.throws(() => validatePolicy({ type: 'and', policies: [] }), PolicyParseError);
    assert.throws(() => validatePolicy({ type: 'signedBy', principal: { org: 'A', role: 'wizard' } }), PolicyParseError);
    assert.throws(() => validatePolicy(null), PolicyParseError);
    let deep: unknown = signedBy('A', 'peer');
    for (let i = 0; i < 40; i++) deep = { type: 'or', policies: [deep] };
    assert.throws(() => validatePolicy(deep), /nesting/);
  });
});

describe('principal matching (Fabric semantics)', () => {
  it('member matches all of the org, client all but nodes, others exactly', () => {
    assert.ok(principalMatches(p('A', 'member'), p('A', 'peer')));
    assert.ok(principalMatches(p('A', 'member'), p('A', 'patient')));
    assert.ok(!principalMatches(p('A', 'member'), p('B', 'peer')));
    assert.ok(principalMatches(p('A', 'client'), p('A', 'doctor')));
    assert.ok(principalMatches(p('A', 'client'), p('A', 'admin')));
    assert.ok(!principalMatches(p('A', 'client'), p('A', 'peer')));
    assert.ok(!principalMatches(p('A', 'client'), p('A', 'orderer')));
    assert.ok(principalMatches(p('A', 'doctor'), p('A', 'doctor')));
    assert.ok(!principalMatches(p('A', 'doctor'), p('A', 'nurse')));
    assert.ok(!principalMatches(p('A', 'admin'), p('A', 'supervisor')));
  });
});

describe('policy evaluation', () => {
  const table: Array<[string, Principal[], boolean]> = [
    ["'A.peer'", [p('A', 'peer')], true],
    ["'A.peer'", [p('B', 'peer')], false],
    ["'A.peer'", [], false],
    ["AND('A.peer', 'B.peer')", [p('A', 'peer'), p('B', 'peer')], true],
    ["AND('A.peer', 'B.peer')", [p('A', 'peer')], false],
    ["OR('A.peer', 'B.peer')", [p('B', 'peer')], true],
    ["OR('A.peer', 'B.peer')", [p('C', 'peer')], false],
    ["OutOf(2, 'A.peer', 'B.peer', 'C.peer')", [p('C', 'peer'), p('A', 'peer')], true],
    ["OutOf(2, 'A.peer', 'B.peer', 'C.peer')", [p('C', 'peer'), p('D', 'peer')], false],
    ["AND('A.member', 'B.client')", [p('A', 'orderer'), p('B', 'researcher')], true],
    ["AND('A.member', 'B.client')", [p('A', 'orderer'), p('B', 'peer')], false],
    ["AND('Hosp1.peer', OutOf(2, 'Hosp2.peer', 'Hosp3.peer', 'Hosp4.peer'))", [p('Hosp1', 'peer'), p('Hosp4', 'peer'), p('Hosp2', 'peer')], true],
    ["AND('Hosp1.peer', OutOf(2, 'Hosp2.peer', 'Hosp3.peer', 'Hosp4.peer'))", [p('Hosp1', 'peer'), p('Hosp4', 'peer'), p('Hosp1', 'peer')], false],
    ["OR(AND('A.doctor', 'A.supervisor'), 'A.admin')", [p('A', 'doctor'), p('A', 'nurse')], false],
    ["OR(AND('A.doctor', 'A.supervisor'), 'A.admin')", [p('A', 'supervisor'), p('A', 'doctor')], true],
    // A device and a laboratory are clients (not nodes), and match only their own role.
    ["'A.client'", [p('A', 'device')], true],
    ["'A.device'", [p('A', 'laboratory')], false],
    ["'A.laboratory'", [p('A', 'laboratory')], true],
  ];
  for (const [text, signers, expected] of table) {
    it(`${text} with [${signers.map((s) => `${s.org}.${s.role}`).join(', ')}] → ${expected}`, () => {
      assert.equal(evaluatePolicy(parsePolicy(text), signers), expected);
    });
  }

  it('each signer satisfies at most one principal (distinct signers)', () => {
    const twoPeers = parsePolicy("OutOf(2, 'A.peer', 'A.peer')");
    assert.equal(evaluatePolicy(twoPeers, [p('A', 'peer')]), false);
    assert.equal(evaluatePolicy(twoPeers, [p('A', 'peer'), p('A', 'peer')]), true);
    const andSame = parsePolicy("AND('A.member', 'A.member', 'A.member')");
    assert.equal(evaluatePolicy(andSame, [p('A', 'peer'), p('A', 'doctor')]), false);
    assert.equal(evaluatePolicy(andSame, [p('A', 'peer'), p('A', 'doctor'), p('A', 'admin')]), true);
  });

  it('finds an assignment where a greedy matcher would fail', () => {
    // A greedy evaluator lets the peer satisfy 'A.member' first and then has nobody for 'A.peer'.
    const policy = parsePolicy("AND('A.member', 'A.peer')");
    assert.equal(evaluatePolicy(policy, [p('A', 'peer'), p('A', 'doctor')]), true);
    assert.equal(evaluatePolicy(policy, [p('A', 'peer'), p('A', 'peer')]), true);
    assert.equal(evaluatePolicy(policy, [p('A', 'doctor'), p('A', 'nurse')]), false);
    // Nested: the first OR branch greedily takes the admin, which the second AND needs.
    const nested = parsePolicy("AND(OR('A.client', 'A.peer'), 'A.admin')");
    assert.equal(evaluatePolicy(nested, [p('A', 'admin'), p('A', 'peer')]), true);
    assert.equal(evaluatePolicy(nested, [p('A', 'admin')]), false);
    const choose = parsePolicy("OutOf(2, OR('A.member', 'B.member'), 'A.doctor', 'B.nurse')");
    assert.equal(evaluatePolicy(choose, [p('A', 'doctor'), p('B', 'nurse')]), true);
    assert.equal(evaluatePolicy(choose, [p('A', 'doctor')]), false);
  });

  it('matches a brute-force reference on random small policies and signer sets', () => {
    const orgs = ['A', 'B'];
    const roles: Role[] = ['member', 'client', 'peer', 'doctor', 'admin'];
    const issuable: Role[] = ['peer', 'orderer', 'doctor', 'admin'];
    const principalArb = fc.record({ org: fc.constantFrom(...orgs), role: fc.constantFrom(...roles) });
    const policyArb = fc.letrec<{ policy: Policy }>((tie) => ({
      policy: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        principalArb.map((pr) => signedBy(pr.org, pr.role)),
        fc.array(tie('policy'), { minLength: 1, maxLength: 3 }).map((ps) => and(...ps)),
        fc.array(tie('policy'), { minLength: 1, maxLength: 3 }).map((ps) => or(...ps)),
        fc.array(tie('policy'), { minLength: 1, maxLength: 3 }).chain((ps) => fc.integer({ min: 1, max: ps.length }).map((n) => outOf(n, ...ps))),
      ),
    })).policy;
    const signersArb = fc.array(fc.record({ org: fc.constantFrom(...orgs), role: fc.constantFrom(...issuable) }), { maxLength: 5 });

    // Reference: try every assignment of signers to leaves (each signer at most once).
    const reference = (policy: Policy, signers: Principal[]): boolean => {
      const leaves = policyPrincipals(policy);
      const assign = (leafIndex: number, used: boolean[], chosen: boolean[]): boolean => {
        if (leafIndex === leaves.length) return satisfied(policy, chosen, { i: 0 });
        if (assign(leafIndex + 1, used, [...chosen, false])) return true;
        for (let s = 0; s < signers.length; s++) {
          if (used[s] || !principalMatches(leaves[leafIndex]!, signers[s]!)) continue;
          const nextUsed = [...used];
          nextUsed[s] = true;
          if (assign(leafIndex + 1, nextUsed, [...chosen, true])) return true;
        }
        return false;
      };
      return assign(
        0,
        signers.map(() => false),
        [],
      );
    };
    const satisfied = (policy: Policy, chosen: boolean[], cursor: { i: number }): boolean => {
      if (policy.type === 'signedBy') return chosen[cursor.i++] === true;
      const results = policy.policies.map((sub) => satisfied(sub, chosen, cursor));
      const count = results.filter(Boolean).length;
      const need = policy.type === 'and' ? results.length : policy.type === 'or' ? 1 : policy.n;
      return count >= need;
    };

    fc.assert(
      fc.property(policyArb, signersArb, (policy, signers) => {
        if (policyPrincipals(policy).length > 8) return; // keep the brute force small
        const expected = reference(policy, signers);
        const what = `${formatPolicy(policy)} / ${JSON.stringify(signers)}`;
        assert.equal(evaluatePolicy(policy, signers), expected, what);
        // Memoised per policy: asked again, in another order, the same verdict.
        assert.equal(evaluatePolicy(policy, [...signers].reverse()), expected, `memoised: ${what}`);
        assert.equal(evaluatePolicy(policy, signers, { method: 'residual' }), expected, `residual: ${what}`);
        assert.equal(evaluatePolicy(policy, signers, { method: 'selection' }), expected, `selection: ${what}`);
      }),
      { numRuns: 600, seed: 20260101 },
    );
  });

  it('memoises verdicts by the multiset of signers: duplicates count, order does not', () => {
    const policy = parsePolicy(`OutOf(2, 'A.peer', 'B.peer', 'C.peer')`);
    assert.equal(evaluatePolicy(policy, [p('A', 'peer')]), false);
    assert.equal(evaluatePolicy(policy, [p('A', 'peer'), p('A', 'peer')]), false, 'two A signers fill one A leaf');
    assert.equal(evaluatePolicy(policy, [p('B', 'peer'), p('A', 'peer')]), true);
    assert.equal(evaluatePolicy(policy, [p('A', 'peer'), p('B', 'peer')]), true);
    assert.equal(evaluatePolicy(policy, [p('A', 'peer')]), false, 'an earlier verdict for another set is not reused');
    // Org names that could collide if merely concatenated stay distinct.
    const tricky = parsePolicy(`AND('ab.peer', 'a.peer')`);
    assert.equal(evaluatePolicy(tricky, [p('ab', 'peer'), p('a', 'peer')]), true);
    assert.equal(evaluatePolicy(tricky, [p('a', 'peer'), p('a', 'peer')]), false);
  });

  it('stays fast on the largest policies and many signers', () => {
    const orgs = Array.from({ length: 64 }, (_, i) => `O${i}`);
    const big = parsePolicy(`OutOf(32, ${orgs.map((o) => `'${o}.peer'`).join(', ')})`);
    const signers = orgs.slice(0, 40).map((o) => p(o, 'peer'));
    assert.equal(evaluatePolicy(big, signers), true);
    assert.equal(evaluatePolicy(big, signers.slice(0, 31)), false);
    const members = parsePolicy(`OutOf(32, ${Array.from({ length: 64 }, () => "'A.member'").join(', ')})`);
    const many = Array.from({ length: 1000 }, (_, i) => p('A', i % 2 === 0 ? 'doctor' : 'nurse'));
    assert.equal(evaluatePolicy(members, many), true);
    assert.equal(evaluatePolicy(members, many.slice(0, 31)), false);
    // Many crossing principals: the residual method alone runs out of budget here, the
    // selection method answers.
    const orgs4 = ['A', 'B', 'C', 'D'];
    const roles6: Role[] = ['member', 'client', 'peer', 'doctor', 'admin', 'nurse'];
    const crossing = Array.from({ length: 16 }, (_, i) =>
      and(
        signedBy(orgs4[i % 4]!, 'member'),
        signedBy(orgs4[(i + 1) % 4]!, 'client'),
        signedBy(orgs4[(i + 2) % 4]!, roles6[i % 6]!),
        signedBy(orgs4[(i + 3) % 4]!, 'doctor'),
      ),
    );
    const issuable5: Role[] = ['peer', 'doctor', 'admin', 'nurse', 'orderer'];
    const crowd = Array.from({ length: 40 }, (_, i) => p(orgs4[i % 4]!, issuable5[i % 5]!));
    assert.equal(evaluatePolicy(outOf(2, ...crossing), crowd, { method: 'residual' }), false); // budget exhausted
    assert.equal(evaluatePolicy(outOf(2, ...crossing), crowd), true);
    assert.equal(evaluatePolicy(outOf(6, ...crossing), crowd), true);
    // Only 8 doctors among the signers and every AND branch needs one: at most 8 branches.
    // (9 is false either by exhausting the search or by the budget — false both ways; 11
    // needs 44 leaves from 40 signers and is refuted at once by the lower bound.)
    assert.equal(evaluatePolicy(outOf(8, ...crossing), crowd), true);
    assert.equal(evaluatePolicy(outOf(9, ...crossing), crowd), false);
    assert.equal(evaluatePolicy(outOf(11, ...crossing), crowd, { method: 'selection', stepsMax: 10 }), false);
    // Garbage signer entries are ignored, not fatal.
    assert.equal(evaluatePolicy(parsePolicy("'A.peer'"), [null as unknown as Principal, p('A', 'peer')]), true);
  });
});

// The timeouts only turn a hang into a failure; nothing here asserts on speed.
describe('policy parser fuzz', { timeout: 120_000 }, () => {
  const validTexts = [
    "AND('Hosp1.peer', OutOf(2, 'Hosp2.peer', 'Hosp3.peer', 'Hosp4.peer'))",
    "OR('A.admin', AND('B.doctor', 'B.supervisor'))",
    "OutOf(1, 'A.member')",
    "'Org1.client'",
  ];
  const onlyParseErrors = (text: string): void => {
    try {
      const policy = parsePolicy(text);
      // Whatever parses must format and re-parse to the same AST.
      assert.deepEqual(parsePolicy(formatPolicy(policy)), policy);
    } catch (err) {
      if (!(err instanceof PolicyParseError)) throw err;
      assert.ok(Number.isInteger(err.position) && err.position >= 0 && err.position <= Math.max(text.length, POLICY_TEXT_LENGTH_MAX));
      assert.ok(err.expected.length > 0);
    }
  };

  it('random strings only ever produce PolicyParseError', () => {
    const alphabet = fc.constantFrom(...'ANDORutOf()\',. 0123AB.peeradmin\n\t"😀'.split(''), 'AND(', 'OutOf(', "'A.peer'", ', ');
    fc.assert(fc.property(fc.string(), onlyParseErrors), { numRuns: 1500, seed: 7 });
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 60 }).map((parts) => parts.join('')),
        onlyParseErrors,
      ),
      { numRuns: 3000, seed: 8 },
    );
  });

  it('mutated valid policies only ever produce PolicyParseError', () => {
    const mutation = fc.record({
      index: fc.nat(),
      kind: fc.constantFrom('delete', 'insert', 'replace', 'duplicate'),
      char: fc.constantFrom(..."()',. 0123456789ANDORXpeer".split('')),
      length: fc.integer({ min: 1, max: 12 }),
    });
    const mutate = (text: string, mutations: Array<{ index: number; kind: string; char: string; length: number }>): string => {
      let out = text;
      for (const m of mutations) {
        const i = out.length === 0 ? 0 : m.index % out.length;
        if (m.kind === 'delete') out = out.slice(0, i) + out.slice(i + m.length);
        else if (m.kind === 'insert') out = out.slice(0, i) + m.char + out.slice(i);
        else if (m.kind === 'replace') out = out.slice(0, i) + m.char + out.slice(i + 1);
        else out = out.slice(0, i) + out.slice(i, i + m.length).repeat(2) + out.slice(i + m.length);
      }
      return out;
    };
    fc.assert(
      fc.property(fc.constantFrom(...validTexts), fc.array(mutation, { minLength: 1, maxLength: 4 }), (text, mutations) => {
        onlyParseErrors(mutate(text, mutations));
      }),
      { numRuns: 4000, seed: 9 },
    );
  });

  it('adversarially large inputs finish quickly with PolicyParseError', () => {
    // Counted in work, not time: these must be rejected, and each parse is linear in the input.
    for (const text of [
      'OR('.repeat(5000),
      `OR(${"'A.peer',".repeat(2000)}'A.peer')`,
      `${"'".repeat(4095)}`,
      `OutOf(${'9'.repeat(4000)}, 'A.peer')`,
      '('.repeat(4096),
    ]) {
      assert.throws(() => parsePolicy(text), PolicyParseError);
    }
  });
});
