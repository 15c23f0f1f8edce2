// Non-discrimination (CCPA 1798.125): a person who used each of their rights gets the same
// service answers as one who did not. Two people alike in everything but their names; one files
// a request of every type and sees each through (a deletion they withdraw, a restriction they
// lift again, an amendment denied with their statement filed); then both ask for the same
// service, from the same staff, and every answer is compared.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PASSWORD, startServer, world } from './lib/harness.js';

let srv, w, ann, bob;
before(async () => {
  srv = await startServer();
  w = await world(srv);
  ann = await person('ann', 'Ann Alder');
  bob = await person('bob', 'Bob Birch');
});
after(async () => {
  await srv.stop();
  srv.remove();
});

// A person with an account, an assigned provider, a visit and a payment.
async function person(username, name) {
  const c = w.c;
  const s = await w.enroll({ name, email: `${username}@example.org`, phone: username === 'ann' ? '+1 555 0131' : '+1 555 0132' });
  assert.equal((await c.req('POST', `/v1/subjects/${s}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } })).status, 201);
  const u = await c.req('POST', '/v1/users', { token: w.tokens.admin, json: { username, password: PASSWORD(username), role: 'patient', subject_id: s } });
  assert.equal(u.status, 201);
  const token = await c.login(username, PASSWORD(username));
  const visit = await c.req('POST', `/v1/subjects/${s}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment',
    json: { date: '2026-08-01', reason: 'consultation', notes: 'no concerns' } });
  const pay = await c.req('POST', `/v1/subjects/${s}/records/payments`, { token: w.tokens.staff1, purpose: 'payment',
    json: { card_last4: '4000', amount: 80 } });
  assert.equal(visit.status, 201);
  assert.equal(pay.status, 201);
  return { s, token, username, email: `${username}@example.org`, visit: visit.json.id, pay: pay.json.id };
}

// Ann uses every right, each request seen through by the privacy officer.
async function useEveryRight(p) {
  const c = w.c;
  const file = async (type, details) => {
    const r = await c.req('POST', `/v1/subjects/${p.s}/requests`, { token: p.token, purpose: 'self', json: { type, details } });
    assert.equal(r.status, 201, `${type}: ${r.text}`);
    const v = await c.req('POST', `/v1/requests/${r.json.id}/verify`, { token: w.tokens.po1, purpose: 'rights', json: { method: 'account' } });
    assert.equal(v.status, 200);
    return r.json.id;
  };
  const move = async (rid, t, json = {}, status = 200) => {
    const r = await c.req('POST', `/v1/requests/${rid}/${t}`, { token: w.tokens.po1, purpose: 'rights', json });
    assert.equal(r.status, status, `${t}: ${r.text}`);
    return r.json;
  };
  const own = (route) => c.req('GET', `/v1/subjects/${p.s}/${route}`, { token: p.token, purpose: 'self' });
  const used = [];
  for (const [type, route] of [['access', 'export?format=html'], ['portability', 'export?format=fhir'], ['know', 'know'],
    ['accounting', 'disclosures']]) {
    const rid = await file(type);
    assert.equal((await own(route)).status, 200);
    await move(rid, 'complete');
    used.push(type);
  }
  const amend = await file('amend', { collection: 'visits', record: p.visit, fields: { notes: 'some concerns' } });
  await move(amend, 'deny', { reason: 'accurate' });
  assert.equal((await c.req('POST', `/v1/requests/${amend}/disagreement`, { token: p.token, purpose: 'self',
    json: { statement: 'I did raise concerns.' } })).status, 201);
  used.push('amend');
  const restrict = await file('restrict');
  await move(restrict, 'complete');
  assert.equal((await c.req('DELETE', `/v1/subjects/${p.s}/restriction`, { token: p.token, purpose: 'self' })).status, 200);
  used.push('restrict');
  await move(await file('object'), 'complete');
  used.push('object');
  await move(await file('withdraw', { kind: 'research' }), 'complete');
  used.push('withdraw');
  await move(await file('complaint', { text: 'The waiting room was cold.' }), 'complete', { answer: 'We have fixed the heating.' });
  used.push('complaint');
  await move(await file('delete'), 'deny', { reason: 'withdrawn', explanation: 'The person changed their mind.' });
  used.push('delete');
  return used;
}

// An answer as a service sees it, without what names the person (ids, values, times).
function shape(r) {
  const j = r.json ?? {};
  const keys = (o) => (o ? Object.keys(o).sort() : null);
  return {
    status: r.status,
    reason: j.reason ?? null,
    allowed: j.allowed ?? null,
    fields: keys(j.fields ?? j.profile?.fields),
    withheld: (j.withheld ?? j.profile?.withheld ?? null)?.slice().sort() ?? null,
    records: j.records ? j.records.map((x) => keys(x.fields)) : null,
    held: j.current ? Object.fromEntries(Object.entries(j.current).map(([k, v]) => [k, v.held])) : null,
    stored: j.stored ?? null,
    dropped: j.dropped ?? null,
    status_of_subject: j.status ?? null,
    count: Array.isArray(j.subjects) ? j.subjects.length : null,
  };
}

// The service a person gets: from their provider, the front desk, the contact rules, themselves.
async function serviceAnswers(p) {
  const c = w.c;
  const as = (token, purpose) => (method, route, json) => c.req(method, route, { token, purpose, json });
  const prov = as(w.tokens.prov1, 'treatment');
  const desk = (purpose) => as(w.tokens.staff1, purpose);
  const self = as(p.token, 'self');
  const base = `/v1/subjects/${p.s}`;
  return {
    'provider reads the profile': await prov('GET', base),
    'provider lists visits': await prov('GET', `${base}/records/visits`),
    'provider reads a visit': await prov('GET', `${base}/records/visits/${p.visit}`),
    'provider writes a visit': await prov('POST', `${base}/records/visits`, { date: '2026-09-01', reason: 'review', notes: 'fine' }),
    'front desk reads a payment': await desk('payment')('GET', `${base}/records/payments/${p.pay}`),
    'front desk takes a payment': await desk('payment')('POST', `${base}/records/payments`, { card_last4: '4000', amount: 80 }),
    'front desk finds them by email': await desk('operations')('GET', `/v1/subjects?email=${p.email}`),
    'appointment reminder by text': await desk('operations')('GET', `${base}/contact-check?channel=sms`),
    'account message by email': await desk('operations')('GET', `${base}/contact-check?channel=email`),
    'billing by phone': await desk('payment')('GET', `${base}/contact-check?channel=phone`),
    'billing service may get payments': await desk('payment')('GET', `${base}/disclosure-check?recipient=acme-billing&collection=payments`),
    'usage of the site': await desk('site')('POST', `${base}/usage`, { ip: '192.0.2.1', page: '/book' }),
    'they read their own profile': await self('GET', base),
    'they book a visit themselves': await self('POST', `${base}/records/visits`, { date: '2026-09-02', reason: 'booking' }),
    'their consents': await self('GET', `${base}/consents`),
    'their policy status': await self('GET', `${base}/policy-status`),
    'they sign in': await c.req('POST', '/v1/auth/login', { json: { username: p.username, password: PASSWORD(p.username) } }),
  };
}

test('a person who used every right is served exactly as one who used none', async () => {
  const used = await useEveryRight(ann);
  assert.deepEqual(used.sort(), ['access', 'accounting', 'amend', 'complaint', 'delete', 'know', 'object',
    'portability', 'restrict', 'withdraw']);
  const a = await serviceAnswers(ann);
  const b = await serviceAnswers(bob);
  for (const what of Object.keys(a)) {
    assert.ok(a[what].status < 300, `${what}: ${a[what].status} ${a[what].text}`);
    assert.deepEqual(shape(a[what]), shape(b[what]), what);
  }
  // The same staff saw both: every answer was a permit, and none told the rights apart.
  assert.equal(Object.keys(a).length, 17);
});
