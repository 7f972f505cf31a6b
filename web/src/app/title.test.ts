import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { documentTitle, pageNameAt } from './title.ts';

const pages = [
  { path: '/records', label: 'Records' },
  { path: '/my-data', label: 'My data' },
  { path: '/market', label: 'Data market' },
];

describe('the tab title', () => {
  it('names the page, then the hospital, then the product', () => {
    assert.equal(documentTitle('Records', 'Hospital2'), 'Records · Hospital2 · MedLedger');
    assert.equal(documentTitle('Sign in', 'Hospital1'), 'Sign in · Hospital1 · MedLedger');
  });

  it('leaves out what is not known', () => {
    assert.equal(documentTitle(null, 'Hospital3'), 'Hospital3 · MedLedger');
    assert.equal(documentTitle('The console cannot start', null), 'The console cannot start · MedLedger');
    assert.equal(documentTitle('', ''), 'MedLedger');
  });

  it('finds the page of a location, its sub-paths included, and no page for a path that only starts alike', () => {
    assert.equal(pageNameAt('/records', pages), 'Records');
    assert.equal(pageNameAt('/records/h1-p1-visit', pages), 'Records');
    assert.equal(pageNameAt('/my-data', pages), 'My data');
    assert.equal(pageNameAt('/recordsx', pages), null);
    assert.equal(pageNameAt('/', pages), null);
    assert.equal(pageNameAt('/nowhere', pages), null);
  });
});
