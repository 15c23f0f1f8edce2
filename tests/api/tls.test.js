// TLS: `serve --tls-cert FILE --tls-key FILE` serves HTTPS (GnuTLS through libmicrohttpd),
// checked with curl against a certificate made here with openssl; plain HTTP on an address that
// is not loopback is refused unless --insecure-http is given.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, BIN, EXAMPLE_POLICY, cli, startServer } from './lib/harness.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'pvtls-'));
const cert = path.join(tmp, 'cert.pem');
const key = path.join(tmp, 'key.pem');
const data = path.join(tmp, 'data');
let srv;

function openssl(dir, name) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.pem`), '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  chmodSync(path.join(dir, `${name}.key`), 0o600);
}

// curl, returning {status, stdout, stderr}.
function curl(args) {
  try {
    return { status: 0, stdout: execFileSync('curl', ['-sS', '--max-time', '10', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() };
  } catch (e) {
    return { status: e.status, stdout: e.stdout?.toString() ?? '', stderr: e.stderr?.toString() ?? '' };
  }
}

// Start `phivault serve` with args and wait for it to listen (true) or exit (false).
function serveUntil(args) {
  return new Promise((resolve) => {
    const p = spawn(BIN, ['serve', '--data', data, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    p.stderr.on('data', (d) => {
      log += d;
      if (log.includes('"event":"server.listening"')) p.kill('SIGTERM');
    });
    p.on('exit', (code) => resolve({ listened: log.includes('"event":"server.listening"'), code, log }));
  });
}

before(async () => {
  openssl(tmp, 'cert');
  execFileSync('mv', [path.join(tmp, 'cert.key'), key]);
  srv = await startServer({ args: ['--tls-cert', cert, '--tls-key', key] });
  assert.equal(cli(['init', '--data', data, '--policy', EXAMPLE_POLICY], { env: { PHIVAULT_ADMIN_PASSWORD: ADMIN_PASSWORD } }).status, 0);
});
after(async () => {
  await srv.stop();
  srv.remove();
  rmSync(tmp, { recursive: true, force: true });
});

test('the server speaks HTTPS with the certificate it was given', async () => {
  const url = `https://localhost:${srv.port}`;
  const health = curl(['--cacert', cert, `${url}/healthz`]);
  assert.equal(health.status, 0, health.stderr);
  assert.deepEqual(JSON.parse(health.stdout), { status: 'ok' });
  const login = curl(['--cacert', cert, `${url}/v1/auth/login`, '-H', 'content-type: application/json',
    '-d', JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD })]);
  const token = JSON.parse(login.stdout).token;
  assert.match(token, /^pvt_/);
  const users = curl(['--cacert', cert, '-H', `authorization: Bearer ${token}`, `${url}/v1/users`]);
  assert.deepEqual(JSON.parse(users.stdout).users.map((u) => u.username), ['admin']);
  assert.match(srv.log(), /"event":"server.listening".*"scheme":"https"/);
  // A client that does not trust the certificate is refused, and so is plain HTTP.
  assert.notEqual(curl([`${url}/healthz`]).status, 0);
  const plain = curl([`http://127.0.0.1:${srv.port}/healthz`]);
  assert.ok(plain.status !== 0 || !plain.stdout.includes('"ok"'), 'plain HTTP must not be answered');
  // The certificate presented is the one made for this test.
  const shown = execFileSync('bash', ['-c', `openssl s_client -connect 127.0.0.1:${srv.port} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`]).toString();
  const mine = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256']).toString();
  assert.equal(shown.trim(), mine.trim());
});

test('plain HTTP on an address that is not loopback is refused unless --insecure-http', async () => {
  const refused = cli(['serve', '--data', data, '--listen', '0.0.0.0:0']);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /refusing plain HTTP on 0\.0\.0\.0:0/);
  const open = await serveUntil(['--listen', '0.0.0.0:0', '--insecure-http']);
  assert.ok(open.listened, open.log);
  const tls = await serveUntil(['--listen', '0.0.0.0:0', '--tls-cert', cert, '--tls-key', key]);
  assert.ok(tls.listened, tls.log);
  const loop = await serveUntil(['--listen', '127.0.0.1:0']);
  assert.ok(loop.listened, loop.log);
});

test('bad TLS files are refused with a clear message', () => {
  const shared = path.join(tmp, 'shared.key');
  execFileSync('cp', [key, shared]);
  chmodSync(shared, 0o644);
  const r1 = cli(['serve', '--data', data, '--tls-cert', cert, '--tls-key', shared]);
  assert.equal(r1.status, 1);
  assert.match(r1.stderr, /shared\.key: cannot read the TLS key .*readable by its owner alone/);
  const notPem = path.join(tmp, 'not.pem');
  writeFileSync(notPem, 'hello');
  const r2 = cli(['serve', '--data', data, '--tls-cert', notPem, '--tls-key', key]);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /not\.pem: not a PEM file/);
  assert.equal(cli(['serve', '--data', data, '--tls-cert', cert]).status, 2);
  // A key that is not the certificate's.
  openssl(tmp, 'other');
  const r3 = cli(['serve', '--data', data, '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', path.join(tmp, 'other.key')]);
  assert.equal(r3.status, 1);
  assert.match(r3.stderr, /cannot serve TLS/);
});
