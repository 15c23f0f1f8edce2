// The matrix proof: for every policy under policies/, every role x purpose x collection x
// action (read, write, delete), on a subject the actor is related to (their own, assigned to
// them) and on one they are not, tried over HTTP and checked against what the policy says.
//
// What the policy says is worked out here, independently of the server, from the policy as
// GET /v1/policy shows it and the rules of docs/policy.md: the role must be allowed the purpose,
// its scope must cover the subject, the purpose's consents must be held (the subjects here
// record none, so they hold the kinds whose default is granted), and the fields touched must be
// covered by the purpose's categories; a purpose marked de-identified reaches no record
// (deidentified-only); health data needs a written authorization unless the purpose is TPO, the
// person's own use or has a basis in the law or in answering the person; a field whose category
// needs a consent not held is
// refused on a write; a delete is refused (409 retention-keeps) while the record holds a value of
// a category whose `deletion` is `keep` and whose retention has not ended. Every answer must
// match: the status, the denial's reason, and for reads exactly the fields returned.
// A field stored end_to_end gets what a client sends: a value sealed (libsodium) for each user
// of the matrix who may read it on that subject under the policy, every user having a key.
//
// The collection `usage` holds usage data, which has routes of its own: its write is
// POST /v1/subjects/{id}/usage, where a field whose category needs a consent not held is dropped
// (named under `dropped`, never stored), not refused; its read is GET /v1/subjects/{id}/usage;
// it has no delete (retention disposes of it). The records routes refuse it whoever asks (409
// usage-collection), and that is tried too: its read and write cells are tried on both routes.
//
// The export of a person's data (access and portability) reads every collection at once; for
// every role x purpose x subject it must hold exactly what the reads of the matrix would give.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ADMIN_PASSWORD, SRC, startServer } from './lib/harness.js';
import { registerKey, seal } from './lib/sealed.js';

const covers = (prefix, key) => key === prefix || key.startsWith(`${prefix}.`);
const USAGE = 'usage';

// Whether the subjects of the matrix hold a consent kind: they record none, so its default.
const holds = (policy, kind) => policy.consent_kinds[kind]?.default === 'granted';
// The fields of a collection whose category needs no consent, or one the subjects hold.
const consented = (policy, collection, fields) => fields.filter((f) => {
  const kind = policy.categories[policy.collections[collection][f]].consent;
  return kind == null || holds(policy, kind);
});

