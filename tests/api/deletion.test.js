// The right to delete: a verified deletion request keeps what the law keeps (medical records
// 7 years from the last visit), names it with the time it is kept until, disposes of the rest
// at once as the policy says (purged or anonymized), and destroys the data key when nothing is
// left. A person deletes one or all of their messages at any time (a therapy policy).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, SRC, auditOf, cli, sqlite, startServer, world } from './lib/harness.js';

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

async function signIn() {
  for (const n of ['staff1', 'prov1', 'po1']) w.tokens[n] = await w.c.login(n, PASSWORD(n));
  w.tokens.admin = await w.c.login('admin', ADMIN_PASSWORD);
}

const keyRows = (sub) => execFileSync('sqlite3', [path.join(srv.data, 'keys.db'),
  `SELECT count(*) FROM subject_keys WHERE subject_id = '${sub}'`]).toString().trim();
const count = (table, sub) => Number(sqlite(srv.data, `SELECT count(*) FROM ${table} WHERE subject_id = '${sub}'`));
const po = (method, p, json, purpose = 'rights') => w.c.req(method, p, { token: w.tokens.po1, purpose, json });

// A person with a profile, a visit, a payment, usage data and a confidential address.
async function person(name) {
  const s = await w.enroll({ name, email: `${name.split(' ')[0].toLowerCase()}@example.org`, phone: '+1 555 0177' });
  assert.equal((await w.c.req('POST', `/v1/subjects/${s}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } })).status, 201);
  const visit = await w.c.req('POST', `/v1/subjects/${s}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment',
    json: { date: '2026-04-01', reason: 'peel', notes: `${name} notes` } });
  assert.equal(visit.status, 201);
  const pay = await w.c.req('POST', `/v1/subjects/${s}/records/payments`, { token: w.tokens.staff1, purpose: 'payment',
    json: { card_last4: '1881', amount: 90 } });
  assert.equal(pay.status, 201);
  assert.equal((await w.c.req('POST', `/v1/subjects/${s}/usage`, { token: w.tokens.staff1, purpose: 'site',
    json: { ip: '198.51.100.4' } })).status, 201);
  assert.equal((await w.c.req('PUT', `/v1/subjects/${s}/contact-preferences`, { token: w.tokens.staff1, purpose: 'operations',
    json: { channels: ['mail'], addresses: { mail: '1 Hidden Lane' } } })).status, 200);
  return { s, visit: visit.json, pay: pay.json.id };
}

async function deletion(s) {
  const r = await po('POST', `/v1/subjects/${s}/requests`, { type: 'delete', source: 'mail', requester: { kind: 'subject' } });
  assert.equal(r.status, 201, r.text);
  assert.equal((await po('POST', `/v1/requests/${r.json.id}/verify`, { method: 'signed-form' })).status, 200);
  return r.json.id;
}

test('a deletion keeps what the law keeps, says until when, and disposes of the rest at once', async () => {
  const { s, visit, pay } = await person('Keeping Person');
  const rid = await deletion(s);
  // The purpose must cover the whole profile (deleting closes the account).
  let r = await po('POST', `/v1/requests/${rid}/complete`, {}, 'legal');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'completed');
  const result = r.json.result;
  assert.equal(result.erased, false);
  const kept = Object.fromEntries(result.kept.map((k) => [k.category, k]));
  assert.deepEqual(Object.keys(kept).sort(), ['user.financial.credit_card', 'user.health.medical_record', 'user.payment']);
  // Medical records: 7 years from the last visit (the visit itself).
  assert.equal(kept['user.health.medical_record'].retention, '7y');
  assert.equal(kept['user.health.medical_record'].from, 'last_visit');
  const until = new Date(visit.created);
  until.setUTCFullYear(until.getUTCFullYear() + 7);
  assert.equal(kept['user.health.medical_record'].until, until.toISOString().replace('.000', ''));
  assert.equal(kept['user.payment'].disposal, 'anonymize');
  // The profile (kept while the account is open) and usage data (deletion: dispose) are gone.
  assert.deepEqual(result.disposed, { records_purged: 1, records_anonymized: 0, fields_purged: 0, usage_purged: 1 });
  assert.equal(count('usage_events', s), 0);
  assert.equal(count('records', s), 2);
  assert.equal(count('contact_prefs', s), 0);
  assert.equal(Number(sqlite(srv.data, `SELECT count(*) FROM blind_index WHERE subject_id = '${s}'`)), 0);
  assert.equal(keyRows(s), '1');
  const status = sqlite(srv.data, `SELECT status FROM subjects WHERE id = '${s}'`).trim();
  assert.equal(status, 'closed');
  // What stays is still readable for what the law keeps it for.
  const v = await w.c.req('GET', `/v1/subjects/${s}/records/visits/${visit.id}`, { token: w.tokens.po1, purpose: 'legal' });
  assert.equal(v.json.fields.notes, 'Keeping Person notes');
  // Each disposal is audited with its reason, never a value.
  const entries = await auditOf(w, s);
  const purges = entries.filter((e) => e.reason === 'deletion-request');
  assert.deepEqual(purges.map((e) => [e.action, e.collection]).sort(), [['retention.purge', 'profile'], ['retention.purge_usage', 'usage']]);
  assert.ok(entries.some((e) => e.action === 'subject.close' && e.actor === w.users.po1));
  assert.ok(!JSON.stringify(entries).includes('Keeping'));
  // Seven years after the visit the sweep takes the rest (the payment is anonymized), then the key.
  srv.advance(7 * YEAR + 10 * DAY);
  const sweep = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.equal(sweep.status, 0, sweep.stderr);
  assert.match(sweep.stdout, /subjects erased \(data key destroyed\): [1-9]/);
  assert.equal(keyRows(s), '0');
  assert.equal(sqlite(srv.data, `SELECT status FROM subjects WHERE id = '${s}'`).trim(), 'erased');
  assert.equal(Number(sqlite(srv.data, `SELECT count(*) FROM deidentified WHERE collection = 'payments'`)) >= 1, true);
  await signIn();
  // The request stays as the record that the right was honored; its sealed parts cannot be read.
  r = await po('GET', `/v1/requests/${rid}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'completed');
  assert.ok(pay);
});

test('with nothing the law keeps, the data key is destroyed at once', async () => {
  const s = await w.enroll({ name: 'Leaving Person', email: 'leaving@example.org' });
  assert.equal((await w.c.req('POST', `/v1/subjects/${s}/usage`, { token: w.tokens.staff1, purpose: 'site',
    json: { ip: '203.0.113.9' } })).status, 201);
  const pat = await w.c.req('POST', '/v1/users', { token: w.tokens.admin,
    json: { username: 'leaver', password: PASSWORD('leaver'), role: 'patient', subject_id: s } });
  assert.equal(pat.status, 201);
  const own = await w.c.login('leaver', PASSWORD('leaver'));
  // The person asks from their own account.
  const r = await w.c.req('POST', `/v1/subjects/${s}/requests`, { token: own, purpose: 'self', json: { type: 'delete', source: 'app' } });
  assert.equal(r.status, 201);
  assert.equal((await po('POST', `/v1/requests/${r.json.id}/verify`, { method: 'account' })).status, 200);
  const done = await po('POST', `/v1/requests/${r.json.id}/complete`, {});
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.result.erased, true);
  assert.deepEqual(done.json.result.kept, []);
  assert.equal(keyRows(s), '0');
  assert.equal(sqlite(srv.data, `SELECT status FROM subjects WHERE id = '${s}'`).trim(), 'erased');
  assert.equal(count('records', s) + count('usage_events', s), 0);
  // The sealed parts of the request went with the key; the request itself stays.
  assert.equal(done.json.details, null);
  const entries = await auditOf(w, s);
  // (the last entry is the audit search itself)
  const tail = entries.slice(-3, -1).map((e) => [e.action, e.reason]);
  assert.deepEqual(tail, [['request.complete', 'permit'], ['retention.erase', 'deletion-request']]);
  // The rights power still finds the request among that person's, as the record of the right honored.
  const theirs = await po('GET', `/v1/requests?subject=${s}`);
  assert.equal(theirs.status, 200, theirs.text);
  assert.deepEqual(theirs.json.requests.map((x) => [x.id, x.state, x.result.erased]), [[r.json.id, 'completed', true]]);
  assert.equal((await po('GET', `/v1/subjects/${s}/requests`)).status, 404);
  // The person is gone: found by nothing, their login ends.
  assert.equal((await w.c.req('GET', `/v1/subjects/${s}`, { token: w.tokens.po1, purpose: 'legal' })).status, 404);
  assert.equal((await w.c.req('GET', `/v1/subjects/${s}`, { token: own, purpose: 'self' })).status, 401);
});

test('a legal hold refuses a deletion; released, the deletion goes ahead', async () => {
  const { s } = await person('Held Person');
  const rid = await deletion(s);
  const hold = await po('POST', `/v1/subjects/${s}/holds`, { reason: 'Case 2026-17' }, 'operations');
  assert.equal(hold.status, 201);
  let r = await po('POST', `/v1/requests/${rid}/complete`, {});
  assert.equal(r.status, 409);
  assert.equal(r.json.reason, 'legal-hold');
  assert.equal(count('usage_events', s), 1);
  assert.equal((await po('GET', `/v1/requests/${rid}`)).json.state, 'verified');
  assert.equal((await po('DELETE', `/v1/subjects/${s}/holds/${hold.json.id}`, undefined, 'operations')).status, 200);
  r = await po('POST', `/v1/requests/${rid}/complete`, {});
  assert.equal(r.status, 200, r.text);
  assert.equal(count('usage_events', s), 0);
});

test('a person deletes one or all of their messages at any time', async () => {
  const t = await startServer({ policy: `${SRC}/tests/unit/policies/good/therapy.yaml` });
  try {
    const c = t.client;
    const admin = await c.login('admin', ADMIN_PASSWORD);
    const mk = async (username, role) => {
      const u = await c.req('POST', '/v1/users', { token: admin, json: { username, password: PASSWORD(username), role } });
      assert.equal(u.status, 201, u.text);
      return { id: u.json.id, token: await c.login(username, PASSWORD(username)) };
    };
    const staff = await mk('desk', 'staff');
    const officer = await mk('officer', 'privacy_officer');
    const version = (await c.req('GET', '/v1/policy')).json.version;
    const e = await c.req('POST', '/v1/subjects', { token: staff.token, purpose: 'operations',
      json: { policy_version: version, birth_date: '1990-01-01', profile: { nickname: 'blue-heron' } } });
    assert.equal(e.status, 201, e.text);
    const s = e.json.id;
    const u = await c.req('POST', '/v1/users', { token: admin, json: { username: 'heron', password: PASSWORD('heron'), role: 'patient', subject_id: s } });
    assert.equal(u.status, 201);
    const me = await c.login('heron', PASSWORD('heron'));
    const say = async (text) => {
      const r = await c.req('POST', `/v1/subjects/${s}/records/messages`, { token: me, purpose: 'self', json: { text, sent_at: '2026-05-01T10:00:00Z' } });
      assert.equal(r.status, 201, r.text);
      return r.json.id;
    };
    const ids = [await say('I had a hard week'), await say('thank you'), await say('see you Tuesday')];
    const list = () => c.req('GET', `/v1/subjects/${s}/records/messages`, { token: me, purpose: 'self' });
    // One message.
    assert.equal((await c.req('DELETE', `/v1/subjects/${s}/records/messages/${ids[0]}`, { token: me, purpose: 'self' })).status, 204);
    assert.deepEqual((await list()).json.records.map((r) => r.id), ids.slice(1));
    // Even while their processing is restricted, the person deletes all the rest.
    assert.equal((await c.req('POST', `/v1/subjects/${s}/restriction`, { token: me, purpose: 'self' })).status, 200);
    const all = await c.req('DELETE', `/v1/subjects/${s}/records/messages`, { token: me, purpose: 'self' });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.json, { subject_id: s, collection: 'messages', deleted: 2 });
    assert.deepEqual((await list()).json.records, []);
    assert.equal(Number(sqlite(t.data, `SELECT count(*) FROM records WHERE subject_id = '${s}' AND collection = 'messages'`)), 0);
    // The texts are gone from the database file and its write-ahead log.
    for (const f of ['phivault.db', 'phivault.db-wal']) {
      try {
        const bytes = execFileSync('cat', [path.join(t.data, f)]);
        assert.ok(!bytes.includes('hard week'), f);
      } catch (err) {
        if (!String(err).includes('No such file')) throw err;
      }
    }
    // Someone else may not; a legal hold stops it; the profile and unknown collections are refused.
    await say('one more');
    const other = await c.req('DELETE', `/v1/subjects/${s}/records/messages`, { token: staff.token, purpose: 'operations' });
    assert.equal(other.status, 403);
    const hold = await c.req('POST', `/v1/subjects/${s}/holds`, { token: officer.token, purpose: 'operations', json: { reason: 'complaint review' } });
    assert.equal(hold.status, 201);
    const held = await c.req('DELETE', `/v1/subjects/${s}/records/messages`, { token: me, purpose: 'self' });
    assert.equal(held.status, 409);
    assert.equal(held.json.reason, 'legal-hold');
    assert.equal((await c.req('DELETE', `/v1/subjects/${s}/records/profile`, { token: me, purpose: 'self' })).status, 409);
    assert.equal((await c.req('DELETE', `/v1/subjects/${s}/records/nope`, { token: me, purpose: 'self' })).status, 404);
    const audit = (await c.req('GET', `/v1/audit?subject=${s}&limit=1000`, { token: officer.token })).json.entries
      .filter((x) => x.action === 'record.delete_all');
    assert.deepEqual(audit.map((x) => [x.decision, x.reason]), [['permit', 'permit'], ['deny', 'processing-restricted'],
      ['deny', 'legal-hold'], ['deny', 'unknown-collection']]);
  } finally {
    await t.stop();
    t.remove();
  }
});
