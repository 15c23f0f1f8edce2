// End-to-end values (store: end_to_end), on O7's policy, whose chat messages are sealed by the
// clients: the client and her therapist register X25519 keys, each message is sealed for both
// with libsodium, and the server checks the envelope and its readers, keeps it sealed and hands
// it back as it came. Its answers, exports and files hold no plaintext; a plain value, a box for
// someone who may not read the record or has no key, is refused and nothing is written.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, SRC, sqlite, startServer } from './lib/harness.js';
import { open, randomBox, registerKey, seal } from './lib/sealed.js';

const POLICY = path.join(SRC, 'policies', 'o7-therapy.yaml');

let srv, c, version, ivy;
const tokens = {};
const users = {};
const keys = {};
before(async () => {
  srv = await startServer({ policy: POLICY });
  c = srv.client;
  tokens.admin = await c.login('admin', ADMIN_PASSWORD);
  for (const [name, role] of [['support1', 'staff'], ['therapist1', 'provider'], ['therapist2', 'provider'],
    ['po1', 'privacy_officer']]) {
    const r = await c.req('POST', '/v1/users', { token: tokens.admin, json: { username: name, password: PASSWORD(name), role } });
    assert.equal(r.status, 201, r.text);
    users[name] = r.json.id;
    tokens[name] = await c.login(name, PASSWORD(name));
  }
  version = (await c.req('GET', '/v1/policy')).json.version;
  ivy = await client('ivy');
  for (const n of ['ivy', 'therapist1', 'therapist2']) keys[n] = await registerKey(c, tokens[n]);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const as = (who, purpose) => ({ token: tokens[who], purpose });
const count = (s) => Number(sqlite(srv.data, `SELECT count(*) FROM records WHERE subject_id = '${s}' AND collection = 'messages'`));
const post = (s, who, purpose, json) => c.req('POST', `/v1/subjects/${s}/records/messages`, { ...as(who, purpose), json });

// A client with an account of their own, assigned to therapist1.
async function client(nickname) {
  const r = await c.req('POST', '/v1/subjects', { ...as('support1', 'operations'),
    json: { policy_version: version, birth_date: '1991-02-03', profile: { nickname } } });
  assert.equal(r.status, 201, r.text);
  const u = await c.req('POST', '/v1/users', { token: tokens.admin,
    json: { username: nickname, password: PASSWORD(nickname), role: 'patient', subject_id: r.json.id } });
  assert.equal(u.status, 201, u.text);
  users[nickname] = u.json.id;
  tokens[nickname] = await c.login(nickname, PASSWORD(nickname));
  assert.equal((await c.req('POST', `/v1/subjects/${r.json.id}/assignments`, { ...as('support1', 'operations'),
    json: { provider: users.therapist1 } })).status, 201);
  return r.json.id;
}

// Every file under dir, as bytes.
function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [[p, readFileSync(p)]];
  });
}

