// Retention and disposal: data kept as long as the policy says and not longer, counted from the
// event it names; closing an account; legal holds; anonymization; the sweep as a command and
// inside the server. Time moves with srv.advance() and commands share the server's clock.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, BIN, PASSWORD, auditOf, cli, sqlite, startServer, world } from './lib/harness.js';

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

// Sessions last hours; after moving time by years everyone signs in again.
async function signIn(w, names = ['staff1', 'prov1', 'prov2', 'po1']) {
  for (const n of names) w.tokens[n] = await w.c.login(n, PASSWORD(n));
  w.tokens.admin = await w.c.login('admin', ADMIN_PASSWORD);
}

// `phivault sweep` on the server's data, at the server's time: its counts by line.
function sweep(s) {
  const r = cli(['sweep', '--data', s.data], { env: s.env() });
  assert.equal(r.status, 0, r.stderr);
  const n = (label) => Number(new RegExp(`^${label}: (\\d+)$`, 'm').exec(r.stdout)[1]);
  return {
    subjects: n('subjects looked at'), purged: n('records purged'), anonymized: n('records anonymized'),
    trimmed: n('records trimmed of expired values'), usage: n('usage events purged'),
    erased: n('subjects erased \\(data key destroyed\\)'), held: n('expired rows kept under a legal hold'),
  };
}

async function enrollAssigned(w, profile) {
  const sub = await w.enroll(profile);
  const a = await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1,
    purpose: 'operations', json: { provider: w.users.prov1 } });
  assert.equal(a.status, 201);
  return sub;
}

