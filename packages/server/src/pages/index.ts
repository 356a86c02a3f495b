/**
 * The device verification pages (RFC 8628 §3.3): server-rendered HTML that works without JavaScript.
 * Code entry → sign in → second factor → consent → done. Everything here answers with HTML pages — its
 * own error handler renders failures as pages, never JSON, never a stack — under a strict CSP.
 */

import { OAuthError } from '@clavis/core';
import type { FastifyError, FastifyInstance } from 'fastify';
import { isTransientStorageError } from '../storage/errors.js';
import { registerPageAssets } from './assets.js';
import { registerChangePassword } from './change_password.js';
import { registerCodeEntry } from './code_entry.js';
import { registerConsent } from './consent.js';
import { registerContinue } from './continue.js';
import { type DevicePagesDeps, sendPage } from './deps.js';
import { PageError } from './page_http.js';
import { registerPasskeyManagement } from './passkey_manage.js';
import { registerPasskeys } from './passkeys.js';
import { registerSecondFactor } from './second_factor.js';
import { registerSignIn } from './sign_in.js';
import { registerSignOut } from './sign_out.js';
import { STYLESHEET } from './style.js';
import { registerUpstreamCallback } from './upstream_callback.js';
import { registerUpstreamSignIn } from './upstream_sign_in.js';
import { messagePage, STYLE_PATH } from './views.js';

export type { DevicePagesDeps } from './deps.js';

/** Turns anything thrown inside the pages into a page: status, title and a message safe to show. */
function pageFor(err: unknown): { error: PageError; unexpected: boolean } {
  if (err instanceof PageError) return { error: err, unexpected: false };
  if (isTransientStorageError(err)) {
    return {
      error: new PageError(503, 'Busy', 'The service is busy. Try again in a moment.', {
        'retry-after': '1',
      }),
      unexpected: false,
    };
  }
  const code = (err as Partial<FastifyError>).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { error: new PageError(413, 'Too large', 'What you sent is too large.'), unexpected: false };
  }
  const status = (err as { statusCode?: unknown }).statusCode;
  if (err instanceof OAuthError || (typeof status === 'number' && status >= 400 && status < 500)) {
    return {
      error: new PageError(400, 'Bad request', 'The form could not be read. Start again.'),
      unexpected: false,
    };
  }
  return {
    error: new PageError(500, 'Something went wrong', 'Something went wrong on our side. Try again.'),
    unexpected: true,
  };
}

export function registerDevicePages(app: FastifyInstance, deps: DevicePagesDeps): void {
  app.register(async (scope) => {
    scope.setErrorHandler((err, request, reply) => {
      const { error, unexpected } = pageFor(err);
      if (unexpected) request.log.error({ err }, 'unexpected error on a device page');
      for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
      return sendPage(reply, error.status, messagePage(error.title, error.message));
    });

    scope.get(STYLE_PATH, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(STYLESHEET),
    );
    registerPageAssets(scope, deps.config);
    registerCodeEntry(scope, deps);
    registerSignIn(scope, deps);
    registerChangePassword(scope, deps);
    registerSecondFactor(scope, deps);
    registerConsent(scope, deps);
    registerUpstreamSignIn(scope, deps);
    registerUpstreamCallback(scope, deps);
    registerPasskeys(scope, deps);
    registerPasskeyManagement(scope, deps);
    registerContinue(scope, deps);
    registerSignOut(scope, deps);
  });
}
