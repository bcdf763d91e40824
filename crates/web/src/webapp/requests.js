// The home screen, scanning, and answering a request: sign-in, e-ME form filling, a data
// consent, a signature. The resident sees the service's name, the match code and what is
// asked; an approval is signed by the device key and carries the resident's verification
// (passkey or PIN) over that very signed answer, so the platform can check both.
import { t, isChinese, duration, either, localized, pair } from './i18n.js';
import { app } from './main.js';
import * as store from './store.js';
import { call, signJws, stopsTheApp } from './api.js';
import { show, h, button, linkButton, errorBox, explain, busy, matchCode, facts, announce, readPhoto } from './ui.js';
import { prove, decisionChallenge } from './uv.js';
import { b64u, fromB64u, buildCsr, signedAttributes, p1363ToDer } from './der.js';
import { startScanner, decodeImageFile } from './scan.js';

let poller = null;
let scanner = null;

/** Stop what runs behind a screen: the home screen's polling, the camera. */
export function stopBackground() {
  if (poller) { clearInterval(poller); poller = null; }
  if (scanner) { scanner.stop(); scanner = null; }
}
window.addEventListener('hashchange', stopBackground);

const KINDS = ['login', 'step_up', 'eme', 'data_consent', 'sign', 'passkey_add'];
const kindLabel = (k) => t(KINDS.includes(k) ? `kind_${k}` : 'kind_other');

/** Unread notifications, on the Inbox tab's badge. */
export async function refreshBadge() {
  try {
    const n = await call(app.device, 'GET', '/app/v1/notifications?unread=1');
    const badge = document.getElementById('unread-badge');
    badge.hidden = !n.unread;
    badge.textContent = n.unread > 99 ? '99+' : String(n.unread);
    badge.setAttribute('aria-label', t('unread', { n: n.unread }));
  } catch { /* the badge waits for the next time */ }
}

export async function home() {
  const [me, pending] = await Promise.all([
    call(app.device, 'GET', '/app/v1/me'),
    call(app.device, 'GET', '/app/v1/requests'),
  ]);
  app.device.level = me.level;
  const name = isChinese() && me.verified.name_zh ? me.verified.name_zh : me.verified.name_en;
  const list = h('ul', { class: 'cards', id: 'pending' });
  const fill = (items) => {
    list.replaceChildren(...items.map((r) => h('li', { class: 'card' },
      h('a', { class: 'card-link', href: `#/request/${r.id}` },
        h('p', { class: 'title' }, serviceName(r)),
        h('p', { class: 'meta' }, `${kindLabel(r.kind)} · ${t('matchCode')} ${r.match_code}`),
        h('p', { class: 'meta countdown' }, t('expiresIn', { t: duration(r.expires_at - Date.now()) }))))));
    empty.hidden = items.length > 0;
  };
  const empty = h('p', { class: 'notice', id: 'nothing-waiting' }, t('nothingWaiting'));
  fill(pending);
  show(t('hello', { name }),
    h('p', {}, h('span', { class: 'badge-level', id: 'level' }, me.level === 'plus' ? t('levelPlus') : t('levelBasic'))),
    h('h2', {}, t('waiting')), list, empty,
    h('div', { class: 'stack' }, linkButton(t('scanQr'), '/scan', '', { id: 'scan-button' })),
    h('ul', { class: 'menu' },
      h('li', {}, h('a', { href: '#/profile' }, t('myProfile'))),
      h('li', {}, h('a', { href: '#/consents' }, t('myConsents'))),
      h('li', {}, h('a', { href: '#/devices' }, t('myDevices'))),
      h('li', {}, h('a', { href: '#/me' }, t('mySettings')))));
  refreshBadge();
  // New requests (a service's push, CIBA, e-ME) appear while the home screen is open.
  stopBackground();
  poller = setInterval(async () => {
    try { fill(await call(app.device, 'GET', '/app/v1/requests')); } catch (e) {
      stopBackground();
      if (stopsTheApp(e)) app.fail(e);
    }
  }, 4000);
}

/** What a scanned or chosen QR code leads to. */
function handleCode(text) {
  const approve = /^iamsmart:approve\?(?:.*&)?id=([A-Za-z0-9_-]{1,128})(?:&|$)/.exec(text || '');
  if (approve) { app.go(`/request/${approve[1]}`); return null; }
  if (/^iamsmart:activate\?/.test(text || '')) {
    if (!app.device) { app.go(`/activate?code=${encodeURIComponent(text)}`); return null; }
    return t('activationCodeWhenSetUp');
  }
  return t('notOurCode');
}

