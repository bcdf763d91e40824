// The provider as panva's openid-client (an OpenID certified relying-party library) sees it.
// Run by interop/run, which starts the server and registers the resident and the clients.
//
// The library does: discovery, authorization URLs, PAR, PKCE, client_secret_basic and
// private_key_jwt, DPoP proofs, the callback checks (state, iss, errors), the token requests,
// ID token validation (signature against the published JWKS, with non-repudiation checks on;
// iss, aud, azp, nonce, exp, iat, auth_time), userinfo (sub checked), refresh, introspection,
// revocation, CIBA poll mode and the end-session URL. This file does the resident's part: a
// browser without JavaScript (fetch with a cookie jar) and the app CLI.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { Browser, app, env, login, rotateTokenKey } from './browser.mjs';

const read = (...p) => JSON.parse(readFileSync(join(env.dir, ...p), 'utf8'));
const home = join(env.dir, 'app-node');
const resident = read('resident-node.json');
const issuer = new URL(env.issuer);
const options = { execute: [oidc.allowInsecureRequests], timeout: 15 };
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const header = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());

/** A Configuration from discovery, with ID token signatures checked against the JWKS. */
async function configure(name, auth) {
  const c = read('clients', `${name}.json`);
  const config = await oidc.discovery(issuer, c.client_id, {}, await auth(c), options);
  oidc.enableNonRepudiationChecks(config);
  return config;
}
const secretBasic = (c) => oidc.ClientSecretBasic(c.client_secret);
const privateKeyJwt = (name) => async () => {
  const jwk = read('keys', `${name}.jwk`);
  const key = await webcrypto.subtle.importKey(
    'jwk',
    jwk,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  return oidc.PrivateKeyJwt({ key, kid: jwk.kid });
};

/** RFC 7638 thumbprint of a public EC key. */
async function thumbprint(publicKey) {
  const { crv, kty, x, y } = await webcrypto.subtle.exportKey('jwk', publicKey);
  return b64url(createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest());
}

/** What an authorization request needs: PKCE, state, nonce. */
async function request(scope, extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const params = {
    redirect_uri: env.redirectUri,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  };
  const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce };
  return { params, checks: { ...checks, idTokenExpected: true } };
}

async function rejects(promise, check) {
  await assert.rejects(promise, (e) => {
    check(e);
    return true;
  });
}

/** An error and its causes, with the HTTP status and body of a response among them. */
async function describe(error) {
  const parts = [];
  let e = error;
  for (let i = 0; e && i < 4; i += 1, e = e.cause) {
    if (e instanceof Response) {
      parts.push(`HTTP ${e.status} ${e.bodyUsed ? '' : await e.text()}`);
    } else if (e instanceof Error) {
      parts.push(e.error ? `${e.message} (${e.error}: ${e.error_description})` : e.message);
    } else {
      parts.push(JSON.stringify(e));
    }
  }
  return parts.join(' <- ');
}

const initialToken = () => read('initial-token-node.json').initial_access_token;

/**
 * A redirect URI on a host of its own, for a client the library registers itself: a
 * self-registered client may not share the sector (host) of a service already registered.
 */
const ownRedirect = (name) => `https://${name}.interop.example/callback`;

const state = {};

test('discovery: the library accepts the metadata', async () => {
  const config = await configure('node-basic', secretBasic);
  const m = config.serverMetadata();
  assert.equal(m.issuer, env.issuer);
  assert.ok(m.supportsPKCE('S256'));
  assert.equal(m.authorization_response_iss_parameter_supported, true);
  state.basic = config;
});

