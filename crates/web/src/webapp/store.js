// What the app keeps in this browser: one IndexedDB record with the device's ids and its keys,
// and one with what the phone saw of the transparency log (witness.js). The keys are WebCrypto
// P-256 keys made non-extractable: the browser signs with them but never hands out their
// private part. Nothing personal is kept here or in localStorage: the resident's details are
// read from the platform while the app is unlocked, and forgotten.
const DB = 'iamsmart-app';
const STORE = 'device';

function open() {
  return new Promise((resolve, reject) => {
    if (!window.indexedDB) { reject(new Error('no-indexeddb')); return; }
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error || new Error('indexeddb'));
  });
}

async function run(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const out = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(out && 'result' in out ? out.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('aborted'));
    });
  } finally {
    db.close();
  }
}

/** The device record, or null before set-up. */
export function load() {
  return run('readonly', (s) => s.get('device')).then((v) => v || null);
}

/** Save the device record (whole). */
export function save(device) {
  return run('readwrite', (s) => s.put(device, 'device'));
}

/**
 * Forget the device (after removal, closure, or starting over). What the phone saw of the
 * transparency log stays: it is nobody's personal data, and it is the evidence that the log
 * was not cut short since.
 */
export function clear() {
  return run('readwrite', (s) => s.delete('device'));
}

/** What the phone saw of the transparency log ({log_keys, heads}), or null at first contact. */
export function loadWitness() {
  return run('readonly', (s) => s.get('log-witness')).then((v) => v || null);
}

/** Save what the phone saw of the transparency log. */
export function saveWitness(state) {
  return run('readwrite', (s) => s.put(state, 'log-witness'));
}

/** A new P-256 key pair whose private key cannot be exported. */
export function newKeyPair() {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
}
