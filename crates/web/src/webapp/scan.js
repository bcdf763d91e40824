// scan.js: reads a QR code (such as "iamsmart:approve?id=..." or "iamsmart:activate?code=...")
// with the phone's camera, or from a photo or screenshot the resident picks.
//
//   const scanner = await startScanner(videoElement, { onCode(text) {...}, onError(err) {...} });
//   scanner.stop();                                  // idempotent; done for you after onCode
//   const text = await decodeImageFile(input.files[0]);   // string, or null if no QR code
//
// The camera is shown in the <video> element and a frame is decoded a few times a second, with
// the browser's own BarcodeDetector where it has one that works, else with jsQR (vendor/jsQR.js)
// in a Web Worker (scan-worker.js) so the page stays responsive. onCode is called once, with the
// first code found, after the camera has been turned off. Errors go to onError with err.kind:
// 'no-camera' (no camera or camera API), 'denied' (the resident or the browser said no) or
// 'failed' (anything else); startScanner itself never rejects. Works under the platform's CSP:
// same-origin scripts and worker only, no blob: or object URLs, no eval.

const SAMPLE_MS = 200; // five frames a second
const MAX_SIDE = 1200; // longest side, in pixels, of what is decoded
const WORKER_URL = new URL('./scan-worker.js', import.meta.url);

// Draws `source` (w x h) onto `canvas`, scaled down to at most MAX_SIDE on the long side.
function draw(source, w, h, canvas) {
  const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
  const cw = Math.max(1, Math.round(w * scale));
  const ch = Math.max(1, Math.round(h * scale));
  if (canvas.width !== cw || canvas.height !== ch) Object.assign(canvas, { width: cw, height: ch });
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = '#fff'; // a transparent PNG's background would otherwise read as black
  ctx.fillRect(0, 0, cw, ch);
  ctx.drawImage(source, 0, 0, cw, ch);
}

async function nativeDetector() {
  if (typeof globalThis.BarcodeDetector !== 'function') return null;
  try {
    const formats = await globalThis.BarcodeDetector.getSupportedFormats();
    return formats.includes('qr_code') ? new globalThis.BarcodeDetector({ formats: ['qr_code'] }) : null;
  } catch {
    return null;
  }
}

// A decoder for canvases: the native detector while it works, else jsQR in a worker (started
// on first use). decode() resolves to the text of a QR code or null.
function makeDecoder() {
  let native = null;
  let worker = null;
  let pending = null; // resolve of the request the worker is working on
  const ready = nativeDetector().then((d) => { native = d; });

  function viaWorker(canvas) {
    worker ??= new Worker(WORKER_URL);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return new Promise((resolve, reject) => {
      pending = resolve;
      worker.onmessage = (e) => { pending = null; resolve(e.data ? e.data.data : null); };
      worker.onerror = (e) => { e.preventDefault(); pending = null; reject(new Error(`QR decoder: ${e.message || 'worker failed'}`)); };
      worker.postMessage(image, [image.data.buffer]);
    });
  }

  return {
    async decode(canvas) {
      await ready;
      if (native) {
        try {
          const codes = await native.detect(canvas);
          return codes.length ? codes[0].rawValue : null;
        } catch {
          native = null; // there but broken (as on some devices): use jsQR from now on
        }
      }
      return viaWorker(canvas);
    },
    close() {
      worker?.terminate();
      worker = null;
      pending?.(null);
      pending = null;
    },
  };
}

function classify(err) {
  const e = err instanceof Error ? err : new Error(String(err?.message ?? err));
  const name = err?.name;
  e.kind = ['NotFoundError', 'DevicesNotFoundError', 'OverconstrainedError'].includes(name) ? 'no-camera'
    : ['NotAllowedError', 'PermissionDeniedError', 'SecurityError'].includes(name) ? 'denied'
      : 'failed';
  return e;
}

export async function startScanner(video, { onCode, onError } = {}) {
  const decoder = makeDecoder();
  const canvas = document.createElement('canvas');
  let stream = null;
  let timer = 0;
  let stopped = false;

  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    stream?.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
    decoder.close();
  };
  const fail = (err) => {
    if (stopped) return;
    stop();
    onError?.(classify(err));
  };

  try {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw Object.assign(new Error('This browser gives no access to a camera'), { name: 'NotFoundError' });
    }
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    stream.getVideoTracks()[0]?.addEventListener('ended', () => fail(new Error('The camera stopped')));
    video.muted = true;
    video.playsInline = true;
    video.setAttribute('playsinline', '');
    video.srcObject = stream;
    await video.play();
  } catch (err) {
    fail(err);
    return { stop };
  }

  const tick = async () => {
    if (stopped) return;
    try {
      if (video.readyState >= 2 && video.videoWidth > 0) {
        draw(video, video.videoWidth, video.videoHeight, canvas);
        const text = await decoder.decode(canvas);
        if (stopped) return;
        if (text) {
          stop();
          onCode?.(text);
          return;
        }
      }
    } catch (err) {
      fail(err);
      return;
    }
    timer = setTimeout(tick, SAMPLE_MS);
  };
  tick();
  return { stop };
}

// Decodes the QR code in a picture file. Resolves to its text, or null when the picture holds
// none; rejects (err.kind 'failed') when the file is not a picture the browser can read.
export async function decodeImageFile(file) {
  const decoder = makeDecoder();
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file);
    const canvas = document.createElement('canvas');
    draw(bitmap, bitmap.width, bitmap.height, canvas);
    return await decoder.decode(canvas);
  } catch (err) {
    throw classify(err);
  } finally {
    bitmap?.close();
    decoder.close();
  }
}
