// HEP.PRO (seed 002, policies/hep-pro.yaml): a home-exercise-program tool run on phivault,
// through its HTTP API, as the providers, their clients, support staff, the privacy officer and an
// attacker would use it. Each test names the requirements (REQUIREMENTS.md) it proves.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, SRC, cli, request, sqlite, startServer } from '../api/lib/harness.js';

const POLICY = `${SRC}/policies/hep-pro.yaml`;
const DAY = 86400;
let srv, c, version;
const t = {};
const id = {};

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
// A provider creates a client: the client's subject, to whom the provider is then assigned.
const create = (token, birth_date, profile) => c.req('POST', '/v1/subjects', { token, purpose: 'treatment',
  json: { policy_version: version, source: 'app', birth_date, profile } });
const rec = (method, s, col, token, purpose, json, rid = '') =>
  c.req(method, `/v1/subjects/${s}/records/${col}${rid ? `/${rid}` : ''}`, { token, purpose, json });
const count = (sql) => Number(sqlite(srv.data, sql).trim());
const file = (s, json, token = t.kim, purpose = 'self') => c.req('POST', `/v1/subjects/${s}/requests`, { token, purpose, json });
const move = (rid, step, json = {}) => c.req('POST', `/v1/requests/${rid}/${step}`, { token: t.priv, purpose: 'rights', json });

