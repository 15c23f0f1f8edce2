// The consent ledger: grants and withdrawals of the kinds the policy declares, append-only and
// audited; withdrawal stops future use while past entries stay; cookie choices; Global Privacy
// Control; the disclosure check that never shares SMS numbers or SMS consent.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { auditOf, sqlite, startServer, world } from './lib/harness.js';

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const ledger = (subject, token = w.tokens.staff1, purpose = 'operations') =>
  w.c.req('GET', `/v1/subjects/${subject}/consents`, { token, purpose });
const record = (subject, json, token = w.tokens.staff1, purpose = 'operations') =>
  w.c.req('POST', `/v1/subjects/${subject}/consents`, { token, purpose, json });
const rows = () => Number(sqlite(srv.data, 'SELECT count(*) FROM consents').trim());

test('enrollment puts the acceptance of the policy version in the ledger', async () => {
  const r = await ledger(w.subject);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.entries.map((e) => [e.kind, e.action, e.policy_version, e.actor]),
    [['policy', 'grant', w.version, w.users.staff1]]);
  assert.equal(r.json.current.policy.held, true);
  // Kinds without entries hold the policy's default: opt-in marketing is not held, reminders are.
  assert.deepEqual(r.json.current.marketing_email, { held: false, since: null, source: null, by_default: true,
    type: 'marketing', channel: 'email', description: 'Offers and news by email.' });
  assert.equal(r.json.current.service_sms.held, true);
  assert.equal(r.json.current.service_sms.by_default, true);
});

test('grants and withdrawals are appended with time, source and version; withdrawal stops future use',
  async () => {
    const profile = () => w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.staff1,
      purpose: 'marketing' });
    assert.equal((await profile()).status, 403);
    const g = await record(w.subject, { kind: 'marketing_email', action: 'grant', source: 'web' },
      w.tokens.grace, 'self');
    assert.equal(g.status, 201);
    assert.match(g.json.id, /^cns_[0-9a-z]{26}$/);
    assert.deepEqual([g.json.kind, g.json.action, g.json.source, g.json.policy_version, g.json.actor],
      ['marketing_email', 'grant', 'web', w.version, w.users.grace]);
    assert.ok(Math.abs(Date.parse(g.json.time) - Date.now()) < 60000);
    const used = await profile();
    assert.equal(used.status, 200);
    assert.equal(used.json.profile.fields.email, 'grace@example.org');

    const wd = await record(w.subject, { kind: 'marketing_email', action: 'withdraw', source: 'web' },
      w.tokens.grace, 'self');
    assert.equal(wd.status, 201);
    const refused = await profile();
    assert.equal(refused.status, 403);
    assert.equal(refused.json.reason, 'consent-required');

    // Past entries stay: both are in the ledger, in order, and the earlier use stays on record.
    const l = await ledger(w.subject);
    const mail = l.json.entries.filter((e) => e.kind === 'marketing_email');
    assert.deepEqual(mail.map((e) => [e.id, e.action]), [[g.json.id, 'grant'], [wd.json.id, 'withdraw']]);
    assert.equal(l.json.current.marketing_email.held, false);
    assert.equal(l.json.current.marketing_email.since, wd.json.time);
    const audit = await auditOf(w, w.subject);
    assert.deepEqual(audit.filter((e) => e.collection === 'marketing_email')
      .map((e) => [e.action, e.record, e.decision, e.actor]),
    [['consent.grant', g.json.id, 'permit', w.users.grace], ['consent.withdraw', wd.json.id, 'permit', w.users.grace]]);
    const reads = audit.filter((e) => e.action === 'subject.read' && e.purpose === 'marketing');
    assert.deepEqual(reads.map((e) => [e.decision, e.reason]),
      [['deny', 'consent-required'], ['permit', 'permit'], ['deny', 'consent-required']]);
  });

test('the ledger is append-only: the database itself refuses to change or remove an entry', async () => {
  const before = rows();
  assert.ok(before > 0);
  assert.throws(() => sqlite(srv.data, "UPDATE consents SET granted = 1 WHERE kind = 'marketing_email'"),
    /append-only/);
  assert.throws(() => sqlite(srv.data, 'DELETE FROM consents'), /append-only/);
  assert.equal(rows(), before);
});