async function visit(w, sub, notes) {
  const r = await w.c.req('POST', `/v1/subjects/${sub}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { date: '2026-11-20', reason: 'consultation', notes } });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

async function visits(w, sub) {
  const r = await w.c.req('GET', `/v1/subjects/${sub}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment' });
  return r;
}

function keyRows(s, sub) {
  return execFileSync('sqlite3', [path.join(s.data, 'keys.db'),
    `SELECT count(*) FROM subject_keys WHERE subject_id = '${sub}'`]).toString().trim();
}

test('medical records stay 7 years from the last visit, then the sweep purges them and says so', async () => {
  const sub = await enrollAssigned(w, { name: 'Ada Lovelace', email: 'ada@example.org' });
  const first = await visit(w, sub, 'first visit');
  srv.advance(3 * YEAR);
  await signIn(w);
  await visit(w, sub, 'second visit, three years on');

  // Seven years after the first visit, but only four after the last: nothing goes.
  srv.advance(4 * YEAR + 30 * DAY);
  let n = sweep(srv);
  assert.equal(n.purged, 0);
  await signIn(w);
  assert.equal((await visits(w, sub)).json.records.length, 2);
  const kept = await w.c.req('GET', `/v1/subjects/${sub}/records/visits/${first}`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(kept.json.fields.notes, 'first visit');

  // Seven years after the last visit: both go, each disposal audited by the system.
  srv.advance(3 * YEAR + 30 * DAY);
  n = sweep(srv);
  assert.equal(n.purged, 2);
  await signIn(w);
  assert.deepEqual((await visits(w, sub)).json.records, []);
  const entries = (await auditOf(w, sub)).filter((e) => e.action === 'retention.purge');
  assert.equal(entries.length, 2);
  for (const e of entries) {
    assert.equal(e.actor, 'system');
    assert.equal(e.collection, 'visits');
    assert.deepEqual(e.categories, ['user.health.medical_record']);
    assert.equal(e.reason, 'retention-expired');
  }
  // The person's account is open: the profile (kept while it is) and the key stay.
  const subject = await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(subject.json.profile.fields.name, 'Ada Lovelace');
  assert.equal(keyRows(srv, sub), '1');
  // A second sweep finds nothing more to do.
  assert.equal(sweep(srv).purged, 0);
  assert.equal(cli(['audit', 'verify', '--data', srv.data]).status, 0);
});

test('closing an account: the profile goes at the next sweep, records the law keeps stay until their time, then the key', async () => {
  await signIn(w);
  const sub = await enrollAssigned(w, { name: 'Closing Person', email: 'closing@example.org', phone: '+1 555 0199' });
  await visit(w, sub, 'a visit before closing');
  const pat = await w.c.req('POST', '/v1/users', { token: w.tokens.admin,
    json: { username: 'closer', password: PASSWORD('closer'), role: 'patient', subject_id: sub } });
  assert.equal(pat.status, 201);
  const own = await w.c.login('closer', PASSWORD('closer'));

  // A provider (treatment sees no contact details) may not close the account; the front desk may.
  const no = await w.c.req('POST', `/v1/subjects/${sub}/close`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(no.status, 403);
  assert.equal(no.json.reason, 'purpose-excludes-field');
  const r = await w.c.req('POST', `/v1/subjects/${sub}/close`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'closed');
  assert.equal(r.json.held, false);
  // What the law requires to keep is kept, and said so: medical records, 7 years from the last visit.
  const med = r.json.kept.find((k) => k.category === 'user.health.medical_record');
  assert.equal(med.retention, '7y');
  assert.equal(med.from, 'last_visit');
  assert.ok(Date.parse(med.until) - Date.parse(r.json.closed_at) > 6 * YEAR * 1000);
  assert.deepEqual(r.json.disposed_at_next_sweep.sort(),
    ['user.contact.email', 'user.contact.phone_number', 'user.demographic.date_of_birth', 'user.name']);
  assert.ok(!r.text.includes('Closing Person') && !r.text.includes('closing@example.org'));

  // The person's own sign-in ends with the account; closing twice is a conflict.
  assert.equal((await w.c.req('GET', `/v1/subjects/${sub}`, { token: own, purpose: 'self' })).status, 401);
  assert.equal((await w.c.req('POST', '/v1/auth/login', { json: { username: 'closer', password: PASSWORD('closer') } })).status, 401);
  const again = await w.c.req('POST', `/v1/subjects/${sub}/close`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(again.status, 409);

  // Before the sweep the look-up still finds them; after it, nobody.
  const look = () => w.c.req('GET', '/v1/subjects?email=closing@example.org', { token: w.tokens.staff1, purpose: 'operations' });
  assert.deepEqual((await look()).json.subjects, [{ id: sub }]);
  const n = sweep(srv);
  assert.ok(n.purged >= 1);
  assert.equal(n.erased, 0, 'the medical record is still kept: so is the key');
  assert.deepEqual((await look()).json.subjects, []);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM blind_index WHERE subject_id = '${sub}'`).trim(), '0');
  const profile = await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(profile.status, 200);
  assert.equal(profile.json.status, 'closed');
  assert.deepEqual(profile.json.profile.fields, {});
  assert.equal((await visits(w, sub)).json.records.length, 1);

  // Seven years on the record goes, and with nothing left the subject's key is destroyed.
  srv.advance(7 * YEAR + 10 * DAY);
  const m = sweep(srv);
  assert.ok(m.erased >= 1);
  assert.equal(keyRows(srv, sub), '0');
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM subjects WHERE id = '${sub}' AND status <> 'erased'`).trim(), '0');
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM users WHERE subject_id = '${sub}'`).trim(), '0');
  await signIn(w);
  assert.equal((await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' })).status, 404);
  // The provider's assignment went with the person.
  assert.equal((await visits(w, sub)).json.reason, 'not-assigned');
  const trail = (await auditOf(w, sub)).map((e) => e.action);
  for (const a of ['subject.close', 'retention.purge', 'retention.erase']) assert.ok(trail.includes(a), a);
  assert.ok(!JSON.stringify(await auditOf(w, sub)).includes('Closing Person'));
  assert.equal(cli(['audit', 'verify', '--data', srv.data]).status, 0);
});

test('a legal hold keeps expired data past retention and blocks deletion until it is released', async () => {
  await signIn(w);
  const sub = await enrollAssigned(w, { name: 'Held Person', email: 'held@example.org' });
  await visit(w, sub, 'evidence');
  const pay = await w.c.req('POST', `/v1/subjects/${sub}/records/payments`, { token: w.tokens.staff1,
    purpose: 'payment', json: { card_last4: '4242', amount: 90 } });
  assert.equal(pay.status, 201);
  const holds = `/v1/subjects/${sub}/holds`;

  // Only a role with the holds power places one; bad input changes nothing.
  for (const [who, purpose] of [['staff1', 'operations'], ['prov1', 'treatment']]) {
    const r = await w.c.req('POST', holds, { token: w.tokens[who], purpose, json: { reason: 'x' } });
    assert.equal(r.status, 403, who);
  }
  assert.equal((await w.c.req('POST', holds, { token: w.tokens.po1, purpose: 'operations', json: {} })).json.field, 'reason');
  const past = await w.c.req('POST', holds, { token: w.tokens.po1, purpose: 'operations', json: { reason: 'x', until: '2001-01-01' } });
  assert.equal(past.status, 400);
  assert.equal(past.json.field, 'until');
  assert.deepEqual((await w.c.req('GET', holds, { token: w.tokens.po1, purpose: 'operations' })).json.holds, []);

  const h = await w.c.req('POST', holds, { token: w.tokens.po1, purpose: 'operations',
    json: { reason: 'Dispute 2026-17 (records requested by counsel)' } });
  assert.equal(h.status, 201, h.text);
  assert.match(h.json.id, /^hld_/);
  assert.equal(h.json.placed_by, w.users.po1);
  assert.equal(h.json.until, null);
  assert.equal(h.json.in_force, true);
  const listed = await w.c.req('GET', holds, { token: w.tokens.po1, purpose: 'operations' });
  assert.equal(listed.json.holds[0].reason, 'Dispute 2026-17 (records requested by counsel)');
  // The reason is sealed like the person's data: not in the database, not in the audit log.
  assert.ok(!sqlite(srv.data, 'SELECT hex(reason) FROM holds').includes(Buffer.from('Dispute').toString('hex').toUpperCase()));

  // Deletion is refused while the hold lasts, and the refusal is audited.
  const del = await w.c.req('DELETE', `/v1/subjects/${sub}/records/payments/${pay.json.id}`, { token: w.tokens.staff1, purpose: 'payment' });
  assert.equal(del.status, 409);
  assert.equal(del.json.reason, 'legal-hold');
  assert.ok((await auditOf(w, sub)).some((e) => e.action === 'record.delete' && e.reason === 'legal-hold'));

  // Closed and long past every retention: the sweep keeps everything while the hold lasts.
  assert.equal((await w.c.req('POST', `/v1/subjects/${sub}/close`, { token: w.tokens.staff1, purpose: 'operations' })).json.held, true);
  srv.advance(8 * YEAR);
  let n = sweep(srv);
  assert.ok(n.held >= 3, JSON.stringify(n));
  await signIn(w);
  assert.equal((await visits(w, sub)).json.records.length, 1);
  assert.equal((await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' })).json.profile.fields.name, 'Held Person');
  assert.equal(keyRows(srv, sub), '1');

  // Released: it no longer counts, and releasing twice finds nothing in force.
  const rel = await w.c.req('DELETE', `${holds}/${h.json.id}`, { token: w.tokens.po1, purpose: 'operations' });
  assert.equal(rel.status, 200);
  assert.equal(rel.json.in_force, false);
  assert.equal(rel.json.released_by, w.users.po1);
  assert.equal((await w.c.req('DELETE', `${holds}/${h.json.id}`, { token: w.tokens.po1, purpose: 'operations' })).status, 404);
  n = sweep(srv);
  assert.equal(n.held, 0);
  assert.equal(keyRows(srv, sub), '0');
  assert.equal((await w.c.req('GET', `/v1/subjects/${sub}`, { token: w.tokens.staff1, purpose: 'operations' })).status, 404);
});

test('a hold with an end date lapses by itself', async () => {
  await signIn(w);
  const sub = await enrollAssigned(w, { name: 'Dated Hold' });
  const until = new Date(Date.now() + (srv.offset + 10 * DAY) * 1000).toISOString().slice(0, 10);
  const h = await w.c.req('POST', `/v1/subjects/${sub}/holds`, { token: w.tokens.po1, purpose: 'operations',
    json: { reason: 'audit by the state board', until } });
  assert.equal(h.status, 201);
  assert.equal(h.json.until, until);
  await w.c.req('POST', `/v1/subjects/${sub}/close`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(keyRows(srv, sub), '1');
  assert.ok(sweep(srv).held >= 1);
  srv.advance(12 * DAY);
  await signIn(w);
  const listed = await w.c.req('GET', `/v1/subjects/${sub}/holds`, { token: w.tokens.po1, purpose: 'operations' });
  assert.equal(listed.json.holds[0].in_force, false);
  sweep(srv);
  assert.equal(keyRows(srv, sub), '0');
});

test('payment amounts are anonymized, not destroyed: they outlive the person without naming them', async () => {
  await signIn(w);
  const sub = await enrollAssigned(w, { name: 'Payer Person' });
  const pay = await w.c.req('POST', `/v1/subjects/${sub}/records/payments`, { token: w.tokens.staff1,
    purpose: 'payment', json: { card_last4: '1881', amount: 4321 } });
  assert.equal(pay.status, 201);
  const before = Number(sqlite(srv.data, "SELECT count(*) FROM deidentified WHERE collection = 'payments'"));
  srv.advance(7 * YEAR + 5 * DAY);
  const n = sweep(srv);
  assert.ok(n.anonymized >= 1);
  await signIn(w);
  const gone = await w.c.req('GET', `/v1/subjects/${sub}/records/payments/${pay.json.id}`, { token: w.tokens.staff1, purpose: 'payment' });
  assert.equal(gone.status, 404);
  const rows = sqlite(srv.data, "SELECT id, period, categories FROM deidentified WHERE collection = 'payments' ORDER BY rowid").trim().split('\n');
  assert.equal(rows.length, before + 1);
  const [id, period, cats] = rows.at(-1).split('|');
  assert.match(id, /^dei_/);
  assert.match(period, /^\d{4}-\d{2}$/, 'the month only, never the day');
  assert.equal(cats, 'user.payment', 'the card digits are purged, the amount kept');
  // Nothing in the de-identified store points back at the person.
  const cols = sqlite(srv.data, 'PRAGMA table_info(deidentified)');
  assert.ok(!/subject/.test(cols));
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM deidentified WHERE body LIKE '%${sub}%' OR id = '${pay.json.id}'`).trim(), '0');
  const trail = (await auditOf(w, sub)).find((e) => e.action === 'retention.anonymize');
  assert.deepEqual(trail.categories.sort(), ['user.financial.credit_card', 'user.payment']);
});

