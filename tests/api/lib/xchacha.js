// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) opened with node's own ChaCha20-Poly1305 and a
// small HChaCha20, so tests can check phivault's sealed key material with code that is not
// phivault's: a key either opens a blob or it does not.
import { createDecipheriv } from 'node:crypto';

const rotl = (v, n) => ((v << n) | (v >>> (32 - n))) >>> 0;

function quarter(s, a, b, c, d) {
  s[a] = (s[a] + s[b]) >>> 0; s[d] = rotl(s[d] ^ s[a], 16);
  s[c] = (s[c] + s[d]) >>> 0; s[b] = rotl(s[b] ^ s[c], 12);
  s[a] = (s[a] + s[b]) >>> 0; s[d] = rotl(s[d] ^ s[a], 8);
  s[c] = (s[c] + s[d]) >>> 0; s[b] = rotl(s[b] ^ s[c], 7);
}

// HChaCha20 of a 32-byte key and a 16-byte nonce: the 32-byte subkey.
export function hchacha20(key, nonce16) {
  const s = new Uint32Array(16);
  s[0] = 0x61707865; s[1] = 0x3320646e; s[2] = 0x79622d32; s[3] = 0x6b206574;
  for (let i = 0; i < 8; i++) s[4 + i] = key.readUInt32LE(4 * i);
  for (let i = 0; i < 4; i++) s[12 + i] = nonce16.readUInt32LE(4 * i);
  for (let i = 0; i < 10; i++) {
    quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13); quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15);
    quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12); quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14);
  }
  const out = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(s[i], 4 * i);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(s[12 + i], 16 + 4 * i);
  return out;
}

// Open nonce (24) | ciphertext | tag (16) with key and associated data; null if it does not open.
export function xchachaOpen(key, blob, ad) {
  const nonce = blob.subarray(0, 24);
  const sub = hchacha20(key, nonce.subarray(0, 16));
  const iv = Buffer.concat([Buffer.alloc(4), nonce.subarray(16, 24)]);
  const d = createDecipheriv('chacha20-poly1305', sub, iv, { authTagLength: 16 });
  d.setAAD(ad, { plaintextLength: blob.length - 40 });
  d.setAuthTag(blob.subarray(blob.length - 16));
  try {
    return Buffer.concat([d.update(blob.subarray(24, blob.length - 16)), d.final()]);
  } catch {
    return null;
  }
}

// The associated data of a wrapped data key (crypto/keyring.c): "pv-dk1", owner, versions.
export function wrapAd(owner, masterVersion, keyVersion) {
  const o = Buffer.from(owner);
  const v = Buffer.alloc(8);
  v.writeUInt32BE(masterVersion, 0);
  v.writeUInt32BE(keyVersion, 4);
  return Buffer.concat([Buffer.from('pv-dk1'), Buffer.from([o.length]), o, v]);
}
