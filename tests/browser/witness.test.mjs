// Tests of crates/web/src/webapp/witness.js in Node 20 (WebCrypto as in a browser):
//   node tests/browser/witness.test.mjs
// A log is built here from RFC 9162's definitions (the Merkle tree hash and SUBPROOF, straight
// from the text), its heads signed with a P-256 key as the platform signs them, and served to
// the witness through a stand-in for fetch. Every consistency proof between sizes 1..33 must
// verify and every altered one must not; the witness must accept a growing log and raise each
// alarm (rollback, fork, inconsistent, bad signature) that crates/crypto/src/witness.rs raises.
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { b64u } from '../../crates/web/src/webapp/der.js';
import { check, verifyConsistency, thumbprint, LogAlarm } from '../../crates/web/src/webapp/witness.js';

const subtle = webcrypto.subtle;
const enc = new TextEncoder();
let failed = 0;
async function test(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); } catch (e) { failed++; console.log(`not ok - ${name}\n  ${e.stack}`); }
}

const sha = async (...parts) => new Uint8Array(await subtle.digest('SHA-256', Buffer.concat(parts.map((p) => Buffer.from(p)))));
const leafHash = (data) => sha([0], data);
const nodeHash = (l, r) => sha([1], l, r);

/** MTH(D[n]) of RFC 9162 section 2.1.1, over leaf hashes. */
async function mth(leaves) {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(await mth(leaves.slice(0, k)), await mth(leaves.slice(k)));
}

/** SUBPROOF(m, D[n], b) of RFC 9162 section 2.1.4.1. */
async function subproof(m, leaves, b) {
  const n = leaves.length;
  if (m === n) return b ? [] : [await mth(leaves)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  if (m <= k) return [...await subproof(m, leaves.slice(0, k), b), await mth(leaves.slice(k))];
  return [...await subproof(m - k, leaves.slice(k), false), await mth(leaves.slice(0, k))];
}

const leaves = [];
for (let i = 0; i < 33; i += 1) leaves.push(await leafHash(enc.encode(`entry ${i}`)));
const roots = [await mth([])];
for (let n = 1; n <= leaves.length; n += 1) roots.push(await mth(leaves.slice(0, n)));

await test('every RFC 9162 consistency proof between sizes 1..33 verifies; altered ones do not', async () => {
  for (let m = 1; m <= 33; m += 1) {
    for (let n = m; n <= 33; n += 1) {
      const proof = m === n ? [] : await subproof(m, leaves.slice(0, n), true);
      assert.ok(await verifyConsistency(m, n, roots[m], roots[n], proof), `${m} -> ${n}`);
      if (m === n) continue;
      assert.ok(!await verifyConsistency(m, n, roots[m], roots[n - 1], proof), `${m} -> ${n}: wrong new root`);
      assert.ok(!await verifyConsistency(m, n, roots[n], roots[n], proof), `${m} -> ${n}: wrong old root`);
      assert.ok(!await verifyConsistency(m, n, roots[m], roots[n], proof.slice(1)), `${m} -> ${n}: a hash missing`);
      assert.ok(!await verifyConsistency(m, n, roots[m], roots[n], [...proof, roots[1]]), `${m} -> ${n}: a hash too many`);
      const flipped = proof.map((h) => h.slice());
      flipped[flipped.length - 1][0] ^= 1;
      assert.ok(!await verifyConsistency(m, n, roots[m], roots[n], flipped), `${m} -> ${n}: a bit flipped`);
    }
  }
  assert.ok(!await verifyConsistency(5, 4, roots[5], roots[4], []), 'shrinking');
  assert.ok(await verifyConsistency(0, 7, roots[0], roots[7], []), 'the empty tree is a prefix of every tree');
});

/** A P-256 log key as the platform has one, and heads signed with it. */
async function logKey() {
  const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const j = await subtle.exportKey('jwk', pair.publicKey);
  const jwk = { kty: 'EC', crv: 'P-256', x: j.x, y: j.y, alg: 'ES256', use: 'sig' };
  return { jwk, kid: await thumbprint(jwk), privateKey: pair.privateKey };
}
async function signedHead(key, size, root = roots[size], timestamp = 1_800_000_000_000 + size, typ = 'tree-head+jwt') {
  const head = { tree_size: size, timestamp, root_hash: b64u(root) };
  const h = b64u(enc.encode(JSON.stringify({ alg: 'ES256', typ, kid: key.kid })));
  const p = b64u(enc.encode(JSON.stringify(head)));
  const sig = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, enc.encode(`${h}.${p}`)));
  return { ...head, signature: `${h}.${p}.${b64u(sig)}` };
}

