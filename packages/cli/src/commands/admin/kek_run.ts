/** The work of `clavis admin kek rotate`. */
import { adminKek } from '@clavis/server';
import { writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';

export interface KekRotateOptions extends AdminTarget {
  /** Put a fresh key at the top of the key file first (when the database is under its current key). */
  generate?: boolean | undefined;
  json?: boolean | undefined;
}

export async function runKekRotate(
  options: KekRotateOptions,
  deps: Pick<AdminRunDeps, 'stdout' | 'openAdmin'>,
): Promise<void> {
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
    });
  }
  const out = (text: string) => writeLine(deps.stdout, text);
  if (r.generatedIn)
    out(`new key-encryption key written at the top of ${r.generatedIn}; the old one kept below it`);
  const idps = r.resealedIdpSecrets ? `, ${r.resealedIdpSecrets} identity-provider secrets` : '';
  const counts = `${r.resealedSigningKeys} signing keys${idps} and ${r.resealedTotpSecrets} TOTP secrets re-sealed`;
  if (r.moved) {
    out(
      `database moved from KEK ${r.from} to ${r.to}: ${counts}; secret hashes unchanged, no credential re-issued`,
    );
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
