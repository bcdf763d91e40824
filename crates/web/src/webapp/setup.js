// Getting started: activation with a code from a counter, a kiosk or another phone, or
// self-registration with the HKID card and a selfie; then how the resident will confirm it is
// them (a passkey, or a PIN the platform checks), and the device key made in this browser.
import { t, when } from './i18n.js';
import { app } from './main.js';
import * as store from './store.js';
import { plain, call, publicJwk, setSession } from './api.js';
import { show, h, button, linkButton, field, errorBox, explain, busy, readPhoto, announce } from './ui.js';
import { passkeysPossible, createPasskey } from './uv.js';
import { enrolSigning } from './requests.js';

const CODE_CHARS = /[^23456789ABCDEFGHJKMNPQRSTUVWXYZ]/g;

/** The code as typed or scanned, in its canonical form (12 symbols), or null. */
export function normaliseCode(input) {
  let s = String(input || '').trim();
  const m = s.match(/^iamsmart:activate\?(?:.*&)?code=([A-Za-z0-9-]+)/);
  if (m) s = m[1];
  s = s.toUpperCase().replace(/[\s-]/g, '');
  return s.length === 12 && !CODE_CHARS.test(s) ? s : null;
}

function guessDeviceName() {
  const ua = navigator.userAgent;
  if (/iPhone/.test(ua)) return 'iPhone';
  if (/iPad/.test(ua)) return 'iPad';
  if (/Android/.test(ua)) return 'Android phone';
  return /Mac/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows PC' : t('deviceComputer');
}

export async function welcome(params) {
  const id = params && params.get('id');
  show(t('welcomeTitle'),
    h('p', { class: 'lead' }, t('welcomeIntro')),
    id ? h('p', { class: 'notice', id: 'set-up-first' }, t('setUpFirst')) : null,
    h('div', { class: 'stack' },
      linkButton(t('haveCode'), '/activate', '', { id: 'start-activate' }),
      h('p', { class: 'hint' }, t('haveCodeHelp')),
      linkButton(t('registerMe'), '/register', 'secondary', { id: 'start-register' }),
      h('p', { class: 'hint' }, t('registerMeHelp'))));
}

export async function activate(params) {
  const given = params.get('code') || '';
  const known = normaliseCode(given);
  const code = field('code', t('codeLabel'), {
    autocomplete: 'one-time-code', autocapitalize: 'characters', spellcheck: 'false',
    value: known ? known.match(/.{4}/g).join('-') : given,
  }, t('codeHint'));
  const name = field('device-name', t('deviceNameLabel'), { value: guessDeviceName(), maxlength: '60', autocomplete: 'off' }, t('deviceNameHint'));
  const form = h('form', { novalidate: true }, code.wrap,
    h('p', {}, linkButton(t('scanCode'), '/scan?for=activate', 'secondary', { id: 'scan-activation' })),
    name.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button', id: 'activate-next' }, t('continue'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const c = normaliseCode(code.input.value);
    code.setError(c ? '' : t('codeInvalid'));
    name.setError(name.input.value.trim() ? '' : t('fieldRequired'));
    if (!c) { code.input.focus(); return; }
    if (!name.input.value.trim()) { name.input.focus(); return; }
    protect(t('activateTitle'), (choice, btn, err) => enrol(choice, btn, err, name.input.value.trim(), (device, jwk, uv) =>
      call(device, 'POST', '/app/v1/activations', { code: c, device: { public_jwk: jwk, name: device.name, user_verification: uv } })));
  });
  show(t('activateTitle'), h('p', {}, t('activateIntro')), form);
}

/**
 * The step where the resident chooses how to confirm it is them; `then(choice, button, errors)`
 * is called with { method: 'passkey' } or { method: 'pin', pin }.
 */
