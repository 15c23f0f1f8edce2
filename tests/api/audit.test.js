// The audit log end to end: `phivault audit verify` on an intact log and after each tampering,
// and failing closed (503, no data) when the log cannot be written.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, sqlite, startServer, world } from './lib/harness.js';

let srv, w, visit;
before(async () => {
  srv = await startServer();
  w = await world(srv);
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { date: '2026-11-01', notes: 'SECRET-NOTE-4411' } });
  visit = r.json.id;
  for (let i = 0; i < 30; i++)
    await w.c.req('GET', `/v1/subjects/${w.subject}/records/visits/${visit}`, { token: w.tokens.prov1, purpose: 'treatment' });
});
after(async () => {
  await srv.stop();
  srv.remove();
});

test('if the audit log cannot be written, the request fails with 503 and no data leaves', async () => {
  const path = `/v1/subjects/${w.subject}/records/visits`;
  // Make every audit append fail, as a full disk would.
  sqlite(srv.data, "CREATE TRIGGER audit_fails BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  try {
    const read = await w.c.req('GET', `${path}/${visit}`, { token: w.tokens.prov1, purpose: 'treatment' });
    assert.equal(read.status, 503);
    assert.equal(read.json.type, '/problems/audit-unavailable');
    assert.ok(!read.text.includes('SECRET-NOTE'));
    const list = await w.c.req('GET', path, { token: w.tokens.prov1, purpose: 'treatment' });
    assert.equal(list.status, 503);
    const write = await w.c.req('POST', path, { token: w.tokens.prov1, purpose: 'treatment', json: { date: '2026-11-02', notes: 'NOT-STORED' } });
    assert.equal(write.status, 503);
    const denied = await w.c.req('GET', `${path}/${visit}`, { token: w.tokens.prov2, purpose: 'treatment' });
    assert.equal(denied.status, 503);
    const anon = await w.c.req('GET', `${path}/${visit}`, { purpose: 'treatment' });
    assert.equal(anon.status, 503);
    const login = await w.c.req('POST', '/v1/auth/login', { json: { username: 'prov1', password: 'whatever-it-is' } });
    assert.equal(login.status, 503);
  } finally {
    sqlite(srv.data, 'DROP TRIGGER audit_fails;');
  }
  const list = await w.c.req('GET', path, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(list.status, 200);
  assert.equal(list.json.records.length, 1, 'the refused write left nothing');
  assert.equal(cli(['audit', 'verify', '--data', srv.data]).status, 0);
});

test('audit verify passes on the intact log of a running server', async () => {
  const r = cli(['audit', 'verify', '--data', srv.data]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^audit log intact: \d+ entries, \d+ signatures checked$/m);
});

// Each tampering on a copy of the stopped server's data, so they do not mask each other.
const tamperings = [
  ['a changed entry', (first) => `UPDATE audit SET decision = 'deny' WHERE seq = ${first + 3}`, (first) => first + 3],
  ['a deleted entry', (first) => `DELETE FROM audit WHERE seq = ${first + 5}`, (first) => first + 5],
  ['reordered entries', (first) => `UPDATE audit SET seq = -1 WHERE seq = ${first + 7}; UPDATE audit SET seq = ${first + 7} WHERE seq = ${first + 8}; UPDATE audit SET seq = ${first + 8} WHERE seq = -1;`, (first) => first + 7],
  ['a truncated log', (first, last) => `DELETE FROM audit WHERE seq > ${last - 4}`, (first, last) => last - 3],
];

test('audit verify names the first bad entry after each tampering', async () => {
  await srv.stop();
  const { execFileSync } = await import('node:child_process');
  const last = Number(sqlite(srv.data, 'SELECT max(seq) FROM audit').trim());
  const first = Number(sqlite(srv.data, `SELECT min(seq) FROM audit WHERE action = 'record.read'`).trim());
  assert.ok(last > first + 20);
  for (const [what, sql, bad] of tamperings) {
    const copy = `${srv.dir}/copy`;
    execFileSync('rm', ['-rf', copy]);
    execFileSync('cp', ['-a', srv.data, copy]);
    sqlite(copy, sql(first, last));
    const r = cli(['audit', 'verify', '--data', copy]);
    assert.notEqual(r.status, 0, what);
    assert.match(r.stdout, /FAILED verification/, what);
    assert.match(r.stdout, new RegExp(`^first bad entry: ${bad(first, last)}$`, 'm'), `${what}: ${r.stdout}`);
  }
  await srv.start();
  w.c = srv.client;
});
