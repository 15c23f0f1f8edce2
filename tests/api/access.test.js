// Who may see what: assignment, self, purpose, minimum necessary, and every decision audited.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { auditOf, startServer, world } from './lib/harness.js';

let srv, w, visit;
before(async () => {
  srv = await startServer();
  w = await world(srv);
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { date: '2026-11-01', reason: 'consultation', notes: 'allergic to latex' } });
  assert.equal(r.status, 201);
  visit = r.json.id;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const visitPath = () => `/v1/subjects/${w.subject}/records/visits/${visit}`;

test('the assigned provider reads the visit for treatment', async () => {
  const r = await w.c.req('GET', visitPath(), { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.fields, { date: '2026-11-01', reason: 'consultation', notes: 'allergic to latex' });
});

test('an unassigned provider is refused, and the attempt is audited', async () => {
  for (const path of [visitPath(), `/v1/subjects/${w.subject}`, `/v1/subjects/${w.subject}/records/visits`]) {
    const r = await w.c.req('GET', path, { token: w.tokens.prov2, purpose: 'treatment' });
    assert.equal(r.status, 403, path);
    assert.equal(r.json.reason, 'not-assigned');
    assert.ok(!r.text.includes('latex'));
  }
  const w2 = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov2,
    purpose: 'treatment', json: { notes: 'planted' } });
  assert.equal(w2.status, 403);
  const denied = (await auditOf(w, w.subject)).filter((e) => e.actor === w.users.prov2);
  assert.deepEqual(denied.map((e) => [e.action, e.decision, e.reason, e.purpose]), [
    ['record.read', 'deny', 'not-assigned', 'treatment'],
    ['subject.read', 'deny', 'not-assigned', 'treatment'],
    ['record.list', 'deny', 'not-assigned', 'treatment'],
    ['record.create', 'deny', 'not-assigned', 'treatment'],
  ]);
});

test('an unassigned provider cannot tell a missing subject from a hidden one', async () => {
  const hidden = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.prov2, purpose: 'treatment' });
  const missing = await w.c.req('GET', '/v1/subjects/sub_00000000000000000000000000', { token: w.tokens.prov2, purpose: 'treatment' });
  assert.equal(hidden.status, missing.status);
  assert.deepEqual(hidden.json, missing.json);
});

test('a patient sees their own subject only', async () => {
  const own = await w.c.req('GET', visitPath(), { token: w.tokens.grace, purpose: 'self' });
  assert.equal(own.status, 200);
  assert.equal(own.json.fields.notes, 'allergic to latex');
  const other = await w.enroll({ name: 'Someone Else' });
  const r = await w.c.req('GET', `/v1/subjects/${other}`, { token: w.tokens.grace, purpose: 'self' });
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'not-own-subject');
  const asTreatment = await w.c.req('GET', visitPath(), { token: w.tokens.grace, purpose: 'treatment' });
  assert.equal(asTreatment.status, 403);
  assert.equal(asTreatment.json.reason, 'role-not-allowed-purpose');
});

test('the administrator manages users but reads no health data', async () => {
  for (const purpose of ['treatment', 'operations', 'self', 'payment']) {
    const r = await w.c.req('GET', visitPath(), { token: w.tokens.admin, purpose });
    assert.equal(r.status, 403, purpose);
    assert.ok(!r.text.includes('latex'));
  }
  const s = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.admin, purpose: 'operations' });
  assert.equal(s.status, 403);
});

test('X-Purpose is required and must be a purpose of the policy: 400, audited', async () => {
  const none = await w.c.req('GET', visitPath(), { token: w.tokens.prov1 });
  assert.equal(none.status, 400);
  assert.equal(none.json.type, '/problems/purpose-required');
  const unknown = await w.c.req('GET', visitPath(), { token: w.tokens.prov1, purpose: 'alice@example.org' });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.json.type, '/problems/unknown-purpose');
  const entries = (await auditOf(w, w.subject)).filter((e) => e.actor === w.users.prov1 && e.decision === 'deny');
  assert.deepEqual(entries.slice(-2).map((e) => [e.reason, e.purpose]), [['purpose-required', ''], ['unknown-purpose', '?']]);
  // The unknown purpose text is client input and is not kept.
  assert.ok(!JSON.stringify(await auditOf(w, w.subject)).includes('alice@example.org'));
});

