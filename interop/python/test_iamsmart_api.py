"""The iAM Smart-compatible API (/api/v1/) as a service built for the real platform calls it.
Run by interop/run, which starts the server, registers the resident and a client of profile
iamsmart-api with the encipherment certificate made here (make_kek.py).

Written from the description of the real API alone (the brief of the transport, getKey, getQR,
getToken and their codes, the callbacks), with `requests` and `cryptography`: no code of the platform. The
resident's side is the app command line and a browser without JavaScript (resident.py).
"""

import base64
import json
import os
import secrets
import queue
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode, urlparse

import pytest
import requests
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import resident as r

PERSON = r.read_json("resident-python.json")
CLIENT = r.read_json("clients", "python-api.json")
CLIENT_ID = CLIENT["client_id"]
SECRET = CLIENT["client_secret"]
with open(os.path.join(r.DIR, "keys", "python-api-kek.pem"), "rb") as f:
    KEK = serialization.load_pem_private_key(f.read(), password=None)


def signature(client_id, method, timestamp, nonce, body, secret=SECRET):
    mac = hmac.HMAC(secret.encode(), hashes.SHA256())
    mac.update((client_id + method + timestamp + nonce).encode() + body)
    return quote(base64.b64encode(mac.finalize()).decode(), safe="")


def call(path, body, *, client_id=CLIENT_ID, secret=SECRET, method="HmacSHA256",
         timestamp=None, nonce=None, drop=None):
    """POST a signed call; its JSON answer (always HTTP 200, as the real platform answers)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = timestamp or str(int(time.time() * 1000))
    nonce = nonce or secrets.token_hex(16)
    headers = {
        "Content-Type": "application/json",
        "clientID": client_id,
        "signatureMethod": method,
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": signature(client_id, method, timestamp, nonce, raw, secret),
    }
    if drop:
        del headers[drop]
    res = requests.post(r.ISSUER + path, data=raw, headers=headers, timeout=r.TIMEOUT)
    assert res.status_code == 200, f"{res.status_code} {res.text[:300]}"
    answer = res.json()
    assert set(answer) >= {"txID", "code", "message"}, answer
    return answer


def get_key():
    """A content key: the answer's secretKey, RSA-OAEP (SHA-256) decrypted with our KEK."""
    answer = call("/api/v1/security/getKey", b"")
    assert answer["code"] == "D00000", answer
    content = answer["content"]
    assert content["expiresIn"] > 0 and abs(content["issueAt"] - time.time() * 1000) < 60_000
    key = KEK.decrypt(
        base64.b64decode(content["secretKey"]),
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    assert len(key) == 32
    return key


def decrypt(key, content):
    raw = base64.b64decode(content)
    (iv_len,) = struct.unpack(">I", raw[:4])
    assert iv_len == 12
    iv, sealed = raw[4 : 4 + iv_len], raw[4 + iv_len :]
    return json.loads(AESGCM(key).decrypt(iv, sealed, None))


def encrypt(key, payload):
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, json.dumps(payload).encode(), None)
    return base64.b64encode(struct.pack(">I", 12) + iv + sealed).decode()


def sealed_call(path, payload, key):
    """A call whose body travels as content; its answer, and the decrypted content if any."""
    answer = call(path, {"content": encrypt(key, payload)})
    content = answer.get("content")
    return answer, (decrypt(key, content) if content else None)


def get_qr_url(state, scope="eidapi_auth", redirect=None, **extra):
    q = {
        "clientID": CLIENT_ID,
        "responseType": "code",
        "source": "PC_Browser",
        "redirectURI": redirect or r.REDIRECT_URI,
        "scope": scope,
        "lang": "zh-HK",
        "state": state,
    }
    q.update(extra)
    return r.ISSUER + "/api/v1/auth/getQR?" + urlencode(q)


