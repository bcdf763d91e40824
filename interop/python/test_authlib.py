"""The provider as Authlib sees it. Run by interop/run, which starts the server and registers the
resident and the clients.

Authlib does: discovery, authorization URLs with PKCE S256, state and nonce, the callback's state
check, client_secret_basic and private_key_jwt, the token, refresh, revocation and introspection
requests, ID token validation (its OpenID client: signature against the JWKS, refetched on an
unknown kid; iss, aud, azp, nonce, exp, iat), userinfo, the end-session URL, and the CIBA token
request (a grant type it passes through).

Authlib has no client side for PAR, DPoP or the CIBA start request: PAR and the backchannel
authentication request are plain POSTs authenticated by Authlib's client auth, DPoP proofs are
made with jwcrypto, DPoP-bound userinfo is a plain GET. Authlib does not check the `iss`
authorization response parameter (RFC 9207): this file does.
"""

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from authlib.integrations.base_client import (
    BaseApp,
    FrameworkIntegration,
    OAuth2Mixin,
    OAuthError,
    OpenIDMixin,
)
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from joserfc.jwk import ECKey
from jwcrypto import jwk, jwt

import resident as r

CIBA_GRANT = "urn:openid:params:grant-type:ciba"
FORM = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}
PERSON = r.read_json("resident-python.json")


class Framework(FrameworkIntegration):
    def update_token(self, token, refresh_token=None, access_token=None):
        pass


