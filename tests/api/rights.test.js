// Rights requests: every type filed with a due date from the policy's deadlines, a requester
// (the person, a guardian, an authorized agent with evidence), a verification step, one
// extension with a reason, completion or denial with a reason; every transition audited and
// every illegal one refused. Overdue requests are found with the test clock.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, auditOf, sqlite, startServer, world } from './lib/harness.js';

const DAY = 86400;
const TYPES = ['access', 'amend', 'delete', 'restrict', 'portability', 'object', 'withdraw', 'know',
  'accounting', 'complaint'];

let srv, w, policy;
before(async () => {
  srv = await startServer();
  w = await world(srv);
  policy = (await w.c.req('GET', '/v1/policy')).json;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

// Sessions end after 8 hours: after moving the clock by days everyone signs in again.
async function signIn() {
  for (const n of ['staff1', 'prov1', 'prov2', 'po1', 'grace']) w.tokens[n] = await w.c.login(n, PASSWORD(n));
  w.tokens.admin = await w.c.login('admin', ADMIN_PASSWORD);
}

const file = (subject, json, token = w.tokens.grace, purpose = 'self') =>
  w.c.req('POST', `/v1/subjects/${subject}/requests`, { token, purpose, json });
const po = (method, path, json) => w.c.req(method, path, { token: w.tokens.po1, purpose: 'rights', json });
const move = (rid, transition, json, token = w.tokens.po1, purpose = 'rights') =>
  w.c.req('POST', `/v1/requests/${rid}/${transition}`, { token, purpose, json });

async function visit(subject, notes) {
  const r = await w.c.req('POST', `/v1/subjects/${subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { date: '2026-02-01', reason: 'check-up', notes } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

function details(type, subject, record) {
  switch (type) {
    case 'amend': return { collection: 'visits', record, fields: { notes: 'corrected notes' }, reason: 'the notes are wrong' };
    case 'withdraw': return { kind: 'research' };
    case 'object': return { kinds: ['marketing_email'] };
    case 'complaint': return { text: 'I was not told my data would be shared.' };
    default: return undefined;
  }
}

test('a person files a request of every type; each is due after the policy\'s deadline for its right', async () => {
  const rec = await visit(w.subject, 'some notes');
  const seen = [];
  for (const type of TYPES) {
    const r = await file(w.subject, { type, source: 'web', details: details(type, w.subject, rec) });
    assert.equal(r.status, 201, `${type}: ${r.text}`);
    assert.equal(r.json.state, 'received');
    assert.equal(r.json.type, type);
    assert.deepEqual(r.json.requester, { kind: 'subject', agent: null });
    assert.equal(r.json.filed_by, w.users.grace);
    assert.equal(r.json.overdue, false);
    const days = (Date.parse(r.json.due) - Date.parse(r.json.received)) / 1000 / DAY;
    assert.equal(days, policy.request_deadlines[type].deadline_days, type);
    seen.push(r.json.id);
  }
  // The policy's own deadlines, and the defaults for the rights it does not name.
  assert.equal(policy.request_deadlines.access.deadline_days, 15);
  assert.equal(policy.request_deadlines.accounting.deadline_days, 60);
  assert.equal(policy.request_deadlines.know.deadline_days, 45);
  assert.equal(policy.request_deadlines.complaint.deadline_days, 30);
  // What was asked is kept, and shown to the person.
  const mine = await w.c.req('GET', `/v1/subjects/${w.subject}/requests?limit=200`, { token: w.tokens.grace, purpose: 'self' });
  assert.equal(mine.status, 200);
  assert.deepEqual(mine.json.requests.map((x) => x.id), seen);
  const amend = mine.json.requests.find((x) => x.type === 'amend');
  assert.deepEqual(amend.details.fields, { notes: 'corrected notes' });
  assert.deepEqual(amend.target, { collection: 'visits', record: rec });
  assert.equal(mine.json.requests.find((x) => x.type === 'complaint').details.text, 'I was not told my data would be shared.');
  // Each filing is audited, its type in the collection column; what was asked is sealed at rest.
  const filed = (await auditOf(w, w.subject)).filter((e) => e.action === 'request.file');
  assert.deepEqual(filed.map((e) => e.collection), TYPES);
  assert.ok(filed.every((e) => e.decision === 'permit' && e.purpose === 'self' && seen.includes(e.record)));
  const raw = sqlite(srv.data, "SELECT hex(details) FROM rights_requests WHERE type = 'complaint'");
  assert.ok(!Buffer.from(raw.trim(), 'hex').toString().includes('shared'));
});

test('a request is verified before it is fulfilled, and each transition only from its states', async () => {
  const r = await file(w.subject, { type: 'restrict' });
  const rid = r.json.id;
  // Completing or extending is possible only in order; the refusals are audited.
  let x = await move(rid, 'complete', {});
  assert.equal(x.status, 409);
  assert.equal(x.json.reason, 'illegal-transition');
  // The person cannot verify their own request, nor may the front desk or a provider.
  for (const [token, purpose, reason] of [[w.tokens.grace, 'self', 'role-cannot-handle-requests'],
    [w.tokens.staff1, 'operations', 'role-cannot-handle-requests'], [w.tokens.prov1, 'treatment', 'role-cannot-handle-requests']]) {
    x = await move(rid, 'verify', { method: 'account' }, token, purpose);
    assert.equal(x.status, 403, x.text);
    assert.equal(x.json.reason, reason);
  }
  x = await move(rid, 'verify', { method: 'fingerprint' });
  assert.equal(x.status, 400);
  assert.equal(x.json.field, 'method');
  x = await move(rid, 'verify', { method: 'account' });
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.state, 'verified');
  assert.equal(x.json.verified.method, 'account');
  assert.equal(x.json.verified.by, w.users.po1);
  x = await move(rid, 'verify', { method: 'account' });
  assert.equal(x.status, 409);
  x = await move(rid, 'complete', {});
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.state, 'completed');
  assert.equal(x.json.closed.outcome, 'completed');
  // A closed request moves no more.
  for (const [t, body] of [['complete', {}], ['deny', { reason: 'unfounded' }], ['extend', { reason: 'more time' }], ['verify', { method: 'account' }]]) {
    x = await move(rid, t, body);
    assert.equal(x.status, 409, t);
    assert.equal(x.json.reason, 'illegal-transition', t);
  }
  const entries = (await auditOf(w, w.subject)).filter((e) => e.record === rid);
  assert.deepEqual(entries.map((e) => [e.action, e.decision, e.reason]), [
    ['request.file', 'permit', 'permit'],
    ['request.complete', 'deny', 'illegal-transition'],
    ['request.verify', 'deny', 'role-cannot-handle-requests'],
    ['request.verify', 'deny', 'role-cannot-handle-requests'],
    ['request.verify', 'deny', 'role-cannot-handle-requests'],
    ['request.verify', 'permit', 'permit'],
    ['request.verify', 'deny', 'illegal-transition'],
    ['request.complete', 'permit', 'permit'],
    ['request.complete', 'deny', 'illegal-transition'],
    ['request.deny', 'deny', 'illegal-transition'],
    ['request.extend', 'deny', 'illegal-transition'],
    ['request.verify', 'deny', 'illegal-transition'],
  ]);
  // The restriction itself was made (and audited) by the restriction service.
  const read = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(read.status, 403);
  assert.equal(read.json.reason, 'processing-restricted');
  assert.ok((await auditOf(w, w.subject)).some((e) => e.action === 'subject.restrict' && e.actor === w.users.po1));
  assert.equal((await po('DELETE', `/v1/subjects/${w.subject}/restriction`)).status, 200);
});

test('an authorized agent comes with evidence; a person files only for themselves or the minor they guard', async () => {
  let r = await file(w.subject, { type: 'access', requester: { kind: 'agent', name: 'Acme Advocates' } }, w.tokens.po1, 'rights');
  assert.equal(r.status, 400);
  assert.equal(r.json.field, 'evidence');
  r = await file(w.subject, { type: 'access' }, w.tokens.po1, 'rights');
  assert.equal(r.status, 400);
  assert.equal(r.json.field, 'kind');
  r = await file(w.subject, { type: 'access', source: 'mail', requester: { kind: 'agent', name: 'Acme Advocates',
    evidence: 'Signed permission dated 2026-01-10, kept in the paper file.' } }, w.tokens.po1, 'rights');
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.requester, { kind: 'agent', agent: { name: 'Acme Advocates',
    evidence: 'Signed permission dated 2026-01-10, kept in the paper file.' } });
  // The person sees who asked in their name.
  const seen = await w.c.req('GET', `/v1/requests/${r.json.id}`, { token: w.tokens.grace, purpose: 'self' });
  assert.equal(seen.json.requester.agent.name, 'Acme Advocates');
  // The agent's name is sealed at rest.
  assert.ok(!Buffer.from(sqlite(srv.data, `SELECT hex(agent) FROM rights_requests WHERE id = '${r.json.id}'`).trim(), 'hex')
    .toString().includes('Acme'));
  // A person's account cannot pose as an agent, nor file for someone else.
  r = await file(w.subject, { type: 'access', requester: { kind: 'agent', name: 'X', evidence: 'a signed form' } });
  assert.equal(r.status, 400);
  const other = await w.enroll({ name: 'Other Person' });
  r = await file(other, { type: 'access' });
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'not-own-subject');
  r = await w.c.req('GET', `/v1/requests/${seen.json.id}`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(r.status, 403);
  // A guardian files for the minor they act for.
  const u = await w.c.req('POST', '/v1/users', { token: w.tokens.admin, json: { username: 'mum', password: PASSWORD('mum'), role: 'patient' } });
  const mum = await w.c.login('mum', PASSWORD('mum'));
  const dob = new Date(Date.now() + srv.offset * 1000 - 15 * 366 * DAY * 1000).toISOString().slice(0, 10);
  const kid = await w.c.req('POST', '/v1/subjects', { token: mum, purpose: 'self', json: { policy_version: w.version,
    birth_date: dob, profile: { name: 'A Minor' }, guardian: { birth_date: '1980-02-02', relationship: 'parent' } } });
  assert.equal(kid.status, 201, kid.text);
  r = await file(kid.json.id, { type: 'access' }, mum);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.requester.kind, 'guardian');
  assert.equal(u.status, 201);
  const guardian = (await auditOf(w, kid.json.id)).find((e) => e.action === 'request.file');
  assert.equal(guardian.reason, 'guardian');
});

test('one extension, with a reason, before the request is due', async () => {
  const r = await file(w.subject, { type: 'access' });
  const rid = r.json.id;
  let x = await move(rid, 'extend', {});
  assert.equal(x.status, 400);
  assert.equal(x.json.field, 'reason');
  x = await move(rid, 'extend', { reason: 'records are archived off site', days: 31 });
  assert.equal(x.status, 400);
  assert.equal(x.json.field, 'days');
  x = await move(rid, 'extend', { reason: 'records are archived off site' });
  assert.equal(x.status, 200, x.text);
  assert.equal((Date.parse(x.json.due) - Date.parse(r.json.due)) / 1000 / DAY, policy.request_deadlines.access.extension_days);
  assert.equal(x.json.extended.reason, 'records are archived off site');
  x = await move(rid, 'extend', { reason: 'once more' });
  assert.equal(x.status, 409);
  assert.equal(x.json.reason, 'already-extended');
  // Past its due date a request is not extended: it is overdue.
  const late = await file(w.subject, { type: 'access' });
  srv.advance(16 * DAY);
  await signIn();
  x = await move(late.json.id, 'extend', { reason: 'too late' });
  assert.equal(x.status, 409);
  assert.equal(x.json.reason, 'past-due');
  assert.equal((await move(late.json.id, 'deny', { reason: 'withdrawn' })).status, 200);
  assert.equal((await move(rid, 'deny', { reason: 'withdrawn' })).status, 200);
});

test('overdue requests are found by the clock, and stop being overdue once answered', async () => {
  await signIn();
  const s = await w.enroll({ name: 'Overdue Person', email: 'overdue@example.org' });
  const unsaid = await file(s, { type: 'access' }, w.tokens.po1, 'rights');
  assert.equal(unsaid.status, 400); // the rights power says who asks
  const a = await file(s, { type: 'access', requester: { kind: 'subject' }, source: 'phone' }, w.tokens.po1, 'rights');
  const d = await file(s, { type: 'delete', requester: { kind: 'subject' }, source: 'mail' }, w.tokens.po1, 'rights');
  assert.equal(a.status, 201);
  assert.equal(d.status, 201);
  const overdue = async (q = 'overdue=true') => {
    const r = await w.c.req('GET', `/v1/requests?${q}&limit=200`, { token: w.tokens.po1, purpose: 'rights' });
    assert.equal(r.status, 200, r.text);
    return r.json.requests.filter((x) => x.subject_id === s);
  };
  assert.deepEqual(await overdue(), []);
  srv.advance(14 * DAY);
  await signIn();
  assert.deepEqual(await overdue(), []);
  srv.advance(2 * DAY); // day 16: the access request (15 days) is overdue, the deletion (45) not
  await signIn();
  let late = await overdue();
  assert.deepEqual(late.map((x) => [x.id, x.overdue]), [[a.json.id, true]]);
  assert.deepEqual((await overdue('overdue=false')).map((x) => x.id), [d.json.id]);
  assert.deepEqual((await overdue('state=open&type=access')).map((x) => x.id), [a.json.id]);
  // Answering it (the export, then completing) ends it.
  assert.equal((await move(a.json.id, 'verify', { method: 'phone-call' })).status, 200);
  assert.equal((await po('GET', `/v1/subjects/${s}/export`)).status, 200);
  const done = await move(a.json.id, 'complete', {});
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.overdue, false);
  assert.deepEqual(await overdue(), []);
  srv.advance(30 * DAY); // day 46
  await signIn();
  late = await overdue();
  assert.deepEqual(late.map((x) => x.id), [d.json.id]);
  // The person sees it too.
  const mine = await w.c.req('GET', `/v1/subjects/${s}/requests?overdue=true`, { token: w.tokens.po1, purpose: 'rights' });
  assert.deepEqual(mine.json.requests.map((x) => [x.type, x.overdue]), [['delete', true]]);
  // Everyone's list is for the rights power alone.
  const denied = await w.c.req('GET', '/v1/requests?overdue=true', { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(denied.status, 403);
  assert.equal((await w.c.req('GET', '/v1/requests?overdue=maybe', { token: w.tokens.po1, purpose: 'rights' })).status, 400);
  assert.equal((await move(d.json.id, 'deny', { reason: 'withdrawn' })).status, 200);
});

test('a denied amendment is answered with the reason, and the person files a statement of disagreement', async () => {
  await signIn();
  const rec = await visit(w.subject, 'patient reported no allergies');
  const r = await file(w.subject, { type: 'amend', details: { collection: 'visits', record: rec,
    fields: { notes: 'patient is allergic to penicillin' }, reason: 'I told the doctor about my allergy' } });
  assert.equal(r.status, 201, r.text);
  let x = await move(r.json.id, 'disagreement', { statement: 'too early' }, w.tokens.grace, 'self');
  assert.equal(x.status, 409);
  assert.equal((await move(r.json.id, 'verify', { method: 'account' })).status, 200);
  x = await move(r.json.id, 'deny', { reason: 'other' });
  assert.equal(x.status, 400);
  assert.equal(x.json.field, 'explanation');
  x = await move(r.json.id, 'deny', { reason: 'accurate', explanation: 'The visit notes record what was said.' });
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.state, 'denied');
  assert.deepEqual([x.json.closed.outcome, x.json.closed.explanation], ['accurate', 'The visit notes record what was said.']);
  assert.equal(x.json.statement, null);
  x = await move(r.json.id, 'disagreement', { statement: 'I am allergic to penicillin and said so.' }, w.tokens.grace, 'self');
  assert.equal(x.status, 201, x.text);
  assert.equal(x.json.statement.statement, 'I am allergic to penicillin and said so.');
  x = await move(r.json.id, 'disagreement', { statement: 'again' }, w.tokens.grace, 'self');
  assert.equal(x.status, 409);
  // The record is unchanged; the statement travels with it (disclosures.test.js, export.test.js).
  const v = await w.c.req('GET', `/v1/subjects/${w.subject}/records/visits/${rec}`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(v.json.fields.notes, 'patient reported no allergies');
  // accurate and not-ours answer amendments only
  const other = await file(w.subject, { type: 'access' });
  x = await move(other.json.id, 'deny', { reason: 'accurate' });
  assert.equal(x.status, 400);
  assert.equal((await move(other.json.id, 'deny', { reason: 'withdrawn' })).status, 200);
  x = await move(other.json.id, 'disagreement', { statement: 'no' }, w.tokens.grace, 'self');
  assert.equal(x.status, 400);
});

test('an accepted amendment changes the record and keeps the old value in its history', async () => {
  const rec = await visit(w.subject, 'blood pressure 150/90');
  const r = await file(w.subject, { type: 'amend', details: { collection: 'visits', record: rec,
    fields: { notes: 'blood pressure 115/75' } } });
  assert.equal((await move(r.json.id, 'verify', { method: 'account' })).status, 200);
  // The purpose must cover the fields amended: a purpose that does not is refused.
  let x = await move(r.json.id, 'complete', {}, w.tokens.po1, 'operations');
  assert.equal(x.status, 403);
  assert.equal(x.json.reason, 'purpose-excludes-field');
  x = await move(r.json.id, 'complete', {});
  assert.equal(x.status, 200, x.text);
  assert.deepEqual(x.json.result, { amended: ['notes'] });
  const v = await w.c.req('GET', `/v1/subjects/${w.subject}/records/visits/${rec}`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(v.json.fields.notes, 'blood pressure 115/75');
  assert.equal(v.json.fields.reason, 'check-up');
  const e = await w.c.req('GET', `/v1/subjects/${w.subject}/export`, { token: w.tokens.grace, purpose: 'self' });
  const row = e.json.collections.visits.find((x) => x.id === rec);
  assert.deepEqual(row.history.map((h) => [h.field, h.value, h.category, h.request]),
    [['notes', 'blood pressure 150/90', 'user.health.medical_record', r.json.id]]);
  const entry = (await auditOf(w, w.subject)).find((a) => a.action === 'request.complete' && a.record === r.json.id && a.decision === 'permit');
  assert.equal(entry.collection, 'visits');
  assert.deepEqual(entry.categories, ['user.health.medical_record']);
  // The visit is a medical record the law keeps: it cannot be deleted, and its history stays.
  const kept = await w.c.req('DELETE', `/v1/subjects/${w.subject}/records/visits/${rec}`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(kept.status, 409);
  assert.equal(kept.json.reason, 'retention-keeps');
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM record_history WHERE record_id = '${rec}'`).trim(), '1');
  // Deleting a record that may be deleted (the person's own note) takes its history with it.
  const note = await w.c.req('POST', `/v1/subjects/${w.subject}/records/messages`, { token: w.tokens.grace, purpose: 'self',
    json: { text: 'call me on Tuesdays', sent_at: '2026-06-01T09:00:00Z' } });
  assert.equal(note.status, 201, note.text);
  const n = await file(w.subject, { type: 'amend', details: { collection: 'messages', record: note.json.id,
    fields: { text: 'call me on Thursdays' } } });
  assert.equal((await move(n.json.id, 'verify', { method: 'account' })).status, 200);
  x = await move(n.json.id, 'complete', {});
  assert.equal(x.status, 200, x.text);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM record_history WHERE record_id = '${note.json.id}'`).trim(), '1');
  assert.equal((await w.c.req('DELETE', `/v1/subjects/${w.subject}/records/messages/${note.json.id}`, { token: w.tokens.grace, purpose: 'self' })).status, 204);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM record_history WHERE record_id = '${note.json.id}'`).trim(), '0');
});

