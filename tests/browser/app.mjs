// End-to-end tests of the resident's web app (/app/) in Debian's Chromium at phone size with
// touch: activation with the demo's one-time code and a passkey (the CDP virtual authenticator,
// user verification on and off), login approval by scanning the login page's QR code with the
// camera (Chromium's fake camera fed with a video of that QR code), the same-phone hand-over
// and back, denial and a phishing page's other match code, e-ME with an optional field left
// out, CIBA, a data consent and a PDF signature pushed by the service, notifications, consents
// and dealings, the profile, a second phone with a PIN that removes the first, the phone as a
// witness of the transparency log (a log cut short raises the alarm), bad input (a QR
// code that is not ours, an expired or answered request, a lost network mid-approval), both
// languages, large text, keyboard only, and axe-core on every screen.
//
//   node tests/browser/app.mjs        (scripts/test runs it after building the binaries)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import QRCode from 'qrcode';
import {
  root, PHONE, DESKTOP, startDemo, test, assert, accessible, shot, launch, finish, results, iamsmart, resetShots, onFailure,
} from './lib.mjs';
import { writeY4m } from './camera.mjs';

resetShots();
const demo = await startDemo('app');
const { base, service, dir } = demo;
const adminToken = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
const activation = demo.log.match(/ACTIVATE THE APP\s+(\S+)/);
const camera = join(dir, 'camera.y4m');
writeY4m(camera, await QRCode.toBuffer('nothing yet', { margin: 4, scale: 8 }));
const browser = await launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  `--use-file-for-fake-video-capture=${camera}`]);

/** A phone: a mobile-sized context with touch (and, with `passkey`, a virtual authenticator). */
async function phone(locale = 'en-GB', passkey = true) {
  const ctx = await browser.newContext({
    viewport: PHONE, locale, deviceScaleFactor: 1, isMobile: true, hasTouch: true, bypassCSP: true,
    permissions: ['camera'],
  });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
  const p = { ctx, page };
  if (passkey) {
    p.cdp = await ctx.newCDPSession(page);
    await p.cdp.send('WebAuthn.enable');
    p.authenticator = (await p.cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
        isUserVerified: true, automaticPresenceSimulation: true },
    })).authenticatorId;
  }
  return p;
}

async function desktop(locale = 'en-GB') {
  const ctx = await browser.newContext({ viewport: DESKTOP, locale, deviceScaleFactor: 1, bypassCSP: true });
  return { ctx, page: await ctx.newPage() };
}

/**
 * Switch the app on `page` to a language (its button `#lang-<id>`, the page then `lang=<code>`),
 * then axe-core and a screenshot of the home screen (its scan button saying `scanText`) and of
 * each main screen, named `app-<screen>-phone-<suffix>`.
 */
async function everyScreenIn(page, id, code, scanText, suffix) {
  await page.locator(`#lang-${id}`).click();
  await page.locator(`html[lang="${code}"]`).waitFor();
  await page.locator('#scan-button', { hasText: scanText }).waitFor({ timeout: 15_000 });
  await accessible(page, `app home (${code})`);
  await shot(page, `app-home-phone-${suffix}`);
  for (const [hash, name] of [['/profile', 'profile'], ['/consents', 'consents'], ['/devices', 'devices'], ['/inbox', 'inbox'], ['/me', 'me']]) {
    await route(page, hash);
    await page.waitForTimeout(300);
    await accessible(page, `app ${name} (${code})`);
    await shot(page, `app-${name}-phone-${suffix}`);
  }
}

/** Unlock the app if it shows its lock screen (passkey or PIN). */
async function unlockIfLocked(page, pin) {
  const which = await Promise.race([
    page.locator('#unlock').waitFor({ timeout: 15_000 }).then(() => 'locked'),
    page.locator('#screen-title').waitFor({ timeout: 15_000 }).then(() => 'open'),
  ]);
  if (which === 'locked' || (await page.locator('#unlock').count())) {
    await page.locator('#unlock').click();
    if (pin) {
      await page.locator('#pin-input').fill(pin);
      await page.locator('.pin-form button[type=submit]').click();
    }
    await page.locator('#unlock').waitFor({ state: 'detached', timeout: 15_000 });
  }
}

/** Go to an app route (unlocking when asked). */
async function route(page, hash, pin) {
  await page.goto(`${base}/app/#${hash}`);
  await page.locator('#screen-title').waitFor({ timeout: 15_000 });
  await unlockIfLocked(page, pin);
}

/** Show `png` to the phone's camera and scan it; resolves when the app moved on. */
async function scan(page, png) {
  writeY4m(camera, png);
  await page.goto(`${base}/app/#/scan`);
  await unlockIfLocked(page);
  if (!page.url().endsWith('#/scan')) await page.goto(`${base}/app/#/scan`);
}

/** The service's start page -> its login page (QR code and match code). */
async function toLogin(page) {
  await page.goto(service);
  await page.locator('#login-with-iamsmart').click();
  await page.locator('#qr-payload').waitFor();
}

async function qrOfLoginPage(page) {
  return page.locator('.qr svg').screenshot();
}

/** Sign in to the service on `page` by scanning its QR code with the phone. */
async function signInByScan(page, ph) {
  await toLogin(page);
  await scan(ph.page, await qrOfLoginPage(page));
  await ph.page.locator('#approve').click({ timeout: 20_000 });
  await ph.page.locator('#result').waitFor({ timeout: 15_000 });
  const consentForm = page.locator('#consent-form');
  const form = page.locator('#application-form');
  await Promise.race([consentForm.waitFor({ timeout: 20_000 }), form.waitFor({ timeout: 20_000 })]);
  if (await consentForm.count()) await page.locator('#allow').click();
  await form.waitFor({ timeout: 15_000 });
}

