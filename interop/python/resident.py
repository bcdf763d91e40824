"""The resident's side of a login, as a browser without JavaScript and the app CLI do it: load the
authorization URL (keeping cookies), read the QR payload and the match code, approve in the app,
follow the continue link, and return where the provider redirects to."""

import html
import json
import os
import subprocess
from urllib.parse import urljoin

import requests

TIMEOUT = 15


def env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"missing {name}: run this through interop/run")
    return value


DIR = env("INTEROP_DIR")
ISSUER = env("INTEROP_ISSUER")
PIN = env("INTEROP_APP_PIN")
REDIRECT_URI = env("INTEROP_REDIRECT_URI")
POST_LOGOUT_URI = env("INTEROP_POST_LOGOUT_URI")
APP_BIN = env("INTEROP_APP_BIN")
IAMSMART_BIN = env("INTEROP_IAMSMART_BIN")
HOME = os.path.join(DIR, "app-python")


def read_json(*parts):
    with open(os.path.join(DIR, *parts)) as f:
        return json.load(f)


def app(*args):
    """Run `iamsmart-app --home HOME ARGS`; its JSON answer."""
    out = subprocess.run(
        [APP_BIN, "--home", HOME, *args],
        env={"PATH": os.environ["PATH"], "IAMSMART_APP_PIN": PIN},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def rotate_token_key():
    """`iamsmart keys rotate --immediate` on the running server's database."""
    subprocess.run(
        [IAMSMART_BIN, "keys", "rotate", "--immediate"],
        capture_output=True,
        timeout=60,
        check=True,
    )


class Browser:
    """One cookie jar; redirects are not followed."""

    def __init__(self):
        self.http = requests.Session()

    def get(self, url):
        return self.http.get(url, allow_redirects=False, timeout=TIMEOUT)

    def post(self, url, data):
        return self.http.post(url, data=data, allow_redirects=False, timeout=TIMEOUT)


def _between(text, start, end):
    i = text.find(start)
    if i < 0:
        return None
    j = text.find(end, i + len(start))
    return None if j < 0 else text[i + len(start) : j]


def read_login(page, url):
    """The QR payload, match code and continue link of a login page."""
    qr = _between(page, '<code id="qr-payload">', "</code>")
    match = _between(page, '<p class="code" id="match-code">', "</p>")
    cont = _between(page, '<a class="button" id="continue" href="', '"')
    if not (qr and match and cont):
        raise AssertionError(f"not a login page: {page[:500]}")
    return html.unescape(qr), match, urljoin(url, html.unescape(cont))


def consent_if_asked(browser, res, url):
    """If `res` is the consent page, agree to every item (remembered); the provider's redirect."""
    if res.is_redirect:
        return res.headers["location"]
    page = res.text
    assert res.status_code == 200 and 'id="consent-form"' in page, f"{res.status_code} {page[:500]}"
    form = [
        ("tx", _between(page, 'name="tx" value="', '"')),
        ("csrf", _between(page, 'name="csrf" value="', '"')),
        ("remember", "1"),
        ("decision", "allow"),
    ]
    marker = 'name="field" value="'
    rest, fields = page, []
    while marker in rest:
        rest = rest[rest.index(marker) + len(marker) :]
        value = rest[: rest.index('"')]
        if value not in fields:
            fields.append(value)
    form += [("field", f) for f in fields]
    done = browser.post(urljoin(url, "/authorize/consent"), form)
    assert done.is_redirect, f"{done.status_code} {done.text[:500]}"
    return done.headers["location"]


def login(browser, url):
    """Open an authorization URL and log in with the app if asked; returns (redirect, approved)."""
    first = browser.get(url)
    if first.is_redirect:
        return first.headers["location"], False
    assert first.status_code == 200, f"{first.status_code} {first.text[:500]}"
    if 'id="consent-form"' in first.text:
        return consent_if_asked(browser, first, url), False
    qr, match, cont = read_login(first.text, url)
    done = app("approve", qr, "--match", match, "--yes")
    assert done["status"] == "approved", done
    res = browser.get(cont)
    return consent_if_asked(browser, res, url), True
