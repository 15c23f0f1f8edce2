// O7 Therapy runs on phivault from policies/o7-therapy.yaml: every promise of its notice tagged
// O7 in REQUIREMENTS.md, through the HTTP API, as the client, the therapist, the support staff,
// the privacy officer and an attacker would. Also: whose data a stolen credential touched (G5).
// The chat is end-to-end encrypted (G6): the client and the therapist hold X25519 key pairs, and
// every message is sealed on the sender's side for both (libsodium), as O7's apps would.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, cli, PASSWORD, SRC, sqlite, startServer } from '../api/lib/harness.js';
import { open, registerKey, seal } from '../api/lib/sealed.js';

const POLICY = path.join(SRC, 'policies', 'o7-therapy.yaml');
const DAY = 86400;

let srv, c, version;
const tokens = {};
const users = {};
const keys = {};      // each person's key pair, on their own device
const clientOf = {};  // subject id -> the client's nickname
before(async () => {
  srv = await startServer({ policy: POLICY });
  c = srv.client;
  tokens.admin = await c.login('admin', ADMIN_PASSWORD);
  for (const [name, role] of [['support1', 'staff'], ['therapist1', 'provider'], ['therapist2', 'provider'], ['po1', 'privacy_officer']]) {
    const r = await c.req('POST', '/v1/users', { token: tokens.admin, json: { username: name, password: PASSWORD(name), role } });
    assert.equal(r.status, 201, r.text);
    users[name] = r.json.id;
    tokens[name] = await c.login(name, PASSWORD(name));
  }
  for (const t of ['therapist1', 'therapist2']) keys[t] = await registerKey(c, tokens[t]);
  version = (await c.req('GET', '/v1/policy')).json.version;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const as = (who, purpose) => ({ token: tokens[who], purpose });

// A client known by a nickname only, with an account of their own and a therapist.
async function client(nickname, birth = '1990-04-12') {
  const r = await c.req('POST', '/v1/subjects', { ...as('support1', 'operations'),
    json: { policy_version: version, birth_date: birth, source: 'web', profile: { nickname, email: `${nickname}@example.org` } } });
  assert.equal(r.status, 201, r.text);
  const u = await c.req('POST', '/v1/users', { token: tokens.admin,
    json: { username: nickname, password: PASSWORD(nickname), role: 'patient', subject_id: r.json.id } });
  assert.equal(u.status, 201, u.text);
  users[nickname] = u.json.id;
  tokens[nickname] = await c.login(nickname, PASSWORD(nickname));
  keys[nickname] = await registerKey(c, tokens[nickname]);
  clientOf[r.json.id] = nickname;
  assert.equal((await c.req('POST', `/v1/subjects/${r.json.id}/assignments`, { ...as('support1', 'operations'),
    json: { provider: users.therapist1 } })).status, 201);
  return r.json.id;
}

// The sender seals the text and the time for the client and their therapist, each with their key.
const readersOf = (s) => ({ [users[clientOf[s]]]: keys[clientOf[s]].publicKey, [users.therapist1]: keys.therapist1.publicKey });
const message = (s, who, purpose, text) => c.req('POST', `/v1/subjects/${s}/records/messages`,
  { ...as(who, purpose), json: { text: seal(text, readersOf(s)), sent_at: seal('2026-05-01T10:00:00Z', readersOf(s)) } });
const files = (dir) => readdirSync(dir).flatMap((f) => {
  const p = path.join(dir, f);
  return statSync(p).isDirectory() ? files(p) : [[p, readFileSync(p)]];
});

test('a nickname is enough (A5); a real name is not asked for, and a field that is not declared is refused', async () => {
  const s = await client('bluejay');
  const me = await c.req('GET', `/v1/subjects/${s}`, as('bluejay', 'self'));
  assert.deepEqual(me.json.profile.fields, { nickname: 'bluejay', email: 'bluejay@example.org', birth_date: '1990-04-12' });
  const named = await c.req('POST', '/v1/subjects', { ...as('support1', 'operations'),
    json: { policy_version: version, birth_date: '1990-04-12', profile: { nickname: 'x', name: 'Real Name' } } });
  assert.equal(named.status, 422);
  assert.equal(named.json.field, 'name');
});

test('the age line (A2): under 18 not enrolled; a child under 13 found later is erased at once', async () => {
  const y = new Date().getUTCFullYear();
  const teen = await c.req('POST', '/v1/subjects', { ...as('support1', 'operations'),
    json: { policy_version: version, birth_date: `${y - 16}-01-01`, profile: { nickname: 'teen' } } });
  assert.equal(teen.status, 422);
  assert.equal(teen.json.type, '/problems/under-minimum-age');
  const s = await client('sparrow');
  assert.equal((await message(s, 'sparrow', 'self', 'hello')).status, 201);
  // 13 to 17: only the chat; a payment record is refused.
  assert.equal((await c.req('PUT', `/v1/subjects/${s}/birth-date`, { ...as('po1', 'operations'),
    json: { birth_date: `${y - 15}-01-01` } })).status, 200);
  assert.equal((await message(s, 'sparrow', 'self', 'still here')).status, 201);
  const pay = await c.req('POST', `/v1/subjects/${s}/records/payments`, { ...as('support1', 'payment'),
    json: { card_last4: '4242', amount: '60', date: '2026-05-01' } });
  assert.equal(pay.status, 403);
  // Under 13 without verified parental consent: removed from the servers.
  const r = await c.req('PUT', `/v1/subjects/${s}/birth-date`, { ...as('po1', 'operations'), json: { birth_date: `${y - 11}-06-01` } });
  assert.equal(r.status, 200, r.text);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}'`).trim(), '0');
  assert.equal(sqlite(srv.data, `SELECT status FROM subjects WHERE id = '${s}'`).trim(), 'erased');
});

test('messages (E10, G6): the client and their therapist only, end to end; one or all deleted by the client; sessions never recorded', async () => {
  const s = await client('heron');
  const m1 = await message(s, 'heron', 'self', 'I could not sleep again');
  const m2 = await message(s, 'therapist1', 'treatment', 'Let us talk about your evenings');
  const m3 = await message(s, 'heron', 'self', 'ok');
  for (const m of [m1, m2, m3]) assert.equal(m.status, 201, m.text);
  // Another therapist, the support staff, and marketing see none of it.
  assert.equal((await c.req('GET', `/v1/subjects/${s}/records/messages`, as('therapist2', 'treatment'))).status, 403);
  assert.equal((await c.req('GET', `/v1/subjects/${s}/records/messages`, as('support1', 'operations'))).status, 403);
  assert.equal((await c.req('GET', `/v1/subjects/${s}/records/messages`, as('support1', 'marketing'))).status, 403);
  // End to end (G6): only the client and her therapist can open a message; phivault holds and
  // serves the sealed copies, and no answer, export, file or log line of it holds the text.
  const read = await c.req('GET', `/v1/subjects/${s}/records/messages/${m1.json.id}`, as('therapist1', 'treatment'));
  assert.equal(open(read.json.fields.text, users.therapist1, keys.therapist1), 'I could not sleep again');
  assert.equal(open(read.json.fields.sent_at, users.heron, keys.heron), '2026-05-01T10:00:00Z');
  assert.throws(() => open(read.json.fields.text, users.therapist1, keys.therapist2));
  const mine = await c.req('GET', `/v1/subjects/${s}/records/messages`, as('heron', 'self'));
  assert.deepEqual(mine.json.records.map((m) => open(m.fields.text, users.heron, keys.heron)).sort(),
    ['I could not sleep again', 'Let us talk about your evenings', 'ok'].sort());
  const exports = await Promise.all(['json', 'fhir', 'html'].map((format) =>
    c.req('GET', `/v1/subjects/${s}/export?format=${format}`, as('heron', 'self'))));
  for (const e of exports) assert.equal(e.status, 200, e.text);
  assert.equal(open(exports[0].json.collections.messages.find((m) => m.id === m1.json.id).fields.text.value, users.heron, keys.heron),
    'I could not sleep again');
  for (const a of [read, mine, ...exports]) assert.ok(!a.text.includes('could not sleep'));
  // A message in the clear is refused, and so is one sealed for the other therapist.
  const plain = await c.req('POST', `/v1/subjects/${s}/records/messages`, { ...as('heron', 'self'), json: { text: 'could not sleep, again' } });
  assert.deepEqual([plain.status, plain.json.type, plain.json.field], [422, '/problems/sealed-value-required', 'text']);
  const astray = await c.req('POST', `/v1/subjects/${s}/records/messages`, { ...as('heron', 'self'),
    json: { text: seal('could not sleep', { [users.heron]: keys.heron.publicKey, [users.therapist2]: keys.therapist2.publicKey }) } });
  assert.deepEqual([astray.status, astray.json.reason], [422, 'e2e-reader-not-allowed']);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}' AND collection = 'messages'`).trim(), '3');
  for (const [p, bytes] of files(srv.data)) assert.ok(!bytes.includes('could not sleep'), p);
  assert.ok(!srv.log().includes('could not sleep'));
  // A recording is refused: there is nowhere to hold one.
  const rec = await c.req('POST', `/v1/subjects/${s}/records/recordings`, { ...as('therapist1', 'treatment'), json: { audio: 'UklGRg==' } });
  assert.equal(rec.status, 404);
  const inMsg = await c.req('POST', `/v1/subjects/${s}/records/messages`, { ...as('therapist1', 'treatment'),
    json: { text: seal('session', readersOf(s)), recording: 'UklGRg==' } });
  assert.deepEqual([inMsg.status, inMsg.json.field], [422, 'recording']);
  assert.deepEqual((await c.req('GET', '/v1/policy')).json.recordings, { recorded: false, category: 'user.health.recording' });
  // Delete one message, then all.
  assert.equal((await c.req('DELETE', `/v1/subjects/${s}/records/messages/${m1.json.id}`, as('heron', 'self'))).status, 204);
  let list = await c.req('GET', `/v1/subjects/${s}/records/messages`, as('heron', 'self'));
  assert.deepEqual(list.json.records.map((r) => r.id).sort(), [m2.json.id, m3.json.id].sort());
  const all = await c.req('DELETE', `/v1/subjects/${s}/records/messages`, as('heron', 'self'));
  assert.equal(all.status, 200, all.text);
  list = await c.req('GET', `/v1/subjects/${s}/records/messages`, as('heron', 'self'));
  assert.deepEqual(list.json.records, []);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}' AND collection = 'messages'`).trim(), '0');
  // Another therapist cannot delete them.
  const m4 = await message(s, 'heron', 'self', 'new start');
  assert.equal((await c.req('DELETE', `/v1/subjects/${s}/records/messages/${m4.json.id}`, as('therapist2', 'treatment'))).status, 403);
});

