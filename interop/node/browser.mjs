// The resident's side of a login, as a browser without JavaScript and the app CLI do it: load the
// authorization URL (keeping cookies), read the QR payload and the match code, approve in the
// app, follow the continue link, and return where the provider redirects to.
import { execFileSync } from 'node:child_process';

export const env = {
  dir: process.env.INTEROP_DIR,
  issuer: process.env.INTEROP_ISSUER,
  pin: process.env.INTEROP_APP_PIN,
  redirectUri: process.env.INTEROP_REDIRECT_URI,
  postLogoutUri: process.env.INTEROP_POST_LOGOUT_URI,
  appBin: process.env.INTEROP_APP_BIN,
  iamsmartBin: process.env.INTEROP_IAMSMART_BIN,
};
for (const [k, v] of Object.entries(env)) {
  if (!v) throw new Error(`missing ${k}: run this through interop/run`);
}

const TIMEOUT_MS = 15_000;

/** A browser: one cookie jar, redirects not followed. */
export class Browser {
  #cookies = new Map();

  async get(url) {
    return this.#send(url, {});
  }

  async post(url, form) {
    return this.#send(url, {
      method: 'POST',
      body: new URLSearchParams(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }

  async #send(url, init) {
    const headers = { ...(init.headers || {}) };
    if (this.#cookies.size) {
      headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const res = await fetch(url, {
      ...init,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const gone = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (gone) this.#cookies.delete(name);
      else this.#cookies.set(name, pair.slice(i + 1).trim());
    }
    return res;
  }
}

function between(text, start, end) {
  const i = text.indexOf(start);
  if (i < 0) return undefined;
  const j = text.indexOf(end, i + start.length);
  return j < 0 ? undefined : text.slice(i + start.length, j);
}

const unescape = (s) => s.replaceAll('&amp;', '&');

/** Run `iamsmart-app --home HOME ARGS`; its JSON answer. */
export function app(home, args) {
  const out = execFileSync(env.appBin, ['--home', home, ...args], {
    env: { PATH: process.env.PATH, IAMSMART_APP_PIN: env.pin },
    timeout: 60_000,
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

/** The QR payload, match code and continue link of a login page. */
export function readLogin(html, url) {
  const qr = between(html, '<code id="qr-payload">', '</code>');
  const match = between(html, '<p class="code" id="match-code">', '</p>');
  const cont = between(html, '<a class="button" id="continue" href="', '"');
  if (!qr || !match || !cont) throw new Error(`not a login page: ${html.slice(0, 500)}`);
  return { qr: unescape(qr), match, continueUrl: new URL(unescape(cont), url) };
}

/**
 * If `res` is the consent page, agree to every item (remembered) and return the provider's
 * redirect; if it is a redirect already, that.
 */
export async function consentIfAsked(browser, res, base) {
  if (res.status >= 300 && res.status < 400) return new URL(res.headers.get('location'));
  const html = await res.text();
  if (res.status !== 200 || !html.includes('id="consent-form"')) {
    throw new Error(`expected a redirect or the consent page: ${res.status} ${html.slice(0, 500)}`);
  }
  const form = [
    ['tx', between(html, 'name="tx" value="', '"')],
    ['csrf', between(html, 'name="csrf" value="', '"')],
    ['remember', '1'],
    ['decision', 'allow'],
  ];
  const fields = new Set();
  let rest = html;
  const marker = 'name="field" value="';
  for (let i = rest.indexOf(marker); i >= 0; i = rest.indexOf(marker)) {
    rest = rest.slice(i + marker.length);
    fields.add(rest.slice(0, rest.indexOf('"')));
  }
  for (const f of fields) form.push(['field', f]);
  const done = await browser.post(new URL('/authorize/consent', base), form);
  if (done.status < 300 || done.status >= 400) {
    throw new Error(`consent: ${done.status} ${(await done.text()).slice(0, 500)}`);
  }
  return new URL(done.headers.get('location'));
}

/**
 * Open an authorization URL and log in with the app if the provider asks for it; returns the
 * redirect back to the client (a URL) and whether the app was asked. A live session with
 * remembered consent redirects at once.
 */
export async function login(browser, home, authorizationUrl) {
  const first = await browser.get(authorizationUrl);
  if (first.status >= 300 && first.status < 400) {
    return { url: new URL(first.headers.get('location')), approved: false };
  }
  const html = await first.clone().text();
  if (html.includes('id="consent-form"')) {
    return { url: await consentIfAsked(browser, first, authorizationUrl), approved: false };
  }
  if (first.status !== 200) throw new Error(`login page: ${first.status} ${html.slice(0, 500)}`);
  const page = readLogin(html, authorizationUrl);
  const done = app(home, ['approve', page.qr, '--match', page.match, '--yes']);
  if (done.status !== 'approved') throw new Error(`app: ${JSON.stringify(done)}`);
  const res = await browser.get(page.continueUrl);
  return { url: await consentIfAsked(browser, res, authorizationUrl), approved: true };
}

/** `iamsmart keys rotate --immediate` on the running server's database. */
export function rotateTokenKey() {
  return execFileSync(env.iamsmartBin, ['keys', 'rotate', '--immediate'], {
    env: process.env,
    timeout: 60_000,
    encoding: 'utf8',
  });
}
