// Who may reach a subject beyond the usual: a profile the subject made visible to every
// provider, a restriction that leaves the data only stored, and break-glass access in an
// emergency, reviewed by the privacy officer.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PASSWORD, auditOf, sqlite, startServer, world } from './lib/harness.js';

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const get = (path, token, purpose) => w.c.req('GET', path, { token, purpose });

// A subject with a visit by prov1 and a patient account of their own.
async function client(name) {
  const sub = await w.enroll({ name: `Client ${name}`, email: `${name}@example.org`, phone: '+1 555 0199' });
  await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } });
  const v = await w.c.req('POST', `/v1/subjects/${sub}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment',
    json: { date: '2026-05-01', reason: 'sprain', notes: `notes of ${name}` } });
  const u = await w.c.req('POST', '/v1/users', { token: w.tokens.admin,
    json: { username: name, password: PASSWORD(name), role: 'patient', subject_id: sub } });
  assert.equal(u.status, 201);
  return { sub, visit: v.json.id, user: u.json.id, token: await w.c.login(name, PASSWORD(name)) };
}

test('a subject opens their profile to every provider, contact details withheld, for treatment only', async () => {
  const c = await client('viv');
  const path = `/v1/subjects/${c.sub}`;
  assert.equal((await get(path, w.tokens.prov2, 'treatment')).json.reason, 'not-assigned');
  const staff = await w.c.req('PUT', `${path}/profile-visibility`, { token: w.tokens.staff1, purpose: 'operations',
    json: { visible: true } });
  assert.equal(staff.status, 403);
  assert.equal(staff.json.reason, 'only-the-subject');
  const bad = await w.c.req('PUT', `${path}/profile-visibility`, { token: c.token, purpose: 'self', json: { visible: 'yes' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.field, 'visible');
  const on = await w.c.req('PUT', `${path}/profile-visibility`, { token: c.token, purpose: 'self', json: { visible: true } });
  assert.deepEqual(on.json, { subject_id: c.sub, profile_visible: true });
  const seen = await get(path, w.tokens.prov2, 'treatment');
  assert.equal(seen.status, 200);
  assert.deepEqual(seen.json.profile.fields, { name: 'Client viv', birth_date: '1980-05-17' });
  assert.deepEqual(seen.json.profile.withheld.sort(), ['email', 'phone']);
  assert.ok(!seen.text.includes('viv@example.org') && !seen.text.includes('0199'));
  // Only the profile, only read, only treatment.
  assert.equal((await get(`${path}/records/visits/${c.visit}`, w.tokens.prov2, 'treatment')).json.reason, 'not-assigned');
  assert.equal((await get(path, w.tokens.prov2, 'emergency')).json.reason, 'not-assigned');
  const profileId = seen.json.profile.id;
  const write = await w.c.req('PATCH', `${path}/records/profile/${profileId}`, { token: w.tokens.prov2, purpose: 'treatment',
    json: { name: 'Changed' } });
  assert.equal(write.json.reason, 'not-assigned');
  const flagged = (await auditOf(w, c.sub)).filter((e) => e.actor === w.users.prov2 && e.decision === 'permit');
  assert.deepEqual(flagged.map((e) => [e.action, e.reason]), [['subject.read', 'profile-visible']]);
  const off = await w.c.req('PUT', `${path}/profile-visibility`, { token: c.token, purpose: 'self', json: { visible: false } });
  assert.equal(off.json.profile_visible, false);
  assert.equal((await get(path, w.tokens.prov2, 'treatment')).json.reason, 'not-assigned');
});

test('a restricted subject\'s data is only stored: every use is refused but their own and the legal purposes', async () => {
  const c = await client('rita');
  const path = `/v1/subjects/${c.sub}`;
  const stored = sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${c.sub}'`).trim();
  const r = await w.c.req('POST', `${path}/restriction`, { token: c.token, purpose: 'self' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { subject_id: c.sub, status: 'restricted' });
  const refused = [
    ['GET', `${path}/records/visits/${c.visit}`, w.tokens.prov1, 'treatment'],
    ['POST', `${path}/records/visits`, w.tokens.prov1, 'treatment', { date: '2026-05-02' }],
    ['GET', path, w.tokens.staff1, 'operations'],
    ['GET', path, w.tokens.staff1, 'payment'],
    ['POST', `${path}/records/payments`, w.tokens.staff1, 'payment', { amount: 5 }],
    ['POST', `${path}/assignments`, w.tokens.staff1, 'operations', { provider: w.users.prov2 }],
    ['GET', path, w.tokens.po1, 'operations'],
    ['POST', `${path}/usage`, w.tokens.staff1, 'site', { ip: '192.0.2.7' }],
    ['GET', `${path}/usage`, w.tokens.staff1, 'site'],
  ];
  for (const [method, p, token, purpose, json] of refused) {
    const x = await w.c.req(method, p, { token, purpose, json });
    assert.equal(x.status, 403, `${method} ${p} ${purpose}`);
    assert.equal(x.json.reason, 'processing-restricted');
    assert.ok(!x.text.includes('notes of rita'));
  }
  const look = await get('/v1/subjects?email=rita@example.org', w.tokens.staff1, 'operations');
  assert.deepEqual(look.json.subjects, []);
  // The subject's own access, and the legal purpose.
  assert.equal((await get(`${path}/records/visits/${c.visit}`, c.token, 'self')).json.fields.notes, 'notes of rita');
  assert.equal((await get(`${path}/records/visits/${c.visit}`, w.tokens.po1, 'legal')).json.fields.notes, 'notes of rita');
  const own = await w.c.req('POST', `${path}/usage`, { token: c.token, purpose: 'site', json: { ip: '192.0.2.8' } });
  assert.equal(own.status, 201, own.text);
  assert.deepEqual(own.json.stored, ['ip']);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${c.sub}'`).trim(), stored);
  assert.equal((await get(path, c.token, 'self')).json.status, 'restricted');
  // Staff cannot lift it; the privacy officer can, and it is audited.
  const staffLift = await w.c.req('DELETE', `${path}/restriction`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(staffLift.status, 403);
  assert.equal(staffLift.json.reason, 'role-cannot-restrict');
  const lift = await w.c.req('DELETE', `${path}/restriction`, { token: w.tokens.po1, purpose: 'operations' });
  assert.deepEqual(lift.json, { subject_id: c.sub, status: 'active' });
  assert.equal((await get(`${path}/records/visits/${c.visit}`, w.tokens.prov1, 'treatment')).status, 200);
  const trail = (await auditOf(w, c.sub)).filter((e) => e.action.startsWith('subject.') && /restrict/.test(e.action));
  assert.deepEqual(trail.map((e) => [e.actor, e.action, e.decision, e.reason]), [
    [c.user, 'subject.restrict', 'permit', 'permit'],
    [w.users.staff1, 'subject.unrestrict', 'deny', 'role-cannot-restrict'],
    [w.users.po1, 'subject.unrestrict', 'permit', 'permit']]);
  // Another patient cannot restrict someone else.
  const other = await client('otto');
  const x = await w.c.req('POST', `${path}/restriction`, { token: other.token, purpose: 'self' });
  assert.equal(x.json.reason, 'role-cannot-restrict');
});