test('usage data (A7, D5, F1): apart from health data, tracking only with cookie consent, kept 6 months', async () => {
  const s = await client('wren');
  let r = await c.req('POST', `/v1/subjects/${s}/usage`, { ...as('support1', 'analytics'),
    json: { ip: '198.51.100.7', device: 'dev-123', page: '/chat' } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.dropped.sort(), ['device', 'page']);
  assert.equal((await c.req('PUT', `/v1/subjects/${s}/cookies`, { ...as('wren', 'self'),
    json: { analytics: true, functional: true } })).status, 200);
  r = await c.req('POST', `/v1/subjects/${s}/usage`, { ...as('support1', 'analytics'),
    json: { ip: '198.51.100.7', device: 'dev-123', page: '/chat' } });
  assert.deepEqual(r.json.dropped, []);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}' AND collection = 'usage'`).trim(), '0');
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM usage_events WHERE subject_id = '${s}'`).trim(), '2');
  // The message stays (while the account is open); usage data goes after 6 months.
  assert.equal((await message(s, 'wren', 'self', 'hi')).status, 201);
  srv.advance(200 * DAY);
  const sweep = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.equal(sweep.status, 0, sweep.stderr);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM usage_events WHERE subject_id = '${s}'`).trim(), '0');
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}' AND collection = 'messages'`).trim(), '1');
  // The aggregate that outlives it (F3) names nobody.
  assert.ok(Number(sqlite(srv.data, "SELECT count(*) FROM deidentified WHERE collection = 'usage'").trim()) >= 1);
  srv.advance(-200 * DAY);
  for (const n of ['support1', 'therapist1', 'therapist2', 'po1', 'admin']) tokens[n] = await c.login(n, n === 'admin' ? ADMIN_PASSWORD : PASSWORD(n));
});

