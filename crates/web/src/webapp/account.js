// The resident's own things: details (e-ME profile), consents and dealings, phones,
// notifications, and the account (level, signing certificate, download, closure).
import { t, has, when, either, localized, pair, listSeparator, aside } from './i18n.js';
import { app } from './main.js';
import * as store from './store.js';
import { call, plain, dropSession, stopsTheApp } from './api.js';
import { unlock } from './uv.js';
import { show, h, button, linkButton, errorBox, explain, busy, facts, confirmDialog, announce, field, select, readPhoto } from './ui.js';
import { fieldValue, enrolSigning, refreshBadge } from './requests.js';

/** A service's name in the reader's language where it registered one. */
function serviceOf(x) {
  return localized(x.service_names) || x.service;
}

/** Run `fn` with a recent unlock: some actions need the resident's verification just now. */
async function fresh(fn) {
  try {
    return await fn();
  } catch (e) {
    if (e.kind !== 'unlock-again' || !app.device.uv) throw e;
    if (!(await unlock(app.device))) return null;
    return fn();
  }
}

function download(name, json) {
  const a = h('a', { href: `data:application/json;charset=utf-8,${encodeURIComponent(JSON.stringify(json, null, 2))}`, download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

export async function me() {
  const r = await call(app.device, 'GET', '/app/v1/me');
  app.device.level = r.level;
  const signing = app.device.signing;
  const err = h('div', { 'aria-live': 'assertive' });
  const guard = (fn) => async (ev) => {
    err.replaceChildren();
    const btn = ev.currentTarget;
    try { await busy(btn, t('working'), fn); } catch (e) { app.fail(e, () => app.render()); }
  };
  show(t('settingsTitle'),
    h('ul', { class: 'menu' },
      h('li', {}, h('a', { href: '#/profile' }, t('myProfile'))),
      h('li', {}, h('a', { href: '#/consents' }, t('myConsents'))),
      h('li', {}, h('a', { href: '#/devices' }, t('myDevices'))),
      h('li', {}, h('a', { href: '#/notify-settings' }, t('notifySettingsTitle')))),
    h('h2', {}, t('accountLevel')),
    h('p', {}, h('span', { class: 'badge-level' }, r.level === 'plus' ? t('levelPlus') : t('levelBasic'))),
    r.level !== 'plus' ? h('p', {}, linkButton(t('upgradeTitle'), '/upgrade', 'secondary', { id: 'upgrade' })) : null,
    r.level === 'plus' ? [
      h('h2', {}, t('signingTitle')),
      h('p', { id: 'signing-state' }, signing ? t('signingHave', { serial: signing.serial }) : t('signingNone')),
      button(signing ? t('signingRenew') : t('getSigningCert'), guard(async () => {
        await enrolSigning();
        announce(t('signingGot'));
        app.render();
      }), 'secondary', { id: 'enrol-signing' }),
    ] : null,
    h('h2', {}, t('exportAll')),
    h('p', { class: 'hint' }, t('exportHelp')),
    button(t('exportAll'), guard(async () => {
      const doc = await fresh(() => call(app.device, 'GET', '/app/v1/me/export'));
      if (doc) download('iamsmart-my-data.json', doc);
    }), 'secondary', { id: 'export' }),
    err,
    h('h2', {}, t('closeTitle')),
    linkButton(t('closeTitle'), '/close', 'danger', { id: 'close-account' }));
}

const PHONES = ['mobile', 'home_tel', 'office_tel'];
const ADDRESS = ['flat', 'floor', 'block', 'building', 'estate', 'street_number', 'street', 'district'];

export async function profile() {
  const r = await call(app.device, 'GET', '/app/v1/me');
  const p = r.profile || {};
  const opt = (prefix, values) => values.map((v) => [v, t(`${prefix}_${v}`)]);
  const prefix = select('prefix', t('f_prefix'), opt('p', ['Mr', 'Mrs', 'Ms', 'Miss', 'Dr', 'Prof']), p.prefix);
  const marital = select('marital_status', t('f_marital_status'), opt('m', ['single', 'married', 'divorced', 'widowed', 'separated']), p.marital_status);
  const education = select('education_level', t('f_education_level'), opt('e', ['primary', 'secondary', 'post_secondary', 'degree', 'postgraduate']), p.education_level);
  const email = field('email', t('f_email'), { type: 'email', autocomplete: 'email', value: p.email || '' });
  const phones = PHONES.map((k) => {
    const cc = field(`${k}-cc`, t('countryCode'), { inputmode: 'numeric', autocomplete: 'off', value: p[k]?.country_code || '852', maxlength: '4' });
    const num = field(`${k}-num`, t('number'), { type: 'tel', autocomplete: k === 'mobile' ? 'tel-national' : 'off', value: p[k]?.subscriber_number || '' });
    return [k, cc, num, h('fieldset', {}, h('legend', {}, t(`f_${k}`)), h('div', { class: 'row' }, cc.wrap, num.wrap))];
  });
  const addresses = ['residential_address', 'postal_address'].map((k) => {
    const a = p[k] || {};
    const inputs = ADDRESS.map((part) => [part, field(`${k}-${part}`, t(`a_${part}`), { autocomplete: 'off', value: a[part] || '' })]);
    const region = select(`${k}-region`, t('a_region'), opt('r', ['HK', 'KLN', 'NT']), a.region);
    return [k, inputs, region, h('fieldset', {}, h('legend', {}, t(`f_${k}`)), inputs.map(([, f]) => f.wrap), region.wrap)];
  });
  const err = h('div', { 'aria-live': 'assertive' });
  const saveBtn = h('button', { type: 'submit', class: 'button', id: 'save-profile' }, t('save'));
  const form = h('form', { novalidate: true },
    prefix.wrap, marital.wrap, phones.map((x) => x[3]), email.wrap, addresses.map((x) => x[3]), education.wrap,
    err, h('div', { class: 'actions' }, saveBtn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.replaceChildren();
    const out = {};
    const val = (s) => s.input.value.trim() || undefined;
    out.prefix = val(prefix);
    out.marital_status = val(marital);
    out.education_level = val(education);
    out.email = val(email);
    for (const [k, cc, num] of phones) {
      if (num.input.value.trim()) out[k] = { country_code: cc.input.value.trim().replace(/^\+/, ''), subscriber_number: num.input.value.replace(/[\s-]/g, '') };
    }
    for (const [k, inputs, region] of addresses) {
      const a = {};
      for (const [part, f] of inputs) if (f.input.value.trim()) a[part] = f.input.value.trim();
      if (region.input.value) a.region = region.input.value;
      if (Object.keys(a).length) out[k] = a;
    }
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    try {
      await busy(saveBtn, t('working'), () => call(app.device, 'PUT', '/app/v1/me/profile', out));
      announce(t('saved'));
      err.replaceChildren(h('p', { class: 'notice', role: 'status' }, t('saved')));
    } catch (e) {
      if (stopsTheApp(e)) { app.fail(e); return; }
      err.replaceChildren(errorBox(explain(e), e.reference));
    }
  });
  const v = r.verified;
  show(t('profileTitle'),
    h('p', {}, t('profileIntro')),
    h('h2', {}, t('verifiedTitle')),
    facts([[t('f_name_en'), v.name_en], [t('f_name_zh'), v.name_zh], [t('f_hkid'), fieldValue(r, 'hkid')],
      [t('f_birthdate'), v.date_of_birth], [t('f_gender'), v.gender ? t(`g_${v.gender}`) : '']]),
    h('p', { class: 'hint' }, t('verifiedNote')),
    h('h2', {}, t('editableTitle')),
    form);
}


/** What happened, saying who did it: the department that gave (or did not hold) the records. */
function dealingText(d, providers) {
  const p = d.kind === 'exchange' && d.provider ? providers.get(d.provider) : null;
  if (p && d.outcome === 'none') return t('dealNoRecord', { provider: p });
  if (p && d.outcome === 'ok') return t('dealGave', { provider: p });
  if (p) return t('dealAsked', { provider: p });
  return has(`deal_${d.kind}`) ? t(`deal_${d.kind}`) : d.kind;
}

export async function consents() {
  const [logins, data, dealings, catalogue] = await Promise.all([
    call(app.device, 'GET', '/app/v1/consents'),
    call(app.device, 'GET', '/app/v1/data-consents'),
    call(app.device, 'GET', '/app/v1/dealings'),
    plain('GET', '/gateway/v1/catalogue').catch(() => ({ items: [] })),
  ]);
  // Records by their titles in the reader's language, with the department holding them.
  const titles = new Map((catalogue.items || []).map((i) => [`${i.provider}/${i.item}`,
    aside(either(pair(i, 'title')), either(pair(i, 'provider')))]));
  const record = (i) => titles.get(`${i.provider}/${i.item}`) || i.item;
  const providers = new Map((catalogue.items || []).map((i) => [i.provider, either(pair(i, 'provider'))]));
  // What a dealing was about: a personal detail, or a department's record by its title.
  const itemName = (d, f) => {
    if (t(`f_${f}`) !== `f_${f}`) return t(`f_${f}`);
    const [provider, item] = f.includes('/') ? f.split('/') : [d.provider, f];
    const title = (catalogue.items || []).find((i) => i.provider === provider && i.item === item);
    return title ? either(pair(title, 'title')) : f;
  };
  const outcome = (d) => (d.outcome && /^[A-Z]+$/.test(d.outcome) && t(`status_${d.outcome}`) !== `status_${d.outcome}` ? t(`status_${d.outcome}`) : '');
  const err = h('div', { 'aria-live': 'assertive' });
  const act = (fn) => async (ev) => {
    err.replaceChildren();
    try { await busy(ev.currentTarget, t('working'), fn); app.render(); } catch (e) {
      if (stopsTheApp(e)) { app.fail(e); return; }
      err.replaceChildren(errorBox(explain(e), e.reference));
    }
  };
  const dataList = Array.isArray(data) ? data : data.consents || [];
  show(t('consentsTitle'), err,
    h('h2', {}, t('dataConsentsTitle')),
    dataList.length ? h('ul', { class: 'cards', id: 'data-consents' }, dataList.map((c) => h('li', { class: 'card data-consent', dataset: { id: c.consent_id } },
      h('p', { class: 'title' }, serviceOf(c), ' ', h('span', { class: `status status-${c.status}` }, t(`status_${c.status}`))),
      facts([[t('purposeLabel'), c.purpose_text],
        [t('recordsLabel'), (c.items || []).map(record).join(listSeparator())],
        [t('fetchesLabel'), String(c.fetches)],
        [t('validUntil'), c.expires_at ? when(c.expires_at) : '']]),
      h('div', { class: 'actions' },
        c.status === 'ACTIVE' ? button(t('pause'), act(() => call(app.device, 'POST', `/app/v1/data-consents/${c.consent_id}/pause`, {})), 'secondary', { class: 'pause' }) : null,
        c.status === 'PAUSED' ? button(t('resume'), act(() => call(app.device, 'POST', `/app/v1/data-consents/${c.consent_id}/resume`, {})), 'secondary') : null,
        ['ACTIVE', 'PAUSED'].includes(c.status) ? button(t('revoke'), act(async () => {
          if (await confirmDialog(t('revokeAsk', { service: serviceOf(c) }), t('revoke'), true)) {
            await call(app.device, 'POST', `/app/v1/data-consents/${c.consent_id}/revoke`, {});
            announce(t('withdrawn'));
          }
        }), 'danger') : null,
        c.artefact ? button(t('receipt'), act(async () => {
          download(`iamsmart-consent-${c.consent_id}.json`, await call(app.device, 'GET', `/app/v1/data-consents/${c.consent_id}/receipt`));
        }), 'secondary') : null)))) : h('p', { class: 'hint' }, t('noDataConsents')),
    h('h2', {}, t('loginConsentsTitle')),
    logins.length ? h('ul', { class: 'cards', id: 'login-consents' }, logins.map((c) => h('li', { class: 'card' },
      h('p', { class: 'title' }, serviceOf(c)),
      h('p', { class: 'meta' }, (c.fields || []).map((f) => t(`f_${f}`)).join(listSeparator())),
      h('div', { class: 'actions' }, button(t('withdraw'), act(async () => {
        if (await confirmDialog(t('withdrawAsk', { service: serviceOf(c) }), t('withdraw'), true)) {
          await call(app.device, 'POST', `/app/v1/consents/${encodeURIComponent(c.client_id)}/revoke`, {});
          announce(t('withdrawn'));
        }
      }), 'danger'))))) : h('p', { class: 'hint' }, t('noLoginConsents')),
    h('h2', {}, t('dealingsTitle')),
    (dealings.services || []).length ? (dealings.services || []).map((s) => h('section', { class: 'card' },
      h('h3', { class: 'title' }, serviceOf(s)),
      h('ul', { class: 'items' }, s.dealings.slice(0, 20).map((d) => h('li', {}, h('span', {},
        h('span', { class: 'item' }, dealingText(d, providers)),
        h('span', { class: 'value' }, [when(d.at), outcome(d), d.items && d.items.length ? d.items.map((f) => itemName(d, f)).join(listSeparator()) : ''].filter(Boolean).join(' · ')))))))) : h('p', { class: 'hint' }, t('noDealings')));
}

export async function devices() {
  const list = await call(app.device, 'GET', '/app/v1/devices');
  const err = h('div', { 'aria-live': 'assertive' });
  const method = (d) => (d.user_verification === 'passkey' ? t('verifyPasskey') : d.user_verification === 'pin' ? t('verifyPin') : t('verifyNone'));
  const remove = (d) => async (ev) => {
    err.replaceChildren();
    const question = d.current ? t('removeThisAsk') : t('removeAsk', { name: d.name });
    if (!(await confirmDialog(question, t('remove'), true))) return;
    try {
      await busy(ev.currentTarget, t('working'), () => call(app.device, 'POST', `/app/v1/devices/${d.id}/revoke`, {}));
      announce(t('removed'));
      if (d.current) { await store.clear(); app.device = null; dropSession(); app.go('/welcome'); return; }
      app.render();
    } catch (e) {
      if (stopsTheApp(e)) { app.fail(e); return; }
      err.replaceChildren(errorBox(explain(e), e.reference));
    }
  };
  const refuse = (d) => async (ev) => {
    err.replaceChildren();
    if (!(await confirmDialog(t('refuseAsk', { name: d.name }), t('refuse'), true))) return;
    try {
      await busy(ev.currentTarget, t('working'), () => call(app.device, 'POST', `/app/v1/devices/${d.id}/revoke`, {}));
      announce(t('refused'));
      app.render();
    } catch (e) {
      if (stopsTheApp(e)) { app.fail(e); return; }
      err.replaceChildren(errorBox(explain(e), e.reference));
    }
  };
  const active = list.filter((d) => d.status === 'active');
  // A new phone that self-registered with this resident's HKID waits; removing it refuses it.
  const waiting = list.filter((d) => d.status === 'pending');
  show(t('devicesTitle'), err,
    waiting.length ? h('section', { class: 'stack', id: 'waiting-phones' },
      h('h2', {}, t('waitingPhones')),
      h('ul', { class: 'cards' }, waiting.map((d) => h('li', { class: 'card warning', dataset: { id: d.id } },
        h('p', { class: 'title' }, d.name),
        h('p', { class: 'meta' }, t('boundAt', { t: when(d.created_at) })),
        h('p', {}, t('waitingUntil', { t: when(d.activates_at) })),
        h('div', { class: 'actions' }, button(t('refuse'), refuse(d), 'danger', { class: 'refuse' })))))) : null,
    h('ul', { class: 'cards', id: 'device-list' }, active.map((d) => h('li', { class: 'card', dataset: { id: d.id } },
      h('p', { class: 'title' }, d.current ? aside(d.name, t('thisPhone')) : d.name),
      h('p', { class: 'meta' }, t('boundAt', { t: when(d.created_at) })),
      h('p', { class: 'meta' }, d.last_used_at ? t('lastUsed', { t: when(d.last_used_at) }) : t('neverUsed')),
      h('p', { class: 'meta' }, method(d)),
      h('div', { class: 'actions' }, button(t('remove'), remove(d), 'danger', { class: 'remove' }))))),
    h('div', { class: 'stack' }, linkButton(t('addPhone'), '/devices/add', 'secondary', { id: 'add-phone' })));
}

export async function addDevice() {
  const out = await fresh(() => call(app.device, 'POST', '/app/v1/devices/link', {}));
  if (!out) { app.go('/devices'); return; }
  const minutes = Math.round((out.expires_at - Date.now()) / 60000);
  show(t('addPhone'),
    h('p', {}, t('addPhoneIntro', { m: minutes })),
    out.qr_image ? h('img', { class: 'qr-image', src: out.qr_image, alt: out.qr, id: 'link-qr' }) : null,
    h('p', { class: 'code-text', id: 'link-code' }, out.code),
    h('p', { class: 'hint' }, t('addPhoneAfter')),
    h('div', { class: 'actions' }, linkButton(t('myDevices'), '/devices', 'secondary')));
}

export async function inbox() {
  const v = await call(app.device, 'GET', '/app/v1/notifications');
  const list = v.notifications || [];
  show(t('inboxTitle'),
    v.unread ? h('p', {}, t('unread', { n: v.unread })) : null,
    list.length ? h('ul', { class: 'cards', id: 'inbox' }, list.map((n) => h('li', { class: `card${n.read_at ? '' : ' unread'}` },
      h('a', { class: 'card-link', href: `#/inbox/${n.id}` },
        h('p', { class: 'title' }, n.read_at ? '' : h('span', { class: 'sr-only' }, `${t('unreadMark')}: `), either(n.title)),
        h('p', { class: 'meta' }, `${serviceOf(n)} · ${when(n.created_at)}`))))) : h('p', { class: 'notice' }, t('noNotifications')),
    h('div', { class: 'actions' },
      v.unread ? button(t('markAllRead'), async (ev) => {
        await busy(ev.currentTarget, t('working'), () => call(app.device, 'POST', '/app/v1/notifications/read-all', {}));
        refreshBadge();
        app.render();
      }, 'secondary', { id: 'read-all' }) : null,
      linkButton(t('notifySettingsTitle'), '/notify-settings', 'secondary')));
  refreshBadge();
}

export async function notification(_params, id) {
  const n = await call(app.device, 'POST', `/app/v1/notifications/${encodeURIComponent(id)}/read`, {});
  refreshBadge();
  let link = null;
  try { link = n.link ? new URL(n.link) : null; } catch { link = null; }
  show(either(n.title),
    h('p', { class: 'meta' }, `${serviceOf(n)} · ${when(n.created_at)}`),
    either(n.body).split('\n').map((line) => h('p', {}, line)),
    link && /^https?:$/.test(link.protocol) ? h('p', {}, h('a', { href: link.href, rel: 'noopener noreferrer', target: '_blank' }, aside(t('openLink'), link.host))) : null,
    h('div', { class: 'actions' }, linkButton(t('back'), '/inbox', 'secondary')));
}

export async function notifySettings() {
  const prefs = await call(app.device, 'GET', '/app/v1/notification-settings');
  show(t('notifySettingsTitle'),
    prefs.length ? h('div', { id: 'notify-prefs' }, prefs.map((s) => {
      const id = `n-${s.client_id}`;
      const box = h('input', { type: 'checkbox', id, checked: s.enabled });
      box.addEventListener('change', async () => {
        box.disabled = true;
        try {
          await call(app.device, 'POST', `/app/v1/notification-settings/${encodeURIComponent(s.client_id)}/${box.checked ? 'on' : 'off'}`, {});
          announce(`${serviceOf(s)}: ${box.checked ? t('notifyOn') : t('notifyOff')}`);
        } catch (e) {
          box.checked = !box.checked;
          app.fail(e, () => app.render());
        } finally {
          box.disabled = false;
        }
      });
      return h('div', { class: 'toggle' }, h('label', { for: id }, serviceOf(s)), box);
    })) : h('p', { class: 'hint' }, t('notifySettingsNone')));
}

export async function upgrade() {
  if (!app.config.self_registration) {
    show(t('upgradeTitle'), h('p', { class: 'notice' }, t('upgradeNoFace')));
    return;
  }
  const input = h('input', { type: 'file', id: 'upgrade-selfie', accept: 'image/*', capture: 'user', class: 'sr-only' });
  const err = h('div', { 'aria-live': 'assertive' });
  input.addEventListener('change', async () => {
    err.replaceChildren();
    try {
      const p = await readPhoto(input.files[0]);
      input.value = '';
      await busy(null, t('working'), () => call(app.device, 'POST', '/app/v1/me/upgrade', { selfie: p.base64 }));
      app.device.level = 'plus';
      await enrolSigning().catch(() => {});
      announce(t('upgraded'));
      app.go('/me');
    } catch (e) {
      if (stopsTheApp(e)) { app.fail(e); return; }
      err.replaceChildren(errorBox(e.kind ? explain(e) : e.message, e.reference));
    }
  });
  show(t('upgradeTitle'), h('p', {}, t('upgradeIntro')), h('p', { class: 'notice' }, t('imagesNotKept')),
    h('label', { for: 'upgrade-selfie', class: 'button', tabindex: '0', role: 'button',
      onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); input.click(); } } }, t('takeSelfie')), input, err);
}

export async function closeAccount() {
  const err = h('div', { 'aria-live': 'assertive' });
  show(t('closeTitle'), h('p', { class: 'warn' }, t('closeIntro')), err,
    h('div', { class: 'actions' },
      button(t('closeTitle'), async (ev) => {
        if (!(await confirmDialog(t('closeAsk'), t('closeTitle'), true))) return;
        try {
          const out = await busy(ev.currentTarget, t('working'), () => fresh(() => call(app.device, 'POST', '/app/v1/me/close', {})));
          if (!out) return;
          await store.clear();
          app.device = null;
          dropSession();
          show(t('closedTitle'), h('p', {}, t('closedIntro')));
        } catch (e) {
          if (e.kind === 'device-revoked') { app.fail(e); return; }
          err.replaceChildren(errorBox(explain(e), e.reference));
        }
      }, 'danger', { id: 'confirm-close' }),
      linkButton(t('cancel'), '/me', 'secondary')));
}
