// The web app's QR scanner (crates/web/src/webapp/scan.js) in Debian's Chromium with a fake
// camera: a QR code made here is turned into a Y4M video (camera.mjs) that Chromium plays as its
// camera (--use-file-for-fake-video-capture), and the page served under the platform's CSP must
// read back the exact text. Then the same file is replaced with another QR code and scanned again
// in the same browser (a phone that scans several codes), decodeImageFile is given pictures, the
// native BarcodeDetector path and its fall-back to jsQR are checked with stand-ins, camera errors
// are classified, and no CSP violation may be reported anywhere.
//
//   (cd tests/browser && npm ci) && node tests/browser/scan.test.mjs
//
// Needs no Rust build: a small server here serves crates/web/src/webapp/ under /app/static/.
import { chromium } from 'playwright-core';
import QRCode from 'qrcode';
import { PNG } from 'pngjs';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeY4m } from './camera.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const webapp = resolve(here, '..', '..', 'crates', 'web', 'src', 'webapp');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// The platform's policy, plus report-uri so that violations in the worker reach the test too.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  + "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const REPORTING_CSP = `${CSP}; report-uri /csp-report`;
const TYPES = { '.js': 'text/javascript', '.html': 'text/html', '.css': 'text/css', '.json': 'application/json', '.md': 'text/plain', '.png': 'image/png' };

const PAYLOAD_1 = 'iamsmart:approve?id=ar_TEST123';
const PAYLOAD_2 = 'iamsmart:activate?code=K7Q2M9XW4P';
const PAYLOAD_3 = 'iamsmart:approve?id=ar_ThirdCodeInOneBrowser';

// --- the test page: scan.js imported as a module, under the CSP -----------------------------
const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scan test</title>
<script type="module" src="/test/scan-page.js"></script></head>
<body><video width="320" height="240"></video><input type="file" accept="image/*"></body></html>`;

const PAGE_JS = `import { startScanner, decodeImageFile } from '/app/static/scan.js';
const video = document.querySelector('video');
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
const streams = [];
const realGum = navigator.mediaDevices?.getUserMedia?.bind(navigator.mediaDevices);
if (realGum) navigator.mediaDevices.getUserMedia = async (c) => { const s = await realGum(c); streams.push(s); return s; };
const ended = () => { const s = streams.at(-1); return s ? s.getTracks().every((t) => t.readyState === 'ended') : null; };

window.scan = (timeoutMs = 15000) => new Promise((resolve) => {
  const t0 = performance.now();
  let handle = null, done = false, calls = 0;
  const finish = (r) => { calls++; if (done) return; done = true; clearTimeout(timer); setTimeout(() => resolve({ ...r, calls }), 600); };
  const timer = setTimeout(() => { handle?.stop(); finish({ error: 'timeout' }); }, timeoutMs);
  startScanner(video, {
    onCode: (text) => finish({ text, ms: Math.round(performance.now() - t0), cleared: video.srcObject === null, tracksEnded: ended() }),
    onError: (err) => finish({ kind: err.kind, name: err.name, message: err.message, isError: err instanceof Error }),
  }).then((h) => { handle = h; });
});

window.startAndStop = async () => {
  let codes = 0, errors = 0;
  const h = await startScanner(video, { onCode: () => codes++, onError: () => errors++ });
  const live = video.srcObject !== null;
  h.stop(); h.stop();
  await new Promise((r) => setTimeout(r, 1000));
  h.stop();
  return { live, codes, errors, cleared: video.srcObject === null, tracksEnded: ended() };
};