test('break-glass: an unassigned provider opens a record in an emergency, for a while, and every access is reviewed', async () => {
  const c = await client('gus');
  const visit = `/v1/subjects/${c.sub}/records/visits/${c.visit}`;
  const glass = (token, purpose, json) => w.c.req('POST', `/v1/subjects/${c.sub}/break-glass`, { token, purpose, json });
  const reason = 'Unconscious in the emergency room; allergies unknown.';
  assert.equal((await get(visit, w.tokens.prov2, 'emergency')).json.reason, 'not-assigned');
  assert.equal((await glass(w.tokens.prov2, 'treatment', { reason })).json.reason, 'break-glass-purpose-required');
  assert.equal((await glass(w.tokens.staff1, 'emergency', { reason })).json.reason, 'role-not-allowed-purpose');
  for (const bad of [{}, { reason: 'urgent' }, { reason: ' '.repeat(40) }, { reason: 'x'.repeat(1001) }]) {
    const r = await glass(w.tokens.prov2, 'emergency', bad);
    assert.equal(r.status, 400);
    assert.equal(r.json.field, 'reason');
  }
  const open = await glass(w.tokens.prov2, 'emergency', { reason });
  assert.equal(open.status, 201);
  assert.equal(Date.parse(open.json.expires_at) - Date.parse(open.json.opened_at), 4 * 3600 * 1000);
  const read = await get(visit, w.tokens.prov2, 'emergency');
  assert.equal(read.status, 200);
  assert.equal(read.json.fields.notes, 'notes of gus');
  assert.equal((await get(`/v1/subjects/${c.sub}`, w.tokens.prov2, 'emergency')).status, 200);
  // Only for the emergency purpose.
  assert.equal((await get(visit, w.tokens.prov2, 'treatment')).json.reason, 'not-assigned');
  const flagged = (await auditOf(w, c.sub)).filter((e) => e.actor === w.users.prov2 && e.decision === 'permit');
  assert.deepEqual(flagged.map((e) => [e.action, e.reason]), [
    ['break-glass.open', 'permit'], ['record.read', 'break-glass'], ['subject.read', 'break-glass']]);
  assert.ok(!JSON.stringify(await auditOf(w, c.sub)).includes('allergies'), 'the written reason is not in the audit log');

  // The privacy officer sees it, with the accesses made under it; nobody else may.
  assert.equal((await get('/v1/reviews', w.tokens.staff1)).status, 403);
  assert.equal((await get('/v1/reviews?state=sideways', w.tokens.po1)).status, 400);
  const list = await get('/v1/reviews', w.tokens.po1);
  const review = list.json.reviews.find((x) => x.id === open.json.id);
  assert.equal(review.state, 'open');
  assert.equal(review.reason, reason);
  assert.equal(review.actor, w.users.prov2);
  assert.deepEqual(review.accesses.map((a) => [a.action, a.collection, a.record]), [
    ['record.read', 'visits', c.visit], ['subject.read', 'profile', '']]);
  assert.ok((await auditOf(w, c.sub)).some((e) => e.action === 'review.read' && e.actor === w.users.po1 && e.record === open.json.id));

  // The grant lasts 4 hours.
  srv.advance(4 * 3600 + 1);
  const prov2 = await w.c.login('prov2', PASSWORD('prov2'));
  assert.equal((await get(visit, prov2, 'emergency')).json.reason, 'not-assigned');

  // Closing: a finding from the list, once.
  const po1 = await w.c.login('po1', PASSWORD('po1'));
  const close = (id, json, token = po1) => w.c.req('POST', `/v1/reviews/${id}/close`, { token, json });
  assert.equal((await close(open.json.id, { finding: 'fine' })).status, 400);
  assert.equal((await close(open.json.id, { finding: 'justified' }, prov2)).status, 403);
  assert.equal((await close('brk_00000000000000000000000000', { finding: 'justified' })).status, 404);
  const done = await close(open.json.id, { finding: 'justified', note: 'Confirmed with the ER log.' });
  assert.equal(done.status, 200);
  assert.equal(done.json.state, 'closed');
  assert.equal(done.json.finding, 'justified');
  assert.equal(done.json.note, 'Confirmed with the ER log.');
  assert.equal(done.json.closed_by, w.users.po1);
  assert.equal((await close(open.json.id, { finding: 'unjustified' })).status, 409);
  const openNow = await get('/v1/reviews', po1);
  assert.ok(!openNow.json.reviews.some((x) => x.id === open.json.id));
  const closed = await get('/v1/reviews?state=closed', po1);
  assert.equal(closed.json.reviews.find((x) => x.id === open.json.id).finding, 'justified');

  // Closing an open grant ends its access at once.
  const again = await glass(prov2, 'emergency', { reason: 'Second emergency, same night.' });
  assert.equal((await get(visit, prov2, 'emergency')).status, 200);
  assert.equal((await close(again.json.id, { finding: 'unjustified' })).status, 200);
  assert.equal((await get(visit, prov2, 'emergency')).json.reason, 'not-assigned');
});