test('basic client: code flow with PKCE and client_secret_basic, userinfo', async () => {
  const config = state.basic;
  const { params, checks } = await request('openid profile email phone address eme.hkid', {
    ui_locales: 'zh-HK',
  });
  const url = oidc.buildAuthorizationUrl(config, params);
  const browser = new Browser();
  const back = await login(browser, home, url);
  assert.ok(back.approved, 'the app was asked');
  assert.equal(back.url.searchParams.get('iss'), env.issuer);
  // The library checks state and iss, redeems the code and validates the ID token.
  const tokens = await oidc.authorizationCodeGrant(config, back.url, checks);
  assert.equal(tokens.token_type, 'bearer');
  assert.ok(oidc.getJwksCache(config), 'the ID token signature was checked with the JWKS');
  const claims = tokens.claims();
  assert.equal(claims.iss, env.issuer);
  assert.equal(claims.aud, config.clientMetadata().client_id);
  assert.equal(claims.nonce, checks.expectedNonce);
  assert.equal(claims.acr, 'urn:iamsmart:acr:plus');
  assert.notEqual(claims.sub, resident.resident_id, 'a pairwise subject');
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.hkid, resident.hkid);
  assert.equal(info.name, resident.name_en);
  assert.equal(info['name#zh-Hant-HK'], resident.name_zh);
  assert.equal(info.email, 'resident@example.hk');
  assert.equal(info.phone_number, '+85291234567');
  assert.equal(info.address.locality, 'Sha Tin');
  Object.assign(state, { browser, tokens, sub: claims.sub });
});

test('basic client: introspection, refresh with a new ID token, reuse detection', async () => {
  const config = state.basic;
  const t1 = state.tokens;
  const i = await oidc.tokenIntrospection(config, t1.access_token);
  assert.equal(i.active, true);
  assert.equal(i.sub, state.sub);
  assert.equal(i.client_id, config.clientMetadata().client_id);
  const t2 = await oidc.refreshTokenGrant(config, t1.refresh_token);
  assert.notEqual(t2.refresh_token, t1.refresh_token, 'refresh tokens rotate');
  assert.equal(t2.claims().sub, state.sub, 'the refreshed ID token was validated');
  assert.equal((await oidc.tokenIntrospection(config, t2.access_token)).active, true);
  // A rotated refresh token used again ends the whole grant.
  await rejects(oidc.refreshTokenGrant(config, t1.refresh_token), (e) => {
    assert.ok(e instanceof oidc.ResponseBodyError, String(e));
    assert.equal(e.error, 'invalid_grant');
  });
  assert.equal((await oidc.tokenIntrospection(config, t2.access_token)).active, false);
  await rejects(oidc.refreshTokenGrant(config, t2.refresh_token), (e) => {
    assert.equal(e.error, 'invalid_grant');
  });
});

test('basic client: single sign-on, revocation', async () => {
  const config = state.basic;
  const { params, checks } = await request('openid profile eme.hkid');
  const back = await login(state.browser, home, oidc.buildAuthorizationUrl(config, params));
  assert.equal(back.approved, false, 'a live session and remembered consent: no app needed');
  const tokens = await oidc.authorizationCodeGrant(config, back.url, checks);
  assert.equal(tokens.claims().sub, state.sub);
  await oidc.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
  assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false);
  await rejects(oidc.fetchUserInfo(config, tokens.access_token, state.sub), (e) => {
    assert.ok(e instanceof oidc.WWWAuthenticateChallengeError, String(e));
    assert.equal(e.cause[0].parameters.error, 'invalid_token');
  });
  state.idToken = tokens.id_token;
});

test('basic client: RP-initiated logout, then prompt=none is login_required', async () => {
  const config = state.basic;
  const logoutState = oidc.randomState();
  const url = oidc.buildEndSessionUrl(config, {
    id_token_hint: state.idToken,
    post_logout_redirect_uri: env.postLogoutUri,
    state: logoutState,
  });
  const res = await state.browser.get(url);
  assert.ok(res.status >= 300 && res.status < 400, `logout answered ${res.status}`);
  const to = new URL(res.headers.get('location'));
  assert.equal(`${to.origin}${to.pathname}`, env.postLogoutUri);
  assert.equal(to.searchParams.get('state'), logoutState);
  const { params, checks } = await request('openid', { prompt: 'none' });
  const back = await login(state.browser, home, oidc.buildAuthorizationUrl(config, params));
  await rejects(oidc.authorizationCodeGrant(config, back.url, checks), (e) => {
    assert.ok(e instanceof oidc.AuthorizationResponseError, String(e));
    assert.equal(e.error, 'login_required');
  });
});

