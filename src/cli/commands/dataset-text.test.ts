// How `dataset list` names the caller's standing (the network-backed behaviour is in dataset.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accessText } from './dataset.ts';

describe('dataset list: the standing column', () => {
  it('says "stats only" for an approval that grants statistics alone (no licence to download), "approved" when it grants read', () => {
    assert.equal(accessText({ access: 'approved', grantedActions: ['statistics'] }), 'stats only');
    assert.equal(accessText({ access: 'approved', grantedActions: ['read', 'statistics'] }), 'approved');
    assert.equal(accessText({ access: 'approved', grantedActions: ['read'] }), 'approved');
    // A node that predates grantedActions: the standing as it says it.
    assert.equal(accessText({ access: 'approved' }), 'approved');
    assert.equal(accessText({ access: 'not-authorised', grantedActions: [] }), 'not authorised');
    assert.equal(accessText({ access: 'owner', grantedActions: [] }), 'owner');
  });
});