export async function scan(params) {
  stopBackground();
  const forActivation = !app.device || params.get('for') === 'activate';
  const video = h('video', { muted: true, playsinline: true, autoplay: true, 'aria-label': t('scanIntro') });
  const status = h('p', { class: 'progress', role: 'status', id: 'scan-status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), t('scanStarting'));
  const err = h('div', { 'aria-live': 'assertive', id: 'scan-error' });
  const file = h('input', { type: 'file', accept: 'image/*', id: 'qr-file', class: 'sr-only' });
  file.addEventListener('change', async () => {
    err.replaceChildren();
    const f = file.files[0];
    file.value = '';
    if (!f) return;
    let text = null;
    try { text = await decodeImageFile(f); } catch { text = null; }
    const problem = text ? handleCode(text) : t('scanNothing');
    if (problem) err.replaceChildren(errorBox(problem));
  });
  show(t('scanTitle'),
    h('p', {}, t('scanIntro')),
    h('div', { class: 'viewfinder' }, video),
    status, err,
    h('div', { class: 'stack' },
      h('label', { for: 'qr-file', class: 'button secondary', tabindex: '0', role: 'button',
        onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); file.click(); } } }, t('scanChoosePhoto')),
      file,
      forActivation ? linkButton(t('scanTypeCode'), '/activate', 'secondary') : null));
  const start = async () => {
    scanner = await startScanner(video, {
      onCode: (text) => {
        scanner = null;
        const problem = handleCode(text);
        if (problem) {
          err.replaceChildren(errorBox(problem), h('div', { class: 'actions' }, button(t('tryAgain'), () => { err.replaceChildren(); start(); })));
        }
      },
      onError: (e) => {
        status.remove();
        err.replaceChildren(errorBox(e.kind === 'denied' ? t('scanDenied') : e.kind === 'no-camera' ? t('scanNoCamera') : t('scanFailed')));
      },
    });
    if (status.isConnected) status.replaceChildren(t('scanLooking'));
  };
  start();
}

/** The return address of a hand-over, if it is on this platform (never elsewhere). */
function safeReturn(params) {
  const r = params.get('return');
  if (!r) return null;
  try {
    const u = new URL(r, location.origin);
    return u.origin === location.origin && !u.pathname.startsWith('/app/') ? u.href : null;
  } catch {
    return null;
  }
}

function hexBytes(hex) {
  const m = /^[0-9a-f]{64}$/i.test(hex || '') ? hex.match(/../g) : null;
  if (!m) throw new Error('the request carries no SHA-256 digest');
  return new Uint8Array(m.map((x) => parseInt(x, 16)));
}

const FIELD_ORDER = ['name_en', 'name_zh', 'hkid', 'prefix', 'gender', 'birthdate', 'marital_status', 'mobile', 'home_tel', 'office_tel', 'email', 'residential_address', 'postal_address', 'education_level'];

/** A field's value from the resident's record, for people to read. */
export function fieldValue(me, f) {
  const v = me.verified;
  const p = me.profile;
  const phone = (x) => (x ? `+${x.country_code} ${x.subscriber_number}` : '');
  const addr = (a) => (a ? ['flat', 'floor', 'block', 'building', 'estate', 'street_number', 'street', 'district'].map((k) => a[k]).filter(Boolean).join(', ') + (a.region ? `, ${t(`r_${a.region}`)}` : '') : '');
  const out = {
    hkid: v.hkid.replace(/^([A-Z]{1,2}\d{3})\d{3}/, '$1***'), name_en: v.name_en, name_zh: v.name_zh, birthdate: v.date_of_birth,
    gender: v.gender ? t(`g_${v.gender}`) : '', prefix: p.prefix ? t(`p_${p.prefix}`) : '',
    marital_status: p.marital_status ? t(`m_${p.marital_status}`) : '', mobile: phone(p.mobile), home_tel: phone(p.home_tel),
    office_tel: phone(p.office_tel), email: p.email, residential_address: addr(p.residential_address),
    postal_address: addr(p.postal_address), education_level: p.education_level ? t(`e_${p.education_level}`) : '',
  }[f];
  return out || t('notGiven');
}

