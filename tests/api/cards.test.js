// Payment cards (requirement A4): where the policy says payment_cards.refuse_numbers, a full card
// number anywhere in a request is refused (422 card-number) with the field named and never the
// number, nothing is stored, and the refusal is audited; only the last 4 digits are kept. A policy
// without the rule stores what it is sent.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { EXAMPLE_POLICY, PASSWORD, auditOf, sqlite, startServer, world } from './lib/harness.js';

const CARD = '4111111111111111';
const DIGITS = /4111|1111[ -]?1111/;
let srv, w, dir;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pvcards-'));
  const policy = path.join(dir, 'cards.yaml');
  writeFileSync(policy, `${readFileSync(EXAMPLE_POLICY, 'utf8')}
payment_cards: {refuse_numbers: true, last4: payments.card_last4}
`);
  srv = await startServer({ policy });
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
  rmSync(dir, { recursive: true, force: true });
});

// A refusal: 422 of its own type, the field named, the number nowhere in the answer.
function refused(r, field) {
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.type, '/problems/card-number');
  assert.equal(r.json.reason, 'card-number');
  assert.equal(r.json.field, field);
  assert.doesNotMatch(r.text, DIGITS);
}
const visits = (s) => Number(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}' AND collection = 'visits'`));

test('the policy says where the last 4 digits go, and GET /v1/policy shows it', async () => {
  const p = await w.c.req('GET', '/v1/policy');
  assert.deepEqual(p.json.payment_cards, { refuse_numbers: true, last4: 'payments.card_last4' });
  assert.equal(p.json.categories['user.financial.credit_card'].store, 'last4');
});

test('a card number in a note is refused, in every way it is written, and nothing is stored', async () => {
  const before = visits(w.subject);
  for (const notes of [CARD, '4111 1111 1111 1111', '4111-1111-1111-1111', `paid by card ${CARD} on the phone`,
    'Amex 3782 822463 10005', 'ref 12 4111 1111 1111 1111']) {
    const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
      purpose: 'treatment', json: { date: '2026-02-01', reason: 'check-up', notes } });
    refused(r, 'notes');
  }
  assert.equal(visits(w.subject), before);
  // Each refusal is an audit entry: the action, the subject, the reason, and never the value.
  const denied = (await auditOf(w, w.subject)).filter((e) => e.reason === 'card-number');
  assert.equal(denied.length, 6);
  for (const e of denied) {
    assert.equal(e.action, 'record.create');
    assert.equal(e.decision, 'deny');
    assert.equal(e.actor, w.users.prov1);
    assert.equal(e.purpose, 'treatment');
  }
  assert.doesNotMatch(sqlite(srv.data, 'SELECT * FROM audit'), DIGITS);
  assert.doesNotMatch(srv.log(), DIGITS);
});

test('only the last 4 digits are kept: the card field takes four digits and nothing more', async () => {
  const ok = await w.c.req('POST', `/v1/subjects/${w.subject}/records/payments`, { token: w.tokens.staff1,
    purpose: 'payment', json: { card_last4: '1111', amount: '120.00' } });
  assert.equal(ok.status, 201, ok.text);
  const read = await w.c.req('GET', `/v1/subjects/${w.subject}/records/payments/${ok.json.id}`,
    { token: w.tokens.staff1, purpose: 'payment' });
  assert.equal(read.json.fields.card_last4, '1111');
  refused(await w.c.req('POST', `/v1/subjects/${w.subject}/records/payments`, { token: w.tokens.staff1,
    purpose: 'payment', json: { card_last4: CARD, amount: '120.00' } }), 'card_last4');
  // Sent as a JSON number, it is still a card number.
  refused(await w.c.req('POST', `/v1/subjects/${w.subject}/records/payments`, { token: w.tokens.staff1,
    purpose: 'payment', json: { card_last4: '1111', amount: 4111111111111111 } }), 'amount');
  refused(await w.c.req('PATCH', `/v1/subjects/${w.subject}/records/payments/${ok.json.id}`,
    { token: w.tokens.staff1, purpose: 'payment', json: { amount: `card ${CARD}` } }), 'amount');
  const again = await w.c.req('GET', `/v1/subjects/${w.subject}/records/payments/${ok.json.id}`,
    { token: w.tokens.staff1, purpose: 'payment' });
  assert.equal(again.json.fields.amount, '120.00');
});

