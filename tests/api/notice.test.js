// The privacy notice is rendered from the policy file the server enforces (H1): for every policy
// in policies/, every category, purpose, recipient, right and retention is in its notice, in
// Markdown and HTML; docs/notices/ holds exactly what the command renders now; GET /v1/notice
// serves the notice of the policy in force; HTML escapes whatever the policy's text says.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { cli, SRC, startServer } from './lib/harness.js';

const POLICIES = readdirSync(path.join(SRC, 'policies')).filter((f) => f.endsWith('.yaml')).sort();
const RIGHT_DEFAULTS = { access: 30, amend: 60, delete: 45, restrict: 30, portability: 30, object: 30,
  withdraw: 30, know: 45, accounting: 60, complaint: 30 };
const COMPLAINTS = { hhs_ocr: 'Office for Civil Rights', california_ag: 'California Attorney General' };

const unescapeHtml = (s) => s.replace(/<[^>]+>/g, '').replaceAll('&lt;', '<').replaceAll('&gt;', '>')
  .replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
const unescapeMd = (s) => s.replaceAll('`', '').replace(/\\(.)/g, '$1');

// The notice's tables, by section title: each row as its cells in plain text.
function tables(text, format) {
  const out = new Map();
  let section = '';
  for (const line of text.split('\n')) {
    const h = format === 'md' ? /^## (.*)$/.exec(line) : /^<h2>(.*)<\/h2>$/.exec(line);
    if (h) {
      section = format === 'md' ? unescapeMd(h[1]) : unescapeHtml(h[1]);
      out.set(section, []);
      continue;
    }
    let cells;
    if (format === 'md' && line.startsWith('| ') && !line.startsWith('|---')) {
      cells = line.slice(2, -2).split(' | ').map(unescapeMd);
    } else if (format === 'html' && line.startsWith('<tr><td>')) {
      cells = line.slice(8, -10).split('</td><td>').map(unescapeHtml);
    } else {
      continue;
    }
    out.get(section)?.push(cells);
  }
  return out;
}

// What a retention says in words: "7y" is "7 years", "account" "while your account is open".
function retentionWords(r) {
  if (r === 'account') return 'while your account is open';
  if (r === 'forever') return 'without end';
  const m = /^(\d+)(d|mo|y)$/.exec(r);
  assert.ok(m, `retention ${r}`);
  const unit = { d: 'day', mo: 'month', y: 'year' }[m[2]];
  return `${m[1]} ${unit}${m[1] === '1' ? '' : 's'}`;
}

// Everything of the policy the notice lacks; [] when complete.
export function missing(policy, version, text, format) {
  const t = tables(text, format);
  const plain = format === 'md' ? unescapeMd(text) : unescapeHtml(text);
  const problems = [];
  const row = (section, key) => (t.get(section) ?? []).find((cells) => cells[0] === key);
  for (const [key, cat] of Object.entries(policy.categories)) {
    if (!row('What we collect', key)) problems.push(`category ${key}`);
    const r = row('How long we keep it', key);
    const words = retentionWords(String(cat.retention));
    if (!r || !r[1].includes(words) || !r[1].includes(`(${cat.retention})`)) problems.push(`retention of ${key}`);
    // An end-to-end category says so, and the notice says what that means.
    if (cat.store === 'end_to_end' && (!row('What we collect', key)?.at(-1).includes('end-to-end encrypted') ||
      !plain.includes('We hold only these sealed copies'))) problems.push(`end-to-end storage of ${key}`);
  }
  for (const key of Object.keys(policy.purposes)) if (!row('Why we use it', key)) problems.push(`purpose ${key}`);
  for (const key of Object.keys(policy.recipients ?? {})) if (!row('Who receives it', key)) problems.push(`recipient ${key}`);
  if (!policy.recipients && !plain.includes('We disclose your data to no one.')) problems.push('no recipients');
  for (const [right, def] of Object.entries(RIGHT_DEFAULTS)) {
    const given = policy.rights?.[right];
    const days = given === undefined ? def : parseInt(typeof given === 'object' ? given.deadline : given, 10);
    const r = row('Your rights', right);
    if (!r || !r[2].startsWith(`${days} days`)) problems.push(`right ${right} (${days} days)`);
  }
  for (const [what, s] of [['version', version], ['effective date', String(policy.effective)],
    ['organization', policy.organization.name], ['email', policy.organization.contact?.email],
    ['phone', policy.organization.contact?.phone], ['address', policy.organization.contact?.address]]) {
    if (s !== undefined && !plain.includes(s)) problems.push(`${what} ${s}`);
  }
  for (const c of policy.organization.complaints ?? []) {
    if (!plain.includes(COMPLAINTS[c] ?? c)) problems.push(`complaint channel ${c}`);
  }
  return problems;
}

