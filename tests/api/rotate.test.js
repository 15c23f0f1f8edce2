// Master key rotation while the server keeps serving: a new master version, every data key
// rewrapped, the old version retired; every record still reads, nothing failed in between, and
// the old master key (checked with an independent XChaCha20-Poly1305) opens nothing any more.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cli, cliAsync, startServer, world } from './lib/harness.js';
import { wrapAd, xchachaOpen } from './lib/xchacha.js';

let srv, w;
const written = []; // {sub, id, notes}
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

function masters() {
  const text = readFileSync(path.join(srv.data, 'master.key'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^master (\d+) ([0-9a-f]{64})$/gm)].map((m) => [Number(m[1]), Buffer.from(m[2], 'hex')]));
}

function keyRows() {
  return execFileSync('sqlite3', [path.join(srv.data, 'keys.db'),
    'SELECT subject_id, version, master_version, hex(wrapped) FROM subject_keys']).toString().trim().split('\n')
    .map((l) => l.split('|')).map(([owner, v, mv, hex]) => ({ owner, v: Number(v), mv: Number(mv), wrapped: Buffer.from(hex, 'hex') }));
}

// Which rows the key opens, as their wrapping's associated data says they were wrapped.
function opened(key, rows) {
  return rows.filter((r) => xchachaOpen(key, r.wrapped, wrapAd(r.owner, r.mv, r.v)) !== null).length;
}

async function enrollWithVisits(name, n) {
  const sub = await w.enroll({ name });
  const a = await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } });
  assert.equal(a.status, 201);
  for (let i = 0; i < n; i++) {
    const notes = `${name} visit ${i}`;
    const r = await w.c.req('POST', `/v1/subjects/${sub}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment',
      json: { date: '2026-11-07', notes } });
    assert.equal(r.status, 201);
    written.push({ sub, id: r.json.id, notes });
  }
  return sub;
}

test('keys rotate while the server serves: every record reads after, nothing failed in between', async () => {
  for (let i = 0; i < 12; i++) await enrollWithVisits(`Person ${i}`, 2);
  const old = masters();
  assert.deepEqual(Object.keys(old), ['1']);
  const rowsBefore = keyRows();
  assert.equal(opened(old[1], rowsBefore), rowsBefore.length, 'the control: today\'s key opens every data key');

  // Load: reads of existing records, new records, and new people (new data keys) all along.
  const load = { stop: false, ok: 0, failures: [] };
  const reader = async () => {
    for (let i = 0; !load.stop; i++) {
      const x = written[i % written.length];
      const r = await w.c.req('GET', `/v1/subjects/${x.sub}/records/visits/${x.id}`, { token: w.tokens.prov1, purpose: 'treatment' });
      if (r.status === 200 && r.json.fields.notes === x.notes) load.ok++;
      else load.failures.push(`read ${r.status}`);
    }
  };
  const enroller = async () => {
    for (let i = 0; !load.stop; i++) {
      try {
        await enrollWithVisits(`During ${i}`, 1);
        load.ok++;
      } catch (e) {
        load.failures.push(`enroll ${e.message}`);
      }
    }
  };
  const workers = [reader(), reader(), enroller()];
  const rot = await cliAsync(['keys', 'rotate', '--data', srv.data], { env: srv.env() });
  const mark = load.ok;
  while (load.ok < mark + 30) await new Promise((res) => setTimeout(res, 10));
  load.stop = true;
  await Promise.all(workers);
  assert.equal(rot.status, 0, rot.stderr);
  assert.match(rot.stdout, /^master key version 2 in force$/m);
  assert.match(rot.stdout, /^data keys rewrapped: \d+ of \d+$/m);
  assert.match(rot.stdout, /^retired master key version 1$/m);
  assert.deepEqual(load.failures, []);

  // The key file holds the new version alone, still private.
  const now = masters();
  assert.deepEqual(Object.keys(now), ['2']);
  assert.ok(!now[2].equals(old[1]));
  assert.match(readFileSync(path.join(srv.data, 'master.key'), 'utf8'), /\nactive 2\n$/);
  assert.equal(statSync(path.join(srv.data, 'master.key')).mode & 0o777, 0o600);

  // Every data key, including those of people enrolled during the rotation, is under version 2;
  // the new key opens each, the old one none.
  const rows = keyRows();
  assert.ok(rows.length > rowsBefore.length, 'people enrolled during the rotation');
  assert.deepEqual([...new Set(rows.map((r) => r.mv))], [2]);
  assert.equal(opened(now[2], rows), rows.length);
  assert.equal(opened(old[1], rows), 0);
  assert.equal(opened(old[1], rows.map((r) => ({ ...r, mv: 1 }))), 0);

  // Every record reads, with its value, on the running server and after a restart.
  for (const x of written) {
    const r = await w.c.req('GET', `/v1/subjects/${x.sub}/records/visits/${x.id}`, { token: w.tokens.prov1, purpose: 'treatment' });
    assert.equal(r.status, 200);
    assert.equal(r.json.fields.notes, x.notes);
  }
  const check = cli(['keys', 'check', '--data', srv.data], { env: srv.env() });
  assert.equal(check.status, 0, check.stdout);
  assert.match(check.stdout, new RegExp(`^data keys: ${rows.length}, opened: ${rows.length}, unreadable: 0$`, 'm'));
  assert.equal(cli(['audit', 'verify', '--data', srv.data]).status, 0);
});

test('the rotation is audited, key by key, without any key or value', async () => {
  const r = await w.c.req('GET', '/v1/audit?limit=1000', { token: w.tokens.po1 });
  const all = [];
  for (let after = 0; ; ) {
    const page = await w.c.req('GET', `/v1/audit?limit=1000&after=${after}`, { token: w.tokens.po1 });
    all.push(...page.json.entries);
    if (page.json.entries.length < 1000) break;
    after = page.json.entries.at(-1).seq;
  }
  assert.equal(r.status, 200);
  const rot = all.filter((e) => e.action === 'keys.rotate');
  assert.equal(rot.length, 1);
  assert.equal(rot[0].record, 'master-2');
  assert.ok(all.filter((e) => e.action === 'key.rewrap').length >= 13);
  assert.equal(all.filter((e) => e.action === 'keys.retire').length, 1);
  const hex = masters()[2].toString('hex');
  assert.ok(!JSON.stringify(all).includes(hex));
});

test('a restarted server reads everything with the new key alone; a second rotation works too', async () => {
  await srv.restart();
  w.c = srv.client;
  w.tokens.prov1 = await w.c.login('prov1', 'password-of-prov1-123');
  for (const x of written.slice(0, 10)) {
    const r = await w.c.req('GET', `/v1/subjects/${x.sub}/records/visits/${x.id}`, { token: w.tokens.prov1, purpose: 'treatment' });
    assert.equal(r.json.fields.notes, x.notes);
  }
  const again = cli(['keys', 'rotate', '--data', srv.data], { env: srv.env() });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /^master key version 3 in force$/m);
  assert.match(again.stdout, /^retired master key version 2$/m);
  assert.deepEqual(Object.keys(masters()), ['3']);
  const x = written.at(-1);
  const r = await w.c.req('GET', `/v1/subjects/${x.sub}/records/visits/${x.id}`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(r.json.fields.notes, x.notes);
  assert.equal(cli(['keys', 'rotate']).status, 2);
  assert.equal(cli(['keys', 'check']).status, 2);
});
