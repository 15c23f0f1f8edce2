// Backups: taken online under write load, restored into a new data directory with the data and
// an intact audit log; data without keys, so a person erased after a backup stays erased in it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, BIN, PASSWORD, Server, cli, cliAsync, sqlite, startServer, world } from './lib/harness.js';

const DAY = 86400;
const YEAR = 365 * DAY;

let srv, w;
const restored = [];
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  for (const s of restored) await s.stop();
  await srv.stop();
  srv.remove();
});

const at = (name) => path.join(srv.dir, name);

// A server on a restored data directory, sharing the clock of the original.
async function serve(data) {
  const s = new Server(srv.dir, data, [], srv.clockFile);
  s.offset = srv.offset;
  await s.start();
  restored.push(s);
  return s;
}

async function signIn(s, names) {
  const t = {};
  for (const n of names) t[n] = await s.client.login(n, n === 'admin' ? ADMIN_PASSWORD : PASSWORD(n));
  return t;
}

test('a backup taken under write load restores with its data and an intact audit log', async () => {
  const load = { stop: false, acked: [], failures: [] };
  const worker = async (k) => {
    for (let i = 0; !load.stop; i++) {
      const notes = `load-${k}-${i}`;
      const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
        purpose: 'treatment', json: { date: '2026-11-05', notes } });
      if (r.status === 201) load.acked.push({ id: r.json.id, notes });
      else load.failures.push(r.status);
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  while (load.acked.length < 20) await new Promise((res) => setTimeout(res, 10));
  const before = load.acked.slice();
  const b = await cliAsync(['backup', '--data', srv.data, '--keys', at('keys'), at('backup1')], { env: srv.env() });
  const during = load.acked.length;
  while (load.acked.length < during + 20) await new Promise((res) => setTimeout(res, 10));
  load.stop = true;
  await Promise.all(workers);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /^backup written to .*backup1: \d+ bytes, \d+ subjects$/m);
  assert.deepEqual(load.failures, [], 'the server kept serving writes through the backup');

  const r = cli(['restore', '--keys', at('keys'), '--data', at('restored1'), at('backup1')], { env: srv.env() });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^audit log intact: \d+ entries$/m);
  assert.match(r.stdout, /^subjects erased since the backup \(data key destroyed\): 0$/m);
  const v = cli(['audit', 'verify', '--data', at('restored1')]);
  assert.equal(v.status, 0, v.stdout);

  // Consistent: every write acknowledged before the backup began is there and reads back whole;
  // writes after it ended are not; nothing half-written.
  const ids = sqlite(at('restored1'), `SELECT id FROM records WHERE collection = 'visits' AND subject_id = '${w.subject}'`)
    .trim().split('\n').filter(Boolean);
  const have = new Set(ids);
  for (const a of before) assert.ok(have.has(a.id), `${a.id} acknowledged before the backup`);
  assert.ok(ids.length < load.acked.length, 'writes after the backup are not in it');
  const s = await serve(at('restored1'));
  const t = await signIn(s, ['prov1']);
  const notes = new Map(load.acked.map((a) => [a.id, a.notes]));
  for (const id of ids) {
    const rec = await s.client.req('GET', `/v1/subjects/${w.subject}/records/visits/${id}`, { token: t.prov1, purpose: 'treatment' });
    assert.equal(rec.status, 200);
    assert.equal(rec.json.fields.notes, notes.get(id));
  }
  const grace = await s.client.req('GET', `/v1/subjects/${w.subject}`, { token: (await signIn(s, ['staff1'])).staff1, purpose: 'operations' });
  assert.equal(grace.json.profile.fields.name, 'Grace Hopper');
  await s.stop();
});

