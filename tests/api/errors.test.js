// Bad input: never a crash, never half a write, always an RFC 9457 problem, never personal data.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request, sqlite, startServer, world } from './lib/harness.js';

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const counts = () => sqlite(srv.data, "SELECT (SELECT count(*) FROM subjects) || '/' || (SELECT count(*) FROM records)").trim();

function isProblem(r, status, type) {
  assert.equal(r.status, status);
  assert.equal(r.headers['content-type'], 'application/problem+json');
  assert.equal(r.json.status, status);
  assert.equal(r.json.type, `/problems/${type}`);
  assert.equal(typeof r.json.title, 'string');
}

test('malformed JSON is 400 and changes nothing', async () => {
  const before = counts();
  for (const body of ['{', '{"policy_version": }', 'null', '[]', '"x"', '{"a":1}{', '\u0000', '{"a":1,"a":2}']) {
    const r = await w.c.req('POST', '/v1/subjects', { token: w.tokens.staff1, purpose: 'operations',
      body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400, body);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.ok(!r.text.includes('near'), 'parser text never reaches the client');
  }
  assert.equal(counts(), before);
});

test('a body must be application/json: 415', async () => {
  for (const ct of [undefined, 'text/plain', 'application/jsonx', 'application/x-www-form-urlencoded']) {
    const headers = ct ? { 'content-type': ct } : {};
    const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
      purpose: 'treatment', body: '{"date":"2026-01-01"}', headers });
    isProblem(r, 415, 'unsupported-media-type');
  }
  const ok = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', body: '{"date":"2026-01-01"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
  assert.equal(ok.status, 201);
});

test('an oversized body is 413, with a declared length or chunked', async () => {
  const before = counts();
  const big = JSON.stringify({ date: '2026-01-01', notes: 'x'.repeat(300 * 1024) });
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', body: big, headers: { 'content-type': 'application/json' } });
  isProblem(r, 413, 'payload-too-large');
  const chunked = await request(srv.base, 'POST', `/v1/subjects/${w.subject}/records/visits`, {
    headers: { authorization: `Bearer ${w.tokens.prov1}`, 'x-purpose': 'treatment',
      'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: big });
  isProblem(chunked, 413, 'payload-too-large');
  const login = await w.c.req('POST', '/v1/auth/login', { body: JSON.stringify({ username: 'a', password: 'p'.repeat(10000) }),
    headers: { 'content-type': 'application/json' } });
  isProblem(login, 413, 'payload-too-large');
  assert.equal(counts(), before);
  assert.equal((await w.c.req('GET', '/healthz')).status, 200);
});

test('unknown routes are 404, wrong methods 405', async () => {
  isProblem(await w.c.req('GET', '/v1/nothing'), 404, 'no-such-route');
  isProblem(await w.c.req('GET', '/'), 404, 'no-such-route');
  isProblem(await w.c.req('GET', `/v1/subjects/${w.subject}/records`), 404, 'no-such-route');
  isProblem(await w.c.req('DELETE', '/v1/subjects'), 405, 'method-not-allowed');
  isProblem(await w.c.req('PUT', '/healthz'), 405, 'method-not-allowed');
  isProblem(await w.c.req('GET', `/v1/subjects/${'a'.repeat(500)}`), 404, 'no-such-route');
});

test('a bad token is 401', async () => {
  isProblem(await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: 'pvt_bogus', purpose: 'operations' }), 401, 'unauthenticated');
});

test('a failed write changes nothing', async () => {
  const before = counts();
  // Denied, undeclared, invalid: none of them leaves anything behind.
  await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov2, purpose: 'treatment', json: { date: 'x' } });
  await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment', json: { date: 'x', bogus: 1 } });
  await w.c.req('POST', `/v1/subjects/${w.subject}/records/payments`, { token: w.tokens.staff1, purpose: 'payment', json: { card_last4: '4111111111111111' } });
  await w.c.req('POST', '/v1/subjects', { token: w.tokens.staff1, purpose: 'operations', json: { policy_version: 'x', birth_date: '1990-01-01', profile: { name: 'Half' } } });
  assert.equal(counts(), before);
});

test('problem types are documented at their URI', async () => {
  const r = await w.c.req('GET', '/problems/undeclared-field');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.match(r.text, /Undeclared field/);
  assert.equal((await w.c.req('GET', '/problems/nope')).status, 404);
});

test('responses are never cached and never sniffed', async () => {
  const r = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
});

test('the log names routes, never paths, queries or values', async () => {
  await w.c.req('GET', '/v1/subjects?email=log-canary@example.org', { token: w.tokens.staff1, purpose: 'operations' });
  await w.c.req('POST', '/v1/auth/login', { json: { username: 'log-canary-user', password: 'log-canary-password' } });
  const log = srv.log();
  for (const s of ['log-canary', w.subject, w.tokens.prov1.slice(4)]) assert.ok(!log.includes(s), s);
  assert.match(log, /"route":"\/v1\/subjects\/\{id\}"/);
  for (const line of log.trim().split('\n')) JSON.parse(line);
});

test('the server survived all of it', async () => {
  assert.equal((await w.c.req('GET', '/healthz')).json.status, 'ok');
  assert.equal(srv.proc.exitCode, null);
});
