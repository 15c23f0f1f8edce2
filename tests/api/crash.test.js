// Crash safety: the server is killed with SIGKILL at a random moment under write load, 20
// times. After each restart every write it acknowledged (201) is there with its content, every
// record in the database has the audit entry that permitted it (and no acknowledged write lacks
// one), and `phivault audit verify` passes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, sqlite, startServer, world } from './lib/harness.js';

const ROUNDS = 20;
const WRITERS = 8;

let srv, w;
before(async () => {
  srv = await startServer();
  w = await world(srv);
});
after(async () => {
  await srv.stop();
  srv.remove();
});

// Every record of the subject's visits, through the API (which opens every field), by id.
async function visits() {
  const seen = new Map();
  let next;
  do {
    const q = next ? `?limit=200&after=${next}` : '?limit=200';
    const r = await srv.client.req('GET', `/v1/subjects/${w.subject}/records/visits${q}`,
      { token: w.tokens.prov1, purpose: 'treatment' });
    assert.equal(r.status, 200, r.text);
    for (const rec of r.json.records) seen.set(rec.id, rec.fields.notes);
    next = r.json.next;
  } while (next);
  return seen;
}

test(`every acknowledged write survives ${ROUNDS} SIGKILLs under write load`, async () => {
  const acked = new Map(); // record id -> the notes written
  let writes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const c = srv.client;
    const path = `/v1/subjects/${w.subject}/records/visits`;
    let running = true;
    let ackedThisRound = 0;
    // Kill after a random number of acknowledged writes, then a random extra moment, so the
    // kill lands anywhere: in a batch being written, between fsync and answer, while idle.
    const killAfter = 1 + Math.floor(Math.random() * 120);
    let killed;
    const killNow = new Promise((resolve) => { killed = resolve; });
    const writer = async (k) => {
      for (let i = 0; running; i++) {
        const notes = `round ${round} writer ${k} write ${i}`;
        try {
          const r = await c.req('POST', path, { token: w.tokens.prov1, purpose: 'treatment',
            json: { date: '2026-11-20', reason: 'crash test', notes } });
          if (r.status === 201) {
            acked.set(r.json.id, notes);
            writes++;
            if (++ackedThisRound === killAfter) killed();
          } else if (running) {
            assert.fail(`a write was refused while the server ran: ${r.status} ${r.text}`);
          }
        } catch (e) {
          if (e.code === 'ERR_ASSERTION') throw e;
          // The connection died with the server: the write was not acknowledged.
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, k) => writer(k));
    await killNow;
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 20)));
    srv.proc.kill('SIGKILL');
    const exit = await srv.exited;
    assert.equal(exit.sig, 'SIGKILL');
    running = false;
    await Promise.all(writers);

    await srv.start();
    const present = await visits();
    for (const [id, notes] of acked) {
      assert.ok(present.has(id), `round ${round}: acknowledged write ${id} is missing`);
      assert.equal(present.get(id), notes, `round ${round}: ${id} holds other content`);
    }
    // Writes and their audit entries are one transaction: neither survives without the other.
    const permitted = new Set(sqlite(srv.data,
      "SELECT record FROM audit WHERE action = 'record.create' AND decision = 'permit'")
      .trim().split('\n'));
    const stored = sqlite(srv.data, "SELECT id FROM records WHERE collection = 'visits'")
      .trim().split('\n');
    for (const id of stored) assert.ok(permitted.has(id), `round ${round}: ${id} has no audit entry`);
    for (const id of acked.keys()) assert.ok(permitted.has(id), `round ${round}: ${id} not audited`);
    const v = cli(['audit', 'verify', '--data', srv.data], { env: srv.env() });
    assert.equal(v.status, 0, `round ${round}: ${v.stdout}${v.stderr}`);
    assert.match(v.stdout, /^audit log intact: \d+ entries/m);
  }
  w.c = srv.client;
  assert.ok(writes >= ROUNDS, `${writes} writes acknowledged in ${ROUNDS} rounds`);
});

test('the server serves normally after the crashes', async () => {
  const r = await srv.client.req('POST', `/v1/subjects/${w.subject}/records/visits`,
    { token: w.tokens.prov1, purpose: 'treatment', json: { date: '2026-11-21', notes: 'after' } });
  assert.equal(r.status, 201, r.text);
});
