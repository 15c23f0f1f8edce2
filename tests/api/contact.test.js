// May we contact them? Each channel rule of the contact check: consent per channel and kind of
// message, the confidential-communications choice, what is on file, restriction; and the signed
// one-click unsubscribe links (RFC 8058) a marketing email carries.
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

const check = (subject, channel, purpose, token = w.tokens.staff1, headers = {}) =>
  w.c.req('GET', `/v1/subjects/${subject}/contact-check?channel=${channel}&purpose=${purpose}`,
    { token, headers });
const answer = async (subject, channel, purpose) => {
  const r = await check(subject, channel, purpose);
  assert.equal(r.status, 200, `${channel} ${purpose}: ${r.text}`);
  return [r.json.allowed, r.json.reason];
};
const record = (subject, json) => w.c.req('POST', `/v1/subjects/${subject}/consents`,
  { token: w.tokens.staff1, purpose: 'operations', json });
const prefs = (subject, json) => w.c.req('PUT', `/v1/subjects/${subject}/contact-preferences`,
  { token: w.tokens.staff1, purpose: 'operations', json });
const rows = () => Number(sqlite(srv.data, 'SELECT count(*) FROM consents').trim());

test('account and service messages need no marketing consent; email, phone and SMS reach Grace', async () => {
  const r = await check(w.subject, 'email', 'operations');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { subject_id: w.subject, channel: 'email', purpose: 'operations',
    allowed: true, reason: 'permit', to: 'profile' });
  assert.deepEqual(await answer(w.subject, 'phone', 'payment'), [true, 'permit']);
  // Appointment reminders by text are opt-out in this policy: held until withdrawn.
  assert.deepEqual(await answer(w.subject, 'sms', 'operations'), [true, 'permit']);
});

