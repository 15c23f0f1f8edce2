// Records: create, read, list with pages, update (merge, null removes), delete (what the law does
// not keep); storage rules.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, world } from './lib/harness.js';

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const base = () => `/v1/subjects/${w.subject}/records`;
const prov = (method, path, json) => w.c.req(method, path, { token: w.tokens.prov1, purpose: 'treatment', json });

test('create, read and update a visit; delete a note', async () => {
  const c = await prov('POST', `${base()}/visits`, { date: '2026-10-01', reason: 'check-up', notes: 'fine', });
  assert.equal(c.status, 201);
  assert.match(c.json.id, /^rec_/);
  assert.equal(c.json.collection, 'visits');
  assert.equal(c.json.subject_id, w.subject);
  const id = c.json.id;
  const r = await prov('GET', `${base()}/visits/${id}`);
  assert.deepEqual(r.json.fields, { date: '2026-10-01', reason: 'check-up', notes: 'fine' });
  const u = await prov('PATCH', `${base()}/visits/${id}`, { notes: 'fine, review in May', reason: 'follow-up' });
  assert.equal(u.status, 200);
  assert.deepEqual(u.json.fields, { date: '2026-10-01', reason: 'follow-up', notes: 'fine, review in May' });
  const r2 = await prov('GET', `${base()}/visits/${id}`);
  assert.deepEqual(r2.json.fields, { date: '2026-10-01', reason: 'follow-up', notes: 'fine, review in May' });
  // A visit is a medical record the law keeps (keep.test.js): neither it nor one of its values is
  // deleted; what a user deletes is their note.
  const kept = await prov('DELETE', `${base()}/visits/${id}`);
  assert.equal(kept.status, 409);
  assert.equal(kept.json.reason, 'retention-keeps');
  assert.equal((await prov('PATCH', `${base()}/visits/${id}`, { notes: null })).json.reason, 'retention-keeps');
  const self = (method, path, json) => w.c.req(method, path, { token: w.tokens.grace, purpose: 'self', json });
  const n = await self('POST', `${base()}/messages`, { text: 'ask about the rash', sent_at: '2026-10-01T09:00:00Z' });
  assert.equal(n.status, 201);
  // null removes a value of a note.
  const rm = await self('PATCH', `${base()}/messages/${n.json.id}`, { sent_at: null });
  assert.equal(rm.status, 200, rm.text);
  assert.deepEqual(rm.json.fields, { text: 'ask about the rash' });
  const d = await self('DELETE', `${base()}/messages/${n.json.id}`);
  assert.equal(d.status, 204);
  assert.equal(d.text, '');
  assert.equal((await self('GET', `${base()}/messages/${n.json.id}`)).status, 404);
  assert.equal((await self('DELETE', `${base()}/messages/${n.json.id}`)).status, 404);
  assert.equal((await self('PATCH', `${base()}/messages/${n.json.id}`, { text: 'x' })).status, 404);
});

test('values keep their JSON types', async () => {
  const c = await prov('POST', `${base()}/visits`, { date: '2026-10-02', reason: 'x', notes: { bp: [120, 80], ok: true, n: null } });
  assert.deepEqual((await prov('GET', `${base()}/visits/${c.json.id}`)).json.fields.notes, { bp: [120, 80], ok: true, n: null });
});

test('lists come in creation order, a page at a time', async () => {
  const sub = await w.enroll({ name: 'Paged' });
  await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations', json: { provider: w.users.prov1 } });
  const ids = [];
  for (let i = 0; i < 7; i++) ids.push((await prov('POST', `/v1/subjects/${sub}/records/visits`, { date: `2026-01-0${i + 1}` })).json.id);
  const seen = [];
  let next = null;
  do {
    const r = await prov('GET', `/v1/subjects/${sub}/records/visits?limit=3${next ? `&after=${next}` : ''}`);
    assert.equal(r.status, 200);
    assert.ok(r.json.records.length <= 3);
    seen.push(...r.json.records.map((x) => x.id));
    next = r.json.next;
  } while (next);
  assert.deepEqual(seen.sort(), [...ids].sort());
  const dates = [];
  for (const id of seen) dates.push((await prov('GET', `/v1/subjects/${sub}/records/visits/${id}`)).json.fields.date);
  assert.equal(new Set(seen).size, 7);
  assert.equal((await prov('GET', `/v1/subjects/${sub}/records/visits?limit=0`)).status, 400);
  assert.equal((await prov('GET', `/v1/subjects/${sub}/records/visits?after=not-an-id`)).status, 400);
});

test('records stay under their own subject and collection', async () => {
  const c = await prov('POST', `${base()}/visits`, { date: '2026-10-03' });
  const other = await w.enroll({ name: 'Other' });
  await w.c.req('POST', `/v1/subjects/${other}/assignments`, { token: w.tokens.staff1, purpose: 'operations', json: { provider: w.users.prov1 } });
  assert.equal((await prov('GET', `/v1/subjects/${other}/records/visits/${c.json.id}`)).status, 404);
  assert.equal((await w.c.req('GET', `${base()}/payments/${c.json.id}`, { token: w.tokens.staff1, purpose: 'payment' })).status, 404);
});

test('an unknown collection is 404 and audited', async () => {
  const r = await prov('GET', `${base()}/prescriptions`);
  assert.equal(r.status, 404);
  assert.equal(r.json.reason, 'unknown-collection');
});

test('only the last four digits of a card are stored', async () => {
  const pay = (json) => w.c.req('POST', `${base()}/payments`, { token: w.tokens.staff1, purpose: 'payment', json });
  for (const card_last4 of ['4111111111111111', '411', 'abcd', 1234]) {
    const r = await pay({ card_last4, amount: '120.00' });
    assert.equal(r.status, 400, String(card_last4));
    assert.equal(r.json.field, 'card_last4');
    assert.ok(!r.text.includes('4111111111111111'));
  }
  assert.equal((await pay({ card_last4: '1111', amount: '120.00' })).status, 201);
});

test('the profile is made at enrollment and changed with PATCH', async () => {
  const profile = (await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.grace, purpose: 'self' })).json.profile;
  const dup = await w.c.req('POST', `${base()}/profile`, { token: w.tokens.grace, purpose: 'self', json: { name: 'Second' } });
  assert.equal(dup.status, 409);
  const u = await w.c.req('PATCH', `${base()}/profile/${profile.id}`, { token: w.tokens.grace, purpose: 'self', json: { phone: '+1 555 0199' } });
  assert.equal(u.status, 200);
  assert.equal(u.json.fields.phone, '+1 555 0199');
  assert.equal(u.json.fields.name, 'Grace Hopper');
  const del = await w.c.req('DELETE', `${base()}/profile/${profile.id}`, { token: w.tokens.grace, purpose: 'self' });
  assert.equal(del.status, 409);
});

test('an update must name a field', async () => {
  const c = await prov('POST', `${base()}/visits`, { date: '2026-10-04' });
  const r = await prov('PATCH', `${base()}/visits/${c.json.id}`, {});
  assert.equal(r.status, 400);
});
