import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateFhir } from '../../fhir/validate.ts';
import { auditEventBundle, auditEventResource, consentResource, provenanceBundle } from './fhir.ts';
import type { Consent } from './model.ts';
import type { AuditEntry, AuditOp } from './state.ts';
import { pseudonymFor } from './testkit.ts';

const OPS: AuditOp[] = [
  'record.create',
  'record.update',
  'record.erase',
  'consent.grant',
  'consent.revoke',
  'application.apply',
  'application.approve',
  'application.deny',
  'care.start',
  'care.end',
  'patient.enrol',
  'dataset.register',
  'dataset.access',
  'access.read',
  'access.write',
  'access.share',
  'access.statistics',
  'stats.request',
  'stats.result',
  'bmrs.reauthorize',
];

function entry(op: AuditOp, i: number, extra: Partial<AuditEntry> = {}): AuditEntry {
  return {
    auditId: `${'ab'.repeat(32)}-${i}`,
    txId: 'ab'.repeat(32),
    atMs: Date.UTC(2026, 0, 1) + i,
    op,
    actor: { org: 'H1', id: 'doc1', role: 'doctor' },
    recordedBy: i % 2 ? { org: 'H1', id: 'node.H1', role: 'peer' } : null,
    outcome: i % 3 ? 'allow' : 'deny',
    purpose: i % 4 ? 'TREAT' : null,
    patient: pseudonymFor('p'),
    recordId: op.startsWith('dataset') || op.startsWith('stats') ? null : 'r1',
    version: 1,
    datasetId: op.startsWith('dataset') || op.startsWith('stats') ? 'ds1' : null,
    consentId: null,
    applicationId: null,
    custodian: 'H1',
    reasons: i % 3 ? [] : ["care relation: the patient is not in this doctor's care"],
    flags: i % 5 ? [] : ['break-the-glass', 'security-alert'],
    basis: i % 3 ? 'care-relation' : null,
    securityAlert: i % 5 === 0,
    bmrs: { from: 0, to: 2, actions: ['Authentication', 'Permission'] },
    servedDecision: null,
    ...extra,
  };
}

describe('FHIR exports', () => {
  it('every audit operation becomes an AuditEvent that validates; alerts are typed as security alerts', () => {
    OPS.forEach((op, i) => {
      const r = auditEventResource(entry(op, i));
      validateFhir(r);
      assert.equal(r.type.code, i % 5 === 0 ? '110113' : '110110');
      assert.equal(r.outcome, i % 3 ? '0' : '4');
    });
    validateFhir(auditEventBundle(OPS.map((op, i) => entry(op, i))));
  });

  it('provenance covers only successful create/update/erase and validates', () => {
    const entries = OPS.map((op, i) => entry(op, i, { outcome: 'allow' }));
    const b = provenanceBundle(entries);
    validateFhir(b);
    assert.deepEqual(
      b.entry?.map((e) => (e.resource as unknown as { activity: { coding: Array<{ code: string }> } }).activity.coding[0]!.code),
      ['CREATE', 'UPDATE', 'DELETE'],
    );
  });

  it('a Consent validates for every grantee kind and carries purpose, actions and confidentiality', () => {
    const base: Consent = {
      consentId: 'c1',
      patient: pseudonymFor('p'),
      grantee: { kind: 'user', user: 'H2/nurse1' },
      actions: ['read', 'write', 'share', 'statistics'],
      purposes: ['TREAT', 'HRESCH'],
      period: { startMs: 0, endMs: 1000 },
      scope: { recordIds: ['r1'], categories: ['Observation'], maxSensitivity: 'sensitive' },
      status: 'active',
      grantedAtMs: 0,
      revokedAtMs: null,
    };
    for (const grantee of [base.grantee, { kind: 'org', org: 'H3' } as const, { kind: 'role', role: 'researcher' } as const]) {
      const r = consentResource({ ...base, grantee }, 500);
      validateFhir(r);
      assert.equal(r.status, 'active');
      assert.deepEqual(
        r.provision?.securityLabel?.map((c) => c.code),
        ['N', 'R'],
      );
      assert.deepEqual(
        r.provision?.action?.map((a) => a.coding?.[0]?.code),
        ['access', 'correct', 'disclose', 'use'],
      );
    }
    assert.equal(consentResource(base, 1000).status, 'inactive', 'expired');
    // A broken resource is caught by the validator (the check can fail).
    const { scope: _scope, ...noScope } = consentResource(base, 500);
    assert.throws(() => validateFhir(noScope), /scope/);
  });
});
