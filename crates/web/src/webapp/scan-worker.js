// scan-worker.js: decodes QR codes off the page's main thread with jsQR (vendor/jsQR.js), for
// browsers without a working BarcodeDetector. A classic worker, started by scan.js: each message
// is an ImageData; the answer is { data: text } for the QR code found in it, or null.
importScripts('./vendor/jsQR.js');

self.onmessage = (event) => {
  const image = event.data;
  const code = self.jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' });
  self.postMessage(code ? { data: code.data } : null);
};
