// WebAuthn helpers shared by the login and account pages: JSON options to and from the
// browser's ArrayBuffers (base64url).
(function () {
  function b64ToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(o) {
    o.challenge = b64ToBuf(o.challenge);
    o.user.id = b64ToBuf(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = b64ToBuf(c.id); });
    return o;
  }
  function requestOptions(o) {
    o.challenge = b64ToBuf(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = b64ToBuf(c.id); });
    return o;
  }
  function registrationJson(c) {
    return { id: c.id, type: c.type, response: {
      clientDataJSON: bufToB64(c.response.clientDataJSON),
      attestationObject: bufToB64(c.response.attestationObject) } };
  }
  function assertionJson(c) {
    return { id: c.id, type: c.type, response: {
      clientDataJSON: bufToB64(c.response.clientDataJSON),
      authenticatorData: bufToB64(c.response.authenticatorData),
      signature: bufToB64(c.response.signature),
      userHandle: c.response.userHandle ? bufToB64(c.response.userHandle) : null } };
  }
  window.iamsmartWebAuthn = { creationOptions: creationOptions, requestOptions: requestOptions,
    registrationJson: registrationJson, assertionJson: assertionJson };
})();
