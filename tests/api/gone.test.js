// Gone means gone. Values are sealed, so the canaries that matter are the sealed bytes
// themselves (with the key, they are the value): once a value is deleted, disposed of by the
// sweep, or its person's key destroyed, those exact bytes must be in neither the database
// file nor its write-ahead log, while the server keeps running.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, cli, sqlite, startServer, world } from './lib/harness.js';

const DAY = 86400;
const YEAR = 365 * DAY;

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

// The packed body of a row (vault/vault.c): name length, name, sealed length (32-bit), sealed.
function fields(hex) {
  const b = Buffer.from(hex.trim(), 'hex');
  const out = {};
  for (let p = 0; p < b.length;) {
    const n = b[p];
    const name = b.subarray(p + 1, p + 1 + n).toString();
    const len = b.readUInt32BE(p + 1 + n);
    out[name] = b.subarray(p + 5 + n, p + 5 + n + len);
    p += 5 + n + len;
  }
  return out;
}

function sealedOf(table, id) {
  return fields(sqlite(srv.data, `SELECT hex(body) FROM ${table} WHERE id = '${id}'`));
}

function wrappedKeyOf(sub) {
  return Buffer.from(execFileSync('sqlite3', [path.join(srv.data, 'keys.db'),
    `SELECT hex(wrapped) FROM subject_keys WHERE subject_id = '${sub}'`]).toString().trim(), 'hex');
}

// Which of the files (database and log) hold needle.
function holders(needle, base = 'phivault.db') {
  return [base, `${base}-wal`].filter((f) => {
    const p = path.join(srv.data, f);
    return existsSync(p) && readFileSync(p).includes(needle);
  });
}

async function signIn() {
  for (const n of ['staff1', 'prov1', 'po1']) w.tokens[n] = await w.c.login(n, PASSWORD(n));
  w.tokens.admin = await w.c.login('admin', ADMIN_PASSWORD);
}

const CANARY = 'CANARY-GONE-7d41c9';

test('a deleted record is gone from the database file and its write-ahead log at once', async () => {
  // The person's own note: a record the law does not keep, so they may delete it.
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/messages`, { token: w.tokens.grace,
    purpose: 'self', json: { text: `${CANARY}-text`, sent_at: `${CANARY}-sent` } });
  assert.equal(r.status, 201);
  const sealed = sealedOf('records', r.json.id);
  assert.deepEqual(Object.keys(sealed).sort(), ['sent_at', 'text']);
  // The control: right now each sealed value is in the files (in the log, until a checkpoint).
  for (const s of Object.values(sealed)) assert.ok(holders(s).length > 0);

  const del = await w.c.req('DELETE', `/v1/subjects/${w.subject}/records/messages/${r.json.id}`, { token: w.tokens.grace, purpose: 'self' });
  assert.equal(del.status, 204);
  for (const [name, s] of Object.entries(sealed)) assert.deepEqual(holders(s), [], name);
  assert.ok(existsSync(path.join(srv.data, 'phivault.db-wal')), 'the server still runs in WAL mode');
});

test('a value removed by an update is gone; the values kept are still there', async () => {
  // The person's own note (a value the law does not keep: a visit's would be refused, keep.test.js).
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/messages`, { token: w.tokens.grace,
    purpose: 'self', json: { text: `${CANARY}-removed`, sent_at: '2026-11-02T09:00:00Z' } });
  assert.equal(r.status, 201, r.text);
  const before = sealedOf('records', r.json.id);
  const u = await w.c.req('PATCH', `/v1/subjects/${w.subject}/records/messages/${r.json.id}`, { token: w.tokens.grace,
    purpose: 'self', json: { text: null } });
  assert.equal(u.status, 200);
  assert.equal(u.json.fields.text, undefined);
  assert.deepEqual(holders(before.text), []);
  assert.ok(holders(before.sent_at).length > 0, 'the record itself is still there');
});

test('what the sweep disposes of is gone from the files too, and so is an erased person\'s key', async () => {
  const sub = await w.enroll({ name: `${CANARY}-name`, email: 'gone@example.org' });
  const pay = await w.c.req('POST', `/v1/subjects/${sub}/records/payments`, { token: w.tokens.staff1,
    purpose: 'payment', json: { card_last4: '9911', amount: 77 } });
  assert.equal(pay.status, 201);
  const profile = (await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' })).json.profile.id;
  const sealedPay = sealedOf('records', pay.json.id);
  const sealedProfile = sealedOf('records', profile);
  const wrapped = wrappedKeyOf(sub);
  assert.equal(wrapped.length, 72);
  assert.ok(holders(wrapped, 'keys.db').length > 0);
  for (const s of [...Object.values(sealedPay), ...Object.values(sealedProfile)]) assert.ok(holders(s).length > 0);

  // Closed: the profile goes at the next sweep; the payment after its 7 years; then the key.
  assert.equal((await w.c.req('POST', `/v1/subjects/${sub}/close`, { token: w.tokens.staff1, purpose: 'operations' })).status, 200);
  assert.equal(cli(['sweep', '--data', srv.data], { env: srv.env() }).status, 0);
  for (const [name, s] of Object.entries(sealedProfile)) assert.deepEqual(holders(s), [], name);
  assert.ok(holders(sealedPay.amount).length > 0);
  assert.ok(holders(wrapped, 'keys.db').length > 0, 'the key stays while a record does');

  srv.advance(7 * YEAR + 2 * DAY);
  assert.equal(cli(['sweep', '--data', srv.data], { env: srv.env() }).status, 0);
  assert.deepEqual(holders(sealedPay.card_last4), []);
  assert.deepEqual(holders(wrapped, 'keys.db'), []);
  await signIn();
  assert.equal((await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' })).status, 404);
  // The amount was anonymized: kept, but sealed anew under the system key, so not these bytes.
  assert.deepEqual(holders(sealedPay.amount), []);
  // And the plain values were never anywhere.
  for (const f of ['phivault.db', 'phivault.db-wal', 'keys.db', 'keys.db-wal'])
    if (existsSync(path.join(srv.data, f))) assert.ok(!readFileSync(path.join(srv.data, f)).includes(CANARY), f);
});