test('marketing needs the opt-in of its channel, and the marketing email carries its unsubscribe link',
  async () => {
    assert.deepEqual(await answer(w.subject, 'email', 'marketing'), [false, 'consent-required']);
    assert.deepEqual(await answer(w.subject, 'sms', 'marketing'), [false, 'channel-consent-required']);
    assert.equal((await record(w.subject, { kind: 'marketing_email', action: 'grant', source: 'web' })).status, 201);
    const r = await check(w.subject, 'email', 'marketing');
    assert.equal(r.json.allowed, true);
    assert.equal(r.json.unsubscribe.kind, 'marketing_email');
    assert.match(r.json.unsubscribe.token, /^[A-Za-z0-9_-]{55}$/);
    assert.equal(r.json.unsubscribe.path, `/v1/unsubscribe/${r.json.unsubscribe.token}`);
    assert.deepEqual(r.json.unsubscribe.headers, { 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
    // An email consent does not let texts go out; the SMS marketing opt-in does.
    assert.deepEqual(await answer(w.subject, 'sms', 'marketing'), [false, 'channel-consent-required']);
    await record(w.subject, { kind: 'marketing_sms', action: 'grant', source: 'web' });
    const sms = await check(w.subject, 'sms', 'marketing');
    assert.deepEqual([sms.json.allowed, sms.json.unsubscribe], [true, undefined]);
  });

test('a marketing opt-out leaves account and service messages allowed', async () => {
  await record(w.subject, { kind: 'marketing_email', action: 'withdraw', source: 'web' });
  await record(w.subject, { kind: 'marketing_sms', action: 'withdraw', source: 'web' });
  assert.deepEqual(await answer(w.subject, 'email', 'marketing'), [false, 'consent-required']);
  assert.deepEqual(await answer(w.subject, 'sms', 'marketing'), [false, 'channel-consent-required']);
  assert.deepEqual(await answer(w.subject, 'email', 'operations'), [true, 'permit']);
  assert.deepEqual(await answer(w.subject, 'sms', 'operations'), [true, 'permit']);
  // Withdrawing the reminders consent stops service texts, and only them.
  const s = await w.enroll({ name: 'Reminder Refuser', email: 'rr@example.org', phone: '+1 555 0103' });
  await record(s, { kind: 'service_sms', action: 'withdraw', source: 'phone' });
  assert.deepEqual(await answer(s, 'sms', 'operations'), [false, 'channel-consent-required']);
  assert.deepEqual(await answer(s, 'email', 'operations'), [true, 'permit']);
});

test('nothing on file for a channel: no-address', async () => {
  assert.deepEqual(await answer(w.subject, 'mail', 'operations'), [false, 'no-address']);
  const s = await w.enroll({ name: 'No Phone', email: 'np@example.org' });
  assert.deepEqual(await answer(s, 'sms', 'operations'), [false, 'no-address']);
  assert.deepEqual(await answer(s, 'phone', 'payment'), [false, 'no-address']);
});

test('confidential communications: one channel, or a given number, and nothing goes out any other way',
  async () => {
    const s = await w.enroll({ name: 'Private Person', email: 'pp@example.org', phone: '+1 555 0104' });
    const mailOnly = await prefs(s, { channels: ['mail'], addresses: { mail: '9 Quiet Lane, Springfield' } });
    assert.equal(mailOnly.status, 200);
    assert.deepEqual(mailOnly.json.channels, ['mail']);
    for (const [channel, purpose] of [['email', 'operations'], ['sms', 'operations'], ['phone', 'payment'],
      ['email', 'marketing']]) {
      const [allowed, reason] = await answer(s, channel, purpose);
      assert.equal(allowed, false, channel);
      assert.ok(['confidential-communications', 'consent-required'].includes(reason), reason);
    }
    assert.deepEqual(await answer(s, 'email', 'operations'), [false, 'confidential-communications']);
    const mail = await check(s, 'mail', 'operations');
    assert.deepEqual([mail.json.allowed, mail.json.to], [true, 'confidential']);

    // Texts only, and only to the number they gave: the profile's number is not used.
    await prefs(s, { channels: ['sms'], addresses: { sms: '+1 (555) 0199' } });
    const sms = await check(s, 'sms', 'operations');
    assert.deepEqual([sms.json.allowed, sms.json.to], [true, 'confidential']);
    assert.deepEqual(await answer(s, 'phone', 'payment'), [false, 'confidential-communications']);
    assert.deepEqual(await answer(s, 'mail', 'operations'), [false, 'confidential-communications']);

    // A secure portal only: none of the four channels.
    await prefs(s, { channels: ['portal'] });
    for (const channel of ['email', 'sms', 'phone', 'mail']) {
      assert.deepEqual(await answer(s, channel, channel === 'phone' ? 'payment' : 'operations'),
        [false, 'confidential-communications'], channel);
    }
    // Lifting the choice lets everything on file be used again.
    const lifted = await prefs(s, { channels: null });
    assert.equal(lifted.json.channels, null);
    assert.deepEqual(await answer(s, 'email', 'operations'), [true, 'permit']);

    // The addresses are contact data: a purpose without user.contact does not see them.
    await prefs(s, { channels: ['sms'], addresses: { sms: '+1 555 0199' } });
    const pay = await w.c.req('GET', `/v1/subjects/${s}/contact-preferences`, { token: w.tokens.staff1, purpose: 'payment' });
    assert.deepEqual(pay.json.addresses, { sms: '+1 555 0199' });
    await w.c.req('POST', `/v1/subjects/${s}/assignments`, { token: w.tokens.staff1, purpose: 'operations',
      json: { provider: w.users.prov1 } });
    const treat = await w.c.req('GET', `/v1/subjects/${s}/contact-preferences`, { token: w.tokens.prov1, purpose: 'treatment' });
    assert.equal(treat.status, 200);
    assert.deepEqual([treat.json.channels, treat.json.addresses, treat.json.withheld], [['sms'], undefined, ['addresses']]);
    // And they are sealed at rest.
    assert.equal(sqlite(srv.data, "SELECT count(*) FROM contact_prefs WHERE CAST(addresses AS TEXT) LIKE '%0199%' OR CAST(addresses AS TEXT) LIKE '%Quiet%'").trim(), '0');
  });

test('bad contact preferences are refused and change nothing', async () => {
  const s = await w.enroll({ name: 'Careful Person', email: 'cp@example.org' });
  for (const json of [{}, { channels: [] }, { channels: ['fax'] }, { channels: 'mail' },
    { channels: ['mail'], addresses: { sms: '+1 555 0100' } }, { channels: ['sms'], addresses: { sms: '12' } },
    { channels: ['email'], addresses: { email: 'not-an-address' } }, { channels: ['mail'], other: 1 }]) {
    const r = await prefs(s, json);
    assert.equal(r.status, 400, JSON.stringify(json));
  }
  assert.equal(sqlite(srv.data, `SELECT count(*) FROM contact_prefs WHERE subject_id = '${s}'`).trim(), '0');
  assert.deepEqual(await answer(s, 'email', 'operations'), [true, 'permit']);
});

test('a restricted person is not contacted at all', async () => {
  const s = await w.enroll({ name: 'Restricted Person', email: 'rp@example.org', phone: '+1 555 0105' });
  // Restriction itself is set by the rights workflow; here the row is set as that workflow would.
  sqlite(srv.data, `UPDATE subjects SET status = 'restricted' WHERE id = '${s}'`);
  for (const [channel, purpose] of [['email', 'operations'], ['sms', 'operations'], ['phone', 'payment']]) {
    assert.deepEqual(await answer(s, channel, purpose), [false, 'subject-restricted'], channel);
  }
});

test('who may ask, and for what: the usual purpose rules, and clear errors', async () => {
  const missing = await w.c.req('GET', `/v1/subjects/${w.subject}/contact-check?purpose=operations`, { token: w.tokens.staff1 });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.field, 'channel');
  const fax = await check(w.subject, 'fax', 'operations');
  assert.equal(fax.status, 400);
  const none = await w.c.req('GET', `/v1/subjects/${w.subject}/contact-check?channel=email`, { token: w.tokens.staff1 });
  assert.equal(none.status, 400);
  assert.equal(none.json.type, '/problems/purpose-required');
  const unknown = await check(w.subject, 'email', 'gossip');
  assert.equal(unknown.json.type, '/problems/unknown-purpose');
  const differ = await check(w.subject, 'email', 'operations', w.tokens.staff1, { 'x-purpose': 'marketing' });
  assert.equal(differ.status, 400);
  assert.equal(differ.json.field, 'purpose');
  const same = await check(w.subject, 'email', 'operations', w.tokens.staff1, { 'x-purpose': 'operations' });
  assert.equal(same.status, 200);
  const prov = await check(w.subject, 'email', 'marketing', w.tokens.prov1);
  assert.equal(prov.status, 403);
  assert.equal(prov.json.reason, 'role-not-allowed-purpose');
  const unassigned = await check(w.subject, 'phone', 'treatment', w.tokens.prov2);
  assert.equal(unassigned.status, 403);
  const nobody = await check('sub_00000000000000000000000000', 'email', 'operations');
  assert.equal(nobody.status, 404);
  const audit = (await auditOf(w, w.subject)).filter((e) => e.action === 'contact.check');
  assert.ok(audit.some((e) => e.collection === 'sms' && e.purpose === 'marketing' && e.reason === 'channel-consent-required'));
  assert.ok(audit.some((e) => e.collection === 'email' && e.decision === 'permit'));
});

// ---- unsubscribe links ----

async function tokenFor(subject) {
  await record(subject, { kind: 'marketing_email', action: 'grant', source: 'web' });
  const r = await check(subject, 'email', 'marketing');
  assert.equal(r.json.allowed, true);
  return r.json.unsubscribe.token;
}

const oneClick = (token, { type = 'application/x-www-form-urlencoded', body = 'List-Unsubscribe=One-Click', headers = {} } = {}) =>
  w.c.req('POST', `/v1/unsubscribe/${token}`, { body, headers: { 'content-type': type, ...headers } });

test('one-click unsubscribe (RFC 8058): no login, the marketing consent is withdrawn at once', async () => {
  const s = await w.enroll({ name: 'Newsletter Reader', email: 'nr@example.org' });
  const token = await tokenFor(s);
  // A GET (a browser, or a link scanner) shows a page and changes nothing.
  const page = await w.c.req('GET', `/v1/unsubscribe/${token}`);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.match(page.text, /<form method="post" action="\/v1\/unsubscribe\//);
  assert.ok(page.text.includes('Example Medical Spa'));
  assert.ok(!page.text.includes('nr@example.org'));
  assert.deepEqual(await answer(s, 'email', 'marketing'), [true, 'permit']);

  const r = await oneClick(token);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { unsubscribed: true, kind: 'marketing_email', organization: 'Example Medical Spa' });
  assert.deepEqual(await answer(s, 'email', 'marketing'), [false, 'consent-required']);
  assert.deepEqual(await answer(s, 'email', 'operations'), [true, 'permit']);
  const l = await w.c.req('GET', `/v1/subjects/${s}/consents`, { token: w.tokens.staff1, purpose: 'operations' });
  const last = l.json.entries.at(-1);
  assert.deepEqual([last.kind, last.action, last.source, last.actor], ['marketing_email', 'withdraw', 'link', 'link']);
  const audit = (await auditOf(w, s)).filter((e) => e.collection === 'marketing_email');
  assert.deepEqual(audit.at(-1).action, 'consent.withdraw');
  assert.equal(audit.at(-1).reason, 'unsubscribe-link');
});

test('a replayed unsubscribe link is idempotent: same answer, no new entry', async () => {
  const s = await w.enroll({ name: 'Double Clicker', email: 'dc@example.org' });
  const token = await tokenFor(s);
  const first = await oneClick(token);
  const n = rows();
  for (let i = 0; i < 3; i++) {
    const again = await oneClick(token);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, first.json);
  }
  assert.equal(rows(), n);
  const audit = (await auditOf(w, s)).filter((e) => e.action === 'consent.unsubscribe');
  assert.deepEqual(audit.map((e) => e.reason), ['already-withdrawn', 'already-withdrawn', 'already-withdrawn']);
  // A click from a browser (Accept: text/html) is answered with a page.
  const page = await oneClick(token, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.ok(page.text.includes('You are unsubscribed'));
  assert.ok(!page.text.includes('<form'));
  assert.equal(rows(), n);
  // A later grant is not undone by itself; the old link, clicked again, withdraws again.
  await record(s, { kind: 'marketing_email', action: 'grant', source: 'web' });
  assert.deepEqual(await answer(s, 'email', 'marketing'), [true, 'permit']);
  await oneClick(token, { type: 'multipart/form-data; boundary=x', body: '--x\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--x--\r\n' });
  assert.deepEqual(await answer(s, 'email', 'marketing'), [false, 'consent-required']);
});

test('unsubscribe links are tamper-proof: an altered, cut or forged token changes nothing', async () => {
  const s = await w.enroll({ name: 'Target Person', email: 'tp@example.org' });
  const token = await tokenFor(s);
  const flip = (t, i) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
  const forged = [flip(token, 3), flip(token, 20), flip(token, 54), token.slice(0, 40), `${token}AA`,
    'A'.repeat(55), 'not-a-token', Buffer.alloc(41, 1).toString('base64url')];
  const n = rows();
  for (const t of forged) {
    const r = await oneClick(t);
    assert.equal(r.status, 404, t);
    assert.equal(r.json.type, '/problems/not-found');
    const g = await w.c.req('GET', `/v1/unsubscribe/${t}`);
    assert.equal(g.status, 404);
  }
  assert.equal(rows(), n);
  assert.deepEqual(await answer(s, 'email', 'marketing'), [true, 'permit']);
  const denied = (await w.c.req('GET', '/v1/audit?actor=anonymous&limit=1000', { token: w.tokens.po1 })).json.entries
    .filter((e) => e.action === 'consent.unsubscribe');
  assert.ok(denied.length >= forged.length);
  assert.ok(denied.every((e) => e.decision === 'deny' && e.reason === 'bad-token' && e.subject === ''));
});

test('a link made by another phivault (another key) does not work here', async () => {
  const other = await startServer();
  try {
    const ow = await world(other);
    await ow.c.req('POST', `/v1/subjects/${ow.subject}/consents`, { token: ow.tokens.staff1, purpose: 'operations',
      json: { kind: 'marketing_email', action: 'grant' } });
    const t = (await ow.c.req('GET', `/v1/subjects/${ow.subject}/contact-check?channel=email&purpose=marketing`,
      { token: ow.tokens.staff1 })).json.unsubscribe.token;
    assert.equal((await oneClick(t)).status, 404);
  } finally {
    await other.stop();
    other.remove();
  }
});

test('without phivault sms setup the SMS webhook refuses everything', async () => {
  const r = await w.c.req('POST', '/v1/sms/inbound', { body: 'From=%2B15550102&Body=STOP',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } });
  assert.equal(r.status, 403);
  const e = (await w.c.req('GET', '/v1/audit?actor=anonymous&limit=1000', { token: w.tokens.po1 })).json.entries;
  assert.ok(e.some((x) => x.action === 'sms.inbound' && x.reason === 'sms-not-configured'));
});
