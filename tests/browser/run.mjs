// End-to-end tests of the pages a resident sees, in Debian's Chromium driven by playwright-core:
// the demo online service -> the login page -> approval in the app (iamsmart-app, in the
// background) -> consent -> back at the service with the form filled in; passkeys through the
// CDP WebAuthn virtual authenticator; denial and expiry; language switch; large text; keyboard
// only; axe-core on every page; screenshots of every page in both languages at phone and desktop
// widths (target/screenshots).
//
//   node tests/browser/run.mjs        (scripts/test runs it after building the binaries)
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const bins = process.env.IAMSMART_BIN_DIR || join(root, 'target', 'debug');
const shots = process.env.IAMSMART_SCREENSHOTS || join(root, 'target', 'screenshots');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PIN = '246813';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
    s.on('error', fail);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'iamsmart-browser-'));
rmSync(shots, { recursive: true, force: true });
mkdirSync(shots, { recursive: true });
const port = await freePort();
const servicePort = await freePort();
const base = `http://localhost:${port}`;
const service = `http://localhost:${servicePort}`;
const env = {
  PATH: process.env.PATH,
  IAMSMART_LISTEN: `127.0.0.1:${port}`,
  IAMSMART_PUBLIC_URL: base,
  IAMSMART_DATA_DIR: join(dir, 'data'),
  IAMSMART_DEMO__SERVICE_LISTEN: `127.0.0.1:${servicePort}`,
  IAMSMART_DEMO__SERVICE_URL: service,
  IAMSMART_IDENTITY__APPROVAL_TTL_SECS: '12',
  IAMSMART_OIDC__LOGIN_TTL_SECS: '12',
  IAMSMART_HTTP__RATE_LIMIT_PER_IP_PER_MINUTE: '0',
  IAMSMART_LOG__FORMAT: 'json',
};

