/**
 * GET /device/continue: on to whatever the session's next step is (from the passkey list). POST
 * /device/recovery-codes: the person confirms they saved the recovery codes just shown, then goes on.
 */
import type { FastifyInstance } from 'fastify';
import { nextStep, type PageDeps, redirect } from './deps.js';
import { field, formOf, loadSession, PageError, requireFormSession } from './page_http.js';

export function registerContinue(scope: FastifyInstance, deps: PageDeps): void {
  scope.get('/device/continue', async (request, reply) => {
    const session = await loadSession(deps, request);
    if (!session) return redirect(reply, '/device');
    return redirect(reply, await nextStep(deps, session));
  });

  scope.post('/device/recovery-codes', async (request, reply) => {
    const form = formOf(request);
    const session = await requireFormSession(deps, request, form);
    if (field(form, 'saved', 8) !== 'yes') {
      throw new PageError(
        400,
        'Recovery codes not confirmed',
        'Tick “I have saved these codes” before you continue. If you lost them, ask an administrator to reset your second factor.',
      );
    }
    return redirect(reply, await nextStep(deps, session));
  });
}
