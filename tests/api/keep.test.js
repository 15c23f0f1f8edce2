// A record the law keeps cannot be deleted, whoever asks: a visit (a medical record, kept 7 years
// from the last visit by the example policy) refuses DELETE, one record or all of them, with 409
// retention-keeps while it is within its retention, counted as the retention sweep counts it. A
// legal hold is still checked first; a person's own notes (deletion: dispose) go at any time.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, auditOf, cli, sqlite, startServer, world } from './lib/harness.js';

const DAY = 86400;
const YEAR = 365 * DAY;

let srv, w;
before(async () => {
  // No periodic sweep: the clock moves years here, and what it would dispose of is the point.
  srv = await startServer({ args: ['--sweep-interval', '0'] });
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

async function signIn() {
  for (const n of ['staff1', 'prov1', 'prov2', 'po1', 'grace']) w.tokens[n] = await w.c.login(n, PASSWORD(n));
  w.tokens.admin = await w.c.login('admin', ADMIN_PASSWORD);
}

const records = (sub, collection) => Number(sqlite(srv.data,
  `SELECT count(*) FROM records WHERE subject_id = '${sub}' AND collection = '${collection}'`));
const prov = (method, p, json) => w.c.req(method, p, { token: w.tokens.prov1, purpose: 'treatment', json });
const grace = (method, p, json) => w.c.req(method, p, { token: w.tokens.grace, purpose: 'self', json });
const visit = async (sub, date) => {
  const r = await w.c.req('POST', `/v1/subjects/${sub}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment',
    json: { date, reason: 'check-up', notes: 'blood pressure 120/80' } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
};

function isKept(res) {
  assert.equal(res.status, 409, res.text);
  assert.equal(res.json.type, '/problems/conflict');
  assert.equal(res.json.reason, 'retention-keeps');
  assert.match(res.json.detail, /kept/);
  assert.match(res.json.detail, /retention ends/);
  assert.match(res.json.detail, /amendment/);
}

test('a provider cannot delete a visit, neither one record nor all of them', async () => {
  const base = `/v1/subjects/${w.subject}/records/visits`;
  const id = await visit(w.subject, '2026-03-01');
  isKept(await prov('DELETE', `${base}/${id}`));
  isKept(await prov('DELETE', base));
  // Nothing went: the record reads as it was, the list and the database still hold it.
  const r = await prov('GET', `${base}/${id}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.fields, { date: '2026-03-01', reason: 'check-up', notes: 'blood pressure 120/80' });
  assert.ok((await prov('GET', base)).json.records.some((x) => x.id === id));
  assert.equal(records(w.subject, 'visits'), 1);
  // Each refusal is audited with the category kept, and never a value.
  const denied = (await auditOf(w, w.subject)).filter((e) => e.reason === 'retention-keeps');
  assert.deepEqual(denied.map((e) => [e.action, e.decision, e.record, e.categories.join()]),
    [['record.delete', 'deny', id, 'user.health.medical_record'], ['record.delete_all', 'deny', '', 'user.health.medical_record']]);
  // A correction goes through amendment, which keeps the earlier value: PATCH still works.
  assert.equal((await prov('PATCH', `${base}/${id}`, { reason: 'follow-up' })).status, 200);
  // A provider not assigned to the person learns nothing of the record: the policy refuses first.
  const stranger = await w.c.req('DELETE', `${base}/${id}`, { token: w.tokens.prov2, purpose: 'treatment' });
  assert.equal(stranger.status, 403);
  assert.equal(stranger.json.reason, 'not-assigned');
  // A record that does not exist is still not found.
  assert.equal((await prov('DELETE', `${base}/rec_00000000000000000000000000`)).status, 404);
});

test('the patient cannot delete their own visit, one or all, nor the staff a payment', async () => {
  const base = `/v1/subjects/${w.subject}/records/visits`;
  const id = await visit(w.subject, '2026-03-02');
  isKept(await grace('DELETE', `${base}/${id}`));
  isKept(await grace('DELETE', base));
  assert.equal((await grace('GET', `${base}/${id}`)).status, 200);
  assert.equal(records(w.subject, 'visits'), 2);
  // Payments are kept 7 years too.
  const pay = await w.c.req('POST', `/v1/subjects/${w.subject}/records/payments`, { token: w.tokens.staff1,
    purpose: 'payment', json: { card_last4: '4242', amount: 120 } });
  assert.equal(pay.status, 201);
  isKept(await w.c.req('DELETE', `/v1/subjects/${w.subject}/records/payments/${pay.json.id}`, { token: w.tokens.staff1, purpose: 'payment' }));
  assert.equal(records(w.subject, 'payments'), 1);
});

test('a person\'s own notes, which a deletion disposes of, go at any time, one or all', async () => {
  const base = `/v1/subjects/${w.subject}/records/messages`;
  const ids = [];
  for (const text of ['remember the cream', 'ask about the scar', 'book in May']) {
    const r = await grace('POST', base, { text, sent_at: '2026-05-01T10:00:00Z' });
    assert.equal(r.status, 201, r.text);
    ids.push(r.json.id);
  }
  // A provider's purpose does not cover them: not theirs to delete.
  assert.equal((await prov('DELETE', `${base}/${ids[0]}`)).status, 403);
  const one = await grace('DELETE', `${base}/${ids[0]}`);
  assert.equal(one.status, 204);
  assert.deepEqual((await grace('GET', base)).json.records.map((r) => r.id), ids.slice(1));
  const all = await grace('DELETE', base);
  assert.equal(all.status, 200, all.text);
  assert.deepEqual(all.json, { subject_id: w.subject, collection: 'messages', deleted: 2 });
  assert.equal(records(w.subject, 'messages'), 0);
  // The visits are all still there.
  assert.equal(records(w.subject, 'visits'), 2);
});

test('a legal hold is checked first, then what the law keeps', async () => {
  const sub = await w.enroll({ name: 'Held Person' });
  assert.equal((await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } })).status, 201);
  const id = await visit(sub, '2026-04-01');
  const holds = `/v1/subjects/${sub}/holds`;
  const h = await w.c.req('POST', holds, { token: w.tokens.po1, purpose: 'operations', json: { reason: 'Dispute 2026-31' } });
  assert.equal(h.status, 201, h.text);
  const held = await prov('DELETE', `/v1/subjects/${sub}/records/visits/${id}`);
  assert.equal(held.status, 409);
  assert.equal(held.json.reason, 'legal-hold');
  assert.equal((await w.c.req('DELETE', `${holds}/${h.json.id}`, { token: w.tokens.po1, purpose: 'operations' })).status, 200);
  isKept(await prov('DELETE', `/v1/subjects/${sub}/records/visits/${id}`));
  assert.equal(records(sub, 'visits'), 1);
});

