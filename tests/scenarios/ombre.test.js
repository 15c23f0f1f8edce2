// OMBRE (seed 000, policies/ombre.yaml): a telehealth subscription run on phivault, through its
// HTTP API, as the member, the parent of a minor, the providers, the staff, the privacy officer and
// an attacker would use it. Each test names the requirements (REQUIREMENTS.md) it proves.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
// curl over HTTPS, returning {status, stdout, stderr}.
function curl(args) {
  try {
    return { status: 0, stdout: execFileSync('curl', ['-sS', '--max-time', '10', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() };
  } catch (e) {
    return { status: e.status, stdout: e.stdout?.toString() ?? '', stderr: e.stderr?.toString() ?? '' };
  }
}

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

test('B6: advertisers get counts of sessions with small cells suppressed, never a member\'s record', async () => {
  // Eleven members book a video session; one books a phone session. With Mia's first session
  // (above), two kinds are each held by fewer than 11 people.
  const members = [];
  for (let i = 0; i < 12; i++) {
    const n = `member${i}`;
    await user(n, 'patient');
    const r = await enroll(t[n], { birth_date: '1985-07-01', profile: { name: `Member Number${i}`, email: `${n}@example.org`,
      health: 'anxiety' } });
    assert.equal(r.status, 201, r.text);
    members.push(r.json.id);
    const kind = i === 11 ? 'phone' : 'video';
    assert.equal((await rec('POST', r.json.id, 'sessions', t[n], 'self', { starts_at: '2026-04-01T18:00:00Z', kind })).status, 201);
  }
  const ads = (route) => c.req('GET', route, { token: t.desk, purpose: 'advertising' });
  const agg = await ads('/v1/aggregates/sessions?by=kind');
  assert.equal(agg.status, 200, agg.text);
  assert.equal(agg.json.min_cell, 11);
  assert.deepEqual(agg.json.cells, [{ value: 'video', records: 11, people: 11 }]);
  assert.equal(agg.json.suppressed_values, 2);
  for (const trace of ['phone', 'first', 'sub_', 'rec_', 'Member', 'Mia']) assert.ok(!agg.text.includes(trace), trace);
  // Per month: this month's sessions are one cell, counted, naming nobody.
  const months = await ads('/v1/aggregates/sessions');
  assert.equal(months.status, 200, months.text);
  assert.deepEqual(months.json.cells.map((x) => [x.records, x.people]), [[13, 13]]);
  assert.match(months.json.cells[0].month, /^\d{4}-\d{2}$/);
  // No member can be singled out: naming one changes nothing in the answer.
  const one = await ads(`/v1/aggregates/sessions?by=kind&subject=${mia}`);
  assert.equal(one.status, 200, one.text);
  assert.deepEqual([one.json.cells, one.json.suppressed_values], [agg.json.cells, agg.json.suppressed_values]);
  // OMBRE disposes of what it deletes and anonymizes nothing: its de-identified store is empty.
  const deid = await ads('/v1/deidentified/sessions');
  assert.equal(deid.status, 200, deid.text);
  assert.deepEqual(deid.json.rows, []);
  // Never the symptoms, the payments, or a name, even counted.
  for (const route of ['/v1/aggregates/intake?by=symptoms', '/v1/aggregates/payments', '/v1/deidentified/intake']) {
    const r = await ads(route);
    assert.equal(r.status, 403, route);
    assert.equal(r.json.reason, 'purpose-excludes-collection', route);
  }
  const names = await ads('/v1/aggregates/profile?by=name');
  assert.equal(names.status, 403, names.text);
  assert.equal(names.json.reason, 'purpose-excludes-field');
  // Never a member's profile, records or export, whoever is asked for.
  for (const route of [`/v1/subjects/${mia}`, `/v1/subjects/${mia}/records/sessions`, `/v1/subjects/${mia}/records/intake`,
    `/v1/subjects/${members[11]}/records/sessions`, `/v1/subjects/${members[0]}/export`]) {
    const r = await ads(route);
    assert.equal(r.status, 403, route);
    assert.equal(r.json.reason, 'deidentified-only', route);
    assert.ok(!r.text.includes('migraine') && !r.text.includes('Member'), route);
  }
  // Only the advertising purpose reads counts and de-identified rows.
  for (const [who, purpose] of [['desk', 'operations'], ['desk', 'marketing'], ['dr-ames', 'treatment'], ['priv', 'legal']]) {
    for (const route of ['/v1/aggregates/sessions?by=kind', '/v1/deidentified/sessions']) {
      const r = await c.req('GET', route, { token: t[who], purpose });
      assert.equal(r.status, 403, `${purpose} ${route}`);
      assert.equal(r.json.reason, 'purpose-not-deidentified', `${purpose} ${route}`);
    }
  }
  // Every read is audited with its collection and no subject.
  const entries = (await c.req('GET', `/v1/audit?actor=${id.desk}&limit=1000`, { token: t.po1 })).json.entries
    .filter((e) => e.action === 'aggregate.read');
  assert.deepEqual(entries.map((e) => [e.decision, e.collection, e.purpose, e.reason]), [
    ['permit', 'sessions', 'advertising', 'permit'], ['permit', 'sessions', 'advertising', 'permit'],
    ['permit', 'sessions', 'advertising', 'permit'], ['deny', 'intake', 'advertising', 'purpose-excludes-collection'],
    ['deny', 'payments', 'advertising', 'purpose-excludes-collection'], ['deny', 'profile', 'advertising', 'purpose-excludes-field'],
    ['deny', 'sessions', 'operations', 'purpose-not-deidentified'], ['deny', 'sessions', 'marketing', 'purpose-not-deidentified']]);
  assert.ok(entries.every((e) => e.subject === ''));
});

test('G1: what members write is encrypted at rest: nowhere in the database, its WAL or the server log', async () => {
  // Each value carries a tag of its own; neither the value nor its tag may be found in the files.
  const tags = ['CANARY-NAME-58d2e0', 'canary-kai-71f0', 'CANARY-HEALTH-a41c9d', 'CANARY-SYMPTOMS-3e9b71'];
  const values = [`Kai ${tags[0]}`, `${tags[1]}@example.org`, `${tags[2]} psoriasis`, `${tags[3]} night sweats`];
  await user('kai', 'patient');
  const r = await enroll(t.kai, { birth_date: '1979-11-30', profile: { name: values[0], email: values[1], health: values[2] } });
  assert.equal(r.status, 201, r.text);
  const kai = r.json.id;
  assert.equal((await rec('POST', kai, 'intake', t.kai, 'self', { symptoms: values[3] })).status, 201);
  // The values are held: they come back to Kai, decrypted.
  const mine = await c.req('GET', `/v1/subjects/${kai}/export`, { token: t.kai, purpose: 'self' });
  assert.equal(mine.status, 200, mine.text);
  for (const v of values) assert.ok(mine.text.includes(v), v);
  const scan = () => {
    const files = readdirSync(srv.data);
    const hits = [];
    for (const [name, bytes] of [...files.map((f) => [f, readFileSync(path.join(srv.data, f))]), ['server log', Buffer.from(srv.log())]])
      for (const form of [...values, ...tags, ...tags.map((x) => x.toLowerCase()), ...tags.map((x) => Buffer.from(x, 'utf16le'))])
        if (bytes.indexOf(Buffer.isBuffer(form) ? form : Buffer.from(form)) !== -1) hits.push(`${form} in ${name}`);
    // A control: what is not encrypted (Kai's subject id) is found by the same search.
    const seen = files.some((f) => readFileSync(path.join(srv.data, f)).indexOf(Buffer.from(kai)) !== -1);
    return { files, hits, seen };
  };
  // While the server runs (the write-ahead log holds the recent writes)...
  const running = scan();
  assert.ok(running.files.includes('phivault.db-wal'), 'the scan covered the write-ahead log');
  assert.deepEqual([running.hits, running.seen], [[], true]);
  // ...and once it stopped and checkpointed.
  await srv.stop();
  const stopped = scan();
  assert.deepEqual([stopped.hits, stopped.seen], [[], true]);
  await srv.start();
  c = srv.client;
});

test('G1: in transit, OMBRE is served over HTTPS with the certificate it was given, and not over plain HTTP', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pvombre-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'cert.key');
  let s2;
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    chmodSync(key, 0o600);
    s2 = await startServer({ policy: POLICY, args: ['--tls-cert', cert, '--tls-key', key] });
    const url = `https://localhost:${s2.port}`;
    const https = (p, args = []) => {
      const r = curl(['--cacert', cert, ...args, `${url}${p}`]);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const json = (body) => ['-H', 'content-type: application/json', '-d', JSON.stringify(body)];
    // A member signs up and gives her symptoms, all over HTTPS.
    const admin = https('/v1/auth/login', json({ username: 'admin', password: ADMIN_PASSWORD })).token;
    const u = https('/v1/users', ['-H', `authorization: Bearer ${admin}`, ...json({ username: 'zoe', password: PASSWORD('zoe'), role: 'patient' })]);
    assert.match(u.id, /^usr_/);
    const zoe = https('/v1/auth/login', json({ username: 'zoe', password: PASSWORD('zoe') })).token;
    const as = ['-H', `authorization: Bearer ${zoe}`, '-H', 'x-purpose: self'];
    const v = https('/v1/policy').version;
    const s = https('/v1/subjects', [...as, ...json({ policy_version: v, source: 'web', birth_date: '1992-08-08',
      profile: { name: 'Zoe Tls', health: 'psoriasis' } })]).id;
    https(`/v1/subjects/${s}/records/intake`, [...as, ...json({ symptoms: 'flaking on the elbows' })]);
    const back = https(`/v1/subjects/${s}/records/intake`, as);
    assert.deepEqual(back.records.map((x) => x.fields.symptoms), ['flaking on the elbows']);
    assert.match(s2.log(), /"event":"server.listening".*"scheme":"https"/);
    // A client that does not trust the certificate is refused, and plain HTTP gets no answer.
    assert.notEqual(curl([`${url}/healthz`]).status, 0);
    const plain = curl([`http://127.0.0.1:${s2.port}/v1/policy`]);
    assert.ok(plain.status !== 0 || !plain.stdout.includes('OMBRE'), 'plain HTTP must not be answered');
    // The certificate presented is the one given to the server.
    const shown = execFileSync('bash', ['-c', `openssl s_client -connect 127.0.0.1:${s2.port} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`]).toString();
    const given = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256']).toString();
    assert.match(given, /^sha256 Fingerprint=/i);
    assert.equal(shown.trim(), given.trim());
  } finally {
    if (s2) {
      await s2.stop();
      s2.remove();
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('G5: a provider\'s stolen session: the privacy officer learns exactly whose data it touched', async () => {
  // Dr. Ames's password is stolen: the thief reads Mia's profile and symptoms (she is his
  // member) and tries Leo's, who is not.
  const stolen = await c.login('dr-ames', PASSWORD('dr-ames'));
  assert.equal((await c.req('GET', `/v1/subjects/${mia}`, { token: stolen, purpose: 'treatment' })).status, 200);
  assert.equal((await rec('GET', mia, 'intake', stolen, 'treatment')).status, 200);
  const refused = await rec('GET', leo, 'intake', stolen, 'treatment');
  assert.equal(refused.status, 403);
  const log = (await c.req('GET', `/v1/audit?actor=${id['dr-ames']}&limit=1000`, { token: t.po1 })).json.entries;
  const sid = log.filter((e) => e.subject === mia && e.action === 'record.list').at(-1).credential;
  assert.match(sid, /^ses_/);
  assert.ok(log.some((e) => e.credential === sid && e.subject === leo && e.decision === 'deny'));
  // The session touched Mia, and nobody else: not Leo, not the other members.
  let r = await c.req('GET', `/v1/audit/touched?credential=${sid}`, { token: t.po1 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.subjects.map((x) => x.subject), [mia]);
  assert.equal(r.json.count, 1);
  assert.deepEqual([...r.json.subjects[0].actions].sort(), ['record.list', 'subject.read']);
  assert.deepEqual([...r.json.subjects[0].categories].sort(), ['user.contact.email', 'user.contact.phone_number',
    'user.contact.postal_address', 'user.demographic.date_of_birth', 'user.health.condition', 'user.name']);
  assert.deepEqual(r.json.subjects[0].credentials, [sid]);
  // Every session of Dr. Ames, before and since, has touched Mia only.
  r = await c.req('GET', `/v1/audit/touched?actor=${id['dr-ames']}`, { token: t.po1 });
  assert.deepEqual(r.json.subjects.map((x) => x.subject), [mia]);
  // The thief cannot ask what else the session reached, nor can the front desk; both audited.
  for (const token of [stolen, t.desk]) {
    const q = await c.req('GET', `/v1/audit/touched?credential=${sid}`, { token });
    assert.equal(q.status, 403);
  }
  const asked = (await c.req('GET', '/v1/audit?limit=1000', { token: t.po1 })).json.entries.filter((e) => e.action === 'audit.touched');
  assert.deepEqual(asked.slice(-4).map((e) => [e.actor, e.decision]),
    [[id.priv, 'permit'], [id.priv, 'permit'], [id['dr-ames'], 'deny'], [id.desk, 'deny']]);
});

test('H2: the vendor register: who receives what under which agreement; health information to none but the law', async () => {
  const reg = await c.req('GET', '/v1/vendors', { token: t.priv });
  assert.equal(reg.status, 200, reg.text);
  assert.deepEqual([reg.json.organization, reg.json.organization_role], ['OMBRE', 'business_associate']);
  // No recipient has signed a business associate agreement: the card processor, the email service,
  // the affiliates, the business partner and a buyer never get health information; the law may.
  assert.deepEqual(reg.json.vendors.map((v) => [v.name, v.kind, v.agreement, v.health_data]), [
    ['card-processor', 'service_provider', 'none', false],
    ['email-service', 'service_provider', 'none', false],
    ['ombre-affiliates', 'affiliate', 'none', false],
    ['business-partner', 'business_partner', 'none', false],
    ['law-enforcement', 'legal', 'not-required', true],
    ['acquirer', 'buyer', 'none', false]]);
  const by = Object.fromEntries(reg.json.vendors.map((v) => [v.name, v]));
  assert.deepEqual([...by['business-partner'].categories].sort(), ['user.contact', 'user.name']);
  assert.deepEqual([...by['email-service'].categories].sort(), ['user.contact.email', 'user.name']);
  assert.deepEqual(reg.json.forbidden_kinds, []);
  assert.ok(reg.json.vendors.every((v) => v.forbidden === false && v.baa === false));
  // What each received (C1 above): the offer's contact details, a payment, a subpoena.
  const sent = (j) => Object.fromEntries(j.vendors.map((v) => [v.name, [v.disclosed.disclosures, v.disclosed.subjects]]));
  assert.deepEqual(sent(reg.json), { 'card-processor': [1, 1], 'email-service': [0, 0], 'ombre-affiliates': [0, 0],
    'business-partner': [1, 1], 'law-enforcement': [1, 1], acquirer: [0, 0] });
  // As the register says, the card processor is refused the symptoms, and nothing more is counted.
  const r = await c.req('POST', `/v1/subjects/${mia}/disclosures`, { token: t.priv, purpose: 'legal',
    json: { recipient: 'card-processor', collection: 'intake' } });
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.reason, 'baa-required');
  const again = await c.req('GET', '/v1/vendors', { token: t.priv });
  assert.deepEqual(sent(again.json), sent(reg.json));
  // Only the privacy officer reads the register: staff, a provider and a member are refused, and audited.
  for (const who of ['desk', 'dr-ames', 'mia']) {
    const q = await c.req('GET', '/v1/vendors', { token: t[who] });
    assert.equal(q.status, 403, who);
    const tried = (await c.req('GET', `/v1/audit?actor=${id[who]}&limit=1000`, { token: t.po1 })).json.entries;
    assert.ok(tried.some((e) => e.action === 'vendors.read' && e.decision === 'deny'), who);
  }
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

test('F1: kept perpetually, through years and the sweep, until the member asks in writing; then disposed of at once', async () => {
  const held = count(`SELECT count(*) FROM records WHERE subject_id = '${mia}'`);
  assert.ok(held >= 4, String(held));
  const leoHeld = count(`SELECT count(*) FROM records WHERE subject_id = '${leo}'`);
  // Twenty years on, the sweep disposes of nothing of Mia's or Leo's.
  srv.advance(20 * 366 * 86400);
  const sw = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.equal(sw.status, 0, sw.stderr);
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${mia}'`), held);
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${leo}'`), leoHeld);
  assert.equal(sqlite(srv.data, `SELECT status FROM subjects WHERE id = '${mia}'`).trim(), 'active');
  for (const n of ['priv', 'mia', 'desk']) t[n] = await c.login(n, PASSWORD(n));
  t.po1 = t.priv;
  const me = await c.req('GET', `/v1/subjects/${mia}`, { token: t.mia, purpose: 'self' });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.profile.fields.health, 'recurring migraines');
  const intake = await rec('GET', mia, 'intake', t.mia, 'self');
  assert.ok(intake.json.records.some((x) => x.fields.symptoms === 'headaches with aura, twice a week'));
  // Mia writes to OMBRE asking that her information be removed: the letter is filed, her signature
  // checked, and the request completed.
  const req = await c.req('POST', `/v1/subjects/${mia}/requests`, { token: t.priv, purpose: 'rights',
    json: { type: 'delete', source: 'mail', requester: { kind: 'subject' } } });
  assert.equal(req.status, 201, req.text);
  // Not before her signature is checked.
  const early = await c.req('POST', `/v1/requests/${req.json.id}/complete`, { token: t.priv, purpose: 'rights', json: {} });
  assert.deepEqual([early.status, early.json.reason], [409, 'illegal-transition']);
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${mia}'`), held);
  assert.equal((await c.req('POST', `/v1/requests/${req.json.id}/verify`, { token: t.priv, purpose: 'rights',
    json: { method: 'signed-form' } })).status, 200);
  const done = await c.req('POST', `/v1/requests/${req.json.id}/complete`, { token: t.priv, purpose: 'rights', json: {} });
  assert.equal(done.status, 200, done.text);
  // Nothing is kept: every category is disposed of at once, her key with it, without waiting for a sweep.
  assert.deepEqual(done.json.result.kept, []);
  assert.equal(done.json.result.erased, true);
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${mia}'`), 0);
  assert.equal(sqlite(srv.data, `SELECT status FROM subjects WHERE id = '${mia}'`).trim(), 'erased');
  assert.equal((await c.req('GET', `/v1/subjects/${mia}`, { token: t.priv, purpose: 'legal' })).status, 404);
  const look = await c.req('GET', '/v1/subjects?email=mia@example.org', { token: t.desk, purpose: 'operations' });
  assert.deepEqual(look.json.subjects ?? [], []);
  // Leo, whose parent asked nothing, is still kept.
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${leo}'`), leoHeld);
});
