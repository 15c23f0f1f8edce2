// The matrix proof: for every policy under policies/, every role x purpose x collection x
// action (read, write, delete), on a subject the actor is related to (their own, assigned to
// them) and on one they are not, tried over HTTP and checked against what the policy says.
//
// What the policy says is worked out here, independently of the server, from the policy as
// GET /v1/policy shows it and the rules of docs/policy.md: the role must be allowed the purpose,
// its scope must cover the subject, the purpose's consents must be held (the subjects here hold
// none), and the fields touched must be covered by the purpose's categories. Every answer must
// match: the status, the denial's reason, and for reads exactly the fields returned.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ADMIN_PASSWORD, SRC, startServer } from './lib/harness.js';

const covers = (prefix, key) => key === prefix || key.startsWith(`${prefix}.`);

// The policy's decision, from the policy alone.
function expected(policy, { role, purpose, action, collection, fields, related }) {
  const p = policy.purposes[purpose];
  const scope = policy.roles[role].scope;
  const coll = policy.collections[collection];
  if (!p.roles.includes(role)) return { permit: false, reason: 'role-not-allowed-purpose' };
  if (scope === 'none') return { permit: false, reason: 'no-data-access' };
  if (scope === 'self' && !related) return { permit: false, reason: 'not-own-subject' };
  if (scope === 'assigned' && !related) return { permit: false, reason: 'not-assigned' };
  if (p.requires.length > 0) return { permit: false, reason: 'consent-required' };
  const covered = Object.keys(coll).filter((f) => p.categories.some((c) => covers(c, coll[f])));
  if (action === 'read')
    return covered.length ? { permit: true, visible: covered } : { permit: false, reason: 'purpose-excludes-collection' };
  if (action === 'write')
    return fields.every((f) => covered.includes(f)) ? { permit: true } : { permit: false, reason: 'purpose-excludes-field' };
  return covered.length === Object.keys(coll).length ? { permit: true } : { permit: false, reason: 'purpose-excludes-field' };
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
        const code = execFileSync('oathtool', ['--totp=sha256', '-b', s.json.secret]).toString().trim();
        assert.equal((await c.req('POST', '/v1/auth/totp/confirm', { token: r.json.token, json: { code } })).status, 200);
      }
      return r.json.token;
    };
    const admin = await login('admin', ADMIN_PASSWORD);
    const mkuser = async (username, role, subject_id) => {
      const password = `password-of-${username}`;
      const r = await c.req('POST', '/v1/users', { token: admin, json: { username, password, role, subject_id } });
      assert.equal(r.status, 201, r.text);
      return { id: r.json.id, token: await login(username, password) };
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
    const assign = async (subject, user) => {
      const r = await c.req('POST', `/v1/subjects/${subject}/assignments`, { token: users[assigner.role].token,
        purpose: assigner.purpose, json: { provider: user } });
      assert.equal(r.status, 201, r.text);
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
      writers[collection] = async (subject) => {
        const json = Object.fromEntries(all.map((f) => [f, value(policy, policy.collections[collection][f])]));
        const r = await c.req('POST', `/v1/subjects/${subject}/records/${collection}`, { token: per[subject].token, purpose: w.purpose, json });
        assert.equal(r.status, 201, r.text);
        return r.json.id;
      };
    }
    // One record of every collection on each subject; the profile has its values too.
    const record = { [R.id]: { profile: R.profile }, [U.id]: { profile: U.profile } };
    for (const s of [R.id, U.id]) for (const [collection, write] of Object.entries(writers)) record[s][collection] = await write(s);
    const profileValues = Object.fromEntries(Object.keys(profile).filter((f) => f !== dobField).map((f) => [f, value(policy, profile[f])]));
    const profileWriter = find((role, purpose) => policy.roles[role].scope === 'all' &&
      expected(policy, { role, purpose, action: 'write', collection: 'profile', fields: Object.keys(profileValues), related: true }).permit);
    if (profileWriter)
      for (const s of [R, U]) await c.req('PATCH', `/v1/subjects/${s.id}/records/profile/${s.profile}`,
        { token: users[profileWriter.role].token, purpose: profileWriter.purpose, json: profileValues });
    const present = (collection) => Object.keys(policy.collections[collection]).filter((f) =>
      collection !== 'profile' || f === dobField || (profileWriter && f in profileValues));

    const counts = { tried: 0, permitted: 0, denied: 0, skipped: 0 };
    const unexpected = [];
    for (const role of roles) for (const purpose of purposes) for (const collection of collections)
      for (const action of ['read', 'write', 'delete']) for (const [subject, related] of [[R.id, true], [U.id, false]]) {
        const all = Object.keys(policy.collections[collection]);
        const fields = collection === 'profile' ? all.filter((f) => f !== dobField) : all;
        const base = `/v1/subjects/${subject}/records/${collection}`;
        const token = users[role].token;
        let res, want;
        if (collection !== 'profile' && !writers[collection] && action !== 'write') {
          counts.skipped++; // nobody may ever write this collection: no record to read or delete
          continue;
        }
        if (action === 'read') {
          res = await c.req('GET', `${base}/${record[subject][collection]}`, { token, purpose });
        } else if (action === 'write') {
          const json = Object.fromEntries(fields.map((f) => [f, value(policy, policy.collections[collection][f])]));
          res = collection === 'profile'
            ? await c.req('PATCH', `${base}/${record[subject].profile}`, { token, purpose, json })
            : await c.req('POST', base, { token, purpose, json });
        } else if (collection === 'profile') {
          // The profile goes with the subject, through a deletion request: never by this route.
          res = await c.req('DELETE', `${base}/${record[subject].profile}`, { token, purpose });
          want = { status: 409 };
        } else {
          const rid = await writers[collection](subject);
          res = await c.req('DELETE', `${base}/${rid}`, { token, purpose });
        }
        counts.tried++;
        if (!want) {
          const e = expected(policy, { role, purpose, action, collection, fields, related });
          want = e.permit ? { status: { read: 200, write: collection === 'profile' ? 200 : 201, delete: 204 }[action], visible: e.visible }
            : { status: 403, reason: e.reason };
        }
        const got = { status: res.status, reason: res.json?.reason };
        let ok = got.status === want.status && (want.reason === undefined || got.reason === want.reason);
        if (ok && want.visible) {
          const shown = Object.keys(res.json.fields).sort();
          const should = want.visible.filter((f) => present(collection).includes(f)).sort();
          ok = JSON.stringify(shown) === JSON.stringify(should);
          if (!ok) got.fields = shown, want.fields = should;
        }
        if (res.status >= 200 && res.status < 300) counts.permitted++;
        else counts.denied++;
        if (!ok) unexpected.push(`${role} ${purpose} ${action} ${collection} ${related ? 'related' : 'unrelated'}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
    const name = path.basename(policyFile);
    t.diagnostic(`${name}: ${counts.tried} cases tried (${roles.length} roles x ${purposes.length} purposes x ` +
      `${collections.length} collections x 3 actions x 2 subjects${counts.skipped ? `, ${counts.skipped} without a record to act on` : ''}): ` +
      `${counts.permitted} permitted, ${counts.denied} refused, ${unexpected.length} unexpected`);
    console.log(`matrix ${name}: ${counts.tried} cases tried, ${unexpected.length} unexpected permits or denials`);
    assert.deepEqual(unexpected, []);
    assert.equal(counts.tried + counts.skipped, roles.length * purposes.length * collections.length * 3 * 2);
    assert.ok(counts.permitted > 0 && counts.denied > 0);
  } finally {
    await srv.stop();
    srv.remove();
  }
}

for (const f of readdirSync(path.join(SRC, 'policies')).filter((x) => x.endsWith('.yaml')).sort())
  test(`the matrix of ${f}: every answer is what the policy says`, (t) => proveMatrix(t, path.join(SRC, 'policies', f)));