/** The platform as the witness sees it: its keys, its newest head and consistency proofs. */
const served = { keys: [], head: null, proofLeaves: leaves, down: false };
globalThis.fetch = async (path) => {
  const json = (v) => ({ ok: true, status: 200, json: async () => v });
  if (served.down) throw new TypeError('network');
  if (path === '/transparency/v1/keys') return json({ keys: served.keys.map((k) => k.jwk) });
  if (path === '/transparency/v1/tree-head') return json(served.head);
  const q = /^\/transparency\/v1\/consistency\?first=(\d+)&second=(\d+)$/.exec(path);
  if (q) {
    const proof = await subproof(Number(q[1]), served.proofLeaves.slice(0, Number(q[2])), true);
    return json({ consistency_path: proof.map(b64u) });
  }
  return { ok: false, status: 404, json: async () => ({}) };
};

async function alarmOf(state) {
  try {
    await check(state);
  } catch (e) {
    assert.ok(e instanceof LogAlarm, e.stack);
    return e;
  }
  return null;
}

await test('first contact pins the keys; a growing log is accepted; a log out of reach is no alarm', async () => {
  const key = await logKey();
  served.keys = [key];
  served.head = await signedHead(key, 5);
  const state = { log_keys: [], heads: [] };
  assert.equal((await check(state)).tree_size, 5);
  assert.deepEqual(state.log_keys, [key.kid]);
  served.head = await signedHead(key, 13);
  assert.equal((await check(state)).tree_size, 13);
  served.head = await signedHead(key, 13);
  assert.equal((await check(state)).tree_size, 13, 'the same head again');
  assert.deepEqual(state.heads.map((h) => h.tree_size), [5, 13]);
  served.down = true;
  assert.equal(await check(state), null);
  served.down = false;
});

await test('a log cut short is a rollback; the state keeps what was seen', async () => {
  const key = await logKey();
  served.keys = [key];
  served.head = await signedHead(key, 20);
  const state = { log_keys: [], heads: [] };
  await check(state);
  served.head = await signedHead(key, 18);
  const alarm = await alarmOf(state);
  assert.equal(alarm?.kind, 'rollback');
  assert.match(alarm.message, /cut off/);
  assert.equal(state.heads.at(-1).tree_size, 20);
});

await test('a second root for a size seen is a fork; a newer head that does not extend is inconsistent', async () => {
  const key = await logKey();
  served.keys = [key];
  served.head = await signedHead(key, 9);
  const state = { log_keys: [], heads: [] };
  await check(state);
  served.head = await signedHead(key, 9, roots[8]);
  assert.equal((await alarmOf(state))?.kind, 'fork');
  // A rewritten history: entry 3 replaced, the log grown, heads re-signed with the real key.
  const rewritten = leaves.slice();
  rewritten[3] = await leafHash(enc.encode('something else'));
  served.proofLeaves = rewritten;
  served.head = await signedHead(key, 16, await mth(rewritten.slice(0, 16)));
  assert.equal((await alarmOf(state))?.kind, 'inconsistent');
  served.proofLeaves = leaves;
  served.head = await signedHead(key, 16);
  assert.equal((await check(state)).tree_size, 16, 'the honest log still goes on');
});

await test('a head signed by a key not pinned, of another type, or altered is refused', async () => {
  const key = await logKey();
  served.keys = [key];
  served.head = await signedHead(key, 4);
  const state = { log_keys: [], heads: [] };
  await check(state);
  const stranger = await logKey();
  served.keys = [key, stranger];
  served.head = await signedHead(stranger, 8);
  assert.equal((await alarmOf(state))?.kind, 'bad-signature', 'a new key published next to the old one');
  served.head = await signedHead(key, 8, roots[8], undefined, 'JWT');
  assert.equal((await alarmOf(state))?.kind, 'bad-signature', 'another typ');
  served.head = { ...await signedHead(key, 8), tree_size: 9, root_hash: b64u(roots[9]) };
  assert.equal((await alarmOf(state))?.kind, 'bad-signature', 'content other than the signed one');
  served.head = { ...await signedHead(key, 8), signature: 'not.a.jws' };
  assert.equal((await alarmOf(state))?.kind, 'bad-signature', 'garbage');
  served.head = await signedHead(key, 8);
  assert.equal((await check(state)).tree_size, 8);
});

if (failed) { console.log(`${failed} failed`); process.exit(1); }
console.log('all ok');
