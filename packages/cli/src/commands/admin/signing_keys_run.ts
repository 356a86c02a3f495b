/** The work of `clavis admin signing-keys list|rotate`. */
import { writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { type OperationsDeps, withAdmin } from './operations.js';

export interface SigningKeysListOptions extends AdminTarget {
  all?: boolean | undefined;
  json?: boolean | undefined;
}

export interface SigningKeysRotateOptions extends AdminTarget {
  /** Withdraw the old keys from the JWKS at once: the tokens they signed stop verifying. */
  now?: boolean | undefined;
  json?: boolean | undefined;
}

export async function runSigningKeysList(
  options: SigningKeysListOptions,
  deps: Pick<AdminRunDeps, 'stdout'> & OperationsDeps,
): Promise<void> {
  const keys = await withAdmin(options, deps, (ops) => ops.listSigningKeys({ all: options.all }));
  if (options.json) return writeJson(deps, keys);
  if (keys.length === 0)
    return writeLine(deps.stdout, 'no signing keys yet (serve creates them on its first start)');
  writeLine(
    deps.stdout,
    'KID                                          ALG    STATUS     SIGNS FROM                UNTIL                     IN JWKS UNTIL',
  );
  for (const k of keys) {
    writeLine(
      deps.stdout,
      `${k.kid.padEnd(44)} ${k.alg.padEnd(6)} ${k.status.padEnd(10)} ${k.activates_at.padEnd(25)} ${k.retires_at.padEnd(25)} ${k.expires_at}`,
    );
  }
}

export async function runSigningKeysRotate(
  options: SigningKeysRotateOptions,
  deps: Pick<AdminRunDeps, 'stdout'> & OperationsDeps,
): Promise<void> {
  const withdrawNow = options.now === true;
  const result = await withAdmin(options, deps, (ops) => ops.rotateSigningKeys({ withdrawNow }));
  if (options.json) return writeJson(deps, result);
  for (const c of result.created) {
    writeLine(
      deps.stdout,
      c.status === 'signing'
        ? `new key ${c.kid} (${c.alg}) signs from now until ${c.retires_at}`
        : `new key ${c.kid} (${c.alg}) signs from ${c.activates_at}`,
    );
  }
  for (const w of result.withdrawn) {
    writeLine(
      deps.stdout,
      withdrawNow
        ? `withdrawn ${w.kid} (${w.alg}): out of the JWKS now; tokens it signed no longer verify`
        : `withdrawn ${w.kid} (${w.alg}): signs no more; in the JWKS until ${w.withdrawn_at}, while tokens it signed expire`,
    );
  }
  writeLine(
    deps.stdout,
    'running servers take this up at their next key refresh (within a minute); restart them to make it immediate',
  );
}
