// Uses beyond treatment, payment and operations (tests/unit/policies/good/beyond-care.yaml):
// research on health data only under a written authorization that names it (B1); a purpose
// marked de-identified reaches no record, only the de-identified store and aggregate counts with
// small cells suppressed (B6, F3); a recipient marked as a sale gets nothing once the person opted
// out, Global Privacy Control included (C4).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PASSWORD, SRC, auditOf, cli, sqlite, startServer, world } from './lib/harness.js';

let srv, w, rec;
before(async () => {
  srv = await startServer({ policy: `${SRC}/tests/unit/policies/good/beyond-care.yaml` });
  w = await world(srv);
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/conditions`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { condition: 'psoriasis' } });
  assert.equal(r.status, 201, r.text);
  rec = r.json.id;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

// Moving the clock ends the sessions: everyone signs in again.
async function advance(seconds) {
  await srv.advance(seconds);
  for (const n of ['staff1', 'prov1', 'po1', 'grace']) w.tokens[n] = await w.c.login(n, PASSWORD(n));
}

const consent = (json) => w.c.req('POST', `/v1/subjects/${w.subject}/consents`, { token: w.tokens.staff1,
  purpose: 'operations', json });

test('research on health data is refused without a written authorization, permitted with it, and withdrawal stops it', async () => {
  const read = () => w.c.req('GET', `/v1/subjects/${w.subject}/records/conditions/${rec}`, { token: w.tokens.staff1, purpose: 'research' });
  let r = await read();
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'authorization-required');
  assert.ok(!r.text.includes('psoriasis'));
  // The uses the law allows without an authorization are marked so, and need none.
  for (const purpose of ['legal', 'rights']) {
    const l = await w.c.req('GET', `/v1/subjects/${w.subject}/records/conditions/${rec}`, { token: w.tokens.po1, purpose });
    assert.equal(l.status, 200, `${purpose}: ${l.text}`);
  }
  // And the person's own use needs none.
  assert.equal((await w.c.req('GET', `/v1/subjects/${w.subject}/records/conditions/${rec}`, { token: w.tokens.grace, purpose: 'self' })).status, 200);
  assert.equal((await consent({ kind: 'research_use', action: 'grant', source: 'written',
    evidence: 'Research authorization signed on paper' })).status, 201);
  r = await read();
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.fields, { condition: 'psoriasis' });
  assert.equal((await consent({ kind: 'research_use', action: 'withdraw', source: 'written' })).status, 201);
  r = await read();
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'authorization-required');
  const audit = (await auditOf(w, w.subject)).filter((e) => e.purpose === 'research' && e.action === 'record.read');
  assert.deepEqual(audit.map((e) => [e.decision, e.reason]),
    [['deny', 'authorization-required'], ['permit', 'permit'], ['deny', 'authorization-required']]);
});

test('a de-identified purpose reaches no record, and reads counts with small cells suppressed', async () => {
  // Never a record, the profile or a list, whatever its categories say.
  for (const path of [`/v1/subjects/${w.subject}/records/conditions/${rec}`, `/v1/subjects/${w.subject}/records/conditions`,
    `/v1/subjects/${w.subject}`, `/v1/subjects/${w.subject}/export`]) {
    const r = await w.c.req('GET', path, { token: w.tokens.staff1, purpose: 'stats' });
    assert.equal(r.status, 403, path);
    assert.equal(r.json.reason, 'deidentified-only', path);
  }
  // People with conditions over three months: shoulder 4 people, knee 3, hip 1; and one person
  // with 5 ankle records (5 records, but 1 person: suppressed all the same).
  const add = async (condition, n = 1) => {
    const s = await w.enroll({ name: `Person ${condition} ${Math.random()}` });
    assert.equal((await w.c.req('POST', `/v1/subjects/${s}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
      json: { provider: w.users.prov1 } })).status, 201);
    for (let i = 0; i < n; i++)
      assert.equal((await w.c.req('POST', `/v1/subjects/${s}/records/conditions`, { token: w.tokens.prov1,
        purpose: 'treatment', json: { condition } })).status, 201);
    return s;
  };
  await add('hip');
  await advance(35 * 86400);
  for (let i = 0; i < 3; i++) await add('knee');
  await advance(35 * 86400);
  for (let i = 0; i < 4; i++) await add('shoulder');
  await add('ankle', 5);
  const agg = await w.c.req('GET', '/v1/aggregates/conditions?by=condition', { token: w.tokens.staff1, purpose: 'stats' });
  assert.equal(agg.status, 200, agg.text);
  assert.equal(agg.json.min_cell, 3);
  // psoriasis (1 person), hip (1) and ankle (5 records, 1 person) are below the cell size: not
  // named, not counted; knee and shoulder are shown.
  const cells = [...agg.json.cells].sort((a, b) => a.value.localeCompare(b.value));
  assert.deepEqual(cells, [{ value: 'knee', records: 3, people: 3 }, { value: 'shoulder', records: 4, people: 4 }]);
  assert.equal(agg.json.suppressed_values, 3);
  for (const rare of ['hip', 'ankle', 'psoriasis']) assert.ok(!agg.text.includes(rare), rare);
  assert.ok(!agg.text.includes('sub_') && !agg.text.includes('rec_'));
  // By month: the first month (psoriasis and hip: 2 records) is suppressed, never counted; the
  // second (knee: 3) would then be the only other small one to find it by difference from a
  // total, so it is suppressed too; the last (shoulder and ankle: 9 records, 5 people) is shown.
  const months = await w.c.req('GET', '/v1/aggregates/conditions', { token: w.tokens.staff1, purpose: 'stats' });
  assert.equal(months.status, 200, months.text);
  assert.deepEqual(months.json.cells.map((c) => (c.suppressed ? 'suppressed' : [c.records, c.people])),
    ['suppressed', 'suppressed', [9, 5]]);
  assert.ok(months.json.cells.every((c) => /^\d{4}-\d{2}$/.test(c.month)));
  // Asking by a field the collection lacks, or for a collection the purpose does not cover.
  const bad = await w.c.req('GET', '/v1/aggregates/conditions?by=nickname', { token: w.tokens.staff1, purpose: 'stats' });
  assert.equal(bad.status, 422);
  const prof = await w.c.req('GET', '/v1/aggregates/profile', { token: w.tokens.staff1, purpose: 'stats' });
  assert.equal(prof.status, 403);
  assert.equal(prof.json.reason, 'purpose-excludes-collection');
  // Every read is audited with the collection and no subject.
  const entries = (await w.c.req('GET', '/v1/audit?limit=1000', { token: w.tokens.po1 })).json.entries
    .filter((e) => e.action === 'aggregate.read');
  assert.deepEqual(entries.map((e) => [e.decision, e.collection, e.subject]),
    [['permit', 'conditions', ''], ['permit', 'conditions', ''], ['deny', 'conditions', ''], ['deny', 'profile', '']]);
});

