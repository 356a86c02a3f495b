/**
 * The live state the posture rules look at, read once: principals, their credentials, people,
 * federations, the server's recorded settings, the audit chain's state and the audit facts the rules
 * need (last use of each client, refreshes of people's tokens, leak reports). The rules are pure
 * functions of this snapshot, so one report is consistent with itself and each rule is testable alone.
 */
import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type AuditVerifyResult, verifyAuditLog } from '../audit/verify.js';
import { type Client, clientFromRow } from '../clients/client.js';
import { type Federation, federationFromRow } from '../federation/federation.js';
import type { ApiKeysTable, ClientSecretsTable, Database } from '../storage/schema.js';
import { type AssertionAudienceMode, servedAssertionAudience } from './served_settings.js';

export interface PostureUser {
  id: string;
  username: string;
  isAdmin: boolean;
  hasSecondFactor: boolean;
  createdAt: number;
}

/** An enabled person's link to an enabled identity provider, with its last sign-in through it. */
export interface PostureIdpLink {
  idpName: string;
  subject: string;
  userId: string;
  username: string;
  createdAt: number;
  lastSignInAt: number | null;
}

/** A live API key (not revoked, not expired) and the name of its owner. */
export interface PostureApiKey extends Omit<ApiKeysTable, 'uses' | 'scopes' | 'cidrs'> {
  scopes: string[];
  cidrs: string[] | null;
  uses: number;
  /** `CLIENT_ID`, or `user:USERNAME` for a person: as `--owner` takes it. */
  owner: string;
}

/** A refresh of a person's tokens the audit log recorded, with where it came from. */
export interface PostureRefresh {
  at: number;
  userId: string;
  clientId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** The refresh-token family refreshed, and whether it has been revoked since (the person signed out). */
  family: string | null;
  familyRevoked: boolean;
}

export interface PostureLeak {
  at: number;
  keyId: string;
  url: string | null;
  source: string | null;
}

export interface PostureSnapshot {
  /** Enabled clients. */
  clients: Client[];
  /** Live client secrets (not revoked, not expired). */
  clientSecrets: ClientSecretsTable[];
  apiKeys: PostureApiKey[];
  /** API keys revoked after a leak report, by id (the key's row as it is now). */
  leakedKeys: Map<string, PostureApiKey>;
  /** Enabled people. */
  users: PostureUser[];
  /** Every person's username by id, the disabled too (audit records name people by id). */
  usernames: Map<string, string>;
  /** Enabled federations. */
  federations: Federation[];
  /** Enabled people's links to identity providers. */
  idpLinks: PostureIdpLink[];
  assertionAudience: { mode: AssertionAudienceMode; source: 'serve' | 'environment' | 'default' };
  audit: {
    chain: AuditVerifyResult;
    /** Each client's last token issued or refreshed (ms). */
    lastTokenAt: Map<string, number>;
    /** People's token refreshes within the policy window. */
    refreshes: PostureRefresh[];
    /** Keys reported leaked within the policy window. */
    leaks: PostureLeak[];
  };
}

export interface SnapshotOptions {
  db: Kysely<Database>;
  auditKey: KeyObject;
  now: number;
  /** How far back audit facts are read (ms). */
  windowMs: number;
  /** The mode when no `serve` recorded one: the reader's CLAVIS_ASSERTION_AUDIENCE, if set. */
  assertionAudienceFallback?: AssertionAudienceMode | undefined;
}

const DEFAULT_ASSERTION_AUDIENCE: AssertionAudienceMode = 'issuer-or-token-endpoint';

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const stringOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);