test('a backup carries no key material; the key copy goes apart, replacing the last one', () => {
  assert.deepEqual(readdirSync(at('backup1')).sort(), ['audit.pub', 'backup.json', 'phivault.db', 'policy.yaml']);
  for (const f of readdirSync(at('backup1'))) assert.equal(statSync(path.join(at('backup1'), f)).mode & 0o077, 0, f);
  assert.equal(statSync(at('backup1')).mode & 0o777, 0o700);
  const manifest = JSON.parse(readFileSync(path.join(at('backup1'), 'backup.json'), 'utf8'));
  assert.equal(manifest.format, 1);
  assert.match(manifest.blake2b, /^[0-9a-f]{64}$/);
  // Neither the master key nor any wrapped data key is in any file of the backup.
  const master = /master \d+ ([0-9a-f]{64})/.exec(readFileSync(path.join(srv.data, 'master.key'), 'utf8'))[1];
  const wrapped = execFileSync('sqlite3', [path.join(srv.data, 'keys.db'), 'SELECT hex(wrapped) FROM subject_keys'])
    .toString().trim().split('\n').map((h) => Buffer.from(h, 'hex'));
  for (const f of readdirSync(at('backup1'))) {
    const bytes = readFileSync(path.join(at('backup1'), f));
    assert.ok(!bytes.includes(master) && !bytes.includes(Buffer.from(master, 'hex')), f);
    for (const k of wrapped) assert.ok(!bytes.includes(k), f);
  }
  assert.deepEqual(readdirSync(at('keys')).sort(), ['audit.key', 'audit.pub', 'keys.db', 'master.key']);
  assert.equal(statSync(at('keys')).mode & 0o777, 0o700);
});

test('after a person\'s key is destroyed, an older backup no longer yields their data', async () => {
  const sub = await w.enroll({ name: 'Erased Later', email: 'erased.later@example.org' });
  await w.c.req('POST', `/v1/subjects/${sub}/assignments`, { token: w.tokens.staff1, purpose: 'operations', json: { provider: w.users.prov1 } });
  const v = await w.c.req('POST', `/v1/subjects/${sub}/records/visits`, { token: w.tokens.prov1, purpose: 'treatment',
    json: { date: '2026-11-06', notes: 'in the old backup' } });
  assert.equal(v.status, 201);
  const b = cli(['backup', '--data', srv.data, '--keys', at('keys'), at('backup2')], { env: srv.env() });
  assert.equal(b.status, 0, b.stderr);
  const sealedInBackup = sqlite(at('backup2'), `SELECT count(*) FROM records WHERE subject_id = '${sub}'`).trim();
  assert.equal(sealedInBackup, '2', 'the backup holds the person\'s sealed profile and visit');

  // Closed, and 7 years past the last visit: the sweep erases the person and destroys their key.
  assert.equal((await w.c.req('POST', `/v1/subjects/${sub}/close`, { token: w.tokens.staff1, purpose: 'operations' })).status, 200);
  srv.advance(7 * YEAR + 30 * DAY);
  const sw = cli(['sweep', '--data', srv.data], { env: srv.env() });
  assert.match(sw.stdout, /^subjects erased \(data key destroyed\): 1$/m);
  // The next backup replaces the key copy: no copy of the key is left anywhere.
  assert.equal(cli(['backup', '--data', srv.data, '--keys', at('keys'), at('backup3')], { env: srv.env() }).status, 0);
  const keyRow = (dir) => execFileSync('sqlite3', [path.join(dir, 'keys.db'),
    `SELECT count(*) FROM subject_keys WHERE subject_id = '${sub}'`]).toString().trim();
  assert.equal(keyRow(srv.data), '0');
  assert.equal(keyRow(at('keys')), '0');

  // The old backup restored with the key material that exists now: the person stays erased.
  const r = cli(['restore', '--keys', at('keys'), '--data', at('restored2'), at('backup2')], { env: srv.env() });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^subjects erased since the backup \(data key destroyed\): 1$/m);
  assert.equal(sqlite(at('restored2'), `SELECT count(*) FROM records WHERE subject_id = '${sub}'`).trim(), '0');
  assert.equal(sqlite(at('restored2'), `SELECT count(*) FROM subjects WHERE id = '${sub}' AND status <> 'erased'`).trim(), '0');
  assert.equal(cli(['audit', 'verify', '--data', at('restored2')]).status, 0);
  const s = await serve(at('restored2'));
  const t = await signIn(s, ['staff1', 'prov1']);
  assert.equal((await s.client.req('GET', `/v1/subjects/${sub}`, { token: t.staff1, purpose: 'operations' })).status, 404);
  assert.equal((await s.client.req('GET', `/v1/subjects?email=erased.later@example.org`, { token: t.staff1, purpose: 'operations' })).json.subjects.length, 0);
  // Everyone else is there.
  const grace = await s.client.req('GET', `/v1/subjects/${w.subject}`, { token: t.staff1, purpose: 'operations' });
  assert.equal(grace.json.profile.fields.name, 'Grace Hopper');
  // Even opened directly, the old backup's rows of the person are ciphertext without a key.
  assert.ok(!readFileSync(path.join(at('backup2'), 'phivault.db')).includes('in the old backup'));
  await s.stop();
});

