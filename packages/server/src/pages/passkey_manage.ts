/**
 * A person renames or removes their own passkeys: POST /device/passkeys/rename and
 * /device/passkeys/remove, from the list on /device/passkeys. Only a session that has passed its second
 * factor (a session lasts minutes, so that pass is fresh), with the form's CSRF token; the last usable
 * second factor (no TOTP, no other usable passkey) cannot be removed — `clavis admin users reset-mfa`
 * is the way out for a person who lost it. Both are audited, the refusals too.
 */
import type { FastifyInstance } from 'fastify';
import { requestContext } from '../http/request_context.js';
import { removeOwnPasskey, renamePasskey } from '../users/passkeys.js';
import { redirect, type SecondFactorPageDeps, sessionUser } from './deps.js';
import { field, formOf, PageError, requireFormSession } from './page_http.js';

/** A credential id as browsers send it: base64url, at most 1023 bytes encoded (WebAuthn §5.8.3). */
const MAX_ID = 1400;

function passkeyName(value: string | undefined): string {
  const name = (value ?? '').trim();
  if (!name || /\p{Cc}/u.test(name))
    throw new PageError(400, 'Invalid name', 'A passkey name is 1 to 64 printable characters.');
  return name;
}

export function registerPasskeyManagement(scope: FastifyInstance, deps: SecondFactorPageDeps): void {
  /** The person of a CSRF-checked form whose session passed its second factor, else where to go. */
  const manager = async (request: Parameters<typeof formOf>[0]) => {
    const form = formOf(request);
    const session = await requireFormSession(deps, request, form);
    const user = await sessionUser(deps, session);
    if (!user) return { ok: false, to: '/device/login' } as const;
    if (session.mfa_at === null) return { ok: false, to: '/device/mfa' } as const;
    const id = field(form, 'id', MAX_ID) ?? '';
    if (!id) throw new PageError(400, 'No passkey', 'Choose a passkey.');
    return { ok: true, user, form, id, context: requestContext(request) } as const;
  };

  scope.post('/device/passkeys/rename', async (request, reply) => {
    const state = await manager(request);
    if (!state.ok) return redirect(reply, state.to);
    const { user, form, id, context } = state;
    const name = passkeyName(field(form, 'name', 64));
    const renamed = await deps.audit.transact(
      (tx) => renamePasskey(tx, user.id, id, name),
      (done) => ({
        event: 'user.passkey_rename',
        outcome: done ? 'success' : 'failure',
        actor: { type: 'user', id: user.id },
        ip: context.ip,
        userAgent: context.userAgent,
        detail: { credential_id: id.slice(0, 128), passkey: name, ...(done ? {} : { reason: 'not_found' }) },
      }),
    );
    if (!renamed) throw new PageError(404, 'No such passkey', 'That passkey is not one of yours.');
    return redirect(reply, '/device/passkeys');
  });

  scope.post('/device/passkeys/remove', async (request, reply) => {
    const state = await manager(request);
    if (!state.ok) return redirect(reply, state.to);
    const { user, id, context } = state;
    const outcome = await deps.audit.transact(
      (tx) => removeOwnPasskey(tx, user.id, id),
      (result) => ({
        event: 'user.passkey_remove',
        outcome: result === 'removed' ? 'success' : 'failure',
        actor: { type: 'user', id: user.id },
        ip: context.ip,
        userAgent: context.userAgent,
        detail: { credential_id: id.slice(0, 128), ...(result === 'removed' ? {} : { reason: result }) },
      }),
    );
    if (outcome === 'not_found')
      throw new PageError(404, 'No such passkey', 'That passkey is not one of yours.');
    if (outcome === 'last_factor')
      throw new PageError(
        409,
        'Your last second factor',
        'This is your only second factor: add another passkey or security key first, then remove this one.',
      );
    return redirect(reply, '/device/passkeys');
  });
}
