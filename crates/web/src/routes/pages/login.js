// Progressive enhancement of the login page: the live status by server-sent events (polling
// if they fail), continuing on its own once the app has answered, and sign-in with a passkey
// (also offered by the browser's autofill). Without JavaScript the "continue" link does the same.
(function () {
  var main = document.getElementById("login");
  if (!main) return;
  var statusUrl = main.getAttribute("data-status-url");
  var eventsUrl = main.getAttribute("data-events-url");
  var continueUrl = main.getAttribute("data-continue-url");
  var tx = main.getAttribute("data-tx");
  var statusEl = document.getElementById("status");
  // The page's own words, in its language.
  var texts = {
    scanned: main.getAttribute("data-scanned"),
    done: main.getAttribute("data-answered"),
    expired: main.getAttribute("data-expired"),
  };
  var finished = false;
  function show(status) {
    if (finished) return;
    if (status === "scanned") statusEl.textContent = texts.scanned;
    if (status === "approved" || status === "denied" || status === "expired") {
      finished = true;
      // An expired code: the continue link shows a new one (or tells the service, once the
      // login is too old).
      statusEl.textContent = status === "expired" ? texts.expired : texts.done;
      window.location.assign(continueUrl);
    }
  }
  function poll() {
    if (finished) return;
    fetch(statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (j) { show(j.status); setTimeout(poll, 1500); })
      .catch(function () { setTimeout(poll, 4000); });
  }
  if (window.EventSource) {
    var es = new EventSource(eventsUrl);
    es.addEventListener("status", function (e) { show(e.data); if (finished) es.close(); });
    es.onerror = function () { es.close(); setTimeout(poll, 1000); };
  } else {
    setTimeout(poll, 1500);
  }

  var section = document.getElementById("passkey-section");
  if (!section || !window.PublicKeyCredential || !window.iamsmartWebAuthn) return;
  section.hidden = false;
  var W = window.iamsmartWebAuthn;
  var errorEl = document.getElementById("passkey-error");
  // Residents have no user name: the button asks the device for any passkey of this site (no
  // autofill field, which would be a text box with nothing to type in it).
  function passkey(mediation) {
    return fetch("/authorize/passkey/options", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ tx: tx }) })
      .then(function (r) { return r.json(); })
      .then(function (start) {
        var opts = { publicKey: W.requestOptions(start.publicKey) };
        if (mediation) opts.mediation = mediation;
        return navigator.credentials.get(opts).then(function (cred) {
          return fetch("/authorize/passkey", { method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ tx: tx, ceremony: start.ceremony, credential: W.assertionJson(cred) }) });
        });
      })
      .then(function (r) {
        if (!r.ok) throw new Error("refused");
        return r.json();
      })
      .then(function (j) { finished = true; window.location.assign(j.next); });
  }
  document.getElementById("use-passkey").addEventListener("click", function () {
    errorEl.hidden = true;
    passkey(null).catch(function () { errorEl.hidden = false; });
  });
})();
