// Check-in codes verified on the phone, exactly as the server reads them
// (backend/checkin/codes.py): "L1" + base32 (RFC 4648, upper case, no padding) of a 9-byte
// payload — kind (u8, 1 = a resident's code), user id (u32 BE), time step (u32 BE, unix
// time // 30) — and its Ed25519 signature over "linli-checkin-v1:" + payload. Only the one
// canonical spelling verifies; the code is good from one step before it was issued to the
// end of the step after next, judged at the time of the scan.
//
// Ed25519 through WebCrypto where the browser has it; otherwise the vendored
// @noble/ed25519 (MIT, mp/vendor/), loaded only then.

const PREFIX = "L1";
const CONTEXT = new TextEncoder().encode("linli-checkin-v1:");
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const PAYLOAD_LEN = 9;
const SIGNATURE_LEN = 64;
const PERSONAL = 1;
const VALID_STEPS = 2;
const SKEW_STEPS = 1;

function base32Decode(text) {
  if (!/^[A-Z2-7]*$/.test(text)) return null;
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const char of text) {
    value = ((value << 5) | ALPHABET.indexOf(char)) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return new Uint8Array(bytes);
}

export function base32Encode(bytes) {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(value >>> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// The verifier this browser offers, found once: WebCrypto's Ed25519 or the vendored one.
let verifierFor = null;
export function verifierName() { return verifierFor?.name ?? null; }

async function webCryptoVerifier(publicKey) {
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return (signature, message) => crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

async function nobleVerifier(publicKey) {
  const ed = await import("./vendor/noble-ed25519.js");
  return (signature, message) => ed.verifyAsync(signature, message, publicKey, { zip215: false });
}

// A verifier for one public key (base64 of the raw 32 bytes, as the scanner kit gives it).
export async function makeVerifier(publicKeyB64) {
  const publicKey = base64Bytes(publicKeyB64);
  if (!verifierFor) {
    try {
      await webCryptoVerifier(publicKey);
      verifierFor = { name: "webcrypto", make: webCryptoVerifier };
    } catch {
      verifierFor = { name: "noble", make: nobleVerifier };
    }
  }
  return verifierFor.make(publicKey);
}

// The code's holder and step if it is genuine and valid at `atMs`; otherwise the refusal.
export async function readCode(text, verify, atMs) {
  const trimmed = String(text).trim();
  if (!trimmed.startsWith(PREFIX)) return { result: "invalid_code" };
  const body = trimmed.slice(PREFIX.length);
  const blob = base32Decode(body);
  if (!blob || blob.length !== PAYLOAD_LEN + SIGNATURE_LEN || base32Encode(blob) !== body) {
    return { result: "invalid_code" };
  }
  const payload = blob.slice(0, PAYLOAD_LEN);
  const signature = blob.slice(PAYLOAD_LEN);
  const message = new Uint8Array(CONTEXT.length + PAYLOAD_LEN);
  message.set(CONTEXT);
  message.set(payload, CONTEXT.length);
  let genuine = false;
  try {
    genuine = await verify(signature, message);
  } catch {
    genuine = false;
  }
  if (!genuine) return { result: "invalid_code" };
  const view = new DataView(payload.buffer);
  const kind = view.getUint8(0);
  const userId = view.getUint32(1);
  const step = view.getUint32(5);
  if (kind !== PERSONAL) return { result: "invalid_code" };
  const judged = Math.floor(Math.floor(atMs / 1000) / 30);
  if (judged < step - SKEW_STEPS) return { result: "invalid_code" };
  if (judged >= step + VALID_STEPS + SKEW_STEPS) return { result: "expired_code", userId, step };
  return { result: null, userId, step };
}