/** Get a signing certificate for a new signing key kept in this browser (iAM Smart+). */
export async function enrolSigning() {
  const key = await store.newKeyPair();
  const csr = await buildCsr(key, app.device.name.slice(0, 64));
  const issued = await call(app.device, 'POST', '/app/v1/signing/certificate', { csr: b64u(csr) });
  app.device.signing = { key, serial: issued.serial, certificate: issued.certificate, chain: issued.chain };
  await app.save();
  return issued;
}

/** The signature the app makes over the signed attributes it builds from the digest shown. */
async function signature(view) {
  const s = app.device.signing;
  const signingTime = view.details.format === 'cades' ? Math.floor(Date.now() / 1000) : null;
  const attrs = await signedAttributes({ digest: hexBytes(view.details.digest), certificate: fromB64u(s.certificate), signingTime });
  const raw = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, s.key.privateKey, attrs));
  return { signature: b64u(p1363ToDer(raw)), certificate_serial: s.serial, signing_time: signingTime };
}

/** Sign the decision, add the resident's verification (for an approval), send it. */
async function decide(view, decision, agreed, selfie) {
  const claims = {
    rid: view.id, challenge: view.challenge, match_code: view.match_code, decision, agreed,
    iat: Math.floor(Date.now() / 1000),
  };
  const signed = await signJws(app.device.key.privateKey, 'iamsmart-approval+jwt', app.device.deviceId, claims);
  const body = { signed };
  if (decision === 'approve' && app.device.uv) {
    const proof = await prove(app.device, await decisionChallenge(signed));
    if (!proof) return null;
    body.user_verification = proof;
  }
  if (selfie) body.selfie = selfie;
  return call(app.device, 'POST', `/app/v1/requests/${view.id}/decision`, body);
}

function closedMessage(view) {
  if (view.status === 'expired') return t('reqExpired');
  return t('reqClosed');
}