test('rights (B5, E3, E5, E6, E7, F4): restrict, object, withdraw, export, delete; a legal hold keeps the data', async () => {
  for (const n of ['bluejay', 'heron', 'wren']) tokens[n] = await c.login(n, PASSWORD(n));
  const s = await client('finch');
  assert.equal((await message(s, 'finch', 'self', 'hello')).status, 201);
  // Restriction: stored only.
  assert.equal((await c.req('POST', `/v1/subjects/${s}/restriction`, as('finch', 'self'))).status, 200);
  assert.equal((await c.req('GET', `/v1/subjects/${s}/records/messages`, as('therapist1', 'treatment'))).status, 403);
  // ...and nothing new can be sealed for the therapist meanwhile.
  assert.equal((await message(s, 'finch', 'self', 'are you there?')).json.reason, 'e2e-reader-not-allowed');
  assert.equal((await c.req('DELETE', `/v1/subjects/${s}/restriction`, as('finch', 'self'))).status, 200);
  // Marketing email is opt-out: objecting withdraws it, and news stop.
  const mk = () => c.req('GET', `/v1/subjects/${s}/contact-check?channel=email&purpose=marketing`, as('support1', 'marketing'));
  assert.equal((await mk()).json.allowed, true);
  const po = (rid, step, json = {}) => c.req('POST', `/v1/requests/${rid}/${step}`, { ...as('po1', 'rights'), json });
  const obj = await c.req('POST', `/v1/subjects/${s}/requests`, { ...as('finch', 'self'), json: { type: 'object', source: 'web' } });
  assert.equal(obj.status, 201, obj.text);
  assert.equal((await po(obj.json.id, 'verify', { method: 'account' })).status, 200);
  assert.equal((await po(obj.json.id, 'complete')).status, 200);
  assert.equal((await mk()).json.allowed, false);
  // Withdrawal of a consent: the analytics cookies. What they allowed is kept until then, and
  // dropped from the moment of the withdrawal.
  await c.req('PUT', `/v1/subjects/${s}/cookies`, { ...as('finch', 'self'), json: { analytics: true } });
  const visit = async () => {
    const u = await c.req('POST', `/v1/subjects/${s}/usage`, { ...as('support1', 'analytics'),
      json: { ip: '198.51.100.9', device: 'dev-9', page: '/chat' } });
    assert.equal(u.status, 201, u.text);
    return u.json.dropped.sort();
  };
  const allowed = await visit();
  const wd = await c.req('POST', `/v1/subjects/${s}/consents`, { ...as('finch', 'self'),
    json: { kind: 'cookies_analytics', action: 'withdraw', source: 'web' } });
  assert.equal(wd.status, 201, wd.text);
  const after = await visit();
  assert.ok(after.length > allowed.length && allowed.every((f) => after.includes(f)), `${allowed} -> ${after}`);
  // Portability: a structured, machine-readable copy.
  const fhir = await c.req('GET', `/v1/subjects/${s}/export?format=fhir`, as('finch', 'self'));
  assert.equal(fhir.status, 200);
  assert.equal(fhir.json.resourceType, 'Bundle');
  // A legal hold blocks deletion while a dispute lasts.
  const hold = await c.req('POST', `/v1/subjects/${s}/holds`, { ...as('po1', 'legal'), json: { reason: 'dispute over a refund' } });
  assert.equal(hold.status, 201, hold.text);
  const del = await c.req('POST', `/v1/subjects/${s}/requests`, { ...as('finch', 'self'), json: { type: 'delete', source: 'web' } });
  assert.equal((await po(del.json.id, 'verify', { method: 'account' })).status, 200);
  const blocked = await c.req('POST', `/v1/requests/${del.json.id}/complete`, { ...as('po1', 'legal'), json: {} });
  assert.equal(blocked.status, 409);
  assert.equal((await c.req('DELETE', `/v1/subjects/${s}/holds/${hold.json.id}`, as('po1', 'legal'))).status, 200);
  const done = await c.req('POST', `/v1/requests/${del.json.id}/complete`, { ...as('po1', 'legal'), json: {} });
  assert.equal(done.status, 200, done.text);
  // Nothing of O7's is kept past a deletion: the account, messages and profile go, the key with them.
  assert.equal(done.json.result.erased, true);
  assert.equal(sqlite(srv.data, `SELECT status FROM subjects WHERE id = '${s}'`).trim(), 'erased');
});

