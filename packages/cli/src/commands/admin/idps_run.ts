/** The work of `clavis admin idps create|list|show|update|delete|links|stale|link|unlink`. */
import type { adminIdps } from '@clavis/server';
import { confirm } from '../../confirm.js';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { type IdpLinkView, type IdpView, type OperationsDeps, withAdmin } from './operations.js';
import { fieldText } from './text_fields.js';

/** The settings create and update share; what is absent stays as it is (update) or defaults (create). */
export interface IdpSettingsOptions extends AdminTarget {
  issuer?: string | undefined;
  clientId?: string | undefined;
  /** Read the client secret from stdin. */
  clientSecretStdin?: boolean | undefined;
  scope?: string[] | undefined;
  claimUsername?: string | undefined;
  claimEmail?: string | undefined;
  claimGroups?: string | undefined;
  allowedGroup?: string[] | undefined;
  mfaFromAmr?: boolean | undefined;
  acr?: string[] | undefined;
  localPasswords?: 'on' | 'off' | undefined;
  /** Seconds. */
  sessionLifetime?: number | undefined;
  json?: boolean | undefined;
}

export interface IdpsCreateOptions extends IdpSettingsOptions {
  name: string;
  issuer: string;
  clientId: string;
}

export interface IdpsUpdateOptions extends IdpSettingsOptions {
  id: string;
  name?: string | undefined;
  /** Anyone the provider signs in may sign in (clears the allowed groups). */
  anyGroup?: boolean | undefined;
}

export interface IdpOptions extends AdminTarget {
  id: string;
  json?: boolean | undefined;
}

export interface IdpsListOptions extends AdminTarget {
  json?: boolean | undefined;
}

export interface IdpsDeleteOptions extends IdpOptions {
  yes?: boolean | undefined;
}

export interface IdpsStaleOptions extends IdpOptions {
  days: number;
}

export interface IdpsLinkOptions extends IdpOptions {
  user: string;
  subject: string;
}

export interface IdpsUnlinkOptions extends IdpOptions {
  subject: string;
  yes?: boolean | undefined;
}

type Deps = Pick<AdminRunDeps, 'stdout' | 'stderr'> & OperationsDeps;

const SECRET_LIMIT = 4 * 1024 + 2;

/** The client secret piped on stdin, without one trailing newline. */
async function readSecretFromStdin(io: Pick<Io, 'stdin'>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > SECRET_LIMIT)
      throw new CliError('the client secret on stdin is too long (at most 1024 characters)');
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text === '') throw new CliError('--client-secret-stdin: no secret on stdin');
  return text;
}

function settingsOf(options: IdpSettingsOptions, secret: string | undefined): adminIdps.IdpSettings {
  return {
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.clientId !== undefined ? { clientId: options.clientId } : {}),
    ...(secret !== undefined ? { clientSecret: secret } : {}),
    ...(options.scope?.length ? { scopes: options.scope } : {}),
    ...(options.claimUsername !== undefined ? { claimUsername: options.claimUsername } : {}),
    ...(options.claimEmail !== undefined ? { claimEmail: options.claimEmail } : {}),
    ...(options.claimGroups !== undefined ? { claimGroups: options.claimGroups } : {}),
    ...(options.allowedGroup?.length ? { allowedGroups: options.allowedGroup } : {}),
    ...(options.mfaFromAmr !== undefined ? { mfaFromAmr: options.mfaFromAmr } : {}),
    ...(options.acr?.length ? { acrValues: options.acr } : {}),
    ...(options.localPasswords !== undefined ? { localPasswords: options.localPasswords === 'on' } : {}),
    ...(options.sessionLifetime !== undefined ? { sessionLifetimeSeconds: options.sessionLifetime } : {}),
  };
}

function printIdp(out: Io['stdout'], idp: IdpView): void {
  for (const [key, value] of Object.entries(idp)) {
    const text =
      key === 'claims'
        ? Object.entries(value as Record<string, string>)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : key === 'allowed_groups' && value === null
          ? '(any)'
          : fieldText(key, value);
    writeLine(out, `${key.padEnd(24)} ${text}`);
  }
}

function show(deps: Pick<Deps, 'stdout'>, idp: IdpView, json: boolean | undefined): void {
  if (json) writeJson(deps, idp);
  else printIdp(deps.stdout, idp);
}

