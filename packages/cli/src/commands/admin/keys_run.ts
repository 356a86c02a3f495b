/** The work of `clavis admin keys create|list|show|update|rotate|revoke`: scoped API keys. */
import { confirm } from '../../confirm.js';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { type ApiKeyView, type OperationsDeps, withAdmin } from './operations.js';
import { fieldText } from './text_fields.js';

export interface KeysCreateOptions extends AdminTarget {
  owner: string;
  scope: string[];
  /** Seconds. */
  ttl: number;
  cidr: string[];
  maxUses?: number | undefined;
  name?: string | undefined;
  rateLimit?: number | undefined;
  json?: boolean | undefined;
}

export interface KeysListOptions extends AdminTarget {
  owner?: string | undefined;
  all?: boolean | undefined;
  json?: boolean | undefined;
}

export interface KeyOptions extends AdminTarget {
  id: string;
  json?: boolean | undefined;
}

export interface KeysRotateOptions extends KeyOptions {
  /** Seconds the old key keeps working (default: the server's, 24 h). */
  grace?: number | undefined;
}

/** A destructive change: confirmed in a terminal, or by `--yes`. */
export interface ConfirmedKeyOptions extends KeyOptions {
  yes?: boolean | undefined;
}

/** Limits to change; the lifetime only shortens, the scopes only narrow. */
export interface KeysUpdateOptions extends KeyOptions {
  /** Replaces the allow-list. */
  cidr?: string[] | undefined;
  maxUses?: number | undefined;
  rateLimit?: number | undefined;
  /** An ISO-8601 time. */
  expires?: string | undefined;
  /** Seconds from now. */
  ttl?: number | undefined;
  scope?: string[] | undefined;
}

/** The env is read (with --db) for CLAVIS_API_KEY_MAX_TTL, the server's longest key lifetime. */
type Deps = Pick<AdminRunDeps, 'stdout' | 'stderr'> & OperationsDeps;

/** Only given when just created (create, rotate). */
const ONCE = new Set(['key', 'predecessor']);

function printKey(out: Io['stdout'], key: ApiKeyView): void {
  for (const [name, value] of Object.entries(key)) {
    if (ONCE.has(name)) continue;
    writeLine(out, `${name.padEnd(15)} ${fieldText(name, value)}`);
  }
}

/** People's output for a new key: the key on its own line, and a one-line warning on stderr. */
function printNewKey(deps: Pick<Deps, 'stdout' | 'stderr'>, view: ApiKeyView & { key: string }): void {
  printKey(deps.stdout, view);
  writeLine(deps.stdout, view.key);
  writeLine(deps.stderr, `Store the key ${view.id} now: it is shown only this once and cannot be recovered.`);
}

export async function runKeysCreate(options: KeysCreateOptions, deps: Deps): Promise<void> {
  const created = await withAdmin(options, deps, (ops) =>
    ops.createKey({
      owner: options.owner,
      scopes: options.scope,
      ttlSeconds: options.ttl,
      ...(options.cidr.length ? { cidrs: options.cidr } : {}),
      ...(options.maxUses !== undefined ? { maxUses: options.maxUses } : {}),
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.rateLimit !== undefined ? { rateLimit: options.rateLimit } : {}),
    }),
  );
  if (options.json) writeJson(deps, created);
  else printNewKey(deps, created);
}

export async function runKeysList(options: KeysListOptions, deps: Deps): Promise<void> {
  const all = await withAdmin(options, deps, (ops) =>
    ops.listKeys({
      ...(options.owner !== undefined ? { owner: options.owner } : {}),
      all: options.all === true,
    }),
  );
  if (options.json) return writeJson(deps, all);
  writeLine(
    deps.stdout,
    `${'ID'.padEnd(22)} ${'OWNER'.padEnd(28)} ${'STATE'.padEnd(14)} ${'EXPIRES'.padEnd(24)} SCOPES`,
  );
  for (const k of all) {
    writeLine(
      deps.stdout,
      `${k.id.padEnd(22)} ${k.owner.padEnd(28)} ${k.state.padEnd(14)} ${k.expires_at.padEnd(24)} ${k.scopes.join(' ')}`,
    );
  }
}

export async function runKeysShow(options: KeyOptions, deps: Deps): Promise<void> {
  const key = await withAdmin(options, deps, (ops) => ops.showKey(options.id));
  if (options.json) writeJson(deps, key);
  else printKey(deps.stdout, key);
}

export async function runKeysRotate(options: KeysRotateOptions, deps: Deps): Promise<void> {
  const rotated = await withAdmin(options, deps, (ops) =>
    ops.rotateKey(options.id, options.grace !== undefined ? { graceSeconds: options.grace } : {}),
  );
  if (options.json) {
    writeJson(deps, rotated);
  } else {
    printNewKey(deps, rotated);
    writeLine(
      deps.stderr,
      `The old key ${rotated.predecessor.id} stops working at ${rotated.predecessor.expires_at}.`,
    );
  }
}

export async function runKeysRevoke(options: ConfirmedKeyOptions, deps: Deps): Promise<void> {
  await confirm(
    deps,
    { action: `revoke API key ${options.id}`, consequence: 'It stops working at once.' },
    options.yes,
  );
  const key = await withAdmin(options, deps, (ops) => ops.revokeKey(options.id));
  if (options.json) writeJson(deps, key);
  else writeLine(deps.stderr, `Revoked ${key.id}.`);
}

/** `--expires` as written: an ISO-8601 time with a zone (`2030-01-01T00:00:00Z`). */
function expiryTime(text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)
    ? Date.parse(text)
    : Number.NaN;
  if (Number.isNaN(ms))
    throw new CliError('--expires takes an ISO-8601 time with a zone, e.g. 2030-01-01T00:00:00Z');
  return ms;
}

export async function runKeysUpdate(
  options: KeysUpdateOptions,
  deps: Deps & Pick<AdminRunDeps, 'clock'>,
): Promise<void> {
  if (options.expires !== undefined && options.ttl !== undefined)
    throw new CliError('give --expires or --ttl, not both');
  const expiresAt =
    options.expires !== undefined
      ? expiryTime(options.expires)
      : options.ttl !== undefined
        ? deps.clock() + options.ttl * 1000
        : undefined;
  const key = await withAdmin(options, deps, (ops) =>
    ops.updateKey(options.id, {
      ...(options.cidr !== undefined ? { cidrs: options.cidr } : {}),
      ...(options.maxUses !== undefined ? { maxUses: options.maxUses } : {}),
      ...(options.rateLimit !== undefined ? { rateLimit: options.rateLimit } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(options.scope !== undefined ? { scopes: options.scope } : {}),
    }),
  );
  if (options.json) writeJson(deps, key);
  else printKey(deps.stdout, key);
}