export async function loadPostureSnapshot(options: SnapshotOptions): Promise<PostureSnapshot> {
  const { db, now } = options;
  const since = now - options.windowMs;
  const [clientRows, secretRows, keyRows, userRows, federationRows, linkRows, served, chain] =
    await Promise.all([
      db.selectFrom('clients').selectAll().where('disabled_at', 'is', null).orderBy('id').execute(),
      db
        .selectFrom('client_secrets')
        .selectAll()
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .orderBy('created_at')
        .execute(),
      // Live keys, and those a leak report revoked within the window: never the whole history.
      db
        .selectFrom('api_keys')
        .selectAll()
        .where((eb) =>
          eb.or([
            eb.and([eb('revoked_at', 'is', null), eb('expires_at', '>', now)]),
            eb.and([eb('revoked_reason', '=', 'leaked'), eb('revoked_at', '>=', since)]),
          ]),
        )
        .orderBy('created_at')
        .orderBy('id')
        .execute(),
      db
        .selectFrom('users')
        .select(['id', 'username', 'is_admin', 'totp_secret', 'created_at', 'disabled_at'])
        .orderBy('username')
        .execute(),
      db.selectFrom('federations').selectAll().where('disabled_at', 'is', null).orderBy('id').execute(),
      db
        .selectFrom('identity_links')
        .innerJoin('users', 'users.id', 'identity_links.user_id')
        .innerJoin('identity_providers', 'identity_providers.id', 'identity_links.idp_id')
        .select([
          'identity_providers.name as idp_name',
          'identity_links.subject',
          'identity_links.user_id',
          'users.username',
          'identity_links.created_at',
          'identity_links.last_sign_in_at',
        ])
        .where('users.disabled_at', 'is', null)
        .orderBy('identity_providers.name')
        .orderBy('users.username')
        .execute(),
      servedAssertionAudience(db),
      verifyAuditLog(db, options.auditKey, { now }),
    ]);
  const [lastTokens, refreshRows, leakRows, passkeyHolders] = await Promise.all([
    db
      .selectFrom('audit_events')
      .select(['client_id', (eb) => eb.fn.max('at').as('last')])
      .where('event', 'in', ['token.issue', 'token.refresh'])
      .where('outcome', '=', 'success')
      .where('client_id', 'is not', null)
      .groupBy('client_id')
      .execute(),
    db
      .selectFrom('audit_events')
      .select(['at', 'actor_id', 'client_id', 'ip', 'user_agent', 'detail'])
      .where('event', '=', 'token.refresh')
      .where('outcome', '=', 'success')
      .where('at', '>=', since)
      .orderBy('at')
      .execute(),
    db
      .selectFrom('audit_events')
      .select(['at', 'detail'])
      .where('event', '=', 'api_key.leaked')
      .where('outcome', '=', 'success')
      .where('at', '>=', since)
      .orderBy('at')
      .execute(),
    // People holding a usable passkey: a second factor as much as a TOTP secret.
    db
      .selectFrom('webauthn_credentials')
      .select('user_id')
      .distinct()
      .where('disabled_at', 'is', null)
      .execute(),
  ]);
  const withPasskey = new Set(passkeyHolders.map((p) => p.user_id));

  const usernames = new Map(userRows.map((u) => [u.id, u.username]));
  const refreshFamilies = [
    ...new Set(refreshRows.flatMap((r) => stringOrNull(parseObject(r.detail).family) ?? [])),
  ];
  const revokedFamilies = new Set(
    refreshFamilies.length === 0
      ? []
      : (
          await db
            .selectFrom('token_families')
            .select('id')
            .where('id', 'in', refreshFamilies)
            .where('revoked_at', 'is not', null)
            .execute()
        ).map((f) => f.id),
  );
  const toKey = (row: (typeof keyRows)[number]): PostureApiKey => ({
    ...row,
    scopes: JSON.parse(row.scopes) as string[],
    cidrs: row.cidrs ? (JSON.parse(row.cidrs) as string[]) : null,
    uses: Number(row.uses),
    created_at: Number(row.created_at),
    expires_at: Number(row.expires_at),
    last_used_at: row.last_used_at === null ? null : Number(row.last_used_at),
    owner: row.owner_type === 'user' ? `user:${usernames.get(row.owner_id) ?? row.owner_id}` : row.owner_id,
  });
  const live = keyRows.filter(
    (k) =>
      k.revoked_at === null &&
      Number(k.expires_at) > now &&
      (k.max_uses === null || Number(k.uses) < Number(k.max_uses)),
  );
  const leakedKeys = new Map(
    keyRows.filter((k) => k.revoked_reason === 'leaked').map((k) => [k.id, toKey(k)] as const),
  );

  return {
    clients: clientRows.map(clientFromRow),
    clientSecrets: secretRows.map((s) => ({
      ...s,
      created_at: Number(s.created_at),
      expires_at: s.expires_at === null ? null : Number(s.expires_at),
    })),
    apiKeys: live.map(toKey),
    leakedKeys,
    users: userRows
      .filter((u) => u.disabled_at === null)
      .map((u) => ({
        id: u.id,
        username: u.username,
        isAdmin: Number(u.is_admin) === 1,
        hasSecondFactor: u.totp_secret !== null || withPasskey.has(u.id),
        createdAt: Number(u.created_at),
      })),
    usernames,
    federations: federationRows.map(federationFromRow),
    idpLinks: linkRows.map((l) => ({
      idpName: l.idp_name,
      subject: l.subject,
      userId: l.user_id,
      username: l.username,
      createdAt: Number(l.created_at),
      lastSignInAt: l.last_sign_in_at === null ? null : Number(l.last_sign_in_at),
    })),
    assertionAudience: served
      ? { mode: served, source: 'serve' }
      : options.assertionAudienceFallback
        ? { mode: options.assertionAudienceFallback, source: 'environment' }
        : { mode: DEFAULT_ASSERTION_AUDIENCE, source: 'default' },
    audit: {
      chain,
      lastTokenAt: new Map(
        lastTokens.flatMap((r) => (r.client_id === null ? [] : [[r.client_id, Number(r.last)] as const])),
      ),
      refreshes: refreshRows.flatMap((r) =>
        r.actor_id === null
          ? []
          : [
              {
                at: Number(r.at),
                userId: r.actor_id,
                clientId: r.client_id,
                ip: r.ip,
                userAgent: r.user_agent,
                family: stringOrNull(parseObject(r.detail).family),
                familyRevoked: revokedFamilies.has(stringOrNull(parseObject(r.detail).family) ?? ''),
              },
            ],
      ),
      leaks: leakRows.flatMap((r) => {
        const detail = parseObject(r.detail);
        const keyId = stringOrNull(detail.api_key_id);
        return keyId === null
          ? []
          : [{ at: Number(r.at), keyId, url: stringOrNull(detail.url), source: stringOrNull(detail.source) }];
      }),
    },
  };
}
