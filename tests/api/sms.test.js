// STOP means stop: Twilio's inbound SMS webhook, its signature checked with the twilio package's
// own functions; every keyword; the same replies for a number that belongs to nobody; forged
// signatures refused without any change.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { after, before, test } from 'node:test';
import twilio from 'twilio';
import { auditOf, cli, sqlite, startServer, world } from './lib/harness.js';

const WEBHOOK = 'https://vault.example.org/v1/sms/inbound';
const TOKEN = randomBytes(16).toString('hex');
const PROGRAM = 'Example Med Spa reminders';
const HELP = 'Example Med Spa: reply STOP to opt out. Msg&amp;data rates may apply. Help: +1-555-0100';
const GRACE = '+15550102'; // world() enrolls Grace with "+1 555 0102"
const NOBODY = '+15559999';

let srv, w;
before(async () => {
  srv = await startServer();
  const setup = cli(['sms', 'setup', '--data', srv.data, '--url', WEBHOOK],
    { env: { ...srv.env(), PHIVAULT_TWILIO_AUTH_TOKEN: TOKEN } });
  assert.equal(setup.status, 0, setup.stderr);
  await srv.restart();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

// A message as Twilio posts it, signed as Twilio signs it unless told otherwise.
function inbound(from, body, { sign = TOKEN, signature, extra = {}, tamper } = {}) {
  const params = { ToCountry: 'US', SmsMessageSid: `SM${randomBytes(16).toString('hex')}`, NumMedia: '0',
    From: from, To: '+15550100', Body: body, AccountSid: 'AC0123456789abcdef0123456789abcdef',
    MessageSid: `SM${randomBytes(16).toString('hex')}`, NumSegments: '1', ApiVersion: '2010-04-01', ...extra };
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const sig = signature ?? (sign ? twilio.getExpectedTwilioSignature(sign, WEBHOOK, params) : undefined);
  if (sig !== undefined) headers['x-twilio-signature'] = sig;
  const sent = tamper ? { ...params, ...tamper } : params;
  return w.c.req('POST', '/v1/sms/inbound', { headers, body: new URLSearchParams(sent).toString() });
}

const reply = (text) => `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Message>${text}</Message></Response>\n`;
const STOPPED = reply(`${PROGRAM}: you are unsubscribed and will receive no more messages. Reply START to subscribe again.`);
const STARTED = reply(`${PROGRAM}: you are subscribed again. Reply HELP for help, STOP to unsubscribe.`);
const NOTHING = '<?xml version="1.0" encoding="UTF-8"?>\n<Response/>\n';

const smsCheck = async (subject, purpose = 'operations') => {
  const r = await w.c.req('GET', `/v1/subjects/${subject}/contact-check?channel=sms&purpose=${purpose}`,
    { token: w.tokens.staff1 });
  assert.equal(r.status, 200, r.text);
  return [r.json.allowed, r.json.reason];
};
const rows = () => Number(sqlite(srv.data, 'SELECT count(*) FROM consents').trim());

test("the twilio package computes Twilio's published test vector, and validates it", () => {
  // The worked example of Twilio's webhook security documentation.
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234',
    From: '+12349013030', To: '+18005551212' };
  assert.equal(twilio.getExpectedTwilioSignature('12345', url, params), '0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
  assert.equal(twilio.validateRequest('12345', '0/KCTR6DLpKmkAf8muzZqo1nDgQ=', url, params), true);
});

test('each STOP keyword, in any case, opts out at once and confirms naming the program', async () => {
  for (const word of ['STOP', 'stop', 'StopAll', ' UNSUBSCRIBE ', 'cancel', 'End', 'QUIT', 'revoke', 'OptOut\n']) {
    const r = await inbound(GRACE, word);
    assert.equal(r.status, 200, word);
    assert.match(r.headers['content-type'], /^application\/xml/);
    assert.equal(r.text, STOPPED, word);
    assert.deepEqual(await smsCheck(w.subject), [false, 'sms-stopped'], word);
    const l = await w.c.req('GET', `/v1/subjects/${w.subject}/consents`, { token: w.tokens.staff1, purpose: 'operations' });
    assert.equal(l.json.current.service_sms.held, false, word);
    assert.equal(l.json.current.service_sms.source, 'sms');
    const back = await inbound(GRACE, 'START');
    assert.equal(back.text, STARTED);
    assert.deepEqual(await smsCheck(w.subject), [true, 'permit'], word);
  }
});

test('each START keyword opts back in, restoring what STOP withdrew and nothing else', async () => {
  // Grace opted in to marketing texts and out of nothing else; a kind withdrawn on the web stays so.
  await w.c.req('POST', `/v1/subjects/${w.subject}/consents`, { token: w.tokens.staff1, purpose: 'operations',
    json: { kind: 'marketing_sms', action: 'grant', source: 'web' } });
  const s = await w.enroll({ name: 'Web Refuser', phone: '+1 555 0177' });
  await w.c.req('POST', `/v1/subjects/${s}/consents`, { token: w.tokens.staff1, purpose: 'operations',
    json: { kind: 'service_sms', action: 'withdraw', source: 'web' } });
  for (const word of ['START', 'yes', 'Unstop']) {
    assert.equal((await inbound(GRACE, 'STOP')).text, STOPPED);
    assert.equal((await inbound('+15550177', 'STOP')).text, STOPPED);
    assert.deepEqual(await smsCheck(w.subject, 'marketing'), [false, 'sms-stopped']);
    const r = await inbound(GRACE, word);
    assert.equal(r.text, STARTED, word);
    assert.equal((await inbound('+15550177', word)).text, STARTED);
    assert.deepEqual(await smsCheck(w.subject), [true, 'permit'], word);
    assert.deepEqual(await smsCheck(w.subject, 'marketing'), [true, 'permit'], word);
    assert.deepEqual(await smsCheck(s), [false, 'channel-consent-required'], word);
  }
  const l = await w.c.req('GET', `/v1/subjects/${s}/consents`, { token: w.tokens.staff1, purpose: 'operations' });
  assert.deepEqual(l.json.entries.filter((e) => e.kind === 'service_sms').map((e) => [e.action, e.source]),
    [['withdraw', 'web']]);
});

test('HELP and INFO answer with the policy\'s help text and change nothing', async () => {
  const n = rows();
  for (const word of ['HELP', 'help', 'Info']) {
    const r = await inbound(GRACE, word);
    assert.equal(r.status, 200);
    assert.equal(r.text, reply(HELP), word);
  }
  assert.equal(rows(), n);
  assert.deepEqual(await smsCheck(w.subject), [true, 'permit']);
});

test('anything but one keyword gets no reply and changes nothing', async () => {
  const n = rows();
  for (const body of ['stop please', 'STOP STOP', 'Stop.', 'see you tuesday', '', 'STOPP']) {
    const r = await inbound(GRACE, body);
    assert.equal(r.status, 200, body);
    assert.equal(r.text, NOTHING, body);
  }
  assert.equal(rows(), n);
  assert.deepEqual(await smsCheck(w.subject), [true, 'permit']);
});

test('a number that belongs to nobody gets the same replies, and is stopped before anyone has it', async () => {
  for (const word of ['STOP', 'HELP', 'START', 'STOP', 'hello']) {
    const known = await inbound(GRACE, word);
    const unknown = await inbound(NOBODY, word);
    assert.equal(unknown.status, known.status, word);
    assert.equal(unknown.text, known.text, word);
    assert.deepEqual(Object.keys(unknown.headers).sort(), Object.keys(known.headers).sort());
  }
  await inbound(GRACE, 'START');
  // Someone enrolled later with that number gets no text: the number said STOP.
  const s = await w.enroll({ name: 'Number Heir', phone: '+1 (555) 9999' });
  assert.deepEqual(await smsCheck(s), [false, 'sms-stopped']);
  assert.equal((await inbound(NOBODY, 'START')).text, STARTED);
  assert.deepEqual(await smsCheck(s), [true, 'permit']);
});

test('a forged, missing or stale signature is 403 and changes nothing', async () => {
  const n = rows();
  const optouts = sqlite(srv.data, 'SELECT count(*) FROM sms_optouts').trim();
  const attempts = [
    inbound(GRACE, 'STOP', { sign: 'not-the-token' }),
    inbound(GRACE, 'STOP', { sign: false }),
    inbound(GRACE, 'STOP', { signature: '' }),
    inbound(GRACE, 'STOP', { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }),
    inbound(GRACE, 'HELP', { tamper: { Body: 'STOP' } }),
    inbound(NOBODY, 'STOP', { tamper: { From: GRACE } }),
  ];
  for (const r of await Promise.all(attempts)) {
    assert.equal(r.status, 403);
    assert.equal(r.json.type, '/problems/forbidden');
    assert.ok(!r.text.includes('Message'));
  }
  // Signed for another URL: not what Twilio signs for this webhook.
  const params = { From: GRACE, Body: 'STOP' };
  const other = await w.c.req('POST', '/v1/sms/inbound', { body: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(TOKEN, 'https://evil.example/v1/sms/inbound', params) } });
  assert.equal(other.status, 403);
  assert.equal(rows(), n);
  assert.equal(sqlite(srv.data, 'SELECT count(*) FROM sms_optouts').trim(), optouts);
  assert.deepEqual(await smsCheck(w.subject), [true, 'permit']);
  const denied = (await w.c.req('GET', '/v1/audit?actor=anonymous&limit=1000', { token: w.tokens.po1 })).json.entries
    .filter((e) => e.action === 'sms.inbound');
  assert.equal(denied.length, 7);
  assert.ok(denied.every((e) => e.decision === 'deny' && e.reason === 'bad-signature'));
});

test('a replayed STOP is idempotent; a message that is not a form is refused', async () => {
  const params = { From: GRACE, To: '+15550100', Body: 'STOP', MessageSid: 'SM0000' };
  const send = () => w.c.req('POST', '/v1/sms/inbound', { body: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(TOKEN, WEBHOOK, params) } });
  const first = await send();
  const n = rows();
  const second = await send();
  assert.equal(second.text, first.text);
  assert.equal(rows(), n);
  await inbound(GRACE, 'START');
  const json = await w.c.req('POST', '/v1/sms/inbound', { json: params });
  assert.equal(json.status, 415);
  const bad = await w.c.req('POST', '/v1/sms/inbound', { body: 'From=%ZZ&Body=STOP',
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(bad.status, 400);
});

test('STOP from a confidential number finds its person; every change is audited, no number in it', async () => {
  const s = await w.enroll({ name: 'Second Phone', phone: '+1 555 0123' });
  await w.c.req('PUT', `/v1/subjects/${s}/contact-preferences`, { token: w.tokens.staff1, purpose: 'operations',
    json: { channels: ['sms'], addresses: { sms: '+1 555 0124' } } });
  assert.deepEqual(await smsCheck(s), [true, 'permit']);
  assert.equal((await inbound('+15550124', 'STOP')).text, STOPPED);
  assert.deepEqual(await smsCheck(s), [false, 'sms-stopped']);
  const audit = await auditOf(w, s);
  const stop = audit.filter((e) => e.action === 'consent.withdraw' && e.reason === 'sms-stop');
  assert.deepEqual(stop.map((e) => [e.actor, e.collection]), [['sms', 'service_sms']]);
  const all = JSON.stringify((await w.c.req('GET', '/v1/audit?limit=1000', { token: w.tokens.po1 })).json);
  for (const number of ['5550124', '5550102', '5559999']) assert.ok(!all.includes(number), number);
  assert.ok(!srv.log().includes('5550124'));
});

test('sms setup keeps the token in a 0600 file of the data directory and refuses bad input', () => {
  assert.equal(statSync(`${srv.data}/twilio.conf`).mode & 0o777, 0o600);
  for (const [args, env] of [[['--url', 'ftp://x'], { PHIVAULT_TWILIO_AUTH_TOKEN: 'abc' }],
    [['--url', WEBHOOK], { PHIVAULT_TWILIO_AUTH_TOKEN: 'two words' }],
    [['--url', WEBHOOK], { PHIVAULT_TWILIO_AUTH_TOKEN: '' }]]) {
    const r = cli(['sms', 'setup', '--data', srv.data, ...args], { env });
    assert.equal(r.status, 1, JSON.stringify(args));
  }
  assert.equal(cli(['sms', 'setup', '--data', srv.data]).status, 2);
});