test('bad input gets a clear error and records nothing', async () => {
  const before = rows();
  const cases = [
    [{ kind: 'marketing_fax', action: 'grant' }, 400, 'kind'],
    [{ kind: 'marketing_email', action: 'maybe' }, 400, 'action'],
    [{ kind: 'marketing_email' }, 400, 'action'],
    [{ kind: 'marketing_email', action: 'grant', source: 'gpc' }, 400, 'source'],
    [{ kind: 'marketing_email', action: 'grant', source: 7 }, 400, 'source'],
    [{ kind: 'marketing_email', action: 'grant', note: 'x' }, 400, 'note'],
    [{ kind: 'marketing_email', action: 'grant', evidence: 'x'.repeat(2049) }, 400, 'evidence'],
    [{ kind: 'health_marketing', action: 'grant', source: 'written' }, 400, 'evidence'],
    [{ kind: 'health_marketing', action: 'grant', source: 'web', evidence: 'clicked a box' }, 400, 'evidence'],
    [{ kind: 'marketing_email', action: 'grant', policy_version: w.version }, 400, 'policy_version'],
    [{ kind: 'policy', action: 'grant', policy_version: 'an-old-version' }, 422, undefined],
  ];
  for (const [json, status, field] of cases) {
    const r = await record(w.subject, json);
    assert.equal(r.status, status, JSON.stringify(json));
    assert.equal(r.json.field, field, JSON.stringify(json));
    assert.ok(r.json.detail, JSON.stringify(json));
  }
  const wrongType = await w.c.req('POST', `/v1/subjects/${w.subject}/consents`, { token: w.tokens.staff1,
    purpose: 'operations', body: 'kind=marketing_email', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(wrongType.status, 415);
  assert.equal(rows(), before);
});

test('who may record: the person for themselves, staff for operations; no one else', async () => {
  const other = await w.enroll({ name: 'Other Person' });
  const before = rows();
  const tries = [
    [w.tokens.grace, 'self', 'not-own-subject'],
    [w.tokens.admin, 'operations', 'role-not-allowed-purpose'],
    [w.tokens.prov2, 'treatment', 'not-assigned'],
  ];
  for (const [token, purpose, reason] of tries) {
    const r = await record(other, { kind: 'research', action: 'grant' }, token, purpose);
    assert.equal(r.status, 403);
    assert.equal(r.json.reason, reason);
  }
  const none = await record('sub_00000000000000000000000000', { kind: 'research', action: 'grant' });
  assert.equal(none.status, 404);
  assert.equal(rows(), before);
  const denied = (await auditOf(w, other)).filter((e) => e.action === 'consent.grant');
  assert.deepEqual(denied.map((e) => [e.decision, e.reason, e.collection]), tries.map((t) => ['deny', t[2], 'research']));
});

test('a written authorization is kept with its evidence, sealed under the person\'s key', async () => {
  const evidence = 'Signed form HM-7, scanned; paper copy in cabinet 3';
  const r = await record(w.subject, { kind: 'health_marketing', action: 'grant', source: 'written', evidence });
  assert.equal(r.status, 201);
  assert.equal(r.json.evidence, evidence);
  const l = await ledger(w.subject);
  assert.equal(l.json.entries.find((e) => e.id === r.json.id).evidence, evidence);
  assert.equal(l.json.current.health_marketing.held, true);
  assert.equal(sqlite(srv.data, "SELECT count(*) FROM consents WHERE CAST(evidence AS TEXT) LIKE '%cabinet%'").trim(), '0');
});

test('cookie choices: each category is a ledger entry; necessary cookies cannot be refused', async () => {
  const put = (json, token = w.tokens.grace, purpose = 'self') =>
    w.c.req('PUT', `/v1/subjects/${w.subject}/cookies`, { token, purpose, json });
  const r = await put({ necessary: true, functional: true, analytics: false });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { necessary: true, functional: true, analytics: false });
  const before = rows();
  const again = await put({ functional: true, analytics: false });
  assert.deepEqual(again.json, r.json);
  assert.equal(rows(), before, 'the same choice again records nothing new');
  const l = await ledger(w.subject);
  assert.deepEqual(l.json.entries.filter((e) => e.kind.startsWith('cookies_')).map((e) => [e.kind, e.action, e.source]),
    [['cookies_functional', 'grant', 'web'], ['cookies_analytics', 'withdraw', 'web']]);
  for (const bad of [{ necessary: false }, { tracking: true }, { analytics: 'yes' }, {}]) {
    const b = await put(bad);
    assert.equal(b.status, 400, JSON.stringify(bad));
  }
  assert.equal(rows(), before);
  const changed = await put({ analytics: true });
  assert.deepEqual(changed.json, { necessary: true, functional: true, analytics: true });
  const got = await w.c.req('GET', `/v1/subjects/${w.subject}/cookies`, { token: w.tokens.grace, purpose: 'self' });
  assert.deepEqual(got.json, changed.json);
  const other = await put({ analytics: true }, w.tokens.prov2, 'treatment');
  assert.equal(other.status, 403);
});

test('Global Privacy Control: an identified subject\'s Sec-GPC: 1 records the opt-out, and the answer says so',
  async () => {
    const gpc = { 'sec-gpc': '1' };
    await record(w.subject, { kind: 'sale_sharing', action: 'grant', source: 'web' }, w.tokens.grace, 'self');
    const r = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.grace, purpose: 'self', headers: gpc });
    assert.equal(r.status, 200);
    assert.equal(r.headers['gpc-honored'], '1');
    let l = await ledger(w.subject);
    const sale = l.json.entries.filter((e) => e.kind === 'sale_sharing');
    assert.deepEqual(sale.map((e) => [e.action, e.source]), [['grant', 'web'], ['withdraw', 'gpc']]);
    assert.equal(l.json.current.sale_sharing.held, false);
    // Recorded once: the next requests carrying the signal are honored without new entries.
    const n = rows();
    const r2 = await w.c.req('GET', `/v1/subjects/${w.subject}/consents`, { token: w.tokens.grace, purpose: 'self', headers: gpc });
    assert.equal(r2.headers['gpc-honored'], '1');
    assert.equal(rows(), n);
    // Without the signal nothing is said; from staff (no subject of their own) nothing is recorded.
    const plain = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.grace, purpose: 'self' });
    assert.equal(plain.headers['gpc-honored'], undefined);
    const staff = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.staff1, purpose: 'operations', headers: gpc });
    assert.equal(staff.headers['gpc-honored'], undefined);
    assert.equal(rows(), n);
    const audit = (await auditOf(w, w.subject)).filter((e) => e.reason === 'gpc');
    assert.deepEqual(audit.map((e) => [e.action, e.collection, e.actor]), [['consent.withdraw', 'sale_sharing', w.users.grace]]);
    const wk = await w.c.req('GET', '/.well-known/gpc.json');
    assert.equal(wk.json.gpc, true);
    l = await ledger(w.subject);
    assert.equal(l.json.current.sale_sharing.source, 'gpc');
  });

