// A fake camera for the browser tests: writeY4m turns a PNG (a QR code made by the test, or a
// Playwright screenshot of one on a page) into a Y4M video that Chromium shows as its camera when
// started with
//   --use-fake-device-for-media-stream --use-fake-ui-for-media-stream
//   --use-file-for-fake-video-capture=<path>
// The picture is centred on white, scaled (nearest neighbour) to fit inside a white margin, and
// the same frame is repeated (Chromium loops the file).
//
// Chromium opens the file each time a capture starts (a getUserMedia when no other capture of
// the fake camera is running) and then reads it frame by frame, looping at the end. So one
// browser can be shown one QR code after another: write the next picture to the same path
// between captures (scan.test.mjs checks this). The file is written beside `path` and renamed
// over it: a capture still running keeps its old file whole, and the next one opens the new.
// Rewriting it in place instead also works between captures, but reaches a running capture
// mid-stream, where Chromium CHECK-fails (crashes its capture process) if a frame read comes up
// short while the file is being rewritten. Keep the size the same for the whole browser process.
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { PNG } from 'pngjs';

export function writeY4m(path, png, { width = 640, height = 480, frames = 30 } = {}) {
  if (width % 2 || height % 2) throw new Error('Y4M 4:2:0 needs an even width and height');
  const img = PNG.sync.read(png); // RGBA, 8 bits a channel, whatever the PNG's own format
  const margin = Math.round(Math.min(width, height) * 0.06);
  const scale = Math.min((width - 2 * margin) / img.width, (height - 2 * margin) / img.height);
  const w = Math.max(1, Math.floor(img.width * scale));
  const h = Math.max(1, Math.floor(img.height * scale));
  const left = Math.floor((width - w) / 2);
  const top = Math.floor((height - h) / 2);

  // RGB of the frame: white, with the picture (composited on white) in the middle.
  const rgb = new Uint8Array(width * height * 3).fill(255);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(img.height - 1, Math.floor(y / scale));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(img.width - 1, Math.floor(x / scale));
      const s = (sy * img.width + sx) * 4;
      const a = img.data[s + 3] / 255;
      const d = ((top + y) * width + left + x) * 3;
      for (let c = 0; c < 3; c++) rgb[d + c] = Math.round(img.data[s + c] * a + 255 * (1 - a));
    }
  }

  // BT.601 full-range YCbCr ("420jpeg"), chroma averaged over each 2x2 block.
  const cw = width / 2;
  const ch = height / 2;
  const frame = Buffer.alloc(width * height + 2 * cw * ch);
  const yPlane = frame.subarray(0, width * height);
  const uPlane = frame.subarray(width * height, width * height + cw * ch);
  const vPlane = frame.subarray(width * height + cw * ch);
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]];
    yPlane[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = ((2 * y + dy) * width + 2 * x + dx) * 3;
        r += rgb[i] / 4; g += rgb[i + 1] / 4; b += rgb[i + 2] / 4;
      }
      const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
      uPlane[y * cw + x] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      vPlane[y * cw + x] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  }

  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`);
    for (let f = 0; f < frames; f++) {
      writeSync(fd, 'FRAME\n');
      writeSync(fd, frame);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