test('a user registers and replaces their own public key; a malformed key is refused', async () => {
  const before = (await c.req('GET', `/v1/audit?actor=${users.po1}&limit=1000`, { token: tokens.po1 })).json.entries.length;
  for (const bad of ['', 'not base64!', Buffer.alloc(31, 1).toString('base64'), Buffer.alloc(33, 1).toString('base64'),
    Buffer.alloc(32).toString('base64'), 42]) {
    const r = await c.req('PUT', '/v1/auth/public-key', { token: tokens.po1, json: { public_key: bad } });
    assert.equal(r.status, 400, String(bad));
    assert.equal(r.json.field, 'public_key');
  }
  assert.equal((await c.req('PUT', '/v1/auth/public-key', { token: tokens.po1,
    json: { public_key: Buffer.alloc(32, 7).toString('base64'), owner: 'x' } })).status, 400);
  assert.equal(Number(sqlite(srv.data, `SELECT count(*) FROM public_keys WHERE user_id = '${users.po1}'`)), 0);
  assert.equal((await c.req('PUT', '/v1/auth/public-key', { json: { public_key: Buffer.alloc(32, 7).toString('base64') } })).status, 401);
  const first = await c.req('PUT', '/v1/auth/public-key', { token: tokens.po1, json: { public_key: Buffer.alloc(32, 7).toString('base64') } });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.user_id, users.po1);
  assert.equal(first.json.role, 'privacy_officer');
  const second = await c.req('PUT', '/v1/auth/public-key', { token: tokens.po1, json: { public_key: Buffer.alloc(32, 9).toString('base64url') } });
  assert.equal(second.json.public_key, Buffer.alloc(32, 9).toString('base64'));
  assert.equal(second.json.created, first.json.created);
  assert.equal(sqlite(srv.data, `SELECT hex(public_key) FROM public_keys WHERE user_id = '${users.po1}'`).trim(), '09'.repeat(32));
  const entries = (await c.req('GET', `/v1/audit?actor=${users.po1}&limit=1000`, { token: tokens.po1 })).json.entries;
  assert.deepEqual(entries.slice(before).filter((e) => e.action === 'public-key.set').map((e) => [e.record, e.decision]),
    [[users.po1, 'permit'], [users.po1, 'permit']]);
  // The privacy officer keeps no key for the tests below.
  sqlite(srv.data, `DELETE FROM public_keys WHERE user_id = '${users.po1}'`);
});

test('the readers\' keys: the client and her therapist see them; another therapist and the staff are refused, and audited', async () => {
  const url = `/v1/subjects/${ivy}/public-keys?collection=messages`;
  const mine = await c.req('GET', url, as('ivy', 'self'));
  assert.equal(mine.status, 200, mine.text);
  const expected = [[users.ivy, 'patient'], [users.therapist1, 'provider']].sort();
  assert.deepEqual(mine.json.keys.map((k) => [k.user_id, k.role]).sort(), expected);
  const theirs = await c.req('GET', url, as('therapist1', 'treatment'));
  assert.deepEqual(theirs.json.keys.map((k) => k.user_id).sort(), expected.map((e) => e[0]));
  assert.equal(theirs.json.keys.find((k) => k.user_id === users.ivy).public_key, Buffer.from(keys.ivy.publicKey).toString('base64'));
  for (const [who, purpose] of [['therapist2', 'treatment'], ['support1', 'operations'], ['support1', 'marketing']]) {
    const r = await c.req('GET', url, as(who, purpose));
    assert.equal(r.status, 403, `${who} ${purpose}`);
  }
  assert.equal((await c.req('GET', `/v1/subjects/${ivy}/public-keys`, as('ivy', 'self'))).json.field, 'collection');
  assert.equal((await c.req('GET', `/v1/subjects/${ivy}/public-keys?collection=profile`, as('ivy', 'self'))).status, 400);
  const audit = (await c.req('GET', `/v1/audit?subject=${ivy}&limit=1000`, { token: tokens.po1 })).json.entries
    .filter((e) => e.action === 'public-key.read');
  // The refusals of a missing or wrong collection are bad requests, before any decision.
  assert.deepEqual(audit.map((e) => [e.actor, e.decision]), [[users.ivy, 'permit'], [users.therapist1, 'permit'],
    [users.therapist2, 'deny'], [users.support1, 'deny'], [users.support1, 'deny']]);
  assert.deepEqual(audit[0].categories, ['user.health.therapy_message']);
});