def callback(location):
    assert location.startswith(r.REDIRECT_URI), location
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def sign_in(state, scope="eidapi_auth"):
    back, approved = r.login(r.Browser(), get_qr_url(state, scope=scope))
    assert approved
    q = callback(back)
    assert q["state"] == state and "code" in q, q
    return q["code"]


def get_token(code, key):
    answer = call("/api/v1/auth/getToken", {"code": code, "grantType": "authorization_code"})
    if answer["code"] != "D00000":
        return answer, None
    return answer, decrypt(key, answer["content"])


def test_sign_in_with_get_qr_then_get_token():
    key = get_key()
    code = sign_in(secrets.token_urlsafe(8))
    answer, token = get_token(code, key)
    assert answer["code"] == "D00000", answer
    assert token["tokenType"] == "Bearer"
    assert token["userType"] == "iAMSmartPlus"
    assert token["scope"] == "eidapi_auth"
    assert token["expiresIn"] > 0 and token["accessToken"] and token["openID"]
    assert token["lastModifiedDate"] <= time.time() * 1000
    # The same resident has the same openID at this service on the next sign-in (remembered
    # in the browser or not), and the code is good once.
    again, token2 = get_token(sign_in(secrets.token_urlsafe(8)), key)
    assert again["code"] == "D00000" and token2["openID"] == token["openID"]
    replay, _ = get_token(code, key)
    assert replay["code"] == "D40004", replay


def test_declining_in_the_app_answers_d40001_with_the_state():
    browser = r.Browser()
    page = browser.get(get_qr_url("declined-1"))
    assert page.status_code == 200
    qr, _, cont = r.read_login(page.text, page.url)
    r.app("deny", qr)
    q = callback(browser.get(cont).headers["location"])
    assert q == {"error_code": "D40001", "state": "declined-1"}, q


def test_get_qr_refusals():
    browser = r.Browser()
    # Not registered: a page, never a redirect to the unknown URL.
    res = browser.get(get_qr_url("s", redirect="https://elsewhere.example/cb"))
    assert res.status_code == 400 and "D20008" in res.text, res.status_code
    # Registered: the refusal goes back with its code.
    for extra, code in [
        ({"scope": "eidapi_auth eidapi_unknown"}, "D10000"),
        ({"scope": "eidapi_profiles"}, "D10000"),
        ({"source": "Windows_Phone"}, "D10000"),
        ({"responseType": "token"}, "D10000"),
    ]:
        q = callback(browser.get(get_qr_url("s2", **extra)).headers["location"])
        assert q == {"error_code": code, "state": "s2"}, (extra, q)


def test_the_transport_refuses_what_it_must_with_its_code():
    body = {"code": "nothing", "grantType": "authorization_code"}
    path = "/api/v1/auth/getToken"
    assert call(path, body, secret="wrong")["code"] == "D10003"
    assert call(path, body, client_id="c_unknownclient1")["code"] == "D10002"
    assert call(path, body, method="HmacSHA1")["code"] == "D10006"
    old = str(int(time.time() * 1000) - 3_600_000)
    assert call(path, body, timestamp=old)["code"] == "D10004"
    for header in ["clientID", "signatureMethod", "timestamp", "nonce", "signature"]:
        assert call(path, body, drop=header)["code"] == "D10001", header
    nonce = secrets.token_hex(8)
    get_key()
    first = call(path, body, nonce=nonce)
    assert first["code"] == "D40004", first
    assert call(path, body, nonce=nonce)["code"] == "D10005"
    # A body changed after signing.
    ts, n = str(int(time.time() * 1000)), secrets.token_hex(8)
    raw = json.dumps(body).encode()
    headers = {
        "clientID": CLIENT_ID, "signatureMethod": "HmacSHA256", "timestamp": ts, "nonce": n,
        "signature": signature(CLIENT_ID, "HmacSHA256", ts, n, raw),
    }
    res = requests.post(r.ISSUER + path, data=raw + b" ", headers=headers, timeout=r.TIMEOUT)
    assert res.json()["code"] == "D10003"
    # Not an endpoint of the API.
    assert call("/api/v1/nothing/here", b"")["code"] == "D10000"
    # Malformed bodies.
    assert call(path, b"{not json")["code"] == "D10000"
    assert call(path, {"code": "x", "grantType": "refresh_token"})["code"] == "D10000"


