// Marketing on health data without a written authorization is denied, always: even under a policy
// whose marketing purposes name every category, health data included.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SRC, auditOf, startServer, world } from './lib/harness.js';

let srv, w, rec;
before(async () => {
  srv = await startServer({ policy: `${SRC}/tests/unit/policies/good/marketing-health.yaml` });
  w = await world(srv);
  const r = await w.c.req('POST', `/v1/subjects/${w.subject}/records/conditions`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { condition: 'psoriasis' } });
  assert.equal(r.status, 201, r.text);
  rec = r.json.id;
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const read = (purpose = 'marketing') => w.c.req('GET', `/v1/subjects/${w.subject}/records/conditions/${rec}`,
  { token: w.tokens.staff1, purpose });
const consent = (json) => w.c.req('POST', `/v1/subjects/${w.subject}/consents`, { token: w.tokens.staff1,
  purpose: 'operations', json });

test('a marketing read of health data without authorization is refused, and audited', async () => {
  for (const r of [await read(), await w.c.req('GET', `/v1/subjects/${w.subject}/records/conditions`,
    { token: w.tokens.staff1, purpose: 'marketing' })]) {
    assert.equal(r.status, 403);
    assert.equal(r.json.reason, 'marketing-needs-authorization');
    assert.ok(!r.text.includes('psoriasis'));
  }
  const write = await w.c.req('POST', `/v1/subjects/${w.subject}/records/conditions`, { token: w.tokens.staff1,
    purpose: 'marketing', json: { condition: 'interested in offers' } });
  assert.equal(write.status, 403);
  assert.equal(write.json.reason, 'marketing-needs-authorization');
  // Marketing on data that is not health data is another matter: the profile is readable.
  const prof = await w.c.req('GET', `/v1/subjects/${w.subject}`, { token: w.tokens.staff1, purpose: 'marketing' });
  assert.equal(prof.status, 200);
  const audit = (await auditOf(w, w.subject)).filter((e) => e.reason === 'marketing-needs-authorization');
  assert.deepEqual(audit.map((e) => [e.action, e.purpose, e.decision]),
    [['record.read', 'marketing', 'deny'], ['record.list', 'marketing', 'deny'], ['record.create', 'marketing', 'deny']]);
});

test('with a written authorization held, marketing may use the health data its purpose covers', async () => {
  const g = await consent({ kind: 'health_marketing', action: 'grant', source: 'written',
    evidence: 'Authorization form signed at the front desk' });
  assert.equal(g.status, 201);
  const r = await read();
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.fields, { condition: 'psoriasis' });
  // The authorization names the purpose marketing: another marketing purpose is still refused.
  const promo = await read('promotions');
  assert.equal(promo.status, 403);
  assert.equal(promo.json.reason, 'marketing-needs-authorization');
});

test('withdrawing the authorization stops marketing on health data at once', async () => {
  assert.equal((await consent({ kind: 'health_marketing', action: 'withdraw', source: 'written' })).status, 201);
  const r = await read();
  assert.equal(r.status, 403);
  assert.equal(r.json.reason, 'marketing-needs-authorization');
  // An authorization for research does not authorize marketing.
  await consent({ kind: 'research_use', action: 'grant', source: 'written', evidence: 'Research consent form' });
  assert.equal((await read()).status, 403);
  assert.equal((await read('research')).status, 200);
});

test('a channel the policy does not offer is never used', async () => {
  // This policy contacts people by email and SMS only.
  const r = await w.c.req('GET', `/v1/subjects/${w.subject}/contact-check?channel=phone&purpose=operations`,
    { token: w.tokens.staff1 });
  assert.equal(r.status, 200);
  assert.deepEqual([r.json.allowed, r.json.reason], [false, 'channel-not-offered']);
  const mail = await w.c.req('GET', `/v1/subjects/${w.subject}/contact-check?channel=email&purpose=operations`,
    { token: w.tokens.staff1 });
  assert.deepEqual([mail.json.allowed, mail.json.reason], [true, 'permit']);
});