test('the disclosure check never lets SMS numbers or SMS consent go to any recipient', async () => {
  const check = (q, token = w.tokens.staff1, purpose = 'payment') =>
    w.c.req('GET', `/v1/subjects/${w.subject}/disclosure-check?${q}`, { token, purpose });
  const cases = [
    ['recipient=acme-billing&collection=payments', true, 'permit'],
    ['recipient=acme-billing&collection=profile&fields=name,email', true, 'permit'],
    ['recipient=acme-billing&collection=profile&fields=name,phone', false, 'sms-never-shared'],
    ['recipient=acme-billing&collection=profile&fields=phone', false, 'sms-never-shared'],
    ['recipient=acme-billing&collection=profile', false, 'purpose-excludes-field'],
    ['recipient=acme-billing&consents=marketing_sms', false, 'sms-never-shared'],
    ['recipient=acme-billing&consents=service_sms', false, 'sms-never-shared'],
    ['recipient=acme-billing&consents=marketing_email', true, 'permit'],
    ['recipient=someone-else&collection=payments', false, 'unknown-recipient'],
  ];
  for (const [q, allowed, reason] of cases) {
    const r = await check(q);
    assert.equal(r.status, 200, q);
    assert.deepEqual([r.json.allowed, r.json.reason], [allowed, reason], q);
  }
  for (const q of ['recipient=acme-billing', 'recipient=acme-billing&collection=nope',
    'recipient=acme-billing&collection=profile&fields=ssn', 'recipient=acme-billing&consents=nope']) {
    assert.equal((await check(q)).status, 400, q);
  }
  const prov = await check('recipient=acme-billing&collection=payments', w.tokens.prov2, 'treatment');
  assert.equal(prov.status, 403);
  const audit = (await auditOf(w, w.subject)).filter((e) => e.action === 'disclosure.check');
  assert.ok(audit.some((e) => e.recipient === 'acme-billing' && e.reason === 'sms-never-shared' && e.decision === 'deny'));
  assert.ok(audit.some((e) => e.recipient === '?' && e.reason === 'unknown-recipient'));
});

test('GET /v1/policy shows the consent kinds, the channels and the change', async () => {
  const p = (await w.c.req('GET', '/v1/policy')).json;
  assert.deepEqual(p.consent_kinds.health_marketing, { type: 'authorization', default: 'withdrawn',
    authorizes: ['marketing'], description: 'Written authorization to use health information for marketing.' });
  assert.equal(p.consent_kinds.service_sms.default, 'granted');
  assert.deepEqual(p.communications.channels, ['email', 'sms', 'phone', 'mail']);
  assert.deepEqual(p.change, { material: false, notice_days: 0 });
});
