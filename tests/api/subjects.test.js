// Enrollment (policy acceptance, minimum age), reading a subject, look-up by blind index,
// provider assignment.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, sqlite, startServer, world } from './lib/harness.js';

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const enroll = (json, token = w.tokens.staff1, purpose = 'operations') =>
  w.c.req('POST', '/v1/subjects', { token, purpose, json });

// A birth date `years` years ago, minus `days` days.
function yearsAgo(years, days = 0) {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() - years);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

test('enrollment records the accepted policy version, time and source', async () => {
  const r = await enroll({ policy_version: w.version, birth_date: '1975-02-03', source: 'web',
    profile: { name: 'Ada Lovelace', email: 'ada@example.org' } });
  assert.equal(r.status, 201);
  assert.match(r.json.id, /^sub_[0-9a-z]{26}$/);
  assert.equal(r.json.policy_version, w.version);
  assert.equal(r.json.accepted_source, 'web');
  const g = await w.c.req('GET', `/v1/subjects/${r.json.id}`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(g.status, 200);
  assert.equal(g.json.policy_version, w.version);
  assert.ok(Math.abs(Date.parse(g.json.accepted_at) - Date.now()) < 60000);
  assert.deepEqual(g.json.profile.fields, { name: 'Ada Lovelace', email: 'ada@example.org', birth_date: '1975-02-03' });
});

test('enrollment without the policy in force is refused, and nothing is stored', async () => {
  const before = sqlite(srv.data, 'SELECT count(*) FROM subjects').trim();
  for (const version of [undefined, 'deadbeef', w.version.toUpperCase(), 42]) {
    const r = await enroll({ policy_version: version, birth_date: '1975-02-03', profile: { name: 'X' } });
    assert.equal(r.status, 422, `version ${version}`);
    assert.equal(r.json.type, '/problems/policy-not-accepted');
  }
  assert.equal(sqlite(srv.data, 'SELECT count(*) FROM subjects').trim(), before);
});

test('the minimum age is enforced to the day', async () => {
  const under = await enroll({ policy_version: w.version, birth_date: yearsAgo(18, -1), profile: { name: 'Young' } });
  assert.equal(under.status, 422);
  assert.equal(under.json.type, '/problems/under-minimum-age');
  const exactly = await enroll({ policy_version: w.version, birth_date: yearsAgo(18), profile: { name: 'Just Eighteen' } });
  assert.equal(exactly.status, 201);
});

test('birth dates and bodies are validated', async () => {
  for (const birth_date of [undefined, '1990-02-30', '1990-13-01', '19900101', '2999-01-01', 19900101]) {
    const r = await enroll({ policy_version: w.version, birth_date, profile: { name: 'X' } });
    assert.equal(r.status, 400, String(birth_date));
    assert.equal(r.json.field, 'birth_date');
  }
  const r = await enroll({ policy_version: w.version, birth_date: '1990-01-01', profile: ['x'] });
  assert.equal(r.status, 400);
  const s = await enroll({ policy_version: w.version, birth_date: '1990-01-01', source: 'carrier pigeon', profile: {} });
  assert.equal(s.status, 400);
  assert.equal(s.json.field, 'source');
});

test('a profile field the policy does not declare is refused, naming it', async () => {
  const r = await enroll({ policy_version: w.version, birth_date: '1990-01-01', profile: { name: 'X', ssn: '123-45-6789' } });
  assert.equal(r.status, 422);
  assert.equal(r.json.type, '/problems/undeclared-field');
  assert.equal(r.json.field, 'ssn');
  assert.ok(!r.text.includes('123-45-6789'));
});

test('look-up by email goes through the blind index, ignoring case and spaces', async () => {
  const r = await w.c.req('GET', '/v1/subjects?email=%20GRACE@Example.ORG%20', { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.subjects, [{ id: w.subject }]);
  const phone = await w.c.req('GET', '/v1/subjects?phone=15550102', { token: w.tokens.staff1, purpose: 'operations' });
  assert.deepEqual(phone.json.subjects.map((s) => s.id), [w.subject]);
  const none = await w.c.req('GET', '/v1/subjects?email=nobody@example.org', { token: w.tokens.staff1, purpose: 'operations' });
  assert.deepEqual(none.json.subjects, []);
  // Only indexed fields can be looked up.
  const name = await w.c.req('GET', '/v1/subjects?name=Grace%20Hopper', { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(name.status, 400);
  // The email is not stored in the clear anywhere.
  assert.equal(sqlite(srv.data, "SELECT count(*) FROM blind_index WHERE digest LIKE '%grace%'").trim(), '0');
});

test('look-up shows a provider only their assigned subjects', async () => {
  const mine = await w.c.req('GET', '/v1/subjects?email=grace@example.org', { token: w.tokens.prov1, purpose: 'treatment' });
  // Treatment does not cover contact details, so a provider cannot search by email at all.
  assert.equal(mine.status, 403);
  assert.equal(mine.json.reason, 'purpose-excludes-field');
  const patient = await w.c.req('GET', '/v1/subjects?email=grace@example.org', { token: w.tokens.grace, purpose: 'self' });
  assert.deepEqual(patient.json.subjects, [{ id: w.subject }]);
  const other = await w.c.req('GET', '/v1/subjects?email=ada@example.org', { token: w.tokens.grace, purpose: 'self' });
  assert.deepEqual(other.json.subjects, []);
});

test('assignment needs a provider and the assign power', async () => {
  const sub = await w.enroll({ name: 'New Client' });
  const bad = await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.staff1 } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.field, 'provider');
  const byProvider = await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.prov2, purpose: 'treatment',
    json: { provider: w.users.prov2 } });
  assert.equal(byProvider.status, 403);
  assert.equal((await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.prov2, purpose: 'treatment' })).status, 403);
  const ok = await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov2 } });
  assert.equal(ok.status, 201);
  assert.equal((await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.prov2, purpose: 'treatment' })).status, 200);
  const missing = await w.c.req('POST', '/v1/subjects/sub_00000000000000000000000000/assignments', {
    token: w.tokens.staff1, purpose: 'operations', json: { provider: w.users.prov2 } });
  assert.equal(missing.status, 404);
});

