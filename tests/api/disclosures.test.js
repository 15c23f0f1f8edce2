// Disclosures: every release to a recipient of the policy's registry is recorded, and refused
// where the policy forbids it (health data only under a business associate agreement, never to
// a business partner, a kind of recipient the policy forbids gets nothing, SMS numbers never);
// the accounting lists the past 6 years' disclosures other than for treatment, payment or
// operations; a statement of disagreement goes with every later disclosure of its record.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, SRC, auditOf, sqlite, startServer, world } from './lib/harness.js';

const DAY = 86400;

let srv, w, visitId;
before(async () => {
  srv = await startServer();
  w = await world(srv);
  const v = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { date: '2026-06-01', reason: 'laser', notes: 'mild redness after' } });
  assert.equal(v.status, 201);
  visitId = v.json.id;
  assert.equal((await w.c.req('POST', `/v1/subjects/${w.subject}/records/payments`, { token: w.tokens.staff1,
    purpose: 'payment', json: { card_last4: '4242', amount: 300 } })).status, 201);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const disclose = (subject, json, token = w.tokens.po1, purpose = 'legal') =>
  w.c.req('POST', `/v1/subjects/${subject}/disclosures`, { token, purpose, json });
const accounting = (subject, token = w.tokens.grace, purpose = 'self') =>
  w.c.req('GET', `/v1/subjects/${subject}/disclosures`, { token, purpose });

test('each disclosure is recorded; the accounting lists those not for treatment, payment or operations', async () => {
  const court = await disclose(w.subject, { recipient: 'county-court', collection: 'visits',
    description: 'Visit notes, in answer to subpoena 2026-114' });
  assert.equal(court.status, 201, court.text);
  assert.equal(court.json.recipient_kind, 'legal');
  assert.equal(court.json.tpo, false);
  assert.deepEqual(court.json.records, [visitId]);
  assert.deepEqual(court.json.categories, ['user.health.medical_record']);
  assert.deepEqual(court.json.fields, ['date', 'reason', 'notes']);
  const billing = await disclose(w.subject, { recipient: 'acme-billing', collection: 'payments' }, w.tokens.staff1, 'payment');
  assert.equal(billing.status, 201, billing.text);
  assert.equal(billing.json.tpo, true);
  const r = await accounting(w.subject);
  assert.equal(r.status, 200, r.text);
  // For treatment, payment and operations nothing is accounted for: only the court's.
  assert.deepEqual(r.json.disclosures.map((d) => [d.id, d.recipient, d.purpose, d.description]),
    [[court.json.id, 'county-court', 'legal', 'Visit notes, in answer to subpoena 2026-114']]);
  const d = r.json.disclosures[0];
  assert.deepEqual(d.categories, ['user.health.medical_record']);
  assert.equal(d.purpose_description, 'Answering a court order or another obligation of law.');
  // Both are in the audit log, with their recipient; the description is sealed at rest.
  const entries = (await auditOf(w, w.subject)).filter((e) => e.action === 'disclosure.record');
  assert.deepEqual(entries.map((e) => [e.recipient, e.decision, e.record]), [['county-court', 'permit', court.json.id],
    ['acme-billing', 'permit', billing.json.id]]);
  assert.ok(!Buffer.from(sqlite(srv.data, `SELECT hex(description) FROM disclosures WHERE id = '${court.json.id}'`).trim(), 'hex')
    .toString().includes('subpoena'));
  // Who else may read the accounting: the rights power; not a provider.
  assert.equal((await accounting(w.subject, w.tokens.po1, 'rights')).status, 200);
  assert.equal((await accounting(w.subject, w.tokens.prov1, 'treatment')).status, 200); // assigned, for treatment
  assert.equal((await accounting(w.subject, w.tokens.prov2, 'treatment')).status, 403);
});

test('the accounting covers six years', async () => {
  const s = await w.enroll({ name: 'Six Years', email: 'six@example.org' });
  const old = await disclose(s, { recipient: 'public-health', collection: 'profile', fields: ['name', 'birth_date'] });
  assert.equal(old.status, 201, old.text);
  srv.advance(5 * 365 * DAY);
  for (const n of ['po1', 'staff1', 'grace', 'prov1']) w.tokens[n] = await w.c.login(n, PASSWORD(n));
  const newer = await disclose(s, { recipient: 'county-court', collection: 'profile', fields: ['name'] });
  assert.equal(newer.status, 201);
  let r = await accounting(s, w.tokens.po1, 'rights');
  assert.deepEqual(r.json.disclosures.map((d) => d.id), [old.json.id, newer.json.id]);
  srv.advance(366 * DAY + 2 * DAY); // the first is now more than six years old
  for (const n of ['po1', 'staff1', 'grace', 'prov1']) w.tokens[n] = await w.c.login(n, PASSWORD(n));
  w.tokens.admin = await w.c.login('admin', ADMIN_PASSWORD);
  r = await accounting(s, w.tokens.po1, 'rights');
  assert.deepEqual(r.json.disclosures.map((d) => d.id), [newer.json.id]);
  const span = (Date.parse(r.json.to) - Date.parse(r.json.from)) / 1000 / DAY;
  assert.ok(span >= 6 * 365 && span <= 6 * 366, String(span));
});

