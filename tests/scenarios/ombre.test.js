// OMBRE (seed 000, policies/ombre.yaml): a telehealth subscription run on phivault, through its
// HTTP API, as the member, the parent of a minor, the providers, the staff, the privacy officer and
// an attacker would use it. Each test names the requirements (REQUIREMENTS.md) it proves.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, SRC, cli, sqlite, startServer } from '../api/lib/harness.js';

const POLICY = `${SRC}/policies/ombre.yaml`;
const CARD = '4111 1111 1111 1111';
let srv, c, version;
const t = {}; // tokens by user name
const id = {}; // user ids by user name

async function user(name, role, extra = {}) {
  const r = await c.req('POST', '/v1/users', { token: t.admin,
    json: { username: name, password: PASSWORD(name), role, ...extra } });
  assert.equal(r.status, 201, r.text);
  id[name] = r.json.id;
  t[name] = await c.login(name, PASSWORD(name));
}
function yearsAgo(years, days = 0) {
  const d = new Date(Date.now() + srv.offset * 1000);
  d.setUTCFullYear(d.getUTCFullYear() - years);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}
const enroll = (token, json) => c.req('POST', '/v1/subjects', { token, purpose: 'self',
  json: { policy_version: version, source: 'web', ...json } });
const rec = (method, s, col, token, purpose, json, rid = '') =>
  c.req(method, `/v1/subjects/${s}/records/${col}${rid ? `/${rid}` : ''}`, { token, purpose, json });
const audit = async (s) => (await c.req('GET', `/v1/audit?subject=${s}&limit=1000`, { token: t.po1 })).json.entries;
const count = (sql) => Number(sqlite(srv.data, sql).trim());

