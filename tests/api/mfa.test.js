// Staff logins: TOTP second factors (RFC 6238's default, HMAC-SHA-1, which every common
// authenticator app computes; Debian's oathtool computes the codes with its defaults, as such an
// app would), automatic logoff after idling, an absolute session lifetime, logout
// everywhere, and login throttling per user and per client address with a clear 429.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, EXAMPLE_POLICY, PASSWORD, sqlite, startServer } from './lib/harness.js';

let srv, c, secrets = {};
before(async () => {
  // The example policy with a second factor for every staff role and a 15-minute idle timeout.
  const policy = readFileSync(EXAMPLE_POLICY, 'utf8').replace(/^authentication:\n(  .*\n)*/m,
    'authentication:\n  mfa: [provider, staff, privacy_officer, admin]\n  idle_timeout: 15m\n' +
    '  session_lifetime: 8h\n  max_failures_per_user: 5\n  max_failures_per_address: 20\n  failure_window: 15m\n');
  assert.match(policy, /idle_timeout: 15m/);
  const file = path.join(process.env.TMPDIR ?? '/tmp', `pv-mfa-${process.pid}.yaml`);
  writeFileSync(file, policy);
  srv = await startServer({ policy: file });
  c = srv.client;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

// The code an authenticator shows now (by the server's clock), computed by oathtool with its
// defaults (HMAC-SHA-1, 6 digits, 30 s), as an app that ignores the otpauth URI's algorithm does.
const oathtool = (secret, ...options) => execFileSync('oathtool', [...options, '-b', '-N',
  `@${Math.floor(Date.now() / 1000) + srv.offset}`, secret]).toString().trim();
const code = (secret) => oathtool(secret, '--totp');
const login = (username, password, totp) =>
  c.req('POST', '/v1/auth/login', { json: totp === undefined ? { username, password } : { username, password, totp } });

// Enroll a second factor for a user whose session must still get one.
async function enroll(name, token) {
  const begin = await c.req('POST', '/v1/auth/totp', { token });
  assert.equal(begin.status, 201);
  const ok = await c.req('POST', '/v1/auth/totp/confirm', { token, json: { code: code(begin.json.secret) } });
  assert.equal(ok.status, 200, ok.text);
  secrets[name] = begin.json.secret;
  srv.advance(30); // a code is good once: the next login takes the next one
}

test('a role the policy names must enroll a second factor before anything else', async () => {
  const first = await login('admin', ADMIN_PASSWORD);
  assert.equal(first.status, 200);
  assert.equal(first.json.mfa_enrollment_required, true);
  const token = first.json.token;
  const blocked = await c.req('GET', '/v1/users', { token });
  assert.equal(blocked.status, 401);
  assert.equal(blocked.json.type, '/problems/mfa-required');
  const begin = await c.req('POST', '/v1/auth/totp', { token });
  assert.equal(begin.status, 201);
  assert.match(begin.json.secret, /^[A-Z2-7]{52}$/);
  assert.match(begin.json.otpauth_uri, /^otpauth:\/\/totp\/Example%20Medical%20Spa:admin\?secret=[A-Z2-7]+&issuer=Example%20Medical%20Spa&algorithm=SHA1&digits=6&period=30$/);
  assert.equal(new URL(begin.json.otpauth_uri).searchParams.get('secret'), begin.json.secret);
  assert.deepEqual([begin.json.algorithm, begin.json.digits, begin.json.period], ['SHA1', 6, 30]);
  const wrong = await c.req('POST', '/v1/auth/totp/confirm', { token, json: { code: '000000' } });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json.field, 'code');
  // The SHA-256 code of the same secret and moment (what the server once computed) is not it.
  const sha256 = oathtool(begin.json.secret, '--totp=sha256');
  if (sha256 !== code(begin.json.secret)) {
    const old = await c.req('POST', '/v1/auth/totp/confirm', { token, json: { code: sha256 } });
    assert.equal(old.status, 400);
    assert.equal(old.json.field, 'code');
  }
  const ok = await c.req('POST', '/v1/auth/totp/confirm', { token, json: { code: code(begin.json.secret) } });
  assert.deepEqual(ok.json, { mfa_enrolled: true });
  secrets.admin = begin.json.secret;
  // The session that proved the factor is now whole.
  assert.equal((await c.req('GET', '/v1/users', { token })).status, 200);
  // Once confirmed, only an administrator can replace it.
  assert.equal((await c.req('POST', '/v1/auth/totp', { token })).status, 409);
});

test('login then needs the current code, and each code works once', async () => {
  const bare = await login('admin', ADMIN_PASSWORD);
  assert.equal(bare.status, 401);
  assert.equal(bare.json.type, '/problems/mfa-required');
  // The code used to confirm is spent.
  const replay = await login('admin', ADMIN_PASSWORD, code(secrets.admin));
  assert.equal(replay.status, 401);
  assert.equal(replay.json.type, '/problems/invalid-credentials');
  srv.advance(30);
  const now = code(secrets.admin);
  const good = await login('admin', ADMIN_PASSWORD, now);
  assert.equal(good.status, 200);
  assert.equal(good.json.mfa_enrollment_required, false);
  assert.equal((await login('admin', ADMIN_PASSWORD, now)).status, 401);
  assert.equal((await login('admin', 'wrong-password-123', now)).status, 401);
  assert.equal((await login('admin', ADMIN_PASSWORD, 'abcdef')).status, 401);
  srv.advance(30);
  const admin = (await login('admin', ADMIN_PASSWORD, code(secrets.admin))).json.token;
  for (const [name, role] of [['staff1', 'staff'], ['pat1', 'patient'], ['pat2', 'patient']]) {
    const u = await c.req('POST', '/v1/users', { token: admin, json: { username: name, password: PASSWORD(name), role } });
    assert.equal(u.status, 201);
  }
  // A role the policy does not name logs in with its password alone.
  const pat = await login('pat1', PASSWORD('pat1'));
  assert.equal(pat.status, 200);
  assert.equal(pat.json.mfa_enrollment_required, false);
  assert.equal((await c.req('GET', '/v1/policy')).json.authentication.mfa.includes('patient'), false);
  // Anyone who chose to enroll a second factor logs in with it from then on.
  await enroll('pat2', (await login('pat2', PASSWORD('pat2'))).json.token);
  assert.equal((await login('pat2', PASSWORD('pat2'))).json.type, '/problems/mfa-required');
  assert.equal((await login('pat2', PASSWORD('pat2'), code(secrets.pat2))).status, 200);
});

test('an administrator resets a lost factor, which also ends that user\'s sessions', async () => {
  const pending = (await login('staff1', PASSWORD('staff1'))).json.token;
  await enroll('staff1', pending);
  const staff = (await login('staff1', PASSWORD('staff1'), code(secrets.staff1))).json.token;
  assert.equal((await c.req('GET', '/v1/subjects?email=x@example.org', { token: staff, purpose: 'operations' })).status, 200);
  srv.advance(30);
  const admin = (await login('admin', ADMIN_PASSWORD, code(secrets.admin))).json.token;
  const users = (await c.req('GET', '/v1/users', { token: admin })).json.users;
  const id = users.find((u) => u.username === 'staff1').id;
  const byStaff = await c.req('DELETE', `/v1/users/${id}/totp`, { token: staff });
  assert.equal(byStaff.status, 403);
  assert.equal(byStaff.json.reason, 'role-cannot-manage-users');
  const reset = await c.req('DELETE', `/v1/users/${id}/totp`, { token: admin });
  assert.equal(reset.status, 204);
  assert.equal((await c.req('GET', '/v1/users', { token: staff })).status, 401);
  const again = await login('staff1', PASSWORD('staff1'));
  assert.equal(again.json.mfa_enrollment_required, true);
  // A pending session's data request is refused and audited as such.
  const data = await c.req('GET', '/v1/subjects?email=x@example.org', { token: again.json.token, purpose: 'operations' });
  assert.equal(data.status, 401);
  assert.equal(data.json.type, '/problems/mfa-required');
  const entries = sqlite(srv.data, `SELECT action || ':' || decision || ':' || reason FROM audit WHERE actor = '${id}'`);
  assert.match(entries, /^subject\.lookup:deny:mfa-enrollment-required$/m);
  assert.match(entries, /^auth\.totp\.confirm:permit:permit$/m);
  assert.match(entries, /^auth\.login:permit:permit$/m);
  await enroll('staff1', again.json.token);
});

test('a session idle longer than the policy allows is over (automatic logoff)', async () => {
  const token = (await login('pat1', PASSWORD('pat1'))).json.token;
  // Activity keeps it alive...
  for (let i = 0; i < 4; i++) {
    srv.advance(14 * 60);
    // Any authenticated request is activity (this one is refused for the role: 403, not 401).
    assert.equal((await c.req('GET', '/v1/users', { token })).status, 403, `step ${i}`);
  }
  // ...idling does not.
  srv.advance(15 * 60 + 5);
  const r = await c.req('GET', '/v1/users', { token });
  assert.equal(r.status, 401);
  assert.equal(r.json.type, '/problems/unauthenticated');
});

test('a session ends after its lifetime however active it is', async () => {
  const token = (await login('pat1', PASSWORD('pat1'))).json.token;
  let alive = 0;
  for (let t = 0; t < 8 * 3600 + 10 * 60; t += 10 * 60) {
    srv.advance(10 * 60);
    const r = await c.req('DELETE', '/v1/users/usr_00000000000000000000000000/sessions', { token });
    if (r.status === 401) break;
    alive += 10 * 60;
  }
  assert.ok(alive >= 8 * 3600 - 10 * 60 && alive < 8 * 3600, `alive ${alive} s`);
});

test('logout everywhere ends every session of the user', async () => {
  const a = (await login('pat1', PASSWORD('pat1'))).json.token;
  const b = (await login('pat1', PASSWORD('pat1'))).json.token;
  const r = await c.req('DELETE', '/v1/auth/sessions', { token: a });
  assert.equal(r.status, 204);
  for (const t of [a, b]) assert.equal((await c.req('POST', '/v1/auth/logout', { token: t })).status, 401);
  assert.equal((await login('pat1', PASSWORD('pat1'))).status, 200);
});

test('failed logins are throttled per user with a clear 429, whether or not the user exists', async () => {
  for (const name of ['pat1', 'nobody-at-all']) {
    for (let i = 0; i < 5; i++) assert.equal((await login(name, 'wrong-password-123')).status, 401);
    const r = await login(name, name === 'pat1' ? PASSWORD('pat1') : 'wrong-password-123');
    assert.equal(r.status, 429, name);
    assert.equal(r.json.type, '/problems/too-many-attempts');
    const retry = Number(r.headers['retry-after']);
    assert.ok(retry > 0 && retry <= 15 * 60, `retry-after ${retry}`);
  }
  // Others are not affected; after the window the user may try again.
  srv.advance(15 * 60 + 1);
  assert.equal((await login('pat1', PASSWORD('pat1'))).status, 200);
});

test('failed logins are throttled per client address', async () => {
  for (let i = 0; i < 20; i++) assert.equal((await login(`guess-${i}`, 'wrong-password-123')).status, 401);
  const r = await login('pat1', PASSWORD('pat1'));
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers['retry-after']) > 0);
  srv.advance(30);
  const admin = await login('admin', ADMIN_PASSWORD, code(secrets.admin));
  assert.equal(admin.status, 429);
  srv.advance(15 * 60);
  const ok = await login('admin', ADMIN_PASSWORD, code(secrets.admin));
  assert.equal(ok.status, 200);
  const throttled = sqlite(srv.data, "SELECT count(*) FROM audit WHERE action = 'auth.login' AND reason = 'throttled'");
  assert.ok(Number(throttled) >= 4, throttled);
  assert.equal(sqlite(srv.data, "SELECT count(*) FROM audit WHERE actor || record || reason LIKE '%guess-%'").trim(), '0');
  assert.ok(!srv.log().includes('guess-'), 'attempted usernames are not logged');
});