def test_each_answer_names_its_transaction():
    a = call("/api/v1/security/getKey", b"")
    b = call("/api/v1/security/getKey", b"")
    assert a["txID"] and b["txID"] and a["txID"] != b["txID"]


EME_START = "/api/v1/anonymous/eme/initiateRequest"
EME_RESULT = "/api/v1/anonymous/eme/getResult"


def test_anonymous_eme_gives_the_approved_fields_once_in_the_real_api_s_shapes():
    key = get_key()
    answer, started = sealed_call(EME_START, {
        "businessID": "application-17", "source": "PC_Browser",
        "formName": "Application for a library card", "formNum": "LIB 1",
        "eMEFields": ["idNo", "enName", "chName", "birthDate", "mobileNumber",
                      "residentialAddress", "emailAddress", "prefix"],
    }, key)
    assert answer["code"] == "D00000", answer
    assert started["authByQR"] is True and started["businessID"] == "application-17"
    ticket = {"ticketID": started["ticketID"]}
    answer, waiting = sealed_call(EME_RESULT, ticket, key)
    assert answer["code"] == "D00000" and waiting["status"] == "PENDING", (answer, waiting)
    done = r.app("approve", started["qrCode"], "--match", started["matchCode"], "--yes")
    assert done["status"] == "approved", done
    answer, result = sealed_call(EME_RESULT, ticket, key)
    assert answer["code"] == "D00000" and result["status"] == "APPROVED", (answer, result)
    f = result["eMEFields"]
    hkid = PERSON["hkid"]
    assert f["idNo"] == {"Identification": hkid[: hkid.index("(")], "CheckDigit": hkid[-2]}
    assert f["enName"] == {"UnstructuredName": PERSON["name_en"]}
    assert f["chName"] == {"ChineseName": PERSON["name_zh"]}
    assert f["birthDate"] == PERSON["date_of_birth"].replace("-", "") and len(f["birthDate"]) == 8
    assert f["mobileNumber"] == {"CountryCode": "852", "SubscriberNumber": "91234567"}
    assert f["emailAddress"] == "resident@example.hk" and f["prefix"] == "Mr"
    premises = f["residentialAddress"]["EngPremisesAddress"]
    assert premises["BuildingName"] == "Canary Court" and premises["Region"] == "NT"
    # Once only.
    answer, _ = sealed_call(EME_RESULT, ticket, key)
    assert answer["code"] == "D10000" and "once" in answer["message"], answer


def test_anonymous_eme_refusals():
    key = get_key()
    form = {"source": "PC_Browser", "formName": "F", "eMEFields": ["enName"]}
    answer, started = sealed_call(EME_START, form, key)
    r.app("deny", started["qrCode"])
    answer, _ = sealed_call(EME_RESULT, {"ticketID": started["ticketID"]}, key)
    assert answer["code"] == "D40001", answer
    for bad in [{**form, "eMEFields": ["shoeSize"]}, {**form, "eMEFields": []},
                {**form, "source": "Fax"}, {**form, "extra": 1}]:
        assert sealed_call(EME_START, bad, key)[0]["code"] == "D10000", bad
    assert sealed_call(EME_RESULT, {"ticketID": "em_nothing"}, key)[0]["code"] == "D10000"
    # Sealed under another key, or not sealed at all.
    other = os.urandom(32)
    assert call(EME_START, {"content": encrypt(other, form)})["code"] == "D10008"
    assert call(EME_START, form)["code"] == "D10000"