test('a statement of disagreement goes with every later disclosure of its record', async () => {
  const rec = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { date: '2026-06-02', reason: 'filler', notes: 'patient declined aftercare' } });
  const amend = await w.c.req('POST', `/v1/subjects/${w.subject}/requests`, { token: w.tokens.grace, purpose: 'self',
    json: { type: 'amend', details: { collection: 'visits', record: rec.json.id, fields: { notes: 'aftercare was not offered' } } } });
  const rid = amend.json.id;
  const move = (t, json, token = w.tokens.po1, purpose = 'rights') => w.c.req('POST', `/v1/requests/${rid}/${t}`, { token, purpose, json });
  assert.equal((await move('verify', { method: 'account' })).status, 200);
  assert.equal((await move('deny', { reason: 'accurate', explanation: 'The note is what was said.' })).status, 200);
  const st = await move('disagreement', { statement: 'Aftercare was never offered to me.' }, w.tokens.grace, 'self');
  assert.equal(st.status, 201);
  const statementId = st.json.statement.id;
  // A disclosure of that record carries the statement; one of another record does not.
  const withIt = await disclose(w.subject, { recipient: 'county-court', collection: 'visits', records: [rec.json.id] });
  assert.equal(withIt.status, 201, withIt.text);
  assert.deepEqual(withIt.json.statements.map((x) => [x.id, x.record, x.statement]),
    [[statementId, rec.json.id, 'Aftercare was never offered to me.']]);
  const without = await disclose(w.subject, { recipient: 'county-court', collection: 'visits', records: [visitId] });
  assert.deepEqual(without.json.statements, []);
  const all = await disclose(w.subject, { recipient: 'public-health', collection: 'visits' });
  assert.equal(all.json.statements.length, 1);
  const acc = await accounting(w.subject);
  assert.deepEqual(acc.json.disclosures.find((d) => d.id === withIt.json.id).statements, [statementId]);
  // It travels with the record in every export too.
  const e = await w.c.req('GET', `/v1/subjects/${w.subject}/export`, { token: w.tokens.grace, purpose: 'self' });
  assert.equal(e.json.collections.visits.find((x) => x.id === rec.json.id).statements[0].statement, 'Aftercare was never offered to me.');
});

test('the example policy refuses what its registry forbids, and records nothing then', async () => {
  const rows = () => sqlite(srv.data, 'SELECT count(*) FROM disclosures').trim();
  const before = rows();
  for (const [json, token, purpose, reason] of [
    [{ recipient: 'nobody', collection: 'profile', fields: ['name'] }, w.tokens.po1, 'legal', 'unknown-recipient'],
    [{ recipient: 'county-court', collection: 'profile', fields: ['phone'] }, w.tokens.po1, 'legal', 'sms-never-shared'],
    [{ recipient: 'county-court', consents: ['service_sms'] }, w.tokens.po1, 'legal', 'sms-never-shared'],
    [{ recipient: 'public-health', collection: 'profile', fields: ['email'] }, w.tokens.po1, 'legal', 'recipient-excludes-field'],
    [{ recipient: 'acme-billing', collection: 'visits' }, w.tokens.po1, 'legal', 'recipient-excludes-field'],
    [{ recipient: 'acme-billing', collection: 'visits' }, w.tokens.staff1, 'payment', 'purpose-excludes-field'],
  ]) {
    const r = await disclose(w.subject, json, token, purpose);
    assert.equal(r.status, 403, `${JSON.stringify(json)}: ${r.text}`);
    assert.equal(r.json.reason, reason, JSON.stringify(json));
  }
  for (const [json, field] of [[{ collection: 'visits' }, 'recipient'], [{ recipient: 'county-court' }, 'collection'],
    [{ recipient: 'county-court', collection: 'nope' }, 'collection'], [{ recipient: 'county-court', collection: 'visits', fields: ['ssn'] }, 'fields'],
    [{ recipient: 'county-court', collection: 'visits', records: ['rec_00000000000000000000000000'] }, 'records'],
    [{ recipient: 'county-court', consents: ['nope'] }, 'consents'], [{ recipient: 'county-court', collection: 'visits', x: 1 }, 'x']]) {
    const r = await disclose(w.subject, json);
    assert.equal(r.status, 400, JSON.stringify(json));
    assert.equal(r.json.field, field);
  }
  assert.equal(rows(), before);
  const denied = (await auditOf(w, w.subject)).filter((e) => e.action === 'disclosure.record' && e.decision === 'deny');
  assert.ok(denied.some((e) => e.reason === 'sms-never-shared'));
  assert.ok(denied.some((e) => e.reason === 'unknown-recipient' && e.recipient === '?'));
});

