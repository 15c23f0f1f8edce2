// docs/openapi.yaml describes every route of the server's route table (as `phivault routes`
// prints it), every problem type (`phivault problems`), and is a valid OpenAPI 3.1 document;
// the response check the harness runs on every response really refuses what it must.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { cli } from './lib/harness.js';
import { DOC_PATH, doc, findTemplate, responseErrors } from './lib/openapi.js';

const routes = () => {
  const r = cli(['routes']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => {
    const [method, pattern, auth] = l.split('\t');
    return { method, pattern, auth };
  });
};

test('the document is valid OpenAPI 3.1', async () => {
  const v = new Validator();
  const res = await v.validate(DOC_PATH);
  assert.ok(res.valid, JSON.stringify(res.errors, null, 1));
  assert.equal(v.version, '3.1');
});

test('every route of the route table is in the document, and nothing else', () => {
  const table = routes();
  assert.ok(table.length >= 30, `only ${table.length} routes`);
  const missing = table.filter((r) => !doc.paths[r.pattern]?.[r.method.toLowerCase()]);
  assert.deepEqual(missing, [], `routes missing from docs/openapi.yaml: ${missing.map((r) => `${r.method} ${r.pattern}`).join(', ')}`);
  const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${p}`));
  const stale = documented.filter((d) => !table.some((r) => `${r.method} ${r.pattern}` === d));
  assert.deepEqual(stale, [], 'documented operations the server does not have');
});

test('authentication and X-Purpose are documented as the route table has them', () => {
  for (const r of routes()) {
    const op = doc.paths[r.pattern][r.method.toLowerCase()];
    const params = (op.parameters ?? []).map((p) => p.$ref ?? p.name);
    const purpose = params.includes('#/components/parameters/Purpose');
    assert.equal(purpose, r.auth === 'bearer+purpose', `${r.method} ${r.pattern}: X-Purpose`);
    const open = Array.isArray(op.security) && op.security.length === 0;
    assert.equal(open, r.auth === 'none', `${r.method} ${r.pattern}: security`);
    for (const name of (r.pattern.match(/\{[^}]+\}/g) ?? []).map((x) => x.slice(1, -1))) {
      const declared = (op.parameters ?? []).some((p) =>
        (p.$ref ? doc.components.parameters[p.$ref.split('/').pop()] : p).name === name);
      assert.ok(declared, `${r.method} ${r.pattern}: path parameter ${name}`);
    }
  }
});

test('every problem type is documented', () => {
  const r = cli(['problems']);
  assert.equal(r.status, 0);
  const slugs = r.stdout.trim().split('\n').map((l) => `/problems/${l.split('\t')[1]}`);
  assert.ok(slugs.length >= 20);
  assert.deepEqual([...doc.components.schemas.ProblemType.enum].sort(), [...slugs].sort());
});

test('the response check refuses what the document does not describe', () => {
  const ok = { status: 200, headers: { 'content-type': 'application/json' }, text: '{"status":"ok"}', json: { status: 'ok' } };
  assert.deepEqual(responseErrors('GET', '/healthz', ok), []);
  const json = (status, body, ct = 'application/json', headers = {}) =>
    ({ status, headers: { 'content-type': ct, ...headers }, text: JSON.stringify(body), json: body });
  // An extra property, a wrong type, a missing member, an undocumented status or content type.
  assert.notDeepEqual(responseErrors('GET', '/healthz', json(200, { status: 'ok', extra: 1 })), []);
  assert.notDeepEqual(responseErrors('POST', '/v1/auth/login', json(200, { token: 42 })), []);
  assert.notDeepEqual(responseErrors('GET', '/v1/subjects/sub_x', json(201, {})), []);
  assert.notDeepEqual(responseErrors('GET', '/healthz', json(200, { status: 'ok' }, 'text/plain')), []);
  // A problem with a type the document does not list, or without Retry-After on a 429.
  const problem = { type: '/problems/made-up', title: 'x', status: 400 };
  assert.notDeepEqual(responseErrors('GET', '/v1/users', json(400, problem, 'application/problem+json')), []);
  const throttled = { type: '/problems/too-many-attempts', title: 'Too many attempts', status: 429 };
  assert.notDeepEqual(responseErrors('POST', '/v1/auth/login', json(429, throttled, 'application/problem+json')), []);
  assert.deepEqual(responseErrors('POST', '/v1/auth/login',
    json(429, throttled, 'application/problem+json', { 'retry-after': '60' })), []);
  // A success on a route the document does not have.
  assert.notDeepEqual(responseErrors('GET', '/v1/nowhere', json(200, {})), []);
  // Retention: a usage answer with an event id but nothing stored, a hold released by nobody,
  // a release answered with a hold still in force.
  const sub = 'sub_0000000000000000000000000a', rec = 'rec_0000000000000000000000000a';
  assert.deepEqual(responseErrors('POST', `/v1/subjects/${sub}/usage`,
    json(201, { id: null, subject_id: sub, stored: [], dropped: ['page'] })), []);
  assert.notDeepEqual(responseErrors('POST', `/v1/subjects/${sub}/usage`,
    json(201, { id: rec, subject_id: sub, stored: [], dropped: ['page'] })), []);
  const hold = { id: 'hld_0000000000000000000000000a', subject_id: sub, reason: 'r', placed_by: 'usr_x',
    placed_at: '2026-01-01T00:00:00Z', until: null, released_at: null, released_by: null, in_force: true };
  assert.deepEqual(responseErrors('GET', `/v1/subjects/${sub}/holds`, json(200, { holds: [hold] })), []);
  assert.notDeepEqual(responseErrors('GET', `/v1/subjects/${sub}/holds`, json(200, { holds: [{ ...hold, released_by: 'usr_x' }] })), []);
  assert.notDeepEqual(responseErrors('DELETE', `/v1/subjects/${sub}/holds/${hold.id}`, json(200, hold)), []);
  // Path templates match literal segments first.
  assert.equal(findTemplate('/v1/subjects/sub_abc/records/visits/rec_x'), '/v1/subjects/{id}/records/{collection}/{rid}');
  assert.equal(findTemplate('/v1/auth/totp/confirm'), '/v1/auth/totp/confirm');
});
