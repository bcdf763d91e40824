// Tests of crates/web/src/webapp/der.js in Node 20 (WebCrypto as in a browser) and openssl:
//   node tests/browser/der.test.mjs
// The expected signed attributes below were printed once by Rust
// iamsmart_crypto::pki::cms::signed_attributes for the same certificates, digest and times
// (a throwaway example, not kept); the JS output must equal them byte for byte.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  b64u, buildCsr, children, concat, fromB64u, int, oid, p1363ToDer, readTlv, signedAttributes, tlv, x509Time,
} from '../../crates/web/src/webapp/der.js';

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const dir = mkdtempSync(join(tmpdir(), 'der-test-'));
const file = (name, bytes) => { const f = join(dir, name); writeFileSync(f, bytes); return f; };
function openssl(...args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}
let failed = 0;
async function check(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); } catch (e) { failed++; console.log(`not ok - ${name}\n  ${e.stack}`); }
}

// Fixtures. A: v3, issued by a CA with a four-RDN issuer (UTF8String Chinese O), serial with its
// high bit set. B: v1 (no [0] version), self-signed, short serial.
const b64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const CERT_A = b64(`MIIB0DCCAXagAwIBAgIRAI8sShnTteYHESIzRFVmd4gwCgYIKoZIzj0EAwIwXTELMAkGA1UEBhMC
SEsxGzAZBgNVBAoMEummmea4r+a4rOippuapn+anizEXMBUGA1UECwwOaUFNIFNtYXJ0IFRlc3Qx
GDAWBgNVBAMMD1Rlc3QgSXNzdWluZyBDQTAeFw0yNjEyMDYwODQxMzFaFw0yNzEyMDYwODQxMzFa
MBQxEjAQBgNVBAMMCemZs+Wkp+aWhzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABOn8wN7PsWc6
QeT5uQX8gEaVuCnxCEVqgKD9R76vK0xPdurhxv9hSwJTfo5eqgIHRH+fjIh6ST5BJRziFMCB2d+j
YDBeMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgbAMB0GA1UdDgQWBBQkMUMDVgkJBEEjY07E
jcKz5KLA7zAfBgNVHSMEGDAWgBRYXGFcyqA2SWsTdpz/1H6FM/I9GDAKBggqhkjOPQQDAgNIADBF
AiEAkf+99yN1j1ACCxcGknFOMfpoqS3Sz0GjMNitb32qy1ICIBlFny381/HxKbgPn65qq50a4M3z
jqMQMuGy0hiqmEaS`);
const CERT_B = b64(`MIIBETCBtwICASMwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJ6Zmz5aSn5paHMB4XDTI2MTIwNjA4
NDEyNloXDTI3MTIwNjA4NDEyNlowFDESMBAGA1UEAwwJ6Zmz5aSn5paHMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAE6fzA3s+xZzpB5Pm5BfyARpW4KfEIRWqAoP1Hvq8rTE926uHG/2FLAlN+jl6q
AgdEf5+MiHpJPkElHOIUwIHZ3zAKBggqhkjOPQQDAgNJADBGAiEAw4U2aygSqTa592IwkLdPSpew
omgSSXgvGkUEprixR18CIQDdYW2q8Pz/1BiYRyLWPBAncdUi+SK9TbT4v1K/3r60Tw==`);
const DIGEST = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const RUST = [
  [CERT_A, 1781234567, `
    3182011f301806092a864886f70d010903310b06092a864886f70d010701301c06092a864886f70d010905310f170d32
    36303631323033323234375a302f06092a864886f70d0109043122042001080f161d242b323940474e555c636a71787f
    868d949ba2a9b0b7bec5ccd3da3081b3060b2a864886f70d010910022f3181a33081a030819d30819a0420171cfd8120
    f938e0f0e028737e3d43b649a3a596c065734e9408147cbf47a35c30763061a45f305d310b300906035504061302484b
    311b3019060355040a0c12e9a699e6b8afe6b8ace8a9a6e6a99fe6a78b31173015060355040b0c0e69414d20536d6172
    7420546573743118301606035504030c0f546573742049737375696e672043410211008f2c4a19d3b5e6071122334455
    667788`],
  [CERT_A, 2524608000, `
    31820121301806092a864886f70d010903310b06092a864886f70d010701301e06092a864886f70d0109053111180f32
    303530303130313030303030305a302f06092a864886f70d0109043122042001080f161d242b323940474e555c636a71
    787f868d949ba2a9b0b7bec5ccd3da3081b3060b2a864886f70d010910022f3181a33081a030819d30819a0420171cfd
    8120f938e0f0e028737e3d43b649a3a596c065734e9408147cbf47a35c30763061a45f305d310b300906035504061302
    484b311b3019060355040a0c12e9a699e6b8afe6b8ace8a9a6e6a99fe6a78b31173015060355040b0c0e69414d20536d
    61727420546573743118301606035504030c0f546573742049737375696e672043410211008f2c4a19d3b5e607112233
    4455667788`],
  [CERT_B, null, `
    3181a4301806092a864886f70d010903310b06092a864886f70d010701302f06092a864886f70d010904312204200108
    0f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da3057060b2a864886f70d010910022f314830
    46304430420420d5946a39bcc0032b960a1c34aea93dac72215c15e779d19f72ea74ea86e688af301e3018a416301431
    12301006035504030c09e999b3e5a4a7e6968702020123`],
  [CERT_B, 2524607999, `
    3181c2301806092a864886f70d010903310b06092a864886f70d010701301c06092a864886f70d010905310f170d3439
    313233313233353935395a302f06092a864886f70d0109043122042001080f161d242b323940474e555c636a71787f86
    8d949ba2a9b0b7bec5ccd3da3057060b2a864886f70d010910022f31483046304430420420d5946a39bcc0032b960a1c
    34aea93dac72215c15e779d19f72ea74ea86e688af301e3018a41630143112301006035504030c09e999b3e5a4a7e696
    8702020123`],
];