const server = spawn(join(bins, 'iamsmart'), ['demo'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
let serverLog = '';
server.stdout.on('data', (d) => { serverLog += d; });
server.stderr.on('data', (d) => { serverLog += d; });

async function waitFor(url, what) {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    try { if ((await fetch(url)).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not start:\n${serverLog}`);
}

function app(home, args) {
  return JSON.parse(execFileSync(join(bins, 'iamsmart-app'), ['--home', home, ...args], {
    env: { PATH: process.env.PATH, IAMSMART_APP_PIN: PIN }, encoding: 'utf8', timeout: 60_000,
  }));
}

/** The app answers the login shown on `page` (approve or deny), as a phone would, in the background. */
async function answerInApp(page, home, decision = 'approve') {
  const qr = (await page.locator('#qr-payload').textContent()).trim();
  const match = (await page.locator('#match-code').textContent()).trim();
  const args = decision === 'approve' ? ['approve', qr, '--match', match, '--yes'] : ['deny', qr];
  return new Promise((ok, fail) => {
    const child = spawn(join(bins, 'iamsmart-app'), ['--home', home, ...args], {
      env: { PATH: process.env.PATH, IAMSMART_APP_PIN: PIN },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`app ${decision}: ${out}`))));
  });
}

const results = [];
async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - started });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** axe-core on the page: no serious or critical violation. */
async function accessible(page, label) {
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(bad.length === 0, `${label}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(', ')}`).join('; ')}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });

async function context(viewport, locale = 'en-GB') {
  // bypassCSP lets the test inject axe-core; the pages' own CSP is tested in the Rust suites.
  return browser.newContext({ viewport, locale, deviceScaleFactor: 1, bypassCSP: true });
}

try {
  await waitFor(`${base}/readyz`, 'the platform');
  await waitFor(`${service}/healthz`, 'the demo service');
  const home = join(dir, 'phone');
  execFileSync(join(bins, 'iamsmart'), ['sandbox', 'create-resident', '--app-home', home, '--level', 'plus', '--pin', PIN], {
    env: { ...env, IAMSMART_DATABASE_URL: `sqlite://${join(dir, 'data', 'demo.db')}` }, encoding: 'utf8',
  });
  const me = app(home, ['me']);
  const name = me.verified.name_en;

  /** From the service's start page to the login page. */
  async function toLogin(page) {
    await page.goto(service);
    await page.locator('#login-with-iamsmart').click();
    await page.locator('#qr-payload').waitFor();
  }

  await test('the journey: service, login page, app approval, consent, back with the form filled', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await page.goto(service);
    await accessible(page, 'service start page');
    await shot(page, 'service-start-desktop-en');
    await toLogin(page);
    assert((await page.locator('html').getAttribute('lang')) === 'en', 'English page');
    assert(await page.getByText('Online Application for International Driving Permit').count() > 0, 'the service is named');
    await accessible(page, 'login page');
    await shot(page, 'login-desktop-en');
    await answerInApp(page, home);
    await page.locator('#consent-form').waitFor({ timeout: 15_000 });
    assert((await page.locator('.value').allTextContents()).some((t) => t.includes('***')), 'the HKID is masked');
    await accessible(page, 'consent page');
    await shot(page, 'consent-desktop-en');
    await page.locator('#allow').click();
    await page.locator('#application-form').waitFor({ timeout: 15_000 });
    assert((await page.locator('#applicant-name').inputValue()) === name, 'the form is filled in');
    await accessible(page, 'service form');
    await shot(page, 'service-form-desktop-en');
    await ctx.close();
  });

  await test('language switch (remembered), large text, Chinese pages at phone width', async () => {
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    await toLogin(page);
    await page.locator('header .prefs a[lang="zh-HK"]').click();
    await page.locator('#qr-payload').waitFor();
    assert((await page.locator('html').getAttribute('lang')) === 'zh-HK', 'Chinese page');
    assert(await page.getByText('配對碼').count() > 0, 'Chinese text');
    await accessible(page, 'login page (zh)');
    await shot(page, 'login-phone-zh');
    await page.locator('header .prefs a').nth(1).click();
    await page.locator('body.large').waitFor();
    await shot(page, 'login-phone-zh-large');
    // The choice is remembered: a new sign-in is in Chinese too.
    await toLogin(page);
    assert((await page.locator('html').getAttribute('lang')) === 'zh-HK', 'language remembered');
    assert(await page.locator('body.large').count() === 1, 'large text remembered');
    await ctx.close();
  });

  await test('phone width in English and Chinese, consent in Chinese', async () => {
    for (const [lang, locale] of [['en', 'en-GB'], ['zh', 'zh-HK']]) {
      const ctx = await context(PHONE, locale);
      const page = await ctx.newPage();
      await toLogin(page);
      await shot(page, `login-phone-${lang}`);
      await answerInApp(page, home);
      // Consent is remembered from the first journey: straight back to the form.
      await page.locator('#application-form').waitFor({ timeout: 15_000 });
      await shot(page, `service-form-phone-${lang}`);
      await ctx.close();
    }
    // A service that asks for more shows the consent page again, in the browser's language.
    const ctx = await context(DESKTOP, 'zh-HK');
    const page = await ctx.newPage();
    await page.goto(`${service}/login?more=1`);
    await page.locator('#qr-payload').waitFor();
    await shot(page, 'login-desktop-zh');
    await answerInApp(page, home);
    await page.locator('#consent-form').waitFor({ timeout: 15_000 });
    assert((await page.locator('html').getAttribute('lang')) === 'zh-HK', 'Chinese consent page');
    await accessible(page, 'consent page (zh)');
    await shot(page, 'consent-desktop-zh');
    await page.setViewportSize(PHONE);
    await shot(page, 'consent-phone-zh');
    await page.locator('#cancel').click();
    await page.locator('#service-error').waitFor({ timeout: 15_000 });
    await ctx.close();
  });

  await test('keyboard only: the consent form and the continue link', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await page.goto(`${service}/login?more=1`);
    await page.locator('#qr-payload').waitFor();
    let found = false;
    for (let i = 0; i < 15 && !found; i += 1) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement?.id === 'continue');
    }
    assert(found, 'the continue link is reachable with Tab');
    await answerInApp(page, home);
    await page.locator('#consent-form').waitFor({ timeout: 15_000 });
    found = false;
    for (let i = 0; i < 40 && !found; i += 1) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement?.id === 'allow');
    }
    assert(found, 'the share button is reachable with Tab');
    await page.keyboard.press('Enter');
    await page.locator('#application-form').waitFor({ timeout: 15_000 });
    await ctx.close();
  });

  await test('a denial in the app brings a clear answer at the service', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await toLogin(page);
    await answerInApp(page, home, 'deny');
    await page.locator('#service-error').waitFor({ timeout: 15_000 });
    await shot(page, 'service-denied-desktop-en');
    await ctx.close();
  });

  await test('a login nobody approves expires', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await toLogin(page);
    await page.locator('#service-error').waitFor({ timeout: 30_000 });
    assert((await page.locator('#service-error').textContent()).length > 0, 'the service says why');
    await ctx.close();
  });

  await test('passkeys: add, sign in, remove, refused after removal', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    // Sign in with the app once, then add a passkey in the account pages.
    await page.goto(`${base}/account`);
    await page.locator('#qr-payload').waitFor();
    await answerInApp(page, home);
    await page.locator('#resident-name').waitFor({ timeout: 15_000 });
    await accessible(page, 'account overview');
    await shot(page, 'account-desktop-en');
    await page.goto(`${base}/account/passkeys`);
    await page.locator('#add-passkey').click();
    await page.locator('.passkey-row').first().waitFor({ timeout: 15_000 });
    await accessible(page, 'passkeys page');
    await shot(page, 'passkeys-desktop-en');
    await page.goto(`${base}/account/consents`);
    await accessible(page, 'consents page');
    await shot(page, 'consents-desktop-en');
    // Sign out, then sign in to the service with the passkey only: the login page offers it
    // through autofill (conditional UI), which the virtual authenticator answers at once.
    await page.goto(`${base}/logout`);
    await page.goto(service);
    await page.locator('#login-with-iamsmart').click();
    await page.locator('#application-form').waitFor({ timeout: 15_000 });
    assert((await page.locator('#applicant-name').inputValue()) === name, 'signed in with the passkey');
    // Remove it; then it is refused.
    await page.goto(`${base}/account/passkeys`);
    await page.locator('.passkey-row button.danger').first().click();
    await page.locator('#no-passkeys').waitFor({ timeout: 15_000 });
    await page.goto(`${base}/logout`);
    await toLogin(page);
    await page.locator('#use-passkey').click();
    await page.locator('#passkey-error').waitFor({ state: 'visible', timeout: 15_000 });
    assert(await page.locator('#qr-payload').count() === 1, 'still on the login page');
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    await ctx.close();
  });

  await test('data exchange: the service fetches the licence with consent; dealings page: pause, resume, revoke', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await toLogin(page);
    await answerInApp(page, home);
    const consentForm = page.locator('#consent-form');
    const form = page.locator('#application-form');
    await Promise.race([consentForm.waitFor({ timeout: 15_000 }), form.waitFor({ timeout: 15_000 })]);
    if (await consentForm.count()) await page.locator('#allow').click();
    await form.waitFor({ timeout: 15_000 });
    // The service asks the Transport Department through the gateway; the page waits (and
    // refreshes itself) while the resident answers in the app.
    await page.locator('#fetch-licence').click();
    await page.locator('#licence-waiting').waitFor({ timeout: 15_000 });
    await accessible(page, 'service waiting for consent');
    await shot(page, 'service-licence-wait-desktop-en');
    const req = app(home, ['pending']).find((r) => r.kind === 'data_consent');
    assert(req, 'the consent request is on the phone');
    assert(JSON.stringify(req.details).includes('Transport Department'), 'the department is named');
    app(home, ['approve', req.id, '--yes']);
    await page.locator('#licence-note').waitFor({ timeout: 20_000 });
    const note = await page.locator('#licence-note').textContent();
    const licence = await page.locator('#licence').inputValue();
    assert(/^DL\d{7}$/.test(licence) || note.includes('holds no'), `licence filled in or none held: ${licence} ${note}`);
    await accessible(page, 'service form with the licence');
    await shot(page, 'service-form-licence-desktop-en');
    // The resident's dealings: the login, the consent and the exchange, per service.
    await page.goto(`${base}/account/dealings`);
    const row = page.locator('.data-consent').first();
    await row.waitFor({ timeout: 15_000 });
    assert((await row.textContent()).includes('Driving licence'), 'the item is named');
    assert(await page.locator('table.dealings td', { hasText: 'Data passed between departments' }).count() > 0, 'the exchange is listed');
    await accessible(page, 'dealings page');
    await shot(page, 'dealings-desktop-en');
    const receipt = await page.request.get(`${base}${await row.locator('a[href*="receipt"]').getAttribute('href')}`);
    assert(receipt.ok() && (await receipt.text()).includes('consent'), 'the receipt downloads');
    const all = await page.request.get(`${base}/account/dealings.json`);
    assert(all.ok() && (await all.json()).format === 'iamsmart-dealings/1', 'everything downloads as JSON');
    await row.locator('button', { hasText: 'Pause' }).click();
    await page.locator('.data-consent .status-paused').first().waitFor({ timeout: 15_000 });
    await page.locator('.data-consent').first().locator('button', { hasText: 'Resume' }).click();
    await page.locator('.data-consent .status-active').first().waitFor({ timeout: 15_000 });
    await page.locator('.data-consent').first().locator('button', { hasText: 'Revoke' }).click();
    await page.locator('.data-consent .status-revoked').first().waitFor({ timeout: 15_000 });
    assert(await page.locator('.data-consent').first().locator('button').count() === 0, 'nothing more to do once revoked');
    // In Chinese, and at phone width.
    await page.goto(`${base}/account/dealings?lang=zh-HK`);
    assert((await page.locator('html').getAttribute('lang')) === 'zh-HK', 'Chinese page');
    await accessible(page, 'dealings page (zh)');
    await shot(page, 'dealings-desktop-zh');
    await page.setViewportSize(PHONE);
    await shot(page, 'dealings-phone-zh');
    await ctx.close();
  });

  await test('digital signing: the application PDF signed in the app; pdfsig and pyHanko judge it valid', async () => {
    app(home, ['signing-cert']);
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await toLogin(page);
    await answerInApp(page, home);
    const consentForm = page.locator('#consent-form');
    const form = page.locator('#application-form');
    await Promise.race([consentForm.waitFor({ timeout: 15_000 }), form.waitFor({ timeout: 15_000 })]);
    if (await consentForm.count()) await page.locator('#allow').click();
    await form.waitFor({ timeout: 15_000 });
    await page.locator('#licence').fill('DL7654321');
    await page.locator('#submit-application').click();
    await page.locator('#signing-match').waitFor({ timeout: 15_000 });
    const shown = (await page.locator('#signing-match').textContent()).trim();
    await accessible(page, 'service waiting for the signature');
    await shot(page, 'service-signing-wait-desktop-en');
    const req = app(home, ['pending']).find((r) => r.kind === 'sign');
    assert(req, 'the signing request is on the phone');
    assert(req.match_code === shown, `the same match code on the phone (${req.match_code}) and the page (${shown})`);
    assert(req.details.format === 'pades' && req.details.document.name.includes('International Driving Permit'), 'the document is named');
    app(home, ['approve', req.id, '--match', shown, '--yes']);
    await page.locator('#signed-pdf').waitFor({ timeout: 20_000 });
    await accessible(page, 'service with the signed application');
    await shot(page, 'service-signed-desktop-en');
    const pdf = Buffer.from(await (await page.request.get(`${service}/application.pdf`)).body());
    assert(pdf.subarray(0, 5).toString() === '%PDF-', 'a PDF downloads');
    const file = join(dir, 'signed-application.pdf');
    writeFileSync(file, pdf);
    const rootPem = join(dir, 'root.pem');
    const der = Buffer.from(await (await fetch(`${base}/pki/root.cer`)).arrayBuffer());
    writeFileSync(rootPem, `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`);
    const nss = join(dir, 'nss');
    mkdirSync(nss, { recursive: true });
    execFileSync('certutil', ['-N', '-d', `sql:${nss}`, '--empty-password']);
    execFileSync('certutil', ['-A', '-d', `sql:${nss}`, '-n', 'iamsmart-root', '-t', 'CT,C,C', '-i', rootPem]);
    const pdfsig = execFileSync('pdfsig', ['-nssdir', `sql:${nss}`, file], { encoding: 'utf8' });
    assert(pdfsig.includes('Signature is Valid') && pdfsig.includes('Certificate is Trusted'), `pdfsig: ${pdfsig}`);
    const pyhanko = execFileSync(join(root, 'target', 'pyvenv', 'bin', 'pyhanko'),
      ['sign', 'validate', '--pretty-print', '--trust-replace', '--trust', rootPem, file], { encoding: 'utf8' });
    assert(pyhanko.includes('The signature is judged VALID'), `pyHanko: ${pyhanko}`);
    // The result page at phone width.
    await page.goto(`${service}/signing`);
    await page.setViewportSize(PHONE);
    await shot(page, 'service-signed-phone-en');
    await ctx.close();
  });

  await test('error pages explain, in both languages, with a reference', async () => {
    for (const [lang, locale] of [['en', 'en-GB'], ['zh', 'zh-HK']]) {
      const ctx = await context(DESKTOP, locale);
      const page = await ctx.newPage();
      const res = await page.goto(`${base}/authorize?client_id=nobody&response_type=code`);
      assert(res.status() === 401, `error status ${res.status()}`);
      assert(await page.locator('.reference code').count() === 1, 'a reference id');
      await accessible(page, `error page (${lang})`);
      await shot(page, `error-desktop-${lang}`);
      await ctx.close();
    }
  });
} catch (e) {
  results.push({ name: 'setup', ok: false, error: e });
  console.log(`FAIL setup: ${e.stack || e}`);
} finally {
  await browser.close();
  server.kill('SIGTERM');
  writeFileSync(join(shots, 'server.log'), serverLog);
}

const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${shots}`);
if (failed.length) {
  console.log(`data kept in ${dir}`);
  process.exit(1);
}
rmSync(dir, { recursive: true, force: true });
