// The README's walkthrough, run as written against a fresh server: it must work and show
// what the README says it shows.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, SRC, cli, startServer } from './lib/harness.js';

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv.stop();
  srv.remove();
});

test('the README walkthrough runs and shows what it promises', async () => {
  const readme = readFileSync(path.join(SRC, 'README.md'), 'utf8');
  const block = /<!-- walkthrough:start -->\n```sh\n([\s\S]*?)```\n<!-- walkthrough:end -->/.exec(readme);
  assert.ok(block, 'README has a walkthrough block');
  // Point it at the test server: the two lines a reader edits.
  const script = block[1]
    .replace(/^PV=.*$/m, `PV=${srv.base}`)
    .replace(/^ADMIN_PASSWORD=.*$/m, `ADMIN_PASSWORD='${ADMIN_PASSWORD}'`);
  assert.notEqual(script, block[1]);
  const out = execFileSync('bash', ['-euo', 'pipefail', '-c', script], { encoding: 'utf8' });
  assert.match(out, /^enrolled sub_[0-9a-z]{26}$/m);
  assert.match(out, /\{"status":422,"type":"\/problems\/under-minimum-age"\}/);
  assert.match(out, /\{"status":422,"type":"\/problems\/policy-not-accepted"\}/);
  assert.match(out, /\{"status":403,"reason":"not-assigned"\}/);
  assert.match(out, /\{"date":"2026-11-20","reason":"consultation","notes":"no known allergies"\}/);
  assert.match(out, /"fields":\{"name":"Rosa Parks","birth_date":"1985-03-14"\},"withheld":\["email","phone"\]/);
  assert.match(out, /\{"status":403,"reason":"purpose-excludes-collection"\}/);
  assert.match(out, /\{"subjects":\[\{"id":"sub_/);
  assert.match(out, /\{"status":422,"type":"\/problems\/undeclared-field","field":"ssn"\}/);
  assert.match(out, /\{"status":400,"type":"\/problems\/purpose-required"\}/);
  assert.match(out, /\trecord\.read\tprovider\ttreatment\tpermit\tpermit$/m);
  assert.match(out, /\tsubject\.read\tprovider\ttreatment\tdeny\tnot-assigned$/m);
  assert.ok(!out.includes('000-00-0000'));
  await srv.stop();
  const v = cli(['audit', 'verify', '--data', srv.data]);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^audit log intact: \d+ entries, \d+ signatures checked$/m);
  await srv.start();
});