# --- Profile and e-ME after a sign-in: the result comes to our callback ----------------------

PROFILE_START = "/api/v1/account/auth/profile/initiateRequest"
ACCOUNT_EME_START = "/api/v1/account/eme/initiateRequest"


class CallbackHandler(BaseHTTPRequestHandler):
    """The service's callback endpoint: checks the platform's signature (the same HMAC as our
    calls, under our secret), keeps the body, answers 200."""

    received = queue.Queue()

    def do_POST(self):  # noqa: N802 (the standard library's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        h = self.headers
        good = h["clientID"] == CLIENT_ID and h["signatureMethod"] == "HmacSHA256" and \
            h["signature"] == signature(h["clientID"], h["signatureMethod"], h["timestamp"],
                                        h["nonce"], body)
        self.received.put((good, json.loads(body)))
        self.send_response(200 if good else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def callbacks():
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["INTEROP_API_CALLBACK_PORT"])),
                                 CallbackHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield CallbackHandler.received
    server.shutdown()


def callback_for(received, ticket, wait_s=60):
    """The callback of this ticket (the platform's worker retries within seconds anyway)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            good, body = received.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        assert good, "a callback whose signature does not check"
        if body.get("ticketID") == ticket:
            return body
    raise AssertionError(f"no callback for {ticket} in {wait_s} s")


def unwrap(body):
    """A callback's own key (secretKey, wrapped to our certificate) opens its content."""
    key = KEK.decrypt(
        base64.b64decode(body["secretKey"]),
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    return decrypt(key, body["content"])


def waiting_request(match_code):
    """The request in the app with this match code."""
    found = [p for p in r.app("pending") if p["match_code"] == match_code]
    assert len(found) == 1, found
    return found[0]


def test_profile_after_a_sign_in_reaches_the_callback(callbacks):
    key = get_key()
    _, token = get_token(sign_in("p-1", scope="eidapi_auth eidapi_profiles"), key)
    ask = {"businessID": "case-9", "accessToken": token["accessToken"], "openID": token["openID"],
           "source": "PC_Browser", "redirectURI": r.REDIRECT_URI, "state": "profile-9",
           "profileFields": ["idNo", "enName", "chName", "birthDate", "gender"]}
    answer, started = sealed_call(PROFILE_START, ask, key)
    assert answer["code"] == "D00000", answer
    assert started["authByQR"] is False and started["businessID"] == "case-9"
    request = waiting_request(started["matchCode"])
    done = r.app("approve", request["id"], "--match", started["matchCode"], "--yes")
    assert done["status"] == "approved", done
    body = callback_for(callbacks, started["ticketID"])
    assert body["code"] == "D00000" and body["state"] == "profile-9", body
    assert body["businessID"] == "case-9"
    content = unwrap(body)
    assert content["openID"] == token["openID"]
    f = content["profileFields"]
    hkid = PERSON["hkid"]
    assert f["idNo"] == {"Identification": hkid[: hkid.index("(")], "CheckDigit": hkid[-2]}
    assert f["enName"] == {"UnstructuredName": PERSON["name_en"]}
    assert f["birthDate"] == PERSON["date_of_birth"].replace("-", "")


def test_eme_after_a_sign_in_declined_reaches_the_callback_as_d40001(callbacks):
    key = get_key()
    _, token = get_token(sign_in("e-1", scope="eidapi_auth eidapi_formFilling"), key)
    ask = {"accessToken": token["accessToken"], "openID": token["openID"],
           "source": "PC_Browser", "redirectURI": r.REDIRECT_URI, "state": "form-3",
           "formName": "Application for a library card", "eMEFields": ["enName", "mobileNumber"]}
    answer, started = sealed_call(ACCOUNT_EME_START, ask, key)
    assert answer["code"] == "D00000", answer
    r.app("deny", waiting_request(started["matchCode"])["id"])
    body = callback_for(callbacks, started["ticketID"])
    assert body["code"] == "D40001" and body["state"] == "form-3", body
    assert "content" not in body and "secretKey" not in body
    # Refusals, before anything reaches the app: the scope the sign-in did not grant, another
    # resident's openID, a redirect URI not registered.
    profile = {k: v for k, v in ask.items() if k not in ("formName", "eMEFields")}
    profile["profileFields"] = ["enName"]
    assert sealed_call(PROFILE_START, profile, key)[0]["code"] == "D10009"
    assert sealed_call(ACCOUNT_EME_START, {**ask, "openID": "x" * 43}, key)[0]["code"] == "D10010"
    bad = {**ask, "redirectURI": "https://elsewhere.example/cb"}
    assert sealed_call(ACCOUNT_EME_START, bad, key)[0]["code"] == "D20008"
    assert not [p for p in r.app("pending") if p["kind"] == "eme"]


# --- Signing: a hash after a sign-in (to the callback), and without a login (getResult) -------

SIGN_START = "/api/v1/account/signing/initiateRequest"
SIGN_ACK = "/api/v1/account/signing/ackResult"
ANON_SIGN_START = "/api/v1/anonymous/signing/initiateRequest"
ANON_SIGN_RESULT = "/api/v1/anonymous/signing/getResult"


def hkic_hash(hkid):
    """Base64 of SHA-256 of the HKID without its check digit (the real API's HKICHash)."""
    bare = "".join(c for c in hkid if c.isalnum()).upper()[:-1]
    digest = hashes.Hash(hashes.SHA256())
    digest.update(bare.encode())
    return base64.b64encode(digest.finalize()).decode()


def openssl_verifies(signature_b64, document, tmp_path):
    """openssl checks the detached CMS over the document (the signer's key, not its chain)."""
    sig, doc = tmp_path / "sig.der", tmp_path / "doc.bin"
    sig.write_bytes(base64.b64decode(signature_b64))
    doc.write_bytes(document)
    out = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig),
                          "-content", str(doc), "-noverify", "-out", os.devnull],
                         capture_output=True, text=True, timeout=60)
    return out.returncode == 0, out.stderr