function render(file, format) {
  const r = cli(['notice', file, '--format', format]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function versionOf(file) {
  const m = /version ([0-9a-f]{32})/.exec(cli(['policy', 'check', file]).stdout);
  assert.ok(m, `policy check ${file}`);
  return m[1];
}

for (const name of POLICIES) {
  const file = path.join(SRC, 'policies', name);
  const base = name.replace(/\.yaml$/, '');
  test(`${name}: every category, purpose, recipient, right and retention is in its notice`, () => {
    const policy = YAML.parse(readFileSync(file, 'utf8'));
    for (const format of ['md', 'html']) {
      assert.deepEqual(missing(policy, versionOf(file), render(file, format), format), [], `${name} (${format})`);
    }
  });
  test(`${name}: docs/notices/${base}.md and .html are what the command renders now`, () => {
    for (const format of ['md', 'html']) {
      const doc = path.join(SRC, 'docs', 'notices', `${base}.${format}`);
      assert.ok(existsSync(doc), `docs/notices/${base}.${format} is missing: run scripts/notices`);
      assert.equal(readFileSync(doc, 'utf8'), render(file, format),
        `docs/notices/${base}.${format} differs from the policy: run scripts/notices`);
    }
  });
}

test('the check fails a notice that lacks a category, a retention, a purpose, a recipient or a right', () => {
  const file = path.join(SRC, 'policies', 'example.yaml');
  const policy = YAML.parse(readFileSync(file, 'utf8'));
  const version = versionOf(file);
  const md = render(file, 'md');
  const drop = (text, re) => text.split('\n').filter((l) => !re.test(l)).join('\n');
  assert.deepEqual(missing(policy, version, md, 'md'), []);
  // The retention table's row of one category, and the category's row in what is collected.
  const noRetention = md.replace(/^\| `user\.health\.medical_record` \| 7 years.*\n/m, '');
  assert.notEqual(noRetention, md);
  assert.deepEqual(missing(policy, version, noRetention, 'md'), ['retention of user.health.medical_record']);
  const wrongRetention = md.replace(/(\| `user\.payment` \| )7 years/, '$16 years');
  assert.deepEqual(missing(policy, version, wrongRetention, 'md'), ['retention of user.payment']);
  assert.ok(missing(policy, version, drop(md, /^\| `user\.contact\.email` \| no/), 'md').includes('category user.contact.email'));
  assert.deepEqual(missing(policy, version, drop(md, /^\| `marketing` \|/), 'md'), ['purpose marketing']);
  assert.deepEqual(missing(policy, version, drop(md, /^\| `acme-billing` \|/), 'md'), ['recipient acme-billing']);
  assert.deepEqual(missing(policy, version, md.replace('| `access` | See all', '| `access` | (gone)').replace(/(\| `access` \|.*\| )15 days/, '$130 days'), 'md'),
    ['right access (15 days)']);
  const html = render(file, 'html');
  assert.deepEqual(missing(policy, version, drop(html, /<code>county-court<\/code>/), 'html'), ['recipient county-court']);
  // O7's chat is end-to-end encrypted: its row and the paragraph saying what that means.
  const o7 = path.join(SRC, 'policies', 'o7-therapy.yaml');
  const o7policy = YAML.parse(readFileSync(o7, 'utf8'));
  const o7md = render(o7, 'md');
  assert.deepEqual(missing(o7policy, versionOf(o7), o7md, 'md'), []);
  assert.deepEqual(missing(o7policy, versionOf(o7), o7md.replace('| end-to-end encrypted |', '| encrypted |'), 'md'),
    ['end-to-end storage of user.health.therapy_message']);
  assert.deepEqual(missing(o7policy, versionOf(o7), drop(o7md, /^What is end-to-end encrypted/), 'md'),
    ['end-to-end storage of user.health.therapy_message']);
});

test('HTML escapes every text the policy gives; Markdown escapes its markup', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pvnotice-'));
  try {
    const text = readFileSync(path.join(SRC, 'policies', 'example.yaml'), 'utf8')
      .replace('name: Example Medical Spa', 'name: "<script>alert(1)</script> & \\"Spa\\""')
      .replace('description: Providing care to the person.', 'description: "<img src=x onerror=alert(2)> care | *bold*"');
    const file = path.join(dir, 'evil.yaml');
    writeFileSync(file, text);
    const html = render(file, 'html');
    assert.ok(!html.includes('<script>') && !html.includes('<img'), 'no markup from the policy');
    assert.ok(html.includes('<title>Privacy notice of &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Spa&quot;</title>'));
    assert.ok(html.includes('&lt;img src=x onerror=alert(2)&gt; care | *bold*'));
    const md = render(file, 'md');
    assert.ok(md.includes('\\<img src=x onerror=alert(2)\\> care \\| \\*bold\\*'), 'a | in a cell would split the row');
    assert.ok(md.startsWith('# Privacy notice of \\<script\\>alert(1)\\</script\\> & "Spa"\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('phivault notice: a clear error for a bad policy or format, and nothing on stdout', () => {
  const bad = cli(['notice', path.join(SRC, 'policies', 'example.yaml'), '--format', 'pdf']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /usage: phivault notice POLICY \[--format md\|html\]/);
  const dir = mkdtempSync(path.join(tmpdir(), 'pvnotice-'));
  try {
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(file, 'phivault: 1\norganization: {name: X}\n');
    const r = cli(['notice', file]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /broken\.yaml:\d+:\d+: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GET /v1/notice: the notice of the policy in force, negotiated or by ?format=', async () => {
  const file = path.join(SRC, 'policies', 'o7-therapy.yaml');
  const srv = await startServer({ policy: file });
  try {
    const c = srv.client;
    const md = await c.req('GET', '/v1/notice');
    assert.equal(md.status, 200);
    assert.match(md.headers['content-type'], /^text\/markdown; charset=utf-8/);
    assert.equal(md.text, render(file, 'md'));
    const page = await c.req('GET', '/v1/notice', { headers: { accept: 'text/html,application/xhtml+xml;q=0.9' } });
    assert.match(page.headers['content-type'], /^text\/html; charset=utf-8/);
    assert.equal(page.text, render(file, 'html'));
    const asked = await c.req('GET', '/v1/notice?format=md', { headers: { accept: 'text/html' } });
    assert.equal(asked.text, md.text, '?format= wins over Accept');
    assert.equal((await c.req('GET', '/v1/notice?format=html')).text, page.text);
    const bad = await c.req('GET', '/v1/notice?format=pdf');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'format');
    // The version people accept at enrollment is the one the notice names.
    const { version } = (await c.req('GET', '/v1/policy')).json;
    assert.ok(md.text.includes(`Version \`${version}\``));
  } finally {
    await srv.stop();
    srv.remove();
  }
});
