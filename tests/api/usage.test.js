// Usage data (IP address, device, pages): its own collection in a table of its own, apart from
// health data, with its own short retention, and stored only as far as cookie consent allows.
// Grace has given no cookie consent: only the necessary part of her usage data is kept.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PASSWORD, auditOf, cli, sqlite, startServer, world } from './lib/harness.js';

const DAY = 86400;

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const event = { ip: '198.51.100.23', device: 'DEVICE-CANARY-iphone', page: '/PAGE-CANARY/book' };

test('a usage event keeps what is necessary and drops what needs a cookie consent not given', async () => {
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.grace, purpose: 'site', json: event });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.id, /^rec_/);
  assert.deepEqual(r.json.stored, ['ip']);
  assert.deepEqual(r.json.dropped, ['device', 'page']);

  const list = await w.c.req('GET', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.grace, purpose: 'self' });
  assert.equal(list.status, 200);
  assert.equal(list.json.events.length, 1);
  assert.deepEqual(list.json.events[0].fields, { ip: '198.51.100.23' });

  // Dropped means never stored: not sealed, not anywhere.
  const body = sqlite(srv.data, `SELECT hex(body) FROM usage_events WHERE id = '${r.json.id}'`);
  assert.ok(!body.includes(Buffer.from('device').toString('hex').toUpperCase()));
  assert.ok(!body.includes(Buffer.from('page').toString('hex').toUpperCase()));
  // The audit entry names the categories stored, never the dropped ones, never a value.
  const entry = (await auditOf(w, w.subject)).find((e) => e.action === 'usage.collect');
  assert.deepEqual(entry.categories, ['user.device.ip_address']);
  assert.equal(entry.purpose, 'site');
});

test('usage data lives apart from health data and is refused on the records routes', async () => {
  await w.c.req('POST', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.staff1, purpose: 'site', json: { ip: '198.51.100.24' } });
  assert.equal(sqlite(srv.data, "SELECT count(*) FROM records WHERE collection = 'usage'").trim(), '0');
  assert.ok(Number(sqlite(srv.data, `SELECT count(*) FROM usage_events WHERE subject_id = '${w.subject}'`)) >= 2);
  for (const [method, p, json] of [['POST', 'records/usage', { ip: '1.2.3.4' }], ['GET', 'records/usage']]) {
    const r = await w.c.req(method, `/v1/subjects/${w.subject}/${p}`, { token: w.tokens.staff1, purpose: 'site', json });
    assert.equal(r.status, 409, `${method} ${p}`);
    assert.equal(r.json.reason, 'usage-collection');
  }
  // Nor is the address in the files in the clear.
  assert.ok(!sqlite(srv.data, 'SELECT hex(body) FROM usage_events').includes(Buffer.from('198.51.100').toString('hex').toUpperCase()));
});

test('bad usage input is refused and stores nothing', async () => {
  const count = () => sqlite(srv.data, 'SELECT count(*) FROM usage_events').trim();
  const before = count();
  const undeclared = await w.c.req('POST', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.staff1, purpose: 'site',
    json: { ip: '1.2.3.4', fingerprint: 'x' } });
  assert.equal(undeclared.status, 422);
  assert.equal(undeclared.json.field, 'fingerprint');
  const wrongPurpose = await w.c.req('POST', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.staff1, purpose: 'operations', json: { ip: '1.2.3.4' } });
  assert.equal(wrongPurpose.status, 403);
  assert.equal(wrongPurpose.json.reason, 'purpose-excludes-field');
  const provider = await w.c.req('POST', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.prov1, purpose: 'site', json: { ip: '1.2.3.4' } });
  assert.equal(provider.status, 403);
  const other = await w.enroll({ name: 'Someone Else' });
  const notOwn = await w.c.req('POST', `/v1/subjects/${other}/usage`, { token: w.tokens.grace, purpose: 'site', json: { ip: '1.2.3.4' } });
  assert.equal(notOwn.status, 403);
  assert.equal(notOwn.json.reason, 'not-own-subject');
  const notJson = await w.c.req('POST', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.staff1, purpose: 'site',
    body: '{"ip":', headers: { 'content-type': 'application/json' } });
  assert.equal(notJson.status, 400);
  assert.equal(count(), before);
});

test('a cookie consent given lets its category be stored, and once withdrawn it is dropped again', async () => {
  const consent = (action) => w.c.req('POST', `/v1/subjects/${w.subject}/consents`, { token: w.tokens.grace, purpose: 'self',
    json: { kind: 'cookies_analytics', action, source: 'web' } });
  const collect = () => w.c.req('POST', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.grace, purpose: 'site', json: event });
  assert.equal((await consent('grant')).status, 201);
  const given = await collect();
  assert.equal(given.status, 201, given.text);
  assert.deepEqual(given.json.stored, ['ip', 'page']);
  assert.deepEqual(given.json.dropped, ['device']);
  const list = await w.c.req('GET', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.grace, purpose: 'self' });
  const mine = list.json.events.find((e) => e.id === given.json.id);
  assert.deepEqual(mine.fields, { ip: event.ip, page: event.page });
  assert.equal((await consent('withdraw')).status, 201);
  const withdrawn = await collect();
  assert.deepEqual(withdrawn.json.stored, ['ip']);
  assert.deepEqual(withdrawn.json.dropped, ['device', 'page']);
  // Nothing but dropped fields: nothing is stored, and there is no event.
  const none = await w.c.req('POST', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.grace, purpose: 'site',
    json: { device: event.device } });
  assert.equal(none.status, 201);
  assert.deepEqual(none.json, { id: null, subject_id: w.subject, stored: [], dropped: ['device'] });
});

test('usage data has its own short retention: gone after 13 months while health data stays', async () => {
  const v = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment',
    json: { date: '2026-11-03', notes: 'stays for years' } });
  assert.equal(v.status, 201);
  srv.advance(12 * 30 * DAY);
  let r = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.match(r.stdout, /^usage events purged: 0$/m);
  srv.advance(45 * DAY);
  r = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.match(r.stdout, /^usage events purged: [1-9]\d*$/m);
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM usage_events WHERE subject_id = '${w.subject}'`).trim(), '0');
  const prov = await w.c.login('prov1', PASSWORD('prov1'));
  const kept = await w.c.req('GET', `/v1/subjects/${w.subject}/records/visits/${v.json.id}`, { token: prov, purpose: 'treatment' });
  assert.equal(kept.status, 200);
  assert.equal(kept.json.fields.notes, 'stays for years');
  const grace = await w.c.login('grace', PASSWORD('grace'));
  const list = await w.c.req('GET', `/v1/subjects/${w.subject}/usage`, { token: grace, purpose: 'self' });
  assert.deepEqual(list.json.events, []);
});
