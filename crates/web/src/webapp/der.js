// der.js: the little ASN.1 DER the resident's app needs, in the browser, with no dependencies.
//  - p1363ToDer: WebCrypto's raw ECDSA P-256 signature (r||s) to DER ECDSA-Sig-Value;
//  - buildCsr: a PKCS#10 request for the app's WebCrypto key (checked on the platform by Rust
//    iamsmart_crypto::pki::csr::verify_csr);
//  - signedAttributes: the CMS signed attributes the app signs for "hash signing", byte for byte
//    what Rust iamsmart_crypto::pki::cms::signed_attributes builds for the same input;
//  - readTlv/children: a strict minimal reader (single-octet tags, definite lengths);
//  - tlv/concat/oid/int/b64u/fromB64u: small builders and base64url.
// Only DER is produced; malformed input is refused with an Error.

const utf8 = new TextEncoder();

/** The bytes of `parts` (Uint8Arrays) one after the other. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
}

/** One DER element: tag octet, minimal definite length, then the contents (concatenated). */
export function tlv(tag, ...contents) {
  const body = concat(...contents);
  let n = body.length;
  let len;
  if (n < 0x80) len = [n];
  else {
    len = [];
    for (; n > 0; n = Math.floor(n / 256)) len.unshift(n & 0xff);
    len.unshift(0x80 | len.length);
  }
  return concat(Uint8Array.of(tag, ...len), body);
}