// A server with another policy, its users and one person with a health record.
async function other(policyFile, profile, records) {
  const t = await startServer({ policy: `${SRC}/tests/unit/policies/good/${policyFile}` });
  const c = t.client;
  const admin = await c.login('admin', ADMIN_PASSWORD);
  const tokens = {};
  for (const [u, role] of [['desk', 'staff'], ['officer', 'privacy_officer'], ['doc', 'provider']]) {
    const r = await c.req('POST', '/v1/users', { token: admin, json: { username: u, password: PASSWORD(u), role } });
    assert.equal(r.status, 201);
    tokens[u] = await c.login(u, PASSWORD(u));
  }
  const version = (await c.req('GET', '/v1/policy')).json.version;
  const e = await c.req('POST', '/v1/subjects', { token: tokens.doc, purpose: 'treatment',
    json: { policy_version: version, birth_date: '1970-01-01', profile } });
  assert.equal(e.status, 201, e.text);
  for (const [collection, json] of records) {
    const r = await c.req('POST', `/v1/subjects/${e.json.id}/records/${collection}`, { token: tokens.doc, purpose: 'treatment', json });
    assert.equal(r.status, 201, r.text);
  }
  return { t, c, tokens, s: e.json.id };
}

test('health data only under a business associate agreement, never to a business partner', async () => {
  const { t, c, tokens, s } = await other('disclosures.yaml', { name: 'Registry Person' }, [['conditions', { condition: 'asthma' }]]);
  try {
    const go = (json, purpose = 'sharing', token = tokens.desk) => c.req('POST', `/v1/subjects/${s}/disclosures`, { token, purpose, json });
    const cases = [
      ['mailer', 'conditions', null, 403, 'baa-required'], // a service provider without an agreement
      ['mailer', 'profile', ['name'], 201, null], // personal data that is not health data: fine
      ['lab', 'conditions', null, 201, null], // with an agreement: fine
      ['sister-clinic', 'conditions', null, 403, 'baa-required'],
      ['acquirer', 'conditions', null, 201, null],
      ['partner', 'conditions', null, 403, 'business-partner-no-health-data'],
      ['partner', 'profile', ['name', 'email'], 201, null],
      ['partner', 'profile', ['phone'], 403, 'sms-never-shared'],
      ['specialist', 'conditions', null, 201, null], // a provider, for care, needs no agreement
      ['specialist', 'profile', ['email'], 403, 'recipient-excludes-field'],
      ['court', 'conditions', null, 201, null], // the law needs none either
    ];
    for (const [recipient, collection, fields, status, reason] of cases) {
      const r = await go({ recipient, collection, ...(fields ? { fields } : {}) });
      assert.equal(r.status, status, `${recipient} ${collection}: ${r.text}`);
      if (reason) assert.equal(r.json.reason, reason, recipient);
    }
    // The disclosure check gives the same answers without recording anything.
    const chk = await c.req('GET', `/v1/subjects/${s}/disclosure-check?recipient=partner&collection=conditions`, { token: tokens.desk, purpose: 'sharing' });
    assert.deepEqual([chk.json.allowed, chk.json.reason], [false, 'business-partner-no-health-data']);
    assert.equal(sqlite(t.data, 'SELECT count(*) FROM disclosures').trim(), String(cases.filter((x) => x[3] === 201).length));
    const policy = (await c.req('GET', '/v1/policy')).json;
    assert.deepEqual(policy.disclosure, { forbidden_kinds: [], never_sell: false });
  } finally {
    await t.stop();
    t.remove();
  }
});

test('a policy may forbid service providers altogether', async () => {
  const { t, c, tokens, s } = await other('no-service-providers.yaml', { name: 'Spa Client' }, [['visits', { notes: 'peel' }]]);
  try {
    const pay = await c.req('POST', `/v1/subjects/${s}/records/payments`, { token: tokens.desk, purpose: 'payment', json: { card_last4: '1111' } });
    assert.equal(pay.status, 201);
    // Even with an agreement, and even data that is not health data.
    const r = await c.req('POST', `/v1/subjects/${s}/disclosures`, { token: tokens.desk, purpose: 'payment',
      json: { recipient: 'card-processor', collection: 'payments' } });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.reason, 'recipient-kind-forbidden');
    const chk = await c.req('GET', `/v1/subjects/${s}/disclosure-check?recipient=card-processor&collection=profile&fields=name`,
      { token: tokens.desk, purpose: 'payment' });
    assert.deepEqual([chk.json.allowed, chk.json.reason], [false, 'recipient-kind-forbidden']);
    const court = await c.req('POST', `/v1/subjects/${s}/disclosures`, { token: tokens.officer, purpose: 'legal',
      json: { recipient: 'county-court', collection: 'visits' } });
    assert.equal(court.status, 201);
    assert.equal(sqlite(t.data, 'SELECT count(*) FROM disclosures').trim(), '1');
    assert.deepEqual((await c.req('GET', '/v1/policy')).json.disclosure, { forbidden_kinds: ['service_provider'], never_sell: false });
  } finally {
    await t.stop();
    t.remove();
  }
});