test('FAPI 2.0 client: PAR, private_key_jwt and DPoP; userinfo, refresh, introspection', async () => {
  const config = await configure('node-fapi2', privateKeyJwt('node-fapi2'));
  const keys = await oidc.randomDPoPKeyPair('ES256');
  const DPoP = oidc.getDPoPHandle(config, keys);
  const jkt = await thumbprint(keys.publicKey);

  // Without PAR the provider refuses, in a redirect the library understands.
  const plain = await request('openid');
  const browser = new Browser();
  const refused = await login(browser, home, oidc.buildAuthorizationUrl(config, plain.params));
  await rejects(oidc.authorizationCodeGrant(config, refused.url, plain.checks), (e) => {
    assert.ok(e instanceof oidc.AuthorizationResponseError, String(e));
    assert.equal(e.error, 'invalid_request');
  });

  const { params, checks } = await request('openid profile eme.hkid');
  const url = await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP });
  assert.match(url.searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:/);
  const back = await login(browser, home, url);
  const tokens = await oidc.authorizationCodeGrant(config, back.url, checks, undefined, { DPoP });
  assert.equal(tokens.token_type, 'dpop');
  assert.equal(payload(tokens.access_token).cnf.jkt, jkt, 'bound to the library’s DPoP key');
  const sub = tokens.claims().sub;
  const info = await oidc.fetchUserInfo(config, tokens.access_token, sub, { DPoP });
  assert.equal(info.hkid, resident.hkid);
  // The same token without its proof is refused.
  await rejects(oidc.fetchUserInfo(config, tokens.access_token, sub), (e) => {
    assert.ok(e instanceof oidc.WWWAuthenticateChallengeError, String(e));
    assert.equal(e.cause[0].scheme, 'dpop');
  });
  const i = await oidc.tokenIntrospection(config, tokens.access_token);
  assert.equal(i.active, true);
  assert.equal(i.cnf.jkt, jkt);
  const t2 = await oidc.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  assert.equal(t2.token_type, 'dpop');
  assert.equal(t2.claims().sub, sub);
  assert.equal(payload(t2.access_token).cnf.jkt, jkt);
  Object.assign(state, { fapi: config, DPoP, fapiSub: sub, fapiTokens: t2, fapiBrowser: browser });
});

test('FAPI 2.0 client: a signed request object (JAR) pushed with PAR', async () => {
  const config = state.fapi;
  const jwk = read('keys', 'node-fapi2.jwk');
  const key = await webcrypto.subtle.importKey(
    'jwk',
    jwk,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const { params, checks } = await request('openid eme.hkid');
  const jar = await oidc.buildAuthorizationUrlWithJAR(config, params, { key, kid: jwk.kid });
  assert.ok(jar.searchParams.get('request'));
  const url = await oidc.buildAuthorizationUrlWithPAR(config, jar.searchParams, {
    DPoP: state.DPoP,
  });
  const back = await login(state.fapiBrowser, home, url);
  assert.equal(back.approved, false, 'single sign-on');
  const tokens = await oidc.authorizationCodeGrant(config, back.url, checks, undefined, {
    DPoP: state.DPoP,
  });
  assert.equal(tokens.claims().sub, state.fapiSub);
  assert.equal(tokens.claims().nonce, checks.expectedNonce, 'the nonce came from the request object');
});

test('dynamic registration (RFC 7591) of a FAPI 2.0 client by the library, then a login', async () => {
  const { publicKey, privateKey } = await webcrypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['sign', 'verify'],
  );
  const jwk = { ...(await webcrypto.subtle.exportKey('jwk', publicKey)), kid: 'dyn-1', alg: 'ES256' };
  const config = await oidc.dynamicClientRegistration(
    issuer,
    {
      client_name: 'Interop node dynamic',
      redirect_uris: [ownRedirect('dynamic-fapi')],
      jwks: { keys: [jwk] },
      token_endpoint_auth_method: 'private_key_jwt',
      dpop_bound_access_tokens: true,
      require_pushed_authorization_requests: true,
    },
    oidc.PrivateKeyJwt({ key: privateKey, kid: 'dyn-1' }),
    { ...options, initialAccessToken: initialToken() },
  );
  oidc.enableNonRepudiationChecks(config);
  assert.ok(config.clientMetadata().registration_access_token);
  const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
  const { params, checks } = await request('openid', { redirect_uri: ownRedirect('dynamic-fapi') });
  const url = await oidc.buildAuthorizationUrlWithPAR(config, params, { DPoP });
  const back = await login(new Browser(), home, url);
  const tokens = await oidc.authorizationCodeGrant(config, back.url, checks, undefined, { DPoP });
  assert.equal(tokens.token_type, 'dpop');
});

