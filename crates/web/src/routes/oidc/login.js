// Progressive enhancement of the login page: poll the login's status and continue on its own
// once the app has answered. Without JavaScript the "continue" link does the same.
(function () {
  var main = document.getElementById("login");
  if (!main) return;
  var statusUrl = main.getAttribute("data-status-url");
  var continueUrl = main.getAttribute("data-continue-url");
  var statusEl = document.getElementById("status");
  var texts = document.documentElement.lang === "zh-HK"
    ? { scanned: "已掃描。請在流動應用程式內確認。", done: "已回覆，正在繼續…" }
    : { scanned: "Scanned. Please approve in the app.", done: "Answered, continuing…" };
  var stopped = false;
  function poll() {
    if (stopped) return;
    fetch(statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (j.status === "scanned") statusEl.textContent = texts.scanned;
        if (j.status === "approved" || j.status === "denied" || j.status === "expired") {
          stopped = true;
          statusEl.textContent = texts.done;
          window.location.assign(continueUrl);
          return;
        }
        setTimeout(poll, 1500);
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  setTimeout(poll, 1500);
})();
