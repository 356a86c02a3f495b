/** The verification pages as HTML. Every value from outside goes through `html`, which escapes it. */
import { html, type SafeHtml } from './html.js';
import { PAGE_SCRIPT_PATH } from './page_script.js';
import { describeScope, durationInWords, utcText } from './trust.js';
import { type ProviderChoice, providerButtons } from './upstream_views.js';

export const STYLE_PATH = '/device/style.css';
/** Where the organisation's name and logo go; the pages' plugin fills it in (trust.ts). */
export const BRAND_MARKER = html`<!--clavis:brand-->`;

/** The pages' one script (WebAuthn, local times), for pages that use it. */
const script = html`<script src="${PAGE_SCRIPT_PATH}" defer></script>`;

/** A page in the pages' layout, for page modules with views of their own. */
export function layoutPage(title: string, body: SafeHtml): string {
  return layout(title, body);
}

function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Clavis</title>
<link rel="stylesheet" href="${STYLE_PATH}">
</head>
<body>
<main>
${BRAND_MARKER}
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.toString();
}

function errorBox(message: string | undefined): SafeHtml {
  return message ? html`<p class="error" role="alert">${message}</p>` : html``;
}

function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${csrf}">`;
}

export function codeEntryPage(input: {
  csrf: string;
  userCode?: string | undefined;
  error?: string;
}): string {
  return layout(
    'Connect a device',
    html`${errorBox(input.error)}
<p>Enter the code shown on your terminal. Check that it matches before you continue.</p>
<form method="post" action="/device">
${csrfField(input.csrf)}
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="${input.userCode ?? ''}" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" required>
<button type="submit">Continue</button>
</form>`,
  );
}

export function signInPage(input: {
  csrf: string;
  username?: string | undefined;
  error?: string;
  /** Upstream identity providers offered beside (or instead of) the password. */
  providers?: readonly ProviderChoice[];
  /** Whether the local password form is offered (default true). */
  passwords?: boolean;
}): string {
  const passwords = input.passwords !== false;
  return layout(
    'Sign in',
    html`${errorBox(input.error)}
${providerButtons(input.csrf, input.providers ?? [])}
${
  passwords
    ? html`<form method="post" action="/device/login">
${csrfField(input.csrf)}
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${input.username ?? ''}" autocomplete="username" maxlength="256" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" maxlength="1024" required>
<button type="submit">Sign in</button>
</form>`
    : ''
}`,
  );
}

export function changePasswordPage(input: { csrf: string; error?: string }): string {
  return layout(
    'Choose a new password',
    html`${errorBox(input.error)}
<p>The password you signed in with was for one use only. Choose your own: at least 12 characters.</p>
<form method="post" action="/device/password">
${csrfField(input.csrf)}
<label for="new_password">New password</label>
<input type="password" id="new_password" name="new_password" autocomplete="new-password" minlength="12" maxlength="1024" required>
<label for="confirm_password">Confirm new password</label>
<input type="password" id="confirm_password" name="confirm_password" autocomplete="new-password" minlength="12" maxlength="1024" required>
<button type="submit">Change password</button>
</form>`,
  );
}

/** A form that runs a WebAuthn ceremony through the pages' script; hidden without JavaScript. */
export function webauthnForm(input: {
  csrf: string;
  action: '/device/mfa/passkey' | '/device/passkeys';
  ceremony: 'create' | 'get';
  options: string;
  button: string;
  fields?: SafeHtml;
}): SafeHtml {
  return html`<form method="post" action="${input.action}" data-webauthn="${input.ceremony}" data-options="${input.options}">
${csrfField(input.csrf)}
<input type="hidden" name="response" value="">
${input.fields ?? ''}
<p class="error" role="alert" data-webauthn-error hidden>That did not work. Try again, or use another way below.</p>
<button type="submit" data-js-only hidden>${input.button}</button>
<noscript><p>Passkeys and security keys need JavaScript in this browser.</p></noscript>
</form>
${script}`;
}

export function mfaPage(input: {
  csrf: string;
  error?: string;
  /** The person has a TOTP authenticator (default true). */
  totp?: boolean;
  /** The person has passkeys: the assertion options (JSON) for the WebAuthn form. */
  passkeyOptions?: string | undefined;
  /** The client requires a phishing-resistant factor that this session has not passed yet. */
  phishingResistant?: boolean;
}): string {
  const totp = input.totp !== false;
  return layout(
    'Second factor',
    html`${errorBox(input.error)}
${input.phishingResistant ? html`<p class="warning">This application requires a passkey or security key: an authentication code is not enough.</p>` : ''}
${input.passkeyOptions ? webauthnForm({ csrf: input.csrf, action: '/device/mfa/passkey', ceremony: 'get', options: input.passkeyOptions, button: 'Use your passkey or security key' }) : ''}
<p>${totp ? 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.' : 'Or enter one of your recovery codes.'}</p>
<form method="post" action="/device/mfa">
${csrfField(input.csrf)}
<label for="code">Authentication code</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="32" required>
<button type="submit">Verify</button>
</form>`,
  );
}

