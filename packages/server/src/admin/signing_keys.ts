/**
 * The signing keys, for an operator: list them, and replace them all at once after a suspected
 * compromise (the scheduled rotation needs no operator: see tokens/signing_keys.ts).
 */
import type { AuditLog } from '../audit/audit_log.js';
import type { KeyStore, SigningKeyInfo, WithdrawnKey } from '../tokens/signing_keys.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import { AdminError } from './errors.js';

export interface SigningKeyAdminDeps {
  keys: KeyStore;
  audit: AuditLog;
  clock: () => number;
}

export type SigningKeyStatus = 'next' | 'signing' | 'published' | 'expired';

export interface SigningKeyView {
  kid: string;
  alg: string;
  status: SigningKeyStatus;
  activates_at: string;
  retires_at: string;
  /** When it leaves the JWKS, and tokens it signed stop verifying. */
  expires_at: string;
  created_at: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

function status(key: SigningKeyInfo, now: number): SigningKeyStatus {
  if (key.expiresAt <= now) return 'expired';
  if (key.activatesAt > now) return 'next';
  return key.retiresAt > now ? 'signing' : 'published';
}

export function signingKeyView(key: SigningKeyInfo, now: number): SigningKeyView {
  return {
    kid: key.kid,
    alg: key.alg,
    status: status(key, now),
    activates_at: iso(key.activatesAt),
    retires_at: iso(key.retiresAt),
    expires_at: iso(key.expiresAt),
    created_at: iso(key.createdAt),
  };
}

/** The published keys (every key with `all`), oldest first. */
export async function listSigningKeys(
  deps: Pick<SigningKeyAdminDeps, 'keys' | 'clock'>,
  options: { all?: boolean } = {},
): Promise<SigningKeyView[]> {
  const now = deps.clock();
  return (await deps.keys.list(options)).map((k) => signingKeyView(k, now));
}

export interface ReplaceResult {
  withdrawn: Array<{ kid: string; alg: string; withdrawn_at: string }>;
  created: SigningKeyView[];
}

/**
 * New key material now for every key that signs or will sign; the old keys stop signing now and leave
 * the JWKS after the longest token lifetime, or at once with `withdrawNow` (the tokens they signed then
 * fail verification). Running servers pick the change up at their next key refresh (a minute).
 */
export function replaceSigningKeys(
  deps: SigningKeyAdminDeps,
  options: { withdrawNow: boolean },
  actor: Actor,
): Promise<ReplaceResult> {
  return recordingRefusal(
    deps.audit,
    { event: 'signing_key.replace', actor, target: { withdraw_now: options.withdrawNow } },
    async () => {
      // Made before the transaction: an RSA key generated inside it would hold its group commit.
      const spare = await deps.keys.spareKeyPairs();
      const result = await deps.audit.transact(
        async (tx) => {
          const replaced = await deps.keys.replaceAll(tx, options, spare);
          if (replaced.created.length === 0) {
            throw new AdminError(
              'no signing key signs now: nothing to replace (serve creates the keys on its first start)',
              'conflict',
            );
          }
          return replaced;
        },
        (r: { withdrawn: WithdrawnKey[]; created: SigningKeyInfo[] }) => ({
          event: 'signing_key.replace',
          ...actorFields(actor),
          detail: {
            withdraw_now: options.withdrawNow,
            withdrawn: r.withdrawn.map((w) => ({ kid: w.kid, alg: w.alg, withdrawn_at: iso(w.withdrawnAt) })),
            created: r.created.map((c) => ({ kid: c.kid, alg: c.alg, activates_at: iso(c.activatesAt) })),
          },
        }),
      );
      const now = deps.clock();
      return {
        withdrawn: result.withdrawn.map((w) => ({
          kid: w.kid,
          alg: w.alg,
          withdrawn_at: iso(w.withdrawnAt),
        })),
        created: result.created.map((c) => signingKeyView(c, now)),
      };
    },
  );
}
