// Policy versions: a material change (marked in the file) does not apply to what was collected
// before it until the person accepted the new version, or was notified and did not object within
// the notice period; a change that narrows use applies at once; policy-status tells which version
// governs a person and what they were notified of.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { EXAMPLE_POLICY, PASSWORD, startServer, world } from './lib/harness.js';

const DAY = 86400;
const V1_TEXT = readFileSync(EXAMPLE_POLICY, 'utf8');

function edit(text, from, to) {
  assert.ok(text.includes(from), from);
  return text.replace(from, to);
}
// v2: staff may now use names and birth dates for research (wider: waits), and billing no longer
// uses phone numbers (narrower: applies at once).
const V2_TEXT = edit(edit(edit(V1_TEXT, 'effective: 2026-01-01\n',
  'effective: 2026-06-01\nchange:\n  material: true\n  notice: 30d\n' +
  '  summary: Staff may use names and birth dates for research; billing no longer uses phone numbers.\n'),
'purposes:\n', 'purposes:\n  research:\n    description: Studying outcomes.\n    roles: [staff]\n' +
  '    categories: [user.name, user.demographic]\n'),
'    categories: [user.name, user.contact, user.financial, user.payment]\n',
'    categories: [user.name, user.contact.email, user.financial, user.payment]\n');
// v3: a new contact number for the privacy office; not material.
const V3_TEXT = edit(edit(V2_TEXT, '  material: true\n  notice: 30d\n', '  material: false\n'),
  'phone: "+1-555-0100"', 'phone: "+1-555-0111"');

let srv, w, v1, v2, A, B, C, D, E;
const t = {};

async function login() {
  for (const u of ['staff1', 'po1']) t[u] = await srv.client.login(u, PASSWORD(u));
}
async function switchTo(text) {
  writeFileSync(`${srv.data}/policy.yaml`, text);
  await srv.restart();
  await login();
}
const c = () => srv.client;
const status = async (s) => {
  const r = await c().req('GET', `/v1/subjects/${s}/policy-status`, { token: t.staff1, purpose: 'operations' });
  assert.equal(r.status, 200, r.text);
  return r.json;
};
const research = (s) => c().req('GET', `/v1/subjects/${s}`, { token: t.staff1, purpose: 'research' });
const consent = (s, json) => c().req('POST', `/v1/subjects/${s}/consents`, { token: t.staff1, purpose: 'operations', json });
const notify = (s, json) => c().req('POST', `/v1/subjects/${s}/policy-notices`, { token: t.staff1, purpose: 'operations', json });
const enroll = async (version, name) => {
  const r = await c().req('POST', '/v1/subjects', { token: t.staff1, purpose: 'operations',
    json: { policy_version: version, birth_date: '1970-01-01', profile: { name, email: `${name}@example.org`, phone: '+1 555 0142' } } });
  return r;
};