test('the sweep shows a progress bar on a terminal, and refuses bad arguments', () => {
  const out = execFileSync('script', ['-qec', `${BIN} sweep --data ${srv.data}`, '/dev/null'],
    { env: { ...process.env, ...srv.env() } }).toString();
  assert.match(out, /sweeping \[#+\] \d+\/\d+/);
  assert.match(out, /subjects looked at: \d+/);
  // Not a terminal: counts only, no bar.
  const plain = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.doesNotMatch(plain.stderr, /sweeping \[/);
  assert.equal(cli(['sweep']).status, 2);
  assert.equal(cli(['sweep', '--data', srv.data, 'extra']).status, 2);
  const missing = cli(['sweep', '--data', path.join(srv.dir, 'no-such-dir')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /cannot/);
});

test('the server sweeps by itself every --sweep-interval, through the audit log', async () => {
  const s = await startServer({ args: ['--sweep-interval', '1'] });
  try {
    const v = await world(s);
    const sub = await v.enroll({ name: 'Usage Person' });
    const u = await v.c.req('POST', `/v1/subjects/${sub}/usage`, { token: v.tokens.staff1, purpose: 'site',
      json: { ip: '203.0.113.9' } });
    assert.equal(u.status, 201);
    s.advance(14 * 30 * DAY);
    const po = await v.c.login('po1', PASSWORD('po1'));
    let purged = [];
    for (let i = 0; i < 100 && purged.length === 0; i++) {
      const r = await v.c.req('GET', `/v1/audit?subject=${sub}&limit=1000`, { token: po });
      purged = r.json.entries.filter((e) => e.action === 'retention.purge_usage');
      if (purged.length === 0) await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(purged.length, 1, 'the periodic sweep disposed of the usage event');
    assert.equal(purged[0].actor, 'system');
    assert.equal(sqlite(s.data, `SELECT count(*) FROM usage_events WHERE subject_id = '${sub}'`).trim(), '0');
    const line = s.log().split('\n').find((l) => l.includes('"event":"retention.sweep"'));
    assert.ok(line, 'the sweep logs its counts');
    assert.ok(!line.includes(sub) && !line.includes('203.0.113.9'));
  } finally {
    await s.stop();
    s.remove();
  }
});
