// The console's pseudonym (WebCrypto) is the one every enrolment path derives (pseudonym.ts):
// a patient registered in a browser keeps the pseudonym their records are filed under.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newPseudonymKey, patientPseudonymOf } from './pseudonym.ts';
import { patientPseudonymWebCrypto } from './pseudonym-webcrypto.ts';

describe('patient pseudonym with WebCrypto', () => {
  it('equals patientPseudonymOf for the same key, hospital and login; refuses what is not a key', async () => {
    for (let i = 0; i < 5; i++) {
      const key = newPseudonymKey();
      assert.equal(await patientPseudonymWebCrypto(`${key}\n`, 'Hospital1', `patient${i}`), patientPseudonymOf(key, 'Hospital1', `patient${i}`));
    }
    const key = newPseudonymKey();
    assert.notEqual(await patientPseudonymWebCrypto(key, 'Hospital2', 'p'), await patientPseudonymWebCrypto(key, 'Hospital1', 'p'));
    await assert.rejects(patientPseudonymWebCrypto('-----BEGIN PRIVATE KEY-----', 'Hospital1', 'p'), /not a pseudonymisation key/);
  });
});