/** OBJECT IDENTIFIER from dotted form ("1.2.840.10045.4.3.2"). */
export function oid(dotted) {
  const arcs = dotted.split('.').map((s) => {
    if (!/^(0|[1-9]\d{0,15})$/.test(s)) throw new Error(`bad OID ${dotted}`);
    return Number(s);
  });
  if (arcs.length < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39)) throw new Error(`bad OID ${dotted}`);
  const out = [];
  for (const a of [arcs[0] * 40 + arcs[1], ...arcs.slice(2)]) {
    if (!Number.isSafeInteger(a)) throw new Error(`bad OID ${dotted}`);
    const b = [a % 128];
    for (let v = Math.floor(a / 128); v > 0; v = Math.floor(v / 128)) b.unshift(0x80 | v % 128);
    out.push(...b);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** A positive INTEGER from unsigned big-endian bytes, minimal (leading zeros dropped, 0x00 pad if the high bit is set). */
export function int(bytes) {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.length ? bytes.subarray(i) : Uint8Array.of(0);
  return tlv(0x02, v[0] & 0x80 ? Uint8Array.of(0) : new Uint8Array(0), v);
}

/** base64url without padding. */
export function b64u(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Bytes of base64url (padding optional); Error on anything else. */
export function fromB64u(str) {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(str) || str.replace(/=+$/, '').length % 4 === 1) throw new Error('not base64url');
  const s = str.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(s + '='.repeat((4 - (s.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/**
 * The DER element starting at `off` in `buf`: {tag, start, len, contentStart, end, raw, content}.
 * Refuses multi-octet tags, indefinite and non-minimal lengths, lengths of more than 4 octets
 * and anything running past the end of `buf`.
 */
export function readTlv(buf, off = 0) {
  if (off + 2 > buf.length) throw new Error('DER: truncated element');
  const tag = buf[off];
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-octet tags are not supported');
  let len = buf[off + 1];
  let p = off + 2;
  if (len === 0x80) throw new Error('DER: indefinite length');
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4) throw new Error('DER: length of more than 4 octets');
    if (p + n > buf.length) throw new Error('DER: truncated length');
    if (buf[p] === 0) throw new Error('DER: non-minimal length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++];
    if (len < 0x80) throw new Error('DER: non-minimal length');
  }
  const end = p + len;
  if (end > buf.length) throw new Error('DER: length past the end');
  return { tag, start: off, len, contentStart: p, end, raw: buf.subarray(off, end), content: buf.subarray(p, end) };
}

/** The elements that make up `content` exactly (each advances by at least 2 octets). */
export function children(content) {
  const out = [];
  for (let off = 0; off < content.length; off = out[out.length - 1].end) out.push(readTlv(content, off));
  return out;
}

/** WebCrypto's ECDSA P-256 signature (r||s, 64 bytes) as DER ECDSA-Sig-Value. */
export function p1363ToDer(sig) {
  if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new Error('an ECDSA P-256 signature is 64 bytes (r||s)');
  return tlv(0x30, int(sig.subarray(0, 32)), int(sig.subarray(32)));
}

const ECDSA_SHA256 = tlv(0x30, oid('1.2.840.10045.4.3.2'));

/** PKCS#10 request (RFC 2986) with subject CN=`commonName`, signed by `keyPair` (WebCrypto ECDSA P-256). */
export async function buildCsr(keyPair, commonName) {
  const chars = [...String(commonName)].length;
  if (chars < 1 || chars > 64) throw new Error('the common name must have 1 to 64 characters');
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keyPair.publicKey));
  const subject = tlv(0x30, tlv(0x31, tlv(0x30, oid('2.5.4.3'), tlv(0x0c, utf8.encode(commonName)))));
  const info = tlv(0x30, tlv(0x02, Uint8Array.of(0)), subject, spki, Uint8Array.of(0xa0, 0));
  const raw = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keyPair.privateKey, info));
  return tlv(0x30, info, ECDSA_SHA256, tlv(0x03, Uint8Array.of(0), p1363ToDer(raw)));
}

/**
 * The issuer Name and serialNumber INTEGER of a certificate, as raw DER (views into `cert`).
 * Rust decodes and re-encodes them, which gives the same bytes for any DER certificate.
 */
export function issuerAndSerial(cert) {
  if (!(cert instanceof Uint8Array)) throw new Error('certificate: not bytes');
  const c = readTlv(cert);
  if (c.tag !== 0x30 || c.end !== cert.length) throw new Error('certificate: not one DER SEQUENCE');
  const top = children(c.content);
  if (top.length !== 3 || top[0].tag !== 0x30) throw new Error('certificate: not tbsCertificate, algorithm, signature');
  const f = children(top[0].content);
  const i = f.length && f[0].tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version is optional
  if (f.length < i + 6) throw new Error('certificate: tbsCertificate is too short');
  const [serial, , issuer] = f.slice(i);
  if (serial.tag !== 0x02 || !serial.len) throw new Error('certificate: no serialNumber');
  if (issuer.tag !== 0x30) throw new Error('certificate: no issuer Name');
  return { issuer: issuer.raw, serial: serial.raw };
}

/** RFC 5280 time of Unix seconds: UTCTime (YYMMDDHHMMSSZ) before 2050, GeneralizedTime from 2050. */
export function x509Time(t) {
  if (!Number.isSafeInteger(t) || t < 0 || t > 253402300799) throw new Error(`time ${t} is not Unix seconds up to the year 9999`);
  const d = new Date(t * 1000);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  const rest = p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds()) + 'Z';
  const y = d.getUTCFullYear();
  return y < 2050 ? tlv(0x17, utf8.encode(p(y % 100) + rest)) : tlv(0x18, utf8.encode(p(y, 4) + rest));
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** DER SET OF: the elements sorted by their encodings (what Rust der's SetOfVec does). */
export function setOf(elements) {
  return tlv(0x31, ...[...elements].sort(compareBytes));
}

const attribute = (type, value) => tlv(0x30, oid(type), tlv(0x31, value));

/**
 * The CMS signed attributes (DER SET OF Attribute, tag 0x31) the app signs: contentType id-data,
 * messageDigest, signingCertificateV2 (SHA-256 of `certificate`, with its issuer and serial) and,
 * if `signingTime` (Unix seconds) is given, signingTime.
 */
export async function signedAttributes({ digest, certificate, signingTime }) {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) throw new Error('the content digest is 32 bytes (SHA-256)');
  const { issuer, serial } = issuerAndSerial(certificate);
  const certHash = new Uint8Array(await crypto.subtle.digest('SHA-256', certificate));
  // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash, issuerSerial { GeneralNames { [4] issuer }, serial } } }
  const essCertId = tlv(0x30, tlv(0x04, certHash), tlv(0x30, tlv(0x30, tlv(0xa4, issuer)), serial));
  const attrs = [
    attribute('1.2.840.113549.1.9.3', oid('1.2.840.113549.1.7.1')),
    attribute('1.2.840.113549.1.9.4', tlv(0x04, digest)),
    attribute('1.2.840.113549.1.9.16.2.47', tlv(0x30, tlv(0x30, essCertId))),
  ];
  if (signingTime !== null && signingTime !== undefined) attrs.push(attribute('1.2.840.113549.1.9.5', x509Time(signingTime)));
  return setOf(attrs);
}