export async function request(params, idFromPath) {
  stopBackground();
  const id = idFromPath || params.get('id');
  const back = safeReturn(params);
  let view;
  try {
    view = await call(app.device, 'GET', `/app/v1/requests/${encodeURIComponent(id || '')}`);
  } catch (e) {
    if (e.status === 404 || e.status === 400) {
      show(t('kind_other'), errorBox(t('reqNotFound')), h('div', { class: 'actions' }, linkButton(t('goHome'), '/home')));
      return;
    }
    throw e;
  }
  if (!['pending', 'scanned'].includes(view.status)) {
    if (view.status === 'approved' || view.status === 'denied') { result(view, back); return; }
    show(serviceName(view), errorBox(closedMessage(view)), h('div', { class: 'actions' }, linkButton(t('goHome'), '/home')));
    return;
  }
  const d = view.details || {};
  const service = serviceName(view);
  const department = view.service && view.service.department ? localized(view.service.department) : '';
  const titles = { login: 'reqLoginTitle', step_up: 'reqStepUpTitle', eme: 'reqEmeTitle', data_consent: 'reqDataTitle', sign: 'reqSignTitle', passkey_add: 'reqPasskeyTitle' };
  const title = t(titles[view.kind] || 'reqOtherTitle', { service });
  const parts = [];
  let chosen = () => ({ fields: Array.isArray(d.fields) ? d.fields : [] });
  const needsFace = view.kind === 'step_up' || d.face === true;
  if (view.kind === 'eme') {
    const me = await call(app.device, 'GET', '/app/v1/me');
    const optional = new Set(Array.isArray(d.optional) ? d.optional : []);
    const fields = (Array.isArray(d.fields) ? d.fields : []).slice().sort((a, b) => FIELD_ORDER.indexOf(a) - FIELD_ORDER.indexOf(b));
    const boxes = fields.map((f) => {
      const box = h('input', { type: 'checkbox', id: `f-${f}`, name: 'field', value: f, checked: true, disabled: !optional.has(f), 'aria-describedby': `f-${f}-v` });
      return [f, box, h('li', {}, box, h('label', { for: `f-${f}` },
        h('span', { class: 'item' }, t(`f_${f}`)),
        h('span', { class: 'value', id: `f-${f}-v` }, fieldValue(me, f)),
        h('span', { class: 'required' }, optional.has(f) ? t('optionalField') : t('neededByService'))))];
    });
    const form = d.form && typeof d.form === 'object' ? [d.form.name, d.form.number].filter(Boolean).join(' · ') : d.form;
    parts.push(form ? facts([[t('formLabel'), form]]) : null,
      d.form && d.form.description ? h('p', {}, d.form.description) : null,
      h('fieldset', {}, h('legend', {}, t('shareTheseTitle')), h('ul', { class: 'items' }, boxes.map((b) => b[2]))));
    chosen = () => ({ fields: boxes.filter(([, box]) => box.checked).map(([f]) => f) });
  } else if (view.kind === 'data_consent') {
    const items = Array.isArray(d.items) ? d.items : [];
    parts.push(facts([
      [t('purposeLabel'), d.purpose],
      [t('howOftenLabel'), d.fetch_type === 'once' ? t('fetchOnce') : t('fetchRecurring', { n: d.frequency_per_day || 1 })],
      [t('validForLabel'), d.valid_days ? t('days', { n: d.valid_days }) : ''],
      [t('keptForLabel'), d.data_life_days != null ? t('days', { n: d.data_life_days }) : ''],
    ]), h('h2', {}, t('recordsLabel')), h('ul', { class: 'items' }, items.map((i) => h('li', {}, h('span', {},
      h('span', { class: 'item' }, either(pair(i, 'title')) || i.item),
      h('span', { class: 'value' }, either(pair(i, 'provider')) || i.provider))))));
  } else if (view.kind === 'sign') {
    const doc = d.document && typeof d.document === 'object' ? d.document : { name: d.document };
    parts.push(facts([
      [t('documentLabel'), h('strong', { id: 'document-name' }, doc.name || '')],
      [t('departmentLabel'), doc.department],
      // What the service writes into the signature itself (a PDF's reason and place).
      [t('signReasonLabel'), d.reason ? h('span', { id: 'sign-reason' }, d.reason) : null],
      [t('signLocationLabel'), d.location ? h('span', { id: 'sign-location' }, d.location) : null],
      [t('formatLabel'), d.format === 'pades' ? t('formatPades') : t('formatCades')],
    ]), h('p', { class: 'hint' }, t('digestLabel')),
    h('p', { class: 'digest' }, h('code', {}, String(d.digest || '').replace(/(.{8})/g, '$1 ').trim())),
    h('p', { class: 'notice' }, t('signLegal')));
  } else if (view.kind === 'passkey_add') {
    parts.push(h('p', { class: 'warn', id: 'passkey-explain' }, t('passkeyAddExplain')));
  } else if (Array.isArray(d.fields) && d.fields.length) {
    parts.push(h('p', {}, t('afterLoginAsks')), h('ul', {}, d.fields.map((f) => h('li', {}, t(`f_${f}`)))), h('p', { class: 'hint' }, t('afterLoginNote')));
  }
  if (d.binding_message) parts.push(facts([[t('messageLabel'), h('span', { id: 'binding-message' }, d.binding_message)]]));
  let selfie = null;
  if (needsFace) {
    const input = h('input', { type: 'file', id: 'selfie-file', accept: 'image/*', capture: 'user', class: 'sr-only' });
    const note = h('div', { 'aria-live': 'polite' });
    input.addEventListener('change', async () => {
      try {
        const p = await readPhoto(input.files[0]);
        selfie = p.base64;
        note.replaceChildren(h('img', { src: p.dataUrl, alt: '', class: 'photo-preview' }), h('p', {}, t('photoTaken')));
      } catch (e) {
        note.replaceChildren(errorBox(e.message));
      }
      input.value = '';
    });
    parts.push(h('p', { class: 'warn' }, t('faceNeeded')),
      h('label', { for: 'selfie-file', class: 'button secondary', tabindex: '0', role: 'button',
        onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); input.click(); } } }, t('takeSelfie')), input, note);
  }
  const err = h('div', { 'aria-live': 'assertive', id: 'request-error' });
  const countdown = h('p', { class: 'countdown', id: 'countdown' });
  const approveLabel = view.kind === 'sign' ? t('signIt') : view.kind === 'eme' ? t('share') : t('approve');
  const approveBtn = button(approveLabel, () => answer('approve'), '', { id: 'approve' });
  const denyBtn = button(t('deny'), () => answer('deny'), 'secondary', { id: 'deny' });
  if (view.kind === 'sign' && app.device.level !== 'plus') {
    const me = await call(app.device, 'GET', '/app/v1/me');
    app.device.level = me.level;
  }
  const signBlock = view.kind !== 'sign' ? null
    : app.device.level !== 'plus' ? h('p', { class: 'warn', id: 'need-plus' }, t('needPlus'))
      : !app.device.signing ? h('div', { class: 'warn', id: 'need-cert' }, h('p', {}, t('needSigningCert')),
        button(t('getSigningCert'), async (ev) => {
          try {
            await busy(ev.currentTarget, t('working'), enrolSigning);
            app.render();
          } catch (e) { err.replaceChildren(errorBox(explain(e), e.reference)); }
        }, 'secondary', { id: 'get-cert' })) : null;
  if (signBlock) approveBtn.disabled = true;

  async function answer(decision) {
    err.replaceChildren();
    if (decision === 'approve' && needsFace && !selfie) { err.replaceChildren(errorBox(t('faceNeeded'))); return; }
    const btn = decision === 'approve' ? approveBtn : denyBtn;
    try {
      const out = await busy(btn, view.kind === 'sign' && decision === 'approve' ? t('signing') : t('approving'), async () => {
        const agreed = decision === 'deny' ? null : view.kind === 'sign' ? await signature(view) : chosen();
        return decide(view, decision, agreed, decision === 'approve' ? selfie : null);
      });
      if (!out) return;
      selfie = null;
      clearInterval(tick);
      result(out, back);
    } catch (e) {
      if (stopsTheApp(e)) { clearInterval(tick); app.fail(e); return; }
      if (e.kind === 'network') {
        err.replaceChildren(errorBox(t('networkLost')), h('div', { class: 'actions' }, button(t('checkAgain'), () => app.render(), 'secondary', { id: 'check-again' })));
        return;
      }
      const msg = explain(e);
      err.replaceChildren(errorBox(msg, e.reference));
    }
  }
  const tick = setInterval(() => {
    const left = view.expires_at - Date.now();
    if (!countdown.isConnected) { clearInterval(tick); return; }
    if (left <= 0) {
      clearInterval(tick);
      countdown.textContent = t('expired');
      approveBtn.disabled = true;
      denyBtn.disabled = true;
      err.replaceChildren(errorBox(t('reqExpired')));
      return;
    }
    countdown.textContent = t('expiresIn', { t: duration(left) });
  }, 1000);
  countdown.textContent = t('expiresIn', { t: duration(view.expires_at - Date.now()) });
  show(title,
    facts([[t('fromService'), h('strong', { id: 'service-name' }, service)],
      department ? [t('departmentLabel'), h('span', { id: 'service-department' }, department)] : null,
      [t('kind_other'), kindLabel(view.kind)],
      // A data consent states its own purpose below.
      view.kind !== 'data_consent' && view.service && view.service.purpose
        ? [t('purposeLabel'), h('span', { id: 'service-purpose' }, localized(view.service.purpose))] : null,
    ].filter(Boolean)),
    d.self_registered ? h('p', { class: 'warn', id: 'self-registered' }, t('selfRegistered')) : null,
    matchCode(view.match_code),
    h('p', { class: 'hint' }, t('matchHelp')),
    parts, signBlock, err, countdown,
    h('div', { class: 'actions' }, approveBtn, denyBtn));
}