// The policy's decision, from the policy alone.
function expected(policy, { role, purpose, action, collection, fields, related }) {
  const p = policy.purposes[purpose];
  const scope = policy.roles[role].scope;
  const coll = policy.collections[collection];
  if (!p.roles.includes(role)) return { permit: false, reason: 'role-not-allowed-purpose' };
  // A purpose marked de-identified reaches no person's records at all.
  if (p.deidentified) return { permit: false, reason: 'deidentified-only' };
  if (scope === 'none') return { permit: false, reason: 'no-data-access' };
  if (scope === 'self' && !related) return { permit: false, reason: 'not-own-subject' };
  if (scope === 'assigned' && !related) return { permit: false, reason: 'not-assigned' };
  if (!p.requires.every((k) => holds(policy, k))) return { permit: false, reason: 'consent-required' };
  const covered = Object.keys(coll).filter((f) => p.categories.some((c) => covers(c, coll[f])));
  // Health data serves treatment, payment and operations (tpo), the person's own use (a role of
  // scope self on their own subject), and the uses the policy marks with a basis (law, person);
  // any other purpose, and marketing always, needs a written authorization, which the subjects
  // of the matrix never give (a purpose is marketing by its name, its flag or a marketing
  // consent it requires).
  const marketing = purpose === 'marketing' || p.marketing === true ||
    p.requires.some((k) => policy.consent_kinds[k]?.type === 'marketing');
  const own = scope === 'self' && related;
  const authorizationNeeded = marketing || (!p.tpo && p.basis === 'none' && !own);
  const needsAuthorization = (touched) => authorizationNeeded && touched.some((f) => policy.categories[coll[f]].phi);
  const refused = { permit: false, reason: marketing ? 'marketing-needs-authorization' : 'authorization-required' };
  if (action === 'read') {
    if (!covered.length) return { permit: false, reason: 'purpose-excludes-collection' };
    return needsAuthorization(covered) ? refused : { permit: true, visible: covered };
  }
  if (action === 'write') {
    if (!fields.every((f) => covered.includes(f))) return { permit: false, reason: 'purpose-excludes-field' };
    if (needsAuthorization(fields)) return refused;
    const kept = consented(policy, collection, fields);
    // Usage data is kept only as far as consent allows; any other write needs it all.
    if (collection === USAGE) return { permit: true, stored: kept, dropped: fields.filter((f) => !kept.includes(f)) };
    return kept.length === fields.length ? { permit: true } : { permit: false, reason: 'consent-required' };
  }
  if (covered.length !== Object.keys(coll).length) return { permit: false, reason: 'purpose-excludes-field' };
  if (needsAuthorization(covered)) return refused;
  // A record the law keeps is not deleted before its retention ends, whoever asks: the records
  // deleted here were made a moment ago, so every value of a category whose deletion is `keep`
  // (a period, or forever) is still within its retention.
  if (Object.values(coll).some((cat) => policy.categories[cat].deletion === 'keep'))
    return { permit: false, reason: 'retention-keeps', status: 409 };
  return { permit: true };
}

const DOB = 'user.demographic.date_of_birth';
const value = (policy, category) => (policy.categories[category].store === 'last4' ? '4242' : `v-${category}`);

