/**
 * The person an upstream identity signs in as: the one its link (`iss` + `sub`) names, or — on its first
 * sign-in — a person provisioned for it, with the link, in one transaction with its audit record
 * (`idp.link`): never a person without a link, never a link without a person. An upstream identity is
 * never matched to an existing person by e-mail or by username: when the username the provider gives
 * is already taken here, the sign-in is refused until an administrator links the two
 * (`clavis admin idps link`), so a provider cannot take over a local account by naming it.
 */
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import type { RequestContext } from '../audit/events.js';
import { randomId } from '../crypto/secrets.js';
import { isUniqueViolation } from '../storage/errors.js';
import type { Database, UserRow } from '../storage/schema.js';
import { findUserById, findUsernameIgnoringCase, insertUser } from '../users/user_store.js';
import type { IdentityProvider } from './identity_provider.js';
import { findLink, insertLink } from './idp_store.js';
import type { MappedClaims } from './upstream_claims.js';
import type { UpstreamIdentity } from './upstream_client.js';

export type UpstreamPerson =
  | { ok: true; user: UserRow; provisioned: boolean }
  | { ok: false; reason: 'username_taken' | 'no_username' | 'link_broken'; username?: string };

interface Deps {
  db: Kysely<Database>;
  audit: AuditLog;
}

export async function personForUpstream(
  deps: Deps,
  idp: IdentityProvider,
  identity: Pick<UpstreamIdentity, 'issuer' | 'subject'>,
  mapped: MappedClaims,
  context: RequestContext,
  now: number,
): Promise<UpstreamPerson> {
  const linked = await linkedPerson(deps.db, identity);
  if (linked) return linked;
  const username = mapped.username;
  if (username === undefined) return { ok: false, reason: 'no_username' };
  if (await findUsernameIgnoringCase(deps.db, username)) {
    // A concurrent first sign-in of this same identity may have provisioned it since the link was read.
    return (await linkedPerson(deps.db, identity)) ?? { ok: false, reason: 'username_taken', username };
  }
  const id = randomId('usr_');
  try {
    await deps.audit.transact(
      async (tx) => {
        await insertUser(tx, {
          id,
          username,
          password_hash: null,
          is_admin: 0,
          must_change_password: 0,
          totp_secret: null,
          created_at: now,
          disabled_at: null,
          locked_at: null,
          totp_last_step: null,
        });
        await insertLink(tx, {
          issuer: identity.issuer,
          subject: identity.subject,
          idp_id: idp.id,
          user_id: id,
          created_at: now,
          last_sign_in_at: null,
        });
      },
      {
        event: 'idp.link',
        actor: { type: 'user', id },
        ip: context.ip,
        userAgent: context.userAgent,
        detail: {
          idp: idp.name,
          upstream_issuer: identity.issuer,
          upstream_subject: identity.subject,
          user: username,
          provisioned: true,
          ...(mapped.email ? { email: mapped.email } : {}),
        },
      },
    );
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // A concurrent first sign-in of the same identity linked it first; or the name was just taken.
    const raced = await linkedPerson(deps.db, identity);
    return raced ?? { ok: false, reason: 'username_taken', username };
  }
  const user = await findUserById(deps.db, id);
  return user ? { ok: true, user, provisioned: true } : { ok: false, reason: 'link_broken' };
}

async function linkedPerson(
  db: Kysely<Database>,
  identity: Pick<UpstreamIdentity, 'issuer' | 'subject'>,
): Promise<UpstreamPerson | undefined> {
  const link = await findLink(db, identity.issuer, identity.subject);
  if (!link) return undefined;
  const user = await findUserById(db, link.user_id);
  return user ? { ok: true, user, provisioned: false } : { ok: false, reason: 'link_broken' };
}
