/**
 * The one script of the verification pages, served from this server at a path named after its hash
 * (immutable caching; CSP `script-src 'self'`, no inline script). It runs the WebAuthn ceremonies of forms
 * marked `data-webauthn` (their options in `data-options`; the answer posted in the hidden `response`
 * field), reveals what needs it (`data-js-only`), and shows `<time data-local>` in the person's own time
 * zone. Without JavaScript the pages still offer a TOTP code or a recovery code.
 */
import { createHash } from 'node:crypto';

export const PAGE_SCRIPT = `(function () {
  'use strict';
  function b64(buffer) {
    var bytes = new Uint8Array(buffer), text = '';
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  }
  function bytes(value) {
    var s = value.replace(/-/g, '+').replace(/_/g, '/');
    s += '===='.slice(0, (4 - (s.length % 4)) % 4);
    var text = atob(s), out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out.buffer;
  }
  function ids(list) {
    return (list || []).map(function (c) { return { type: 'public-key', id: bytes(c.id), transports: c.transports }; });
  }
  function create(o) {
    var publicKey = Object.assign({}, o, {
      challenge: bytes(o.challenge),
      user: Object.assign({}, o.user, { id: bytes(o.user.id) }),
      excludeCredentials: ids(o.excludeCredentials)
    });
    return navigator.credentials.create({ publicKey: publicKey }).then(function (c) {
      return {
        id: c.id, rawId: b64(c.rawId), type: c.type,
        authenticatorAttachment: c.authenticatorAttachment || undefined,
        clientExtensionResults: c.getClientExtensionResults(),
        response: {
          clientDataJSON: b64(c.response.clientDataJSON),
          attestationObject: b64(c.response.attestationObject),
          transports: c.response.getTransports ? c.response.getTransports() : []
        }
      };
    });
  }
  function get(o) {
    var publicKey = Object.assign({}, o, { challenge: bytes(o.challenge), allowCredentials: ids(o.allowCredentials) });
    return navigator.credentials.get({ publicKey: publicKey }).then(function (c) {
      return {
        id: c.id, rawId: b64(c.rawId), type: c.type,
        authenticatorAttachment: c.authenticatorAttachment || undefined,
        clientExtensionResults: c.getClientExtensionResults(),
        response: {
          clientDataJSON: b64(c.response.clientDataJSON),
          authenticatorData: b64(c.response.authenticatorData),
          signature: b64(c.response.signature),
          userHandle: c.response.userHandle ? b64(c.response.userHandle) : undefined
        }
      };
    });
  }
  var webauthn = typeof PublicKeyCredential !== 'undefined' && navigator.credentials;
  document.querySelectorAll('form[data-webauthn]').forEach(function (form) {
    if (!webauthn) return;
    form.querySelectorAll('[data-js-only]').forEach(function (el) { el.hidden = false; });
    var error = form.querySelector('[data-webauthn-error]');
    form.addEventListener('submit', function (event) {
      var answer = form.querySelector('input[name=response]');
      if (answer.value) return;
      event.preventDefault();
      if (error) error.hidden = true;
      var options = JSON.parse(form.getAttribute('data-options'));
      var ceremony = form.getAttribute('data-webauthn') === 'create' ? create(options) : get(options);
      ceremony.then(function (credential) {
        answer.value = JSON.stringify(credential);
        form.submit();
      }, function () {
        if (error) error.hidden = false;
      });
    });
  });
  var format = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' };
  document.querySelectorAll('time[data-local]').forEach(function (el) {
    var at = new Date(el.getAttribute('datetime'));
    if (!isNaN(at.getTime())) el.textContent = at.toLocaleString(undefined, format);
  });
})();
`;

/** `/device/assets/page-<hash>.js`: a new script is a new path, so it can be cached for good. */
export const PAGE_SCRIPT_PATH = `/device/assets/page-${createHash('sha256').update(PAGE_SCRIPT).digest('hex').slice(0, 16)}.js`;