test('a message sealed by the client for herself and her therapist: he opens it; the server holds and serves only the sealed copies', async () => {
  const canary = `canary-${Date.now()}-I feel better since Tuesday`;
  const readers = { [users.ivy]: keys.ivy.publicKey, [users.therapist1]: keys.therapist1.publicKey };
  const sent = seal(canary, readers);
  const r = await post(ivy, 'ivy', 'self', { text: sent, sent_at: seal('2026-05-01T10:00:00Z', readers) });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.fields.text, sent);
  const got = await c.req('GET', `/v1/subjects/${ivy}/records/messages/${r.json.id}`, as('therapist1', 'treatment'));
  assert.equal(got.status, 200, got.text);
  assert.deepEqual(got.json.fields.text, sent);
  assert.equal(open(got.json.fields.text, users.therapist1, keys.therapist1), canary);
  assert.equal(open(got.json.fields.sent_at, users.therapist1, keys.therapist1), '2026-05-01T10:00:00Z');
  assert.equal(open(got.json.fields.text, users.ivy, keys.ivy), canary);
  assert.throws(() => open(got.json.fields.text, users.ivy, keys.therapist2));
  // The therapist answers, sealed for both.
  const answer = await post(ivy, 'therapist1', 'treatment', { text: seal('glad to hear it', readers) });
  assert.equal(answer.status, 201, answer.text);
  const list = await c.req('GET', `/v1/subjects/${ivy}/records/messages`, as('ivy', 'self'));
  assert.deepEqual(list.json.records.map((m) => open(m.fields.text, users.ivy, keys.ivy)).sort(), [canary, 'glad to hear it'].sort());
  // Another therapist cannot read the record at all.
  assert.equal((await c.req('GET', `/v1/subjects/${ivy}/records/messages/${r.json.id}`, as('therapist2', 'treatment'))).status, 403);
  assert.equal((await c.req('GET', `/v1/subjects/${ivy}/records/messages`, as('therapist2', 'treatment'))).status, 403);
  // Her copy of her data, in each format, carries the envelope as it came and no plaintext.
  const json = await c.req('GET', `/v1/subjects/${ivy}/export`, as('ivy', 'self'));
  assert.equal(json.status, 200, json.text);
  const rec = json.json.collections.messages.find((m) => m.id === r.json.id);
  assert.deepEqual(rec.fields.text, { value: sent, category: 'user.health.therapy_message' });
  assert.equal(open(rec.fields.text.value, users.ivy, keys.ivy), canary);
  const fhir = await c.req('GET', `/v1/subjects/${ivy}/export?format=fhir`, as('ivy', 'self'));
  assert.equal(fhir.status, 200, fhir.text);
  assert.ok(fhir.text.includes(sent[users.ivy]));
  const html = await c.req('GET', `/v1/subjects/${ivy}/export?format=html`, as('ivy', 'self'));
  assert.equal(html.status, 200);
  assert.ok(html.text.includes(sent[users.ivy]));
  for (const a of [r, got, list, json, fhir, html]) assert.ok(!a.text.includes('canary-'), 'an answer holds the plaintext');
  // No file of the server (database, its WAL, keys) and no line of its log holds the plaintext.
  await srv.stop();
  for (const [p, bytes] of files(srv.data)) assert.ok(!bytes.includes('canary-'), p);
  assert.ok(!srv.log().includes('canary-'));
  await srv.start();
  c = srv.client;
  for (const n of Object.keys(tokens)) tokens[n] = await c.login(n, n === 'admin' ? ADMIN_PASSWORD : PASSWORD(n));
});

