// Building the screens: elements from data (never HTML strings, so nothing a service or a
// resident typed can become markup), focus moved to each new screen's heading for screen
// readers and keyboards, a polite live region for progress and results, and confirmations as
// accessible dialogs.
import { t, has, duration } from './i18n.js';

/** An element: h('p', { class: 'x', onclick: fn }, 'text', child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const main = () => document.getElementById('main');

/** Show a screen: replaces the content, sets the title and moves focus to the heading. */
export function show(title, ...content) {
  const m = main();
  m.replaceChildren(h('h1', { tabindex: '-1', id: 'screen-title' }, title),
    ...content.flat(Infinity).filter((c) => c != null && c !== false));
  document.title = `${title} — ${t('appName')}`;
  window.scrollTo(0, 0);
  document.getElementById('screen-title').focus({ preventScroll: true });
  return m;
}

/** A button; `kind` is '', 'secondary' or 'danger'. */
export function button(label, onclick, kind = '', attrs = {}) {
  return h('button', { type: 'button', class: `button ${kind}`.trim(), onclick, ...attrs }, label);
}

/** A link styled as a button to an in-app route. */
export function linkButton(label, route, kind = '', attrs = {}) {
  return h('a', { href: `#${route}`, class: `button ${kind}`.trim(), ...attrs }, label);
}

/** Say something in the live region (progress, results). */
export function announce(text) {
  const el = document.getElementById('toast');
  el.textContent = '';
  // A fresh text node so that screen readers announce a repeated message too; what people
  // see of it is on the screen itself.
  setTimeout(() => { el.textContent = text; }, 30);
  setTimeout(() => { if (el.textContent === text) el.textContent = ''; }, 6000);
}

/**
 * What went wrong, in the reader's language: the platform's refusals are explained by their
 * problem type (its own text is English), field errors name the field.
 */
export function explain(e) {
  if (!e) return t('errServer');
  if (e.kind === 'network') return t('errNetwork');
  if (e.kind === 'passkey-cancelled') return t('passkeyCancelled');
  if (e.kind === 'wrong-pin') return t('err_wrong-pin', { n: (/(\d+) attempts/.exec(e.detail || '') || [])[1] || '?' });
  if (e.kind === 'too-many-attempts' || e.kind === 'limit-reached') return t('errTooMany', { t: duration((e.retryAfter || 60) * 1000) });
  if (e.kind === 'invalid-input' && e.field) {
    const f = e.field.replace(/^.*\./, '');
    if (has(`err_field_${f}`)) return t(`err_field_${f}`);
    const label = has(`f_${f}`) ? t(`f_${f}`) : f;
    return t('errField', { field: label, detail: (e.detail || '').replace(/^[\w.]+: /, '') });
  }
  if (has(`err_${e.kind}`)) return t(`err_${e.kind}`);
  if (e.status >= 500 || !e.detail) return t('errServer');
  return e.detail;
}

/** A block that shows an error with its reference. */
export function errorBox(message, reference) {
  return h('div', { class: 'error-box', role: 'alert' },
    h('p', {}, message),
    reference ? h('p', { class: 'detail' }, t('errReference', { id: reference })) : null);
}

/** Run `work` with the button busy and a progress message; returns its result. */
export async function busy(btn, message, work) {
  const old = btn ? btn.textContent : '';
  if (btn) { btn.disabled = true; btn.setAttribute('aria-busy', 'true'); }
  const note = h('p', { class: 'progress', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), message);
  (btn?.parentElement || main()).after?.(note);
  try {
    return await work();
  } finally {
    note.remove();
    if (btn && btn.isConnected) { btn.disabled = false; btn.removeAttribute('aria-busy'); btn.textContent = old; }
  }
}

/** Ask a yes/no question in a modal dialog; resolves true for yes. */
export function confirmDialog(question, yesLabel, danger = false) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-q' },
      h('p', { id: 'dlg-q' }, question),
      h('div', { class: 'actions' },
        button(yesLabel, () => { dlg.close('yes'); }, danger ? 'danger' : ''),
        button(t('cancel'), () => { dlg.close('no'); }, 'secondary')));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'yes'); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** A labelled input with hint and error slots; returns { wrap, input, setError }. */
export function field(id, label, attrs = {}, hint = '') {
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-err`;
  const input = h(attrs.tag || 'input', { id, name: id, 'aria-describedby': [hintId, errId].filter(Boolean).join(' '), ...attrs, tag: null });
  const err = h('p', { class: 'error', id: errId, hidden: true });
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), hint ? h('p', { class: 'hint', id: hintId }, hint) : null, input, err);
  const setError = (msg) => {
    err.textContent = msg || '';
    err.hidden = !msg;
    if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  };
  return { wrap, input, setError };
}

/** A <select> with options [value, label]. */
export function select(id, label, options, value) {
  const sel = h('select', { id, name: id },
    h('option', { value: '' }, t('choose')),
    options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
  return { wrap: h('div', { class: 'field' }, h('label', { for: id }, label), sel), input: sel };
}

/** The match code, large, with its label read as one phrase. */
export function matchCode(code) {
  return h('div', { class: 'match', role: 'group', 'aria-label': `${t('matchCode')} ${code.split('').join(' ')}` },
    h('p', { class: 'label', 'aria-hidden': 'true' }, t('matchCode')),
    h('p', { class: 'code', 'aria-hidden': 'true', id: 'match-code' }, code));
}

/** A definition list of [term, value] pairs (values skipped when empty). */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(([, v]) => v != null && v !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/**
 * A photo from a file input, turned upright, scaled to at most `maxSide` pixels and re-encoded
 * as JPEG (which also drops its metadata, such as the place it was taken). Resolves
 * { base64, dataUrl } for sending and for a preview; kept in memory only.
 */
export async function readPhoto(file, maxSide = 1600) {
  if (!file || !/^image\//.test(file.type)) throw new Error(t('photoNotImage'));
  if (file.size > 40 * 1024 * 1024) throw new Error(t('photoTooBig'));
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    throw new Error(t('photoNotImage'));
  }
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const dataUrl = canvas.toDataURL('image/jpeg', 0.92);
  canvas.width = 0;
  return { base64: dataUrl.replace(/^data:[^,]*,/, ''), dataUrl };
}
