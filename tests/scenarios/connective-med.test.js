// CONNECTIVE MED (seed 001, policies/connective-med.yaml): a telemedicine service run on
// phivault, through its HTTP API, as the patient, the provider, the staff and an attacker would use
// it. Each test names the requirements (REQUIREMENTS.md) it proves.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, SRC, sqlite, startServer } from '../api/lib/harness.js';

const POLICY = `${SRC}/policies/connective-med.yaml`;
const TRANSCRIPT = 'TRANSCRIPT-CANARY: patient describes chest tightness on exertion';
let srv, c, version, pat, consult;
const t = {};
const id = {};

async function user(name, role, extra = {}) {
  const r = await c.req('POST', '/v1/users', { token: t.admin,
    json: { username: name, password: PASSWORD(name), role, ...extra } });
  assert.equal(r.status, 201, r.text);
  id[name] = r.json.id;
  t[name] = await c.login(name, PASSWORD(name));
}
function yearsAgo(years) {
  const d = new Date(Date.now() + srv.offset * 1000);
  d.setUTCFullYear(d.getUTCFullYear() - years);
  return d.toISOString().slice(0, 10);
}
const rec = (method, s, col, token, purpose, json, rid = '') =>
  c.req(method, `/v1/subjects/${s}/records/${col}${rid ? `/${rid}` : ''}`, { token, purpose, json });
const count = (sql) => Number(sqlite(srv.data, sql).trim());

