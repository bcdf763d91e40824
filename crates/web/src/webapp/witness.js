// The phone as a witness of the platform's transparency log (as the command-line app and
// `iamsmart witness` are; crates/crypto/src/witness.rs decides the same things). The phone
// pins the log's keys at first contact and remembers the signed tree heads it saw; each newer
// head must carry a pinned key's ES256 signature and extend the newest head seen before (an
// RFC 9162 consistency proof). A head smaller than one seen (entries cut off), a second root for
// one size, a proof that fails or a head no pinned key signed is an alarm: an honest log never
// does any of them, so the app stops approving and tells the resident. A log that cannot be
// reached is no alarm (the call that follows will say what is wrong).
import { b64u, fromB64u } from './der.js';
import * as store from './store.js';

/** How many heads the phone keeps (the newest): the newest proves everything older. */
const KEPT_HEADS = 1000;
/** How often a running app looks again (ms): at start, then before calls after this long. */
const RECHECK_MS = 5 * 60_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Something an honest log never does; `kind` is rollback, fork, inconsistent or bad-signature. */
export class LogAlarm extends Error {
  constructor(kind, detail) {
    super(detail);
    this.kind = kind;
  }
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

/** RFC 7638 thumbprint of a P-256 public key (the only kind the log signs with). */
export async function thumbprint(jwk) {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') return null;
  return b64u(await sha256(enc.encode(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`)));
}

function hash(s) {
  try {
    const h = fromB64u(s);
    return h.length === 32 ? h : null;
  } catch {
    return null;
  }
}

function same(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Whether `head`'s JWS is a tree head signed by one of the pinned keys among `keys`. */
async function signedByPinned(state, head, keys) {
  const parts = String(head.signature || '').split('.');
  if (parts.length !== 3) return 'malformed';
  let header;
  let payload;
  try {
    header = JSON.parse(dec.decode(fromB64u(parts[0])));
    payload = JSON.parse(dec.decode(fromB64u(parts[1])));
  } catch {
    return 'malformed';
  }
  if (header.alg !== 'ES256' || header.typ !== 'tree-head+jwt') return 'it is not an ES256 tree head signature';
  let signature;
  try {
    signature = fromB64u(parts[2]);
  } catch {
    return 'malformed';
  }
  const input = enc.encode(`${parts[0]}.${parts[1]}`);
  let verified = false;
  for (const jwk of keys) {
    const tp = await thumbprint(jwk);
    if (!tp || !state.log_keys.includes(tp)) continue;
    try {
      const key = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y },
        { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
      if (await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, input)) {
        verified = true;
        break;
      }
    } catch {
      // Not a usable P-256 key: it verifies nothing.
    }
  }
  if (!verified) return 'no pinned key verifies it';
  if (payload.tree_size !== head.tree_size || payload.root_hash !== head.root_hash
    || payload.timestamp !== head.timestamp || !hash(payload.root_hash)) {
    return 'the signed content differs from the head';
  }
  return null;
}

async function nodeHash(left, right) {
  const b = new Uint8Array(65);
  b[0] = 1;
  b.set(left, 1);
  b.set(right, 33);
  return sha256(b);
}

/** RFC 9162 section 2.1.4.2: does `proof` show that the tree of `first` leaves is a prefix of `second`'s? */
export async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
  let [f, s] = [BigInt(first), BigInt(second)];
  if (f > s) return false;
  if (f === s) return proof.length === 0 && same(firstRoot, secondRoot);
  if (f === 0n) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = (f & (f - 1n)) === 0n ? [firstRoot, ...proof] : [...proof];
  let [fn, sn] = [f - 1n, s - 1n];
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let [fr, sr] = [path[0], path[0]];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && same(fr, firstRoot) && same(sr, secondRoot);
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store', credentials: 'omit' });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

/**
 * Check the log once against `state` ({log_keys, heads}, changed in place): pin the keys at
 * first contact, then accept the newest head or throw a LogAlarm. Answers the head accepted, or
 * null when the log could not be asked.
 */
export async function check(state) {
  let keys;
  let head;
  try {
    keys = (await getJson('/transparency/v1/keys')).keys || [];
    head = await getJson('/transparency/v1/tree-head');
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(head.tree_size) || head.tree_size < 0) return null;
  if (state.log_keys.length === 0) {
    state.log_keys = (await Promise.all(keys.map(thumbprint))).filter(Boolean);
  }
  const bad = await signedByPinned(state, head, keys);
  if (bad) {
    throw new LogAlarm('bad-signature', `the tree head of size ${head.tree_size} is not signed by a trusted log key: ${bad}`);
  }
  const newest = state.heads[state.heads.length - 1];
  if (newest && head.tree_size < newest.tree_size) {
    throw new LogAlarm('rollback', `the log now shows ${head.tree_size} entries, but ${newest.tree_size} were seen before: entries were cut off`);
  }
  const seen = state.heads.find((x) => x.tree_size === head.tree_size);
  if (seen && seen.root_hash !== head.root_hash) {
    throw new LogAlarm('fork', `two different tree heads for size ${head.tree_size}: the log was forked or rewritten`);
  }
  if (newest && head.tree_size > newest.tree_size && newest.tree_size > 0) {
    const inconsistent = new LogAlarm('inconsistent',
      `the head of size ${head.tree_size} does not extend the head of size ${newest.tree_size} (consistency proof fails)`);
    let proof;
    try {
      proof = (await getJson(`/transparency/v1/consistency?first=${newest.tree_size}&second=${head.tree_size}`)).consistency_path;
    } catch {
      return null;
    }
    const hashes = Array.isArray(proof) ? proof.map(hash) : [null];
    if (hashes.some((x) => !x)) throw inconsistent;
    if (!await verifyConsistency(newest.tree_size, head.tree_size, hash(newest.root_hash), hash(head.root_hash), hashes)) {
      throw inconsistent;
    }
  }
  if (!seen) {
    state.heads.push({ tree_size: head.tree_size, root_hash: head.root_hash, timestamp: head.timestamp });
    state.heads.sort((a, b) => a.tree_size - b.tree_size);
    if (state.heads.length > KEPT_HEADS) state.heads.splice(0, state.heads.length - KEPT_HEADS);
  }
  return head;
}

let lastChecked = 0;
let running = null;

/**
 * Witness the log if it was not done in the last few minutes (the app calls this before every
 * signed call). Throws a LogAlarm; the state is saved only when the head was accepted, so an
 * alarm stays an alarm at every later look.
 */
export function witness() {
  if (Date.now() - lastChecked < RECHECK_MS) return Promise.resolve();
  if (!running) {
    running = (async () => {
      const state = (await store.loadWitness()) || { log_keys: [], heads: [] };
      const head = await check(state);
      if (head) {
        await store.saveWitness(state);
        lastChecked = Date.now();
      }
    })().catch((e) => {
      // Only an alarm stops the app; a browser that cannot keep the state only loses the check.
      if (e instanceof LogAlarm) throw e;
    }).finally(() => { running = null; });
  }
  return running;
}
