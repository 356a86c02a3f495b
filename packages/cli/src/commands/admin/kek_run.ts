/** The work of `clavis admin kek rotate|status|retire-hashes`. */
import { adminKek, adminViews } from '@clavis/server';
import { confirm } from '../../confirm.js';
import { writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { type KekStatusView, type OperationsDeps, refuseRemote, withAdmin } from './operations.js';

export interface KekRotateOptions extends AdminTarget {
  /** Put a fresh key at the top of the key file first (when the database is under its current key). */
  generate?: boolean | undefined;
  json?: boolean | undefined;
}

export async function runKekRotate(
  options: KekRotateOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'env' | 'openAdmin'>,
): Promise<void> {
  refuseRemote('kek rotate', deps.env, options);
  const r = await deps.openAdmin(options, ({ services, actor }) =>
    adminKek.rotateKek(services, { generate: options.generate }, actor),
  );
  if (options.json) {
    return writeJson(deps, {
      from: r.from,
      to: r.to,
      moved: r.moved,
      generated_in: r.generatedIn ?? null,
      resealed_signing_keys: r.resealedSigningKeys,
      resealed_totp_secrets: r.resealedTotpSecrets,
      resealed_idp_secrets: r.resealedIdpSecrets,
      unopenable: r.unopenable,
      hashing: adminViews.hashingJson(r.hashing),
      hashes_under_older_versions: adminKek.olderTotal(r.hashing),
      dropped_hashing_versions: r.droppedHashingVersions,
    });
  }
  const out = (text: string) => writeLine(deps.stdout, text);
  if (r.generatedIn)
    out(`new key-encryption key written at the top of ${r.generatedIn}; the old one kept below it`);
  const idps = r.resealedIdpSecrets ? `, ${r.resealedIdpSecrets} identity-provider secrets` : '';
  const counts = `${r.resealedSigningKeys} signing keys${idps} and ${r.resealedTotpSecrets} TOTP secrets re-sealed`;
  if (r.moved) {
    out(
      `database moved from KEK ${r.from} to ${r.to}: ${counts}; new secret hashes under hashing key version ${r.hashing[0]?.version}, no credential re-issued`,
    );
    out(
      `${adminKek.olderTotal(r.hashing)} live credentials still hashed under older versions: each moves to the new one when next used (kek status shows how many remain)`,
    );
    if (r.droppedHashingVersions.length > 0)
      out(`hashing key versions ${r.droppedHashingVersions.join(', ')} retired: nothing live used them`);
    out(
      'restart every server, then run kek rotate again (it re-seals what servers still on the old key sealed meanwhile);',
    );
    out(
      'after that the previous key may be dropped from the configuration: keep it with the backups taken under it',
    );
  } else {
    out(`database already under the current KEK ${r.to}: ${counts}`);
    out(
      'to rotate: with a key file, run kek rotate --generate; with CLAVIS_KEK, set it to a new key (openssl rand -base64 32) and CLAVIS_KEK_PREVIOUS to the current one, then run again',
    );
  }
  if (r.unopenable > 0)
    out(`warning: ${r.unopenable} stored values open under no configured KEK; left as they are`);
}

type HashingUse = KekStatusView['hashing'][number];

function hashingLines(hashing: readonly HashingUse[]): string[] {
  return hashing.map((h) => {
    const parts = Object.entries(h.live)
      .filter(([, n]) => n > 0)
      .map(([table, n]) => `${n} ${table.replace('_', ' ')}`);
    return `  version ${h.version}${h.current ? ' (current)' : ''}: ${h.total} live${parts.length ? ` (${parts.join(', ')})` : ''}`;
  });
}

export interface KekStatusOptions extends AdminTarget {
  json?: boolean | undefined;
}

export async function runKekStatus(
  options: KekStatusOptions,
  deps: Pick<AdminRunDeps, 'stdout'> & OperationsDeps,
): Promise<void> {
  const r = await withAdmin(options, deps, (ops) => ops.kekStatus());
  if (options.json) return writeJson(deps, r);
  const out = (text: string) => writeLine(deps.stdout, text);
  out(
    r.rotation_pending
      ? `database under KEK ${r.kek_in_use}; the configured one is ${r.kek_configured}: run kek rotate`
      : `database under KEK ${r.kek_in_use} (the configured one)`,
  );
  out('secret-hashing key versions (live credentials stored under each):');
  for (const line of hashingLines(r.hashing)) out(line);
  if (r.hashing.length > 1 && r.hashes_under_older_versions === 0)
    out('nothing live under an older version: retire it with kek retire-hashes VERSION');
}

export interface KekRetireOptions extends AdminTarget {
  version: number;
  revokeRemaining?: boolean | undefined;
  yes?: boolean | undefined;
  json?: boolean | undefined;
}

export async function runKekRetireHashes(
  options: KekRetireOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'stderr'> & OperationsDeps,
): Promise<void> {
  if (options.revokeRemaining) {
    await confirm(
      deps,
      {
        action: `retire secret-hashing key version ${options.version} and revoke what still uses it`,
        consequence: 'Those credentials stop working at once; their holders need new ones.',
      },
      options.yes,
    );
  }
  const r = await withAdmin(options, deps, (ops) =>
    ops.retireHashes({ version: options.version, revokeRemaining: options.revokeRemaining }),
  );
  if (options.json) return writeJson(deps, r);
  const revoked = Object.entries(r.revoked)
    .filter(([, n]) => n > 0)
    .map(([table, n]) => `${n} ${table.replace('_', ' ')}`);
  writeLine(
    deps.stdout,
    `secret-hashing key version ${r.retired} retired${revoked.length ? `; revoked: ${revoked.join(', ')}` : ''}`,
  );
  for (const line of hashingLines(r.hashing)) writeLine(deps.stdout, line);
}
