// Service API keys: created by an administrator for the service's own backend, scoped to roles
// and purposes, stored only as hashes, revocable, every use audited under the key's name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startServer, world } from './lib/harness.js';

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const create = (json, token = w.tokens.admin) => w.c.req('POST', '/v1/keys', { token, json });
const audit = async (actor) => (await w.c.req('GET', `/v1/audit?actor=${actor}&limit=1000`, { token: w.tokens.po1 })).json.entries;

test('an administrator creates a key, shown once, stored only as its hash', async () => {
  const r = await create({ name: 'billing', roles: ['staff'], purposes: ['payment'] });
  assert.equal(r.status, 201);
  assert.match(r.json.key, /^pvk_[A-Za-z0-9_-]{43}$/);
  assert.match(r.json.id, /^key_/);
  const admin = (await w.c.req('GET', '/v1/users', { token: w.tokens.admin })).json.users.find((u) => u.username === 'admin');
  assert.deepEqual([r.json.name, r.json.roles, r.json.purposes, r.json.revoked, r.json.created_by],
    ['billing', ['staff'], ['payment'], false, admin.id]);
  w.billing = r.json;
  const list = await w.c.req('GET', '/v1/keys', { token: w.tokens.admin });
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.keys.map((k) => k.name), ['billing']);
  assert.ok(!list.text.includes(r.json.key) && !('key' in list.json.keys[0]));
  for (const f of ['phivault.db', 'phivault.db-wal']) {
    let bytes;
    try { bytes = readFileSync(path.join(srv.data, f)); } catch { continue; }
    assert.equal(bytes.indexOf(r.json.key.slice(4)), -1, `key found in ${f}`);
  }
});

test('a key acts in its role, only for its purposes, and each use is audited under its name', async () => {
  const key = w.billing.key;
  const r = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: key, purpose: 'payment' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.profile.fields, { name: 'Grace Hopper', email: 'grace@example.org', phone: '+1 555 0102' });
  const ops = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: key, purpose: 'operations' });
  assert.equal(ops.status, 403);
  assert.equal(ops.json.reason, 'key-purpose-not-allowed');
  const visit = await w.c.req('GET', `/v1/subjects/${w.subject}/records/visits`, { token: key, purpose: 'treatment' });
  assert.equal(visit.status, 403);
  const entries = await audit(w.billing.id);
  assert.deepEqual(entries.map((e) => [e.action, e.role, e.credential, e.purpose, e.decision, e.reason]), [
    ['subject.read', 'staff', 'key:billing', 'payment', 'permit', 'permit'],
    ['subject.read', 'staff', 'key:billing', 'operations', 'deny', 'key-purpose-not-allowed'],
    ['record.list', 'staff', 'key:billing', 'treatment', 'deny', 'role-not-allowed-purpose']]);
});

test('a key of several roles acts, for each purpose, in the first role allowed it', async () => {
  const r = await create({ name: 'records-sync', roles: ['staff', 'privacy_officer'], purposes: ['payment', 'legal'] });
  assert.equal(r.status, 201);
  const pay = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: r.json.key, purpose: 'payment' });
  const legal = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: r.json.key, purpose: 'legal' });
  assert.equal(pay.status, 200);
  assert.equal(legal.status, 200);
  assert.deepEqual((await audit(r.json.id)).map((e) => [e.purpose, e.role]), [['payment', 'staff'], ['legal', 'privacy_officer']]);
});

test('only people with the users power manage keys, and keys are validated', async () => {
  const staff = await create({ name: 'sneaky', roles: ['staff'], purposes: ['payment'] }, w.tokens.staff1);
  assert.equal(staff.status, 403);
  assert.equal((await w.c.req('GET', '/v1/keys', { token: w.tokens.staff1 })).status, 403);
  const cases = [
    [{ name: 'x', roles: ['staff'], purposes: ['payment'] }, 'name'],
    [{ name: 'Has Spaces', roles: ['staff'], purposes: ['payment'] }, 'name'],
    [{ name: 'prov-key', roles: ['provider'], purposes: ['treatment'] }, 'roles'],
    [{ name: 'self-key', roles: ['patient'], purposes: ['self'] }, 'roles'],
    [{ name: 'ghost-key', roles: ['ghost'], purposes: ['payment'] }, 'roles'],
    [{ name: 'no-purpose', roles: ['staff'], purposes: [] }, 'purposes'],
    [{ name: 'bad-purpose', roles: ['staff'], purposes: ['curiosity'] }, 'purposes'],
    [{ name: 'twice', roles: ['staff', 'staff'], purposes: ['payment'] }, 'roles'],
  ];
  for (const [json, field] of cases) {
    const r = await create(json);
    assert.equal(r.status, 400, JSON.stringify(json));
    assert.equal(r.json.field, field);
  }
  const dup = await create({ name: 'billing', roles: ['staff'], purposes: ['operations'] });
  assert.equal(dup.status, 409);
  // A key with the administrator's role still cannot make keys: people manage credentials.
  const adminKey = await create({ name: 'provisioning', roles: ['admin'], purposes: ['operations'] });
  assert.equal(adminKey.status, 201);
  assert.equal((await create({ name: 'child-key', roles: ['staff'], purposes: ['payment'] }, adminKey.json.key)).status, 403);
  assert.equal((await w.c.req('POST', '/v1/auth/totp', { token: adminKey.json.key })).status, 403);
});

test('a revoked key is refused at once, and its attempt is on record', async () => {
  const key = w.billing.key;
  const del = await w.c.req('DELETE', `/v1/keys/${w.billing.id}`, { token: w.tokens.admin });
  assert.equal(del.status, 204);
  const r = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: key, purpose: 'payment' });
  assert.equal(r.status, 401);
  const refused = (await w.c.req('GET', '/v1/audit?limit=1000', { token: w.tokens.po1 })).json.entries
    .filter((e) => e.action === 'auth.key');
  assert.deepEqual(refused.map((e) => [e.record, e.decision, e.reason]), [[w.billing.id, 'deny', 'key-revoked']]);
  assert.equal((await w.c.req('DELETE', `/v1/keys/${w.billing.id}`, { token: w.tokens.admin })).status, 404);
  const list = await w.c.req('GET', '/v1/keys', { token: w.tokens.admin });
  assert.equal(list.json.keys.find((k) => k.id === w.billing.id).revoked, true);
  // A made-up key is refused like any bad token.
  const forged = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: `pvk_${'A'.repeat(43)}`, purpose: 'payment' });
  assert.equal(forged.status, 401);
});
