/** The work of `clavis admin federations create|list|show|delete`. */
import { readFile } from 'node:fs/promises';
import { adminFederations, type Federation, federationView } from '@clavis/server';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { fieldText } from './text_fields.js';

export interface FederationsCreateOptions extends AdminTarget {
  client: string;
  issuer?: string | undefined;
  audience: string;
  /** `CLAIM=PATTERN` conditions, as given. */
  claim: string[];
  jwksFile?: string | undefined;
  jwksUri?: string | undefined;
  scope: string[];
  preset?: string | undefined;
  /** Seconds. */
  maxTtl?: number | undefined;
  name?: string | undefined;
  allowOrgWide?: boolean | undefined;
  json?: boolean | undefined;
}

export interface FederationsListOptions extends AdminTarget {
  json?: boolean | undefined;
}

export interface FederationOptions extends AdminTarget {
  id: string;
  json?: boolean | undefined;
}

type Deps = Pick<AdminRunDeps, 'stdout' | 'stderr' | 'openAdmin'>;

/** The largest JWKS file read: a real one is a few KiB. */
const MAX_JWKS_FILE_BYTES = 256 * 1024;

async function readJwks(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new CliError(`cannot read JWKS file ${path}`);
  }
  if (text.length > MAX_JWKS_FILE_BYTES) throw new CliError(`JWKS file ${path} is too large`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`JWKS file ${path} is not valid JSON`);
  }
}

/** `--claim K=PATTERN`: the first `=` separates the claim from its pattern. */
function parseClaim(text: string): { claim: string; pattern: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new CliError(`--claim takes CLAIM=PATTERN, got "${text.slice(0, 60)}"`);
  return { claim: text.slice(0, eq), pattern: text.slice(eq + 1) };
}

function printFederation(out: Io['stdout'], federation: Federation): void {
  for (const [key, value] of Object.entries(federationView(federation))) {
    const text =
      key === 'conditions'
        ? federation.conditions.map((c) => `${c.claim}=${c.pattern}`).join(' ')
        : fieldText(key, value);
    writeLine(out, `${key.padEnd(12)} ${text}`);
  }
}

export async function runFederationsCreate(options: FederationsCreateOptions, deps: Deps): Promise<void> {
  if (options.jwksFile && options.jwksUri)
    throw new CliError('give either --jwks-file or --jwks-uri, not both');
  const conditions = options.claim.map(parseClaim);
  const jwks = options.jwksFile ? await readJwks(options.jwksFile) : undefined;
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    const federation = await adminFederations.createFederation(
      admin,
      {
        clientId: options.client,
        audience: options.audience,
        conditions,
        ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
        ...(jwks !== undefined ? { jwks } : {}),
        ...(options.jwksUri !== undefined ? { jwksUri: options.jwksUri } : {}),
        ...(options.scope.length ? { scopes: options.scope } : {}),
        ...(options.preset !== undefined ? { preset: options.preset } : {}),
        ...(options.maxTtl !== undefined ? { maxTtlSeconds: options.maxTtl } : {}),
        ...(options.name !== undefined ? { name: options.name } : {}),
        ...(options.allowOrgWide ? { allowOrgWide: true } : {}),
      },
      actor,
    );
    const warnings = adminFederations.federationWarnings(federation);
    if (options.json) writeJson(deps, { ...federationView(federation), warnings });
    else printFederation(deps.stdout, federation);
    for (const warning of warnings) writeLine(deps.stderr, `Warning: ${warning}.`);
  });
}

export async function runFederationsList(
  options: FederationsListOptions,
  deps: Pick<Deps, 'stdout' | 'openAdmin'>,
): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin }) => {
    const all = await adminFederations.listFederations(admin);
    if (options.json) return writeJson(deps, all.map(federationView));
    writeLine(deps.stdout, `${'ID'.padEnd(22)} ${'CLIENT_ID'.padEnd(22)} ${'PRESET'.padEnd(15)} ISSUER`);
    for (const f of all) {
      writeLine(
        deps.stdout,
        `${f.id.padEnd(22)} ${f.clientId.padEnd(22)} ${(f.preset ?? '-').padEnd(15)} ${f.issuer}`,
      );
    }
  });
}

export async function runFederationsShow(
  options: FederationOptions,
  deps: Pick<Deps, 'stdout' | 'openAdmin'>,
): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin }) => {
    const federation = await adminFederations.showFederation(admin, options.id);
    if (options.json) writeJson(deps, federationView(federation));
    else printFederation(deps.stdout, federation);
  });
}

export async function runFederationsDelete(options: FederationOptions, deps: Deps): Promise<void> {
  await deps.openAdmin(options, async ({ deps: admin, actor }) => {
    await adminFederations.deleteFederation(admin, options.id, actor);
    if (options.json) writeJson(deps, { id: options.id, deleted: true });
    else writeLine(deps.stderr, `Deleted federation ${options.id}.`);
  });
}
