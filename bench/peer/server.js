// A minimal OpenID provider on oidc-provider: the peer that iamsmart's login benchmark is
// compared with. Same protocol work per login as iamsmart where oidc-provider offers it:
// PAR (required), private_key_jwt, PKCE S256, DPoP-bound tokens, pairwise subjects, rotating
// refresh tokens, ES256 ID tokens, userinfo. The login step is the resident's phone approving a
// request shown as a QR code with a match code: the phone opens the request and posts a
// decision, each call signed by its P-256 device key, the decision signed over the request's
// challenge and match code. Everything lives in memory (no durability).
//
// Listens on 127.0.0.1 only. PEER_PORT (default 8090) and PEER_SETUP_TOKEN (required: guards
// client registration and device enrolment, used by the load generator's setup).
import crypto from 'node:crypto';
import http from 'node:http';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PEER_PORT || 8090);
const setupToken = process.env.PEER_SETUP_TOKEN;
if (!setupToken || setupToken.length < 16) {
  console.error('PEER_SETUP_TOKEN (at least 16 characters) is required');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const random = (n) => b64u(crypto.randomBytes(n));
const nowS = () => Math.floor(Date.now() / 1000);

// ---- storage: a plain in-memory adapter (oidc-provider's own evicts after 1,000 entries) ----
const store = new Map(); // "Model:id" -> { payload, exp }
const byGrant = new Map(); // grantId -> Set of "Model:id"
const byUid = new Map(); // session uid -> id

class MemoryAdapter {
  constructor(name) {
    this.name = name;
  }

  key(id) {
    return `${this.name}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const exp = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { payload, exp });
    if (payload.grantId) {
      let set = byGrant.get(payload.grantId);
      if (!set) {
        set = new Set();
        byGrant.set(payload.grantId, set);
      }
      set.add(key);
    }
    if (this.name === 'Session' && payload.uid) {
      byUid.set(payload.uid, id);
    }
  }

  async find(id) {
    const key = this.key(id);
    const e = store.get(key);
    if (!e) return undefined;
    if (e.exp <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return e.payload;
  }

  async findByUid(uid) {
    const id = byUid.get(uid);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const e = store.get(this.key(id));
    if (e) e.payload.consumed = nowS();
  }

  async destroy(id) {
    const key = this.key(id);
    const e = store.get(key);
    if (e && this.name === 'Session' && e.payload.uid) byUid.delete(e.payload.uid);
    store.delete(key);
  }

  async revokeByGrantId(grantId) {
    for (const key of byGrant.get(grantId) || []) store.delete(key);
    byGrant.delete(grantId);
  }
}

// Expired entries are dropped every 10 s (the timer does not keep the process alive).
setInterval(() => {
  const now = Date.now();
  for (const [key, e] of store) {
    if (e.exp <= now) {
      store.delete(key);
      if (key.startsWith('Session:') && e.payload.uid) byUid.delete(e.payload.uid);
    }
  }
  for (const [g, set] of byGrant) {
    for (const key of set) if (!store.has(key)) set.delete(key);
    if (set.size === 0) byGrant.delete(g);
  }
  for (const [jti, exp] of seenJti) if (exp <= now) seenJti.delete(jti);
  for (const [uid, l] of logins) if (l.exp <= now) logins.delete(uid);
}, 10_000).unref();

// ---- residents, their devices, and logins waiting for the phone ----
const accounts = new Map(); // accountId -> claims
const devices = new Map(); // deviceId -> { accountId, key }
const logins = new Map(); // interaction uid -> { challenge, matchCode, status, accountId, exp, fields }
const seenJti = new Map(); // device request jti -> expiry (ms)

async function findAccount(_ctx, id) {
  const claims = accounts.get(id);
  if (!claims) return undefined;
  return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
}

const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: `peer-${random(6)}`, alg: 'ES256', use: 'sig' };
const pairwiseSalt = crypto.randomBytes(32);

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  findAccount,
  jwks: { keys: [signingJwk] },
  cookies: { keys: [random(32)] },
  claims: { openid: ['sub'], profile: ['name', 'birthdate', 'gender', 'locale'] },
  subjectTypes: ['public', 'pairwise'],
  pairwiseIdentifier: async (_ctx, accountId, client) =>
    b64u(crypto.createHmac('sha256', pairwiseSalt).update(`${client.sectorIdentifier}|${accountId}`).digest()),
  features: {
    devInteractions: { enabled: false },
    dPoP: { enabled: true },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    registration: { enabled: true, initialAccessToken: setupToken },
    userinfo: { enabled: true },
    revocation: { enabled: true },
  },
  clientAuthMethods: ['private_key_jwt'],
  pkce: { required: () => true },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: 600,
    Interaction: 300,
    PushedAuthorizationRequest: 90,
    Session: 1800,
    Grant: 30 * 86400,
    RefreshToken: 30 * 86400,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
});

// ---- HTTP ----
function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

async function readBody(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > limit) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function loginPage(uid, l, clientName) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head><body>
<main><h1>Sign in with your phone</h1><p>${esc(clientName)} asks you to sign in.</p>
<figure><code id="qr-payload">peer:approve?id=${esc(uid)}</code></figure>
<p class="code" id="match-code">${esc(l.matchCode)}</p>
<ul>${l.fields.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>
<p><a class="button" id="continue" href="/interaction/${esc(uid)}/continue">Continue</a></p></main></body></html>`;
}

// A request signed by a bound device: the same claims iamsmart's app signs (method, path,
// time, single-use id, body hash). Returns the device.
async function deviceCaller(req, path, body) {
  const sig = req.headers['device-signature'];
  if (!sig) throw Object.assign(new Error('sign the request'), { status: 401 });
  const header = jose.decodeProtectedHeader(sig);
  const device = devices.get(header.kid);
  if (!device) throw Object.assign(new Error('unknown device'), { status: 401 });
  const { payload, protectedHeader } = await jose.compactVerify(sig, device.key, { algorithms: ['ES256'] });
  const c = JSON.parse(Buffer.from(payload).toString());
  const bh = b64u(crypto.createHash('sha256').update(body).digest());
  if (protectedHeader.typ !== 'iamsmart-device+jwt' || c.htm !== req.method || c.htp !== path || c.bh !== bh
    || Math.abs(c.iat - nowS()) > 60 || typeof c.jti !== 'string' || c.jti.length < 16 || seenJti.has(c.jti)) {
    throw Object.assign(new Error('bad device signature'), { status: 401 });
  }
  seenJti.set(c.jti, Date.now() + 180_000);
  return { id: header.kid, ...device };
}

async function interaction(req, res, path) {
  const m = path.match(/^\/interaction\/([\w-]+)(\/continue)?$/);
  if (!m || req.method !== 'GET') return send(res, 404, { error: 'not_found' });
  const details = await provider.interactionDetails(req, res);
  const { uid, params } = details;
  const client = await provider.Client.find(params.client_id);
  let l = logins.get(uid);
  if (!m[2]) {
    if (!l) {
      l = {
        challenge: random(24),
        matchCode: String(crypto.randomInt(10000)).padStart(4, '0'),
        status: 'pending',
        exp: Date.now() + 120_000,
        fields: String(params.scope || '').split(' ').filter((s) => s && s !== 'openid'),
      };
      logins.set(uid, l);
    }
    return send(res, 200, loginPage(uid, l, client?.clientName || params.client_id));
  }
  if (!l || l.exp <= Date.now()) return send(res, 400, { error: 'expired' });
  if (l.status !== 'approved') return send(res, 200, loginPage(uid, l, client?.clientName || params.client_id));
  logins.delete(uid);
  const grant = new provider.Grant({ accountId: l.accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope));
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, {
    login: { accountId: l.accountId, amr: ['swk', 'pin'], acr: 'urn:peer:acr:device' },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

async function app(req, res, path) {
  const m = path.match(/^\/app\/requests\/([\w-]+)(\/decision)?$/);
  if (!m) return send(res, 404, { error: 'not_found' });
  const body = await readBody(req);
  const caller = await deviceCaller(req, path, body);
  const l = logins.get(m[1]);
  if (!l || l.exp <= Date.now()) return send(res, 404, { error: 'unknown request' });
  if (!m[2] && req.method === 'GET') {
    if (l.status === 'pending') {
      l.status = 'scanned';
      l.accountId = caller.accountId;
    }
    if (l.accountId !== caller.accountId) return send(res, 404, { error: 'unknown request' });
    return send(res, 200, { id: m[1], challenge: l.challenge, match_code: l.matchCode, status: l.status, fields: l.fields });
  }
  if (!m[2] || req.method !== 'POST') return send(res, 405, { error: 'method' });
  if (l.accountId !== caller.accountId || l.status !== 'scanned') return send(res, 409, { error: 'request closed' });
  const { signed } = JSON.parse(body.toString());
  const { payload, protectedHeader } = await jose.compactVerify(signed, caller.key, { algorithms: ['ES256'] });
  const c = JSON.parse(Buffer.from(payload).toString());
  if (protectedHeader.typ !== 'iamsmart-approval+jwt' || protectedHeader.kid !== caller.id || c.rid !== m[1]
    || c.challenge !== l.challenge || c.match_code !== l.matchCode) {
    return send(res, 400, { error: 'decision-mismatch' });
  }
  l.status = c.decision === 'approve' ? 'approved' : 'denied';
  l.evidence = signed;
  return send(res, 200, { id: m[1], status: l.status });
}

function authorizedSetup(req) {
  const got = Buffer.from(req.headers.authorization || '');
  const want = Buffer.from(`Bearer ${setupToken}`);
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

async function bench(req, res, path) {
  if (!authorizedSetup(req)) return send(res, 401, { error: 'setup token' });
  if (path === '/bench/enrol' && req.method === 'POST') {
    const { public_jwk: jwk, name } = JSON.parse((await readBody(req)).toString());
    if (jwk?.kty !== 'EC' || jwk.crv !== 'P-256' || jwk.d) return send(res, 400, { error: 'P-256 public key' });
    const accountId = `acct-${random(9)}`;
    const deviceId = `dev-${random(9)}`;
    accounts.set(accountId, { name: name || 'Test resident', birthdate: '1980-02-29', gender: 'male', locale: 'en-HK' });
    devices.set(deviceId, { accountId, key: await jose.importJWK({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, 'ES256') });
    return send(res, 201, { account_id: accountId, device_id: deviceId });
  }
  if (path === '/bench/stats' && req.method === 'GET') {
    const counts = {};
    for (const key of store.keys()) {
      const model = key.slice(0, key.indexOf(':'));
      counts[model] = (counts[model] || 0) + 1;
    }
    return send(res, 200, { entries: counts, logins_waiting: logins.size, rss_mib: process.memoryUsage().rss / 1048576 });
  }
  return send(res, 404, { error: 'not_found' });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const path = req.url.split('?')[0];
  try {
    if (path.startsWith('/interaction/')) return await interaction(req, res, path);
    if (path.startsWith('/app/')) return await app(req, res, path);
    if (path.startsWith('/bench/')) return await bench(req, res, path);
    return callback(req, res);
  } catch (e) {
    if (!res.headersSent) send(res, e.status || 400, { error: e.name || 'error', error_description: e.message });
    return undefined;
  }
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`peer provider on ${issuer} (oidc-provider)`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
