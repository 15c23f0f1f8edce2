// Contour Medical Spa runs on phivault from policies/contour-medspa.yaml: every promise of its
// notice tagged CMS in REQUIREMENTS.md, through the HTTP API, as the client, the provider, the
// front desk, the privacy officer and an attacker would.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, auditOf, cli, PASSWORD, SRC, sqlite, startServer, world } from '../api/lib/harness.js';

// The test packages are installed under tests/api (its package.json and lock).
const twilio = createRequire(new URL('../api/package.json', import.meta.url))('twilio');
const POLICY = path.join(SRC, 'policies', 'contour-medspa.yaml');
const WEBHOOK = 'https://contour.example.org/v1/sms/inbound';
const TWILIO = randomBytes(16).toString('hex');
const DAY = 86400;
const YEAR = 365 * DAY;

let srv, w, c;
before(async () => {
  srv = await startServer({ policy: POLICY });
  const setup = cli(['sms', 'setup', '--data', srv.data, '--url', WEBHOOK],
    { env: { ...srv.env(), PHIVAULT_TWILIO_AUTH_TOKEN: TWILIO } });
  assert.equal(setup.status, 0, setup.stderr);
  await srv.restart();
  w = await world(srv); // Grace Hopper, +1 555 0102, assigned to prov1; staff1, po1, prov2
  c = w.c;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const as = (who, purpose) => ({ token: w.tokens[who], purpose });
const relogin = async () => {
  for (const n of ['staff1', 'prov1', 'prov2', 'po1', 'grace']) w.tokens[n] = await c.login(n, PASSWORD(n));
  w.tokens.admin = await c.login('admin', ADMIN_PASSWORD);
};

async function appointment(subject, date = '2026-03-02') {
  const r = await c.req('POST', `/v1/subjects/${subject}/records/appointments`, { ...as('prov1', 'treatment'),
    json: { date, treatment: 'chemical peel', follow_up: '2026-03-16', care_plan: 'sunscreen daily' } });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function medicalRecord(subject) {
  const r = await c.req('POST', `/v1/subjects/${subject}/records/medical_records`, { ...as('prov1', 'treatment'),
    json: { date: '2026-03-02', history: 'no allergies', diagnosis: 'melasma', treatment: 'peel', test_results: 'none' } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

test('minimum necessary and purpose (A3, B1): only declared fields, every access states a permitted purpose', async () => {
  const rec = await medicalRecord(w.subject);
  // A field the policy does not declare is refused by name, and nothing is stored.
  const before = sqlite(srv.data, 'SELECT count(*) FROM records').trim();
  const ssn = await c.req('POST', `/v1/subjects/${w.subject}/records/medical_records`, { ...as('prov1', 'treatment'),
    json: { date: '2026-03-02', ssn: '078-05-1120' } });
  assert.equal(ssn.status, 422);
  assert.equal(ssn.json.field, 'ssn');
  assert.equal(sqlite(srv.data, 'SELECT count(*) FROM records').trim(), before);
  // No purpose: 400; the front desk cannot claim treatment; billing never reaches medical records.
  assert.equal((await c.req('GET', `/v1/subjects/${w.subject}/records/medical_records/${rec}`, { token: w.tokens.prov1 })).status, 400);
  const desk = await c.req('GET', `/v1/subjects/${w.subject}/records/medical_records/${rec}`, as('staff1', 'treatment'));
  assert.equal(desk.status, 403);
  const billing = await c.req('GET', `/v1/subjects/${w.subject}/records/medical_records/${rec}`, as('staff1', 'payment'));
  assert.equal(billing.status, 403);
  assert.equal(billing.json.reason, 'purpose-excludes-collection');
  // The provider sees what treatment needs of the profile, not the contact details.
  const prof = await c.req('GET', `/v1/subjects/${w.subject}`, as('prov1', 'treatment'));
  assert.equal(prof.status, 200);
  assert.equal(prof.json.profile.fields.name, 'Grace Hopper');
  assert.equal(prof.json.profile.fields.email, undefined);
  assert.equal(prof.json.profile.fields.phone, undefined);
  // Another provider, not assigned, sees nothing (an attacker with a provider's account).
  assert.equal((await c.req('GET', `/v1/subjects/${w.subject}/records/medical_records/${rec}`, as('prov2', 'treatment'))).status, 403);
  // A card number: only the last 4 digits are ever kept.
  const card = await c.req('POST', `/v1/subjects/${w.subject}/records/payments`, { ...as('staff1', 'payment'),
    json: { date: '2026-03-02', card_last4: '4242424242424242', amount: '250.00' } });
  assert.equal(card.status, 400);
  assert.equal(card.json.field, 'card_last4');
  assert.equal(sqlite(srv.data, "SELECT count(*) FROM records WHERE collection = 'payments'").trim(), '0');
  assert.equal((await c.req('POST', `/v1/subjects/${w.subject}/records/payments`, { ...as('staff1', 'payment'),
    json: { date: '2026-03-02', card_last4: '4242', amount: '250.00', insurance_claim: 'CL-1' } })).status, 201);
});

test('marketing (B2): only with opt-in, and never on health information without written authorization', async () => {
  const check = async () => (await c.req('GET', `/v1/subjects/${w.subject}/contact-check?channel=email&purpose=marketing`,
    as('staff1', 'marketing'))).json;
  assert.deepEqual([(await check()).allowed, (await check()).reason], [false, 'consent-required']);
  const opt = await c.req('POST', `/v1/subjects/${w.subject}/consents`, { ...as('grace', 'self'),
    json: { kind: 'marketing_email', action: 'grant', source: 'web' } });
  assert.equal(opt.status, 201, opt.text);
  assert.equal((await check()).allowed, true);
  // Opted in to emails, still no health information for marketing.
  const recs = await c.req('GET', `/v1/subjects/${w.subject}/records/medical_records`, as('staff1', 'marketing'));
  assert.equal(recs.status, 403);
  const appt = await c.req('GET', `/v1/subjects/${w.subject}/records/appointments`, as('staff1', 'marketing'));
  assert.equal(appt.status, 403);
  const denied = (await auditOf(w, w.subject)).filter((e) => e.purpose === 'marketing' && e.decision === 'deny');
  assert.ok(denied.length >= 2);
});

// A message as Twilio posts it, signed with the account's token.
function sms(from, body) {
  const params = { From: from, To: '+13108930552', Body: body, MessageSid: `SM${randomBytes(16).toString('hex')}`,
    AccountSid: 'AC0123456789abcdef0123456789abcdef' };
  const headers = { 'content-type': 'application/x-www-form-urlencoded',
    'x-twilio-signature': twilio.getExpectedTwilioSignature(TWILIO, WEBHOOK, params) };
  return c.req('POST', '/v1/sms/inbound', { headers, body: new URLSearchParams(params).toString() });
}

test('SMS (D3, C3): STOP stops at once, HELP helps, START resumes; numbers and SMS consent are never shared', async () => {
  const reminder = async () => (await c.req('GET', `/v1/subjects/${w.subject}/contact-check?channel=sms&purpose=reminders`,
    as('staff1', 'reminders'))).json;
  // Reminders by text only after the client opts in.
  assert.equal((await reminder()).reason, 'channel-consent-required');
  assert.equal((await c.req('POST', `/v1/subjects/${w.subject}/consents`, { ...as('grace', 'self'),
    json: { kind: 'service_sms', action: 'grant', source: 'web' } })).status, 201);
  assert.equal((await reminder()).allowed, true);
  const help = await sms('+15550102', 'help');
  assert.equal(help.status, 200);
  assert.ok(help.text.includes('Contour Medical Spa: reply STOP to opt out. Help: 310-893-0552 or info@contourmedspa.com'));
  const stop = await sms('+15550102', 'STOP');
  assert.match(stop.text, /Contour Medical Spa: you are unsubscribed/);
  assert.deepEqual([(await reminder()).allowed, (await reminder()).reason], [false, 'sms-stopped']);
  const start = await sms('+15550102', 'START');
  assert.match(start.text, /subscribed again/);
  // START undoes what STOP did: the number texts again, the consent STOP withdrew is back.
  assert.equal((await reminder()).allowed, true);
  const ledger = (await c.req('GET', `/v1/subjects/${w.subject}/consents`, as('grace', 'self'))).json.entries
    .filter((e) => e.kind === 'service_sms').map((e) => [e.action, e.source]);
  assert.deepEqual(ledger, [['grant', 'web'], ['withdraw', 'sms'], ['grant', 'sms']]);
  // A forged message changes nothing.
  const forged = await c.req('POST', '/v1/sms/inbound', { headers: { 'content-type': 'application/x-www-form-urlencoded',
    'x-twilio-signature': 'AAAA' }, body: 'From=%2B15550102&Body=STOP' });
  assert.equal(forged.status, 403);
  // Never shared: the phone number and the SMS consent go to no recipient, even the courts.
  for (const q of ['collection=profile&fields=phone', 'consents=service_sms', 'consents=marketing_sms']) {
    const r = await c.req('GET', `/v1/subjects/${w.subject}/disclosure-check?recipient=courts-and-regulators&${q}`, as('po1', 'legal'));
    assert.deepEqual([r.json.allowed, r.json.reason], [false, 'sms-never-shared'], q);
  }
  const name = await c.req('GET', `/v1/subjects/${w.subject}/disclosure-check?recipient=courts-and-regulators&collection=profile&fields=name`,
    as('po1', 'legal'));
  assert.equal(name.json.allowed, true);
});

test('no third-party service provider (C1, C2), the vendor register (H2), every disclosure recorded and accounted for (C5)', async () => {
  // The register: only other providers for care and the courts; no vendor receives anything.
  const reg = await c.req('GET', '/v1/vendors', { token: w.tokens.po1 });
  assert.equal(reg.status, 200, reg.text);
  assert.deepEqual(reg.json.vendors.map((v) => [v.name, v.kind, v.agreement]),
    [['other-providers', 'provider', 'not-required'], ['courts-and-regulators', 'legal', 'not-required']]);
  assert.deepEqual(reg.json.forbidden_kinds, ['service_provider', 'affiliate', 'business_partner', 'buyer']);
  assert.equal(reg.json.sms_never_shared, true);
  // A billing service, a cloud vendor: not recipients at all.
  for (const who of ['billing-service', 'cloud-storage']) {
    const r = await c.req('POST', `/v1/subjects/${w.subject}/disclosures`, { ...as('staff1', 'payment'),
      json: { recipient: who, collection: 'payments' } });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.reason, 'unknown-recipient');
  }
  // To another provider for care (TPO), and to a court (not TPO): both recorded.
  const care = await c.req('POST', `/v1/subjects/${w.subject}/disclosures`, { ...as('prov1', 'treatment'),
    json: { recipient: 'other-providers', collection: 'medical_records', description: 'referral to a dermatologist' } });
  assert.equal(care.status, 201, care.text);
  const court = await c.req('POST', `/v1/subjects/${w.subject}/disclosures`, { ...as('po1', 'legal'),
    json: { recipient: 'courts-and-regulators', collection: 'medical_records', description: 'subpoena 24-113' } });
  assert.equal(court.status, 201, court.text);
  // The accounting the client gets lists what was not for treatment, payment or operations.
  const acc = await c.req('GET', `/v1/subjects/${w.subject}/disclosures`, as('grace', 'self'));
  assert.deepEqual(acc.json.disclosures.map((d) => d.recipient), ['courts-and-regulators']);
  const after = await c.req('GET', '/v1/vendors', { token: w.tokens.po1 });
  assert.deepEqual(after.json.vendors.map((v) => [v.name, v.disclosed.disclosures, v.disclosed.subjects]),
    [['other-providers', 1, 1], ['courts-and-regulators', 1, 1]]);
  // The register is the privacy officer's: the front desk is refused, and the attempt audited.
  const desk = await c.req('GET', '/v1/vendors', { token: w.tokens.staff1 });
  assert.equal(desk.status, 403);
  const log = await c.req('GET', `/v1/audit?actor=${w.users.staff1}&limit=1000`, { token: w.tokens.po1 });
  assert.ok(log.json.entries.some((e) => e.action === 'vendors.read' && e.decision === 'deny'));
});

test('confidential communications (D4) and restriction (B5)', async () => {
  const pref = await c.req('PUT', `/v1/subjects/${w.subject}/contact-preferences`, { ...as('grace', 'self'),
    json: { channels: ['mail'], addresses: { mail: 'PO Box 12, Northridge' } } });
  assert.equal(pref.status, 200, pref.text);
  const email = await c.req('GET', `/v1/subjects/${w.subject}/contact-check?channel=email&purpose=operations`, as('staff1', 'operations'));
  assert.deepEqual([email.json.allowed, email.json.reason], [false, 'confidential-communications']);
  const mail = await c.req('GET', `/v1/subjects/${w.subject}/contact-check?channel=mail&purpose=operations`, as('staff1', 'operations'));
  assert.equal(mail.json.allowed, true);
  // Restricted: the data is only stored; the provider is refused until it is lifted.
  assert.equal((await c.req('POST', `/v1/subjects/${w.subject}/restriction`, as('grace', 'self'))).status, 200);
  const r = await c.req('GET', `/v1/subjects/${w.subject}/records/appointments`, as('prov1', 'treatment'));
  assert.deepEqual([r.status, r.json.reason], [403, 'processing-restricted']);
  assert.equal((await c.req('GET', `/v1/subjects/${w.subject}`, as('grace', 'self'))).status, 200);
  assert.equal((await c.req('DELETE', `/v1/subjects/${w.subject}/restriction`, as('grace', 'self'))).status, 200);
  assert.equal((await c.req('GET', `/v1/subjects/${w.subject}/records/appointments`, as('prov1', 'treatment'))).status, 200);
});

test('rights: access within 15 days with a printable copy (E1), amendment (E2), complaints answered (E11)', async () => {
  const policy = (await c.req('GET', '/v1/policy')).json;
  assert.equal(policy.request_deadlines.access.deadline_days, 15);
  const access = await c.req('POST', `/v1/subjects/${w.subject}/requests`, { ...as('grace', 'self'), json: { type: 'access', source: 'web' } });
  assert.equal(access.status, 201, access.text);
  assert.equal((Date.parse(access.json.due) - Date.parse(access.json.received)) / 1000, 15 * DAY);
  const page = await c.req('GET', `/v1/subjects/${w.subject}/export?format=html`, as('grace', 'self'));
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.ok(page.text.includes('melasma') && page.text.includes('Grace Hopper'));
  const po = (rid, step, json = {}) => c.req('POST', `/v1/requests/${rid}/${step}`, { ...as('po1', 'rights'), json });
  assert.equal((await po(access.json.id, 'verify', { method: 'account' })).status, 200);
  assert.equal((await po(access.json.id, 'complete')).status, 200);
  // Amendment of a medical record.
  const rec = (await c.req('GET', `/v1/subjects/${w.subject}/records/medical_records`, as('grace', 'self'))).json.records[0];
  const amend = await c.req('POST', `/v1/subjects/${w.subject}/requests`, { ...as('grace', 'self'), json: { type: 'amend', source: 'web',
    details: { collection: 'medical_records', record: rec.id, fields: { history: 'allergic to latex' }, reason: 'I am allergic to latex' } } });
  assert.equal(amend.status, 201, amend.text);
  assert.equal((await po(amend.json.id, 'verify', { method: 'account' })).status, 200);
  assert.equal((await po(amend.json.id, 'complete')).status, 200);
  const now = await c.req('GET', `/v1/subjects/${w.subject}/records/medical_records/${rec.id}`, as('prov1', 'treatment'));
  assert.equal(now.json.fields.history, 'allergic to latex');
  // A complaint is recorded and answered.
  const cp = await c.req('POST', `/v1/subjects/${w.subject}/requests`, { ...as('grace', 'self'),
    json: { type: 'complaint', source: 'web', details: { text: 'I was called at work.' } } });
  assert.equal(cp.status, 201);
  assert.equal((await po(cp.json.id, 'verify', { method: 'account' })).status, 200);
  assert.equal((await po(cp.json.id, 'complete', { answer: 'We will write to your PO box only.' })).status, 200);
  const seen = await c.req('GET', `/v1/requests/${cp.json.id}`, as('grace', 'self'));
  assert.equal(seen.json.closed.explanation, 'We will write to your PO box only.');
});

test('audit and encryption at rest (G3, G1): every access, denied ones too, in a log that verifies; no value in the clear', async () => {
  const entries = await auditOf(w, w.subject);
  assert.ok(entries.some((e) => e.decision === 'deny' && e.role === 'provider' && e.actor === w.users.prov2));
  assert.ok(entries.every((e) => !JSON.stringify(e).includes('melasma')));
  const db = readFileSync(path.join(srv.data, 'phivault.db')).toString('latin1');
  for (const s of ['Grace Hopper', 'melasma', 'grace@example.org', 'allergic to latex']) assert.ok(!db.includes(s), s);
  const v = cli(['audit', 'verify', '--data', srv.data], { env: srv.env() });
  assert.equal(v.status, 0, v.stderr);
});

test('no sale or sharing without explicit consent (C4): Global Privacy Control is honored', async () => {
  const r = await c.req('GET', `/v1/subjects/${w.subject}`, { ...as('grace', 'self'), headers: { 'sec-gpc': '1' } });
  assert.equal(r.headers['gpc-honored'], '1');
  const l = await c.req('GET', `/v1/subjects/${w.subject}/consents`, as('grace', 'self'));
  assert.equal(l.json.current.sale_sharing.held, false);
});

test('deletion keeps medical records 7 years from the last visit (E3, F1), then they are securely disposed of (F2)', async () => {
  const s = await w.enroll({ name: 'Dana Deleted', email: 'dana@example.org', phone: '+1 555 0177' });
  assert.equal((await c.req('POST', `/v1/subjects/${s}/assignments`, { ...as('staff1', 'operations'),
    json: { provider: w.users.prov1 } })).status, 201);
  const visit = await appointment(s);
  await medicalRecord(s);
  const req = await c.req('POST', `/v1/subjects/${s}/requests`, { ...as('po1', 'rights'),
    json: { type: 'delete', source: 'mail', requester: { kind: 'subject' } } });
  assert.equal(req.status, 201, req.text);
  assert.equal((await c.req('POST', `/v1/requests/${req.json.id}/verify`, { ...as('po1', 'rights'), json: { method: 'signed-form' } })).status, 200);
  const done = await c.req('POST', `/v1/requests/${req.json.id}/complete`, { ...as('po1', 'legal'), json: {} });
  assert.equal(done.status, 200, done.text);
  const kept = Object.fromEntries(done.json.result.kept.map((k) => [k.category, k]));
  assert.deepEqual(Object.keys(kept).sort(), ['user.health.appointment', 'user.health.medical_record']);
  const until = new Date(visit.created);
  until.setUTCFullYear(until.getUTCFullYear() + 7);
  assert.equal(kept['user.health.medical_record'].until, until.toISOString().replace('.000', ''));
  assert.equal(kept['user.health.medical_record'].from, 'last_visit');
  // Identifiers went at once; nobody finds Dana by email any more.
  const look = await c.req('GET', '/v1/subjects?email=dana@example.org', as('staff1', 'operations'));
  assert.deepEqual(look.json.subjects ?? [], []);
  // Not a day early: after 6 years the sweep keeps the records.
  srv.advance(6 * YEAR);
  let sweep = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.equal(sweep.status, 0, sweep.stderr);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}'`).trim(), '2');
  srv.advance(YEAR + 10 * DAY);
  sweep = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.equal(sweep.status, 0, sweep.stderr);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}'`).trim(), '0');
  // The data key is destroyed: every copy, backups included, is unreadable.
  assert.equal(sqlite(srv.data, `SELECT status FROM subjects WHERE id = '${s}'`).trim(), 'erased');
  await relogin();
  const entries = await auditOf(w, s);
  assert.ok(entries.some((e) => e.action === 'retention.erase'));
});
