// Passbridge passkeys: the browser half of WebAuthn registration and sign-in.
// A form with data-options posts its CSRF token there, receives {ceremonyId, publicKey}, asks the browser
// for a credential, and submits itself with the answer. Cancelling changes nothing on the server.
"use strict";

(function () {
  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
    const binary = atob(base64);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    let binary = "";
    new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    const options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.user = Object.assign({}, json.user, { id: fromBase64url(json.user.id) });
    options.excludeCredentials = (json.excludeCredentials || []).map((c) => Object.assign({}, c, { id: fromBase64url(c.id) }));
    return options;
  }

  function requestOptions(json) {
    const options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.allowCredentials = (json.allowCredentials || []).map((c) => Object.assign({}, c, { id: fromBase64url(c.id) }));
    return options;
  }

  function credentialJSON(credential) {
    const response = credential.response;
    const body = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      body.response.attestationObject = toBase64url(response.attestationObject);
      body.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      body.response.authenticatorData = toBase64url(response.authenticatorData);
      body.response.signature = toBase64url(response.signature);
      body.response.userHandle = response.userHandle ? toBase64url(response.userHandle) : null;
    }
    return JSON.stringify(body);
  }

  function say(form, text) {
    const message = form.querySelector(".message");
    if (message) { message.textContent = text; }
  }

  async function run(form, event) {
    event.preventDefault();
    if (!window.PublicKeyCredential) {
      say(form, "This browser does not support passkeys.");
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(form, "");
    try {
      const body = new URLSearchParams({ csrf_token: form.elements.csrf_token.value });
      // A sign-in not yet stored is created by this post, with where it was going (web/signin.py).
      if (form.elements.return_to) body.set("return_to", form.elements.return_to.value);
      const answer = await fetch(form.dataset.options, { method: "POST", body: body, credentials: "same-origin" });
      const data = await answer.json();
      if (!answer.ok) {
        if (data.location) { window.location.assign(data.location); return; }
        say(form, data.error || "Something went wrong. Try again.");
        return;
      }
      const credential = form.dataset.mode === "get"
        ? await navigator.credentials.get({ publicKey: requestOptions(data.publicKey) })
        : await navigator.credentials.create({ publicKey: creationOptions(data.publicKey) });
      form.elements.ceremony_id.value = data.ceremonyId;
      form.elements.credential.value = credentialJSON(credential);
      HTMLFormElement.prototype.submit.call(form);
    } catch (error) {
      const cancelled = error && (error.name === "NotAllowedError" || error.name === "AbortError");
      // Signing in, NotAllowedError is the same whether the person cancelled, waited too long or the
      // device holds no passkey for this site (WebAuthn keeps that private): say only what is known.
      say(form, cancelled && form.dataset.mode === "get"
        ? "No passkey was used. If this device has none for this account, use your Temporary Access Pass " +
          "or an authenticator app."
        : cancelled
        ? "The passkey request was cancelled or timed out. Nothing was changed; you can try again."
        : (error && error.name === "InvalidStateError"
          ? "This device already holds a passkey for your account."
          : "Your browser could not complete the passkey request. Nothing was changed; try again."));
    } finally {
      button.disabled = false;
    }
  }

  document.querySelectorAll("form[data-options]").forEach((form) => {
    form.addEventListener("submit", (event) => run(form, event));
  });
})();
