// Adding a passkey on the account page: the phone approves first (a passkey signs in without
// it), then the browser creates the passkey.
(function () {
  var box = document.getElementById("passkeys");
  var button = document.getElementById("add-passkey");
  if (!box || !button) return;
  var csrf = box.getAttribute("data-csrf");
  var errorEl = document.getElementById("passkey-error");
  var waitEl = document.getElementById("passkey-wait");
  var matchEl = document.getElementById("passkey-match");
  if (!window.PublicKeyCredential || !window.iamsmartWebAuthn) { button.disabled = true; return; }
  var W = window.iamsmartWebAuthn;

  function fail(which) {
    waitEl.hidden = true;
    button.disabled = false;
    errorEl.textContent = errorEl.getAttribute("data-" + which) || errorEl.getAttribute("data-error");
    errorEl.hidden = false;
  }

  function ask(pending) {
    return fetch("/account/passkeys/options", { method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        body: pending ? JSON.stringify({ pending: pending }) : "" })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) {
            var d = String(j.error_description || "");
            throw new Error(/declined/.test(d) ? "denied" : /expired|already used/.test(d) ? "expired" : "error");
          }
          return j;
        });
      });
  }

  function waitForPhone(step) {
    if (step.status === "ready") return Promise.resolve(step);
    matchEl.textContent = step.match_code;
    waitEl.hidden = false;
    return new Promise(function (resolve) { setTimeout(resolve, 1500); })
      .then(function () { return ask(step.pending); })
      .then(waitForPhone);
  }

  button.addEventListener("click", function () {
    errorEl.hidden = true;
    button.disabled = true;
    ask(null)
      .then(waitForPhone)
      .then(function (start) {
        waitEl.hidden = true;
        return navigator.credentials.create({ publicKey: W.creationOptions(start.publicKey) })
          .then(function (cred) {
            return fetch("/account/passkeys", { method: "POST", credentials: "same-origin",
              headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
              body: JSON.stringify({ ceremony: start.ceremony, credential: W.registrationJson(cred),
                name: navigator.platform || "Passkey" }) });
          });
      })
      .then(function (r) { if (!r.ok) throw new Error("error"); window.location.reload(); })
      .catch(function (e) { fail(e && e.message === "denied" ? "denied" : e && e.message === "expired" ? "expired" : "error"); });
  });
})();