test('the role must be allowed the purpose', async () => {
  const r = await w.c.req('GET', visitPath(), { token: w.tokens.prov1, purpose: 'payment' });
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'role-not-allowed-purpose');
});

test('minimum necessary: each purpose sees only the fields its categories cover', async () => {
  const treat = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.deepEqual(treat.json.profile.fields, { name: 'Grace Hopper', birth_date: '1980-05-17' });
  assert.deepEqual(treat.json.profile.withheld.sort(), ['email', 'phone']);
  const pay = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.staff1, purpose: 'payment' });
  assert.deepEqual(pay.json.profile.fields, { name: 'Grace Hopper', email: 'grace@example.org', phone: '+1 555 0102' });
  assert.deepEqual(pay.json.profile.withheld, ['birth_date']);
  // Payment does not cover health data at all.
  const visitForPay = await w.c.req('GET', visitPath(), { token: w.tokens.staff1, purpose: 'payment' });
  assert.equal(visitForPay.status, 403);
  assert.equal(visitForPay.json.reason, 'purpose-excludes-collection');
  assert.ok(!visitForPay.text.includes('latex'));
});

test('marketing needs the consent the policy names, and never reaches health data', async () => {
  const r = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.staff1, purpose: 'marketing' });
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'consent-required');
  const v = await w.c.req('GET', visitPath(), { token: w.tokens.staff1, purpose: 'marketing' });
  assert.equal(v.status, 403);
});

test('a write must stay within the purpose, and undeclared fields are named', async () => {
  const out = await w.c.req('PATCH', `/v1/subjects/${w.subject}/records/profile/${
    (await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.prov1, purpose: 'treatment' })).json.profile.id}`,
  { token: w.tokens.prov1, purpose: 'treatment', json: { email: 'changed@example.org' } });
  assert.equal(out.status, 403);
  assert.equal(out.json.reason, 'purpose-excludes-field');
  const und = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { date: '2026-11-02', diagnosis_code: 'Z00' } });
  assert.equal(und.status, 422);
  assert.equal(und.json.field, 'diagnosis_code');
  const list = await w.c.req('GET', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(list.json.records.length, 1);
});

test('every decision on a data route is in the audit log, with ids and categories only', async () => {
  const entries = await auditOf(w, w.subject);
  const reads = entries.filter((e) => e.action === 'record.read' && e.decision === 'permit' && e.actor === w.users.prov1);
  assert.ok(reads.length >= 1);
  assert.equal(reads[0].record, visit);
  assert.deepEqual(reads[0].categories, ['user.health.medical_record']);
  assert.equal(reads[0].role, 'provider');
  assert.match(reads[0].credential, /^ses_/);
  const text = JSON.stringify(entries);
  // The values whole (the phone with its spaces): four digits alone turn up in random hashes.
  for (const value of ['latex', 'Grace', 'grace@example.org', '555 0102']) assert.ok(!text.includes(value), value);
});

test('unauthenticated attempts on data routes are audited as anonymous', async () => {
  const r = await w.c.req('GET', visitPath(), { purpose: 'treatment' });
  assert.equal(r.status, 401);
  const e = (await auditOf(w, w.subject)).filter((x) => x.actor === 'anonymous');
  assert.ok(e.some((x) => x.action === 'record.read' && x.reason === 'unauthenticated'));
});

test('only a role with the audit power searches the audit log', async () => {
  const r = await w.c.req('GET', '/v1/audit', { token: w.tokens.prov1 });
  assert.equal(r.status, 403);
  const own = await w.c.req('GET', `/v1/audit?actor=${w.users.prov1}&limit=5`, { token: w.tokens.po1 });
  assert.equal(own.status, 200);
  assert.ok(own.json.entries.length > 0 && own.json.entries.every((e) => e.actor === w.users.prov1));
  const dated = await w.c.req('GET', '/v1/audit?from=2000-01-01&to=2000-12-31', { token: w.tokens.po1 });
  assert.deepEqual(dated.json.entries, []);
  const bad = await w.c.req('GET', '/v1/audit?from=yesterday', { token: w.tokens.po1 });
  assert.equal(bad.status, 400);
});