export async function runIdpsCreate(
  options: IdpsCreateOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  if (!options.clientSecretStdin)
    throw new CliError('give the client secret on stdin with --client-secret-stdin');
  const secret = await readSecretFromStdin(deps);
  const idp = await withAdmin(options, deps, (ops) =>
    ops.createIdp({
      ...settingsOf(options, secret),
      name: options.name,
      issuer: options.issuer,
      clientId: options.clientId,
      clientSecret: secret,
    }),
  );
  show(deps, idp, options.json);
}

export async function runIdpsList(options: IdpsListOptions, deps: Deps): Promise<void> {
  const all = await withAdmin(options, deps, (ops) => ops.listIdps());
  if (options.json) return writeJson(deps, all);
  writeLine(deps.stdout, `${'ID'.padEnd(24)} ${'NAME'.padEnd(20)} ${'LINKS'.padEnd(6)} ISSUER`);
  for (const i of all) {
    writeLine(
      deps.stdout,
      `${i.id.padEnd(24)} ${i.name.padEnd(20)} ${String(i.links ?? 0).padEnd(6)} ${i.issuer}`,
    );
  }
}

export async function runIdpsShow(options: IdpOptions, deps: Deps): Promise<void> {
  show(deps, await withAdmin(options, deps, (ops) => ops.showIdp(options.id)), options.json);
}

export async function runIdpsUpdate(
  options: IdpsUpdateOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  if (options.anyGroup && options.allowedGroup?.length)
    throw new CliError('give either --allowed-group or --any-group');
  const secret = options.clientSecretStdin ? await readSecretFromStdin(deps) : undefined;
  const idp = await withAdmin(options, deps, (ops) =>
    ops.updateIdp(options.id, {
      ...settingsOf(options, secret),
      ...(options.anyGroup ? { allowedGroups: null } : {}),
      ...(options.name !== undefined ? { name: options.name } : {}),
    }),
  );
  show(deps, idp, options.json);
}

export async function runIdpsDelete(
  options: IdpsDeleteOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  await confirm(
    deps,
    {
      action: `delete identity provider ${options.id}`,
      consequence: 'Its links go, and the terminals of the people it linked sign in again.',
    },
    options.yes,
  );
  const { name, ...deleted } = await withAdmin(options, deps, (ops) => ops.deleteIdp(options.id));
  if (options.json) return writeJson(deps, deleted);
  writeLine(
    deps.stderr,
    `Deleted identity provider ${name}: ${deleted.unlinked} links removed, ${deleted.revoked_families} sessions revoked.`,
  );
}

function printLinks(deps: Pick<Deps, 'stdout'>, links: IdpLinkView[], json: boolean | undefined): void {
  if (json) {
    writeJson(deps, links);
    return;
  }
  writeLine(
    deps.stdout,
    `${'USERNAME'.padEnd(20)} ${'LAST SIGN-IN'.padEnd(25)} ${'LINKED'.padEnd(25)} SUBJECT`,
  );
  for (const l of links) {
    writeLine(
      deps.stdout,
      `${l.username.padEnd(20)} ${(l.last_sign_in_at ?? 'never').padEnd(25)} ${l.created_at.padEnd(25)} ${l.upstream_subject}${l.disabled ? ' (disabled)' : ''}`,
    );
  }
}

export async function runIdpsLinks(options: IdpOptions, deps: Deps): Promise<void> {
  printLinks(deps, await withAdmin(options, deps, (ops) => ops.listIdpLinks(options.id)), options.json);
}

export async function runIdpsStale(options: IdpsStaleOptions, deps: Deps): Promise<void> {
  const links = await withAdmin(options, deps, (ops) => ops.listIdpLinks(options.id, options.days));
  printLinks(deps, links, options.json);
}

export async function runIdpsLink(options: IdpsLinkOptions, deps: Deps): Promise<void> {
  const link = await withAdmin(options, deps, (ops) =>
    ops.linkIdp(options.id, { user: options.user, subject: options.subject }),
  );
  if (options.json) return writeJson(deps, link);
  writeLine(deps.stdout, `Linked ${link.username} to ${link.upstream_subject} at ${link.idp}.`);
}

export async function runIdpsUnlink(
  options: IdpsUnlinkOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  await confirm(
    deps,
    { action: `unlink ${options.subject} from ${options.id}`, consequence: 'Their terminals sign in again.' },
    options.yes,
  );
  const unlinked = await withAdmin(options, deps, (ops) => ops.unlinkIdp(options.id, options.subject));
  if (options.json) return writeJson(deps, unlinked);
  writeLine(deps.stderr, `Unlinked ${options.subject}: ${unlinked.revoked_families} sessions revoked.`);
}