window.decodePicked = async () => {
  const t0 = performance.now();
  try {
    const text = await decodeImageFile(document.querySelector('input[type=file]').files[0]);
    return { text, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    return { kind: err.kind, name: err.name, message: err.message };
  }
};
`;

// Stand-ins for a native BarcodeDetector, put in place with page.evaluate before a scan.
function fakeDetector(mode) {
  window.detectCalls = 0;
  window.BarcodeDetector = class {
    static async getSupportedFormats() { return ['qr_code']; }
    constructor(options) { this.options = options; }
    async detect(source) {
      window.detectCalls++;
      if (mode === 'throws') throw new DOMException('Barcode detection service unavailable.', 'NotSupportedError');
      return [{ format: 'qr_code', rawValue: `native ${source.width}x${source.height}` }];
    }
  };
}

function stubCamera(name) {
  if (name === 'no-api') {
    Object.defineProperty(navigator, 'mediaDevices', { value: undefined, configurable: true });
    return;
  }
  navigator.mediaDevices.getUserMedia = () => Promise.reject(name === 'OverconstrainedError'
    ? new OverconstrainedError('facingMode', 'no such camera')
    : new DOMException('stand-in', name));
}

// --- a server on 127.0.0.1 --------------------------------------------------------------------
const served = []; // [path, status]
const cspReports = [];
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const send = (status, type, body) => {
    served.push([url.pathname, status]);
    res.writeHead(status, { 'content-type': type, 'content-security-policy': REPORTING_CSP, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(body);
  };
  if (req.method === 'POST' && url.pathname === '/csp-report') {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { cspReports.push(body); send(204, 'text/plain', ''); });
    return;
  }
  if (url.pathname === '/test/scan.html') return send(200, 'text/html; charset=utf-8', PAGE_HTML);
  if (url.pathname === '/test/scan-page.js') return send(200, 'text/javascript', PAGE_JS);
  if (url.pathname === '/test/qr.html') {
    // What a desktop page showing a QR code looks like: an <img> with a data: URL.
    return QRCode.toDataURL(url.searchParams.get('text'), { margin: 4, scale: 5 }).then((src) =>
      send(200, 'text/html; charset=utf-8', `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>QR</title></head><body><p>Scan this</p><img alt="QR code" src="${src}"></body></html>`));
  }
  if (url.pathname.startsWith('/app/static/')) {
    const file = resolve(webapp, '.' + decodeURIComponent(url.pathname.slice('/app/static'.length)));
    if (file.startsWith(webapp + sep) && existsSync(file) && statSync(file).isFile()) {
      return send(200, TYPES[extname(file)] || 'application/octet-stream', readFileSync(file));
    }
  }
  return send(404, 'text/plain', 'not found');
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://localhost:${server.address().port}`;

// --- checks -----------------------------------------------------------------------------------
let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}
const json = (v) => JSON.stringify(v);
const fetchedSince = (mark, path) => served.slice(mark).some(([p, s]) => p === path && s === 200);

// Pictures: QR codes as PNG, one with no QR code, a big "photo" with one.
const qrPng = (text, scale = 6) => QRCode.toBuffer(text, { margin: 4, scale });
function png(width, height, paint) {
  const img = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = paint(x, y);
      const i = (y * width + x) * 4;
      img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = b; img.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(img);
}
const noQr = png(480, 360, (x, y) => ((Math.floor(x / 24) + Math.floor(y / 40)) % 3 === 0 ? [40, 40, 40] : [230, 225 - (y % 60), 210]));
const bigPhoto = await (async () => {
  const qr = PNG.sync.read(await qrPng(PAYLOAD_2, 24));
  const [W, H] = [3200, 2400];
  const [left, top] = [Math.floor((W - qr.width) / 2), Math.floor((H - qr.height) / 2)];
  return png(W, H, (x, y) => {
    const qx = x - left, qy = y - top;
    if (qx >= 0 && qy >= 0 && qx < qr.width && qy < qr.height) {
      const v = qr.data[(qy * qr.width + qx) * 4];
      return [v, v, v];
    }
    return [150 + (x % 50), 140, 120 + (y % 40)]; // a table top
  });
})();