test(
  'dynamic registration of a client with a secret',
  async () => {
    const config = await oidc.dynamicClientRegistration(
      issuer,
      {
        client_name: 'Interop node dynamic basic',
        redirect_uris: [ownRedirect('dynamic-basic')],
        token_endpoint_auth_method: 'client_secret_basic',
        iamsmart_profile: 'basic',
      },
      undefined,
      { ...options, initialAccessToken: initialToken() },
    );
    assert.ok(config.clientMetadata().client_secret);
  },
);

test(
  'dynamic registration with standard metadata the provider does not use',
  async () => {
    const { publicKey } = await webcrypto.subtle.generateKey(
      { name: 'ECDSA', namedCurve: 'P-256' },
      true,
      ['sign', 'verify'],
    );
    await oidc.dynamicClientRegistration(
      issuer,
      {
        client_name: 'Interop node dynamic web',
        application_type: 'web',
        redirect_uris: [ownRedirect('dynamic-web')],
        jwks: { keys: [await webcrypto.subtle.exportKey('jwk', publicKey)] },
        token_endpoint_auth_method: 'private_key_jwt',
        dpop_bound_access_tokens: true,
        require_pushed_authorization_requests: true,
      },
      undefined,
      { ...options, initialAccessToken: initialToken() },
    );
  },
);

