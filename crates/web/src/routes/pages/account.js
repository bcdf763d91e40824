// Adding a passkey on the account page.
(function () {
  var box = document.getElementById("passkeys");
  var button = document.getElementById("add-passkey");
  if (!box || !button) return;
  var csrf = box.getAttribute("data-csrf");
  var errorEl = document.getElementById("passkey-error");
  if (!window.PublicKeyCredential || !window.iamsmartWebAuthn) { button.disabled = true; return; }
  var W = window.iamsmartWebAuthn;
  button.addEventListener("click", function () {
    errorEl.hidden = true;
    fetch("/account/passkeys/options", { method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf } })
      .then(function (r) { if (!r.ok) throw new Error("options"); return r.json(); })
      .then(function (start) {
        return navigator.credentials.create({ publicKey: W.creationOptions(start.publicKey) })
          .then(function (cred) {
            return fetch("/account/passkeys", { method: "POST", credentials: "same-origin",
              headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
              body: JSON.stringify({ ceremony: start.ceremony, credential: W.registrationJson(cred),
                name: navigator.platform || "Passkey" }) });
          });
      })
      .then(function (r) { if (!r.ok) throw new Error("refused"); window.location.reload(); })
      .catch(function () { errorEl.hidden = false; });
  });
})();
