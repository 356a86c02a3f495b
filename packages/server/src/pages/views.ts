/** The verification pages as HTML. Every value from outside goes through `html`, which escapes it. */
import { html, type SafeHtml } from './html.js';
import { type ProviderChoice, providerButtons } from './upstream_views.js';

export const STYLE_PATH = '/device/style.css';

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

export function mfaPage(input: { csrf: string; error?: string }): string {
  return layout(
    'Second factor',
    html`${errorBox(input.error)}
<p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
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
  error?: string;
}): string {
  return layout(
    'Set up a second factor',
    html`${errorBox(input.error)}
<p>This application requires a second factor. Add this key to your authenticator app, then enter the code it shows.</p>
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

export function recoveryCodesPage(codes: readonly string[]): string {
  return layout(
    'Save your recovery codes',
    html`<p class="warning">Each code works once, in place of an authentication code. Store them somewhere safe: they are shown only now.</p>
<ul class="codes">${codes.map((c) => html`<li>${c}</li>`)}</ul>
<p><a href="/device/consent">Continue</a></p>`,
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
}

export function consentPage(v: ConsentView): string {
  return layout(
    'Approve this sign-in?',
    html`<p><strong>${v.clientName}</strong> (<code>${v.clientId}</code>) asks to act as <strong>${v.username}</strong>.</p>
<dl>
<dt>Code</dt><dd class="code">${v.userCode}</dd>
<dt>Requested at</dt><dd><time datetime="${new Date(v.requestedAt).toISOString()}">${new Date(v.requestedAt).toISOString()}</time></dd>
<dt>From IP</dt><dd>${v.requesterIp ?? 'unknown'}</dd>
<dt>Device</dt><dd>${v.requesterUserAgent ?? 'unknown'}</dd>
<dt>Access</dt><dd>${v.scopes.length ? html`<ul>${v.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul>` : 'no scopes'}</dd>
${v.withheld?.length ? html`<dt>Asked for, not granted to you</dt><dd><ul>${v.withheld.map((s) => html`<li><code>${s}</code></li>`)}</ul></dd>` : ''}
</dl>
<p class="warning">Only approve this if you started this sign-in yourself and your own terminal shows this code. If someone sent you this code or link, choose Deny.</p>
<form method="post" action="/device/consent">
${csrfField(v.csrf)}
<input type="hidden" name="request" value="${v.request}">
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
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
