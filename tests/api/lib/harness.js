// Black-box test harness: a real phivault server in a temporary data directory, and a small
// HTTP client. Tests see only what a user of the API sees: status, headers, bodies, the
// files on disk and the server's log.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { responseErrors } from './openapi.js';

export const BIN = process.env.PHIVAULT_BIN ?? path.resolve('build/phivault');
export const SRC = process.env.PV_SOURCE_DIR ?? path.resolve('.');
export const EXAMPLE_POLICY = `${SRC}/policies/example.yaml`;
export const ADMIN_PASSWORD = 'admin-password-for-tests';

// Under `make sanitize` (PV_SANITIZE=1) phivault is built with AddressSanitizer, LeakSanitizer
// and UndefinedBehaviorSanitizer; a report from any of them fails the test that met it, even a
// test that expected the command to fail.
const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: |SUMMARY: UndefinedBehaviorSanitizer/;
export function checkSanitizers(what, text) {
  if (SANITIZER_REPORT.test(text)) throw new Error(`${what}: sanitizer report:\n${text}`);
}

// Run the phivault command; returns {status, stdout, stderr} whatever the exit status.
// An env value of undefined removes the variable.
export function cli(args, { env = {} } = {}) {
  const full = { ...process.env, ...env };
  for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
  try {
    const stdout = execFileSync(BIN, args, {
      env: full,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { status: 0, stdout: stdout.toString(), stderr: '' };
  } catch (e) {
    const r = { status: e.status, stdout: e.stdout?.toString() ?? '', stderr: e.stderr?.toString() ?? '' };
    checkSanitizers(`phivault ${args.join(' ')}`, r.stderr);
    return r;
  }
}

// Initialize a data directory and start `phivault serve` on a free port. Every server gets a
// clock file (PHIVAULT_TEST_CLOCK_FILE) so tests can move its time with srv.advance().
export async function startServer({ policy = EXAMPLE_POLICY, args = [] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'pvapi-'));
  const data = path.join(dir, 'data');
  const clockFile = path.join(dir, 'clock');
  writeFileSync(clockFile, '0\n');
  const init = cli(['init', '--data', data, '--policy', policy], {
    env: { PHIVAULT_ADMIN_PASSWORD: ADMIN_PASSWORD, PHIVAULT_TEST_CLOCK_FILE: clockFile },
  });
  if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
  const srv = new Server(dir, data, args, clockFile);
  await srv.start();
  return srv;
}

export class Server {
  constructor(dir, data, args, clockFile) {
    this.dir = dir;
    this.data = data;
    this.args = args;
    this.clockFile = clockFile;
    this.offset = 0;
    this.logText = '';
  }

  // Move the server's clock forward (or back) by seconds; takes effect at once.
  advance(seconds) {
    this.offset += seconds;
    writeFileSync(this.clockFile, `${this.offset}\n`);
  }

  // The environment for commands run on this server's data (the same clock).
  env() {
    return { PHIVAULT_TEST_CLOCK_FILE: this.clockFile };
  }

  async start() {
    this.proc = spawn(BIN, ['serve', '--data', this.data, '--listen', '127.0.0.1:0',
      '--log-requests', ...this.args], { stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...this.env() } });
    // 'close', not 'exit': the last of stderr (a leak report at exit) has been read by then.
    this.exited = new Promise((resolve) => this.proc.on('close', (code, sig) => resolve({ code, sig })));
    const from = this.logText.length;
    this.port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${this.logText}`)), 15000);
      this.proc.stderr.on('data', (chunk) => {
        this.logText += chunk;
        const m = /"event":"server.listening".*"port":"(\d+)"/.exec(this.logText.slice(from));
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      this.proc.on('exit', () => reject(new Error(`server exited:\n${this.logText}`)));
    });
    this.base = `http://127.0.0.1:${this.port}`;
    this.client = new Client(this.base);
  }

  log() {
    return this.logText;
  }

  // SIGTERM and wait: the server drains, checkpoints and exits 0.
  async stop() {
    if (this.proc.exitCode === null) this.proc.kill('SIGTERM');
    const r = await this.exited;
    writeFileSync(path.join(this.dir, 'server.log'), this.logText);
    checkSanitizers('phivault serve', this.logText);
    return r;
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// One HTTP request with node:http (which lets tests send what fetch would refuse).
export function request(base, method, urlPath, { headers = {}, body } = {}) {
  const url = new URL(urlPath, base);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export class Client {
  constructor(base) {
    this.base = base;
  }

  // method, path, {token, purpose, json, body, headers}. Every response is checked against
  // docs/openapi.yaml: one the document does not describe fails the test that received it.
  async req(method, urlPath, { token, purpose, json, body, headers = {} } = {}) {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (purpose) h['x-purpose'] = purpose;
    if (json !== undefined) {
      body = JSON.stringify(json);
      h['content-type'] ??= 'application/json';
    }
    if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
    const r = await request(this.base, method, urlPath, { headers: h, body });
    const errors = responseErrors(method, urlPath, r);
    if (errors.length) throw new Error(`response not as docs/openapi.yaml says:\n  ${errors.join('\n  ')}\n${r.text.slice(0, 500)}`);
    return r;
  }

  async login(username, password) {
    const r = await this.req('POST', '/v1/auth/login', { json: { username, password } });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`);
    return r.json.token;
  }
}

export const PASSWORD = (name) => `password-of-${name}-123`;

// A populated service: users of every role, one enrolled subject assigned to prov1.
export async function world(srv) {
  const c = srv.client;
  const w = { c, users: {}, tokens: {} };
  w.tokens.admin = await c.login('admin', ADMIN_PASSWORD);
  for (const [name, role] of [['staff1', 'staff'], ['prov1', 'provider'], ['prov2', 'provider'],
    ['po1', 'privacy_officer']]) {
    const r = await c.req('POST', '/v1/users', { token: w.tokens.admin,
      json: { username: name, password: PASSWORD(name), role } });
    if (r.status !== 201) throw new Error(`create ${name}: ${r.text}`);
    w.users[name] = r.json.id;
    w.tokens[name] = await c.login(name, PASSWORD(name));
  }
  w.version = (await c.req('GET', '/v1/policy')).json.version;
  w.enroll = async (profile, extra = {}) => {
    const r = await c.req('POST', '/v1/subjects', { token: w.tokens.staff1, purpose: 'operations',
      json: { policy_version: w.version, birth_date: '1980-05-17', profile, ...extra } });
    if (r.status !== 201) throw new Error(`enroll: ${r.status} ${r.text}`);
    return r.json.id;
  };
  w.subject = await w.enroll({ name: 'Grace Hopper', email: 'grace@example.org', phone: '+1 555 0102' });
  const a = await c.req('POST', `/v1/subjects/${w.subject}/assignments`, { token: w.tokens.staff1,
    purpose: 'operations', json: { provider: w.users.prov1 } });
  if (a.status !== 201) throw new Error(`assign: ${a.text}`);
  // A patient account linked to the subject.
  const p = await c.req('POST', '/v1/users', { token: w.tokens.admin,
    json: { username: 'grace', password: PASSWORD('grace'), role: 'patient', subject_id: w.subject } });
  if (p.status !== 201) throw new Error(`patient: ${p.text}`);
  w.users.grace = p.json.id;
  w.tokens.grace = await c.login('grace', PASSWORD('grace'));
  return w;
}

// The audit entries the privacy officer sees for a subject.
export async function auditOf(w, subject) {
  const r = await w.c.req('GET', `/v1/audit?subject=${subject}&limit=1000`, { token: w.tokens.po1 });
  if (r.status !== 200) throw new Error(`audit: ${r.text}`);
  return r.json.entries;
}

// Run SQL on a data directory's database with Debian's sqlite3, as someone with file access.
export function sqlite(data, sql) {
  return execFileSync('sqlite3', [path.join(data, 'phivault.db'), sql]).toString();
}

// Run the phivault command without blocking the event loop (so a test can keep load on a
// server meanwhile); resolves to {status, stdout, stderr}.
export function cliAsync(args, { env = {} } = {}) {
  const full = { ...process.env, ...env };
  for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, args, { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => { stdout += c; });
    p.stderr.on('data', (c) => { stderr += c; });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ status: code, stdout, stderr }));
  });
}