test('nothing is sold; card details only as the last 4 digits; vendors never receive health data (C4, A4)', async () => {
  const s = await client('robin');
  // A full card number is refused wherever it is sent, as the last 4 digits or in a message to
  // the therapist sent in the clear, and nothing of it is stored. (Inside a sealed message the
  // server cannot look: the notice asks never to write one there.)
  const card = await c.req('POST', `/v1/subjects/${s}/records/payments`, { ...as('support1', 'payment'),
    json: { card_last4: '4111111111111111', amount: '60', date: '2026-05-01' } });
  assert.equal(card.status, 422, card.text);
  assert.equal(card.json.type, '/problems/card-number');
  assert.equal(card.json.field, 'card_last4');
  const told = await c.req('POST', `/v1/subjects/${s}/records/messages`, { ...as('robin', 'self'),
    json: { text: 'can you charge 4111 1111 1111 1111 for May?' } });
  assert.equal(told.status, 422, told.text);
  assert.equal(told.json.field, 'text');
  assert.doesNotMatch(told.text, /4111/);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}' AND collection IN ('payments', 'messages')`).trim(), '0');
  // Four digits are what the policy keeps.
  assert.equal((await c.req('POST', `/v1/subjects/${s}/records/payments`, { ...as('support1', 'payment'),
    json: { card_last4: '1111', amount: '60', date: '2026-05-01' } })).status, 201);
  assert.equal((await message(s, 'robin', 'self', 'private')).status, 201);
  const reg = await c.req('GET', '/v1/vendors', { token: tokens.po1 });
  const byName = Object.fromEntries(reg.json.vendors.map((v) => [v.name, v]));
  for (const n of ['mixpanel', 'google-analytics', 'payment-processor', 'affiliates', 'business-partners', 'acquirer']) {
    assert.equal(byName[n].health_data, false, n);
    assert.equal(byName[n].agreement, 'none', n);
  }
  // An analytics vendor asked for the chat: refused, whatever the purpose.
  const chk = await c.req('GET', `/v1/subjects/${s}/disclosure-check?recipient=mixpanel&collection=messages`, as('po1', 'legal'));
  assert.equal(chk.json.allowed, false);
  // O7 sells nothing, and says so in its file: no recipient or purpose can be marked a sale.
  const policy = (await c.req('GET', '/v1/policy')).json;
  assert.equal(policy.consents.includes('sale_sharing'), false);
  assert.equal(policy.disclosure.never_sell, true);
});

