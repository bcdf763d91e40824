// The app protocol (as `iamsmart-app` speaks it): every call is signed by the device key, a
// compact ES256 JWS over the method, path, body hash, time and a single-use id (WebCrypto's
// raw P-256 signatures are exactly JWS's). An unlocked app also sends its session token, which
// lives in this module's memory only: a reload, a closed tab or the idle timer lock the app.
// Before signed calls the app witnesses the transparency log (witness.js).
import { b64u } from './der.js';
import { witness, LogAlarm } from './witness.js';
import { langCode } from './i18n.js';

const enc = new TextEncoder();

/** A refusal or failure, with the platform's problem details. */
export class ApiError extends Error {
  constructor(status, kind, detail, reference, extra = {}) {
    super(detail || kind);
    this.status = status;
    this.kind = kind;
    this.detail = detail;
    this.reference = reference;
    Object.assign(this, extra);
  }
}

/**
 * Whether an error ends what the app was doing for a screen of its own (the lock screen, the
 * removed phone, the log alarm) rather than a message beside a button.
 */
export function stopsTheApp(e) {
  return ['app-locked', 'device-revoked', 'log-alarm'].includes(e && e.kind);
}

let session = null;
let onLocked = () => {};
let lastCall = 0;

/** Remember the session an unlock (or the set-up) opened. */
export function setSession(s) {
  session = s ? { token: s.session, expiresAt: s.expires_at, idleMs: s.idle_secs * 1000 } : null;
  lastCall = Date.now();
}

/** Whether the app holds a session that the platform should still accept. */
export function unlocked() {
  return !!session && Date.now() < session.expiresAt && Date.now() - lastCall < session.idleMs;
}

/** The idle time after which the platform locks the app (ms). */
export function idleMs() {
  return session ? session.idleMs : 300_000;
}

/** Called when the platform says the app is locked. */
export function whenLocked(fn) {
  onLocked = fn;
}

/** Forget the session (the app is locked from now on). */
export function dropSession() {
  session = null;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function randomId() {
  return b64u(crypto.getRandomValues(new Uint8Array(18)));
}

/** A compact ES256 JWS of `claims` with header {alg, typ, kid}, signed by `privateKey`. */
export async function signJws(privateKey, typ, kid, claims) {
  const head = b64u(enc.encode(JSON.stringify({ alg: 'ES256', typ, kid })));
  const body = b64u(enc.encode(JSON.stringify(claims)));
  const input = enc.encode(`${head}.${body}`);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, input));
  return `${head}.${body}.${b64u(sig)}`;
}

/** The public key as the platform wants it, and its RFC 7638 thumbprint. */
export async function publicJwk(publicKey) {
  const j = await crypto.subtle.exportKey('jwk', publicKey);
  const jwk = { kty: 'EC', crv: 'P-256', x: j.x, y: j.y };
  const canonical = `{"crv":"P-256","kty":"EC","x":"${j.x}","y":"${j.y}"}`;
  return { jwk, thumbprint: b64u(await sha256(enc.encode(canonical))) };
}

async function problem(res) {
  let p = {};
  try { p = await res.json(); } catch { /* not JSON */ }
  const kind = (p.type || '').split('/').pop() || (res.status >= 500 ? 'server' : 'refused');
  const retryAfter = Number(res.headers.get('retry-after')) || null;
  return new ApiError(res.status, kind, p.detail || p.title || '', p.correlation_id, { field: p.field, retryAfter });
}

/**
 * Witness the transparency log (witness.js) unless it was done a moment ago. An alarm is an
 * ApiError of kind `log-alarm` (with `alarm`, what was seen); a log out of reach is not.
 */
export async function witnessLog() {
  try {
    await witness();
  } catch (e) {
    if (e instanceof LogAlarm) throw new ApiError(0, 'log-alarm', e.message, null, { alarm: e.kind });
    throw e;
  }
}

/** An unsigned call (configuration, passkey options). */
export async function plain(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method, cache: 'no-store', credentials: 'omit',
      headers: body === undefined ? { 'accept-language': langCode() }
        : { 'content-type': 'application/json', 'accept-language': langCode() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', '');
  }
  if (!res.ok) throw await problem(res);
  return res.status === 204 ? null : res.json();
}

/**
 * A call signed by `device` (the record from store.js: `key`, and `deviceId` once bound, or the
 * key's `thumbprint` before). Answers the parsed JSON (or null for 204).
 */
export async function call(device, method, path, body) {
  // Nothing is answered on a platform whose public log was cut short or rewritten.
  await witnessLog();
  const bytes = body === undefined ? new Uint8Array() : enc.encode(JSON.stringify(body));
  const claims = {
    htm: method, htp: path, iat: Math.floor(Date.now() / 1000), jti: randomId(),
    bh: b64u(await sha256(bytes)),
  };
  const kid = device.deviceId || device.thumbprint;
  const sig = await signJws(device.key.privateKey, 'iamsmart-device+jwt', kid, claims);
  // In the reader's language: a Simplified Chinese reader gets the platform's Chinese texts in
  // Simplified characters too (beside the Traditional ones).
  const headers = { 'iamsmart-device-signature': sig, 'accept-language': langCode() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session) headers['iamsmart-app-session'] = session.token;
  let res;
  try {
    res = await fetch(path, {
      method, headers, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : bytes,
    });
  } catch {
    throw new ApiError(0, 'network', '');
  }
  if (!res.ok) {
    const e = await problem(res);
    if (e.kind === 'app-locked') { session = null; onLocked(e); }
    throw e;
  }
  lastCall = Date.now();
  return res.status === 204 ? null : res.json();
}