// Mia enrolls herself (an adult member); Dee is the parent who enrolls her son Leo.
let mia, leo;
before(async () => {
  srv = await startServer({ policy: POLICY });
  c = srv.client;
  t.admin = await c.login('admin', ADMIN_PASSWORD);
  for (const [n, role] of [['desk', 'staff'], ['dr-ames', 'provider'], ['dr-bell', 'provider'],
    ['priv', 'privacy_officer'], ['mia', 'patient'], ['dee', 'patient'], ['teen', 'patient']]) await user(n, role);
  t.po1 = t.priv;
  version = (await c.req('GET', '/v1/policy')).json.version;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

test('A1: nothing is accepted before the policy in force is accepted; the acceptance is kept', async () => {
  const subjects = count('SELECT count(*) FROM subjects');
  const stale = await enroll(t.mia, { policy_version: 'an-old-version', birth_date: '1990-04-02',
    profile: { name: 'Mia Park', email: 'mia@example.org', health: 'migraines' } });
  assert.equal(stale.status, 422);
  assert.equal(stale.json.type, '/problems/policy-not-accepted');
  assert.equal(count('SELECT count(*) FROM subjects'), subjects);
  const r = await enroll(t.mia, { birth_date: '1990-04-02',
    profile: { name: 'Mia Park', email: 'mia@example.org', phone: '+1 310 555 0101', address: '1 Palm Dr, LA',
      health: 'recurring migraines' } });
  assert.equal(r.status, 201, r.text);
  mia = r.json.id;
  assert.equal(r.json.policy_version, version);
  assert.equal(r.json.accepted_source, 'web');
  const ledger = await c.req('GET', `/v1/subjects/${mia}/consents`, { token: t.mia, purpose: 'self' });
  const acc = ledger.json.entries.find((e) => e.kind === 'policy');
  assert.deepEqual([acc.action, acc.source, acc.policy_version], ['grant', 'web', version]);
});

test('A2: 18 is the minimum age; a parent over 18 enrolls a minor and acts for them', async () => {
  const young = await enroll(t.teen, { birth_date: yearsAgo(17), profile: { name: 'Too Young' } });
  assert.equal(young.status, 422);
  assert.equal(young.json.type, '/problems/under-minimum-age');
  // A guardian under 18 cannot enroll anyone.
  const kidGuardian = await enroll(t.teen, { birth_date: yearsAgo(9),
    guardian: { birth_date: yearsAgo(17), relationship: 'parent', verification: 'signed-form' }, profile: { name: 'Leo' } });
  assert.equal(kidGuardian.status, 422, kidGuardian.text);
  // Dee, an adult parent, enrolls her nine-year-old son with verified consent, and describes his symptoms.
  const r = await enroll(t.dee, { birth_date: yearsAgo(9),
    guardian: { birth_date: '1984-06-01', relationship: 'parent', verification: 'signed-form' },
    profile: { name: 'Leo Diaz', health: 'eczema' } });
  assert.equal(r.status, 201, r.text);
  leo = r.json.id;
  const intake = await rec('POST', leo, 'intake', t.dee, 'self', { symptoms: 'itchy rash on both arms' });
  assert.equal(intake.status, 201, intake.text);
  const read = await c.req('GET', `/v1/subjects/${leo}`, { token: t.dee, purpose: 'self' });
  assert.equal(read.json.profile.fields.health, 'eczema');
  // Nobody else acting for themselves reaches the minor.
  const stranger = await c.req('GET', `/v1/subjects/${leo}`, { token: t.teen, purpose: 'self' });
  assert.equal(stranger.status, 403);
  const mine = (await audit(leo)).filter((e) => e.actor === id.dee).map((e) => e.reason);
  assert.deepEqual(mine, ['permit', 'guardian', 'guardian']);
});

test('B3: a provider sees a member only once assigned at the first session; a visible profile hides contact details', async () => {
  const intake = await rec('POST', mia, 'intake', t.mia, 'self', { symptoms: 'headaches with aura, twice a week' });
  assert.equal(intake.status, 201, intake.text);
  // Before the first session no provider can read the symptoms.
  let r = await rec('GET', mia, 'intake', t['dr-ames'], 'treatment', undefined, intake.json.id);
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'not-assigned');
  // No provider is assigned before the first session is scheduled: the front desk's attempt is
  // refused, and the refusal audited.
  const early = await c.req('POST', `/v1/subjects/${mia}/assignments`, { token: t.desk, purpose: 'operations',
    json: { provider: id['dr-ames'] } });
  assert.equal(early.status, 409, early.text);
  assert.equal(early.json.reason, 'assign-awaits-record');
  assert.ok((await audit(mia)).some((e) => e.action === 'subject.assign' && e.decision === 'deny' &&
    e.reason === 'assign-awaits-record'));
  r = await rec('GET', mia, 'intake', t['dr-ames'], 'treatment', undefined, intake.json.id);
  assert.equal(r.json.reason, 'not-assigned');
  // Mia schedules her first session; the front desk assigns Dr. Ames to it.
  const session = await rec('POST', mia, 'sessions', t.mia, 'self', { starts_at: '2026-03-02T17:00:00Z', kind: 'first' });
  assert.equal(session.status, 201, session.text);
  const a = await c.req('POST', `/v1/subjects/${mia}/assignments`, { token: t.desk, purpose: 'operations',
    json: { provider: id['dr-ames'] } });
  assert.equal(a.status, 201, a.text);
  r = await rec('GET', mia, 'intake', t['dr-ames'], 'treatment', undefined, intake.json.id);
  assert.equal(r.status, 200);
  assert.equal(r.json.fields.symptoms, 'headaches with aura, twice a week');
  // The assigned provider contacts her through the details she gave.
  const p = await c.req('GET', `/v1/subjects/${mia}`, { token: t['dr-ames'], purpose: 'treatment' });
  assert.equal(p.json.profile.fields.email, 'mia@example.org');
  // Dr. Bell is not assigned: refused, until Mia makes her profile viewable by OMBRE providers;
  // then everything in it but her personal contact information, and still none of her records.
  r = await c.req('GET', `/v1/subjects/${mia}`, { token: t['dr-bell'], purpose: 'treatment' });
  assert.equal(r.json.reason, 'not-assigned');
  const vis = await c.req('PUT', `/v1/subjects/${mia}/profile-visibility`, { token: t.mia, purpose: 'self', json: { visible: true } });
  assert.equal(vis.status, 200, vis.text);
  r = await c.req('GET', `/v1/subjects/${mia}`, { token: t['dr-bell'], purpose: 'treatment' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.profile.fields, { name: 'Mia Park', birth_date: '1990-04-02', health: 'recurring migraines' });
  assert.deepEqual(r.json.profile.withheld.sort(), ['address', 'email', 'phone']);
  r = await rec('GET', mia, 'intake', t['dr-bell'], 'treatment', undefined, intake.json.id);
  assert.equal(r.json.reason, 'not-assigned');
});

test('A4: only the last 4 digits of a card are stored; a full card number is refused anywhere, and audited', async () => {
  const ok = await rec('POST', mia, 'payments', t.desk, 'payment', { card_last4: '1111', amount: '49.00' });
  assert.equal(ok.status, 201, ok.text);
  for (const [col, token, purpose, json, field] of [
    ['payments', t.desk, 'payment', { card_last4: CARD, amount: '49.00' }, 'card_last4'],
    ['payments', t.mia, 'self', { card_last4: '1111', amount: `49.00 on ${CARD.replaceAll(' ', '-')}` }, 'amount'],
    ['intake', t.mia, 'self', { symptoms: `migraine; my card is ${CARD}` }, 'symptoms']]) {
    const r = await rec('POST', mia, col, token, purpose, json);
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.type, '/problems/card-number');
    assert.equal(r.json.field, field);
    assert.doesNotMatch(r.text, /4111/);
  }
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${mia}' AND collection = 'payments'`), 1);
  const refusals = (await audit(mia)).filter((e) => e.reason === 'card-number');
  assert.deepEqual(refusals.map((e) => [e.action, e.decision]), [['record.create', 'deny'], ['record.create', 'deny'], ['record.create', 'deny']]);
});

test('B1, B2, D1: health information for marketing only with prior written consent; withdrawal stops later use', async () => {
  const profile = () => c.req('GET', `/v1/subjects/${mia}`, { token: t.desk, purpose: 'marketing' });
  // Marketing email is on until she opts out, but her health information is refused without a written authorization.
  let r = await profile();
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'marketing-needs-authorization');
  r = await rec('GET', mia, 'intake', t.desk, 'marketing');
  assert.equal(r.status, 403);
  // An authorization must be written, with its evidence.
  const grant = (json) => c.req('POST', `/v1/subjects/${mia}/consents`, { token: t.mia, purpose: 'self', json });
  r = await grant({ kind: 'health_marketing', action: 'grant', source: 'web' });
  assert.equal(r.status, 400);
  r = await grant({ kind: 'health_marketing', action: 'grant', source: 'written', evidence: 'signed form HM-2016-10' });
  assert.equal(r.status, 201, r.text);
  r = await profile();
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.profile.fields.health, 'recurring migraines');
  // Withdrawn in writing: from then on refused again; what was done in reliance on it stays on record.
  r = await grant({ kind: 'health_marketing', action: 'withdraw', source: 'written', evidence: 'letter of 2016-11-02' });
  assert.equal(r.status, 201, r.text);
  assert.equal((await profile()).json.reason, 'marketing-needs-authorization');
  const reads = (await audit(mia)).filter((e) => e.action === 'subject.read' && e.purpose === 'marketing');
  assert.deepEqual(reads.map((e) => e.decision), ['deny', 'permit', 'deny']);
  // Treatment, payment and operations need no authorization; a purpose OMBRE does not declare is refused.
  r = await c.req('GET', `/v1/subjects/${mia}`, { token: t.desk, purpose: 'research' });
  assert.equal(r.status, 400);
  assert.equal(r.json.type, '/problems/unknown-purpose');
});