const P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const keyPair = await crypto.subtle.generateKey(P256, false, ['sign', 'verify']);
const pubPem = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(await crypto.subtle.exportKey('spki', keyPair.publicKey)).toString('base64')}\n-----END PUBLIC KEY-----\n`;

await check('helpers: tlv lengths, oid, int, concat, base64url', () => {
  assert.equal(hex(tlv(0x04, new Uint8Array(0x7f))).slice(0, 4), '047f');
  assert.equal(hex(tlv(0x04, new Uint8Array(0x80))).slice(0, 6), '048180');
  assert.equal(hex(tlv(0x04, new Uint8Array(0x1234))).slice(0, 8), '04821234');
  assert.equal(hex(oid('1.2.840.113549.1.9.16.2.47')), '060b2a864886f70d010910022f');
  assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
  assert.equal(hex(oid('2.999.3')), '0603883703');
  for (const bad of ['1', '3.1', '1.40', '1..2', '1.2.x', '1.02']) assert.throws(() => oid(bad), Error, bad);
  assert.equal(hex(int(unhex('000080'))), '02020080');
  assert.equal(hex(int(unhex('0000'))), '020100');
  assert.equal(hex(concat(unhex('01'), new Uint8Array(0), unhex('0203'))), '010203');
  for (let n = 0; n < 70; n++) {
    const b = crypto.getRandomValues(new Uint8Array(n));
    assert.equal(b64u(b), Buffer.from(b).toString('base64url'));
    assert.deepEqual(fromB64u(b64u(b)), b);
  }
  assert.deepEqual(fromB64u('-_8='), unhex('fbff'));
  for (const bad of ['a', 'ab+/', 'ab c', 'abcde', 'a=b=']) assert.throws(() => fromB64u(bad), Error, bad);
});

await check('p1363ToDer: padding, stripping, lengths', () => {
  const r = (first, fill = 0x11) => { const b = new Uint8Array(32).fill(fill); b.set(first); return b; };
  const der = (rb, sb) => hex(p1363ToDer(concat(rb, sb)));
  // High bit on r: 0x00 pad; plain s: as is.
  assert.equal(der(r([0x80]), r([0x7f])), `3045022100${hex(r([0x80]))}0220${hex(r([0x7f]))}`);
  // Leading zeros stripped, then padded again if the next byte has its high bit set.
  assert.equal(der(r([0, 0, 0x7f]), r([0, 0xff])), `3042021e${hex(r([0x7f]).subarray(0, 30))}022000${hex(r([0xff]).subarray(0, 31))}`);
  assert.equal(der(new Uint8Array(32), r([0], 0).fill(1, 31)), '3006020100020101');
  assert.equal(der(r([0xff], 0xff), r([0xff], 0xff)).slice(0, 8), '30460221');
  for (const n of [0, 32, 63, 65, 72]) assert.throws(() => p1363ToDer(new Uint8Array(n)), Error, `length ${n}`);
  assert.throws(() => p1363ToDer([...new Uint8Array(64)]), Error);
});

await check('p1363ToDer: WebCrypto signatures verify with openssl (one with a high bit, one with a leading zero)', async () => {
  const msg = file('msg', new TextEncoder().encode('iAM Smart 智方便'));
  const pem = file('pub.pem', pubPem);
  let high = null; let zero = null;
  for (let i = 0; i < 5000 && !(high && zero); i++) {
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keyPair.privateKey, new TextEncoder().encode('iAM Smart 智方便')));
    if (!high && (sig[0] & 0x80 || sig[32] & 0x80)) high = sig;
    if (!zero && (sig[0] === 0 || sig[32] === 0)) zero = sig;
  }
  assert.ok(high && zero, 'no signature with a high bit or a leading zero in 5000 tries');
  for (const sig of [high, zero]) {
    const der = p1363ToDer(sig);
    const r = openssl('dgst', '-sha256', '-verify', pem, '-signature', file('sig.der', der), msg);
    assert.ok(r.ok && /Verified OK/.test(r.out), r.out);
    const [ri, si] = children(readTlv(der).content);
    for (const x of [ri, si]) {
      assert.ok(x.content[0] < 0x80, 'negative INTEGER');
      assert.ok(x.content[0] !== 0 || x.len === 1 || x.content[1] >= 0x80, 'non-minimal INTEGER');
    }
  }
});

for (const cn of ['device 1', '陳大文的手機']) {
  await check(`buildCsr: openssl verifies it, CN=${cn} round-trips`, async () => {
    const csr = await buildCsr(keyPair, cn);
    const f = file('req.der', csr);
    const v = openssl('req', '-inform', 'DER', '-in', f, '-noout', '-verify');
    assert.ok(v.ok && /verify OK/.test(v.out), v.out);
    const s = openssl('req', '-inform', 'DER', '-in', f, '-noout', '-subject', '-nameopt', 'utf8,sep_comma_plus');
    assert.equal(s.out.trim(), `subject=CN=${cn}`);
    // Shape: version 0, UTF8String CN, our SPKI, attributes A0 00, ecdsa-with-SHA256, BIT STRING.
    const [info, alg, bits] = children(readTlv(csr).content);
    const [ver, subject, spki, attrs] = children(info.content);
    assert.equal(hex(ver.raw), '020100');
    assert.equal(hex(subject.raw), hex(tlv(0x30, tlv(0x31, tlv(0x30, oid('2.5.4.3'), tlv(0x0c, new TextEncoder().encode(cn)))))));
    assert.deepEqual(spki.raw, new Uint8Array(await crypto.subtle.exportKey('spki', keyPair.publicKey)));
    assert.equal(hex(attrs.raw), 'a000');
    assert.equal(hex(alg.raw), '300a06082a8648ce3d040302');
    assert.equal(bits.tag, 0x03);
    assert.equal(bits.content[0], 0);
  });
}

await check('buildCsr: the common name has 1 to 64 characters', async () => {
  await assert.rejects(buildCsr(keyPair, ''), Error);
  await assert.rejects(buildCsr(keyPair, '字'.repeat(65)), Error);
  await buildCsr(keyPair, '字'.repeat(64));
});

for (const [cert, t, expected] of RUST) {
  await check(`signedAttributes equals Rust signed_attributes (cert ${cert === CERT_A ? 'A v3' : 'B v1'}, signingTime ${t})`, async () => {
    const got = await signedAttributes({ digest: DIGEST, certificate: cert, signingTime: t });
    assert.equal(hex(got), hex(unhex(expected)));
    const p = openssl('asn1parse', '-inform', 'DER', '-in', file('attrs.der', got));
    assert.ok(p.ok && /signingCertificateV2/.test(p.out), p.out);
  });
}

await check('signedAttributes: undefined signingTime is absent, bad digest and times are refused', async () => {
  const none = await signedAttributes({ digest: DIGEST, certificate: CERT_B });
  assert.equal(hex(none), hex(unhex(RUST[2][2])));
  await assert.rejects(signedAttributes({ digest: DIGEST.subarray(1), certificate: CERT_B }), Error);
  for (const t of [-1, 1.5, 253402300800, '1781234567']) {
    await assert.rejects(signedAttributes({ digest: DIGEST, certificate: CERT_B, signingTime: t }), Error, String(t));
  }
  assert.equal(hex(x509Time(253402300799)), hex(tlv(0x18, new TextEncoder().encode('99991231235959Z'))));
  assert.equal(hex(x509Time(0)), hex(tlv(0x17, new TextEncoder().encode('700101000000Z'))));
});

await check('signedAttributes: malformed certificates throw an Error', async () => {
  const bad = {
    empty: new Uint8Array(0),
    truncated: CERT_A.subarray(0, CERT_A.length - 1),
    'length past the end': concat(unhex('3084ffffffff'), CERT_A.subarray(4)),
    'not a SEQUENCE': concat(unhex('31'), CERT_A.subarray(1)),
    'indefinite length': concat(unhex('3080'), CERT_A, unhex('0000')),
    '5-octet length': concat(unhex('30850000000100'), CERT_A),
    'trailing bytes': concat(CERT_A, unhex('00')),
    'non-minimal length': concat(unhex('308200'), CERT_A.subarray(2)),
    'short tbsCertificate': tlv(0x30, tlv(0x30, unhex('020101')), tlv(0x30), tlv(0x03, unhex('00'))),
    'serial not an INTEGER': tlv(0x30, tlv(0x30, unhex('040101'), ...Array(5).fill(tlv(0x30))), tlv(0x30), tlv(0x03, unhex('00'))),
    'not bytes': [...CERT_A],
  };
  for (const [what, cert] of Object.entries(bad)) {
    await assert.rejects(signedAttributes({ digest: DIGEST, certificate: cert }), Error, what);
  }
  // Every truncation and many random corruptions end (value or Error), never hang or throw non-Errors.
  for (let n = 0; n < CERT_A.length; n++) {
    await assert.rejects(signedAttributes({ digest: DIGEST, certificate: CERT_A.slice(0, n) }), Error);
  }
  for (let i = 0; i < 3000; i++) {
    const c = CERT_A.slice();
    c[Math.floor(Math.random() * 40)] = Math.floor(Math.random() * 256);
    try { await signedAttributes({ digest: DIGEST, certificate: c }); } catch (e) { assert.ok(e instanceof Error); }
  }
});

await check('readTlv/children: strict reader', () => {
  assert.throws(() => readTlv(unhex('1f0100')), Error);
  assert.throws(() => readTlv(unhex('3081050000000000')), Error); // long form for a short length
  assert.throws(() => readTlv(unhex('30')), Error);
  assert.throws(() => children(unhex('0500ff')), Error);
  const t = readTlv(concat(unhex('ff048181'), new Uint8Array(0x81)), 1);
  assert.deepEqual([t.tag, t.len, t.contentStart, t.end], [0x04, 0x81, 4, 0x85]);
  assert.throws(() => readTlv(concat(unhex('048180'), new Uint8Array(0x7f))), Error);
  assert.deepEqual(children(unhex('05000101ff')).map((x) => x.tag), [0x05, 0x01]);
});

rmSync(dir, { recursive: true, force: true });
if (failed) { console.log(`${failed} failed`); process.exit(1); }
console.log('all ok');