/** Who is asking, in the reader's language where the service registered it. */
function serviceName(view) {
  return (view.service && localized(view.service.name)) || view.client_name;
}

function result(view, back) {
  const service = serviceName(view);
  const ok = view.status === 'approved';
  const text = !ok ? t('deniedText', { service })
    : view.kind === 'sign' ? t('approvedSign', { service })
      : view.kind === 'eme' ? t('approvedEme', { service })
        : view.kind === 'data_consent' ? t('approvedData', { service })
          : view.kind === 'passkey_add' ? t('approvedPasskey')
          : t('approvedLogin', { service });
  show(ok ? t('approvedTitle') : t('deniedTitle'),
    h('p', { class: ok ? 'big-icon' : 'big-icon bad', 'aria-hidden': 'true' }, ok ? '✓' : '✕'),
    h('p', { class: 'lead', id: 'result' }, text),
    back ? h('p', { class: 'progress', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), t('returning')) : null,
    h('div', { class: 'actions' },
      back ? h('a', { class: 'button', href: back, id: 'return' }, t('returnNow')) : null,
      linkButton(t('goHome'), '/home', back ? 'secondary' : '')));
  announce(text);
  // Same-device hand-over: back to the browser's page that started it.
  if (back) setTimeout(() => { if (document.getElementById('return')) location.assign(back); }, 1500);
}