function protect(title, then) {
  const canPasskey = passkeysPossible();
  const pinAllowed = app.config.pin_allowed !== false;
  const radio = (value, label, help, checked) => h('div', { class: 'choice' },
    h('input', { type: 'radio', name: 'uv', id: `uv-${value}`, value, checked, 'aria-describedby': `uv-${value}-help` }),
    h('div', {}, h('label', { for: `uv-${value}` }, label), h('p', { class: 'hint', id: `uv-${value}-help` }, help)));
  const pin1 = field('pin1', t('pinLabel'), { type: 'password', inputmode: 'numeric', maxlength: '6', autocomplete: 'new-password' });
  const pin2 = field('pin2', t('pinAgainLabel'), { type: 'password', inputmode: 'numeric', maxlength: '6', autocomplete: 'new-password' });
  const pins = h('div', { id: 'pin-fields', hidden: canPasskey }, pin1.wrap, pin2.wrap);
  const err = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'button', id: 'set-up' }, t('setUp'));
  const form = h('form', { novalidate: true },
    h('fieldset', {}, h('legend', {}, t('protectTitle')),
      canPasskey ? radio('passkey', t('protectPasskey'), t('protectPasskeyHelp'), true) : null,
      pinAllowed ? radio('pin', t('protectPin'), t('protectPinHelp'), !canPasskey) : null),
    !canPasskey ? h('p', { class: 'warn' }, t('passkeyUnsupported')) : null,
    pins, err, h('div', { class: 'actions' }, submit));
  form.addEventListener('change', () => {
    pins.hidden = form.querySelector('input[name="uv"]:checked')?.value !== 'pin';
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    err.replaceChildren();
    const method = form.querySelector('input[name="uv"]:checked')?.value;
    if (!method) return;
    if (method === 'pin') {
      const a = pin1.input.value;
      const b = pin2.input.value;
      pin1.setError(/^[0-9]{6}$/.test(a) ? (weakPin(a) ? t('pinWeak') : '') : t('pinShape'));
      pin2.setError(a === b ? '' : t('pinMismatch'));
      if (!/^[0-9]{6}$/.test(a) || weakPin(a)) { pin1.input.focus(); return; }
      if (a !== b) { pin2.input.focus(); return; }
      then({ method, pin: a }, submit, err);
    } else {
      then({ method }, submit, err);
    }
  });
  show(title, h('p', {}, t('protectIntro')), form);
}

function weakPin(p) {
  const d = [...p].map(Number);
  return d.every((x) => x === d[0]) || d.every((x, i) => i === 0 || x === d[i - 1] + 1) || d.every((x, i) => i === 0 || x === d[i - 1] - 1);
}

/**
 * Make the device key (and the passkey), bind it with `bindCall`, keep what the app needs.
 * Errors are shown in `err`; nothing is kept unless the platform bound the device.
 */
async function enrol(choice, btn, err, name, bindCall, message = t('settingUp')) {
  try {
    await busy(btn, message, async () => {
      const key = await store.newKeyPair();
      const { jwk, thumbprint } = await publicJwk(key.publicKey);
      const device = { key, thumbprint, name, uv: choice.method };
      let uv;
      if (choice.method === 'passkey') {
        const o = await plain('POST', '/app/v1/devices/passkey-options', { public_jwk: jwk, name });
        const credential = await createPasskey(o.publicKey);
        device.credentialId = credential.id;
        device.rpId = o.publicKey.rp.id;
        uv = { method: 'passkey', credential };
      } else {
        uv = { method: 'pin', pin: choice.pin };
      }
      const enrolled = await bindCall(device, jwk, uv);
      device.deviceId = enrolled.device_id;
      device.level = enrolled.level;
      app.device = device;
      await app.save();
      if (enrolled.session) setSession(enrolled.session);
      // iAM Smart+ signs documents: get the signing certificate now, as the app does after an
      // upgrade (a platform without signing says so later, when a signature is asked for).
      if (enrolled.level === 'plus') await enrolSigning().catch(() => {});
      done(enrolled.rebound, enrolled.pending_until);
    });
  } catch (e) {
    const msg = e.kind ? explain(e) : e.message || t('errServer');
    err.replaceChildren(errorBox(msg, e.reference));
    err.querySelector('.error-box')?.focus?.();
    announce(msg);
  }
}

function done(rebound, pendingUntil) {
  if (pendingUntil) {
    // The account is on another phone: this one waits (and can do nothing until then).
    show(t('waitingTitle'),
      h('p', { class: 'notice', id: 'moved' }, t('donePending', { t: when(pendingUntil) })),
      h('div', { class: 'stack' }, linkButton(t('goHome'), '/home', 'secondary', { id: 'go-home' })));
    return;
  }
  show(t('doneTitle'),
    h('p', { class: 'big-icon', 'aria-hidden': 'true' }, '✓'),
    h('p', { class: 'lead' }, t('doneIntro')),
    rebound ? h('p', { class: 'notice', id: 'moved' }, t('doneRebound')) : null,
    h('div', { class: 'stack' }, linkButton(t('goHome'), '/home', '', { id: 'go-home' })));
}

/** Self-registration: card details, a photo of the card, a selfie; then the protection. */
export async function register() {
  if (!app.config.self_registration) {
    show(t('registerTitle'),
      h('p', { class: 'notice' }, t('registrationNoFace')),
      h('div', { class: 'stack' }, linkButton(t('haveCode'), '/activate')));
    return;
  }
  const state = { card: null, cardImage: null, selfie: null };
  cardStep(state);
}

