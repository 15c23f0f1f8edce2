// Accounts: Argon2id passwords, logins that do not reveal who exists, sessions that expire,
// tokens stored only as hashes, and who may manage users.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, sqlite, startServer, world } from './lib/harness.js';

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

test('login returns a token, its expiry and the role', async () => {
  const r = await w.c.req('POST', '/v1/auth/login', { json: { username: 'prov1', password: PASSWORD('prov1') } });
  assert.equal(r.status, 200);
  assert.match(r.json.token, /^pvt_[A-Za-z0-9_-]{43}$/);
  assert.equal(r.json.role, 'provider');
  assert.equal(r.json.user_id, w.users.prov1);
  assert.ok(Date.parse(r.json.expires_at) > Date.now());
});

test('usernames are matched without regard to case', async () => {
  const r = await w.c.req('POST', '/v1/auth/login', { json: { username: 'PROV1', password: PASSWORD('prov1') } });
  assert.equal(r.status, 200);
});

test('a failed login does not reveal whether the user exists', async () => {
  const wrong = await w.c.req('POST', '/v1/auth/login', { json: { username: 'prov1', password: 'not-the-password' } });
  const nobody = await w.c.req('POST', '/v1/auth/login', { json: { username: 'nobody-here', password: 'not-the-password' } });
  assert.equal(wrong.status, 401);
  assert.equal(nobody.status, 401);
  assert.deepEqual(wrong.json, nobody.json);
  assert.equal(wrong.headers['content-type'], 'application/problem+json');
  assert.equal(wrong.json.type, '/problems/invalid-credentials');
});

test('passwords are stored as Argon2id hashes and tokens only as hashes', async () => {
  const token = await w.c.login('po1', PASSWORD('po1'));
  await srv.stop();
  for (const f of ['phivault.db', 'phivault.db-wal', 'keys.db']) {
    let bytes;
    try { bytes = readFileSync(path.join(srv.data, f)); } catch { continue; }
    assert.equal(bytes.indexOf(token), -1, `token found in ${f}`);
    assert.equal(bytes.indexOf(token.slice(4)), -1, `token body found in ${f}`);
    assert.equal(bytes.indexOf(PASSWORD('po1')), -1, `password found in ${f}`);
    for (const name of ['staff1', 'prov2', 'grace'])
      assert.equal(bytes.indexOf(name), -1, `username ${name} found in clear in ${f}`);
  }
  const hashes = sqlite(srv.data, 'SELECT pw_hash FROM users').trim().split('\n');
  assert.ok(hashes.length >= 6);
  for (const h of hashes) assert.match(h, /^\$argon2id\$v=19\$m=65536,t=2,p=1\$/);
  await srv.start();
  w.c = srv.client;
  // A session survives a restart.
  const r = await w.c.req('GET', '/v1/audit?limit=1', { token });
  assert.equal(r.status, 200);
});

test('logout ends the session', async () => {
  const token = await srv.client.login('staff1', PASSWORD('staff1'));
  const ok = await srv.client.req('GET', `/v1/subjects/${w.subject}`, { token, purpose: 'operations' });
  assert.equal(ok.status, 200);
  const out = await srv.client.req('POST', '/v1/auth/logout', { token });
  assert.equal(out.status, 204);
  const after = await srv.client.req('GET', `/v1/subjects/${w.subject}`, { token, purpose: 'operations' });
  assert.equal(after.status, 401);
  assert.equal(after.json.type, '/problems/unauthenticated');
});

test('bad, forged and missing tokens are 401', async () => {
  const c = srv.client;
  for (const h of [undefined, 'Bearer', 'Bearer pvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Basic YWRtaW46YWRtaW4=',
    `Bearer ${'x'.repeat(5000)}`]) {
    const r = await c.req('GET', `/v1/subjects/${w.subject}`, { purpose: 'operations',
      headers: h ? { authorization: h } : {} });
    assert.equal(r.status, 401, `authorization ${h?.slice(0, 20)}`);
    assert.equal(r.headers['www-authenticate'], 'Bearer');
  }
});

test('only a role with the users power creates users', async () => {
  const c = srv.client;
  const staff = await c.login('staff1', PASSWORD('staff1'));
  const r = await c.req('POST', '/v1/users', { token: staff, json: { username: 'mallory', password: 'long-enough-password', role: 'admin' } });
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'role-cannot-manage-users');
  const list = await c.req('GET', '/v1/users', { token: staff });
  assert.equal(list.status, 403);
});

test('user creation validates its input and refuses duplicates', async () => {
  const c = srv.client;
  const admin = await c.login('admin', ADMIN_PASSWORD);
  const cases = [
    [{ username: 'ok-name', password: 'short', role: 'staff' }, 400, 'password'],
    [{ username: 'x', password: 'long-enough-password', role: 'staff' }, 400, 'username'],
    [{ username: 'ok-name', password: 'long-enough-password', role: 'overlord' }, 400, 'role'],
    [{ username: 'ok-name', password: 'long-enough-password', role: 'provider', subject_id: w.subject }, 400, 'subject_id'],
    [{ username: 'ok-name', password: 'long-enough-password', role: 'patient', subject_id: 'sub_nope' }, 400, 'subject_id'],
    [{ username: 'ok-name', role: 'staff' }, 400, undefined],
  ];
  for (const [json, status, field] of cases) {
    const r = await c.req('POST', '/v1/users', { token: admin, json });
    assert.equal(r.status, status, JSON.stringify(json));
    assert.equal(r.json.field, field);
  }
  const dup = await c.req('POST', '/v1/users', { token: admin, json: { username: 'STAFF1', password: 'long-enough-password', role: 'staff' } });
  assert.equal(dup.status, 409);
  const list = await c.req('GET', '/v1/users', { token: admin });
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.users.map((u) => u.username).sort(),
    ['admin', 'grace', 'po1', 'prov1', 'prov2', 'staff1']);
});

test('sessions expire after their lifetime', async () => {
  const short = await startServer({ args: ['--session-ttl', '3600'] });
  try {
    const token = await short.client.login('admin', ADMIN_PASSWORD);
    assert.equal((await short.client.req('GET', '/v1/users', { token })).status, 200);
    short.advance(3599);
    assert.equal((await short.client.req('GET', '/v1/users', { token })).status, 200);
    short.advance(2);
    const r = await short.client.req('GET', '/v1/users', { token });
    assert.equal(r.status, 401);
  } finally {
    await short.stop();
    short.remove();
  }
});

test('logins and failed logins are audited without the username', async () => {
  const c = srv.client;
  const po = await c.login('po1', PASSWORD('po1'));
  const r = await c.req('GET', '/v1/audit?limit=1000', { token: po });
  const logins = r.json.entries.filter((e) => e.action === 'auth.login');
  assert.ok(logins.some((e) => e.decision === 'deny' && e.reason === 'invalid-credentials' && e.actor === w.users.prov1));
  assert.ok(logins.some((e) => e.decision === 'deny' && e.actor === 'anonymous'));
  assert.ok(logins.some((e) => e.decision === 'permit' && e.actor === w.users.po1));
  assert.ok(!JSON.stringify(r.json).includes('nobody-here'));
});

test('the default session lifetime is eight hours', async () => {
  const c = srv.client;
  const token = await c.login('admin', ADMIN_PASSWORD);
  srv.advance(8 * 3600 - 60);
  assert.equal((await c.req('GET', '/v1/users', { token })).status, 200);
  srv.advance(120);
  assert.equal((await c.req('GET', '/v1/users', { token })).status, 401);
});