test('a plain value, a malformed envelope, or a box for a stranger or a user without a key is refused, and nothing is written', async () => {
  const n = count(ivy);
  const mine = { [users.ivy]: keys.ivy.publicKey };
  const cases = [
    ['a plain text', 'canary-plain I cannot sleep', 'e2e-not-sealed'],
    ['a number', 42, 'e2e-not-sealed'],
    ['an array', [randomBox()], 'e2e-not-sealed'],
    ['no reader', {}, 'e2e-readers'],
    ['a name that is no user id', { ivy: randomBox() }, 'e2e-not-sealed'],
    ['a box that is not base64', { [users.ivy]: 'canary-plain not base64' }, 'e2e-not-sealed'],
    ['a box too short to be sealed', { [users.ivy]: Buffer.alloc(48, 1).toString('base64') }, 'e2e-not-sealed'],
    ['a box that is not a string', { [users.ivy]: { text: 'canary-plain' } }, 'e2e-not-sealed'],
    ['a box too large', { [users.ivy]: Buffer.alloc(70000, 1).toString('base64') }, 'e2e-not-sealed'],
    ['seventeen readers', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`usr_${String(i).padStart(26, 'a')}`, randomBox()])), 'e2e-readers'],
    ['a box for another therapist', { ...seal('canary-plain', mine), ...seal('canary-plain', { [users.therapist2]: keys.therapist2.publicKey }) }, 'e2e-reader-not-allowed'],
    ['a box for the support staff', { ...seal('x', mine), [users.support1]: randomBox() }, 'e2e-reader-not-allowed'],
    ['a box for a user who does not exist', { ...seal('x', mine), usr_aaaaaaaaaaaaaaaaaaaaaaaaaa: randomBox() }, 'e2e-reader-not-allowed'],
    // The privacy officer may read the chat (rights requests) but registered no key.
    ['a box for a reader without a key', { ...seal('x', mine), [users.po1]: randomBox() }, 'e2e-reader-without-key'],
  ];
  for (const [what, text, reason] of cases) {
    const r = await post(ivy, 'ivy', 'self', { text });
    assert.equal(r.status, 422, `${what}: ${r.text}`);
    assert.equal(r.json.type, '/problems/sealed-value-required', what);
    assert.equal(r.json.field, 'text', what);
    assert.equal(r.json.reason, reason, what);
    assert.ok(!r.text.includes('canary-plain'), what);
  }
  // sent_at is sealed too.
  const at = await post(ivy, 'ivy', 'self', { text: seal('x', mine), sent_at: '2026-05-01T10:00:00Z' });
  assert.deepEqual([at.status, at.json.field], [422, 'sent_at']);
  assert.equal(count(ivy), n);
  // Refusals about readers are audited: someone addressed her record to them.
  const audit = (await c.req('GET', `/v1/audit?subject=${ivy}&limit=1000`, { token: tokens.po1 })).json.entries;
  assert.deepEqual(audit.filter((e) => e.reason.startsWith('e2e-reader')).map((e) => [e.action, e.decision, e.reason]), [
    ['record.create', 'deny', 'e2e-reader-not-allowed'], ['record.create', 'deny', 'e2e-reader-not-allowed'],
    ['record.create', 'deny', 'e2e-reader-not-allowed'], ['record.create', 'deny', 'e2e-reader-without-key']]);
  // Another therapist learns nothing of who may read: he is refused the write itself.
  const intruder = await post(ivy, 'therapist2', 'treatment', { text: seal('x', { [users.therapist2]: keys.therapist2.publicKey }) });
  assert.equal(intruder.status, 403, intruder.text);
  assert.equal(count(ivy), n);
  // The log holds no plaintext of a refused value either.
  assert.ok(!srv.log().includes('canary-plain'));
});