def test_signing_a_hash_after_a_sign_in_reaches_the_callback(callbacks, tmp_path):
    r.app("signing-cert")
    key = get_key()
    _, token = get_token(sign_in("s-1", scope="eidapi_auth eidapi_sign"), key)
    document = b"Tenancy agreement, Flat A, 12/F\n" + secrets.token_bytes(16)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(document)
    hash_code = base64.b64encode(digest.finalize()).decode()
    ask = {"businessID": "lease-4", "accessToken": token["accessToken"], "openID": token["openID"],
           "source": "PC_Browser", "redirectURI": r.REDIRECT_URI, "state": "sign-4",
           "hashCode": hash_code, "sigAlgo": "SHA256withECDSA",
           "HKICHash": hkic_hash(PERSON["hkid"]), "department": "Housing Department",
           "serviceName": "Tenancy", "documentName": "Tenancy agreement"}
    # What cannot be honoured is refused, never changed: an RSA algorithm, another HKID.
    assert sealed_call(SIGN_START, {**ask, "sigAlgo": "SHA256withRSA"}, key)[0]["code"] == "D10014"
    other = {**ask, "HKICHash": hkic_hash("Z999999(9)")}
    assert sealed_call(SIGN_START, other, key)[0]["code"] == "D10013"
    answer, started = sealed_call(SIGN_START, ask, key)
    assert answer["code"] == "D00000", answer
    assert started["authByQR"] is False
    # Not acknowledged before it is handed out.
    assert sealed_call(SIGN_ACK, {"ticketID": started["ticketID"]}, key)[0]["code"] == "D10000"
    request = waiting_request(started["matchCode"])
    done = r.app("approve", request["id"], "--match", started["matchCode"], "--yes")
    assert done["status"] == "approved", done
    body = callback_for(callbacks, started["ticketID"])
    assert body["code"] == "D00000" and body["state"] == "sign-4", body
    content = unwrap(body)
    assert content["hashCode"] == hash_code and content["openID"] == token["openID"]
    assert content["sigAlgo"] == "SHA256withECDSA" and content["cert"] and content["certChain"]
    assert abs(content["timestamp"] - time.time() * 1000) < 600_000
    ok, err = openssl_verifies(content["signature"], document, tmp_path)
    assert ok, err
    assert not openssl_verifies(content["signature"], document + b"x", tmp_path)[0]
    answer, acked = sealed_call(SIGN_ACK, {"ticketID": started["ticketID"]}, key)
    assert answer["code"] == "D00000" and acked["acknowledged"] is True, answer


