// BMRS's smart contract as its published state machine (paper 004, Algorithm 1 and §3.4):
// states 0 user, 1 CAMS, 2 service provider, 3 dead; actions Authentication, Permission,
// Violation, No Action. MedLedger runs one machine per (service provider, patient) pair; the rule
// engine (rules.ts) decides which actions an access applies. The table below is the exact reading
// recorded in docs/decisions/0901-bmrs-state-machine.md — every cell says where it comes from.

export const BMRS_STATES = [0, 1, 2, 3] as const;
export type BmrsState = (typeof BMRS_STATES)[number];
export const BMRS_STATE_NAMES: Readonly<Record<BmrsState, string>> = { 0: 'user', 1: 'CAMS', 2: 'service provider', 3: 'dead' };

export const BMRS_ACTIONS = ['Authentication', 'Permission', 'Violation', 'NoAction'] as const;
export type BmrsAction = (typeof BMRS_ACTIONS)[number];

/** Algorithm 1's "Ensure" messages (plus the body's "take permission"). */
export type BmrsMessage = 'authentication is successful' | 'permission granted' | 'take permission' | 'no action required' | 'error and abort';

export interface BmrsTransition {
  readonly to: BmrsState;
  readonly message: BmrsMessage;
  /** False when the machine refuses the action ("error and abort"). */
  readonly ok: boolean;
}

const t = (to: BmrsState, message: BmrsMessage): BmrsTransition => ({ to, message, ok: message !== 'error and abort' });

/** TABLE[state][action]. */
export const BMRS_TABLE: Readonly<Record<BmrsState, Readonly<Record<BmrsAction, BmrsTransition>>>> = {
  0: {
    Authentication: t(1, 'authentication is successful'), // Alg. 1 lines 4–7
    NoAction: t(0, 'no action required'), // lines 8–11
    Permission: t(0, 'error and abort'), // not listed for state 0: no permission before authentication
    Violation: t(0, 'error and abort'), // listed (line 3) without a branch: refused, nothing to kill yet
  },
  1: {
    Authentication: t(1, 'authentication is successful'), // lines 4–7 apply to "state 0 and state 1"
    NoAction: t(0, 'no action required'), // lines 8–11: "move S(0)" — the shared branch, read literally
    Permission: t(2, 'permission granted'), // the "Permission granted" message of line 2 has no other edge
    Violation: t(2, 'error and abort'), // §3.4 prose: "state 1 and the action is Violation → state 2"
  },
  2: {
    Permission: t(1, 'take permission'), // lines 14–17
    NoAction: t(2, 'no action required'), // lines 18–21
    Violation: t(3, 'error and abort'), // lines 22–25
    Authentication: t(2, 'error and abort'), // not listed for state 2: refused, state kept
  },
  3: {
    Authentication: t(3, 'error and abort'), // lines 27–31: every action
    Permission: t(3, 'error and abort'),
    Violation: t(3, 'error and abort'),
    NoAction: t(3, 'error and abort'),
  },
};

export function bmrsStep(state: BmrsState, action: BmrsAction): BmrsTransition {
  return BMRS_TABLE[state][action];
}

export interface BmrsStep {
  readonly from: BmrsState;
  readonly action: BmrsAction;
  readonly to: BmrsState;
  readonly message: BmrsMessage;
}

export interface BmrsRun {
  readonly from: BmrsState;
  readonly to: BmrsState;
  readonly steps: readonly BmrsStep[];
}

/**
 * What one governed access amounts to for the machine (decision 0901):
 *  - 'permission': the rules allow it;
 *  - 'denial': an honest request the rules do not cover (no consent, a level above the consent,
 *    an expired application …) — refused and audited, but not an action of the machine;
 *  - 'violation': a request the requester cannot honestly make (rules.ts violationOf: claiming an
 *    emergency without being entitled to break the glass, acting after the patient revoked their
 *    consent) — BMRS's Violation.
 */
export type BmrsOutcome = 'permission' | 'denial' | 'violation';

/**
 * How one access drives a session (decision 0901):
 *  - a session in state 0 is first authenticated (the transaction's creator certificate was just
 *    validated by the MSP, CAMS's authentication in MedLedger) → 1;
 *  - a permitted access: Permission in state 1 ("permission granted" → 2), No Action in state 2
 *    (the provider already holds its permission);
 *  - a violation: Violation (1 → 2, 2 → 3);
 *  - an honest denial: nothing after authentication (no edge of the machine fits "asked for
 *    something not granted"; the literal (1, No Action) → 0 edge would un-authenticate);
 *  - in state 3 the access is refused whatever the rules say (the step is logged, state stays 3).
 */
export function bmrsDrive(state: BmrsState, outcome: BmrsOutcome): BmrsRun {
  const steps: BmrsStep[] = [];
  let s = state;
  const apply = (action: BmrsAction): void => {
    const tr = bmrsStep(s, action);
    steps.push({ from: s, action, to: tr.to, message: tr.message });
    s = tr.to;
  };
  if (s === 3) {
    apply(outcome === 'permission' ? 'Permission' : outcome === 'violation' ? 'Violation' : 'NoAction');
    return { from: state, to: s, steps };
  }
  if (s === 0) apply('Authentication');
  if (outcome === 'permission') apply(s === 2 ? 'NoAction' : 'Permission');
  else if (outcome === 'violation') apply('Violation');
  return { from: state, to: s, steps };
}

/**
 * The patient withdrew a permission the provider held (revokeConsent naming them): Algorithm 1's
 * state-2 Permission edge, "take permission" (2 → 1). In any other state nothing is held: no step.
 */
export function bmrsTakePermission(state: BmrsState): BmrsRun {
  if (state !== 2) return { from: state, to: state, steps: [] };
  const tr = bmrsStep(2, 'Permission');
  return { from: 2, to: tr.to, steps: [{ from: 2, action: 'Permission', to: tr.to, message: tr.message }] };
}

export function isBmrsState(value: unknown): value is BmrsState {
  return value === 0 || value === 1 || value === 2 || value === 3;
}