export function mfaSetupPage(input: {
  csrf: string;
  secret: string;
  uri: string;
  enrolment: string;
  /** The `otpauth://` URI as a QR code (server-rendered SVG). */
  qr?: SafeHtml;
  error?: string;
}): string {
  return layout(
    'Set up a second factor',
    html`${errorBox(input.error)}
<p>This application requires a second factor. <a href="/device/passkeys">Use a passkey or security key</a>, or set up an authenticator app below.</p>
<p>Scan this code with your authenticator app, or type the key into it, then enter the code it shows.</p>
${input.qr ? html`<figure class="qr">${input.qr}<figcaption>QR code of the key below</figcaption></figure>` : ''}
<dl>
<dt>Key</dt><dd><code>${input.secret}</code></dd>
<dt>URI</dt><dd><code>${input.uri}</code></dd>
</dl>
<form method="post" action="/device/mfa/setup">
${csrfField(input.csrf)}
<input type="hidden" name="enrolment" value="${input.enrolment}">
<label for="code">Authentication code</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required>
<button type="submit">Confirm</button>
</form>`,
  );
}

export function recoveryCodesPage(codes: readonly string[], csrf: string): string {
  return layout(
    'Save your recovery codes',
    html`<p class="warning">Each code works once, in place of an authentication code. Store them somewhere safe: they are shown only now.</p>
<ul class="codes">${codes.map((c) => html`<li>${c}</li>`)}</ul>
<form method="post" action="/device/recovery-codes">
${csrfField(csrf)}
<p><input type="checkbox" id="saved" name="saved" value="yes" required> <label for="saved" class="inline">I have saved these codes</label></p>
<button type="submit">Continue</button>
</form>`,
  );
}

interface ConsentView {
  csrf: string;
  request: string;
  clientName: string;
  clientId: string;
  /** The scopes that approving will grant: those asked for that this person is entitled to. */
  scopes: readonly string[];
  /** Scopes asked for that this person will not get (not an administrator, no second factor, ceiling). */
  withheld?: readonly string[];
  requestedAt: number;
  requesterIp: string | null;
  requesterUserAgent: string | null;
  userCode: string;
  username: string;
  /** Words for scopes beyond the built-in ones (the operator's). */
  scopeDescriptions?: Readonly<Record<string, string>> | undefined;
  /** How long the terminal stays signed in: the client's absolute refresh lifetime, seconds. */
  staysSignedInSeconds?: number | undefined;
  /** The request came from another network than this browser's. */
  otherNetwork?: boolean;
}

function scopeItem(scope: string, custom: ConsentView['scopeDescriptions']): SafeHtml {
  const words = describeScope(scope, custom);
  return html`<li><code>${scope}</code>${words ? html` — ${words}` : ''}</li>`;
}

export function consentPage(v: ConsentView): string {
  return layout(
    'Approve this sign-in?',
    html`<p><strong>${v.clientName}</strong> (<code>${v.clientId}</code>) asks to act as <strong>${v.username}</strong>.</p>
<p class="signed-in">Not ${v.username}? <a href="/device/logout">Sign out</a></p>
${v.otherNetwork ? html`<p class="warning" role="alert">This request came from another network than the one you are on now. If you did not start it on a computer of your own, choose Deny.</p>` : ''}
<dl>
<dt>Code</dt><dd class="code">${v.userCode}</dd>
<dt>Requested at</dt><dd><time datetime="${new Date(v.requestedAt).toISOString()}" data-local>${utcText(v.requestedAt)}</time></dd>
<dt>From IP</dt><dd>${v.requesterIp ?? 'unknown'}</dd>
<dt>Device</dt><dd>${v.requesterUserAgent ?? 'unknown'}<br><small>As the requester describes itself: anyone can claim any device.</small></dd>
<dt>Access</dt><dd>${v.scopes.length ? html`<ul>${v.scopes.map((s) => scopeItem(s, v.scopeDescriptions))}</ul>` : 'no scopes'}</dd>
${v.withheld?.length ? html`<dt>Asked for, not granted to you</dt><dd><ul>${v.withheld.map((s) => scopeItem(s, v.scopeDescriptions))}</ul></dd>` : ''}
${v.staysSignedInSeconds ? html`<dt>Stays signed in</dt><dd>up to ${durationInWords(v.staysSignedInSeconds)}, unless you or an administrator sign it out sooner</dd>` : ''}
</dl>
<p class="warning">Only approve this if you started this sign-in yourself and your own terminal shows this code. If someone sent you this code or link, choose Deny.</p>
<form method="post" action="/device/consent">
${csrfField(v.csrf)}
<input type="hidden" name="request" value="${v.request}">
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
</form>
${script}`,
  );
}

export function signOutPage(input: { csrf: string; username: string }): string {
  return layout(
    'Sign out?',
    html`<p>You are signed in as <strong>${input.username}</strong>. Signing out lets someone else continue with the same code.</p>
<form method="post" action="/device/logout">
${csrfField(input.csrf)}
<button type="submit">Sign out</button>
</form>`,
  );
}

export function donePage(approved: boolean): string {
  return approved
    ? layout('Device connected', html`<p>You can return to your terminal.</p>`)
    : layout(
        'Request denied',
        html`<p>Request denied. Nothing was given access. You can close this page.</p>`,
      );
}

export function messagePage(title: string, message: string, link = true): string {
  return layout(
    title,
    html`<p class="error" role="alert">${message}</p>${link ? html`<p><a href="/device">Start again</a></p>` : ''}`,
  );
}