test('removing a value with PATCH null is deleting it: refused for what the law keeps and under a hold', async () => {
  const sub = await w.enroll({ name: 'Patch Person' });
  assert.equal((await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } })).status, 201);
  const id = await visit(sub, '2026-04-02');
  const path = `/v1/subjects/${sub}/records/visits/${id}`;
  // The notes of a visit are a medical record: removing them is refused, and audited as such.
  isKept(await prov('PATCH', path, { notes: null }));
  assert.deepEqual((await prov('GET', path)).json.fields, { date: '2026-04-02', reason: 'check-up', notes: 'blood pressure 120/80' });
  const denied = (await auditOf(w, sub)).filter((e) => e.reason === 'retention-keeps');
  assert.deepEqual(denied.map((e) => [e.action, e.record, e.categories.join()]), [['record.update', id, 'user.health.medical_record']]);
  // Changing a value is not removing it.
  assert.equal((await prov('PATCH', path, { notes: 'blood pressure 118/79' })).status, 200);
  // A legal hold refuses every removal, of a value the person may otherwise delete at any time too.
  const admin = await w.c.req('POST', '/v1/users', { token: w.tokens.admin, json: { username: 'patch-person',
    password: PASSWORD('patch-person'), role: 'patient', subject_id: sub } });
  assert.equal(admin.status, 201, admin.text);
  const own = await w.c.login('patch-person', PASSWORD('patch-person'));
  const note = await w.c.req('POST', `/v1/subjects/${sub}/records/messages`, { token: own, purpose: 'self',
    json: { text: 'call the clinic', sent_at: '2026-05-02T09:00:00Z' } });
  assert.equal(note.status, 201, note.text);
  const notePath = `/v1/subjects/${sub}/records/messages/${note.json.id}`;
  const holds = `/v1/subjects/${sub}/holds`;
  const h = await w.c.req('POST', holds, { token: w.tokens.po1, purpose: 'operations', json: { reason: 'Dispute 2026-32' } });
  assert.equal(h.status, 201, h.text);
  const held = await w.c.req('PATCH', notePath, { token: own, purpose: 'self', json: { text: null } });
  assert.equal(held.status, 409, held.text);
  assert.equal(held.json.reason, 'legal-hold');
  assert.equal((await w.c.req('GET', notePath, { token: own, purpose: 'self' })).json.fields.text, 'call the clinic');
  assert.equal((await w.c.req('DELETE', `${holds}/${h.json.id}`, { token: w.tokens.po1, purpose: 'operations' })).status, 200);
  const gone = await w.c.req('PATCH', notePath, { token: own, purpose: 'self', json: { text: null } });
  assert.equal(gone.status, 200, gone.text);
  assert.equal(gone.json.fields.text, undefined);
});

test('retention counts as the sweep counts it, from the last visit; once it ends the visit may go', async () => {
  const sub = await w.enroll({ name: 'Long Patient' });
  assert.equal((await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } })).status, 201);
  const first = await visit(sub, '2026-05-01');
  srv.advance(2 * YEAR);
  await signIn();
  await visit(sub, '2028-05-01');
  // The first visit is 8 years old, but the last visit was 6 years ago: both are still kept.
  srv.advance(6 * YEAR);
  await signIn();
  isKept(await prov('DELETE', `/v1/subjects/${sub}/records/visits/${first}`));
  isKept(await prov('DELETE', `/v1/subjects/${sub}/records/visits`));
  // The sweep agrees: it disposes of nothing of this person's yet.
  const dry = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.equal(dry.status, 0, dry.stderr);
  assert.equal(records(sub, 'visits'), 2);
  // Seven years and a few days after the last visit, both may be deleted.
  srv.advance(YEAR + 10 * DAY);
  await signIn();
  assert.equal((await prov('DELETE', `/v1/subjects/${sub}/records/visits/${first}`)).status, 204);
  const rest = await prov('DELETE', `/v1/subjects/${sub}/records/visits`);
  assert.equal(rest.status, 200, rest.text);
  assert.equal(rest.json.deleted, 1);
  assert.equal(records(sub, 'visits'), 0);
});