def test_signing_without_a_login_by_qr_code_gives_the_signature_once(tmp_path):
    r.app("signing-cert")
    key = get_key()
    document = b"Consent form " + secrets.token_bytes(8)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(document)
    hash_code = digest.finalize().hex()
    ask = {"source": "PC_Browser", "hashCode": hash_code, "sigAlgo": "SHA256withECDSA",
           "documentName": "Consent form"}
    answer, started = sealed_call(ANON_SIGN_START, ask, key)
    assert answer["code"] == "D00000", answer
    assert started["authByQR"] is True and started["qrCode"] and len(started["matchCode"]) == 4
    ticket = {"ticketID": started["ticketID"]}
    answer, waiting = sealed_call(ANON_SIGN_RESULT, ticket, key)
    assert waiting["status"] == "PENDING", (answer, waiting)
    done = r.app("approve", started["qrCode"], "--match", started["matchCode"], "--yes")
    assert done["status"] == "approved", done
    answer, signed = sealed_call(ANON_SIGN_RESULT, ticket, key)
    assert answer["code"] == "D00000" and signed["status"] == "SIGNED", (answer, signed)
    ok, err = openssl_verifies(signed["signature"], document, tmp_path)
    assert ok, err
    again, _ = sealed_call(ANON_SIGN_RESULT, ticket, key)
    assert again["code"] == "D10000" and "once" in again["message"], again
    # A login's fields are refused here, and PDF signing takes the PDF's digest as docDigest.
    assert sealed_call(ANON_SIGN_START, {**ask, "openID": "x"}, key)[0]["code"] == "D10000"
    pdf = "/api/v1/anonymous/pdfsigning/initiateRequest"
    answer, _ = sealed_call(pdf, ask, key)
    assert answer["code"] == "D10000" and "docDigest" in answer["message"], answer
    ask_pdf = {k: v for k, v in ask.items() if k != "hashCode"}
    answer, started = sealed_call(pdf, {**ask_pdf, "docDigest": hash_code}, key)
    assert answer["code"] == "D00000" and started["authByQR"] is True, answer
    r.app("deny", started["qrCode"])
    answer, _ = sealed_call("/api/v1/anonymous/pdfsigning/getResult",
                            {"ticketID": started["ticketID"]}, key)
    assert answer["code"] == "D40001", answer


def test_face_step_up_declined_reaches_the_callback(callbacks):
    key = get_key()
    _, token = get_token(sign_in("u-1", scope="eidapi_auth eidapi_fr"), key)
    ask = {"accessToken": token["accessToken"], "openID": token["openID"], "source": "PC_Browser",
           "redirectURI": r.REDIRECT_URI, "state": "stepup-1"}
    answer, started = sealed_call("/api/v1/account/stepup/initiateRequest", ask, key)
    assert answer["code"] == "D00000" and started["authByQR"] is False, answer
    request = waiting_request(started["matchCode"])
    assert request["kind"] == "step_up"
    r.app("deny", request["id"])
    body = callback_for(callbacks, started["ticketID"])
    assert body["code"] == "D40001" and body["state"] == "stepup-1", body
