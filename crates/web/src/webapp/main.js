// The resident's app: start-up, the routes (in the address's #fragment, so that nothing a
// route carries, such as an activation code, reaches a server log), the lock and the chrome
// (language, text size, tabs). Screens live in setup.js, requests.js and account.js.
import { t, lang, setLang, LANGUAGES } from './i18n.js';
import * as store from './store.js';
import { plain, call, whenLocked, unlocked, dropSession, idleMs, ApiError, witnessLog } from './api.js';
import { show, h, button, errorBox, explain, announce } from './ui.js';
import { unlock } from './uv.js';
import * as setup from './setup.js';
import * as requests from './requests.js';
import * as account from './account.js';

/** What every screen shares. */
export const app = {
  device: null,
  config: null,
  /** Go to a route (`/home`, `/request/ID?return=...`). */
  go(route) {
    if (location.hash === `#${route}`) render();
    else location.hash = route;
  },
  /** Render the current route again (after a language switch, an unlock). */
  render: () => render(),
  /** Show an error the right way: lock screen, revoked phone, or a message with a retry. */
  fail: (e, retry) => fail(e, retry),
  /** Save the device record. */
  async save() { await store.save(app.device); },
};

const ROUTES = [
  [/^\/?$|^\/home$/, requests.home, true],
  [/^\/scan$/, requests.scan, false],
  [/^\/(?:approve|request\/([\w-]+))$/, requests.request, true],
  [/^\/inbox$/, account.inbox, true],
  [/^\/inbox\/([\w-]+)$/, account.notification, true],
  [/^\/notify-settings$/, account.notifySettings, true],
  [/^\/me$/, account.me, true],
  [/^\/profile$/, account.profile, true],
  [/^\/consents$/, account.consents, true],
  [/^\/devices$/, account.devices, true],
  [/^\/devices\/add$/, account.addDevice, true],
  [/^\/upgrade$/, account.upgrade, true],
  [/^\/close$/, account.closeAccount, true],
  [/^\/welcome$/, setup.welcome, false],
  [/^\/activate$/, setup.activate, false],
  [/^\/register$/, setup.register, false],
];

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const [path, query = ''] = raw.split('?');
  return { path: path || '/home', params: new URLSearchParams(query) };
}

let rendering = 0;

async function render() {
  const mine = ++rendering;
  const { path, params } = parseHash();
  const found = ROUTES.find(([re]) => re.test(path));
  const [re, screen, needsDevice] = found || ROUTES[0];
  const match = path.match(re) || [];
  tabs(path);
  try {
    // The log alarm comes first, even before the lock screen: the resident must not be led on
    // to approve anything (the check reads only the public log; it reveals nothing).
    await witnessLog();
    if (!app.device && needsDevice) {
      // Not set up: a request link or the home screen leads to the welcome screen.
      await setup.welcome(params);
      return;
    }
    if (app.device && ['/welcome', '/activate', '/register'].includes(path)) {
      await requests.home(params);
      return;
    }
    // A set-up app opens nothing, not even the camera, before the resident unlocks it.
    if (app.device && app.device.uv && !unlocked()) {
      await lockScreen();
      return;
    }
    if (mine !== rendering) return;
    await screen(params, match[1]);
  } catch (e) {
    fail(e, () => render());
  }
}

function fail(e, retry) {
  if (e instanceof ApiError && e.kind === 'app-locked') { lockScreen(t('lockedAfterIdle')); return; }
  if (e instanceof ApiError && e.kind === 'device-revoked') { revokedScreen(); return; }
  if (e instanceof ApiError && e.kind === 'log-alarm') { alarmScreen(e, retry); return; }
  const message = e instanceof ApiError
    ? explain(e)
    : (e && e.message) || t('errServer');
  show(t('problemTitle'),
    errorBox(message, e && e.reference),
    h('div', { class: 'actions' },
      retry ? button(t('tryAgain'), retry) : null,
      button(t('goHome'), () => app.go('/home'), 'secondary')));
}

/** The lock screen: unlock with the passkey or the PIN, then show what was asked for. */
async function lockScreen(reason) {
  requests.stopBackground();
  // Already showing (a poll and the idle timer may both find the app locked): keep the focus.
  if (document.getElementById('unlock') && !reason) return;
  tabs(null);
  document.getElementById('lock-now').hidden = true;
  const err = h('div', { 'aria-live': 'assertive' });
  const go = async (ev) => {
    err.replaceChildren();
    const btn = ev.currentTarget;
    btn.disabled = true;
    try {
      if (await unlock(app.device)) {
        idleTimer();
        announce(t('unlock'));
        render();
      }
    } catch (e) {
      if (e.kind === 'device-revoked') { revokedScreen(); return; }
      if (e.kind === 'log-alarm') { alarmScreen(e, () => render()); return; }
      const msg = explain(e);
      err.replaceChildren(errorBox(msg, e.reference));
    } finally {
      btn.disabled = false;
    }
  };
  show(t('lockedTitle'),
    reason ? h('p', { class: 'notice' }, reason) : null,
    h('p', {}, t('lockedIntro')),
    err,
    h('div', { class: 'stack' },
      button(app.device.uv === 'passkey' ? t('unlockPasskey') : t('unlock'), go, '', { id: 'unlock' })));
}