test('objection and withdrawal withdraw consents through the ledger; a complaint is answered', async () => {
  const grant = (kind) => w.c.req('POST', `/v1/subjects/${w.subject}/consents`, { token: w.tokens.grace, purpose: 'self',
    json: { kind, action: 'grant', source: 'web' } });
  assert.equal((await grant('marketing_email')).status, 201);
  assert.equal((await grant('marketing_sms')).status, 201);
  assert.equal((await grant('research')).status, 201);
  const obj = await file(w.subject, { type: 'object' });
  const wd = await file(w.subject, { type: 'withdraw', details: { kind: 'research' } });
  const cp = await file(w.subject, { type: 'complaint', source: 'email', details: { text: 'You called me at work.' } });
  for (const r of [obj, wd, cp]) assert.equal((await move(r.json.id, 'verify', { method: 'account' })).status, 200);
  let x = await move(obj.json.id, 'complete', {});
  assert.equal(x.status, 200, x.text);
  assert.deepEqual(x.json.result.withdrawn.sort(), ['marketing_email', 'marketing_sms']);
  x = await move(wd.json.id, 'complete', {});
  assert.deepEqual(x.json.result, { withdrawn: ['research'] });
  const ledger = await w.c.req('GET', `/v1/subjects/${w.subject}/consents`, { token: w.tokens.grace, purpose: 'self' });
  for (const k of ['marketing_email', 'marketing_sms', 'research']) assert.equal(ledger.json.current[k].held, false, k);
  const last = ledger.json.entries.at(-1);
  assert.deepEqual([last.kind, last.action, last.actor], ['research', 'withdraw', w.users.po1]);
  // A complaint is always answered.
  x = await move(cp.json.id, 'complete', {});
  assert.equal(x.status, 400);
  assert.equal(x.json.field, 'answer');
  x = await move(cp.json.id, 'complete', { answer: 'We are sorry; we will only call your home number.' });
  assert.equal(x.status, 200);
  const seen = await w.c.req('GET', `/v1/requests/${cp.json.id}`, { token: w.tokens.grace, purpose: 'self' });
  assert.equal(seen.json.closed.explanation, 'We are sorry; we will only call your home number.');
});

