// What the browser suites share: the demo platform on free ports, Chromium (Debian's, driven by
// playwright-core), a tiny test runner, axe-core, screenshots, and the command-line app.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '..', '..');
export const bins = process.env.IAMSMART_BIN_DIR || join(root, 'target', 'debug');
export const shots = process.env.IAMSMART_SCREENSHOTS || join(root, 'target', 'screenshots');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export const PIN = '246813';
export const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
    s.on('error', fail);
  });
}

/** `iamsmart demo` on free ports with short approval times; resolves when both sites answer. */
export async function startDemo(name, extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), `iamsmart-${name}-`));
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
    ...extraEnv,
  };
  const server = spawn(join(bins, 'iamsmart'), ['demo'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const demo = { dir, base, service, env, server, log: '' };
  server.stdout.on('data', (d) => { demo.log += d; });
  server.stderr.on('data', (d) => { demo.log += d; });
  await waitFor(`${base}/readyz`, 'the platform', demo);
  await waitFor(`${service}/healthz`, 'the demo service', demo);
  demo.dbUrl = `sqlite://${join(dir, 'data', 'demo.db')}`;
  return demo;
}

async function waitFor(url, what, demo) {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    try { if ((await fetch(url)).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not start:\n${demo.log}`);
}

/** `iamsmart <args>` against the demo's database; answers the parsed JSON output. */
export function iamsmart(demo, args) {
  return execFileSync(join(bins, 'iamsmart'), args, {
    env: { ...demo.env, IAMSMART_DATABASE_URL: demo.dbUrl }, encoding: 'utf8',
  });
}

/** The command-line app (`iamsmart-app`) with the test PIN; answers its JSON. */
export function cliApp(home, args) {
  return JSON.parse(execFileSync(join(bins, 'iamsmart-app'), ['--home', home, ...args], {
    env: { PATH: process.env.PATH, IAMSMART_APP_PIN: PIN }, encoding: 'utf8', timeout: 60_000,
  }));
}

export const results = [];
let failureHook = null;

/** Called with the test's name when a test fails (to take screenshots of the pages open). */
export function onFailure(fn) {
  failureHook = fn;
}

export async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - started });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    console.log(`FAIL ${name}: ${e.stack || e}`);
    if (failureHook) await failureHook(name).catch(() => {});
  }
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** axe-core on the page: no serious or critical violation. */
export async function accessible(page, label) {
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(bad.length === 0, `${label}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(', ')}`).join('; ')}`);
}

export function resetShots() {
  mkdirSync(shots, { recursive: true });
}

/**
 * A screenshot of the whole page. The viewport is stretched to the page's height for it, so that
 * what sticks to the bottom of the screen (the app's tabs) shows where a reader scrolling to the
 * end would see it, not over the middle of the page.
 */
export async function shot(page, name) {
  await pageFits(page, name);
  const size = page.viewportSize();
  const height = await page.evaluate(() => document.documentElement.scrollHeight).catch(() => 0);
  if (size && height > size.height) await page.setViewportSize({ width: size.width, height });
  try {
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  } finally {
    if (size && height > size.height) await page.setViewportSize(size);
  }
}

/** The English name of the demo service, which a Chinese page must not show (issue 17). */
const DEMO_SERVICE_EN = 'Online Application for International Driving Permit';

/**
 * What every screenshot also checks (issue 17): nothing scrolls sideways, and a Chinese page shows
 * neither the demo service's English name nor half-width punctuation (: ; , ( )) next to Chinese text.
 */
export async function pageFits(page, name) {
  const found = await page.evaluate(() => ({
    width: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    lang: document.documentElement.lang,
    // Texts quoted from their sources (the Observatory's, departments' notices) are as written.
    text: (() => {
      if (!document.body) return '';
      let t = document.body.innerText;
      for (const q of document.querySelectorAll('[data-quoted]')) t = t.split(q.innerText).join(' ');
      return t;
    })(),
  })).catch(() => null);
  if (!found) return;
  assert(found.width <= found.viewport, `${name}: the page is ${found.width} px wide in a ${found.viewport} px viewport (it scrolls sideways)`);
  if (found.lang.startsWith('zh')) {
    assert(!found.text.includes(DEMO_SERVICE_EN), `${name}: the Chinese page shows the service's English name`);
    const half = /[\u4e00-\u9fff] ?[:;,(]|[\u4e00-\u9fff]\)/.exec(found.text);
    assert(!half, `${name}: half-width punctuation next to Chinese text: "${half && found.text.slice(Math.max(0, half.index - 10), half.index + 10)}"`);
  }
  if (found.lang === 'zh-Hans') {
    // Characters our pages use often whose Simplified form differs: none may be left unconverted
    // (the link to the Traditional Chinese page is named in its own script).
    const text = found.text.split('繁體中文').join(' ');
    const left = /[這個們資與確認說請續務將時間選擇項頁碼關於運駕執]/.exec(text);
    assert(!left, `${name}: Traditional characters on a Simplified Chinese page: "${left && text.slice(Math.max(0, left.index - 10), left.index + 10)}"`);
  }
}

/** The languages of the platform's pages, as their `lang` codes, and their screenshot suffixes. */
export const LANGUAGES = [['en', 'en'], ['zh-HK', 'zh'], ['zh-Hans', 'zh-hans']];

/**
 * The page as it is now, in every language (through its language links, as a resident would
 * switch) and at phone and desktop width: axe-core and a screenshot of each, named
 * `<name>-<phone|desktop>-<en|zh|zh-hans>`; then back in the language it was in.
 */
export async function everyLanguage(page, name, sizes = [['phone', PHONE], ['desktop', DESKTOP]]) {
  const started = await page.evaluate(() => document.documentElement.lang);
  const size = page.viewportSize();
  const to = async (code) => {
    if ((await page.evaluate(() => document.documentElement.lang)) === code) return;
    await page.locator(`header .prefs a[hreflang="${code}"]`).click();
    await page.waitForFunction((c) => document.documentElement.lang === c, code, { timeout: 15_000 });
  };
  try {
    for (const [code, suffix] of LANGUAGES) {
      await to(code);
      for (const [label, viewport] of sizes) {
        await page.setViewportSize(viewport);
        const step = async () => {
          await accessible(page, `${name} (${code}, ${label})`);
          await shot(page, `${name}-${label}-${suffix}`);
        };
        // A page may replace itself meanwhile (the login page shows a new code when the old one
        // runs out): once more on the new page, in the same language.
        await step().catch(async (e) => {
          if (!/context was destroyed|navigat/i.test(String(e))) throw e;
          await page.waitForLoadState();
          await step();
        });
      }
    }
  } finally {
    await to(started).catch(() => {});
    if (size) await page.setViewportSize(size);
  }
}

/** Chromium with the suite's flags (and any extra ones). */
export function launch(extraFlags = []) {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: [...FLAGS, ...extraFlags] });
}

/** Stop the demo, keep its log with the screenshots, and print the summary; exits 1 on failure. */
export function finish(demo, logName) {
  if (demo) {
    demo.server.kill('SIGTERM');
    writeFileSync(join(shots, logName), demo.log);
  }
  const failed = results.filter((r) => !r.ok);
  console.log(`\n${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${shots}`);
  if (failed.length) {
    if (demo) console.log(`data kept in ${demo.dir}`);
    process.exit(1);
  }
  if (demo) rmSync(demo.dir, { recursive: true, force: true });
}