async function revokedScreen() {
  requests.stopBackground();
  await store.clear();
  app.device = null;
  dropSession();
  tabs(null);
  show(t('revokedTitle'),
    h('p', { class: 'big-icon bad', 'aria-hidden': 'true' }, '⊘'),
    h('p', {}, t('revokedIntro')),
    h('div', { class: 'stack' }, button(t('startOver'), () => app.go('/welcome'))));
}

/**
 * The platform showed this phone a transparency log that was cut short, forked or re-signed:
 * nothing is approved, and the resident is told what it means and what to do.
 */
function alarmScreen(e, retry) {
  requests.stopBackground();
  tabs(null);
  show(t('alarmTitle'),
    h('p', { class: 'big-icon bad', 'aria-hidden': 'true' }, '⚠'),
    h('div', { class: 'error-box', role: 'alert', id: 'log-alarm' },
      h('p', {}, t('alarmIntro')),
      h('p', {}, t('alarmAdvice'))),
    h('details', {},
      h('summary', {}, t('alarmDetails')),
      h('p', { class: 'detail', lang: 'en', id: 'log-alarm-detail' }, `${e.alarm}: ${e.detail}`)),
    h('div', { class: 'stack' }, button(t('alarmCheckAgain'), retry || (() => render()), '', { id: 'check-log-again' })));
}

/** The bottom tabs, with the current one marked (hidden before set-up and when locked). */
function tabs(path) {
  const nav = document.getElementById('tabs');
  const on = !!app.device && path != null && (!app.device.uv || unlocked());
  nav.hidden = !on;
  document.body.classList.toggle('with-tabs', on);
  const current = !path ? '' : path === '/' ? 'home' : path.split('/')[1];
  for (const a of nav.querySelectorAll('a')) {
    const tab = a.dataset.tab;
    const here = tab === current || (tab === 'me' && ['profile', 'consents', 'devices', 'upgrade', 'close', 'notify-settings'].includes(current))
      || (tab === 'inbox' && current === 'inbox');
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.getElementById('lock-now').hidden = !(app.device && app.device.uv && unlocked());
}

/** Lock after the idle time without a touch or a key (the platform ends the session too). */
let lastActivity = Date.now();
let timer = null;
function idleTimer() {
  lastActivity = Date.now();
  if (timer) return;
  timer = setInterval(() => {
    if (!app.device || !app.device.uv || !unlocked()) return;
    if (Date.now() - lastActivity > idleMs()) lockNow(t('lockedAfterIdle'));
  }, 5000);
}

function lockNow(reason) {
  const device = app.device;
  if (device && device.uv && unlocked()) call(device, 'POST', '/app/v1/lock', {}).catch(() => {});
  dropSession();
  lockScreen(reason);
}

function chrome() {
  document.getElementById('skip').textContent = t('skip');
  // A button for each other language, named in that language.
  for (const l of LANGUAGES) {
    const b = document.getElementById(`lang-${l.id}`);
    b.hidden = l.id === lang();
  }
  const large = localStorage.getItem('iamsmart-large') === '1';
  document.body.classList.toggle('large', large);
  document.getElementById('text-size').textContent = large ? t('normalText') : t('largerText');
  document.getElementById('lock-now').textContent = t('lock');
  document.getElementById('prefs').setAttribute('aria-label', `${t('languageLabel')} · ${t('textSizeLabel')}`);
  document.getElementById('tabs').setAttribute('aria-label', t('appName'));
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
}

async function start() {
  if (!window.crypto || !crypto.subtle || !window.indexedDB) {
    show(t('errOld'));
    return;
  }
  chrome();
  for (const l of LANGUAGES) {
    document.getElementById(`lang-${l.id}`).addEventListener('click', () => {
      setLang(l.id);
      // Whatever was last announced was said in the other language.
      document.getElementById('toast').textContent = '';
      chrome();
      render();
    });
  }
  document.getElementById('text-size').addEventListener('click', () => {
    localStorage.setItem('iamsmart-large', localStorage.getItem('iamsmart-large') === '1' ? '0' : '1');
    chrome();
  });
  document.getElementById('lock-now').addEventListener('click', () => lockNow());
  for (const ev of ['pointerdown', 'keydown', 'touchstart']) {
    document.addEventListener(ev, () => { lastActivity = Date.now(); }, { passive: true });
  }
  whenLocked(() => { if (app.device) lockScreen(t('lockedAfterIdle')); });
  try {
    app.device = await store.load();
  } catch {
    show(t('errStorage'));
    return;
  }
  try {
    app.config = await plain('GET', '/app/v1/config');
  } catch {
    app.config = { pin_allowed: true, self_registration: false, idle_secs: 300 };
  }
  idleTimer();
  window.addEventListener('hashchange', render);
  render();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
  }
}

start();