async function proveMatrix(t, policyFile) {
  const srv = await startServer({ policy: policyFile });
  const c = srv.client;
  try {
    const policy = (await c.req('GET', '/v1/policy')).json;
    const roles = Object.keys(policy.roles);
    const purposes = Object.keys(policy.purposes);
    const collections = Object.keys(policy.collections);

    // A session for a user, enrolling a second factor (with oathtool) where the policy wants one.
    const login = async (username, password) => {
      const r = await c.req('POST', '/v1/auth/login', { json: { username, password } });
      assert.equal(r.status, 200, r.text);
      if (r.json.mfa_enrollment_required) {
        const s = await c.req('POST', '/v1/auth/totp', { token: r.json.token });
        const code = execFileSync('oathtool', ['--totp', '-b', s.json.secret]).toString().trim();
        assert.equal((await c.req('POST', '/v1/auth/totp/confirm', { token: r.json.token, json: { code } })).status, 200);
      }
      return r.json.token;
    };
    const admin = await login('admin', ADMIN_PASSWORD);
    const mkuser = async (username, role, subject_id) => {
      const password = `password-of-${username}`;
      const r = await c.req('POST', '/v1/users', { token: admin, json: { username, password, role, subject_id } });
      assert.equal(r.status, 201, r.text);
      const token = await login(username, password);
      const kp = await registerKey(c, token);
      people.push({ id: r.json.id, role, subjects: new Set(subject_id ? [subject_id] : []), kp });
      return { id: r.json.id, token };
    };
    // Everyone made here, with the subjects each is related to (their own, assigned to them).
    const people = [];
    // The value of field f of collection on subject: an end-to-end one sealed for its readers,
    // the users who may read it there for some purpose of their role, as the policy says.
    const valueOn = (subject, collection, f) => {
      const category = policy.collections[collection][f];
      if (policy.categories[category].store !== 'end_to_end') return value(policy, category);
      const readers = people.filter((u) => purposes.some((purpose) => {
        const e = expected(policy, { role: u.role, purpose, action: 'read', collection,
          related: policy.roles[u.role].scope === 'all' || u.subjects.has(subject) });
        return e.permit && e.visible.includes(f);
      }));
      assert.ok(readers.length, `nobody may read ${collection}.${f}`);
      return seal(`v-${category}`, Object.fromEntries(readers.map((u) => [u.id, u.kp.publicKey])));
    };
    const users = {};
    for (const role of roles.filter((r) => policy.roles[r].scope !== 'self')) users[role] = await mkuser(`m-${role}`, role);
    // Someone to act with a given scope and a purpose the policy would permit for an action.
    const find = (pred) => {
      for (const role of roles) for (const purpose of purposes) if (pred(role, purpose)) return { role, purpose };
      return null;
    };

    // Two subjects: R, related to every actor of the matrix; U, related to none.
    const profile = policy.collections.profile;
    const dobField = Object.keys(profile).find((f) => profile[f] === DOB);
    const enroller = find((role, purpose) => policy.roles[role].scope === 'all' &&
      expected(policy, { role, purpose, action: 'write', collection: 'profile', fields: dobField ? [dobField] : [], related: true }).permit);
    assert.ok(enroller, 'no role may enroll in this policy');
    const enroll = async () => {
      const r = await c.req('POST', '/v1/subjects', { token: users[enroller.role].token, purpose: enroller.purpose,
        json: { policy_version: policy.version, birth_date: '1980-05-17', profile: {} } });
      assert.equal(r.status, 201, r.text);
      return { id: r.json.id, profile: r.json.profile_id };
    };
    const R = await enroll(), U = await enroll();
    for (const role of roles.filter((r) => policy.roles[r].scope === 'self')) users[role] = await mkuser(`m-${role}`, role, R.id);
    const assigner = find((role, purpose) => policy.roles[role].scope === 'all' && policy.roles[role].powers.includes('assign') &&
      policy.purposes[purpose].roles.includes(role) && policy.purposes[purpose].requires.length === 0);
    // Where a provider is assigned only after a first record of a collection (OMBRE: the first
    // session), someone who needs no assignment writes that record first.
    const firsts = new Set();
    const firstRecord = async (subject) => {
      const col = policy.assign_after;
      if (!col || firsts.has(subject)) return;
      const all = Object.keys(policy.collections[col]);
      const w = find((role, purpose) => policy.roles[role].scope !== 'assigned' &&
        expected(policy, { role, purpose, action: 'write', collection: col, fields: all, related: true }).permit);
      assert.ok(w, `no one may write the first ${col} record`);
      const token = policy.roles[w.role].scope === 'all' ? users[w.role].token
        : (await mkuser(`first-${firsts.size}`, w.role, subject)).token;
      const json = Object.fromEntries(all.map((f) => [f, value(policy, policy.collections[col][f])]));
      const r = await c.req('POST', `/v1/subjects/${subject}/records/${col}`, { token, purpose: w.purpose, json });
      assert.equal(r.status, 201, r.text);
      firsts.add(subject);
    };
    const assign = async (subject, user) => {
      await firstRecord(subject);
      const r = await c.req('POST', `/v1/subjects/${subject}/assignments`, { token: users[assigner.role].token,
        purpose: assigner.purpose, json: { provider: user } });
      assert.equal(r.status, 201, r.text);
      people.find((u) => u.id === user)?.subjects.add(subject);
    };
    for (const role of roles.filter((r) => policy.roles[r].scope === 'assigned')) {
      assert.ok(assigner, 'assigned roles but no one to assign');
      await assign(R.id, users[role].id);
    }

    // Fixture writers: for each collection, someone permitted to create a whole record on both
    // subjects (an assigned one is assigned to both, a self one gets an account on each).
    const writers = {};
    for (const collection of collections.filter((x) => x !== 'profile')) {
      const all = Object.keys(policy.collections[collection]);
      const w = find((role, purpose) => expected(policy, { role, purpose, action: 'write', collection, fields: all, related: true }).permit);
      if (!w) continue;
      const scope = policy.roles[w.role].scope;
      const per = {};
      if (scope === 'all') per[R.id] = per[U.id] = users[w.role];
      else if (scope === 'assigned') {
        const fx = await mkuser(`fx-${collection}`, w.role);
        await assign(R.id, fx.id);
        await assign(U.id, fx.id);
        per[R.id] = per[U.id] = fx;
      } else {
        per[R.id] = await mkuser(`fx-${collection}-r`, w.role, R.id);
        per[U.id] = await mkuser(`fx-${collection}-u`, w.role, U.id);
      }
      const route = collection === USAGE ? 'usage' : `records/${collection}`;
      writers[collection] = async (subject) => {
        const json = Object.fromEntries(all.map((f) => [f, valueOn(subject, collection, f)]));
        const r = await c.req('POST', `/v1/subjects/${subject}/${route}`, { token: per[subject].token, purpose: w.purpose, json });
        assert.equal(r.status, 201, r.text);
        return r.json.id;
      };
    }
    // One record of every collection on each subject (a usage event, which is no record, is
    // null if consent lets none of its fields be stored); the profile has its values too.
    const record = { [R.id]: { profile: R.profile }, [U.id]: { profile: U.profile } };
    for (const s of [R.id, U.id]) for (const [collection, write] of Object.entries(writers)) record[s][collection] = await write(s);
    const profileValues = Object.fromEntries(Object.keys(profile).filter((f) => f !== dobField).map((f) => [f, value(policy, profile[f])]));
    const profileWriter = find((role, purpose) => policy.roles[role].scope === 'all' &&
      expected(policy, { role, purpose, action: 'write', collection: 'profile', fields: Object.keys(profileValues), related: true }).permit);
    if (profileWriter)
      for (const s of [R, U]) await c.req('PATCH', `/v1/subjects/${s.id}/records/profile/${s.profile}`,
        { token: users[profileWriter.role].token, purpose: profileWriter.purpose, json: profileValues });
    const present = (collection) => (collection === USAGE
      ? consented(policy, USAGE, Object.keys(policy.collections[USAGE]))
      : Object.keys(policy.collections[collection]).filter((f) =>
        collection !== 'profile' || f === dobField || (profileWriter && f in profileValues)));

    const counts = { cells: 0, tried: 0, permitted: 0, denied: 0, skipped: 0 };
    const unexpected = [];
    // One try: the answer res to route, checked against want ({status, reason?, visible?,
    // stored?, dropped?}).
    const check = (cell, route, res, want) => {
      counts.tried++;
      const got = { status: res.status, reason: res.json?.reason };
      let ok = got.status === want.status && (want.reason === undefined || got.reason === want.reason);
      if (ok && want.visible && route === 'usage') {
        // Every event shows exactly the stored fields the purpose covers; the fixture's is there.
        const should = want.visible.filter((f) => present(USAGE).includes(f)).sort();
        const shown = res.json.events.map((e) => Object.keys(e.fields).sort());
        ok = shown.every((f) => JSON.stringify(f) === JSON.stringify(should)) &&
          (want.event == null || res.json.events.some((e) => e.id === want.event));
        if (!ok) got.fields = shown, want.fields = should;
      } else if (ok && want.visible) {
        const shown = Object.keys(res.json.fields).sort();
        const should = want.visible.filter((f) => present(cell.collection).includes(f)).sort();
        ok = JSON.stringify(shown) === JSON.stringify(should);
        if (!ok) got.fields = shown, want.fields = should;
      } else if (ok && want.stored) {
        got.stored = [...res.json.stored].sort();
        got.dropped = [...res.json.dropped].sort();
        ok = JSON.stringify(got.stored) === JSON.stringify([...want.stored].sort()) &&
          JSON.stringify(got.dropped) === JSON.stringify([...want.dropped].sort()) &&
          (res.json.id === null) === (want.stored.length === 0);
        got.id = res.json.id;
      }
      if (res.status >= 200 && res.status < 300) counts.permitted++;
      else counts.denied++;
      if (!ok) unexpected.push(`${cell.role} ${cell.purpose} ${cell.action} ${cell.collection} ${cell.related ? 'related' : 'unrelated'}` +
        ` (${route}): got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    };
    const permitted = { read: 200, write: 201, delete: 204 };
    const policyWant = (cell, fields, ok) => {
      const e = expected(policy, { ...cell, fields });
      return e.permit ? { status: ok, visible: e.visible, stored: e.stored, dropped: e.dropped } : { status: e.status ?? 403, reason: e.reason };
    };
    // The records routes refuse usage data, whoever asks (docs/policy.md).
    const usageRefused = { status: 409, reason: 'usage-collection' };

    for (const role of roles) for (const purpose of purposes) for (const collection of collections)
      for (const action of ['read', 'write', 'delete']) for (const [subject, related] of [[R.id, true], [U.id, false]]) {
        counts.cells++;
        const cell = { role, purpose, collection, action, related };
        const all = Object.keys(policy.collections[collection]);
        const fields = collection === 'profile' ? all.filter((f) => f !== dobField) : all;
        const json = Object.fromEntries(fields.map((f) => [f, valueOn(subject, collection, f)]));
        const base = `/v1/subjects/${subject}/records/${collection}`;
        const token = users[role].token;
        if (collection === USAGE) {
          // A usage event's id where there is one; the records routes refuse before looking.
          const rid = record[subject][USAGE] ?? 'rec_00000000000000000000000000';
          if (action === 'read') {
            const want = policyWant(cell, [], 200);
            if (want.visible) want.event = record[subject][USAGE];
            check(cell, 'usage', await c.req('GET', `/v1/subjects/${subject}/usage`, { token, purpose }), want);
            check(cell, 'records', await c.req('GET', `${base}/${rid}`, { token, purpose }), usageRefused);
          } else if (action === 'write') {
            check(cell, 'usage', await c.req('POST', `/v1/subjects/${subject}/usage`, { token, purpose, json }),
              policyWant(cell, fields, 201));
            check(cell, 'records', await c.req('POST', base, { token, purpose, json }), usageRefused);
          } else {
            check(cell, 'records', await c.req('DELETE', `${base}/${rid}`, { token, purpose }), usageRefused);
          }
          continue;
        }
        if (collection !== 'profile' && !writers[collection] && action !== 'write') {
          counts.skipped++; // nobody may ever write this collection: no record to read or delete
          continue;
        }
        if (action === 'read') {
          check(cell, 'records', await c.req('GET', `${base}/${record[subject][collection]}`, { token, purpose }),
            policyWant(cell, fields, 200));
        } else if (action === 'write') {
          check(cell, 'records', collection === 'profile'
            ? await c.req('PATCH', `${base}/${record[subject].profile}`, { token, purpose, json })
            : await c.req('POST', base, { token, purpose, json }), policyWant(cell, fields, collection === 'profile' ? 200 : 201));
        } else if (collection === 'profile') {
          // The profile goes with the subject, through a deletion request: never by this route.
          check(cell, 'records', await c.req('DELETE', `${base}/${record[subject].profile}`, { token, purpose }), { status: 409 });
        } else {
          const rid = await writers[collection](subject);
          check(cell, 'records', await c.req('DELETE', `${base}/${rid}`, { token, purpose }), policyWant(cell, fields, 204));
        }
      }
    // The export (GET /v1/subjects/{id}/export) reads every collection, each a decision of its
    // own: a role x purpose x subject cell is refused with the reason a read would be refused
    // for (whatever the collection: role, scope and consents do not depend on it); otherwise
    // it holds exactly the collections the purpose covers (the others named as withheld, and a
    // purpose covering none is refused), and in each record exactly the covered fields.
    let exportCases = 0;
    const order = ['profile', ...collections.filter((x) => x !== 'profile' && x !== USAGE), ...collections.filter((x) => x === USAGE)];
    for (const role of roles) for (const purpose of purposes) for (const [subject, related] of [[R.id, true], [U.id, false]]) {
      exportCases++;
      const reads = order.map((collection) => [collection, expected(policy, { role, purpose, action: 'read', collection, related })]);
      const first = reads[0][1];
      const covered = reads.filter(([, e]) => e.permit);
      const res = await c.req('GET', `/v1/subjects/${subject}/export`, { token: users[role].token, purpose });
      let want;
      if (!first.permit && first.reason !== 'purpose-excludes-collection') want = { status: 403, reason: first.reason };
      else if (covered.length === 0) want = { status: 403, reason: 'purpose-excludes-collection' };
      else want = { status: 200, collections: covered.map(([x]) => x), withheld: reads.filter(([, e]) => !e.permit).map(([x]) => x) };
      let ok = res.status === want.status && (want.reason === undefined || res.json?.reason === want.reason);
      const got = { status: res.status, reason: res.json?.reason };
      if (ok && want.status === 200) {
        got.collections = Object.keys(res.json.collections);
        got.withheld = res.json.withheld_collections;
        ok = JSON.stringify(got.collections) === JSON.stringify(want.collections) &&
          JSON.stringify(got.withheld) === JSON.stringify(want.withheld);
        for (const [collection, e] of covered) {
          const rows = res.json.collections[collection] ?? [];
          // The fixture's record is there whenever someone could write one.
          const fixture = record[subject][collection];
          if (fixture && !rows.some((r) => r.id === fixture)) ok = false;
          for (const r of rows) {
            const shown = Object.keys(r.fields).sort();
            const should = [...shown, ...r.withheld].filter((f) => e.visible.includes(f)).sort();
            if (JSON.stringify(shown) !== JSON.stringify(should) || r.withheld.some((f) => e.visible.includes(f))) ok = false;
            if (Object.entries(r.fields).some(([f, v]) => v.category !== policy.collections[collection][f])) ok = false;
          }
        }
      }
      if (!ok) unexpected.push(`${role} ${purpose} export ${related ? 'related' : 'unrelated'}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    t.diagnostic(`${path.basename(policyFile)}: ${exportCases} exports tried (${roles.length} roles x ${purposes.length} purposes x 2 subjects)`);
    const name = path.basename(policyFile);
    const cells = roles.length * purposes.length * collections.length * 3 * 2;
    // Usage's read and write cells are each tried on its own route and on the records route.
    const usageExtra = collections.includes(USAGE) ? roles.length * purposes.length * 2 * 2 : 0;
    t.diagnostic(`${name}: ${counts.tried} cases tried (${roles.length} roles x ${purposes.length} purposes x ` +
      `${collections.length} collections x 3 actions x 2 subjects` +
      `${usageExtra ? `, and ${usageExtra} more on usage data's own routes` : ''}` +
      `${counts.skipped ? `, ${counts.skipped} without a record to act on` : ''}): ` +
      `${counts.permitted} permitted, ${counts.denied} refused, ${unexpected.length} unexpected`);
    console.log(`matrix ${name}: ${counts.tried} cases tried, ${unexpected.length} unexpected permits or denials`);
    assert.deepEqual(unexpected, []);
    assert.equal(counts.cells, cells);
    assert.equal(counts.tried + counts.skipped, cells + usageExtra);
    assert.ok(counts.permitted > 0 && counts.denied > 0);
  } finally {
    await srv.stop();
    srv.remove();
  }
}

for (const f of readdirSync(path.join(SRC, 'policies')).filter((x) => x.endsWith('.yaml')).sort())
  test(`the matrix of ${f}: every answer is what the policy says`, (t) => proveMatrix(t, path.join(SRC, 'policies', f)));
