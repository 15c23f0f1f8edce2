// End-to-end values as a client makes and opens them, with libsodium (libsodium-wrappers): each
// reader has an X25519 key pair, a value is sealed once per reader with crypto_box_seal, and the
// server only ever sees {user id: base64 sealed box}. Its ESM build is broken (it imports a file
// it does not ship), so the CommonJS build is loaded, from this directory's node_modules.
import { createRequire } from 'node:module';

const sodium = createRequire(import.meta.url)('libsodium-wrappers');
await sodium.ready;

export const b64 = (bytes) => sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
export const fromB64 = (text) => sodium.from_base64(text, sodium.base64_variants.ORIGINAL);

// A new key pair, its public key registered for the session token's user.
export async function registerKey(c, token) {
  const kp = sodium.crypto_box_keypair();
  const r = await c.req('PUT', '/v1/auth/public-key', { token, json: { public_key: b64(kp.publicKey) } });
  if (r.status !== 200) throw new Error(`register key: ${r.status} ${r.text}`);
  return kp;
}

// text sealed for each reader: readers maps a user id to its public key (bytes or base64).
export function seal(text, readers) {
  const out = {};
  for (const [uid, pk] of Object.entries(readers))
    out[uid] = b64(sodium.crypto_box_seal(sodium.from_string(text), typeof pk === 'string' ? fromB64(pk) : pk));
  return out;
}

// The text of value's box for uid, opened with uid's key pair (throws if it does not open).
export function open(value, uid, kp) {
  if (!value || typeof value[uid] !== 'string') throw new Error(`no box for ${uid}`);
  return sodium.to_string(sodium.crypto_box_seal_open(fromB64(value[uid]), kp.publicKey, kp.privateKey));
}

// Random bytes as a box would be (for values of the right shape that nobody can open).
export const randomBox = (n = 64) => b64(sodium.randombytes_buf(n));