test('restore refuses what it cannot trust and leaves nothing behind', () => {
  const refuse = (args, pattern) => {
    const r = cli(['restore', ...args], { env: srv.env() });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, pattern);
  };
  // An existing directory is never overwritten.
  refuse(['--keys', at('keys'), '--data', at('restored1'), at('backup1')], /already exists/);
  // A backup changed after it was written.
  execFileSync('cp', ['-r', at('backup1'), at('tampered')]);
  const db = path.join(at('tampered'), 'phivault.db');
  const bytes = readFileSync(db);
  bytes[bytes.length - 100] ^= 0xff;
  writeFileSync(db, bytes);
  refuse(['--keys', at('keys'), '--data', at('nope1'), at('tampered')], /does not match its manifest hash/);
  assert.ok(!existsSync(at('nope1')));
  // Key material of another data directory did not sign this log.
  const other = at('other');
  assert.equal(cli(['init', '--data', other], { env: { PHIVAULT_ADMIN_PASSWORD: ADMIN_PASSWORD } }).status, 0);
  refuse(['--keys', other, '--data', at('nope2'), at('backup1')], /did not sign this backup's log/);
  assert.ok(!existsSync(at('nope2')));
  refuse(['--keys', at('keys'), '--data', at('nope3'), at('no-such-backup')], /not a phivault backup/);
  assert.ok(!existsSync(at('nope3')));
  // Usage, and a backup into an existing directory.
  assert.equal(cli(['restore', '--data', at('nope4'), at('backup1')]).status, 2);
  assert.equal(cli(['backup', '--data', srv.data]).status, 2);
  const again = cli(['backup', '--data', srv.data, at('backup1')], { env: srv.env() });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already exists/);
});

test('backup and restore show their progress on a terminal, and only there', () => {
  // `script` gives the command a terminal; the bar is redrawn in place with carriage returns.
  const onTty = (args) => execFileSync('script', ['-qec', [BIN, ...args].join(' '), '/dev/null'],
    { env: { ...process.env, ...srv.env() } }).toString();
  const b = onTty(['backup', '--data', srv.data, '--keys', at('keys'), at('backup-tty')]);
  const copied = [...b.matchAll(/copying \(bytes\) \[[#.]+\] (\d+)\/(\d+)/g)];
  assert.ok(copied.length >= 1, b);
  const [, done, total] = copied.at(-1);
  assert.equal(done, total, 'the last redraw is the whole copy');
  assert.ok(Number(total) > 0);
  assert.match(b, /backup written to/);
  const r = onTty(['restore', '--keys', at('keys'), '--data', at('restored-tty'), at('backup-tty')]);
  const checked = [...r.matchAll(/verifying the audit log \(entries\) \[[#.]+\] (\d+)\/(\d+)/g)];
  assert.ok(checked.length >= 1, r);
  assert.equal(checked.at(-1)[1], checked.at(-1)[2]);
  assert.match(r, new RegExp(`audit log intact: ${checked.at(-1)[2]} entries`));
  // Not a terminal: the same commands print their results and no bar.
  const plain = cli(['backup', '--data', srv.data, at('backup-plain')], { env: srv.env() });
  assert.equal(plain.status, 0);
  assert.doesNotMatch(plain.stderr + plain.stdout, /copying \(bytes\) \[/);
});
