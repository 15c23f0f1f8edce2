// The command line: init, policy check, and what they refuse.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { EXAMPLE_POLICY, SRC, cli } from './lib/harness.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'pvcli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('init creates a private data directory and prints the admin password once', () => {
  const data = path.join(tmp, 'data1');
  const r = cli(['init', '--data', data, '--policy', EXAMPLE_POLICY], { env: { PHIVAULT_ADMIN_PASSWORD: undefined } });
  assert.equal(r.status, 0, r.stderr);
  const m = /^admin password: ([A-Za-z0-9_-]{24})$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.equal(statSync(data).mode & 0o777, 0o700);
  assert.equal(statSync(path.join(data, 'master.key')).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(data).sort(), ['audit.key', 'audit.pub', 'keys.db', 'master.key', 'phivault.db', 'policy.yaml']);
  assert.ok(!JSON.stringify(readdirSync(data)).includes(m[1]));
});

test('init refuses to touch an existing data directory', () => {
  const data = path.join(tmp, 'data1');
  const before = statSync(path.join(data, 'master.key')).mtimeMs;
  const r = cli(['init', '--data', data, '--policy', EXAMPLE_POLICY], { env: { PHIVAULT_ADMIN_PASSWORD: 'another-password-1' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /already exists/);
  assert.equal(statSync(path.join(data, 'master.key')).mtimeMs, before);
  const empty = path.join(tmp, 'empty');
  mkdirSync(empty);
  assert.equal(cli(['init', '--data', empty]).status, 1);
});

test('init with a bad policy or a weak password leaves nothing behind', () => {
  const bad = path.join(tmp, 'bad.yaml');
  writeFileSync(bad, 'phivault: 1\n');
  const d1 = path.join(tmp, 'nope1');
  const r = cli(['init', '--data', d1, '--policy', bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.yaml:1:1: missing required key 'organization'/);
  assert.throws(() => statSync(d1));
  const d2 = path.join(tmp, 'nope2');
  const w = cli(['init', '--data', d2, '--policy', EXAMPLE_POLICY], { env: { PHIVAULT_ADMIN_PASSWORD: 'short' } });
  assert.equal(w.status, 1);
  assert.match(w.stderr, /12 to 1024 characters/);
  assert.throws(() => statSync(d2));
});

test('policy check accepts the bundled policies and reports every error as FILE:LINE:COLUMN', () => {
  const ok = cli(['policy', 'check', EXAMPLE_POLICY]);
  assert.equal(ok.status, 0);
  assert.match(ok.stdout, /ok: version [0-9a-f]{32}/);
  const file = path.join(tmp, 'two-errors.yaml');
  writeFileSync(file, 'phivault: 1\norganization: {name: X, role: clinic}\neffective: 2026-01-01\nminimum_age: 200\n');
  const r = cli(['policy', 'check', file]);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.length >= 4, r.stderr);
  for (const line of lines) assert.match(line, new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: .+`));
  assert.match(r.stderr, /:2:31: expected covered_entity or business_associate/);
  assert.match(r.stderr, /:4:14: expected an integer from 0 to 120 for minimum_age/);
  const missing = cli(['policy', 'check', path.join(tmp, 'no-such.yaml')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no-such\.yaml:1:1: cannot open/);
});

test('usage errors exit 2', () => {
  assert.equal(cli([]).status, 2);
  assert.equal(cli(['frobnicate']).status, 2);
  assert.equal(cli(['serve']).status, 2);
  assert.equal(cli(['policy', 'check']).status, 2);
  assert.equal(cli(['audit', 'verify']).status, 2);
});

test('every policy under policies/ passes policy check', () => {
  for (const f of readdirSync(path.join(SRC, 'policies')).filter((x) => x.endsWith('.yaml'))) {
    const r = cli(['policy', 'check', path.join(SRC, 'policies', f)]);
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
  }
});