test('C1: partners get contact details only with the accepted offer and never health data; health data needs a BAA', async () => {
  const disclose = (json, token, purpose) => c.req('POST', `/v1/subjects/${mia}/disclosures`, { token, purpose, json });
  let r = await disclose({ recipient: 'business-partner', collection: 'profile', fields: ['name', 'email'] }, t.desk, 'partner_offers');
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'consent-required');
  assert.equal((await c.req('POST', `/v1/subjects/${mia}/consents`, { token: t.mia, purpose: 'self',
    json: { kind: 'partner_offer', action: 'grant', source: 'web' } })).status, 201);
  r = await disclose({ recipient: 'business-partner', collection: 'profile', fields: ['name', 'email'] }, t.desk, 'partner_offers');
  assert.equal(r.status, 201, r.text);
  // Health data never goes to a business partner, nor to a service provider without a business associate agreement.
  r = await disclose({ recipient: 'business-partner', collection: 'intake' }, t.priv, 'legal');
  assert.equal(r.json.reason, 'business-partner-no-health-data');
  r = await disclose({ recipient: 'email-service', collection: 'intake' }, t.priv, 'legal');
  assert.equal(r.json.reason, 'baa-required');
  r = await disclose({ recipient: 'card-processor', collection: 'payments' }, t.desk, 'payment');
  assert.equal(r.status, 201, r.text);
  // A subpoena: every disclosure is recorded; the accounting lists those outside treatment, payment and operations.
  r = await disclose({ recipient: 'law-enforcement', collection: 'intake', description: 'subpoena 16-0042' }, t.priv, 'legal');
  assert.equal(r.status, 201, r.text);
  const acc = await c.req('GET', `/v1/subjects/${mia}/disclosures`, { token: t.mia, purpose: 'self' });
  assert.deepEqual(acc.json.disclosures.map((d) => d.recipient).sort(), ['business-partner', 'law-enforcement']);
});

