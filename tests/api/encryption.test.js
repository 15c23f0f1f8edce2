// Encryption at rest: canary values written through the API never appear in the database
// files, their write-ahead logs, or the server's log.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startServer, world } from './lib/harness.js';

let srv, w;
const canaries = [
  'CANARY-NAME-7f3a9c',
  'canary-email-5d1e@example.org',
  '+1 555 867 5309',
  'CANARY-NOTES-diagnosis-b62f0e',
  'CANARY-REASON-2c8d44',
];

before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

// Every file in the data directory and the server log, searched for each canary in a few encodings.
function scan() {
  const hits = [];
  const files = readdirSync(srv.data).map((f) => path.join(srv.data, f));
  const blobs = files.map((f) => [f, readFileSync(f)]);
  blobs.push(['server log', Buffer.from(srv.log())]);
  for (const [name, bytes] of blobs) {
    for (const c of canaries) {
      for (const form of [c, c.toLowerCase(), JSON.stringify(c), Buffer.from(c, 'utf16le').toString('latin1')]) {
        if (bytes.indexOf(Buffer.from(form, form.includes('\u0000') ? 'latin1' : 'utf8')) !== -1)
          hits.push(`${c} in ${path.basename(name)}`);
      }
    }
  }
  return { hits, files: files.map((f) => path.basename(f)) };
}

test('canaries written through the API are nowhere in the files or the log', async () => {
  const sub = await w.enroll({ name: canaries[0], email: canaries[1], phone: canaries[2] });
  await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
    json: { provider: w.users.prov1 } });
  for (let i = 0; i < 20; i++) {
    const r = await w.c.req('POST', `/v1/subjects/${sub}/records/visits`, { token: w.tokens.prov1,
      purpose: 'treatment', json: { date: '2026-11-01', reason: canaries[4], notes: canaries[3] } });
    assert.equal(r.status, 201);
  }
  // Read them back (the values do exist, and come back decrypted)...
  const list = await w.c.req('GET', `/v1/subjects/${sub}/records/visits?limit=50`, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(list.json.records.length, 20);
  assert.equal(list.json.records[0].fields.notes, canaries[3]);
  const look = await w.c.req('GET', `/v1/subjects?email=${encodeURIComponent(canaries[1])}`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.deepEqual(look.json.subjects, [{ id: sub }]);

  // ...while the server runs (the WAL holds the recent writes)...
  const running = scan();
  assert.ok(running.files.includes('phivault.db-wal'), 'the scan covered the write-ahead log');
  assert.deepEqual(running.hits, []);
  // ...and after it stopped and checkpointed.
  await srv.stop();
  const stopped = scan();
  assert.deepEqual(stopped.hits, []);
  await srv.start();
  w.c = srv.client;
});

test('the key file holds keys, not data, and is private', async () => {
  const st = (await import('node:fs')).statSync;
  assert.equal(st(srv.data).mode & 0o777, 0o700);
  for (const f of readdirSync(srv.data)) assert.equal(st(path.join(srv.data, f)).mode & 0o077, 0, f);
  const keyfile = readFileSync(path.join(srv.data, 'master.key'), 'utf8');
  assert.match(keyfile, /^phivault-keyring 1\nindex [0-9a-f]{64}\nmaster 1 [0-9a-f]{64}\nactive 1\n$/);
  // The master key never appears in the server log.
  const key = /master 1 ([0-9a-f]{64})/.exec(keyfile)[1];
  assert.ok(!srv.log().includes(key));
});
