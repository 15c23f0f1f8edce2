// The right to know (CCPA): for the past 12 months, the categories collected, their sources,
// the purposes, the kinds of recipients and the specific pieces, computed from the data held,
// the audit log and the disclosures; what is older than 12 months is not in it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, auditOf, startServer, world } from './lib/harness.js';

const DAY = 86400;

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const know = (subject, token = w.tokens.grace, purpose = 'self') =>
  w.c.req('GET', `/v1/subjects/${subject}/know`, { token, purpose });
const cats = (r) => Object.fromEntries(r.json.categories_collected.map((c) => [c.category, c.sources.sort()]));

test('what was collected, from whom, for what, and who received it', async () => {
  const v = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { date: '2026-07-01', reason: 'botox', notes: 'first treatment' } });
  assert.equal(v.status, 201);
  // Used for treatment and for payment; disclosed to a court.
  assert.equal((await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.staff1, purpose: 'payment' })).status, 200);
  assert.equal((await w.c.req('POST', `/v1/subjects/${w.subject}/disclosures`, { token: w.tokens.po1, purpose: 'legal',
    json: { recipient: 'county-court', collection: 'visits' } })).status, 201);
  const r = await know(w.subject);
  assert.equal(r.status, 200, r.text);
  const c = cats(r);
  assert.deepEqual(c['user.name'], ['staff']);
  assert.deepEqual(c['user.contact.email'], ['staff']);
  assert.deepEqual(c['user.health.medical_record'], ['provider']);
  assert.deepEqual(r.json.sources.sort(), ['provider', 'staff']);
  const purposes = Object.fromEntries(r.json.purposes.map((p) => [p.purpose, p]));
  assert.ok(purposes.treatment.categories.includes('user.health.medical_record'));
  assert.ok(purposes.payment.categories.includes('user.contact.email'));
  assert.equal(purposes.operations.tpo, true);
  assert.equal(purposes.legal.description, 'Answering a court order or another obligation of law.');
  // Answering the person is not a use of their data.
  assert.equal(purposes.self, undefined);
  assert.deepEqual(r.json.recipients, [{ kind: 'legal', recipients: ['county-court'],
    categories: ['user.health.medical_record'], disclosures: 1 }]);
  // The specific pieces: the values themselves, each with its category.
  assert.equal(r.json.pieces.profile[0].fields.name.value, 'Grace Hopper');
  assert.equal(r.json.pieces.visits[0].fields.notes.value, 'first treatment');
  assert.equal((Date.parse(r.json.to) - Date.parse(r.json.from)) / 1000 / DAY >= 365, true);
  const audit = (await auditOf(w, w.subject)).filter((e) => e.action === 'subject.know');
  assert.deepEqual(audit.map((e) => [e.collection, e.decision]).slice(0, 2), [['', 'permit'], ['profile', 'permit']]);
});

test('only the past 12 months', async () => {
  srv.advance(400 * DAY);
  for (const n of ['staff1', 'prov1', 'prov2', 'po1', 'grace']) w.tokens[n] = await w.c.login(n, PASSWORD(n));
  w.tokens.admin = await w.c.login('admin', ADMIN_PASSWORD);
  let r = await know(w.subject);
  assert.equal(r.status, 200, r.text);
  // Nothing was collected or disclosed in the last 12 months: the old visit and profile are not pieces.
  assert.deepEqual(r.json.recipients, []);
  assert.deepEqual(r.json.pieces.visits, []);
  assert.deepEqual(r.json.pieces.profile, []);
  assert.equal(cats(r)['user.health.medical_record'], undefined);
  // A new visit and a payment: they are in it, and their sources.
  assert.equal((await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.grace,
    purpose: 'self', json: { date: '2027-08-01', reason: 'question', notes: 'asked about side effects' } })).status, 201);
  r = await know(w.subject);
  assert.deepEqual(cats(r)['user.health.medical_record'], ['subject']);
  assert.equal(r.json.pieces.visits.length, 1);
  assert.equal(r.json.pieces.visits[0].fields.notes.value, 'asked about side effects');
});

test('the purpose decides which pieces; the person, their guardian or the rights power asks', async () => {
  const r = await know(w.subject, w.tokens.po1, 'operations');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.withheld_collections, ['visits', 'payments', 'messages', 'usage']);
  for (const [token, purpose, reason] of [[w.tokens.prov2, 'treatment', 'not-assigned'], [w.tokens.admin, 'operations', 'role-not-allowed-purpose']]) {
    const x = await know(w.subject, token, purpose);
    assert.equal(x.status, 403);
    assert.equal(x.json.reason, reason);
  }
  assert.equal((await know('sub_00000000000000000000000000', w.tokens.po1, 'rights')).status, 404);
});