class RelyingParty(OAuth2Mixin, OpenIDMixin, BaseApp):
    """Authlib's OpenID client, outside a web framework."""

    client_cls = OAuth2Session


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """private_key_jwt with assertions that live a minute (Authlib's default is an hour)."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            expires_in=60,
        )


def private_key(name):
    return ECKey.import_key(r.read_json("keys", f"{name}.jwk"))


def relying_party(name, auth=None):
    """An Authlib OpenID client for a registered client: a secret, or a private key."""
    c = r.read_json("clients", f"{name}.json")
    kwargs = {"code_challenge_method": "S256", "timeout": r.TIMEOUT}
    methods = None
    secret = c.get("client_secret")
    if auth is not None:
        secret = private_key(name)
        kwargs["token_endpoint_auth_method"] = "private_key_jwt"
        kwargs["revocation_endpoint_auth_method"] = "private_key_jwt"
        methods = [auth]
    return RelyingParty(
        Framework(name),
        name=name,
        client_id=c["client_id"],
        client_secret=secret,
        server_metadata_url=f"{r.ISSUER}/.well-known/openid-configuration",
        client_kwargs=kwargs,
        client_auth_methods=methods,
    )


def session(rp):
    """Authlib's OAuth 2.0 session for the same client (refresh, revoke, introspect)."""
    meta = rp.load_server_metadata()
    kwargs = dict(rp.client_kwargs)
    s = OAuth2Session(
        rp.client_id,
        rp.client_secret,
        token_endpoint=meta["token_endpoint"],
        **kwargs,
    )
    for m in rp.client_auth_methods or []:
        s.register_client_auth_method(m)
    return s


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def dpop_proof(key, method, url, access_token=None):
    """A DPoP proof (RFC 9449), made with jwcrypto."""
    claims = {
        "jti": secrets.token_urlsafe(16),
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
    }
    if access_token:
        claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.export_public(as_dict=True)}
    token = jwt.JWT(header=header, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def jkt(key):
    return key.thumbprint()


def _payload(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _header(token):
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def code_flow(rp, browser, scope, expect_app=True, **extra):
    """Authorization request, login in the browser with the app, the callback, token, ID token."""
    auth = rp.create_authorization_url(redirect_uri=r.REDIRECT_URI, scope=scope, **extra)
    back, approved = r.login(browser, auth["url"])
    assert approved == expect_app
    query = parse_qs(urlparse(back).query)
    assert query.get("iss") == [r.ISSUER], "RFC 9207 iss in the authorization response"
    token = rp.fetch_access_token(
        redirect_uri=r.REDIRECT_URI,
        authorization_response=back,
        state=auth["state"],
        code_verifier=auth["code_verifier"],
    )
    user = rp.parse_id_token(token, nonce=auth["nonce"])
    return token, user, auth


state = {}


def test_discovery():
    rp = relying_party("python-basic")
    meta = rp.load_server_metadata()
    assert meta["issuer"] == r.ISSUER
    assert "S256" in meta["code_challenge_methods_supported"]
    state["basic"] = rp


def test_basic_code_flow_pkce_client_secret_basic_userinfo():
    rp = state["basic"]
    browser = r.Browser()
    token, user, auth = code_flow(
        rp, browser, "openid profile email phone address eme.hkid", ui_locales="zh-HK"
    )
    assert token["token_type"] == "Bearer"
    assert user["iss"] == r.ISSUER
    assert user["aud"] == rp.client_id
    assert user["nonce"] == auth["nonce"]
    assert user["acr"] == "urn:iamsmart:acr:plus"
    assert user["sub"] != PERSON["resident_id"], "a pairwise subject"
    info = rp.userinfo(token=token)
    assert info["sub"] == user["sub"]
    assert info["hkid"] == PERSON["hkid"]
    assert info["name"] == PERSON["name_en"]
    assert info["name#zh-Hant-HK"] == PERSON["name_zh"]
    assert info["email"] == "resident@example.hk"
    assert info["phone_number"] == "+85291234567"
    assert info["address"]["locality"] == "Sha Tin"
    state.update(browser=browser, token=token, sub=user["sub"], nonce=auth["nonce"])


def test_basic_introspection_refresh_and_reuse():
    rp = state["basic"]
    meta = rp.load_server_metadata()
    s = session(rp)
    t1 = state["token"]
    i = s.introspect_token(meta["introspection_endpoint"], token=t1["access_token"]).json()
    assert i["active"] is True and i["sub"] == state["sub"]
    t2 = s.refresh_token(refresh_token=t1["refresh_token"])
    assert t2["refresh_token"] != t1["refresh_token"]
    assert rp.parse_id_token(t2, nonce=state["nonce"])["sub"] == state["sub"]
    with pytest.raises(OAuthError) as e:
        s.refresh_token(refresh_token=t1["refresh_token"])
    assert e.value.error == "invalid_grant"
    i = s.introspect_token(meta["introspection_endpoint"], token=t2["access_token"]).json()
    assert i["active"] is False, "reusing a refresh token ends the grant"


def test_basic_single_sign_on_and_revocation():
    rp = state["basic"]
    meta = rp.load_server_metadata()
    token, user, _ = code_flow(rp, state["browser"], "openid profile", expect_app=False)
    assert user["sub"] == state["sub"]
    s = session(rp)
    res = s.revoke_token(
        meta["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert res.status_code == 200
    i = s.introspect_token(meta["introspection_endpoint"], token=token["access_token"]).json()
    assert i["active"] is False
    res = rp.get(meta["userinfo_endpoint"], token=token)
    assert res.status_code == 401
    state["id_token"] = token["id_token"]


def test_basic_logout():
    rp = state["basic"]
    out = rp.create_logout_url(
        post_logout_redirect_uri=r.POST_LOGOUT_URI, id_token_hint=state["id_token"]
    )
    res = state["browser"].get(out["url"])
    assert res.is_redirect, res.status_code
    to = urlparse(res.headers["location"])
    assert f"{to.scheme}://{to.netloc}{to.path}" == r.POST_LOGOUT_URI
    assert parse_qs(to.query)["state"] == [out["state"]]
    auth = rp.create_authorization_url(redirect_uri=r.REDIRECT_URI, scope="openid", prompt="none")
    back, _ = r.login(state["browser"], auth["url"])
    q = parse_qs(urlparse(back).query)
    assert q["error"] == ["login_required"] and q["iss"] == [r.ISSUER]


def test_private_key_jwt_with_authlib_defaults():
    rp = relying_party("python-jwt", PrivateKeyJWT(alg="ES256"))
    meta = rp.load_server_metadata()
    s = session(rp)
    res = s.introspect_token(meta["introspection_endpoint"], token="x")
    assert res.status_code == 200, res.text


def test_private_key_jwt_code_flow_refresh_revocation():
    rp = relying_party("python-jwt", ShortLivedPrivateKeyJWT(alg="ES256"))
    meta = rp.load_server_metadata()
    token, user, auth = code_flow(rp, r.Browser(), "openid eme.hkid")
    assert user["aud"] == rp.client_id
    s = session(rp)
    t2 = s.refresh_token(refresh_token=token["refresh_token"])
    assert rp.parse_id_token(t2, nonce=auth["nonce"])["sub"] == user["sub"]
    assert rp.userinfo(token=t2)["hkid"] == PERSON["hkid"]
    assert s.revoke_token(meta["revocation_endpoint"], token=t2["access_token"]).status_code == 200
    i = s.introspect_token(meta["introspection_endpoint"], token=t2["access_token"]).json()
    assert i["active"] is False


def test_fapi2_par_private_key_jwt_dpop():
    rp = relying_party("python-fapi2", ShortLivedPrivateKeyJWT(alg="ES256"))
    meta = rp.load_server_metadata()
    s = session(rp)
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    # PAR: Authlib builds the parameters and authenticates; the POST itself is plain.
    auth = rp.create_authorization_url(redirect_uri=r.REDIRECT_URI, scope="openid eme.hkid")
    params = dict(parse_qs(urlparse(auth["url"]).query))
    params = {k: v[0] for k, v in params.items()}
    par = meta["pushed_authorization_request_endpoint"]
    res = s.post(
        par,
        data=params,
        auth=s.client_auth("private_key_jwt"),
        headers={"DPoP": dpop_proof(key, "POST", par)},
        withhold_token=True,
        timeout=r.TIMEOUT,
    )
    assert res.status_code == 201, res.text
    request_uri = res.json()["request_uri"]
    url = f"{meta['authorization_endpoint']}?" + urlencode(
        {"client_id": rp.client_id, "request_uri": request_uri}
    )
    back, approved = r.login(r.Browser(), url)
    assert approved
    assert parse_qs(urlparse(back).query)["iss"] == [r.ISSUER]
    endpoint = meta["token_endpoint"]
    token = rp.fetch_access_token(
        redirect_uri=r.REDIRECT_URI,
        authorization_response=back,
        state=auth["state"],
        code_verifier=auth["code_verifier"],
        headers={**FORM, "DPoP": dpop_proof(key, "POST", endpoint)},
    )
    assert token["token_type"] == "DPoP"
    assert _payload(token["access_token"])["cnf"]["jkt"] == jkt(key)
    user = rp.parse_id_token(token, nonce=auth["nonce"])
    # userinfo with the DPoP scheme (Authlib has none): a plain GET.
    ui = meta["userinfo_endpoint"]
    at = token["access_token"]
    res = requests.get(
        ui,
        headers={"Authorization": f"DPoP {at}", "DPoP": dpop_proof(key, "GET", ui, at)},
        timeout=r.TIMEOUT,
    )
    assert res.status_code == 200, res.text
    assert res.json()["sub"] == user["sub"] and res.json()["hkid"] == PERSON["hkid"]
    t2 = s.refresh_token(
        refresh_token=token["refresh_token"],
        headers={**FORM, "DPoP": dpop_proof(key, "POST", endpoint)},
    )
    assert t2["token_type"] == "DPoP"
    assert rp.parse_id_token(t2, nonce=auth["nonce"])["sub"] == user["sub"]
    state.update(fapi=rp, key=key, fapi_sub=user["sub"], fapi_token=t2)


def test_fapi2_ciba_poll():
    rp = state["fapi"]
    meta = rp.load_server_metadata()
    s = session(rp)
    key = state["key"]
    binding = f"Interop python {secrets.token_hex(4)}"
    res = s.post(
        meta["backchannel_authentication_endpoint"],
        data={"scope": "openid eme.hkid", "login_hint": state["fapi_sub"], "binding_message": binding},
        auth=s.client_auth("private_key_jwt"),
        withhold_token=True,
        timeout=r.TIMEOUT,
    )
    assert res.status_code == 200, res.text
    started = res.json()
    pending = r.app("pending")
    req = next(p for p in pending if (p.get("details") or {}).get("binding_message") == binding)
    endpoint = meta["token_endpoint"]

    def poll():
        return s.fetch_token(
            grant_type=CIBA_GRANT,
            auth_req_id=started["auth_req_id"],
            headers={**FORM, "DPoP": dpop_proof(key, "POST", endpoint)},
        )

    with pytest.raises(OAuthError) as e:
        poll()
    assert e.value.error == "authorization_pending"
    r.app("approve", req["id"], "--yes")
    interval = started.get("interval", 5)
    deadline = time.monotonic() + 60
    token = None
    while token is None:
        assert time.monotonic() < deadline, "CIBA: no tokens within a minute"
        time.sleep(interval)
        try:
            token = poll()
        except OAuthError as e:
            assert e.error in ("authorization_pending", "slow_down"), e
            if e.error == "slow_down":
                interval += 5
    assert token["token_type"] == "DPoP"
    assert rp.parse_id_token(token, nonce=None)["sub"] == state["fapi_sub"]


def test_key_rotation_new_id_tokens_verify():
    rp = state["basic"]
    before = rp.fetch_jwk_set()["keys"]
    old = {k["kid"] for k in before}
    old_es256 = {k["kid"] for k in before if k.get("alg") == "ES256"}
    r.rotate_token_key()
    jwks = requests.get(rp.load_server_metadata()["jwks_uri"], timeout=r.TIMEOUT).json()
    # An immediate rotation is for a compromise: the old ES256 key is retired at once.
    assert not old_es256 & {k["kid"] for k in jwks["keys"]}, "the old key is unpublished"
    new = {k["kid"] for k in jwks["keys"]} - old
    assert len(new) == 1
    # Authlib keeps the JWKS it fetched and fetches it again for an unknown kid.
    token, user, auth = code_flow(rp, r.Browser(), "openid profile")
    assert _header(token["id_token"])["kid"] in new
    assert user["nonce"] == auth["nonce"]
    assert {k["kid"] for k in rp.fetch_jwk_set()["keys"]} >= new
    t2 = session(state["fapi"]).refresh_token(
        refresh_token=state["fapi_token"]["refresh_token"],
        headers={
            **FORM,
            "DPoP": dpop_proof(state["key"], "POST", rp.load_server_metadata()["token_endpoint"]),
        },
    )
    assert _header(t2["id_token"])["kid"] in new
    assert state["fapi"].parse_id_token(t2, nonce=None)["sub"] == state["fapi_sub"]
