// User verification that the platform checks: the device's passkey (the phone's fingerprint,
// face or screen lock, through WebAuthn with user verification required) or its PIN. The app
// never decides on its own that the resident is present: it only gathers the proof.
import { b64u, fromB64u } from './der.js';
import { call, sha256, setSession, ApiError } from './api.js';
import { t } from './i18n.js';
import { h, button } from './ui.js';

/** Whether this browser can make passkeys at all. */
export function passkeysPossible() {
  return !!(window.PublicKeyCredential && navigator.credentials && navigator.credentials.create);
}

function toBuf(s) {
  return fromB64u(s).buffer;
}

/** Create the device's passkey from the platform's creation options (JSON). */
export async function createPasskey(o) {
  const opts = {
    ...o,
    challenge: toBuf(o.challenge),
    user: { ...o.user, id: toBuf(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: toBuf(c.id) })),
  };
  let cred;
  try {
    cred = await navigator.credentials.create({ publicKey: opts });
  } catch (e) {
    throw new ApiError(0, 'passkey-cancelled', String(e && e.name));
  }
  if (!cred) throw new ApiError(0, 'passkey-cancelled', '');
  return {
    id: cred.id, type: cred.type,
    response: {
      clientDataJSON: b64u(new Uint8Array(cred.response.clientDataJSON)),
      attestationObject: b64u(new Uint8Array(cred.response.attestationObject)),
    },
  };
}

/** An assertion from the device's passkey over `challenge` (base64url). */
export async function assertPasskey(device, challenge) {
  const publicKey = {
    challenge: toBuf(challenge),
    rpId: device.rpId,
    timeout: 120000,
    userVerification: 'required',
    allowCredentials: [{ type: 'public-key', id: toBuf(device.credentialId) }],
  };
  let cred;
  try {
    cred = await navigator.credentials.get({ publicKey });
  } catch (e) {
    throw new ApiError(0, 'passkey-cancelled', String(e && e.name));
  }
  if (!cred) throw new ApiError(0, 'passkey-cancelled', '');
  const r = cred.response;
  return {
    id: cred.id, type: cred.type,
    response: {
      clientDataJSON: b64u(new Uint8Array(r.clientDataJSON)),
      authenticatorData: b64u(new Uint8Array(r.authenticatorData)),
      signature: b64u(new Uint8Array(r.signature)),
      userHandle: r.userHandle ? b64u(new Uint8Array(r.userHandle)) : null,
    },
  };
}

/** Ask for the PIN in a dialog; resolves the PIN, or null if cancelled. */
export function askPin(note = '') {
  return new Promise((resolve) => {
    const input = h('input', {
      id: 'pin-input', type: 'password', inputmode: 'numeric', autocomplete: 'off', maxlength: '6',
      pattern: '[0-9]{6}', required: true, 'aria-describedby': note ? 'pin-note' : null,
    });
    const err = h('p', { class: 'error', role: 'alert', hidden: true });
    const form = h('form', { method: 'dialog', class: 'pin-form' },
      h('label', { for: 'pin-input' }, t('enterPin')),
      note ? h('p', { class: 'hint', id: 'pin-note' }, note) : null,
      input, err,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'button', value: 'ok' }, t('continue')),
        button(t('cancel'), () => dlg.close('cancel'), 'secondary')));
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'pin-title' },
      h('h2', { id: 'pin-title' }, t('confirmAgain')), form);
    form.addEventListener('submit', (ev) => {
      if (!/^[0-9]{6}$/.test(input.value)) {
        ev.preventDefault();
        err.textContent = t('pinShape');
        err.hidden = false;
        input.focus();
      }
    });
    dlg.addEventListener('close', () => {
      const pin = dlg.returnValue === 'ok' ? input.value : null;
      input.value = '';
      dlg.remove();
      resolve(pin);
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  });
}

/** A proof for `challenge` with the device's method; null if the resident cancelled. */
export async function prove(device, challenge, note = '') {
  if (device.uv === 'passkey') {
    return { method: 'passkey', assertion: await assertPasskey(device, challenge) };
  }
  if (device.uv === 'pin') {
    const pin = await askPin(note);
    return pin ? { method: 'pin', pin } : null;
  }
  return undefined;
}

/** The challenge of an approval's proof: SHA-256 of the signed decision. */
export async function decisionChallenge(signed) {
  return b64u(await sha256(new TextEncoder().encode(signed)));
}

/**
 * Unlock: ask the platform for a challenge, gather the proof, open a session. Resolves true
 * when unlocked, false when the resident cancelled. PIN errors say how many tries are left.
 */
export async function unlock(device) {
  const o = await call(device, 'POST', '/app/v1/unlock/options', {});
  if (o.method === 'none') return true;
  const note = o.attempts_left != null && o.attempts_left < 5 ? t('attemptsLeft', { n: o.attempts_left }) : '';
  const proof = o.method === 'passkey'
    ? { method: 'passkey', assertion: await assertPasskey({ ...device, rpId: o.public_key.rpId, credentialId: o.public_key.allowCredentials[0].id }, o.challenge) }
    : await prove(device, o.challenge, note);
  if (!proof) return false;
  const s = await call(device, 'POST', '/app/v1/unlock', { challenge: o.challenge, user_verification: proof });
  setSession(s);
  return true;
}