test('a stolen credential (G5): exactly whose data it touched, and no one else', async () => {
  const a = await client('kestrel');
  const b = await client('plover');
  const untouched = await client('curlew');
  for (const s of [a, b, untouched]) assert.equal((await message(s, 'therapist1', 'treatment', 'note')).status, 201);
  // therapist2's session is stolen: the thief reads one client (break-glass is not configured)
  // and tries another.
  assert.equal((await c.req('POST', `/v1/subjects/${a}/assignments`, { ...as('support1', 'operations'),
    json: { provider: users.therapist2 } })).status, 201);
  const stolen = await c.login('therapist2', PASSWORD('therapist2'));
  assert.equal((await c.req('GET', `/v1/subjects/${a}/records/messages`, { token: stolen, purpose: 'treatment' })).status, 200);
  assert.equal((await c.req('GET', `/v1/subjects/${b}/records/messages`, { token: stolen, purpose: 'treatment' })).status, 403);
  const mine = await c.req('GET', `/v1/audit?actor=${users.therapist2}&limit=1000`, { token: tokens.po1 });
  const sid = mine.json.entries.filter((e) => e.subject === a && e.action === 'record.list').at(-1).credential;
  // By session: the one client read; the refused attempt on the other touched nothing.
  let r = await c.req('GET', `/v1/audit/touched?credential=${sid}`, { token: tokens.po1 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.subjects.map((x) => x.subject), [a]);
  assert.deepEqual(r.json.subjects[0].actions, ['record.list']);
  assert.deepEqual(r.json.subjects[0].categories, ['user.health.therapy_message']);
  // By user: every session of therapist2; by support1: everyone they enrolled or assigned.
  r = await c.req('GET', `/v1/audit/touched?actor=${users.therapist2}`, { token: tokens.po1 });
  assert.deepEqual(r.json.subjects.map((x) => x.subject), [a]);
  r = await c.req('GET', `/v1/audit/touched?actor=${users.therapist1}`, { token: tokens.po1 });
  const t1 = r.json.subjects.map((x) => x.subject);
  for (const s of [a, b, untouched]) assert.ok(t1.includes(s));
  // By period: only what happened in it.
  const day = (n) => new Date(Date.now() + n * DAY * 1000).toISOString().slice(0, 10);
  r = await c.req('GET', `/v1/audit/touched?from=${day(-1)}&to=${day(1)}&credential=${sid}`, { token: tokens.po1 });
  assert.equal(r.json.count, 1);
  r = await c.req('GET', `/v1/audit/touched?from=${day(2)}&credential=${sid}`, { token: tokens.po1 });
  assert.equal(r.json.count, 0);
  r = await c.req('GET', '/v1/audit/touched?to=2001-01-01', { token: tokens.po1 });
  assert.deepEqual(r.json.subjects, []);
  // Bad input: a clear error. Only the privacy officer may ask, and every asking is audited.
  assert.equal((await c.req('GET', '/v1/audit/touched', { token: tokens.po1 })).status, 400);
  assert.equal((await c.req('GET', '/v1/audit/touched?from=2026-05-02&to=2026-05-01', { token: tokens.po1 })).status, 400);
  assert.equal((await c.req('GET', '/v1/audit/touched?from=yesterday', { token: tokens.po1 })).json.field, 'from');
  const thief = await c.req('GET', `/v1/audit/touched?credential=${sid}`, { token: stolen });
  assert.equal(thief.status, 403);
  const asked = await c.req('GET', `/v1/audit?actor=${users.po1}&limit=1000`, { token: tokens.po1 });
  assert.ok(asked.json.entries.some((e) => e.action === 'audit.touched' && e.decision === 'permit'));
  const denied = await c.req('GET', `/v1/audit?actor=${users.therapist2}&limit=1000`, { token: tokens.po1 });
  assert.ok(denied.json.entries.some((e) => e.action === 'audit.touched' && e.decision === 'deny'));
});

test('D6: clients are told of a material change by email or on the service; it waits for the notice period, and one who objects keeps the old terms', async () => {
  // O7: "We will let you know via email and/or a prominent notice on our service, prior to the
  // change becoming effective." Version 2 tailors O7's offers to a client's age and gender.
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
    for (const [n, role] of [['support', 'staff'], ['therapist', 'provider'], ['therapist2', 'provider']]) await account(n, role);
    const v1 = (await s2.client.req('GET', '/v1/policy')).json.version;
    // A client known by a nickname, with a therapist and a paid plan.
    const join = async (n, v) => {
      const r = await s2.client.req('POST', '/v1/subjects', { token: tok.support, purpose: 'operations',
        json: { policy_version: v, birth_date: '1992-07-14', source: 'web', profile: { nickname: n, email: `${n}@example.org`, gender: 'nonbinary' } } });
      assert.equal(r.status, 201, r.text);
      const s = r.json.id;
      await account(n, 'patient', { subject_id: s });
      assert.equal((await s2.client.req('POST', `/v1/subjects/${s}/assignments`, { token: tok.support, purpose: 'operations',
        json: { provider: uid.therapist } })).status, 201);
      assert.equal((await s2.client.req('POST', `/v1/subjects/${s}/records/payments`, { token: tok.support, purpose: 'payment',
        json: { card_last4: '4242', amount: '60', date: '2026-05-01' } })).status, 201);
      return s;
    };
    const kite = await join('kite', v1), lark = await join('lark', v1), owl = await join('owl', v1);

    const text = readFileSync(POLICY, 'utf8');
    assert.ok(text.includes('effective: 2020-05-01\n') && text.includes('\npurposes:\n'));
    writeFileSync(`${s2.data}/policy.yaml`, text.replace('effective: 2020-05-01\n',
      'effective: 2026-12-01\nchange:\n  material: true\n  notice: 14d\n' +
      '  summary: Our offers by email may be chosen for your age and gender.\n')
      .replace('\npurposes:\n', '\npurposes:\n  offers:\n    description: Offers by email chosen for your age and gender, unless you opted out.\n' +
        '    roles: [staff]\n    categories: [user.name.nickname, user.contact.email, user.demographic]\n' +
        '    requires: [marketing_email]\n'));
    await s2.restart();
    await login();
    const v2 = (await s2.client.req('GET', '/v1/policy')).json.version;
    assert.notEqual(v2, v1);
    const offers = (s) => s2.client.req('GET', `/v1/subjects/${s}`, { token: tok.support, purpose: 'offers' });
    const status = async (s, who = 'support', purpose = 'operations') => {
      const r = await s2.client.req('GET', `/v1/subjects/${s}/policy-status`, { token: tok[who], purpose });
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    const notify = (s, channel, who = 'support', purpose = 'operations') =>
      s2.client.req('POST', `/v1/subjects/${s}/policy-notices`, { token: tok[who], purpose, json: { channel } });

    // What clients gave under version 1 is not used for the new offers yet.
    for (const s of [kite, lark, owl]) {
      const r = await offers(s);
      assert.deepEqual([r.status, r.json.reason], [403, 'pending-policy-change'], r.text);
    }
    // O7 reaches people by email only: a notice said to have gone by text, phone or post could not
    // have reached anyone, and starts no objection period.
    for (const channel of ['sms', 'phone', 'mail']) {
      const r = await notify(owl, channel);
      assert.equal(r.status, 400, channel);
      assert.equal(r.json.field, 'channel');
    }
    assert.deepEqual((await status(owl, 'owl', 'self')).notified, []);
    // Kite is told by email, Lark by a notice on the service; each sees it in their account, with
    // the end of the objection period the version sets (14 days).
    for (const [s, n, channel] of [[kite, 'kite', 'email'], [lark, 'lark', 'portal']]) {
      const r = await notify(s, channel);
      assert.equal(r.status, 201, r.text);
      assert.deepEqual([r.json.version, r.json.channel], [v2, channel]);
      assert.equal(Date.parse(r.json.objection_deadline) - Date.parse(r.json.time), 14 * DAY * 1000);
      const st = await status(s, n, 'self');
      assert.deepEqual(st.notified.map((x) => [x.version, x.channel, x.objected, x.objection_deadline]),
        [[v2, channel, false, r.json.objection_deadline]]);
      assert.deepEqual([st.governing.version, st.pending.version, st.pending.summary],
        [v1, v2, 'Our offers by email may be chosen for your age and gender.']);
    }
    // Lark objects from their account.
    const o = await s2.client.req('POST', `/v1/subjects/${lark}/consents`, { token: tok.lark, purpose: 'self',
      json: { kind: 'policy', action: 'withdraw', source: 'web' } });
    assert.equal(o.status, 201, o.text);
    assert.equal(o.json.policy_version, v2);
    // Attacks: another client accepts for Owl, or starts Owl's clock with a notice; a therapist
    // who is not Owl's records one; a notice that names its own deadline. All refused; Owl was never notified.
    const forged = await s2.client.req('POST', `/v1/subjects/${owl}/consents`, { token: tok.kite, purpose: 'self',
      json: { kind: 'policy', action: 'grant', source: 'web', policy_version: v2 } });
    assert.equal(forged.status, 403, forged.text);
    assert.equal((await notify(owl, 'email', 'kite', 'self')).status, 403);
    assert.equal((await notify(owl, 'email', 'therapist2', 'treatment')).status, 403);
    const short = await s2.client.req('POST', `/v1/subjects/${owl}/policy-notices`, { token: tok.support, purpose: 'operations',
      json: { channel: 'email', objection_deadline: new Date().toISOString() } });
    assert.equal(short.status, 400, short.text);
    assert.equal((await s2.client.req('GET', `/v1/subjects/${owl}/policy-status`, { token: tok.kite, purpose: 'self' })).status, 403);
    let st = await status(owl);
    assert.deepEqual([st.governing.version, st.notified, st.accepted.map((x) => x.version)], [v1, [], [v1]]);

    // Within the 14 days nothing changes for Kite; after them, version 2 governs Kite.
    s2.advance(13 * DAY);
    await login();
    assert.equal((await offers(kite)).json.reason, 'pending-policy-change');
    assert.equal((await status(kite)).governing.version, v1);
    s2.advance(2 * DAY);
    await login();
    st = await status(kite, 'kite', 'self');
    assert.deepEqual([st.governing.version, st.governing.basis, st.pending], [v2, 'notified', null]);
    const r = await offers(kite);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.profile.fields, { nickname: 'kite', email: 'kite@example.org', gender: 'nonbinary', birth_date: '1992-07-14' });
    // The new use reaches neither the chat nor the payments.
    for (const col of ['messages', 'payments']) {
      const x = await s2.client.req('GET', `/v1/subjects/${kite}/records/${col}`, { token: tok.support, purpose: 'offers' });
      assert.equal(x.status, 403, `${col}: ${x.text}`);
    }
    // Lark objected, and Owl was never told: version 1 governs both, and the offers wait.
    st = await status(lark);
    assert.deepEqual([st.governing.version, st.objected.map((x) => x.version)], [v1, [v2]]);
    assert.equal((await status(owl)).governing.version, v1);
    for (const s of [lark, owl]) assert.equal((await offers(s)).json.reason, 'pending-policy-change');
  } finally {
    await s2.stop();
    s2.remove();
  }
});