function cardStep(state) {
  const hkid = field('hkid', t('hkidLabel'), { autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' }, t('hkidHint'));
  const nameEn = field('name-en', t('nameEnLabel'), { autocomplete: 'name', autocapitalize: 'characters' }, t('nameEnHint'));
  const nameZh = field('name-zh', t('nameZhLabel'), { autocomplete: 'off', lang: 'zh-HK' });
  const dob = field('dob', t('dobLabel'), { type: 'date', autocomplete: 'bday', max: new Date().toISOString().slice(0, 10) });
  const form = h('form', { novalidate: true }, hkid.wrap, nameEn.wrap, nameZh.wrap, dob.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, t('continue'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = {
      hkid: hkid.input.value.trim().toUpperCase(), name_en: nameEn.input.value.trim(),
      name_zh: nameZh.input.value.trim() || null, date_of_birth: dob.input.value,
    };
    const hkidOk = /^[A-Z]{1,2}[0-9]{6}\s*\(?[0-9A]\)?$/.test(v.hkid);
    hkid.setError(hkidOk ? '' : t('hkidHint'));
    nameEn.setError(v.name_en ? '' : t('fieldRequired'));
    dob.setError(v.date_of_birth ? '' : t('fieldRequired'));
    const first = [[hkidOk, hkid], [!!v.name_en, nameEn], [!!v.date_of_birth, dob]].find(([ok]) => !ok);
    if (first) { first[1].input.focus(); return; }
    state.card = v;
    photoStep(state, 'card');
  });
  show(t('registerTitle'), h('p', { class: 'hint' }, t('registerStep', { n: 1 })), h('h2', {}, t('cardTitle')), h('p', {}, t('cardIntro')), form);
}

function photoStep(state, which) {
  const isCard = which === 'card';
  const input = h('input', { type: 'file', id: `${which}-file`, accept: 'image/*', capture: isCard ? 'environment' : 'user', class: 'sr-only' });
  const preview = h('div', { 'aria-live': 'polite' });
  const err = h('div', { 'aria-live': 'assertive' });
  const next = h('button', { type: 'button', class: 'button', hidden: true }, t('continue'));
  input.addEventListener('change', async () => {
    err.replaceChildren();
    try {
      const photo = await readPhoto(input.files[0]);
      input.value = '';
      state[isCard ? 'cardImage' : 'selfie'] = photo.base64;
      preview.replaceChildren(h('img', { src: photo.dataUrl, alt: '', class: 'photo-preview' }), h('p', {}, t('photoTaken')));
      next.hidden = false;
      next.focus();
    } catch (e) {
      err.replaceChildren(errorBox(e.message));
    }
  });
  next.addEventListener('click', () => {
    if (isCard) photoStep(state, 'selfie');
    else protect(t('registerTitle'), (choice, btn, errBox) => submitRegistration(state, choice, btn, errBox));
  });
  show(t('registerTitle'),
    h('p', { class: 'hint' }, t('registerStep', { n: isCard ? 2 : 3 })),
    h('h2', {}, isCard ? t('cardPhotoTitle') : t('selfieTitle')),
    h('p', {}, isCard ? t('cardPhotoIntro') : t('selfieIntro')),
    h('p', { class: 'notice' }, t('imagesNotKept')),
    h('div', { class: 'actions' }, h('label', { for: `${which}-file`, class: 'button secondary', tabindex: '0', role: 'button',
      onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); input.click(); } } },
    isCard ? t('takeCardPhoto') : t('takeSelfie')), input),
    preview, err, h('div', { class: 'actions' }, next));
}

async function submitRegistration(state, choice, btn, err) {
  const name = guessDeviceName();
  await enrol(choice, btn, err, name, async (device, jwk, uv) => {
    const c = await plain('POST', '/app/v1/registrations/challenge');
    const body = {
      challenge: c.challenge, card: state.card, card_image: state.cardImage, selfie: state.selfie,
      device: { public_jwk: jwk, name, user_verification: uv },
    };
    try {
      return await call(device, 'POST', '/app/v1/registrations', body);
    } finally {
      // The images leave memory with the request, whatever its outcome.
      state.cardImage = null;
      state.selfie = null;
      body.card_image = null;
      body.selfie = null;
    }
  }, t('registering'));
  if (!app.device && state.selfie === null) {
    // A refused registration needs new photos: start the photo steps again from the card.
    err.append(h('div', { class: 'actions' }, button(t('retake'), () => photoStep(state, 'card'), 'secondary')));
  }
}