test('every other string the API stores is searched too, at any depth, member names included', async () => {
  const s = w.subject;
  const subjects = () => Number(sqlite(srv.data, 'SELECT count(*) FROM subjects'));
  const n = subjects();
  refused(await w.c.req('POST', '/v1/subjects', { token: w.tokens.staff1, purpose: 'operations',
    json: { policy_version: w.version, birth_date: '1980-01-01', profile: { name: `Ann ${CARD}` } } }), 'profile.name');
  assert.equal(subjects(), n);
  refused(await w.c.req('PATCH', `/v1/subjects/${s}/records/profile/${(await w.c.req('GET', `/v1/subjects/${s}`,
    { token: w.tokens.staff1, purpose: 'operations' })).json.profile.id}`,
  { token: w.tokens.staff1, purpose: 'operations', json: { name: CARD } }), 'name');
  const consents = Number(sqlite(srv.data, 'SELECT count(*) FROM consents'));
  refused(await w.c.req('POST', `/v1/subjects/${s}/consents`, { token: w.tokens.staff1, purpose: 'operations',
    json: { kind: 'marketing_email', action: 'grant', source: 'phone', evidence: `read back card ${CARD}` } }), 'evidence');
  assert.equal(Number(sqlite(srv.data, 'SELECT count(*) FROM consents')), consents);
  refused(await w.c.req('POST', `/v1/subjects/${s}/holds`, { token: w.tokens.po1, purpose: 'operations',
    json: { reason: `chargeback on ${CARD}` } }), 'reason');
  refused(await w.c.req('POST', `/v1/subjects/${s}/requests`, { token: w.tokens.grace, purpose: 'self',
    json: { type: 'amend', details: `my card is 4111-1111-1111-1111` } }), 'details');
  refused(await w.c.req('PUT', `/v1/subjects/${s}/contact-preferences`, { token: w.tokens.staff1, purpose: 'operations',
    json: { channels: ['mail'], addresses: { mail: `PO Box ${CARD}` } } }), 'addresses.mail');
  refused(await w.c.req('POST', `/v1/subjects/${s}/usage`, { token: w.tokens.grace, purpose: 'site',
    json: { ip: '198.51.100.23', page: `/pay?card=${CARD}` } }), 'page');
  refused(await w.c.req('POST', `/v1/subjects/${s}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment',
    json: { date: '2026-02-01', [CARD]: 'x' } }), '(member name)');
  refused(await w.c.req('POST', '/v1/users', { token: w.tokens.admin,
    json: { username: `u${CARD}`, password: PASSWORD('x'), role: 'staff' } }), 'username');
  for (const table of ['holds', 'rights_requests', 'contact_prefs', 'usage_events'])
    assert.equal(Number(sqlite(srv.data, `SELECT count(*) FROM ${table} WHERE subject_id = '${s}'`)), 0, table);
  // The refusals on routes without a subject are audited as well.
  const all = await w.c.req('GET', '/v1/audit?limit=1000', { token: w.tokens.po1 });
  assert.ok(all.json.entries.some((e) => e.action === 'subject.enroll' && e.reason === 'card-number'));
  assert.ok(all.json.entries.some((e) => e.action === 'input.refused' && e.reason === 'card-number' &&
    e.role === 'admin'));
});

test('numbers that are not card numbers pass, and a password is only hashed, so it is not searched', async () => {
  for (const notes of ['4111111111111112', '411111111111', 'call +1 555 0142', '2026-11-20 to 2026-12-01', 'card ending 1111']) {
    const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
      purpose: 'treatment', json: { date: '2026-02-01', notes } });
    assert.equal(r.status, 201, `${notes}: ${r.text}`);
  }
  const u = await w.c.req('POST', '/v1/users', { token: w.tokens.admin,
    json: { username: 'cardpass', password: `${CARD}x`, role: 'staff' } });
  assert.equal(u.status, 201, u.text);
  assert.ok(await w.c.login('cardpass', `${CARD}x`));
});

test('an attacker without a session learns nothing: 401 comes before the search', async () => {
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { purpose: 'treatment',
    json: { notes: CARD } });
  assert.equal(r.status, 401);
});

test('a policy without the rule stores what it is sent (the rule is the policy\'s)', async () => {
  const plain = await startServer();
  try {
    const pw = await world(plain);
    const p = await pw.c.req('GET', '/v1/policy');
    assert.deepEqual(p.json.payment_cards, { refuse_numbers: false, last4: null });
    const r = await pw.c.req('POST', `/v1/subjects/${pw.subject}/records/visits`, { token: pw.tokens.prov1,
      purpose: 'treatment', json: { date: '2026-02-01', notes: CARD } });
    assert.equal(r.status, 201);
  } finally {
    await plain.stop();
    plain.remove();
  }
});
