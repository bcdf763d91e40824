// The catalogue's admin pages: staff passkey sign-in (or enrolment with the operator's code),
// then list, filter, edit, add and remove services through the staff API. The staff session is a
// bearer token kept in this tab's session storage.
(function () {
  // The colon after a label: full width in Chinese.
  var COLON = document.documentElement.lang.indexOf("zh") === 0 ? "：" : ": ";
  var root = document.getElementById("catalogue-admin");
  if (!root) return;
  var M = JSON.parse(document.getElementById("admin-messages").textContent);
  var W = window.iamsmartWebAuthn;
  var API = "/staff/v1/catalogue/services";
  var KEY = "iamsmart-staff-session";
  var EDITORS = ["editor", "supervisor"];
  var $ = function (id) { return document.getElementById(id); };
  var form = $("service-form");
  var services = [];
  var editing = null; // the id being edited, or null when adding
  var removing = null;

  function fill(text, vars) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return vars[k]; });
  }
  function show(el, on) { el.hidden = !on; }
  function token() { return sessionStorage.getItem(KEY); }
  function api(method, path, body) {
    var headers = { Authorization: "Bearer " + token() };
    if (body) headers["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        if (r.status === 401) { signedOut(M.sessionEnded); throw new Error("session"); }
        return r;
      });
  }
  function nameOf(s) { return M.lang === "zh" ? s.name.zh : s.name.en; }
  function status(html) {
    var el = $("status");
    el.textContent = "";
    if (html) el.appendChild(html);
    show(el, !!html);
    if (html) el.focus();
  }
  function message(text, link) {
    var frag = document.createDocumentFragment();
    frag.appendChild(document.createTextNode(text + " "));
    if (link) {
      var a = document.createElement("a");
      a.href = link; a.textContent = M.see; a.id = "status-link";
      frag.appendChild(a);
    }
    return frag;
  }

  // ---- signing in ----
  function signedOut(why) {
    sessionStorage.removeItem(KEY);
    show($("editor"), false);
    show($("signin"), true);
    var err = $("signin-error");
    err.textContent = why || "";
    show(err, !!why);
  }
  function signedIn(session) {
    if (session.token) sessionStorage.setItem(KEY, session.token);
    var who = session.staff || session;
    var role = M.roles[who.role] || who.role;
    $("staff-who").textContent = M.lang === "zh" ? who.id + "（" + role + "）" : who.id + " (" + role + ")";
    show($("signin"), false);
    show($("editor"), true);
    var allowed = EDITORS.indexOf(who.role) >= 0;
    $("role-error").textContent = allowed ? "" : fill(M.notEditor, { role: M.roles[who.role] || who.role });
    show($("role-error"), !allowed);
    show($("list-view"), allowed);
    show($("form-view"), false);
    if (allowed) load();
  }
  function post(path, body) {
    return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { if (!r.ok) throw new Error(path); return r.json(); });
  }
  $("staff-signin").addEventListener("click", function () {
    $("signin-error").hidden = true;
    post("/staff/v1/login/options")
      .then(function (start) {
        return navigator.credentials.get({ publicKey: W.requestOptions(start.publicKey) })
          .then(function (cred) {
            return post("/staff/v1/login/finish", { ceremony: start.ceremony, credential: W.assertionJson(cred) });
          });
      })
      .then(signedIn)
      .catch(function () { signedOut(M.signinFailed); });
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); save(); });
  $("enrol-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("signin-error").hidden = true;
    post("/staff/v1/enrolment/options", { staff_id: $("enrol-id").value.trim(),
      enrolment_code: $("enrol-code").value.trim() })
      .then(function (start) {
        return navigator.credentials.create({ publicKey: W.creationOptions(start.publicKey) })
          .then(function (cred) {
            return post("/staff/v1/enrolment/finish", { ceremony: start.ceremony, credential: W.registrationJson(cred) });
          });
      })
      .then(function (session) { $("enrol-form").reset(); signedIn(session); })
      .catch(function () { signedOut(M.enrolFailed); });
  });
  $("sign-out").addEventListener("click", function () {
    fetch("/staff/v1/logout", { method: "POST", headers: { Authorization: "Bearer " + token() } })
      .finally(function () { status(null); signedOut(); });
  });

  // ---- the list ----
  function load() {
    return api("GET", API).then(function (r) { return r.json(); })
      .then(function (body) { services = body.services; render(); })
      .catch(function (e) { if (e.message !== "session") status(message(M.failed)); });
  }
  function haystack(s) {
    return [s.id, s.name.en, s.name.zh, s.department.en, s.department.zh]
      .concat(s.keywords.en, s.keywords.zh).join(" ").toLowerCase();
  }
  function render() {
    var q = $("filter").value.trim().toLowerCase();
    var list = $("services");
    list.textContent = "";
    var shown = 0;
    services.forEach(function (s) {
      if (q && haystack(s).indexOf(q) < 0) return;
      shown++;
      var li = document.createElement("li");
      li.className = "admin-service";
      li.setAttribute("data-id", s.id);
      var h = document.createElement("h3");
      h.textContent = nameOf(s);
      var other = document.createElement("p");
      other.className = "other-lang";
      other.lang = M.lang === "zh" ? "en" : "zh-HK";
      other.textContent = M.lang === "zh" ? s.name.en : s.name.zh;
      var meta = document.createElement("p");
      meta.className = "dept";
      meta.textContent = (M.lang === "zh" ? s.department.zh : s.department.en) + " · ";
      var code = document.createElement("code");
      code.textContent = s.id;
      meta.appendChild(code);
      var actions = document.createElement("div");
      actions.className = "actions";
      actions.appendChild(button(M.edit, nameOf(s), "secondary edit", function () { edit(s.id); }));
      actions.appendChild(button(M.remove, nameOf(s), "danger remove", function () { askRemove(s.id); }));
      li.append(h, other, meta, actions);
      list.appendChild(li);
    });
    $("filter-count").textContent = fill(M.count, { shown: shown, total: services.length });
  }
  function button(label, what, cls, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button " + cls;
    b.textContent = label + " ";
    var hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = what;
    b.appendChild(hidden);
    b.addEventListener("click", onClick);
    return b;
  }
  $("filter").addEventListener("input", render);

  // ---- the form ----
  var F = form.elements;
  function documentRow(doc) {
    var row = $("document-row").content.firstElementChild.cloneNode(true);
    var n = document.querySelectorAll(".document-row").length + 1 + Math.floor(Math.random() * 1e6);
    ["en", "zh"].forEach(function (part) {
      var input = row.querySelector("input[data-part=" + part + "]");
      input.id = "doc-" + n + "-" + part;
      input.value = doc ? doc[part] : "";
      row.querySelector("label[data-part=" + part + "]").htmlFor = input.id;
    });
    row.querySelector(".remove-document").addEventListener("click", function () {
      row.remove();
      $("add-document").focus();
    });
    $("documents").appendChild(row);
    return row;
  }
  $("add-document").addEventListener("click", function () {
    documentRow(null).querySelector("input").focus();
  });
  function checks(name, values) {
    form.querySelectorAll("input[name=" + name + "]").forEach(function (c) {
      c.checked = values.indexOf(c.value) >= 0;
    });
  }
  function checked(name) {
    return Array.prototype.filter.call(form.querySelectorAll("input[name=" + name + "]"),
      function (c) { return c.checked; }).map(function (c) { return c.value; });
  }
  function lines(text) {
    return text.split(/\n/).map(function (l) { return l.trim(); }).filter(Boolean);
  }
  function open(service) {
    clearErrors();
    status(null);
    editing = service ? service.id : null;
    var s = service || { id: "", name: {}, department: {}, description: {}, audience: {}, fees: {},
      requirements: { level: "basic", documents: [] }, url: "https://", features: {},
      themes: [], life_events: [], age_groups: ["all"], popularity: 10, keywords: { en: [], zh: [] } };
    F.id.value = s.id;
    F.id.readOnly = !!service;
    ["name", "department", "description", "audience", "fees"].forEach(function (k) {
      F[k + ".en"].value = s[k].en || "";
      F[k + ".zh"].value = s[k].zh || "";
    });
    F.level.value = s.requirements.level;
    $("documents").textContent = "";
    s.requirements.documents.forEach(documentRow);
    F.url.value = s.url;
    F.client_id.value = s.client_id || "";
    ["one_tap_login", "form_filling", "signing"].forEach(function (k) { F[k].checked = !!s.features[k]; });
    checks("themes", s.themes);
    checks("life_events", s.life_events);
    checks("age_groups", s.age_groups);
    F.popularity.value = s.popularity;
    F["keywords.en"].value = s.keywords.en.join("\n");
    F["keywords.zh"].value = s.keywords.zh.join("\n");
    $("form-heading").textContent = service ? M.editHeading + COLON + nameOf(service) : M.addHeading;
    show($("list-view"), false);
    show($("form-view"), true);
    $("form-heading").focus();
  }
  function edit(id) {
    api("GET", API + "/" + encodeURIComponent(id))
      .then(function (r) { if (!r.ok) throw new Error("get"); return r.json(); })
      .then(open)
      .catch(function (e) { if (e.message !== "session") status(message(M.failed)); });
  }
  $("add-service").addEventListener("click", function () { open(null); });
  function closeForm() {
    show($("form-view"), false);
    show($("list-view"), true);
  }
  $("cancel-edit").addEventListener("click", function () { closeForm(); $("add-service").focus(); });
  function collect() {
    var bi = function (k) { return { en: F[k + ".en"].value.trim(), zh: F[k + ".zh"].value.trim() }; };
    var s = {
      id: F.id.value.trim(), name: bi("name"), department: bi("department"),
      description: bi("description"), audience: bi("audience"),
      requirements: { level: F.level.value,
        documents: Array.prototype.map.call(document.querySelectorAll(".document-row"), function (row) {
          return { en: row.querySelector("input[data-part=en]").value.trim(),
            zh: row.querySelector("input[data-part=zh]").value.trim() };
        }) },
      fees: bi("fees"), url: F.url.value.trim(),
      features: { one_tap_login: F.one_tap_login.checked, form_filling: F.form_filling.checked,
        signing: F.signing.checked },
      themes: checked("themes"), life_events: checked("life_events"), age_groups: checked("age_groups"),
      popularity: Number(F.popularity.value),
      keywords: { en: lines(F["keywords.en"].value), zh: lines(F["keywords.zh"].value) },
    };
    if (F.client_id.value.trim()) s.client_id = F.client_id.value.trim();
    return s;
  }
  function clearErrors() {
    show($("form-error"), false);
    form.querySelectorAll(".field-error").forEach(function (p) { p.textContent = ""; p.hidden = true; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }
  /** Shows a refusal next to its field and in a summary; what was typed stays. */
  function refused(field, detail) {
    var label = (M.fields[field] || field || "");
    var summary = $("form-error");
    summary.textContent = M.notSaved + " " + (label ? label + ": " : "") + detail;
    show(summary, true);
    var p = field && document.getElementById("err-" + field);
    var group = field && form.querySelector('[data-field="' + field + '"]');
    if (p && group) {
      p.textContent = label + COLON + detail;
      show(p, true);
      var inputs = group.querySelectorAll("input, textarea, select");
      inputs.forEach(function (el) { el.setAttribute("aria-invalid", "true"); });
      if (inputs[0]) { inputs[0].focus(); return; }
    }
    summary.setAttribute("tabindex", "-1");
    summary.focus();
  }
  function save() {
    clearErrors();
    var s = collect();
    var pop = F.popularity.value.trim();
    if (!s.id) return refused("id", M.idRule);
    if (!/^\d{1,3}$/.test(pop) || Number(pop) > 100) return refused("popularity", M.popularityRange);
    api("PUT", API + "/" + encodeURIComponent(s.id), s)
      .then(function (r) {
        if (r.ok) {
          return r.json().then(function (stored) {
            var i = services.findIndex(function (x) { return x.id === stored.id; });
            if (i >= 0) services[i] = stored; else services.push(stored);
            $("filter").value = stored.id; // the service just saved, as it is now
            render();
            closeForm();
            status(message(fill(r.status === 201 ? M.added : M.saved, { name: nameOf(stored) }),
              "/services/" + encodeURIComponent(stored.id)));
          });
        }
        return r.json().catch(function () { return {}; }).then(function (p) {
          var detail = p.detail || p.title || M.failed;
          if (p.field && detail.indexOf(p.field + ": ") === 0) detail = detail.slice(p.field.length + 2);
          refused(p.field, detail);
        });
      })
      .catch(function (e) { if (e.message !== "session") refused(null, M.failed); });
  }

  // ---- removal, after a confirmation ----
  var dialog = $("remove-dialog");
  function askRemove(id) {
    removing = services.find(function (s) { return s.id === id; });
    $("remove-text").textContent = fill(M.removeText, { name: nameOf(removing) });
    dialog.showModal();
    $("remove-cancel").focus();
  }
  $("remove-cancel").addEventListener("click", function () { dialog.close(); });
  $("remove-confirm").addEventListener("click", function () {
    var s = removing;
    dialog.close();
    api("DELETE", API + "/" + encodeURIComponent(s.id))
      .then(function (r) {
        if (!r.ok && r.status !== 404) {
          return r.json().catch(function () { return {}; }).then(function (p) {
            status(message(M.notRemoved + " " + (p.detail || M.failed)));
          });
        }
        services = services.filter(function (x) { return x.id !== s.id; });
        render();
        status(message(fill(M.removed, { name: nameOf(s) })));
      })
      .catch(function (e) { if (e.message !== "session") status(message(M.failed)); });
  });

  // ---- start ----
  if (!window.PublicKeyCredential || !W) {
    $("staff-signin").disabled = true;
    $("staff-enrol").disabled = true;
    signedOut(M.noPasskeys);
  } else if (token()) {
    api("GET", "/staff/v1/me").then(function (r) { return r.json(); }).then(signedIn)
      .catch(function () { /* signedOut already shown */ });
  } else {
    signedOut();
  }
})();