test('de-identified rows outlive the person, with no subject, record id or exact time (F3)', async () => {
  const s = await w.enroll({ name: 'Leaving Person', email: 'leaving@example.org' });
  assert.equal((await w.c.req('POST', `/v1/subjects/${s}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } })).status, 201);
  const r = await w.c.req('POST', `/v1/subjects/${s}/records/conditions`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { condition: 'tennis elbow' } });
  assert.equal(r.status, 201);
  assert.equal((await w.c.req('POST', `/v1/subjects/${s}/close`, { token: w.tokens.staff1, purpose: 'operations' })).status, 200);
  const sw = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.equal(sw.status, 0, sw.stderr);
  const list = await w.c.req('GET', '/v1/deidentified/conditions', { token: w.tokens.staff1, purpose: 'stats' });
  assert.equal(list.status, 200, list.text);
  const row = list.json.rows.find((x) => x.fields.condition === 'tennis elbow');
  assert.ok(row, list.text);
  assert.deepEqual(Object.keys(row).sort(), ['fields', 'id', 'month']);
  assert.match(row.month, /^\d{4}-\d{2}$/);
  assert.ok(!list.text.includes(s) && !list.text.includes(r.json.id) && !list.text.includes('Leaving'));
  // The person is gone: nothing of theirs is read by any purpose.
  assert.equal((await w.c.req('GET', `/v1/subjects/${s}`, { token: w.tokens.po1, purpose: 'legal' })).status, 404);
  // An unknown collection is 404; a purpose that covers nothing of it is 403.
  assert.equal((await w.c.req('GET', '/v1/deidentified/nothing', { token: w.tokens.staff1, purpose: 'stats' })).status, 404);
  assert.equal((await w.c.req('GET', '/v1/deidentified/conditions', { token: w.tokens.staff1, purpose: 'operations' })).status, 403);
  // Only a purpose declared de-identified reads them: care has the records it needs, not everyone's.
  for (const route of ['/v1/deidentified/conditions', '/v1/aggregates/conditions']) {
    const care = await w.c.req('GET', route, { token: w.tokens.prov1, purpose: 'treatment' });
    assert.equal(care.status, 403, route);
    assert.equal(care.json.reason, 'purpose-not-deidentified', route);
  }
  assert.equal(sqlite(srv.data, "SELECT count(*) FROM deidentified WHERE collection = 'conditions'").trim(), String(list.json.rows.length));
});

test('a sale or sharing stops at the opt-out, Global Privacy Control included, and records nothing', async () => {
  const go = () => w.c.req('POST', `/v1/subjects/${w.subject}/disclosures`, { token: w.tokens.staff1, purpose: 'operations',
    json: { recipient: 'ad-network', collection: 'profile', fields: ['name', 'email'] } });
  const before = Number(sqlite(srv.data, 'SELECT count(*) FROM disclosures').trim());
  // Held by default (an opt-out consent): the network receives the contact details.
  let r = await go();
  assert.equal(r.status, 201, r.text);
  // The person's browser sends Global Privacy Control with their own session: the opt-out.
  const gpc = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.grace, purpose: 'self', headers: { 'sec-gpc': '1' } });
  assert.equal(gpc.headers['gpc-honored'], '1');
  r = await go();
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'sale-opted-out');
  const chk = await w.c.req('GET', `/v1/subjects/${w.subject}/disclosure-check?recipient=ad-network&collection=profile&fields=name`,
    { token: w.tokens.staff1, purpose: 'operations' });
  assert.deepEqual([chk.json.allowed, chk.json.reason], [false, 'sale-opted-out']);
  assert.equal(Number(sqlite(srv.data, 'SELECT count(*) FROM disclosures').trim()), before + 1);
  // What is no sale still goes: the court, for the law.
  const court = await w.c.req('POST', `/v1/subjects/${w.subject}/disclosures`, { token: w.tokens.po1, purpose: 'legal',
    json: { recipient: 'court', collection: 'conditions' } });
  assert.equal(court.status, 201, court.text);
  const policy = (await w.c.req('GET', '/v1/policy')).json;
  assert.equal(policy.recipients['ad-network'].sale, true);
  assert.equal(policy.disclosure.never_sell, false);
});