test('access, portability, the right to know and the accounting are completed once answered', async () => {
  for (const [type, route] of [['access', 'export'], ['portability', 'export?format=fhir'], ['know', 'know'], ['accounting', 'disclosures']]) {
    const r = await file(w.subject, { type });
    assert.equal((await move(r.json.id, 'verify', { method: 'account' })).status, 200);
    let x = await move(r.json.id, 'complete', {});
    assert.equal(x.status, 409, type);
    assert.equal(x.json.reason, 'not-yet-provided');
    // A provider's export for care answers no one's request.
    assert.equal((await w.c.req('GET', `/v1/subjects/${w.subject}/${route}`, { token: w.tokens.prov1, purpose: 'treatment' })).status, 200);
    assert.equal((await move(r.json.id, 'complete', {})).status, 409, type);
    assert.equal((await po('GET', `/v1/subjects/${w.subject}/${route}`)).status, 200, type);
    x = await move(r.json.id, 'complete', {});
    assert.equal(x.status, 200, `${type}: ${x.text}`);
    assert.ok(x.json.result.provided_at);
  }
});

test('who may not, may not; bad input changes nothing', async () => {
  const rows = () => sqlite(srv.data, 'SELECT count(*) FROM rights_requests').trim();
  const before = rows();
  for (const [token, purpose, status, reason] of [[w.tokens.staff1, 'operations', 403, 'role-cannot-handle-requests'],
    [w.tokens.prov1, 'treatment', 403, 'role-cannot-handle-requests'], [w.tokens.admin, 'operations', 403, 'role-not-allowed-purpose']]) {
    const r = await file(w.subject, { type: 'access', requester: { kind: 'subject' } }, token, purpose);
    assert.equal(r.status, status, r.text);
    assert.equal(r.json.reason, reason);
  }
  const rec = await visit(w.subject, 'x');
  for (const [json, status, field] of [
    [{ type: 'forget-me' }, 400, 'type'], [{}, 400, 'type'], [{ type: 'access', extra: 1 }, 400, 'extra'],
    [{ type: 'access', source: 'pigeon' }, 400, 'source'], [{ type: 'access', details: { x: 1 } }, 400, 'details'],
    [{ type: 'amend' }, 400, 'details'],
    [{ type: 'amend', details: { collection: 'visits', record: rec, fields: { ssn: '1' } } }, 422, 'ssn'],
    [{ type: 'amend', details: { collection: 'visits', record: 'rec_00000000000000000000000000', fields: { notes: 'a' } } }, 404, 'record'],
    [{ type: 'amend', details: { collection: 'nope', record: rec, fields: { notes: 'a' } } }, 400, 'collection'],
    [{ type: 'amend', details: { collection: 'visits', record: rec, fields: {} } }, 400, 'fields'],
    [{ type: 'withdraw', details: { kind: 'policy' } }, 400, 'kind'], [{ type: 'withdraw', details: { kind: 'nope' } }, 400, 'kind'],
    [{ type: 'complaint', details: { text: '' } }, 400, 'text'], [{ type: 'object', details: { kinds: [] } }, 400, 'kinds'],
  ]) {
    const r = await file(w.subject, json);
    assert.equal(r.status, status, `${JSON.stringify(json)}: ${r.text}`);
    assert.equal(r.json.field, field, JSON.stringify(json));
  }
  assert.equal(rows(), before);
  assert.equal((await w.c.req('GET', '/v1/requests/req_00000000000000000000000000', { token: w.tokens.po1, purpose: 'rights' })).status, 404);
  assert.equal((await move('req_00000000000000000000000000', 'verify', { method: 'account' })).status, 404);
  assert.equal((await file('sub_00000000000000000000000000', { type: 'access', requester: { kind: 'subject' } }, w.tokens.po1, 'rights')).status, 404);
});
