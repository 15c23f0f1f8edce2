// Minors and guardians: a guardian (18 or older) enrolls a minor and acts for them until they
// are adults; under 13 only with verified parental consent; minors' records only in the
// collections the policy lists; a child found under 13 without that consent is erased at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PASSWORD, auditOf, sqlite, startServer, world } from './lib/harness.js';

let srv, w, parent, other;
before(async () => {
  srv = await startServer();
  w = await world(srv);
  for (const name of ['parent', 'other']) {
    const u = await w.c.req('POST', '/v1/users', { token: w.tokens.admin,
      json: { username: name, password: PASSWORD(name), role: 'patient' } });
    assert.equal(u.status, 201);
    w.users[name] = u.json.id;
    w.tokens[name] = await w.c.login(name, PASSWORD(name));
  }
  parent = w.tokens.parent;
  other = w.tokens.other;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

// A birth date `years` years before the server's today, minus `days` days.
function yearsAgo(years, days = 0) {
  const d = new Date(Date.now() + srv.offset * 1000);
  d.setUTCFullYear(d.getUTCFullYear() - years);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

const enroll = (json, token, purpose) => w.c.req('POST', '/v1/subjects', { token, purpose,
  json: { policy_version: w.version, profile: { name: 'A Minor' }, ...json } });
const count = (table, subject) => Number(sqlite(srv.data, `SELECT count(*) FROM ${table} WHERE subject_id = '${subject}'`));

test('a guardian enrolls their minor child and acts for them as the child would', async () => {
  const r = await enroll({ birth_date: yearsAgo(15), guardian: { birth_date: '1980-02-02', relationship: 'parent' } },
    parent, 'self');
  assert.equal(r.status, 201, r.text);
  const kid = r.json.id;
  // The parent is the child's guardian, not the child: their own account stays unlinked.
  const relog = await w.c.req('POST', '/v1/auth/login', { json: { username: 'parent', password: PASSWORD('parent') } });
  assert.equal(relog.json.subject_id, null);
  const read = await w.c.req('GET', `/v1/subjects/${kid}`, { token: parent, purpose: 'self' });
  assert.equal(read.status, 200);
  assert.equal(read.json.profile.fields.name, 'A Minor');
  const visit = await w.c.req('POST', `/v1/subjects/${kid}/records/visits`, { token: parent, purpose: 'self',
    json: { date: '2026-03-01', reason: 'asthma check' } });
  assert.equal(visit.status, 201);
  // Another person is refused; the audit log flags the guardian's accesses.
  const stranger = await w.c.req('GET', `/v1/subjects/${kid}`, { token: other, purpose: 'self' });
  assert.equal(stranger.status, 403);
  assert.equal(stranger.json.reason, 'not-own-subject');
  const mine = (await auditOf(w, kid)).filter((e) => e.actor === w.users.parent);
  assert.deepEqual(mine.map((e) => [e.action, e.decision, e.reason]), [
    ['subject.enroll', 'permit', 'permit'], ['subject.read', 'permit', 'guardian'], ['record.create', 'permit', 'guardian']]);
  // A guardian can also look their child up.
  w.kid = kid;
});

test('minors have records only in the collections the policy lists', async () => {
  const pay = await w.c.req('POST', `/v1/subjects/${w.kid}/records/payments`, { token: w.tokens.staff1, purpose: 'payment',
    json: { amount: 40 } });
  assert.equal(pay.status, 403);
  assert.equal(pay.json.reason, 'minor-feature-limited');
  const byParent = await w.c.req('POST', `/v1/subjects/${w.kid}/records/payments`, { token: parent, purpose: 'self',
    json: { amount: 40 } });
  assert.equal(byParent.status, 403);
  assert.equal(byParent.json.reason, 'minor-feature-limited');
  assert.equal(count('records', w.kid), 2); // the profile and the visit
});

test('a guardian must be an adult, and enrolls only minors', async () => {
  const before = sqlite(srv.data, 'SELECT count(*) FROM subjects').trim();
  const young = await enroll({ birth_date: yearsAgo(15), guardian: { birth_date: yearsAgo(17), relationship: 'parent' } },
    parent, 'self');
  assert.equal(young.status, 422);
  assert.equal(young.json.reason, 'guardian-under-age');
  const adult = await enroll({ birth_date: yearsAgo(30), guardian: { birth_date: '1960-01-01', relationship: 'parent' } },
    parent, 'self');
  assert.equal(adult.status, 403);
  assert.equal(adult.json.reason, 'not-a-minor');
  // A minor without a guardian is below the minimum age (18).
  const alone = await enroll({ birth_date: yearsAgo(16) }, w.tokens.staff1, 'operations');
  assert.equal(alone.status, 422);
  assert.equal(alone.json.reason, 'under-minimum-age');
  assert.equal(sqlite(srv.data, 'SELECT count(*) FROM subjects').trim(), before);
});

test('under 13 only with verified parental consent', async () => {
  const guardian = { user_id: w.users.parent, birth_date: '1980-02-02', relationship: 'parent' };
  const unverified = await enroll({ birth_date: yearsAgo(10), guardian }, w.tokens.staff1, 'operations');
  assert.equal(unverified.status, 422);
  assert.equal(unverified.json.reason, 'parental-consent-required');
  const verified = await enroll({ birth_date: yearsAgo(10), guardian: { ...guardian, verification: 'signed-form' } },
    w.tokens.staff1, 'operations');
  assert.equal(verified.status, 201);
  assert.deepEqual(JSON.parse(sqlite(srv.data, `SELECT json_array(relationship, verification) FROM guardians WHERE subject_id = '${verified.json.id}'`)),
    ['parent', 'signed-form']);
  // The named guardian acts for the child.
  assert.equal((await w.c.req('GET', `/v1/subjects/${verified.json.id}`, { token: parent, purpose: 'self' })).status, 200);
  // With verified consent, a corrected birth date keeps the child.
  const fix = await w.c.req('PUT', `/v1/subjects/${verified.json.id}/birth-date`, { token: w.tokens.staff1,
    purpose: 'operations', json: { birth_date: yearsAgo(9) } });
  assert.equal(fix.status, 200);
  assert.equal(fix.json.status, 'active');
});

test('guardian input is validated and changes nothing', async () => {
  const before = sqlite(srv.data, 'SELECT count(*) FROM subjects').trim();
  const cases = [
    [{ birth_date: '1980-01-01', relationship: 'uncle' }, 'guardian.relationship'],
    [{ birth_date: '1980-13-01', relationship: 'parent' }, 'guardian.birth_date'],
    [{ birth_date: '1980-01-01', relationship: 'parent', verification: 'a wink' }, 'guardian.verification'],
    [{ birth_date: '1980-01-01', relationship: 'parent', nickname: 'Pa' }, 'guardian'],
    [{ birth_date: '1980-01-01', relationship: 'parent', user_id: w.users.other }, 'guardian.user_id'],
    ['parent', 'guardian'],
  ];
  for (const [guardian, field] of cases) {
    const r = await enroll({ birth_date: yearsAgo(15), guardian }, parent, 'self');
    assert.equal(r.status, 400, JSON.stringify(guardian));
    assert.equal(r.json.field, field);
  }
  // Staff must name the guardian's account, which must be a person's.
  const staffNoUser = await enroll({ birth_date: yearsAgo(15), guardian: { birth_date: '1980-01-01', relationship: 'parent' } },
    w.tokens.staff1, 'operations');
  assert.equal(staffNoUser.json.field, 'guardian.user_id');
  const providerAsGuardian = await enroll({ birth_date: yearsAgo(15),
    guardian: { user_id: w.users.prov1, birth_date: '1980-01-01', relationship: 'parent' } }, w.tokens.staff1, 'operations');
  assert.equal(providerAsGuardian.json.field, 'guardian.user_id');
  assert.equal(sqlite(srv.data, 'SELECT count(*) FROM subjects').trim(), before);
});

test('a child found under 13 without verified parental consent is erased at once, and audited', async () => {
  const sub = await w.enroll({ name: 'Claimed Adult', email: 'claimed@example.org' });
  await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } });
  const v = await w.c.req('POST', `/v1/subjects/${sub}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment',
    json: { date: '2026-04-01', notes: 'first visit' } });
  assert.equal(v.status, 201);
  const acct = await w.c.req('POST', '/v1/users', { token: w.tokens.admin,
    json: { username: 'claimed', password: PASSWORD('claimed'), role: 'patient', subject_id: sub } });
  assert.equal(acct.status, 201);
  assert.equal(count('records', sub), 2);
  const r = await w.c.req('PUT', `/v1/subjects/${sub}/birth-date`, { token: w.tokens.staff1, purpose: 'operations',
    json: { birth_date: yearsAgo(11) } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { subject_id: sub, status: 'erased' });
  // Gone for everyone, everywhere: records, index, assignment, own account, data key.
  assert.equal((await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' })).status, 404);
  // The provider's assignment went with the rest: they cannot even tell the subject existed.
  const prov = await w.c.req('GET', `/v1/subjects/${sub}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(prov.status, 403);
  assert.equal(prov.json.reason, 'not-assigned');
  const look = await w.c.req('GET', '/v1/subjects?email=claimed@example.org', { token: w.tokens.staff1, purpose: 'operations' });
  assert.deepEqual(look.json.subjects, []);
  for (const t of ['records', 'blind_index', 'assignments']) assert.equal(count(t, sub), 0, t);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM users WHERE subject_id = '${sub}'`).trim(), '0');
  assert.equal(sqlite(srv.data, `ATTACH '${srv.data}/keys.db' AS k; SELECT count(*) FROM k.subject_keys WHERE subject_id = '${sub}'`).trim(), '0');
  assert.equal(sqlite(srv.data, `SELECT status || ':' || ifnull(birth_date, 'none') FROM subjects WHERE id = '${sub}'`).trim(), 'erased:none');
  const login = await w.c.req('POST', '/v1/auth/login', { json: { username: 'claimed', password: PASSWORD('claimed') } });
  assert.equal(login.status, 401);
  const entries = (await auditOf(w, sub)).filter((e) => e.action.startsWith('subject.') && e.reason === 'under-consent-age');
  assert.deepEqual(entries.map((e) => [e.actor, e.action, e.decision, e.reason]), [
    [w.users.staff1, 'subject.birth_date', 'permit', 'under-consent-age'],
    ['system', 'subject.erase', 'permit', 'under-consent-age']]);
  // A second change finds nothing.
  const again = await w.c.req('PUT', `/v1/subjects/${sub}/birth-date`, { token: w.tokens.staff1, purpose: 'operations',
    json: { birth_date: yearsAgo(30) } });
  assert.equal(again.status, 404);
});

test('the birth date changes through one path, which applies the age rules', async () => {
  const sub = await w.enroll({ name: 'Teen Later' });
  const patch = await w.c.req('PATCH', `/v1/subjects/${sub}/records/profile/${
    (await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' })).json.profile.id}`,
  { token: w.tokens.staff1, purpose: 'operations', json: { birth_date: '2015-01-01' } });
  assert.equal(patch.status, 409);
  const bad = await w.c.req('PUT', `/v1/subjects/${sub}/birth-date`, { token: w.tokens.staff1, purpose: 'operations',
    json: { birth_date: 'yesterday' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.field, 'birth_date');
  // Payment does not cover the birth date.
  const pay = await w.c.req('PUT', `/v1/subjects/${sub}/birth-date`, { token: w.tokens.staff1, purpose: 'payment',
    json: { birth_date: yearsAgo(16) } });
  assert.equal(pay.status, 403);
  assert.equal(pay.json.reason, 'purpose-excludes-field');
  const teen = await w.c.req('PUT', `/v1/subjects/${sub}/birth-date`, { token: w.tokens.staff1, purpose: 'operations',
    json: { birth_date: yearsAgo(16) } });
  assert.deepEqual(teen.json, { subject_id: sub, status: 'active' });
  // The profile shows the new date, and the minors rules now apply.
  const g = await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(g.json.profile.fields.birth_date, yearsAgo(16));
  const pay2 = await w.c.req('POST', `/v1/subjects/${sub}/records/payments`, { token: w.tokens.staff1, purpose: 'payment',
    json: { amount: 10 } });
  assert.equal(pay2.json.reason, 'minor-feature-limited');
});

test("a guardian's authority ends when the child comes of age", async () => {
  srv.advance(3 * 366 * 86400);
  const token = await w.c.login('parent', PASSWORD('parent'));
  const r = await w.c.req('GET', `/v1/subjects/${w.kid}`, { token, purpose: 'self' });
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'not-own-subject');
  // And the adult's records are no longer limited.
  const staff = await w.c.login('staff1', PASSWORD('staff1'));
  const pay = await w.c.req('POST', `/v1/subjects/${w.kid}/records/payments`, { token: staff, purpose: 'payment',
    json: { amount: 40 } });
  assert.equal(pay.status, 201);
});
