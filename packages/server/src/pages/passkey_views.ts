/** The passkey pages as HTML: the person's passkeys (each with rename and remove) and the form that adds one. */
import type { WebauthnCredentialRow } from '../storage/schema.js';
import { html } from './html.js';
import { utcText } from './trust.js';
import { layoutPage, webauthnForm } from './views.js';

export function passkeysPage(input: {
  csrf: string;
  passkeys: readonly WebauthnCredentialRow[];
  /** Registration options (JSON) for the WebAuthn form; absent at the maximum. */
  options?: string | undefined;
  error?: string | undefined;
  /** Just added one: where to go on. */
  added?: boolean;
}): string {
  const when = (ms: number | null) => (ms === null ? 'never' : utcText(Number(ms)));
  return layoutPage(
    'Passkeys and security keys',
    html`${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
${input.added ? html`<p>Added. You can add another one, or continue.</p>` : html`<p>A passkey or security key proves it is you without a code to type, and only works on this site: a look-alike site cannot use it.</p>`}
${
  input.passkeys.length
    ? html`<table class="passkeys"><thead><tr><th>Name</th><th>Added</th><th>Last used</th><th>Rename</th><th>Remove</th></tr></thead><tbody>${input.passkeys.map(
        (p) =>
          html`<tr><td>${p.name}${p.disabled_at === null ? '' : html` <strong>(disabled)</strong>`}</td><td>${when(p.created_at)}</td><td>${when(p.last_used_at)}</td>
<td><form method="post" action="/device/passkeys/rename"><input type="hidden" name="csrf" value="${input.csrf}"><input type="hidden" name="id" value="${p.id}"><input type="text" name="name" maxlength="64" aria-label="New name for ${p.name}" required><button type="submit">Rename</button></form></td>
<td><form method="post" action="/device/passkeys/remove"><input type="hidden" name="csrf" value="${input.csrf}"><input type="hidden" name="id" value="${p.id}"><button type="submit" aria-label="Remove ${p.name}">Remove</button></form></td></tr>`,
      )}</tbody></table>`
    : html`<p>You have no passkey yet.</p>`
}
${
  input.options
    ? webauthnForm({
        csrf: input.csrf,
        action: '/device/passkeys',
        ceremony: 'create',
        options: input.options,
        button: 'Add a passkey or security key',
        fields: html`<label for="name">Name</label>
<input type="text" id="name" name="name" maxlength="64" value="" placeholder="e.g. YubiKey, laptop">`,
      })
    : ''
}
<p><a href="/device/continue">Continue</a></p>`,
  );
}