before(async () => {
  srv = await startServer();
  w = await world(srv);
  await login();
  v1 = w.version;
  A = w.subject;
  C = (await enroll(v1, 'carol')).json.id;
  D = (await enroll(v1, 'dave')).json.id;
  E = (await enroll(v1, 'erin')).json.id;
  await switchTo(V2_TEXT);
  v2 = (await c().req('GET', '/v1/policy')).json.version;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

test('each version in force has its content hash and effective date, and its coming into force is audited',
  async () => {
    const p = (await c().req('GET', '/v1/policy')).json;
    assert.notEqual(v2, v1);
    assert.match(v2, /^[0-9a-f]{32}$/);
    assert.equal(p.effective, '2026-06-01');
    assert.deepEqual(p.change, { material: true, notice_days: 30,
      summary: 'Staff may use names and birth dates for research; billing no longer uses phone numbers.' });
    const sys = (await c().req('GET', '/v1/audit?actor=system&limit=1000', { token: t.po1 })).json.entries;
    assert.deepEqual(sys.filter((e) => e.action === 'policy.in_force').map((e) => e.reason), [v1, v2]);
  });

test('a material change does not apply to people enrolled before it', async () => {
  const s = await status(A);
  assert.equal(s.enrolled_under, v1);
  assert.deepEqual([s.governing.version, s.governing.basis], [v1, 'enrollment']);
  assert.deepEqual([s.current.version, s.current.material, s.current.effective], [v2, true, '2026-06-01']);
  assert.equal(s.pending.version, v2);
  assert.equal(s.pending.summary, s.current.summary);
  assert.deepEqual(s.notified, []);
  const r = await research(A);
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'pending-policy-change');
  // Someone enrolled under the new version is governed by it from the start.
  assert.equal((await enroll(v1, 'late')).status, 422);
  const b = await enroll(v2, 'bob');
  assert.equal(b.status, 201);
  B = b.json.id;
  const bs = await status(B);
  assert.deepEqual([bs.governing.version, bs.pending], [v2, null]);
  const rb = await research(B);
  assert.equal(rb.status, 200);
  assert.deepEqual(Object.keys(rb.json.profile.fields).sort(), ['birth_date', 'name']);
});

test('a change that narrows use applies at once, to everyone', async () => {
  for (const s of [A, B]) {
    const r = await c().req('GET', `/v1/subjects/${s}`, { token: t.staff1, purpose: 'payment' });
    assert.equal(r.status, 200);
    assert.equal(r.json.profile.fields.phone, undefined);
    assert.ok(r.json.profile.withheld.includes('phone'));
  }
});

test('notified and not objecting within the notice period: the new version governs after it', async () => {
  const n = await notify(A, { channel: 'email' });
  assert.equal(n.status, 201);
  assert.equal(n.json.version, v2);
  assert.equal(Date.parse(n.json.objection_deadline) - Date.parse(n.json.time), 30 * DAY * 1000);
  let s = await status(A);
  assert.deepEqual(s.notified.map((x) => [x.version, x.channel, x.objected, x.objection_deadline]),
    [[v2, 'email', false, n.json.objection_deadline]]);
  assert.equal(s.governing.version, v1);
  assert.equal(s.pending.objection_deadline, n.json.objection_deadline);
  assert.equal((await research(A)).status, 403);

  // Carol is notified too, and objects.
  await notify(C, { channel: 'mail' });
  const o = await consent(C, { kind: 'policy', action: 'withdraw', source: 'web' });
  assert.equal(o.status, 201);
  assert.equal(o.json.policy_version, v2);

  srv.advance(29 * DAY);
  await login();
  assert.equal((await status(A)).governing.version, v1, 'not before the notice period ends');
  srv.advance(2 * DAY);
  await login();
  s = await status(A);
  assert.deepEqual([s.governing.version, s.governing.basis, s.pending], [v2, 'notified', null]);
  assert.equal((await research(A)).status, 200);
  const sc = await status(C);
  assert.deepEqual([sc.governing.version, sc.objected.map((x) => x.version)], [v1, [v2]]);
  assert.equal((await research(C)).status, 403);
  // Erin was never notified: the notice period does not run for her.
  assert.equal((await status(E)).governing.version, v1);
  assert.equal((await research(E)).status, 403);
});

test('accepting the new version applies it at once; only the version in force can be accepted', async () => {
  assert.equal((await consent(E, { kind: 'policy', action: 'grant', policy_version: v1 })).status, 422);
  const a = await consent(D, { kind: 'policy', action: 'grant', source: 'web', policy_version: v2 });
  assert.equal(a.status, 201);
  const s = await status(D);
  assert.deepEqual([s.governing.version, s.governing.basis], [v2, 'accepted']);
  assert.deepEqual(s.accepted.map((x) => [x.version, x.source]), [[v1, 'api'], [v2, 'web']]);
  assert.equal((await research(D)).status, 200);
});

test('a later change that is not material applies at once, but not past a change still pending', async () => {
  await switchTo(V3_TEXT);
  const v3 = (await c().req('GET', '/v1/policy')).json.version;
  for (const s of [A, B, D]) {
    const st = await status(s);
    assert.deepEqual([st.governing.version, st.governing.basis], [v3, 'not-material'], s);
    assert.equal((await research(s)).status, 200);
  }
  for (const s of [C, E]) {
    const st = await status(s);
    assert.equal(st.governing.version, v1, s);
    assert.equal(st.pending.version, v3);
    assert.equal((await research(s)).status, 403);
  }
  const denied = (await c().req('GET', `/v1/audit?subject=${C}&limit=1000`, { token: t.po1 })).json.entries
    .filter((e) => e.reason === 'pending-policy-change');
  assert.ok(denied.length >= 2 && denied.every((e) => e.purpose === 'research' && e.decision === 'deny'));
});

test('notices are validated and decided like any use', async () => {
  for (const json of [{}, { channel: 'pigeon' }, { channel: 'email', extra: 1 }, { channel: 7 }]) {
    assert.equal((await notify(A, json)).status, 400, JSON.stringify(json));
  }
  const prov = await c().req('POST', `/v1/subjects/${A}/policy-notices`, {
    token: await c().login('prov2', PASSWORD('prov2')), purpose: 'treatment', json: { channel: 'email' } });
  assert.equal(prov.status, 403);
  assert.equal((await notify('sub_00000000000000000000000000', { channel: 'email' })).status, 404);
});
