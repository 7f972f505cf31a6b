// The node-local registration store (decision 1252): one-time secrets kept as hashes, expiry,
// lock after wrong secrets, the bound on open registrations, the state machine, durability.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EnrolmentError, EnrolmentStore, registrationIdOfSecret, SECRET_ATTEMPTS_MAX } from './enrolment-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'medledger-enrolstore-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (opts?: ConstructorParameters<typeof EnrolmentStore>[1]): EnrolmentStore => new EnrolmentStore(join(dir, `s${n++}`, 'enrolments.sqlite'), opts);
const code = (c: string) => (e: unknown) => e instanceof EnrolmentError && e.code === c;
const reg = { name: 'dr.new', role: 'doctor', pseudonym: null, registeredBy: 'Hospital1/admin1' };
const req = { csrPem: 'CSR', commonName: 'dr.new', publicKeyPem: 'PUB' };
const T0 = 1_800_000_000_000;

describe('EnrolmentStore', () => {
  it('a secret of 256 random bits naming its registration, stored only as a hash, in a file only the node reads', () => {
    const s = fresh();
    const { registration, secret } = s.register(reg, T0);
    assert.equal(registrationIdOfSecret(secret), registration.id);
    assert.ok(secret.length >= 32 + 1 + 43);
    for (const f of [s.path, `${s.path}-wal`, `${s.path}-shm`]) assert.equal(statSync(f).mode & 0o077, 0, `${f} is private`);
    const raw = (s as unknown as { db: { prepare(q: string): { get(): Record<string, unknown> } } }).db.prepare('SELECT * FROM registrations').get();
    assert.ok(!JSON.stringify(raw).includes(secret.split('.')[1]!), 'the secret itself is not stored');
    s.close();
  });

  it('request → issue → collect; the secret is then spent', () => {
    const s = fresh();
    const { registration, secret } = s.register(reg, T0);
    assert.equal(s.collect(secret, T0 + 1).status, 'registered', 'collect before issue only tells the state');
    assert.throws(() => s.issue(registration.id, { certPem: 'C', serialHex: 'ab' }, T0 + 1), code('NOT_REQUESTED'));
    assert.equal(s.bindRequest(secret, req, T0 + 2).status, 'requested');
    assert.throws(() => s.bindRequest(secret, req, T0 + 3), code('ALREADY_REQUESTED'));
    assert.deepEqual(
      s.pending(T0 + 3).map((r) => r.id),
      [registration.id],
    );
    assert.equal(s.issue(registration.id, { certPem: 'C', serialHex: 'ab' }, T0 + 4).status, 'issued');
    assert.throws(() => s.issue(registration.id, { certPem: 'C', serialHex: 'ab' }, T0 + 4), code('ALREADY_ENROLLED'));
    assert.throws(() => s.bindRequest(secret, req, T0 + 5), code('ALREADY_ENROLLED'));
    const got = s.collect(secret, T0 + 6);
    assert.equal(got.status, 'collected');
    assert.equal(got.certPem, 'C');
    assert.throws(() => s.collect(secret, T0 + 7), code('SECRET_SPENT'));
    assert.deepEqual(s.pending(T0 + 7), []);
    s.close();
  });

  it('refuses a request for another name, a wrong secret (locks after a few), an unknown registration', () => {
    const s = fresh();
    const { registration, secret } = s.register(reg, T0);
    assert.throws(() => s.bindRequest(secret, { ...req, commonName: 'dr.other' }, T0), code('NAME_MISMATCH'));
    assert.throws(() => s.bindRequest('nonsense', req, T0), code('SECRET_INVALID'));
    assert.throws(() => s.bindRequest(`${'0'.repeat(32)}.${'A'.repeat(43)}`, req, T0), code('REGISTRATION_NOT_FOUND'));
    const wrong = `${registration.id}.${'A'.repeat(43)}`;
    for (let i = 0; i < SECRET_ATTEMPTS_MAX; i++) assert.throws(() => s.bindRequest(wrong, req, T0), code('SECRET_INVALID'));
    assert.throws(() => s.bindRequest(secret, req, T0), code('SECRET_LOCKED'), 'even the right secret, once locked');
    s.close();
  });

  it('secrets expire; an expired registration no longer blocks the name', () => {
    const s = fresh({ secretTtlMs: 60_000 });
    const { secret } = s.register(reg, T0);
    assert.throws(() => s.register(reg, T0 + 1000), code('ALREADY_REGISTERED'));
    assert.throws(() => s.bindRequest(secret, req, T0 + 60_000), code('SECRET_EXPIRED'));
    const again = s.register(reg, T0 + 60_000);
    assert.equal(s.bindRequest(again.secret, req, T0 + 60_001).status, 'requested');
    s.close();
  });

  it('bounds the open registrations; collected ones do not count; re-enrolment lists the earlier serials', () => {
    const s = fresh({ openRegistrationsMax: 2 });
    const a = s.register({ ...reg, name: 'a' }, T0);
    s.register({ ...reg, name: 'b' }, T0);
    assert.throws(() => s.register({ ...reg, name: 'c' }, T0), code('TOO_MANY_REGISTRATIONS'));
    s.bindRequest(a.secret, { ...req, commonName: 'a' }, T0);
    s.issue(a.registration.id, { certPem: 'C', serialHex: '1f' }, T0);
    s.collect(a.secret, T0);
    const c = s.register({ ...reg, name: 'c' }, T0);
    assert.ok(c.registration.id);
    s.close();
    const s2 = new EnrolmentStore(s.path, { openRegistrationsMax: 3 });
    const again = s2.register({ ...reg, name: 'a' }, T0 + 1);
    assert.deepEqual(s2.issuedSerialsOf('a', again.registration.id), ['1f'], 'durable across a restart');
    assert.equal(s2.list(100).length, 4);
    // Newest first, a page at a time after the last one seen: every registration once, in order.
    const all = s2.list(100).map((r) => r.id);
    const paged: string[] = [];
    for (let page = s2.list(1); page.length > 0; page = s2.list(1, page[0])) paged.push(page[0]!.id);
    assert.deepEqual(paged, all);
    assert.equal(all[0], again.registration.id, 'the latest registration first');
    s2.close();
  });
});