test('D4: a member may require confidential communications; nothing goes out any other way', async () => {
  const check = async (channel) => (await c.req('GET', `/v1/subjects/${mia}/contact-check?channel=${channel}&purpose=treatment`,
    { token: t['dr-ames'], purpose: 'treatment' })).json;
  assert.equal((await check('email')).allowed, true);
  const r = await c.req('PUT', `/v1/subjects/${mia}/contact-preferences`, { token: t.mia, purpose: 'self',
    json: { channels: ['mail'], addresses: { mail: 'PO Box 12, Los Angeles, CA 90035' } } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([(await check('email')).allowed, (await check('email')).reason], [false, 'confidential-communications']);
  assert.equal((await check('phone')).allowed, false);
  assert.equal((await check('mail')).allowed, true);
  // OMBRE does not text its members at all.
  assert.deepEqual([(await check('sms')).allowed, (await check('sms')).reason], [false, 'channel-not-offered']);
});

test('E1, E2, E11: a paper copy, an amendment and a complaint, each answered and audited', async () => {
  const html = await c.req('GET', `/v1/subjects/${leo}/export?format=html`, { token: t.dee, purpose: 'self' });
  assert.equal(html.status, 200);
  assert.match(html.headers['content-type'], /text\/html/);
  assert.match(html.text, /itchy rash on both arms/);
  const intake = (await rec('GET', leo, 'intake', t.dee, 'self')).json.records[0];
  const file = (json) => c.req('POST', `/v1/subjects/${leo}/requests`, { token: t.dee, purpose: 'self', json });
  const move = (rid, step, json) => c.req('POST', `/v1/requests/${rid}/${step}`, { token: t.priv, purpose: 'rights', json });
  const amend = await file({ type: 'amend', details: { collection: 'intake', record: intake.id,
    fields: { symptoms: 'itchy rash on both arms and legs' } } });
  assert.equal(amend.status, 201, amend.text);
  assert.equal((await move(amend.json.id, 'verify', { method: 'account' })).status, 200);
  assert.equal((await move(amend.json.id, 'complete', {})).json.state, 'completed');
  assert.equal((await rec('GET', leo, 'intake', t.dee, 'self', undefined, intake.id)).json.fields.symptoms,
    'itchy rash on both arms and legs');
  const complaint = await file({ type: 'complaint', details: { text: 'A provider emailed me although I asked for mail only.' } });
  assert.equal((await move(complaint.json.id, 'verify', { method: 'account' })).status, 200);
  const done = await move(complaint.json.id, 'complete', { answer: 'We reminded the provider of your choice.' });
  assert.equal(done.status, 200, done.text);
  const seen = await c.req('GET', `/v1/requests/${complaint.json.id}`, { token: t.dee, purpose: 'self' });
  assert.equal(seen.json.closed.explanation, 'We reminded the provider of your choice.');
});

test('G7: bad input gets a clear error and changes nothing', async () => {
  const before = count(`SELECT count(*) FROM records WHERE subject_id = '${mia}'`);
  let r = await rec('POST', mia, 'intake', t.mia, 'self', { symptoms: 'fever', ssn: '000-00-0000' });
  assert.equal(r.status, 422);
  assert.equal(r.json.field, 'ssn');
  r = await rec('POST', mia, 'payments', t.desk, 'payment', { card_last4: '11a1' });
  assert.equal(r.status, 400);
  assert.equal(r.json.field, 'card_last4');
  r = await c.req('POST', `/v1/subjects/${mia}/records/intake`, { token: t.mia, purpose: 'self',
    body: '{"symptoms": ', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400);
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${mia}'`), before);
});

test('A6, G2: passwords are kept as slow salted hashes; sessions end', async () => {
  const hashes = sqlite(srv.data, 'SELECT pw_hash FROM users').trim().split('\n');
  assert.ok(hashes.length >= 8);
  for (const h of hashes) assert.match(h, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  assert.equal(new Set(hashes).size, hashes.length);
  assert.equal(count(`SELECT count(*) FROM users WHERE pw_hash LIKE '%${PASSWORD('mia')}%'`), 0);
  const token = await c.login('mia', PASSWORD('mia'));
  assert.equal((await c.req('GET', `/v1/subjects/${mia}`, { token, purpose: 'self' })).status, 200);
  await srv.advance(8 * 3600 + 60);
  const r = await c.req('GET', `/v1/subjects/${mia}`, { token, purpose: 'self' });
  assert.equal(r.status, 401);
  for (const n of Object.keys(t)) if (n !== 'po1') t[n] = await c.login(n, n === 'admin' ? ADMIN_PASSWORD : PASSWORD(n));
  t.po1 = t.priv;
});

test('G4: a backup taken while serving restores, with its audit log intact', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pvombre-'));
  try {
    const b = cli(['backup', '--data', srv.data, '--keys', path.join(dir, 'keys'), path.join(dir, 'backup')], { env: srv.env() });
    assert.equal(b.status, 0, b.stderr);
    const r = cli(['restore', '--keys', path.join(dir, 'keys'), '--data', path.join(dir, 'restored'), path.join(dir, 'backup')], { env: srv.env() });
    assert.equal(r.status, 0, r.stderr);
    const v = cli(['audit', 'verify', '--data', path.join(dir, 'restored')], { env: srv.env() });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(sqlite(path.join(dir, 'restored'), `SELECT count(*) FROM records WHERE subject_id = '${mia}'`).trim(),
      sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${mia}'`).trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('D6: a material change governs what was collected before it only after notice and no objection', async () => {
  // OMBRE: "your PII or PHI will continue to be governed by the Privacy Policy under which it was
  // subject prior to those changes, unless you have been provided notice of, and have not objected
  // to, the changes." Version 2 lets the staff survey members using their name, email and birth date.
  const s2 = await startServer({ policy: POLICY });
  try {
    const admin = await s2.client.login('admin', ADMIN_PASSWORD);
    const tok = {};
    for (const [n, role] of [['desk2', 'staff'], ['ann', 'patient'], ['bob', 'patient'], ['cyd', 'patient'], ['dia', 'patient']]) {
      const r = await s2.client.req('POST', '/v1/users', { token: admin, json: { username: n, password: PASSWORD(n), role } });
      assert.equal(r.status, 201, r.text);
    }
    const login = async () => { for (const n of ['desk2', 'ann', 'bob', 'cyd', 'dia']) tok[n] = await s2.client.login(n, PASSWORD(n)); };
    await login();
    const v1 = (await s2.client.req('GET', '/v1/policy')).json.version;
    const join = async (n, v) => {
      const r = await s2.client.req('POST', '/v1/subjects', { token: tok[n], purpose: 'self', json: { policy_version: v,
        source: 'web', birth_date: '1988-02-03', profile: { name: `${n} Member`, email: `${n}@example.org`, health: 'insomnia' } } });
      assert.equal(r.status, 201, r.text);
      return r.json.id;
    };
    const ann = await join('ann', v1), bo = await join('bob', v1), cy = await join('cyd', v1);

    const text = readFileSync(POLICY, 'utf8');
    assert.ok(text.includes('effective: 2016-10-01\n') && text.includes('\npurposes:\n'));
    writeFileSync(`${s2.data}/policy.yaml`, text.replace('effective: 2016-10-01\n',
      'effective: 2026-12-01\nchange:\n  material: true\n  notice: 30d\n' +
      '  summary: We may ask you about our services, using your name, email and date of birth.\n')
      .replace('\npurposes:\n', '\npurposes:\n  surveys:\n    description: Asking members about our services.\n' +
        '    roles: [staff]\n    categories: [user.name, user.contact.email, user.demographic]\n'));
    await s2.restart();
    await login();
    const v2 = (await s2.client.req('GET', '/v1/policy')).json.version;
    assert.notEqual(v2, v1);
    const survey = (s) => s2.client.req('GET', `/v1/subjects/${s}`, { token: tok.desk2, purpose: 'surveys' });

    // Data collected under version 1 is not used for the new purpose yet, for anyone.
    for (const s of [ann, bo, cy]) {
      const r = await survey(s);
      assert.equal(r.status, 403, r.text);
      assert.equal(r.json.reason, 'pending-policy-change');
    }
    // Ann and Bo are told by email; Bo objects. Cy is never told.
    for (const s of [ann, bo]) {
      const n = await s2.client.req('POST', `/v1/subjects/${s}/policy-notices`, { token: tok.desk2, purpose: 'operations',
        json: { channel: 'email' } });
      assert.equal(n.status, 201, n.text);
      assert.equal(n.json.version, v2);
    }
    const o = await s2.client.req('POST', `/v1/subjects/${bo}/consents`, { token: tok.bob, purpose: 'self',
      json: { kind: 'policy', action: 'withdraw', source: 'web' } });
    assert.equal(o.status, 201, o.text);
    // Within the objection period nothing changes.
    s2.advance(29 * 86400);
    await login();
    assert.equal((await survey(ann)).status, 403);
    s2.advance(2 * 86400);
    await login();
    const r = await survey(ann);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json.profile.fields).sort(), ['birth_date', 'email', 'name']);
    assert.equal(r.json.profile.fields.health, undefined);
    for (const s of [bo, cy]) {
      const st = await s2.client.req('GET', `/v1/subjects/${s}/policy-status`, { token: tok.desk2, purpose: 'operations' });
      assert.equal(st.json.governing.version, v1);
      assert.equal((await survey(s)).json.reason, 'pending-policy-change');
    }
    // Someone who joins under version 2 is governed by it from the start.
    const di = await join('dia', v2);
    assert.equal((await survey(di)).status, 200);
  } finally {
    await s2.stop();
    s2.remove();
  }
});