test('a provider who enrolls a client is assigned to them', async () => {
  const r = await enroll({ policy_version: w.version, birth_date: '1991-01-01', profile: { name: 'Client Of Prov2' } },
    w.tokens.prov2, 'treatment');
  assert.equal(r.status, 201);
  assert.equal((await w.c.req('GET', `/v1/subjects/${r.json.id}`, { token: w.tokens.prov2, purpose: 'treatment' })).status, 200);
  assert.equal((await w.c.req('GET', `/v1/subjects/${r.json.id}`, { token: w.tokens.prov1, purpose: 'treatment' })).status, 403);
});

test('a patient enrolls themselves once, and their account is linked', async () => {
  const admin = await w.c.login('admin', ADMIN_PASSWORD);
  const u = await w.c.req('POST', '/v1/users', { token: admin, json: { username: 'newpatient', password: PASSWORD('np'), role: 'patient' } });
  assert.equal(u.status, 201);
  const token = await w.c.login('newpatient', PASSWORD('np'));
  const r = await enroll({ policy_version: w.version, birth_date: '1988-08-08', source: 'app', profile: { name: 'Self Enrolled', email: 'self@example.org' } }, token, 'self');
  assert.equal(r.status, 201);
  const relog = await w.c.req('POST', '/v1/auth/login', { json: { username: 'newpatient', password: PASSWORD('np') } });
  assert.equal(relog.json.subject_id, r.json.id);
  const mine = await w.c.req('GET', `/v1/subjects/${r.json.id}`, { token, purpose: 'self' });
  assert.equal(mine.status, 200);
  assert.equal(mine.json.profile.fields.email, 'self@example.org');
  const again = await enroll({ policy_version: w.version, birth_date: '1988-08-08', profile: { name: 'Twice' } }, token, 'self');
  assert.equal(again.status, 403);
  assert.equal(again.json.reason, 'already-enrolled');
});

test('GET /v1/policy shows the policy in force to anyone', async () => {
  const r = await w.c.req('GET', '/v1/policy');
  assert.equal(r.status, 200);
  assert.match(r.json.version, /^[0-9a-f]{32}$/);
  assert.equal(r.json.organization.name, 'Example Medical Spa');
  assert.equal(r.json.minimum_age, 18);
  assert.deepEqual(Object.keys(r.json.collections).sort(), ['messages', 'payments', 'profile', 'usage', 'visits']);
  assert.deepEqual(r.json.collections.visits, { date: 'user.health.medical_record', reason: 'user.health.medical_record', notes: 'user.health.medical_record' });
  assert.deepEqual(r.json.purposes.treatment.roles, ['provider']);
  assert.deepEqual(r.json.purposes.marketing.requires, ['marketing_email']);
  assert.equal(r.json.roles.provider.scope, 'assigned');
  assert.equal(r.json.categories['user.health.medical_record'].retention, '7y');
  assert.equal(r.json.rights.access, '15d');
});

test('look-ups follow a changed email or phone at once, and forget the old one', async () => {
  const sub = await w.enroll({ name: 'Moving House', email: 'old-address@example.org', phone: '+1 555 0170' });
  const find = async (q) => (await w.c.req('GET', `/v1/subjects?${q}`, { token: w.tokens.staff1, purpose: 'operations' })).json.subjects.map((s) => s.id);
  assert.deepEqual(await find('email=old-address@example.org'), [sub]);
  const profile = (await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' })).json.profile;
  const r = await w.c.req('PATCH', `/v1/subjects/${sub}/records/profile/${profile.id}`, { token: w.tokens.staff1,
    purpose: 'operations', json: { email: 'New-Address@example.org', phone: null } });
  assert.equal(r.status, 200);
  assert.deepEqual(await find('email=new-address@example.org'), [sub]);
  assert.deepEqual(await find('email=old-address@example.org'), []);
  assert.deepEqual(await find('phone=15550170'), []);
  // Changing another field leaves the index as it is.
  await w.c.req('PATCH', `/v1/subjects/${sub}/records/profile/${profile.id}`, { token: w.tokens.staff1,
    purpose: 'operations', json: { name: 'Moved House' } });
  assert.deepEqual(await find('email=new-address@example.org'), [sub]);
});