let kim, program;
before(async () => {
  srv = await startServer({ policy: POLICY });
  c = srv.client;
  t.admin = await c.login('admin', ADMIN_PASSWORD);
  for (const [n, role] of [['pt-ruiz', 'provider'], ['pt-sato', 'provider'], ['help', 'support'], ['priv', 'privacy_officer']]) await user(n, role);
  version = (await c.req('GET', '/v1/policy')).json.version;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

test('B3: a provider creates a client and assigns a program; the client sees it; another provider cannot', async () => {
  const r = await create(t['pt-ruiz'], '1979-08-30', { name: 'Kim Lee', email: 'kim@example.org', phone: '+1 415 555 0199' });
  assert.equal(r.status, 201, r.text);
  kim = r.json.id;
  assert.equal((await rec('POST', kim, 'conditions', t['pt-ruiz'], 'treatment', { condition: 'ACL reconstruction, left knee' })).status, 201);
  const p = await rec('POST', kim, 'programs', t['pt-ruiz'], 'treatment',
    { title: 'Knee rehab week 1', exercises: 'quad sets 3x10; heel slides 3x15', frequency: 'daily' });
  assert.equal(p.status, 201, p.text);
  program = p.json.id;
  // The client's own account sees the program.
  await user('kim', 'client', { subject_id: kim });
  const mine = await rec('GET', kim, 'programs', t.kim, 'self');
  assert.equal(mine.status, 200);
  assert.deepEqual(mine.json.records.map((x) => x.fields.title), ['Knee rehab week 1']);
  // Another provider sees nothing of her, not even by looking her up.
  for (const col of ['programs', 'conditions']) {
    const other = await rec('GET', kim, col, t['pt-sato'], 'treatment');
    assert.equal(other.status, 403);
    assert.equal(other.json.reason, 'not-assigned');
  }
  const look = await c.req('GET', '/v1/subjects?email=kim@example.org', { token: t['pt-sato'], purpose: 'treatment' });
  assert.deepEqual(look.json.subjects, []);
  // Support staff help with the account, but never see health information.
  const sup = await c.req('GET', `/v1/subjects/${kim}`, { token: t.help, purpose: 'support' });
  assert.equal(sup.json.profile.fields.email, 'kim@example.org');
  assert.equal((await rec('GET', kim, 'programs', t.help, 'support')).status, 403);
});

test('A2: 13 is the age line; a child found under 13 without parental consent is deleted at once', async () => {
  const twelve = await create(t['pt-ruiz'], yearsAgo(12, -10), { name: 'Too Young' });
  assert.equal(twelve.status, 422);
  assert.equal(twelve.json.type, '/problems/under-minimum-age');
  const teen = await create(t['pt-ruiz'], yearsAgo(13), { name: 'Sam Teen', email: 'sam@example.org' });
  assert.equal(teen.status, 201, teen.text);
  assert.equal((await rec('POST', teen.json.id, 'programs', t['pt-ruiz'], 'treatment', { title: 'Ankle', exercises: 'alphabet x2' })).status, 201);
  // The true birth date shows a child of 11: everything about them goes at once.
  const fix = await c.req('PUT', `/v1/subjects/${teen.json.id}/birth-date`, { token: t['pt-ruiz'], purpose: 'treatment',
    json: { birth_date: yearsAgo(11) } });
  assert.equal(fix.status, 200, fix.text);
  assert.deepEqual(fix.json, { subject_id: teen.json.id, status: 'erased' });
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${teen.json.id}'`), 0);
  assert.equal((await c.req('GET', `/v1/subjects/${teen.json.id}`, { token: t.priv, purpose: 'legal' })).status, 404);
});

test('A4: subscriptions keep the last 4 digits of a card; a complete card number is refused', async () => {
  const ok = await rec('POST', kim, 'subscriptions', t.kim, 'self', { card_last4: '4444', billing_address: '9 Bay St, SF' });
  assert.equal(ok.status, 201, ok.text);
  for (const card of ['5555555555554444', '5555 5555 5555 4444', '5555-5555-5555-4444']) {
    const r = await rec('POST', kim, 'subscriptions', t.kim, 'self', { card_last4: '4444', billing_address: `card ${card}` });
    assert.equal(r.status, 422);
    assert.deepEqual([r.json.type, r.json.field], ['/problems/card-number', 'billing_address']);
  }
  const r = await rec('POST', kim, 'programs', t['pt-ruiz'], 'treatment', { title: 'paid', exercises: '5555555555554444' });
  assert.equal(r.json.field, 'exercises');
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${kim}' AND collection = 'subscriptions'`), 1);
});

test('A7: usage data is kept apart from health data, and for a shorter time', async () => {
  const u = await c.req('POST', `/v1/subjects/${kim}/usage`, { token: t.kim, purpose: 'site',
    json: { ip: '203.0.113.9', device: 'pixel-8', page: '/programs' } });
  assert.equal(u.status, 201, u.text);
  assert.equal(count(`SELECT count(*) FROM usage_events WHERE subject_id = '${kim}'`), 1);
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${kim}' AND collection = 'usage'`), 0);
  assert.equal((await rec('POST', kim, 'usage', t.kim, 'self', { ip: '203.0.113.9' })).status, 409);
  // Analytics reaches usage data only, never health information.
  const a = await c.req('GET', `/v1/subjects/${kim}/usage`, { token: t.help, purpose: 'analytics' });
  assert.equal(a.status, 200, a.text);
  assert.equal((await rec('GET', kim, 'programs', t.help, 'analytics')).json.reason, 'purpose-excludes-collection');
  // Thirteen months on, the sweep disposes of the usage data; the account's data stays.
  await srv.advance(400 * DAY);
  const s = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.equal(s.status, 0, s.stderr);
  assert.equal(count(`SELECT count(*) FROM usage_events WHERE subject_id = '${kim}'`), 0);
  assert.equal(count(`SELECT count(*) FROM records WHERE id = '${program}'`), 1);
  for (const n of Object.keys(t)) t[n] = await c.login(n, n === 'admin' ? ADMIN_PASSWORD : PASSWORD(n));
});

test('B5, F4: a restricted client\'s data is only stored; a legal hold keeps data through a deletion request', async () => {
  assert.equal((await c.req('POST', `/v1/subjects/${kim}/restriction`, { token: t.kim, purpose: 'self' })).status, 200);
  let r = await rec('GET', kim, 'programs', t['pt-ruiz'], 'treatment', undefined, program);
  assert.deepEqual([r.status, r.json.reason], [403, 'processing-restricted']);
  assert.equal((await rec('GET', kim, 'programs', t.kim, 'self', undefined, program)).status, 200);
  assert.equal((await c.req('DELETE', `/v1/subjects/${kim}/restriction`, { token: t.kim, purpose: 'self' })).status, 200);
  assert.equal((await rec('GET', kim, 'programs', t['pt-ruiz'], 'treatment', undefined, program)).status, 200);
  // A dispute: the privacy officer holds the data; a deletion request cannot complete until released.
  const hold = await c.req('POST', `/v1/subjects/${kim}/holds`, { token: t.priv, purpose: 'legal', json: { reason: 'billing dispute' } });
  assert.equal(hold.status, 201, hold.text);
  const del = await file(kim, { type: 'delete' });
  assert.equal((await move(del.json.id, 'verify', { method: 'account' })).status, 200);
  r = await move(del.json.id, 'complete');
  assert.deepEqual([r.status, r.json.reason], [409, 'legal-hold']);
  assert.equal(count(`SELECT count(*) FROM records WHERE id = '${program}'`), 1);
  assert.equal((await c.req('DELETE', `/v1/subjects/${kim}/holds/${hold.json.id}`, { token: t.priv, purpose: 'legal' })).status, 200);
  assert.equal((await move(del.json.id, 'deny', { reason: 'withdrawn' })).status, 200);
});

test('C4, D2, E6: no sale (Global Privacy Control honored); marketing until the client objects, service mail still', async () => {
  const check = async (purpose) => {
    const r = await c.req('GET', `/v1/subjects/${kim}/contact-check?channel=email&purpose=${purpose}`, { token: t.help });
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  const m = await check('marketing');
  assert.equal(m.allowed, true);
  // Every marketing message carries a working one-click unsubscribe link.
  const un = await c.req('POST', m.unsubscribe.path, { body: 'List-Unsubscribe=One-Click',
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.ok(un.status < 300, un.text);
  assert.deepEqual([(await check('marketing')).allowed, (await check('marketing')).reason], [false, 'consent-required']);
  assert.equal((await check('support')).allowed, true);
  // Opted in again, the client objects to direct marketing through a rights request.
  assert.equal((await c.req('POST', `/v1/subjects/${kim}/consents`, { token: t.kim, purpose: 'self',
    json: { kind: 'marketing_email', action: 'grant', source: 'app' } })).status, 201);
  assert.equal((await check('marketing')).allowed, true);
  const obj = await file(kim, { type: 'object' });
  assert.equal((await move(obj.json.id, 'verify', { method: 'account' })).status, 200);
  assert.deepEqual((await move(obj.json.id, 'complete')).json.result.withdrawn, ['marketing_email']);
  assert.deepEqual([(await check('marketing')).allowed, (await check('marketing')).reason], [false, 'consent-required']);
  assert.equal((await check('support')).allowed, true);
  const g = await c.req('GET', `/v1/subjects/${kim}`, { token: t.kim, purpose: 'self', headers: { 'sec-gpc': '1' } });
  assert.equal(g.headers['gpc-honored'], '1');
  const ledger = await c.req('GET', `/v1/subjects/${kim}/consents`, { token: t.kim, purpose: 'self' });
  assert.equal(ledger.json.current.sale_sharing.held, false);
  // Nobody the policy does not name receives anything.
  const d = await c.req('POST', `/v1/subjects/${kim}/disclosures`, { token: t.priv, purpose: 'legal',
    json: { recipient: 'data-broker', collection: 'profile' } });
  assert.equal(d.json.reason, 'unknown-recipient');
  // And the policy cannot be made to sell: a copy of it with a data broker marked as a sale is
  // refused at load, because HEP.PRO says it never sells.
  const dir = mkdtempSync(path.join(tmpdir(), 'hep-sale-'));
  try {
    const text = readFileSync(POLICY, 'utf8');
    assert.ok(text.includes('\nrecipients:\n'));
    writeFileSync(`${dir}/p.yaml`, text.replace('\nrecipients:\n',
      '\nrecipients:\n  data-broker: {kind: business_partner, sale: true, categories: [user.contact.email]}\n'));
    const chk = cli(['policy', 'check', `${dir}/p.yaml`]);
    assert.notEqual(chk.status, 0);
    assert.match(chk.stderr, /never_sell: recipient data-broker is marked sale/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('E5, E8, E9: a portable export, the right to know, and a request by an authorized agent', async () => {
  const fhir = await c.req('GET', `/v1/subjects/${kim}/export?format=fhir`, { token: t.kim, purpose: 'self' });
  assert.equal(fhir.status, 200, fhir.text);
  assert.equal(fhir.json.resourceType, 'Bundle');
  const json = await c.req('GET', `/v1/subjects/${kim}/export?format=json`, { token: t.kim, purpose: 'self' });
  assert.deepEqual(json.json.collections.programs.map((x) => x.fields.title.value), ['Knee rehab week 1']);
  assert.deepEqual(json.json.collections.subscriptions.map((x) => x.fields.card_last4.value), ['4444']);
  // The right to know covers the past 12 months: the program assigned today is in it.
  assert.equal((await rec('POST', kim, 'programs', t['pt-ruiz'], 'treatment', { title: 'Knee rehab week 60', exercises: 'step-ups 3x12' })).status, 201);
  const know = await c.req('GET', `/v1/subjects/${kim}/know`, { token: t.kim, purpose: 'self' });
  assert.equal(know.status, 200, know.text);
  assert.ok(know.json.categories_collected.some((x) => x.category === 'user.health.exercise_program'), know.text);
  let r = await file(kim, { type: 'know', requester: { kind: 'agent', name: 'CA Privacy Agents' } }, t.priv, 'rights');
  assert.equal(r.status, 400);
  r = await file(kim, { type: 'know', source: 'mail', requester: { kind: 'agent', name: 'CA Privacy Agents',
    evidence: 'Registered agent; signed authorization of 2025-02-01.' } }, t.priv, 'rights');
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.requester.kind, 'agent');
  const due = new Date(r.json.received);
  due.setUTCDate(due.getUTCDate() + 45);
  assert.equal(new Date(r.json.due).getTime(), due.getTime());
});

test('E3, F3, E12: deletion keeps what accounting law keeps and de-identified programs; no one is served worse', async () => {
  // Another client of the same provider, who used no right, is served exactly like Kim was.
  const other = await create(t['pt-ruiz'], '1985-01-01', { name: 'Ona Reed' });
  const op = await rec('POST', other.json.id, 'programs', t['pt-ruiz'], 'treatment',
    { title: 'Knee rehab week 1', exercises: 'quad sets 3x10; heel slides 3x15', frequency: 'daily' });
  const mineNow = await rec('GET', kim, 'programs', t['pt-ruiz'], 'treatment', undefined, program);
  const theirs = await rec('GET', other.json.id, 'programs', t['pt-ruiz'], 'treatment', undefined, op.json.id);
  assert.deepEqual(mineNow.json.fields, theirs.json.fields);
  const del = await file(kim, { type: 'delete' });
  assert.equal((await move(del.json.id, 'verify', { method: 'account' })).status, 200);
  const done = await move(del.json.id, 'complete');
  assert.equal(done.status, 200, done.text);
  const kept = done.json.result.kept.map((k) => [k.category, k.retention]).sort();
  assert.deepEqual(kept, [['user.financial.billing_address', '7y'], ['user.financial.credit_card', '7y']]);
  assert.equal(count(`SELECT count(*) FROM records WHERE subject_id = '${kim}' AND collection IN ('programs', 'conditions', 'profile')`), 0);
  // The program lives on only de-identified: no subject, no record id.
  const deid = sqlite(srv.data, "SELECT collection FROM deidentified").trim().split('\n');
  assert.ok(deid.includes('programs'));
  assert.doesNotMatch(sqlite(srv.data, 'SELECT * FROM deidentified'), new RegExp(`${kim}|${program}`));
});

test('B6, F3: research, marketing and analytics get de-identified programs and counts with small cells suppressed, never a client', async () => {
  // Kim's program, gone with her account above, lives on de-identified: no client, record or day.
  const list = await c.req('GET', '/v1/deidentified/programs', { token: t.help, purpose: 'research' });
  assert.equal(list.status, 200, list.text);
  const row = list.json.rows.find((x) => x.fields.exercises === 'quad sets 3x10; heel slides 3x15');
  assert.ok(row, list.text);
  assert.deepEqual(Object.keys(row).sort(), ['fields', 'id', 'month']);
  assert.match(row.month, /^\d{4}-\d{2}$/);
  for (const trace of [kim, program, 'Kim', 'kim@example.org']) assert.ok(!list.text.includes(trace), trace);
  // Eleven clients start hip mobility; one starts a rare program for her shoulder.
  const clients = [];
  for (let i = 0; i < 11; i++) {
    const s = await create(t['pt-sato'], '1970-02-02', { name: `Hip Client ${i}` });
    assert.equal(s.status, 201, s.text);
    clients.push(s.json.id);
    assert.equal((await rec('POST', s.json.id, 'programs', t['pt-sato'], 'treatment',
      { title: 'Hip mobility', exercises: 'clamshells 3x12', frequency: 'daily' })).status, 201);
  }
  const rare = await create(t['pt-sato'], '1966-03-03', { name: 'Rare Client' });
  assert.equal((await rec('POST', rare.json.id, 'programs', t['pt-sato'], 'treatment',
    { title: 'Frozen shoulder, stage 2', exercises: 'pendulums 3x20', frequency: 'twice daily' })).status, 201);
  // Counts by title: only a title held by at least 11 clients is named and counted.
  const agg = await c.req('GET', '/v1/aggregates/programs?by=title', { token: t.help, purpose: 'research' });
  assert.equal(agg.status, 200, agg.text);
  assert.equal(agg.json.min_cell, 11);
  assert.deepEqual(agg.json.cells, [{ value: 'Hip mobility', records: 11, people: 11 }]);
  assert.ok(agg.json.suppressed_values >= 1);
  assert.ok(!agg.text.includes('Frozen') && !agg.text.includes('sub_') && !agg.text.includes('rec_'));
  // Never a client's own records or profile, whoever is asked for.
  for (const path of [`/v1/subjects/${rare.json.id}/records/programs`, `/v1/subjects/${rare.json.id}`,
    `/v1/subjects/${clients[0]}/export`]) {
    const r = await c.req('GET', path, { token: t.help, purpose: 'research' });
    assert.equal(r.status, 403, path);
    assert.equal(r.json.reason, 'deidentified-only', path);
  }
  // Research on what HEP.PRO does not share de-identified (the conditions) is refused outright.
  const cond = await c.req('GET', '/v1/aggregates/conditions', { token: t.help, purpose: 'research' });
  assert.equal(cond.status, 403);
  assert.equal(cond.json.reason, 'purpose-excludes-collection');
});

test('E2: a client amends her program, its history kept; a denied amendment of her condition is answered with the reason, and her statement of disagreement goes with later disclosures and exports; no one else files for her', async () => {
  const mae = (await create(t['pt-ruiz'], '1990-04-12', { name: 'Mae Ortiz', email: 'mae@example.org' })).json.id;
  const cond = await rec('POST', mae, 'conditions', t['pt-ruiz'], 'treatment', { condition: 'Patellar tendinopathy, right knee', notes: 'pain on stairs' });
  assert.equal(cond.status, 201, cond.text);
  const prog = await rec('POST', mae, 'programs', t['pt-ruiz'], 'treatment',
    { title: 'Tendon loading week 1', exercises: 'wall sits 3x30s', frequency: 'daily' });
  assert.equal(prog.status, 201, prog.text);
  await user('mae', 'client', { subject_id: mae });
  const ned = (await create(t['pt-ruiz'], '1988-09-09', { name: 'Ned Park' })).json.id;
  await user('ned', 'client', { subject_id: ned });
  // Another client can file no amendment for her, neither on her account nor through his own.
  const change = { collection: 'programs', record: prog.json.id, fields: { exercises: 'none at all' } };
  let r = await file(mae, { type: 'amend', details: change }, t.ned);
  assert.deepEqual([r.status, r.json.reason], [403, 'not-own-subject']);
  r = await file(ned, { type: 'amend', details: change }, t.ned);
  assert.deepEqual([r.status, r.json.field], [404, 'record']);
  // Her provider changed the hold time: the amendment of her program is made, the old values kept.
  const ok = await file(mae, { type: 'amend', details: { collection: 'programs', record: prog.json.id,
    fields: { exercises: 'wall sits 3x45s', frequency: 'twice daily' }, reason: 'my physio changed the hold time' } }, t.mae);
  assert.equal(ok.status, 201, ok.text);
  assert.equal((await c.req('POST', `/v1/requests/${ok.json.id}/complete`, { token: t.mae, purpose: 'self', json: {} })).status, 403);
  assert.equal((await move(ok.json.id, 'verify', { method: 'account' })).status, 200);
  r = await move(ok.json.id, 'complete');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.state, [...r.json.result.amended].sort()], ['completed', ['exercises', 'frequency']]);
  const now = await rec('GET', mae, 'programs', t['pt-ruiz'], 'treatment', undefined, prog.json.id);
  assert.deepEqual(now.json.fields, { title: 'Tendon loading week 1', exercises: 'wall sits 3x45s', frequency: 'twice daily' });
  let e = await c.req('GET', `/v1/subjects/${mae}/export`, { token: t.mae, purpose: 'self' });
  assert.equal(e.status, 200, e.text);
  const row = e.json.collections.programs.find((x) => x.id === prog.json.id);
  assert.deepEqual(row.history.map((h) => [h.field, h.value, h.category, h.request]).sort(), [
    ['exercises', 'wall sits 3x30s', 'user.health.exercise_program', ok.json.id],
    ['frequency', 'daily', 'user.health.exercise_program', ok.json.id]]);
  // Her condition as her provider assessed it: the amendment is denied, with the reason she reads.
  const no = await file(mae, { type: 'amend', details: { collection: 'conditions', record: cond.json.id,
    fields: { condition: 'Patellar tendinopathy, both knees' }, reason: 'both knees hurt' } }, t.mae);
  assert.equal(no.status, 201, no.text);
  assert.equal((await move(no.json.id, 'verify', { method: 'account' })).status, 200);
  r = await move(no.json.id, 'deny', { reason: 'accurate', explanation: 'Your provider assessed the right knee only.' });
  assert.equal(r.status, 200, r.text);
  const seen = await c.req('GET', `/v1/requests/${no.json.id}`, { token: t.mae, purpose: 'self' });
  assert.equal(seen.json.state, 'denied');
  assert.deepEqual([seen.json.closed.outcome, seen.json.closed.explanation], ['accurate', 'Your provider assessed the right knee only.']);
  // Ned cannot read her request nor file a statement on it; she files hers, once.
  assert.equal((await c.req('GET', `/v1/requests/${no.json.id}`, { token: t.ned, purpose: 'self' })).status, 403);
  r = await c.req('POST', `/v1/requests/${no.json.id}/disagreement`, { token: t.ned, purpose: 'self', json: { statement: 'not hers' } });
  assert.deepEqual([r.status, r.json.reason], [403, 'not-own-subject']);
  const statement = 'My left knee hurts on stairs too, and I told my provider so.';
  const st = await c.req('POST', `/v1/requests/${no.json.id}/disagreement`, { token: t.mae, purpose: 'self', json: { statement } });
  assert.equal(st.status, 201, st.text);
  assert.equal(st.json.statement.statement, statement);
  r = await c.req('POST', `/v1/requests/${no.json.id}/disagreement`, { token: t.mae, purpose: 'self', json: { statement: 'again' } });
  assert.equal(r.status, 409);
  const kept = await rec('GET', mae, 'conditions', t['pt-ruiz'], 'treatment', undefined, cond.json.id);
  assert.equal(kept.json.fields.condition, 'Patellar tendinopathy, right knee');
  // A later disclosure of the condition carries her statement; one of her program does not.
  const disclose = (json) => c.req('POST', `/v1/subjects/${mae}/disclosures`, { token: t.priv, purpose: 'legal', json });
  r = await disclose({ recipient: 'authorities', collection: 'conditions', records: [cond.json.id] });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.statements.map((x) => [x.id, x.record, x.statement]), [[st.json.statement.id, cond.json.id, statement]]);
  r = await disclose({ recipient: 'authorities', collection: 'programs', records: [prog.json.id] });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.statements, []);
  // And so does every later export of it, hers and the privacy officer's.
  for (const [token, purpose] of [[t.mae, 'self'], [t.priv, 'rights']]) {
    e = await c.req('GET', `/v1/subjects/${mae}/export`, { token, purpose });
    assert.equal(e.status, 200, e.text);
    const c1 = e.json.collections.conditions.find((x) => x.id === cond.json.id);
    assert.deepEqual(c1.statements.map((x) => x.statement), [statement], purpose);
    assert.deepEqual(e.json.collections.programs.find((x) => x.id === prog.json.id).statements, [], purpose);
  }
});

test('G1: a program\'s exercises, a condition and a client\'s contact are nowhere in the clear in the database, its write-ahead log or the server log', async () => {
  const canaries = ['Quinn CANARY-NAME-9e41', 'quinn.canary-3c7a@example.org', '+1 415 555 0143',
    'CANARY-CONDITION-rotator-cuff-a81c', 'CANARY-EXERCISES-band-rows-3x15-e5f2', 'CANARY-BILLING-12 Pier Rd-77d0'];
  const s = await create(t['pt-sato'], '1975-06-06', { name: canaries[0], email: canaries[1], phone: canaries[2] });
  assert.equal(s.status, 201, s.text);
  const q = s.json.id;
  assert.equal((await rec('POST', q, 'conditions', t['pt-sato'], 'treatment', { condition: canaries[3] })).status, 201);
  for (let i = 0; i < 10; i++) {
    assert.equal((await rec('POST', q, 'programs', t['pt-sato'], 'treatment',
      { title: `Shoulder week ${i + 1}`, exercises: canaries[4], frequency: 'daily' })).status, 201);
  }
  await user('quinn', 'client', { subject_id: q });
  assert.equal((await rec('POST', q, 'subscriptions', t.quinn, 'self', { card_last4: '1881', billing_address: canaries[5] })).status, 201);
  // The values are there, and come back opened to those allowed to read them...
  const list = await rec('GET', q, 'programs', t.quinn, 'self');
  assert.equal(list.json.records.length, 10);
  assert.ok(list.json.records.every((x) => x.fields.exercises === canaries[4]));
  assert.equal((await rec('GET', q, 'conditions', t['pt-sato'], 'treatment')).json.records[0].fields.condition, canaries[3]);
  const look = await c.req('GET', `/v1/subjects?email=${encodeURIComponent(canaries[1])}`, { token: t.help, purpose: 'support' });
  assert.deepEqual(look.json.subjects, [{ id: q }]);
  // ...but no file of the data directory, nor the server's log, holds any of them in the clear.
  const scan = () => {
    const files = readdirSync(srv.data);
    const blobs = files.map((f) => [f, readFileSync(path.join(srv.data, f))]);
    blobs.push(['server log', Buffer.from(srv.log())]);
    const hits = [];
    for (const [name, bytes] of blobs) {
      for (const v of canaries) {
        for (const form of [v, v.toLowerCase(), JSON.stringify(v)]) {
          if (bytes.includes(Buffer.from(form, 'utf8')) || bytes.includes(Buffer.from(form, 'utf16le'))) hits.push(`${v} in ${name}`);
        }
      }
    }
    return { files, hits };
  };
  const running = scan();
  assert.ok(running.files.includes('phivault.db') && running.files.includes('phivault.db-wal'), running.files.join(' '));
  assert.deepEqual(running.hits, []);
  // Stopped, with the write-ahead log checkpointed into the database, still nothing.
  await srv.stop();
  assert.deepEqual(scan().hits, []);
  await srv.start();
  c = srv.client;
  assert.equal((await rec('GET', q, 'programs', t.quinn, 'self')).json.records[0].fields.exercises, canaries[4]);
});

test('G1: a HEP.PRO server given a certificate serves its API over HTTPS with that certificate; an untrusting client and plain HTTP are refused', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hep-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  chmodSync(key, 0o600);
  const tls = await startServer({ policy: POLICY, args: ['--tls-cert', cert, '--tls-key', key] });
  // One HTTPS request; resolves with the status, the body and the certificate the server presented.
  const req = (method, urlPath, { token, purpose, json, trusted = true } = {}) => new Promise((resolve, reject) => {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (purpose) headers['x-purpose'] = purpose;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const r = https.request({ host: '127.0.0.1', servername: 'localhost', port: tls.port, method, path: urlPath,
      headers, ca: trusted ? readFileSync(cert) : undefined, agent: false }, (res) => {
      const peer = res.socket.getPeerCertificate();
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, json: text ? JSON.parse(text) : undefined, peer });
      });
    });
    r.on('error', reject);
    if (json !== undefined) r.write(JSON.stringify(json));
    r.end();
  });
  try {
    assert.match(tls.log(), /"event":"server.listening".*"scheme":"https"/);
    const pol = await req('GET', '/v1/policy');
    assert.equal(pol.status, 200);
    assert.equal(pol.json.organization.name, 'HEP.PRO');
    // The certificate presented is the one the server was given.
    assert.equal(pol.peer.fingerprint256, new X509Certificate(readFileSync(cert)).fingerprint256);
    // A provider signs in, creates a client and assigns a program, all over HTTPS.
    const admin = await req('POST', '/v1/auth/login', { json: { username: 'admin', password: ADMIN_PASSWORD } });
    assert.equal(admin.status, 200);
    const u = await req('POST', '/v1/users', { token: admin.json.token,
      json: { username: 'pt-tls', password: PASSWORD('pt-tls'), role: 'provider' } });
    assert.equal(u.status, 201);
    const pt = (await req('POST', '/v1/auth/login', { json: { username: 'pt-tls', password: PASSWORD('pt-tls') } })).json.token;
    const s = await req('POST', '/v1/subjects', { token: pt, purpose: 'treatment',
      json: { policy_version: pol.json.version, source: 'app', birth_date: '1982-12-12', profile: { name: 'Tess Lane' } } });
    assert.equal(s.status, 201);
    const p = await req('POST', `/v1/subjects/${s.json.id}/records/programs`, { token: pt, purpose: 'treatment',
      json: { title: 'Neck week 1', exercises: 'chin tucks 3x10', frequency: 'daily' } });
    assert.equal(p.status, 201);
    const back = await req('GET', `/v1/subjects/${s.json.id}/records/programs/${p.json.id}`, { token: pt, purpose: 'treatment' });
    assert.equal(back.json.fields.exercises, 'chin tucks 3x10');
    // A client that does not trust the certificate gets nothing, and neither does plain HTTP.
    await assert.rejects(req('GET', '/v1/policy', { trusted: false }), /self[- ]signed|unable to verify/i);
    const plain = await request(`http://127.0.0.1:${tls.port}`, 'GET', '/v1/policy').catch((err) => ({ err }));
    assert.ok(plain.err || !(plain.text ?? '').includes('HEP.PRO'), 'plain HTTP must not be answered');
  } finally {
    await tls.stop();
    tls.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});