test(
  'a client registered for RS256 ID tokens, as discovery offers',
  async () => {
    const meta = state.basic.serverMetadata();
    if (!meta.id_token_signing_alg_values_supported.includes('RS256')) return;
    const res = await fetch(new URL('/register', issuer), {
      method: 'POST',
      headers: { authorization: `Bearer ${initialToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Interop node RS256',
        redirect_uris: [ownRedirect('rs256')],
        token_endpoint_auth_method: 'client_secret_basic',
        iamsmart_profile: 'basic',
        id_token_signed_response_alg: 'RS256',
      }),
      signal: AbortSignal.timeout(15_000),
    });
    assert.equal(res.status, 201);
    const reg = await res.json();
    const config = await oidc.discovery(
      issuer,
      reg.client_id,
      { id_token_signed_response_alg: 'RS256' },
      oidc.ClientSecretBasic(reg.client_secret),
      options,
    );
    const { params, checks } = await request('openid', { redirect_uri: ownRedirect('rs256') });
    const back = await login(new Browser(), home, oidc.buildAuthorizationUrl(config, params));
    const tokens = await oidc.authorizationCodeGrant(config, back.url, checks);
    assert.equal(header(tokens.id_token).alg, 'RS256');
  },
);

test(
  'an Ed25519 DPoP key (dpop_signing_alg_values_supported lists EdDSA)',
  async () => {
    const DPoP = oidc.getDPoPHandle(state.fapi, await oidc.randomDPoPKeyPair('EdDSA'));
    const { params } = await request('openid');
    await oidc.buildAuthorizationUrlWithPAR(state.fapi, params, { DPoP });
  },
);

test('FAPI 2.0 client: CIBA in poll mode, approved in the app', { timeout: 120_000 }, async () => {
  const config = state.fapi;
  const binding = `Interop node ${randomBytes(4).toString('hex')}`;
  const started = await oidc.initiateBackchannelAuthentication(config, {
    scope: 'openid eme.hkid',
    login_hint: state.fapiSub,
    binding_message: binding,
  });
  assert.ok(started.auth_req_id);
  const polling = oidc.pollBackchannelAuthenticationGrant(config, started, undefined, {
    DPoP: state.DPoP,
    signal: AbortSignal.timeout(60_000),
  });
  polling.catch(() => {});
  const pending = app(home, ['pending']);
  const req = pending.find((p) => p.details?.binding_message === binding);
  assert.ok(req, `the request is in the app: ${JSON.stringify(pending)}`);
  app(home, ['approve', req.id, '--yes']);
  const tokens = await polling;
  assert.equal(tokens.token_type, 'dpop');
  assert.equal(tokens.claims().sub, state.fapiSub);
  const info = await oidc.fetchUserInfo(config, tokens.access_token, state.fapiSub, {
    DPoP: state.DPoP,
  });
  assert.equal(info.hkid, resident.hkid);
});

test('after `iamsmart keys rotate --immediate`: ID tokens from the new key verify', { timeout: 180_000 }, async (t) => {
  const config = state.basic;
  const before = oidc.getJwksCache(config);
  const oldKids = before.jwks.keys.map((k) => k.kid);
  rotateTokenKey();
  const jwks = await (await fetch(new URL('/.well-known/jwks.json', issuer))).json();
  // An immediate rotation is for a compromise: the old ES256 key is retired at once.
  assert.ok(
    !jwks.keys.some((k) => k.alg === 'ES256' && oldKids.includes(k.kid)),
    'the old key is unpublished',
  );
  // The new ES256 key (keys of other algorithms appear when clients register for them).
  const newKid = jwks.keys.find((k) => k.alg === 'ES256' && !oldKids.includes(k.kid))?.kid;
  assert.ok(newKid);
  // openid-client refetches the JWKS for an unknown kid once its copy is a minute old (and at
  // most every five minutes in any case): within that minute it refuses the new key.
  const fetchedAt = Math.max(before.uat, oidc.getJwksCache(state.fapi).uat);
  const age = Math.floor(Date.now() / 1000) - fetchedAt;
  if (age < 60) {
    // What a relying party sees at once (library behaviour, recorded, not asserted).
    const { params, checks } = await request('openid');
    const url = await oidc.buildAuthorizationUrlWithPAR(state.fapi, params, { DPoP: state.DPoP });
    const back = await login(state.fapiBrowser, home, url);
    const seen = await oidc
      .authorizationCodeGrant(state.fapi, back.url, checks, undefined, { DPoP: state.DPoP })
      .then(() => 'verified', describe);
    t.diagnostic(`right after the rotation, with a JWKS ${age} s old: ${seen}`);
  }
  if (age < 61) {
    t.diagnostic(`the JWKS was fetched ${age} s ago; waiting until it is a minute old`);
    await sleep((61 - age) * 1000);
  }
  const { params, checks } = await request('openid profile');
  const browser = new Browser();
  const back = await login(browser, home, oidc.buildAuthorizationUrl(config, params));
  const tokens = await oidc.authorizationCodeGrant(config, back.url, checks);
  assert.equal(header(tokens.id_token).kid, newKid, 'signed by the new key');
  assert.equal(tokens.claims().nonce, checks.expectedNonce);
  const after = oidc.getJwksCache(config);
  assert.ok(after.jwks.keys.some((k) => k.kid === newKid), 'the library refetched the JWKS');
  // The FAPI client's configuration also had the old set only.
  const t2 = await oidc.refreshTokenGrant(state.fapi, state.fapiTokens.refresh_token, undefined, {
    DPoP: state.DPoP,
  });
  assert.equal(header(t2.id_token).kid, newKid);
  assert.equal(t2.claims().sub, state.fapiSub);
});