async function admin(path, body) {
  const r = await fetch(`${base}${path}`, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** A service registered for this test, with a secret, e-ME and CIBA (public subjects). */
function registerService() {
  const out = iamsmart(demo, ['clients', 'create', '--name', 'Registration of Electors', '--profile', 'basic',
    '--redirect-uri', 'http://localhost/cb', '--ciba', 'poll', '--public-subject']);
  return JSON.parse(out);
}

async function clientCall(client, path, form) {
  const auth = Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64');
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

function claimsOf(jws) {
  return JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8'));
}

let phoneA;
let residentName;
let failures = 0;
onFailure(async () => {
  failures += 1;
  for (const [i, ctx] of browser.contexts().entries()) {
    for (const [j, page] of ctx.pages().entries()) await shot(page, `failed-${failures}-${i}-${j}`);
  }
});

try {
  assert(activation, `the demo prints the app's activation link:\n${demo.log}`);

  await test('app: welcome, activation with the demo\'s code and a passkey, home; installable (manifest, service worker)', async () => {
    phoneA = await phone();
    const { page } = phoneA;
    await page.goto(`${base}/app/`);
    await page.locator('#start-activate').waitFor();
    await accessible(page, 'app welcome');
    await shot(page, 'app-welcome-phone-en');
    await page.goto(activation[1]);
    await page.locator('#activate-next').waitFor();
    assert((await page.locator('#code').inputValue()).length >= 12, 'the code from the link is filled in');
    await accessible(page, 'app activation');
    await shot(page, 'app-activate-phone-en');
    await page.locator('#device-name').fill('Test phone A');
    await page.locator('#activate-next').click();
    await page.locator('#set-up').waitFor();
    await accessible(page, 'app protection choice');
    await shot(page, 'app-protect-phone-en');
    await page.locator('#set-up').click();
    await page.locator('#go-home').waitFor({ timeout: 20_000 });
    await accessible(page, 'app ready');
    await shot(page, 'app-ready-phone-en');
    await page.locator('#go-home').click();
    await page.locator('#scan-button').waitFor({ timeout: 15_000 });
    residentName = (await page.locator('#screen-title').textContent()).replace(/^Hello, /, '');
    assert(residentName.length > 3, 'the resident is greeted by name');
    assert((await page.locator('#level').textContent()).includes('iAM Smart+'), 'iAM Smart+');
    await accessible(page, 'app home');
    await shot(page, 'app-home-phone-en');
    // The code works once.
    const again = await phone('en-GB', false);
    await again.page.goto(`${base}/app/#/activate`);
    await again.page.locator('#code').fill(decodeURIComponent(activation[1].split('code=')[1]).toLowerCase());
    await again.page.locator('#activate-next').click();
    await again.page.locator('#uv-pin').check();
    await again.page.locator('#pin1').fill('135790');
    await again.page.locator('#pin2').fill('135790');
    await again.page.locator('#set-up').click();
    await again.page.locator('.error-box').waitFor({ timeout: 15_000 });
    assert((await again.page.locator('.error-box').textContent()).includes('not valid'), 'a used code is refused');
    await again.ctx.close();
    // Installable: a manifest with icons, a service worker that keeps only the app shell.
    const manifest = await (await fetch(`${base}/app/manifest.webmanifest`)).json();
    assert(manifest.start_url === '/app/' && manifest.icons.some((i) => i.sizes === '512x512'), 'manifest');
    const cached = await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      const out = [];
      for (const k of await caches.keys()) for (const r of await (await caches.open(k)).keys()) out.push(new URL(r.url).pathname);
      return out;
    });
    assert(cached.includes('/app/static/main.js'), `the shell is cached: ${cached}`);
    assert(!cached.some((u) => u.startsWith('/app/v1/')), `no API answer is cached: ${cached}`);
    const stored = await page.evaluate(() => JSON.stringify(localStorage));
    assert(!stored.includes(residentName.split(',')[0]) && !/[A-Z]\d{6}/.test(stored), `nothing personal in localStorage: ${stored}`);
  });

  await test('app: login approval by scanning the login page\'s QR code; the match code is the page\'s', async () => {
    const pc = await desktop();
    const { page } = pc;
    await toLogin(page);
    const shown = (await page.locator('#match-code').textContent()).trim();
    await scan(phoneA.page, await qrOfLoginPage(page));
    const ph = phoneA.page;
    await ph.locator('#approve').waitFor({ timeout: 20_000 });
    assert((await ph.locator('#match-code').textContent()).trim() === shown, 'the same match code on the phone and the page');
    assert((await ph.locator('#service-name').textContent()).includes('International Driving Permit'), 'the service is named');
    await accessible(ph, 'app login request');
    await shot(ph, 'app-request-login-phone-en');
    await ph.locator('#approve').click();
    await ph.locator('#result').waitFor({ timeout: 15_000 });
    await accessible(ph, 'app approved');
    await shot(ph, 'app-approved-phone-en');
    await page.locator('#consent-form').waitFor({ timeout: 20_000 });
    await page.locator('#allow').click();
    await page.locator('#application-form').waitFor({ timeout: 15_000 });
    assert((await page.locator('#applicant-name').inputValue()) === residentName, 'signed in as the app\'s resident');
    await pc.ctx.close();
  });

  await test('app: on the same phone, "Open iAM Smart" lands in the app and comes back to the browser', async () => {
    const { page } = phoneA;
    await toLogin(page);
    const shown = (await page.locator('#match-code').textContent()).trim();
    await page.locator('#open-app').click();
    await unlockIfLocked(page);
    await page.locator('#approve').waitFor({ timeout: 15_000 });
    assert((await page.locator('#match-code').textContent()).trim() === shown, 'same match code');
    await page.locator('#approve').click();
    await page.locator('#result').waitFor({ timeout: 15_000 });
    await page.waitForURL((u) => !u.pathname.startsWith('/app/'), { timeout: 15_000 });
    await page.locator('#application-form').waitFor({ timeout: 15_000 });
    assert((await page.locator('#applicant-name').inputValue()) === residentName, 'back at the service, signed in');
  });

  await test('app: a phishing page shows another match code; the resident denies and the service is told', async () => {
    const real = await desktop();
    const phish = await desktop();
    await toLogin(real.page);
    await toLogin(phish.page);
    const realCode = (await real.page.locator('#match-code').textContent()).trim();
    const phishCode = (await phish.page.locator('#match-code').textContent()).trim();
    // The phishing page relays the real page's QR code, but cannot show its match code.
    await scan(phoneA.page, await qrOfLoginPage(real.page));
    const ph = phoneA.page;
    await ph.locator('#deny').waitFor({ timeout: 20_000 });
    const inApp = (await ph.locator('#match-code').textContent()).trim();
    assert(inApp === realCode, 'the app shows the code of the request it opened');
    if (realCode !== phishCode) assert(inApp !== phishCode, 'which differs from the phishing page\'s');
    await ph.locator('#deny').click();
    await ph.locator('#result').waitFor({ timeout: 15_000 });
    assert((await ph.locator('#screen-title').textContent()).includes('Denied'), 'denied');
    await real.page.locator('#service-error').waitFor({ timeout: 20_000 });
    await shot(ph, 'app-denied-phone-en');
    await real.ctx.close();
    await phish.ctx.close();
  });

  let client;
  let sub;
  await test('app: e-ME by scanning a service\'s QR code, with an optional field left out', async () => {
    client = registerService();
    const tok = await (await clientCall(client, '/token', { grant_type: 'client_credentials', scope: 'eme' })).json();
    assert(tok.access_token, `token: ${JSON.stringify(tok)}`);
    const r = await fetch(`${base}/eme/v1/requests`, {
      method: 'POST', headers: { authorization: `Bearer ${tok.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ form: { name: 'Voter registration', number: 'REO-1' }, fields: ['name_en', 'hkid', 'mobile', 'email'], optional_fields: ['mobile', 'email'] }),
    });
    const req = await r.json();
    assert(r.status === 201, `e-ME request: ${JSON.stringify(req)}`);
    await scan(phoneA.page, await QRCode.toBuffer(req.qr, { margin: 4, scale: 8 }));
    const ph = phoneA.page;
    await ph.locator('#f-email').waitFor({ timeout: 20_000 });
    assert((await ph.locator('#match-code').textContent()).trim() === req.match_code, 'the match code');
    assert(await ph.locator('#f-name_en').isDisabled(), 'a needed field cannot be left out');
    await ph.locator('#f-email').uncheck();
    await accessible(ph, 'app e-ME request');
    await shot(ph, 'app-request-eme-phone-en');
    await ph.locator('#approve').click();
    await ph.locator('#result').waitFor({ timeout: 15_000 });
    let out;
    for (let i = 0; i < 20; i += 1) {
      out = await (await fetch(`${base}/eme/v1/requests/${req.request_id}`, { headers: { authorization: `Bearer ${tok.access_token}` } })).json();
      if (out.status === 'approved') break;
      await new Promise((ok) => setTimeout(ok, 300));
    }
    assert(out.status === 'approved', `approved: ${JSON.stringify(out)}`);
    assert(JSON.stringify(out.fields) === JSON.stringify(['name_en', 'hkid', 'mobile']), `fields without email: ${out.fields}`);
    const claims = claimsOf(out.data);
    assert(claims.eme.name === residentName && !('email' in claims.eme), `released data: ${JSON.stringify(claims.eme)}`);
    sub = claims.sub;
  });

  await test('app: a CIBA sign-in from a counter appears on the home screen with its message', async () => {
    const r = await clientCall(client, '/bc-authorize', { scope: 'openid', login_hint: sub, binding_message: 'Counter 7, Wan Chai' });
    const started = await r.json();
    assert(r.ok, `bc-authorize: ${JSON.stringify(started)}`);
    const ph = phoneA.page;
    await route(ph, '/home');
    const card = ph.locator('#pending .card', { hasText: 'Registration of Electors' });
    await card.waitFor({ timeout: 15_000 });
    await shot(ph, 'app-home-pending-phone-en');
    await card.locator('a').click();
    await ph.locator('#binding-message').waitFor({ timeout: 15_000 });
    assert((await ph.locator('#binding-message').textContent()) === 'Counter 7, Wan Chai', 'the binding message');
    await ph.locator('#approve').click();
    await ph.locator('#result').waitFor({ timeout: 15_000 });
    const tok = await (await clientCall(client, '/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: started.auth_req_id })).json();
    assert(tok.id_token && claimsOf(tok.id_token).sub === sub, `CIBA token: ${JSON.stringify(tok)}`);
  });

  await test('app: user verification off is refused by the platform (through the app and by a tampered call)', async () => {
    const ph = phoneA.page;
    await route(ph, '/home');
    const made = await admin('/admin/v1/approvals', { resident_id: null, kind: 'login', client_name: 'Sandbox service' });
    await phoneA.cdp.send('WebAuthn.setUserVerified', { authenticatorId: phoneA.authenticator, isUserVerified: false });
    // Through the app: the browser or the platform refuses; the request stays unanswered.
    await route(ph, `/request/${made.id}`);
    await ph.locator('#approve').click();
    await ph.locator('#request-error .error-box').waitFor({ timeout: 15_000 });
    assert((await admin(`/admin/v1/approvals/${made.id}`)).status !== 'approved', 'not approved without user verification');
    // A tampered app that asks the passkey for presence only: the platform refuses the assertion.
    const refused = await ph.evaluate(async (id) => {
      const api = await import('/app/static/api.js');
      const store = await import('/app/static/store.js');
      const uv = await import('/app/static/uv.js');
      const { b64u, fromB64u } = await import('/app/static/der.js');
      const device = await store.load();
      const view = await api.call(device, 'GET', `/app/v1/requests/${id}`);
      const claims = { rid: view.id, challenge: view.challenge, match_code: view.match_code, decision: 'approve', agreed: { fields: [] }, iat: Math.floor(Date.now() / 1000) };
      const signed = await api.signJws(device.key.privateKey, 'iamsmart-approval+jwt', device.deviceId, claims);
      const cred = await navigator.credentials.get({ publicKey: {
        challenge: fromB64u(await uv.decisionChallenge(signed)), rpId: device.rpId, userVerification: 'discouraged',
        allowCredentials: [{ type: 'public-key', id: fromB64u(device.credentialId) }] } });
      const r = cred.response;
      const assertion = { id: cred.id, type: cred.type, response: { clientDataJSON: b64u(new Uint8Array(r.clientDataJSON)),
        authenticatorData: b64u(new Uint8Array(r.authenticatorData)), signature: b64u(new Uint8Array(r.signature)), userHandle: null } };
      const uvFlag = new Uint8Array(r.authenticatorData)[32] & 0x04;
      try {
        await api.call(device, 'POST', `/app/v1/requests/${id}/decision`, { signed, user_verification: { method: 'passkey', assertion } });
        return { uvFlag, kind: 'accepted' };
      } catch (e) {
        return { uvFlag, kind: e.kind };
      }
    }, made.id);
    assert(refused.uvFlag === 0, 'the assertion really had no user verification');
    assert(refused.kind === 'user-verification-failed', `the platform refuses it: ${JSON.stringify(refused)}`);
    assert((await admin(`/admin/v1/approvals/${made.id}`)).status !== 'approved', 'still not approved');
    await phoneA.cdp.send('WebAuthn.setUserVerified', { authenticatorId: phoneA.authenticator, isUserVerified: true });
  });

  await test('app: the service\'s data consent and PDF signature wait on the home screen; the signing key and certificate come with activation and are renewed in the app; pdfsig judges it valid', async () => {
    const pc = await desktop();
    const { page } = pc;
    await signInByScan(page, phoneA);
    // The licence through the gateway: a data consent pushed to the phone.
    await page.locator('#fetch-licence').click();
    await page.locator('#licence-waiting').waitFor({ timeout: 15_000 });
    const ph = phoneA.page;
    await route(ph, '/home');
    const consent = ph.locator('#pending .card', { hasText: 'Get your records' });
    await consent.waitFor({ timeout: 15_000 });
    await consent.locator('a').click();
    await ph.locator('#approve').waitFor({ timeout: 15_000 });
    assert((await ph.locator('main').textContent()).includes('Transport Department'), 'the department is named');
    await accessible(ph, 'app data consent request');
    await shot(ph, 'app-request-data-phone-en');
    await ph.locator('#approve').click();
    await ph.locator('#result').waitFor({ timeout: 15_000 });
    await page.locator('#licence-note').waitFor({ timeout: 20_000 });
    // The signing key and certificate came with the activation (iAM Smart+); a new one replaces it.
    await route(ph, '/me');
    const before = (await ph.locator('#signing-state').textContent()).trim();
    assert(/Signing certificate [0-9a-f]+/.test(before), `a signing certificate: ${before}`);
    await accessible(ph, 'app settings');
    await shot(ph, 'app-me-phone-en');
    await ph.locator('#enrol-signing').click();
    await ph.waitForFunction((old) => document.querySelector('#signing-state')?.textContent.trim() !== old, before, { timeout: 15_000 });
    // The signature.
    await page.locator('#licence').fill('DL7654321');
    await page.locator('#submit-application').click();
    await page.locator('#signing-match').waitFor({ timeout: 15_000 });
    const shown = (await page.locator('#signing-match').textContent()).trim();
    await route(ph, '/home');
    const sign = ph.locator('#pending .card', { hasText: 'Sign a document' });
    await sign.waitFor({ timeout: 15_000 });
    await sign.locator('a').click();
    await ph.locator('#approve:not([disabled])').waitFor({ timeout: 15_000 });
    assert((await ph.locator('#match-code').textContent()).trim() === shown, 'the signing match code');
    assert((await ph.locator('main').textContent()).includes('International Driving Permit'), 'the document is named');
    // What goes into the signature besides the document is shown too (issue 16, finding 5).
    assert((await ph.locator('#sign-reason').textContent()).includes('International Driving Permit'), 'the reason is shown');
    assert((await ph.locator('#sign-location').textContent()).trim() === 'Hong Kong', 'the place is shown');
    await accessible(ph, 'app signing request');
    await shot(ph, 'app-request-sign-phone-en');
    await ph.locator('#approve').click();
    await ph.locator('#result').waitFor({ timeout: 20_000 });
    await page.locator('#signed-pdf').waitFor({ timeout: 20_000 });
    const pdf = Buffer.from(await (await page.request.get(`${service}/application.pdf`)).body());
    assert(pdf.subarray(0, 5).toString() === '%PDF-', 'a PDF downloads');
    const file = join(dir, 'signed-in-web-app.pdf');
    writeFileSync(file, pdf);
    const verify = await fetch(`${base}/sign/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pdf: pdf.toString('base64') }) });
    const report = await verify.json();
    assert(JSON.stringify(report).includes('"valid":true'), `the platform's verifier: ${JSON.stringify(report)}`);
    const rootPem = join(dir, 'root.pem');
    const der = Buffer.from(await (await fetch(`${base}/pki/root.cer`)).arrayBuffer());
    writeFileSync(rootPem, `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`);
    const nss = join(dir, 'nss');
    mkdirSync(nss, { recursive: true });
    execFileSync('certutil', ['-N', '-d', `sql:${nss}`, '--empty-password']);
    execFileSync('certutil', ['-A', '-d', `sql:${nss}`, '-n', 'iamsmart-root', '-t', 'CT,C,C', '-i', rootPem]);
    const pdfsig = execFileSync('pdfsig', ['-nssdir', `sql:${nss}`, file], { encoding: 'utf8' });
    assert(pdfsig.includes('Signature is Valid') && pdfsig.includes('Certificate is Trusted'), `pdfsig: ${pdfsig}`);
    await pc.ctx.close();
  });

  await test('app: notifications: turned on in the app, the service notifies, the inbox shows and reads it', async () => {
    const ph = phoneA.page;
    await route(ph, '/notify-settings');
    const box = ph.locator('#notify-prefs input[type=checkbox]').first();
    await box.waitFor({ timeout: 15_000 });
    await accessible(ph, 'app notification settings');
    if (!(await box.isChecked())) await box.check();
    await ph.waitForTimeout(500);
    const pc = await desktop();
    await signInByScan(pc.page, phoneA);
    await pc.page.locator('#licence').fill('DL1234567');
    await pc.page.locator('#submit-application').click();
    await pc.page.waitForURL(/\/signing/, { timeout: 15_000 });
    await route(ph, '/inbox');
    await ph.locator('#inbox .card.unread').first().waitFor({ timeout: 15_000 });
    await ph.locator('#unread-badge:not([hidden])').waitFor({ timeout: 15_000 });
    await accessible(ph, 'app inbox');
    await shot(ph, 'app-inbox-phone-en');
    await ph.locator('#inbox .card.unread a').first().click();
    await ph.locator('#screen-title', { hasText: 'Your application was received' }).waitFor({ timeout: 15_000 });
    await accessible(ph, 'app notification');
    await shot(ph, 'app-notification-phone-en');
    await route(ph, '/inbox');
    if (await ph.locator('#read-all').count()) await ph.locator('#read-all').click();
    await ph.waitForFunction(() => !document.querySelector('#inbox .card.unread'), null, { timeout: 15_000 });
    await pc.ctx.close();
  });

  await test('app: data consents and dealings: pause, resume, withdraw, receipt', async () => {
    const ph = phoneA.page;
    await route(ph, '/consents');
    const card = ph.locator('#data-consents .card').first();
    await card.waitFor({ timeout: 15_000 });
    await accessible(ph, 'app consents');
    await shot(ph, 'app-consents-phone-en');
    const download = ph.waitForEvent('download');
    await card.locator('button', { hasText: 'Download the receipt' }).click();
    const receipt = JSON.parse(readFileSync(await (await download).path(), 'utf8'));
    assert(JSON.stringify(receipt).length > 50, 'a receipt downloads');
    await card.locator('button', { hasText: 'Pause' }).click();
    await ph.locator('#data-consents .status-PAUSED').first().waitFor({ timeout: 15_000 });
    await ph.locator('#data-consents .card').first().locator('button', { hasText: 'Resume' }).click();
    await ph.locator('#data-consents .status-ACTIVE').first().waitFor({ timeout: 15_000 });
    await ph.locator('#data-consents .card').first().locator('button', { hasText: 'Withdraw' }).click();
    await ph.locator('dialog .button.danger').click();
    await ph.locator('#data-consents .status-REVOKED').first().waitFor({ timeout: 15_000 });
    assert((await ph.locator('main').textContent()).includes('Signed in'), 'the dealings list sign-ins');
    // Everything held, as a file: it needs a recent unlock, which the app asks for by itself.
    await route(ph, '/me');
    const file = ph.waitForEvent('download');
    await ph.locator('#export').click();
    const doc = JSON.parse(readFileSync(await (await file).path(), 'utf8'));
    assert(JSON.stringify(doc).includes(residentName), 'the download holds the resident\'s record');
  });

  await test('app: the profile (e-ME details): verified details shown, the others edited and checked', async () => {
    const ph = phoneA.page;
    await route(ph, '/profile');
    await ph.locator('#email').waitFor({ timeout: 15_000 });
    await accessible(ph, 'app profile');
    await shot(ph, 'app-profile-phone-en');
    await ph.locator('#email').fill('not an email');
    await ph.locator('#save-profile').click();
    await ph.locator('main .error-box').waitFor({ timeout: 15_000 });
    assert((await ph.locator('main .error-box').textContent()).includes('Email address'), 'the field is named');
    await ph.locator('#email').fill('leung.kaho@example.hk');
    await ph.locator('#save-profile').click();
    await ph.locator('main .notice[role=status]').waitFor({ timeout: 15_000 });
    await route(ph, '/profile');
    assert((await ph.locator('#email').inputValue()) === 'leung.kaho@example.hk', 'saved');
  });

  await test('app: Chinese (remembered), large text, keyboard only', async () => {
    const ph = phoneA.page;
    await route(ph, '/home');
    await everyScreenIn(ph, 'zh-Hant', 'zh-HK', '掃描二維碼', 'zh');
    const pc = await desktop('zh-HK');
    await toLogin(pc.page);
    await scan(ph, await qrOfLoginPage(pc.page));
    await ph.locator('#approve', { hasText: '確認' }).waitFor({ timeout: 20_000 });
    assert((await ph.locator('#screen-title').textContent()).startsWith('登入'), 'the request in Chinese');
    // Who is asking, in Chinese: the name and department the service registered (issue 17).
    assert((await ph.locator('#service-name').textContent()).includes('網上申請國際駕駛許可證'), 'the Chinese name');
    assert((await ph.locator('#service-department').textContent()).includes('運輸署'), 'the Chinese department');
    assert(!(await ph.locator('main').textContent()).includes('International Driving Permit'), 'no English name on a Chinese screen');
    await accessible(ph, 'app login request (zh)');
    await shot(ph, 'app-request-login-phone-zh');
    // Keyboard only: Tab reaches the approve button, Enter approves.
    let found = false;
    for (let i = 0; i < 25 && !found; i += 1) {
      await ph.keyboard.press('Tab');
      found = await ph.evaluate(() => document.activeElement?.id === 'approve');
    }
    assert(found, 'approve is reachable with Tab');
    await ph.keyboard.press('Enter');
    await ph.locator('#result').waitFor({ timeout: 15_000 });
    await shot(ph, 'app-approved-phone-zh');
    // Remembered after a reload; large text.
    await route(ph, '/home');
    assert((await ph.locator('html').getAttribute('lang')) === 'zh-HK', 'Chinese remembered');
    await ph.locator('#text-size').click();
    await ph.locator('body.large').waitFor();
    await shot(ph, 'app-home-phone-zh-large');
    await ph.locator('#text-size').click();
    // Simplified Chinese: the app's words converted, the platform's texts too (the department
    // of a data item, the service's name), the resident's name as recorded.
    await everyScreenIn(ph, 'zh-Hans', 'zh-Hans', '扫描二维码', 'zh-hans');
    const pcHans = await desktop('zh-Hans');
    await toLogin(pcHans.page);
    await scan(ph, await qrOfLoginPage(pcHans.page));
    await ph.locator('#approve', { hasText: '确认' }).waitFor({ timeout: 20_000 });
    assert((await ph.locator('#service-name').textContent()).includes('网上申请国际驾驶许可证'), 'the name in Simplified Chinese');
    assert((await ph.locator('#service-department').textContent()).includes('运输署'), 'the department in Simplified Chinese');
    await accessible(ph, 'app login request (zh-Hans)');
    await shot(ph, 'app-request-login-phone-zh-hans');
    await ph.locator('#approve').click();
    await ph.locator('#result').waitFor({ timeout: 15_000 });
    await pcHans.ctx.close();
    await ph.locator('#lang-en').click();
    await ph.locator('html[lang="en"]').waitFor();
    await pc.ctx.close();
  });

  await test('app: bad input: a QR code that is not ours, an expired and an answered request, a lost network mid-approval', async () => {
    const ph = phoneA.page;
    // Not our QR code.
    await scan(ph, await QRCode.toBuffer('https://example.com/win-a-prize', { margin: 4, scale: 8 }));
    await ph.locator('#scan-error .error-box').waitFor({ timeout: 20_000 });
    assert((await ph.locator('#scan-error').textContent()).includes('not an iAM Smart code'), 'said clearly');
    await accessible(ph, 'app scan: not our code');
    await shot(ph, 'app-scan-not-ours-phone-en');
    // A photo without any QR code.
    await ph.locator('#qr-file').setInputFiles({ name: 'icon.png', mimeType: 'image/png', buffer: readFileSync(join(root, 'crates', 'web', 'src', 'webapp', 'icon-192.png')) });
    await ph.locator('#scan-error .error-box').waitFor({ timeout: 15_000 });
    // An expired request.
    const old = await admin('/admin/v1/approvals', { resident_id: null, kind: 'login', client_name: 'Sandbox service' });
    await new Promise((ok) => setTimeout(ok, 13_000));
    await route(ph, `/request/${old.id}`);
    await ph.locator('main .error-box').waitFor({ timeout: 15_000 });
    assert((await ph.locator('main').textContent()).includes('expired'), 'expired said');
    await accessible(ph, 'app expired request');
    // A lost network mid-approval: nothing half-done; once back, the same request is answered.
    const made = await admin('/admin/v1/approvals', { resident_id: null, kind: 'login', client_name: 'Sandbox service' });
    await route(ph, `/request/${made.id}`);
    await ph.locator('#approve').waitFor({ timeout: 15_000 });
    await phoneA.ctx.setOffline(true);
    await ph.locator('#approve').click();
    await ph.locator('#check-again').waitFor({ timeout: 15_000 });
    await shot(ph, 'app-network-lost-phone-en');
    assert((await admin(`/admin/v1/approvals/${made.id}`)).status !== 'approved', 'nothing was recorded');
    await phoneA.ctx.setOffline(false);
    await ph.locator('#check-again').click();
    await ph.locator('#approve').waitFor({ timeout: 15_000 });
    await ph.locator('#approve').click();
    await ph.locator('#result').waitFor({ timeout: 15_000 });
    assert((await admin(`/admin/v1/approvals/${made.id}`)).status === 'approved', 'approved once back');
    // Opening it again: answered already.
    await route(ph, `/request/${made.id}`);
    await ph.locator('#result').waitFor({ timeout: 15_000 });
  });

  await test('app: self-registration without a face model says so and points to a counter (both languages)', async () => {
    const fresh = await phone('zh-HK', false);
    await fresh.page.goto(`${base}/app/#/register`);
    await fresh.page.locator('main .notice').waitFor({ timeout: 15_000 });
    assert((await fresh.page.locator('main').textContent()).includes('登記櫃位'), 'in Chinese');
    await accessible(fresh.page, 'app registration unavailable (zh)');
    await shot(fresh.page, 'app-register-unavailable-phone-zh');
    await fresh.page.goto(`${base}/app/#/welcome`);
    await fresh.page.locator('#start-activate').waitFor();
    await shot(fresh.page, 'app-welcome-phone-zh');
    await fresh.ctx.close();
  });

  await test('app: a second phone with a PIN joins from the first; wrong PINs; it removes the first, which says so', async () => {
    const ph = phoneA.page;
    await route(ph, '/devices');
    await ph.locator('#add-phone').click();
    await ph.locator('#link-code').waitFor({ timeout: 20_000 });
    const code = (await ph.locator('#link-code').textContent()).trim();
    await accessible(ph, 'app add a phone');
    await shot(ph, 'app-add-phone-phone-en');
    const phoneB = await phone('en-GB', false);
    const pb = phoneB.page;
    // Phone B scans the code phone A shows.
    writeY4m(camera, await ph.locator('#link-qr').screenshot());
    await pb.goto(`${base}/app/#/activate`);
    await pb.locator('#scan-activation').click();
    await pb.locator('#activate-next').waitFor({ timeout: 20_000 });
    assert((await pb.locator('#code').inputValue()) === code, `the scanned code: ${await pb.locator('#code').inputValue()}`);
    await pb.locator('#device-name').fill('Test phone B');
    await pb.locator('#activate-next').click();
    await pb.locator('#uv-pin').waitFor();
    await pb.locator('#uv-pin').check();
    await pb.locator('#pin1').fill('111111');
    await pb.locator('#pin2').fill('111111');
    await pb.locator('#set-up').click();
    await pb.locator('#pin1-err:not([hidden])').waitFor();
    await accessible(pb, 'app PIN choice with an error');
    await shot(pb, 'app-protect-pin-error-phone-en');
    await pb.locator('#pin1').fill('246813');
    await pb.locator('#pin2').fill('246813');
    await pb.locator('#set-up').click();
    await pb.locator('#go-home').click({ timeout: 20_000 });
    await pb.locator('#scan-button').waitFor({ timeout: 15_000 });
    // Locked, then two wrong PINs and the right one.
    await pb.locator('#lock-now').click();
    await pb.locator('#unlock').click();
    await pb.locator('#pin-input').fill('999999');
    await pb.locator('.pin-form button[type=submit]').click();
    await pb.locator('main .error-box').waitFor({ timeout: 15_000 });
    assert((await pb.locator('main .error-box').textContent()).includes('4 wrong PINs left'), 'tries left said');
    await accessible(pb, 'app wrong PIN');
    await shot(pb, 'app-wrong-pin-phone-en');
    await pb.locator('#unlock').click();
    await pb.locator('#pin-input').fill('246813');
    await pb.locator('.pin-form button[type=submit]').click();
    await pb.locator('#scan-button').waitFor({ timeout: 15_000 });
    // Phone B removes phone A.
    await route(pb, '/devices', '246813');
    const cardA = pb.locator('#device-list .card', { hasText: 'Test phone A' });
    await cardA.waitFor({ timeout: 15_000 });
    await accessible(pb, 'app devices');
    await shot(pb, 'app-devices-phone-en');
    await cardA.locator('button.remove').click();
    await pb.locator('dialog .button.danger').click();
    await cardA.waitFor({ state: 'detached', timeout: 15_000 });
    // Phone A learns it at its next call.
    await ph.goto(`${base}/app/#/home`);
    await unlockIfLocked(ph).catch(() => {});
    await ph.locator('#screen-title', { hasText: 'no longer works' }).waitFor({ timeout: 15_000 });
    await accessible(ph, 'app revoked phone');
    await shot(ph, 'app-revoked-phone-en');
    // Phone B closes the account.
    await route(pb, '/me', '246813');
    await pb.locator('#close-account').click();
    await pb.locator('#confirm-close').click();
    await pb.locator('dialog .button.danger').click();
    const pinAsked = await pb.locator('#pin-input').waitFor({ timeout: 5_000 }).then(() => true, () => false);
    if (pinAsked) {
      await pb.locator('#pin-input').fill('246813');
      await pb.locator('.pin-form button[type=submit]').click();
    }
    await pb.locator('#screen-title', { hasText: 'closed' }).waitFor({ timeout: 15_000 });
    await shot(pb, 'app-closed-phone-en');
    await phoneB.ctx.close();
  });

  // Last: it leaves the demo's log cut short on purpose.
  await test('app: the phone witnesses the transparency log; cut short, it raises the alarm and approves nothing (both languages)', async () => {
    const code = JSON.parse(iamsmart(demo, ['sandbox', 'activation-code']));
    const phoneC = await phone('en-GB', false);
    const pc = phoneC.page;
    await pc.goto(code.link);
    await pc.locator('#device-name').fill('Test phone C');
    await pc.locator('#activate-next').click();
    await pc.locator('#uv-pin').check();
    await pc.locator('#pin1').fill('246813');
    await pc.locator('#pin2').fill('246813');
    await pc.locator('#set-up').click();
    await pc.locator('#go-home').click({ timeout: 20_000 });
    await pc.locator('#scan-button').waitFor({ timeout: 15_000 });
    const witnessed = () => pc.evaluate(async () => (await import('/app/static/store.js')).loadWitness());
    const first = await witnessed();
    const logKeys = await (await fetch(`${base}/transparency/v1/keys`)).json();
    assert(first && first.log_keys.length === logKeys.keys.length && first.heads.length === 1,
      `the log keys are pinned at first contact and the head is kept: ${JSON.stringify(first)}`);
    // The log grows; at the next start the phone checks that the new head extends the old one.
    for (let i = 0; i < 3; i += 1) iamsmart(demo, ['keys', 'rotate', '--purpose', 'connector']);
    await pc.goto('about:blank');
    await route(pc, '/home', '246813');
    await pc.locator('#scan-button').waitFor({ timeout: 15_000 });
    const second = await witnessed();
    const newest = second.heads[second.heads.length - 1];
    assert(second.heads.length === 2 && newest.tree_size > first.heads[0].tree_size,
      `a newer head accepted with its consistency proof: ${JSON.stringify(second.heads)}`);
    // The demo service witnesses the log too (it looked at every login's answer).
    const serviceBefore = await (await fetch(`${service}/log-witness`)).json();
    assert(serviceBefore.status === 'consistent' && serviceBefore.tree_size >= newest.tree_size,
      `the service sees a consistent log: ${JSON.stringify(serviceBefore)}`);
    // Someone with write access to the database cuts the newest entries off (with their
    // subtrees and heads, so that the log alone still verifies). The phone notices at once.
    const cut = newest.tree_size - 2;
    execFileSync('python3', ['-c', `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
m = int(sys.argv[2])
db.execute("DELETE FROM audit_log WHERE seq >= ?", (m,))
for level in range(40):
    db.execute("DELETE FROM merkle_nodes WHERE level = ? AND idx >= ?", (level, m >> level))
db.execute("DELETE FROM tree_heads WHERE tree_size > ?", (m,))
db.execute("UPDATE audit_head SET size = ? WHERE id = 1", (m,))
db.commit()
`, join(dir, 'data', 'demo.db'), String(cut)]);
    const shown = await (await fetch(`${base}/transparency/v1/tree-head`)).json();
    assert(shown.tree_size < newest.tree_size, `the log now shows fewer entries: ${shown.tree_size}`);
    const made = await admin('/admin/v1/approvals', { resident_id: code.resident_id, kind: 'login', client_name: 'Sandbox service' });
    // Opening the request (the app started afresh) shows the alarm, before even the lock screen.
    await pc.goto('about:blank');
    await pc.goto(`${base}/app/#/request/${made.id}`);
    await pc.locator('#log-alarm').waitFor({ timeout: 15_000 });
    assert((await pc.locator('#screen-title').textContent()).includes('public record has been changed'), 'the alarm is said');
    assert((await pc.locator('#log-alarm-detail').textContent()).includes('cut off'), 'what was seen is kept for the team');
    assert((await admin(`/admin/v1/approvals/${made.id}`)).status !== 'approved', 'nothing is approved');
    await accessible(pc, 'app log alarm');
    await shot(pc, 'app-log-alarm-phone-en');
    // Looking again does not make it go away; nor does another language.
    await pc.locator('#lang-zh-Hant').click();
    await pc.locator('html[lang="zh-HK"]').waitFor();
    await pc.locator('#log-alarm', { hasText: '公開紀錄' }).waitFor({ timeout: 15_000 });
    assert((await pc.locator('#screen-title').textContent()).includes('公開紀錄被更改'), 'the alarm in Chinese');
    await accessible(pc, 'app log alarm (zh)');
    await shot(pc, 'app-log-alarm-phone-zh');
    assert((await witnessed()).heads.length === 2, 'the heads seen are kept, not replaced by the shorter log');
    // The service notices as well, and no longer takes the platform's word for a login.
    const serviceAfter = await (await fetch(`${service}/log-witness`)).json();
    assert(serviceAfter.status === 'alarm' && /cut off/.test(serviceAfter.detail),
      `the service raises the alarm: ${JSON.stringify(serviceAfter)}`);
    assert(/failed the demo service's check/.test(demo.log), 'and says so in its log');
    await phoneC.ctx.close();
  });
} catch (e) {
  results.push({ name: 'setup', ok: false, error: e });
  console.log(`FAIL setup: ${e.stack || e}`);
} finally {
  await browser.close();
}
finish(demo, 'server-app.log');
