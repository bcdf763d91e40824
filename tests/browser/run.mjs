// End-to-end tests of the pages a resident sees, in Debian's Chromium driven by playwright-core:
// the demo online service -> the login page -> approval in the app (iamsmart-app, in the
// background) -> consent -> back at the service with the form filled in; passkeys through the
// CDP WebAuthn virtual authenticator; denial and expiry; language switch; large text; keyboard
// only; axe-core on every page; screenshots of every page in both languages at phone and desktop
// widths (target/screenshots).
//
//   node tests/browser/run.mjs        (scripts/test runs it after building the binaries)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  root, bins, shots, PIN, PHONE, DESKTOP, startDemo, test, assert, accessible, shot, launch, finish, results,
  everyLanguage,
} from './lib.mjs';

rmSync(shots, { recursive: true, force: true });
mkdirSync(shots, { recursive: true });
const demo = await startDemo('browser');
const { base, service, env } = demo;
const dir = demo.dir;

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

const browser = await launch();

async function context(viewport, locale = 'en-GB') {
  // bypassCSP lets the test inject axe-core; the pages' own CSP is tested in the Rust suites.
  return browser.newContext({ viewport, locale, deviceScaleFactor: 1, bypassCSP: true });
}

try {
  const home = join(dir, 'phone');
  execFileSync(join(bins, 'iamsmart'), ['sandbox', 'create-resident', '--app-home', home, '--level', 'plus', '--pin', PIN, '--kdf-memory-mib', '8'], {
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
    await page.locator('#text-size').click();
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

  await test('a login nobody approves shows a new code when the old one runs out', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await toLogin(page);
    const first = (await page.locator('#qr-payload').textContent()).trim();
    assert(/works until \d{1,2}:\d{2} [ap]m/.test(await page.locator('#code-expires').textContent()), 'the page says until when');
    // The demo's codes last 12 seconds; the page replaces an expired one by itself.
    await page.waitForFunction((old) => {
      const el = document.querySelector('#qr-payload');
      return el && el.textContent.trim() !== old;
    }, first, { timeout: 30_000 });
    assert(await page.locator('#match-code').count() === 1, 'with its match code');
    await accessible(page, 'login page with a renewed code');
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
    // A passkey signs in without the phone, so the phone approves first (finding 2 of issue
    // 15): the page shows a match code and waits; the app sees a passkey request with it.
    await page.locator('#add-passkey').click();
    await page.locator('#passkey-match').waitFor({ state: 'visible', timeout: 15_000 });
    await accessible(page, 'passkeys page waiting for the phone');
    await shot(page, 'passkeys-waiting-desktop-en');
    const shown = (await page.locator('#passkey-match').textContent()).trim();
    const asked = app(home, ['pending']).find((r) => r.kind === 'passkey_add');
    assert(asked && asked.match_code === shown, `the phone shows the page's code: ${JSON.stringify(asked)} ${shown}`);
    assert(await page.locator('.passkey-row').count() === 0, 'no passkey before the phone agrees');
    app(home, ['approve', asked.id, '--match', shown, '--yes']);
    await page.locator('.passkey-row').first().waitFor({ timeout: 15_000 });
    await accessible(page, 'passkeys page');
    await shot(page, 'passkeys-desktop-en');
    await page.goto(`${base}/account/consents`);
    await accessible(page, 'consents page');
    await shot(page, 'consents-desktop-en');
    // Sign out, then sign in to the service with the passkey only: the login page's "Use a
    // passkey" button, which the virtual authenticator answers at once.
    // Signing out asks first (finding 6 of issue 15: a link from anywhere must not end the
    // session silently); the page offers this browser only, or every service too.
    await page.goto(`${base}/logout`);
    await page.locator('#sign-out').waitFor();
    await accessible(page, 'sign-out confirmation (en)');
    await shot(page, 'logout-confirm-desktop-en');
    await page.goto(`${base}/logout?lang=zh-HK`);
    await page.locator('#sign-out').waitFor();
    assert((await page.locator('h1').textContent()).includes('登出'), 'the page is in Chinese');
    await accessible(page, 'sign-out confirmation (zh-HK)');
    await shot(page, 'logout-confirm-desktop-zh');
    await page.goto(`${base}/logout?lang=en`);
    await page.locator('#sign-out').click();
    await page.waitForURL(`${base}/logout`);
    assert((await page.locator('h1').textContent()).includes('Signed out'), 'signed out');
    await page.goto(service);
    await page.locator('#login-with-iamsmart').click();
    await page.locator('#use-passkey').click();
    await page.locator('#application-form').waitFor({ timeout: 15_000 });
    assert((await page.locator('#applicant-name').inputValue()) === name, 'signed in with the passkey');
    // Remove it; then it is refused.
    await page.goto(`${base}/account/passkeys`);
    await page.locator('.passkey-row button.danger').first().click();
    await page.locator('#no-passkeys').waitFor({ timeout: 15_000 });
    await page.goto(`${base}/logout`);
    await page.locator('#sign-out-everywhere').click();
    await page.locator('h1', { hasText: 'Signed out' }).waitFor({ timeout: 15_000 });
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
    // Who did what: the department that gave the record (or holds none) is named.
    assert(await page.locator('table.dealings td', { hasText: /Transport Department (gave this service your records|was asked for your records)/ }).count() > 0, 'the exchange is listed, naming the department');
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

  await test('check a signed document: anyone uploads the signed application at /verify, in both languages', async () => {
    const file = join(dir, 'signed-application.pdf');
    assert(existsSync(file), 'the digital signing test left the signed application');
    const notPdf = join(dir, 'not-a-pdf.pdf');
    writeFileSync(notPdf, 'hello, not a PDF');
    for (const [lang, viewport, width] of [['en', DESKTOP, 'desktop'], ['zh', PHONE, 'phone']]) {
      const ctx = await context(viewport, lang === 'en' ? 'en-GB' : 'zh-HK');
      const page = await ctx.newPage();
      await page.goto(`${base}/verify?lang=${lang}`);
      await accessible(page, `verify form (${lang})`);
      await shot(page, `verify-form-${width}-${lang}`);
      // The picker speaks the page's language, and names the file once chosen.
      assert((await page.locator('#document-chosen').textContent()).includes(lang === 'en' ? 'No file chosen' : '未選擇檔案'), `picker in ${lang}`);
      await page.locator('#document').setInputFiles(file);
      assert((await page.locator('#document-chosen').textContent()) === 'signed-application.pdf', 'the chosen file is named');
      await page.locator('.verify-form button[type=submit]').click();
      await page.locator('#verdict').waitFor({ timeout: 15_000 });
      assert(await page.locator('#verdict.verdict-valid').count() === 1, `valid (${lang}): ${await page.locator('#verdict').textContent()}`);
      const text = await page.locator('.verify-result').textContent();
      assert(text.includes(name), `the signer is named (${lang})`);
      assert(text.includes(lang === 'en' ? 'Unchanged since' : '其後沒有更改'), `in ${lang}`);
      await accessible(page, `verify result (${lang})`);
      await shot(page, `verify-result-${width}-${lang}`);
      await page.locator('#document').setInputFiles(notPdf);
      await page.locator('.verify-form button[type=submit]').click();
      await page.locator('#verify-error').waitFor({ timeout: 15_000 });
      assert((await page.locator('#verify-error').textContent()).includes(lang === 'en' ? 'not a PDF' : '不是 PDF'), 'a clear error');
      await accessible(page, `verify error (${lang})`);
      await ctx.close();
    }
  });

  // ---- notifications (issue 8): opt in, the demo service notifies, the resident reads ----
  await test('notifications: opt in on the account pages, the service notifies on submission, the inbox reads it', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await toLogin(page);
    await answerInApp(page, home);
    const consentForm = page.locator('#consent-form');
    const form = page.locator('#application-form');
    await Promise.race([consentForm.waitFor({ timeout: 15_000 }), form.waitFor({ timeout: 15_000 })]);
    if (await consentForm.count()) await page.locator('#allow').click();
    await form.waitFor({ timeout: 15_000 });
    // The resident turns on notifications from the demo service (a form: no JavaScript needed).
    await page.goto(`${base}/account/notifications/settings`);
    const setting = page.locator('.notify-setting', { hasText: 'International Driving Permit' });
    await setting.waitFor({ timeout: 15_000 });
    await accessible(page, 'notification settings');
    await shot(page, 'notify-settings-desktop-en');
    await setting.locator('button', { hasText: 'Turn on' }).click();
    await setting.locator('.switch-state.on').waitFor({ timeout: 15_000 });
    // Submitting the application makes the service send "application received".
    await page.goto(`${service}/form`);
    await page.locator('#licence').fill('DL1234567');
    await page.locator('#submit-application').click();
    await page.waitForURL(/\/signing/, { timeout: 15_000 });
    // The inbox: unread, marked in words, counted in the navigation.
    await page.goto(`${base}/account/notifications`);
    const item = page.locator('.notification.unread').first();
    await item.waitFor({ timeout: 15_000 });
    assert((await item.locator('.unread-mark').textContent()).includes('Unread'), 'unread said in words');
    assert((await page.locator('#nav-notifications').textContent()).includes('1 unread'), 'the unread count in the navigation');
    await accessible(page, 'notifications inbox');
    await shot(page, 'notifications-desktop-en');
    await page.setViewportSize(PHONE);
    await shot(page, 'notifications-phone-en');
    await page.setViewportSize(DESKTOP);
    // Opening it reads it.
    await item.locator('a').click();
    await page.locator('.notification-body').waitFor({ timeout: 15_000 });
    assert((await page.locator('h1').textContent()).includes('Your application was received'), 'the title');
    assert((await page.locator('.notification-body').textContent()).includes('International Driving Permit'), 'the body');
    await accessible(page, 'one notification');
    await shot(page, 'notification-desktop-en');
    // In Chinese, at phone and desktop widths.
    await page.goto(`${page.url()}?lang=zh-HK`);
    assert((await page.locator('h1').textContent()).includes('已收到你的申請'), 'the Chinese title');
    await accessible(page, 'one notification (zh)');
    await page.setViewportSize(PHONE);
    await shot(page, 'notification-phone-zh');
    await page.goto(`${base}/account/notifications`);
    assert(await page.locator('.notification.unread').count() === 0, 'read once opened');
    await accessible(page, 'notifications inbox (zh)');
    await shot(page, 'notifications-phone-zh');
    await page.setViewportSize(DESKTOP);
    await shot(page, 'notifications-desktop-zh');
    await page.goto(`${base}/account/notifications/settings`);
    await accessible(page, 'notification settings (zh)');
    await shot(page, 'notify-settings-desktop-zh');
    await page.setViewportSize(PHONE);
    await shot(page, 'notify-settings-phone-zh');
    // The app has it too.
    const inApp = app(home, ['notifications', '--json']);
    assert(inApp.notifications.some((n) => n.title.en === 'Your application was received'), 'in the app');
    await ctx.close();
  });
  // ---- end of notifications ----

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
  // --- the portal: browsing, search, favourites, one-tap entry ------------------------------
  await test('portal: home, search in both languages, a theme and a service, at phone and desktop widths', async () => {
    const ask = { en: ['renew my ID card', 'immd-id-card-replacement'], zh: ['申請公屋', 'ha-public-rental-housing-application'] };
    for (const [lang, locale] of [['en', 'en-GB'], ['zh', 'zh-HK']]) {
      for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
        const ctx = await context(viewport, locale);
        const page = await ctx.newPage();
        await page.goto(`${base}/`);
        assert((await page.locator('html').getAttribute('lang')) === (lang === 'en' ? 'en' : 'zh-HK'), `portal in ${lang}`);
        assert(await page.locator('#weather-h').count() === 1, 'the weather on the home page');
        await accessible(page, `portal home (${lang}, ${size})`);
        await shot(page, `portal-home-${size}-${lang}`);
        const [question, expected] = ask[lang];
        await page.locator('#q').fill(question);
        await page.locator('.searchbox button').click();
        await page.waitForURL(/\/services\?q=/);
        const top = await page.locator('.cards .card h3 a').evaluateAll((as) => as.slice(0, 3).map((a) => a.getAttribute('href')));
        assert(top.includes(`/services/${expected}`), `${question}: ${expected} in the top 3 of ${top}`);
        await accessible(page, `search results (${lang}, ${size})`);
        await shot(page, `portal-search-${size}-${lang}`);
        await page.locator(`.cards a[href="/services/${expected}"]`).click();
        await page.locator('#go').waitFor();
        await accessible(page, `service page (${lang}, ${size})`);
        await shot(page, `portal-service-${size}-${lang}`);
        await page.goto(`${base}/`);
        await page.locator('a[href="/topics/theme/education"]').click();
        await page.locator('.cards .card').first().waitFor();
        assert(await page.locator('.cards .card').count() >= 3, 'the education cluster lists services');
        await accessible(page, `education cluster (${lang}, ${size})`);
        await shot(page, `portal-theme-${size}-${lang}`);
        await ctx.close();
      }
    }
    // Large text, keyboard only: the search box is reachable and works with Enter.
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    await page.goto(`${base}/?text=large`);
    await page.locator('body.large').waitFor();
    await shot(page, 'portal-home-phone-en-large');
    for (let i = 0; i < 12 && !(await page.evaluate(() => document.activeElement && document.activeElement.id === 'q')); i += 1) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.type('ID card');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/services\?q=ID/);
    assert(await page.locator('.cards .card').count() > 0, 'keyboard search found services');
    await ctx.close();
  });

  await test('portal: a signed-in resident keeps favourites and enters a service with one tap', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await page.goto(`${base}/account`);
    await page.locator('#qr-payload').waitFor();
    await answerInApp(page, home);
    await page.locator('#resident-name').waitFor({ timeout: 15_000 });
    // The application signed in the digital signing test is listed, with its hash.
    await page.goto(`${base}/account/signatures`);
    assert(await page.getByText('International Driving Permit').count() > 0, 'the signed application is listed');
    assert(await page.locator('code.digest').count() > 0, 'with its SHA-256');
    await accessible(page, 'signatures page');
    await shot(page, 'account-signatures-desktop-en');
    await page.setViewportSize(PHONE);
    await shot(page, 'account-signatures-phone-en');
    await page.setViewportSize(DESKTOP);
    await page.goto(`${base}/`);
    await page.locator('#no-favourites').waitFor();
    await page.goto(`${base}/services/td-international-driving-permit`);
    await page.locator('#favourite').click();
    await page.waitForURL(/\/services\/td-international-driving-permit$/);
    await page.goto(`${base}/`);
    assert(await page.locator('#fav-h ~ .cards a[href="/services/td-international-driving-permit"]').count() === 1, 'the favourite is on the home page');
    assert(await page.locator('#notes-h').count() === 1, 'notifications on the home page');
    await accessible(page, 'portal home, signed in');
    await shot(page, 'portal-home-signed-in-desktop-en');
    await page.locator('#fav-h ~ .cards a[href="/services/td-international-driving-permit"]').click();
    await page.locator('#go').click();
    // Signed in already, consent given in the first journey: straight into the service.
    await page.locator('#application-form').waitFor({ timeout: 15_000 });
    assert((await page.locator('#applicant-name').inputValue()) === name, 'one tap: in the service, form filled');
    await ctx.close();
  });

  // ---- public information (/public): the demo's bundled samples, both languages, phone and desktop ----
  await test('public information: weather, warnings, traffic, food alerts and press releases, both languages', async () => {
    for (const [lang, locale] of [['en', 'en-GB'], ['zh', 'zh-HK']]) {
      for (const [width, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
        const ctx = await context(viewport, locale);
        const page = await ctx.newPage();
        // The demo's fetchers store the samples just after start: wait for the last section.
        let ready = false;
        for (let i = 0; i < 50 && !ready; i++) {
          await page.goto(`${base}/public`);
          ready = await page.locator('#press-releases .news-list').count() === 1
            && await page.locator('#weather-now .temperature').count() === 1;
          if (!ready) await page.waitForTimeout(200);
        }
        assert(ready, `public information (${lang}) shows every feed`);
        const html = await page.content();
        assert(await page.locator('#sample-data').count() === 1, 'the page says it shows sample data');
        assert(html.includes(lang === 'en' ? 'Public information' : '公共資訊'), `the title in ${lang}`);
        assert(await page.locator('#warnings.in-force li').count() >= 1, 'warnings in force, prominent');
        assert(await page.locator('#nine-day .day').count() === 9, 'nine days');
        assert(await page.locator('.as-of .data-time').count() >= 7, 'every section has the time of its data');
        await accessible(page, `public information (${lang}, ${width})`);
        await shot(page, `public-info-${width}-${lang}`);
        await ctx.close();
      }
    }
  });
  // ---- the catalogue's admin pages (issue 8): an editor created by the operator enrols a passkey, ----
  // ---- signs in, edits a service, and the portal's search finds the new name at once; removal;     ----
  // ---- axe-core on every state; screenshots at both widths in both languages                        ----
  await test('catalogue admin: an editor enrols a passkey, edits and removes services, the portal follows at once', async () => {
    const operator = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
    const made = await fetch(`${base}/admin/v1/staff`, {
      method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ display_name: 'Editor Chan', role: 'editor' }),
    });
    assert(made.status === 201, `the operator creates an editor: ${made.status}`);
    const editor = await made.json();
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    const listed = () => page.locator('.admin-service').first().waitFor({ timeout: 15_000 });
    const search = async (q) => {
      const p = await ctx.newPage();
      await p.goto(`${base}/services?q=${encodeURIComponent(q)}`);
      const ids = await p.locator('.card h3 a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      await p.close();
      return ids;
    };
    await page.goto(`${base}/admin/catalogue?lang=en`);
    await page.locator('#staff-signin').waitFor();
    await page.locator('#first-time summary').click();
    await accessible(page, 'catalogue admin: sign in (en)');
    await shot(page, 'admin-signin-desktop-en');
    // Enrol with the operator's code: the passkey is made and the editor is signed in.
    await page.fill('#enrol-id', editor.id);
    await page.fill('#enrol-code', editor.enrolment_code);
    await page.locator('#staff-enrol').click();
    await listed();
    assert(await page.locator('.admin-service').count() >= 100, 'every service is listed');
    assert((await page.locator('#staff-who').textContent()).includes('editor'), 'the role is shown');
    // Sign out, then in again with the passkey alone.
    await page.locator('#sign-out').click();
    await page.locator('#staff-signin').click();
    await listed();
    await page.fill('#filter', 'rates concession');
    assert(await page.locator('li[data-id="rvd-rates-concession"]').count() === 1, 'the filter finds the service');
    assert(await page.locator('.admin-service').count() < 10, 'the filter leaves few');
    assert((await page.locator('#filter-count').textContent()).includes('of'), 'the count is said');
    await accessible(page, 'catalogue admin: list (en)');
    await shot(page, 'admin-list-desktop-en');
    // Edit: every field is there, both languages side by side.
    await page.locator('li[data-id="rvd-rates-concession"] button.edit').click();
    await page.locator('#form-view').waitFor();
    assert((await page.inputValue('#f-name-zh')) === '申請差餉寬減', 'the Chinese name is in the form');
    assert(await page.locator('#f-id').getAttribute('readonly') !== null, 'the id cannot be changed');
    assert(await page.locator('input[name="themes"]:checked').count() === 2, 'its themes are ticked');
    await accessible(page, 'catalogue admin: edit form (en)');
    await shot(page, 'admin-edit-desktop-en');
    // A refused edit names the field, next to it, and keeps what was typed.
    await page.fill('#f-name-en', 'Kangaroo rates rebate');
    await page.fill('#f-url', 'javascript:alert(1)');
    await page.locator('#save-service').click();
    await page.locator('#err-url').waitFor({ timeout: 15_000 });
    assert((await page.locator('#err-url').textContent()).includes('https'), 'the error says what is wrong');
    assert((await page.locator('#form-error').textContent()).includes('URL'), 'the summary names the field');
    assert(await page.locator('#f-url').getAttribute('aria-invalid') === 'true', 'the field is marked');
    assert((await page.inputValue('#f-name-en')) === 'Kangaroo rates rebate', 'what was typed stays');
    await accessible(page, 'catalogue admin: refused edit (en)');
    await shot(page, 'admin-edit-error-desktop-en');
    // Corrected and saved: a clear message, and the portal's search finds the new name at once.
    await page.fill('#f-url', 'https://www.rvd.gov.hk/');
    await page.locator('#save-service').click();
    await page.locator('#status-link').waitFor({ timeout: 15_000 });
    assert((await page.locator('#status').textContent()).includes('Saved “Kangaroo rates rebate”'), 'saved message');
    assert((await search('kangaroo'))[0] === '/services/rvd-rates-concession', 'the portal finds the new name');
    assert((await page.locator('li[data-id="rvd-rates-concession"] h3').textContent()) === 'Kangaroo rates rebate',
      'the list shows the service as saved');
    await accessible(page, 'catalogue admin: saved (en)');
    await shot(page, 'admin-saved-desktop-en');
    // Remove, after a confirmation (cancel first).
    await page.fill('#filter', 'r23b');
    await page.locator('li[data-id="rvd-objection-deletion-r23b"] button.remove').click();
    await page.locator('#remove-dialog[open]').waitFor();
    await accessible(page, 'catalogue admin: remove confirmation');
    await shot(page, 'admin-remove-desktop-en');
    await page.locator('#remove-cancel').click();
    assert(await page.locator('li[data-id="rvd-objection-deletion-r23b"]').count() === 1, 'cancel keeps it');
    await page.locator('li[data-id="rvd-objection-deletion-r23b"] button.remove').click();
    await page.locator('#remove-confirm').click();
    await page.locator('li[data-id="rvd-objection-deletion-r23b"]').waitFor({ state: 'detached', timeout: 15_000 });
    assert((await page.locator('#status').textContent()).includes('Removed'), 'removal message');
    assert(!(await search('e-R23B')).includes('/services/rvd-objection-deletion-r23b'), 'gone from the portal');
    // Add a service: refused without a Chinese name (named), then added and searchable.
    await page.locator('#add-service').click();
    await page.locator('#form-view').waitFor();
    await page.fill('#f-id', 'zz-wallaby-parking');
    for (const [f, en, zh] of [['name', 'Wallaby parking permit', ''], ['department', 'Transport Department', '運輸署'],
      ['description', 'Apply for a permit to park a wallaby.', '申請小袋鼠泊車許可證。'],
      ['audience', 'Wallaby owners', '小袋鼠主人'], ['fees', 'Free', '免費']]) {
      await page.fill(`#f-${f}-en`, en);
      await page.fill(`#f-${f}-zh`, zh);
    }
    await page.fill('#f-url', 'https://www.td.gov.hk/');
    await page.locator('input[name="themes"][value="transport"]').check();
    await page.locator('#save-service').click();
    await page.locator('#err-name').waitFor({ timeout: 15_000 });
    assert((await page.locator('#err-name').textContent()).includes('Chinese'), 'the missing Chinese name is named');
    await page.fill('#f-name-zh', '小袋鼠泊車許可證');
    await page.locator('#save-service').click();
    await page.locator('#status-link').waitFor({ timeout: 15_000 });
    assert((await page.locator('#status').textContent()).includes('Added'), 'added message');
    assert((await search('wallaby'))[0] === '/services/zz-wallaby-parking', 'the portal finds the new service');
    // Both languages at both widths; the session stays through the language switch.
    for (const [lang, q] of [['zh-HK', '差餉'], ['en', 'rates']]) {
      for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
        await page.setViewportSize(viewport);
        await page.goto(`${base}/admin/catalogue?lang=${lang}`);
        await listed();
        const l = lang === 'en' ? 'en' : 'zh';
        assert((await page.locator('h1').textContent()).includes(l === 'en' ? 'Service catalogue' : '服務目錄'), `title in ${l}`);
        await page.fill('#filter', q);
        await accessible(page, `catalogue admin: list (${l}, ${size})`);
        await shot(page, `admin-list-${size}-${l}`);
        await page.locator('li[data-id="rvd-rates-concession"] button.edit').click();
        await page.locator('#form-view').waitFor();
        await accessible(page, `catalogue admin: edit form (${l}, ${size})`);
        await shot(page, `admin-edit-${size}-${l}`);
      }
    }
    await page.locator('#sign-out').click();
    await page.locator('#first-time summary').click();
    await accessible(page, 'catalogue admin: sign in (en, phone)');
    await shot(page, 'admin-signin-phone-en');
    await page.goto(`${base}/admin/catalogue?lang=zh-HK`);
    await page.locator('#staff-signin').waitFor();
    await accessible(page, 'catalogue admin: sign in (zh, phone)');
    await shot(page, 'admin-signin-phone-zh');
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    await ctx.close();
  });
  // ---- end of the catalogue's admin pages ----

  await test('every page a resident reads, in English, Traditional and Simplified Chinese, at phone and desktop width', async () => {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    // The service's start page is the service's own (English and Traditional Chinese).
    for (const locale of ['zh-HK']) {
      const c = await context(PHONE, locale);
      const p = await c.newPage();
      await p.goto(service);
      await accessible(p, `service start page (${locale})`);
      await shot(p, 'service-start-phone-zh');
      await c.close();
    }
    // The login page, then consent (a service asking for more), then the error page.
    await page.goto(`${service}/login?more=1`);
    await page.locator('#qr-payload').waitFor();
    await everyLanguage(page, 'tour-login');
    // Simplified Chinese at the login: the service's own name is shown, converted.
    await page.locator('header .prefs a[hreflang="zh-Hans"]').click();
    await page.locator('html[lang="zh-Hans"]').waitFor();
    assert((await page.locator('main').textContent()).includes('网上申请国际驾驶许可证'), 'the service name in Simplified Chinese');
    await page.locator('header .prefs a[hreflang="en"]').click();
    await page.locator('html[lang="en"]').waitFor();
    await page.goto(`${service}/login?more=1`);
    await page.locator('#qr-payload').waitFor();
    await answerInApp(page, home);
    await page.locator('#consent-form').waitFor({ timeout: 15_000 });
    await everyLanguage(page, 'tour-consent');
    // What the service receives is shown exactly as it will be sent, in every language.
    await page.locator('header .prefs a[hreflang="zh-Hans"]').click();
    await page.locator('html[lang="zh-Hans"]').waitFor();
    const values = (await page.locator('.value').allTextContents()).join(' ');
    assert(values.includes(me.verified.name_zh), `the Chinese name as recorded: ${values}`);
    await page.locator('#cancel').click();
    await page.locator('#service-error').waitFor({ timeout: 15_000 });
    await shot(page, 'service-denied-desktop-zh-hans');
    await page.goto(`${base}/authorize?client_id=nobody&response_type=code`);
    await everyLanguage(page, 'tour-error');
    await page.goto(`${base}/?lang=en`);
    // The account pages (signed in already by the logins above, else once more).
    await page.goto(`${base}/account`);
    await Promise.race([page.locator('#qr-payload').waitFor(), page.locator('#resident-name').waitFor()]);
    if (await page.locator('#qr-payload').count()) await answerInApp(page, home);
    await page.locator('#resident-name').waitFor({ timeout: 15_000 });
    for (const [path, name] of [
      ['/account', 'account'], ['/account/passkeys', 'passkeys'], ['/account/consents', 'consents'],
      ['/account/dealings', 'dealings'], ['/account/notifications', 'notifications'],
      ['/account/notifications/settings', 'notify-settings'], ['/account/signatures', 'signatures'],
      ['/logout', 'logout-confirm'], ['/', 'portal-home'], ['/services?q=driving', 'portal-search'],
      ['/services/td-international-driving-permit', 'portal-service'], ['/topics/theme/education', 'portal-theme'],
      ['/public', 'public-info'], ['/verify', 'verify-form'],
    ]) {
      await page.goto(`${base}${path}`);
      await everyLanguage(page, `tour-${name}`);
    }
    // The resident's name is the name on the card, in every script.
    await page.goto(`${base}/account?lang=zh-Hans`);
    assert((await page.locator('#resident-name').textContent()).includes(me.verified.name_zh), 'the name as recorded');
    await page.goto(`${base}/account?lang=en`);
    await ctx.close();
  });
} catch (e) {
  results.push({ name: 'setup', ok: false, error: e });
  console.log(`FAIL setup: ${e.stack || e}`);
} finally {
  await browser.close();
}
finish(demo, 'server.log');