before(async () => {
  srv = await startServer({ policy: POLICY });
  c = srv.client;
  t.admin = await c.login('admin', ADMIN_PASSWORD);
  for (const [n, role] of [['ops', 'staff'], ['dr-cole', 'provider'], ['dr-diaz', 'provider'], ['priv', 'privacy_officer']]) await user(n, role);
  version = (await c.req('GET', '/v1/policy')).json.version;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

test('A2: not for anyone under 18; an adult enrolls and is assigned a provider', async () => {
  const enroll = (birth_date) => c.req('POST', '/v1/subjects', { token: t.ops, purpose: 'operations',
    json: { policy_version: version, source: 'app', birth_date, profile: { name: 'Nia Cruz', email: 'nia@example.org', gender: 'female' } } });
  const minor = await enroll(yearsAgo(17));
  assert.equal(minor.status, 422);
  assert.equal(minor.json.type, '/problems/under-minimum-age');
  const r = await enroll('1988-02-11');
  assert.equal(r.status, 201, r.text);
  pat = r.json.id;
  assert.equal((await c.req('POST', `/v1/subjects/${pat}/assignments`, { token: t.ops, purpose: 'operations',
    json: { provider: id['dr-cole'] } })).status, 201);
  await user('nia', 'patient', { subject_id: pat });
});

test('E10: consultations are recorded, and the recordings and transcripts are held as health data', async () => {
  const p = (await c.req('GET', '/v1/policy')).json;
  assert.deepEqual(p.recordings, { recorded: true, category: 'user.health.recording' });
  assert.equal(p.categories['user.health.recording'].phi, true);
  const r = await rec('POST', pat, 'consultations', t['dr-cole'], 'treatment', { reason: 'chest tightness',
    notes: 'refer for stress test', audio: 'rec://2021/10/27/a1.opus', transcript: TRANSCRIPT });
  assert.equal(r.status, 201, r.text);
  consult = r.json.id;
  // The patient and her provider read it; the provider not assigned to her does not.
  assert.equal((await rec('GET', pat, 'consultations', t.nia, 'self', undefined, consult)).json.fields.transcript, TRANSCRIPT);
  const other = await rec('GET', pat, 'consultations', t['dr-diaz'], 'treatment', undefined, consult);
  assert.deepEqual([other.status, other.json.reason], [403, 'not-assigned']);
  // Staff, for payment or operations, never reach a recording.
  for (const purpose of ['payment', 'operations']) {
    const s = await rec('GET', pat, 'consultations', t.ops, purpose, undefined, consult);
    assert.equal(s.status, 403, purpose);
  }
  // Sealed at rest: the transcript is nowhere in the database in the clear; the audit entry names its category.
  assert.ok(!readFileSync(`${srv.data}/phivault.db`).includes('TRANSCRIPT-CANARY'));
  const entries = (await c.req('GET', `/v1/audit?subject=${pat}&limit=100`, { token: t.priv })).json.entries;
  const create = entries.find((e) => e.action === 'record.create' && e.record === consult);
  assert.ok(create.categories.includes('user.health.recording'));
});

test('B1, B6: beyond care, payment and operations only usage data, never health information', async () => {
  // Analytics sees usage data only; health data, and the profile, are out of its reach.
  const u = await c.req('POST', `/v1/subjects/${pat}/usage`, { token: t.nia, purpose: 'site', json: { ip: '198.51.100.7', page: '/consult' } });
  assert.equal(u.status, 201, u.text);
  assert.equal((await c.req('GET', `/v1/subjects/${pat}/usage`, { token: t.ops, purpose: 'analytics' })).status, 200);
  const a = await rec('GET', pat, 'consultations', t.ops, 'analytics', undefined, consult);
  assert.equal(a.status, 403);
  const prof = await c.req('GET', `/v1/subjects/${pat}`, { token: t.ops, purpose: 'analytics' });
  assert.equal(prof.status, 403);
  // Marketing never touches the consultations; a purpose the policy does not name is refused.
  assert.equal((await rec('GET', pat, 'consultations', t.ops, 'marketing', undefined, consult)).status, 403);
  const research = await rec('GET', pat, 'consultations', t.ops, 'research', undefined, consult);
  assert.deepEqual([research.status, research.json.type], [400, '/problems/unknown-purpose']);
  // Recordings go to the medical group, and to a service provider only under a business associate agreement.
  const disclose = (recipient) => c.req('POST', `/v1/subjects/${pat}/disclosures`, { token: t.priv, purpose: 'legal',
    json: { recipient, collection: 'consultations' } });
  assert.equal((await disclose('payment-processing')).json.reason, 'baa-required');
  assert.equal((await disclose('affiliates')).json.reason, 'baa-required');
  assert.equal((await disclose('it-infrastructure')).status, 201);
});

test('D2: newsletters until the patient unsubscribes from one; account notices still go out', async () => {
  const check = async (purpose) => {
    const r = await c.req('GET', `/v1/subjects/${pat}/contact-check?channel=email&purpose=${purpose}`, { token: t.ops });
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  const m = await check('marketing');
  assert.equal(m.allowed, true);
  const page = await c.req('GET', m.unsubscribe.path);
  assert.equal(page.status, 200);
  const un = await c.req('POST', m.unsubscribe.path, { body: 'List-Unsubscribe=One-Click',
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.ok(un.status < 300, un.text);
  assert.equal((await check('marketing')).allowed, false);
  assert.equal((await check('operations')).allowed, true);
  // A forged link unsubscribes nobody.
  const forged = `${m.unsubscribe.path.slice(0, -4)}AAAA`;
  const f = await c.req('POST', forged, { body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.ok(f.status >= 400);
});

test('D5, A7: cookies by category; without analytics or advertising cookies their usage data is dropped', async () => {
  const collect = () => c.req('POST', `/v1/subjects/${pat}/usage`, { token: t.nia, purpose: 'site',
    json: { ip: '198.51.100.7', device: 'iphone', page: '/orders', ad_click: 'fb-campaign-7' } });
  let r = await collect();
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.dropped, []);
  const set = await c.req('PUT', `/v1/subjects/${pat}/cookies`, { token: t.nia, purpose: 'self', json: { analytics: false, advertising: false } });
  assert.equal(set.status, 200, set.text);
  r = await collect();
  assert.deepEqual(r.json.dropped.sort(), ['ad_click', 'page']);
  // Usage data lives apart from health data, with a retention of its own.
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${pat}' AND collection = 'usage'`), 0);
  const p = (await c.req('GET', '/v1/policy')).json;
  assert.equal(p.categories['user.device.ip_address'].retention, '26mo');
  assert.equal(p.categories['user.health.recording'].retention, 'account');
});

test('A6, G2: each user is authenticated with a role; passwords are slow salted hashes; sessions end', async () => {
  for (const h of sqlite(srv.data, 'SELECT pw_hash FROM users').trim().split('\n')) assert.match(h, /^\$argon2id\$/);
  const r = await c.req('GET', `/v1/subjects/${pat}`, { purpose: 'self' });
  assert.equal(r.status, 401);
  const tok = await c.login('nia', PASSWORD('nia'));
  await srv.advance(8 * 3600 + 60);
  assert.equal((await c.req('GET', `/v1/subjects/${pat}`, { token: tok, purpose: 'self' })).status, 401);
  const bad = await c.req('POST', '/v1/auth/login', { json: { username: 'nia', password: 'wrong-password' } });
  assert.equal(bad.status, 401);
});

test('H2: the register of vendors shows whose business associate agreement is signed, and only those get health information', async () => {
  // Signed in afresh: the sessions of the tests before have ended.
  const priv = await c.login('priv', PASSWORD('priv'));
  const reg = await c.req('GET', '/v1/vendors', { token: priv });
  assert.equal(reg.status, 200, reg.text);
  const by = Object.fromEntries(reg.json.vendors.map((v) => [v.name, v]));
  // The hosting vendor signed one, so it may receive health information; the payment processor
  // did not, so it never may; the practice's own providers need none for care.
  assert.deepEqual([by['it-infrastructure'].agreement, by['it-infrastructure'].health_data], ['signed', true]);
  assert.deepEqual([by['payment-processing'].agreement, by['payment-processing'].health_data], ['none', false]);
  assert.equal(by['connective-med-group'].agreement, 'not-required');
  // Only the privacy officer reads the register.
  const doctor = await c.login('dr-cole', PASSWORD('dr-cole'));
  assert.equal((await c.req('GET', '/v1/vendors', { token: doctor })).status, 403);
});

test('D6: material changes are notified through the patient\'s contact information, to review and accept; until then the old version governs', async () => {
  // CONNECTIVE MED: "If we make material changes to our Privacy Policy, we may notify you of such
  // changes through your contact information and invite you to review (and accept, if necessary)
  // the changes." Version 2 recommends products to patients from their past orders, by email.
  const s2 = await startServer({ policy: POLICY });
  try {
    const tok = {};
    const uid = {};
    const login = async () => { for (const n of Object.keys(uid)) tok[n] = await s2.client.login(n, PASSWORD(n)); };
    const account = async (n, role, extra = {}) => {
      const r = await s2.client.req('POST', '/v1/users', { token: tok.admin,
        json: { username: n, password: PASSWORD(n), role, ...extra } });
      assert.equal(r.status, 201, r.text);
      uid[n] = r.json.id;
      tok[n] = await s2.client.login(n, PASSWORD(n));
    };
    tok.admin = await s2.client.login('admin', ADMIN_PASSWORD);
    for (const [n, role] of [['desk', 'staff'], ['doc', 'provider'], ['doc2', 'provider']]) await account(n, role);
    const v1 = (await s2.client.req('GET', '/v1/policy')).json.version;
    // Each patient has an account, a consultation with her provider, and an order paid by card.
    const join = async (n, v) => {
      const r = await s2.client.req('POST', '/v1/subjects', { token: tok.desk, purpose: 'operations',
        json: { policy_version: v, source: 'app', birth_date: '1985-05-05', profile: { name: `${n} Patient`, email: `${n}@example.org` } } });
      assert.equal(r.status, 201, r.text);
      const s = r.json.id;
      await account(n, 'patient', { subject_id: s });
      assert.equal((await s2.client.req('POST', `/v1/subjects/${s}/assignments`, { token: tok.desk, purpose: 'operations',
        json: { provider: uid.doc } })).status, 201);
      assert.equal((await s2.client.req('POST', `/v1/subjects/${s}/records/consultations`, { token: tok.doc, purpose: 'treatment',
        json: { reason: 'migraine', transcript: 'patient reports weekly migraines' } })).status, 201);
      const o = await s2.client.req('POST', `/v1/subjects/${s}/records/orders`, { token: tok.desk, purpose: 'payment',
        json: { product: 'magnesium 400 mg', card_number: '4111111111111111' } });
      assert.equal(o.status, 201, o.text);
      return s;
    };
    const ann = await join('ann', v1), bea = await join('bea', v1), cat = await join('cat', v1);

    const text = readFileSync(POLICY, 'utf8');
    assert.ok(text.includes('effective: 2021-10-25\n') && text.includes('\npurposes:\n'));
    writeFileSync(`${s2.data}/policy.yaml`, text.replace('effective: 2021-10-25\n',
      'effective: 2026-12-01\nchange:\n  material: true\n  notice: 30d\n' +
      '  summary: We may recommend products to you by email, based on your past orders.\n')
      .replace('\npurposes:\n', '\npurposes:\n  recommendations:\n    description: Recommending products by email, from your past orders.\n' +
        '    roles: [staff]\n    categories: [user.name, user.contact.email, user.financial.order]\n'));
    await s2.restart();
    await login();
    const v2 = (await s2.client.req('GET', '/v1/policy')).json.version;
    assert.notEqual(v2, v1);
    const recommend = (s) => s2.client.req('GET', `/v1/subjects/${s}/records/orders`, { token: tok.desk, purpose: 'recommendations' });
    const status = async (s, who = 'desk', purpose = 'operations') => {
      const r = await s2.client.req('GET', `/v1/subjects/${s}/policy-status`, { token: tok[who], purpose });
      assert.equal(r.status, 200, r.text);
      return r.json;
    };

    // Orders placed under version 1 are not used for recommendations yet, for anyone.
    for (const s of [ann, bea, cat]) {
      const r = await recommend(s);
      assert.deepEqual([r.status, r.json.reason], [403, 'pending-policy-change'], r.text);
    }
    // Ann reads, in her own account, what is pending for her: the summary of the change.
    let st = await status(ann, 'ann', 'self');
    assert.deepEqual([st.governing.version, st.governing.basis], [v1, 'enrollment']);
    assert.deepEqual([st.pending.version, st.pending.summary], [v2, 'We may recommend products to you by email, based on your past orders.']);
    assert.deepEqual(st.notified, []);

    // The staff notify Ann and Bea at the email address in their account; the notice, its channel
    // and the end of the objection period are recorded, and each sees them.
    const notices = {};
    for (const [s, n] of [[ann, 'ann'], [bea, 'bea']]) {
      const r = await s2.client.req('POST', `/v1/subjects/${s}/policy-notices`, { token: tok.desk, purpose: 'operations',
        json: { channel: 'email' } });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual([r.json.version, r.json.channel], [v2, 'email']);
      assert.equal(Date.parse(r.json.objection_deadline) - Date.parse(r.json.time), 30 * 86400 * 1000);
      notices[n] = r.json;
      st = await status(s, n, 'self');
      assert.deepEqual(st.notified.map((x) => [x.version, x.channel, x.objected, x.objection_deadline]),
        [[v2, 'email', false, r.json.objection_deadline]]);
      assert.equal(st.governing.version, v1);
      assert.equal(st.pending.objection_deadline, r.json.objection_deadline);
    }
    // Bea objects. Cat, invited to review, accepts, and version 2 governs her at once.
    const o = await s2.client.req('POST', `/v1/subjects/${bea}/consents`, { token: tok.bea, purpose: 'self',
      json: { kind: 'policy', action: 'withdraw', source: 'web' } });
    assert.equal(o.status, 201, o.text);
    assert.equal(o.json.policy_version, v2);
    const acc = await s2.client.req('POST', `/v1/subjects/${cat}/consents`, { token: tok.cat, purpose: 'self',
      json: { kind: 'policy', action: 'grant', source: 'web', policy_version: v2 } });
    assert.equal(acc.status, 201, acc.text);
    st = await status(cat);
    assert.deepEqual([st.governing.version, st.governing.basis, st.pending], [v2, 'accepted', null]);
    assert.equal((await recommend(cat)).status, 200);

    // Attacks: Cat accepts for Ann, or records a notice on her to start her clock; a provider who
    // is not Ann's records one; the staff send one with a shorter deadline. All refused, nothing recorded.
    const forged = await s2.client.req('POST', `/v1/subjects/${ann}/consents`, { token: tok.cat, purpose: 'self',
      json: { kind: 'policy', action: 'grant', source: 'web', policy_version: v2 } });
    assert.equal(forged.status, 403, forged.text);
    const byCat = await s2.client.req('POST', `/v1/subjects/${ann}/policy-notices`, { token: tok.cat, purpose: 'self', json: { channel: 'email' } });
    assert.equal(byCat.status, 403, byCat.text);
    const byDoc = await s2.client.req('POST', `/v1/subjects/${ann}/policy-notices`, { token: tok.doc2, purpose: 'treatment', json: { channel: 'email' } });
    assert.equal(byDoc.status, 403, byDoc.text);
    const short = await s2.client.req('POST', `/v1/subjects/${ann}/policy-notices`, { token: tok.desk, purpose: 'operations',
      json: { channel: 'email', objection_deadline: new Date().toISOString() } });
    assert.equal(short.status, 400, short.text);
    assert.equal((await s2.client.req('GET', `/v1/subjects/${ann}/policy-status`, { token: tok.cat, purpose: 'self' })).status, 403);
    st = await status(ann);
    assert.deepEqual([st.governing.version, st.notified.length, st.accepted.map((x) => x.version)], [v1, 1, [v1]]);

    // Within the objection period nothing changes for Ann.
    s2.advance(29 * 86400);
    await login();
    assert.equal((await recommend(ann)).json.reason, 'pending-policy-change');
    assert.equal((await status(ann)).governing.version, v1);
    s2.advance(2 * 86400);
    await login();
    st = await status(ann, 'ann', 'self');
    assert.deepEqual([st.governing.version, st.governing.basis, st.pending], [v2, 'notified', null]);
    // Now her orders serve recommendations: the product, never the card number, never her consultations.
    const r = await recommend(ann);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.records.map((x) => x.fields.product), ['magnesium 400 mg']);
    assert.equal(r.json.records[0].fields.card_number, undefined);
    assert.ok(!r.text.includes('4111111111111111'));
    const health = await s2.client.req('GET', `/v1/subjects/${ann}/records/consultations`, { token: tok.desk, purpose: 'recommendations' });
    assert.equal(health.status, 403, health.text);
    // Bea objected within the period: version 1 still governs her, and her orders stay out of it.
    st = await status(bea);
    assert.deepEqual([st.governing.version, st.objected.map((x) => x.version)], [v1, [v2]]);
    assert.equal((await recommend(bea)).json.reason, 'pending-policy-change');
  } finally {
    await s2.stop();
    s2.remove();
  }
});