const dir = mkdtempSync(join(tmpdir(), 'iamsmart-scan-'));
const camera = join(dir, 'camera.y4m'); // one path for the whole browser process: the flag is per process
writeY4m(camera, await qrPng(PAYLOAD_1));

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${camera}`],
});
const consoleCsp = [];
const pageErrors = [];
function watch(page) {
  const onConsole = (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) consoleCsp.push(m.text()); };
  page.on('console', onConsole);
  page.on('worker', (w) => w.on('console', onConsole));
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  return page;
}
async function newPage() {
  const context = await browser.newContext();
  const page = watch(await context.newPage());
  await page.goto(`${base}/test/scan.html`);
  await page.waitForFunction(() => typeof window.scan === 'function');
  return page;
}

let exitCode = 1;
try {
  const phone = await newPage();
  const native = await phone.evaluate(() => typeof window.BarcodeDetector);
  console.log(`Chromium ${browser.version()}: BarcodeDetector is ${native === 'undefined' ? 'absent' : 'present'}`);

  // 1. The camera shows a QR code: exact text, camera off afterwards, onCode called once.
  let mark = served.length;
  const first = await phone.evaluate(() => window.scan());
  check('scan 1 reads the exact payload', first.text === PAYLOAD_1, json(first));
  check('scan 1: camera tracks stopped and srcObject cleared', first.tracksEnded === true && first.cleared === true, json(first));
  check('scan 1: onCode called once', first.calls === 1, `calls ${first.calls}`);
  const workerUsed = fetchedSince(mark, '/app/static/scan-worker.js') && fetchedSince(mark, '/app/static/vendor/jsQR.js');
  if (native === 'undefined') check('no BarcodeDetector here, so jsQR ran in the worker (scan-worker.js and vendor/jsQR.js fetched)', workerUsed);
  else console.log(`note: this Chromium has a BarcodeDetector; worker used: ${workerUsed}`);

  // 2. The same y4m path, now another QR code (a screenshot of a page showing it), same page.
  const desktop = watch(await (await browser.newContext()).newPage());
  await desktop.goto(`${base}/test/qr.html?text=${encodeURIComponent(PAYLOAD_2)}`);
  const firstInode = statSync(camera).ino;
  writeY4m(camera, await desktop.locator('img').screenshot());
  check('writeY4m replaced the file (new inode, same path)', statSync(camera).ino !== firstInode);
  const second = await phone.evaluate(() => window.scan());
  check('scan 2, same page, y4m replaced: reads the new code', second.text === PAYLOAD_2, json(second));

  // 3. Once more, in a new context (another tab or a fresh phone) of the same browser process.
  writeY4m(camera, await qrPng(PAYLOAD_3));
  const other = await newPage();
  const third = await other.evaluate(() => window.scan());
  check('scan 3, new context, y4m replaced again: reads the newest code', third.text === PAYLOAD_3, json(third));
  const again = await phone.evaluate(() => window.scan());
  check('scan 4, back on the first page: reads the newest code too', again.text === PAYLOAD_3, json(again));
  console.log(`timing: scan 1 ${first.ms} ms (worker start included), scans 2-4 ${second.ms}, ${third.ms}, ${again.ms} ms`);

  // writeY4m renames a new file over the old one (a new inode). Rewriting the same inode in place
  // also works while no capture is running, since Chromium opens the file at each capture start;
  // during a capture it is unsafe (Chromium reads frame by frame and CHECK-fails on a short read).
  const staging = join(dir, 'staging.y4m');
  writeY4m(staging, await qrPng(PAYLOAD_1));
  const inode = statSync(camera).ino;
  writeFileSync(camera, readFileSync(staging));
  const inPlace = await phone.evaluate(() => window.scan());
  check('scan 5, y4m rewritten in place (same inode) between captures: reads the new code',
    inPlace.text === PAYLOAD_1 && statSync(camera).ino === inode, json(inPlace));

  // 4. stop() right after start, three times: no code, no error, camera off.
  const stopped = await phone.evaluate(() => window.startAndStop());
  check('stop() is idempotent and turns the camera off before any code', stopped.live && stopped.codes === 0 && stopped.errors === 0
    && stopped.cleared && stopped.tracksEnded === true, json(stopped));

  // 5. decodeImageFile: a QR code PNG, one on a transparent background, a picture without one, a big photo, a file that is no picture.
  const input = phone.locator('input[type=file]');
  await input.setInputFiles({ name: 'qr.png', mimeType: 'image/png', buffer: await qrPng(PAYLOAD_1) });
  const picked = await phone.evaluate(() => window.decodePicked());
  check('decodeImageFile reads a QR code PNG', picked.text === PAYLOAD_1, json(picked));
  const clear = await QRCode.toBuffer(PAYLOAD_3, { margin: 1, scale: 6, color: { dark: '#000000ff', light: '#00000000' } });
  await input.setInputFiles({ name: 'clear.png', mimeType: 'image/png', buffer: clear });
  const transparent = await phone.evaluate(() => window.decodePicked());
  check('decodeImageFile reads a QR code on a transparent background', transparent.text === PAYLOAD_3, json(transparent));
  await input.setInputFiles({ name: 'wall.png', mimeType: 'image/png', buffer: noQr });
  const none = await phone.evaluate(() => window.decodePicked());
  check('decodeImageFile gives null for a picture without a QR code', none.text === null, json(none));
  await input.setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: bigPhoto });
  const photo = await phone.evaluate(() => window.decodePicked());
  check('decodeImageFile reads a 3200x2400 photo (scaled down first)', photo.text === PAYLOAD_2, json(photo));
  await input.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture') });
  const text = await phone.evaluate(() => window.decodePicked());
  check('decodeImageFile rejects a file that is no picture, kind failed', text.kind === 'failed', json(text));

  // 6. A BarcodeDetector that exists but throws: the worker takes over, for the camera and files.
  const broken = await newPage();
  await broken.evaluate(fakeDetector, 'throws');
  writeY4m(camera, await qrPng(PAYLOAD_1));
  mark = served.length;
  const fallback = await broken.evaluate(() => window.scan());
  const calls = await broken.evaluate(() => window.detectCalls);
  check('a throwing BarcodeDetector falls back to jsQR in the worker', fallback.text === PAYLOAD_1 && calls >= 1
    && fetchedSince(mark, '/app/static/scan-worker.js'), `${json(fallback)}, detect() called ${calls}x`);
  await broken.locator('input[type=file]').setInputFiles({ name: 'qr.png', mimeType: 'image/png', buffer: await qrPng(PAYLOAD_3) });
  const fileFallback = await broken.evaluate(() => window.decodePicked());
  check('decodeImageFile falls back the same way', fileFallback.text === PAYLOAD_3, json(fileFallback));

  // 7. A BarcodeDetector that works is preferred and the worker is not started.
  const good = await newPage();
  await good.evaluate(fakeDetector, 'works');
  mark = served.length;
  const nativeScan = await good.evaluate(() => window.scan());
  check('a working BarcodeDetector is used, without the worker', /^native \d+x\d+$/.test(nativeScan.text || '')
    && !fetchedSince(mark, '/app/static/scan-worker.js'), json(nativeScan));

  // 8. Camera errors and their kinds.
  const cases = [['no-api', 'no-camera'], ['NotFoundError', 'no-camera'], ['OverconstrainedError', 'no-camera'],
    ['NotAllowedError', 'denied'], ['SecurityError', 'denied'], ['NotReadableError', 'failed'], ['AbortError', 'failed']];
  for (const [name, kind] of cases) {
    const page = await newPage();
    await page.evaluate(stubCamera, name);
    const r = await page.evaluate(() => window.scan(5000));
    check(`camera error ${name} -> kind ${kind}`, r.kind === kind && r.isError && r.calls === 1, json(r));
    await page.context().close();
  }

  // 9. No CSP violation anywhere (page events, console, reports, including the worker's).
  await new Promise((r) => setTimeout(r, 500));
  const events = [];
  for (const page of [phone, other, broken, good]) events.push(...await page.evaluate(() => window.cspViolations));
  check('no CSP violation reported', events.length === 0 && consoleCsp.length === 0 && cspReports.length === 0,
    json({ events, consoleCsp, cspReports }));
  check('no uncaught error in the pages', pageErrors.length === 0, json(pageErrors));

  // The watchers do see a violation: a blob: worker, which the policy forbids.
  const canary = await newPage();
  await canary.evaluate(() => { new Worker(URL.createObjectURL(new Blob(['']))); }); // refused as it loads
  await new Promise((r) => setTimeout(r, 500));
  const seen = await canary.evaluate(() => window.cspViolations);
  check('(self-check) a blob: worker is refused and all three watchers see it', seen.length > 0
    && consoleCsp.length > 0 && cspReports.length > 0, json({ seen, console: consoleCsp, reports: cspReports.length }));

  exitCode = failed ? 1 : 0;
} catch (err) {
  console.error(err);
  failed++;
} finally {
  await browser.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : exitCode);
