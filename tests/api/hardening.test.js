// Hardening: deep input on a request's own stack, caches that never outlive a logout or a change
// made by another process, and a clean stop while requests wait for the audit log.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PASSWORD, cli, sqlite, startServer, world } from './lib/harness.js';

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

test('a value nested 2,000 levels deep is stored and read back, and the server lives on', async () => {
  const deep = '['.repeat(2000) + ']'.repeat(2000);
  const body = `{"date":"2026-11-20","notes":${deep}}`;
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`,
    { token: w.tokens.prov1, purpose: 'treatment', body, headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 201, r.text);
  const back = await w.c.req('GET', `/v1/subjects/${w.subject}/records/visits/${r.json.id}`,
    { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(back.status, 200);
  assert.equal(JSON.stringify(back.json.fields.notes), deep);
  // Deeper than the parser takes: refused as malformed, nothing stored.
  const deeper = '['.repeat(5000) + ']'.repeat(5000);
  const bad = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`,
    { token: w.tokens.prov1, purpose: 'treatment', body: `{"notes":${deeper}}`,
      headers: { 'content-type': 'application/json' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.type, '/problems/malformed-json');
  assert.equal((await w.c.req('GET', '/healthz')).status, 200);
});

test('a logout takes effect at once for a token that was just in use', async () => {
  const token = await w.c.login('prov1', PASSWORD('prov1'));
  for (let i = 0; i < 3; i++) {
    const r = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token, purpose: 'treatment' });
    assert.equal(r.status, 200);
  }
  assert.equal((await w.c.req('POST', '/v1/auth/logout', { token })).status, 204);
  const r = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token, purpose: 'treatment' });
  assert.equal(r.status, 401);
});

test('an account disabled by another process is refused at once, cached session or not', async () => {
  const token = await w.c.login('prov2', PASSWORD('prov2'));
  for (let i = 0; i < 3; i++) {
    const r = await w.c.req('GET', '/v1/policy', { token });
    assert.equal(r.status, 200);
    const me = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token, purpose: 'treatment' });
    assert.equal(me.status, 403); // prov2 is not assigned: authenticated, then denied
  }
  // As a command-line tool (or an operator with the sqlite3 shell) would, behind the server.
  sqlite(srv.data, `UPDATE users SET disabled = 1 WHERE id = '${w.users.prov2}'`);
  const r = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token, purpose: 'treatment' });
  assert.equal(r.status, 401);
});

test('SIGTERM under load: answered requests are kept, the server exits 0, the log verifies', async () => {
  const path = `/v1/subjects/${w.subject}/records/visits`;
  const acked = [];
  let running = true;
  const writer = async () => {
    while (running) {
      try {
        const r = await srv.client.req('POST', path, { token: w.tokens.prov1, purpose: 'treatment',
          json: { date: '2026-11-20', notes: 'during shutdown' } });
        if (r.status === 201) acked.push(r.json.id);
      } catch {
        // Refused or cut off by the stopping server: not acknowledged.
      }
    }
  };
  const writers = Array.from({ length: 32 }, writer);
  while (acked.length < 50) await new Promise((resolve) => setTimeout(resolve, 5));
  const exit = await srv.stop();
  running = false;
  await Promise.all(writers);
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
  const v = cli(['audit', 'verify', '--data', srv.data], { env: srv.env() });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  await srv.start();
  w.c = srv.client;
  for (const id of acked) {
    const r = await srv.client.req('GET', `${path}/${id}`, { token: w.tokens.prov1, purpose: 'treatment' });
    assert.equal(r.status, 200, id);
  }
});