test('an amendment of a message is sealed too; a plaintext amendment or request is refused', async () => {
  const readers = { [users.ivy]: keys.ivy.publicKey, [users.therapist1]: keys.therapist1.publicKey };
  const m = await post(ivy, 'ivy', 'self', { text: seal('first draft', readers) });
  assert.equal(m.status, 201, m.text);
  const url = `/v1/subjects/${ivy}/records/messages/${m.json.id}`;
  const plain = await c.req('PATCH', url, { ...as('ivy', 'self'), json: { text: 'canary-plain second draft' } });
  assert.deepEqual([plain.status, plain.json.type, plain.json.field], [422, '/problems/sealed-value-required', 'text']);
  const stranger = await c.req('PATCH', url, { ...as('ivy', 'self'),
    json: { text: seal('second', { [users.therapist2]: keys.therapist2.publicKey }) } });
  assert.deepEqual([stranger.status, stranger.json.reason], [422, 'e2e-reader-not-allowed']);
  let got = await c.req('GET', url, as('therapist1', 'treatment'));
  assert.equal(open(got.json.fields.text, users.therapist1, keys.therapist1), 'first draft');
  const ok = await c.req('PATCH', url, { ...as('ivy', 'self'), json: { text: seal('second draft', readers) } });
  assert.equal(ok.status, 200, ok.text);
  got = await c.req('GET', url, as('therapist1', 'treatment'));
  assert.equal(open(got.json.fields.text, users.therapist1, keys.therapist1), 'second draft');
  // A request to amend it (a right of the person) carries a sealed value as well.
  const req = await c.req('POST', `/v1/subjects/${ivy}/requests`, { ...as('ivy', 'self'),
    json: { type: 'amend', source: 'web', details: { collection: 'messages', record: m.json.id, fields: { text: 'canary-plain' } } } });
  assert.deepEqual([req.status, req.json.type, req.json.field], [422, '/problems/sealed-value-required', 'text']);
  const sealedReq = await c.req('POST', `/v1/subjects/${ivy}/requests`, { ...as('ivy', 'self'),
    json: { type: 'amend', source: 'web', details: { collection: 'messages', record: m.json.id, fields: { text: seal('third draft', readers) } } } });
  assert.equal(sealedReq.status, 201, sealedReq.text);
});

test('a therapist\'s new key: new messages open with it, older ones only with the older secret key', async () => {
  const old = keys.therapist1;
  const m1 = await post(ivy, 'ivy', 'self', { text: seal('before the change', { [users.ivy]: keys.ivy.publicKey, [users.therapist1]: old.publicKey }) });
  assert.equal(m1.status, 201);
  const fresh = await registerKey(c, tokens.therapist1);
  const listed = await c.req('GET', `/v1/subjects/${ivy}/public-keys?collection=messages`, as('ivy', 'self'));
  assert.equal(listed.json.keys.find((k) => k.user_id === users.therapist1).public_key, Buffer.from(fresh.publicKey).toString('base64'));
  const m2 = await post(ivy, 'ivy', 'self', { text: seal('after the change', { [users.ivy]: keys.ivy.publicKey, [users.therapist1]: fresh.publicKey }) });
  assert.equal(m2.status, 201);
  const read = async (id) => (await c.req('GET', `/v1/subjects/${ivy}/records/messages/${id}`, as('therapist1', 'treatment'))).json.fields.text;
  assert.equal(open(await read(m2.json.id), users.therapist1, fresh), 'after the change');
  const older = await read(m1.json.id);
  assert.throws(() => open(older, users.therapist1, fresh));
  assert.equal(open(older, users.therapist1, old), 'before the change');
  keys.therapist1 = fresh;
});

test('restriction: while processing is restricted, a message is sealed for the client alone; her therapist reads nothing', async () => {
  assert.equal((await c.req('POST', `/v1/subjects/${ivy}/restriction`, as('ivy', 'self'))).status, 200);
  const both = { [users.ivy]: keys.ivy.publicKey, [users.therapist1]: keys.therapist1.publicKey };
  const r = await post(ivy, 'ivy', 'self', { text: seal('during', both) });
  assert.deepEqual([r.status, r.json.reason], [422, 'e2e-reader-not-allowed']);
  assert.equal((await post(ivy, 'ivy', 'self', { text: seal('during', { [users.ivy]: keys.ivy.publicKey }) })).status, 201);
  assert.equal((await c.req('GET', `/v1/subjects/${ivy}/records/messages`, as('therapist1', 'treatment'))).status, 403);
  const keysNow = await c.req('GET', `/v1/subjects/${ivy}/public-keys?collection=messages`, as('ivy', 'self'));
  assert.deepEqual(keysNow.json.keys.map((k) => k.user_id), [users.ivy]);
  assert.equal((await c.req('DELETE', `/v1/subjects/${ivy}/restriction`, as('ivy', 'self'))).status, 200);
  assert.equal((await post(ivy, 'ivy', 'self', { text: seal('after', both) })).status, 201);
});
