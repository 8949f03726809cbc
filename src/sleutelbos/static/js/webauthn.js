/* Security keys (WebAuthn) for Sleutelbos: the only script of the site.
   A form with data-webauthn="create" or "get" names, in data-webauthn-options, the id of a
   <script type="application/json"> element holding the options the server made. On submit this script asks the
   browser for the key, puts the answer as JSON in the form's hidden "response" field and submits the form. */
(function () {
  "use strict";

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function readOptions(form) {
    var element = document.getElementById(form.getAttribute("data-webauthn-options"));
    var value = JSON.parse(element.textContent);
    // The options arrive as a JSON document inside a JSON string (Django's json_script of the server's JSON).
    return typeof value === "string" ? JSON.parse(value) : value;
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = Object.assign({}, item);
      copy.id = toBytes(item.id);
      return copy;
    });
  }

  function creationOptions(options) {
    var publicKey = Object.assign({}, options);
    publicKey.challenge = toBytes(options.challenge);
    publicKey.user = Object.assign({}, options.user, { id: toBytes(options.user.id) });
    publicKey.excludeCredentials = descriptors(options.excludeCredentials);
    return { publicKey: publicKey };
  }

  function requestOptions(options) {
    var publicKey = Object.assign({}, options);
    publicKey.challenge = toBytes(options.challenge);
    publicKey.allowCredentials = descriptors(options.allowCredentials);
    return { publicKey: publicKey };
  }

  function serialise(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) {
        json.response.userHandle = toBase64url(response.userHandle);
      }
    }
    return JSON.stringify(json);
  }

  function showError(form, text) {
    var element = form.querySelector("[data-webauthn-error]");
    if (element) {
      element.textContent = text;
      element.hidden = false;
    }
  }

  function onSubmit(event) {
    var form = event.currentTarget;
    var field = form.querySelector("input[name$='response']");
    if (field && field.value) {
      return; // the answer is in: let the form go
    }
    event.preventDefault();
    if (!window.PublicKeyCredential || !navigator.credentials) {
      showError(form, form.getAttribute("data-webauthn-unsupported"));
      return;
    }
    var mode = form.getAttribute("data-webauthn");
    var options;
    try {
      options = readOptions(form);
    } catch (error) {
      showError(form, form.getAttribute("data-webauthn-failed"));
      return;
    }
    var ask = mode === "create" ? navigator.credentials.create(creationOptions(options))
                                : navigator.credentials.get(requestOptions(options));
    ask.then(function (credential) {
      field.value = serialise(credential);
      form.submit();
    }).catch(function () {
      showError(form, form.getAttribute("data-webauthn-failed"));
    });
  }

  var forms = document.querySelectorAll("form[data-webauthn]");
  for (var i = 0; i < forms.length; i++) {
    forms[i].addEventListener("submit", onSubmit);
  }
})();
