/** The work of `clavis admin federations create|list|show|update|disable|enable|test|delete`. */
import { confirm } from '../../confirm.js';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import type { AdminRunDeps, AdminTarget } from './context.js';
import { readJwksFile } from './jwks_file.js';
import { type FederationView, type OperationsDeps, withAdmin } from './operations.js';
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

/** A destructive change: confirmed in a terminal, or by `--yes`. */
export interface ConfirmedFederationOptions extends FederationOptions {
  yes?: boolean | undefined;
}

/** What is given replaces what is stored; what is absent stays. */
export interface FederationsUpdateOptions extends FederationOptions {
  audience?: string | undefined;
  /** `CLAIM=PATTERN` conditions, replacing every condition. */
  claim?: string[] | undefined;
  jwksFile?: string | undefined;
  jwksUri?: string | undefined;
  discovery?: boolean | undefined;
  scope?: string[] | undefined;
  /** Seconds. */
  maxTtl?: number | undefined;
  name?: string | undefined;
  allowOrgWide?: boolean | undefined;
}

export interface FederationsTestOptions extends FederationOptions {
  /** The workload token, as an argument; or read from stdin with `tokenStdin`. */
  token?: string | undefined;
  tokenStdin?: boolean | undefined;
}

type Deps = Pick<AdminRunDeps, 'stdout' | 'stderr'> & OperationsDeps;

/** `--claim K=PATTERN`: the first `=` separates the claim from its pattern. */
function parseClaim(text: string): { claim: string; pattern: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new CliError(`--claim takes CLAIM=PATTERN, got "${text.slice(0, 60)}"`);
  return { claim: text.slice(0, eq), pattern: text.slice(eq + 1) };
}

function printFederation(out: Io['stdout'], federation: FederationView): void {
  for (const [key, value] of Object.entries(federation)) {
    if (key === 'warnings') continue;
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
  const jwks = options.jwksFile ? await readJwksFile(options.jwksFile) : undefined;
  const federation = await withAdmin(options, deps, (ops) =>
    ops.createFederation({
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
    }),
  );
  showWithWarnings(deps, federation, options.json);
}

/** A created or updated federation, then what about its policy deserves a warning (stderr). */
function showWithWarnings(
  deps: Pick<Deps, 'stdout' | 'stderr'>,
  federation: FederationView & { warnings: string[] },
  json: boolean | undefined,
): void {
  if (json) writeJson(deps, federation);
  else printFederation(deps.stdout, federation);
  for (const warning of federation.warnings) writeLine(deps.stderr, `Warning: ${warning}.`);
}

export async function runFederationsList(options: FederationsListOptions, deps: Deps): Promise<void> {
  const all = await withAdmin(options, deps, (ops) => ops.listFederations());
  if (options.json) return writeJson(deps, all);
  writeLine(deps.stdout, `${'ID'.padEnd(22)} ${'CLIENT_ID'.padEnd(22)} ${'PRESET'.padEnd(15)} ISSUER`);
  for (const f of all) {
    writeLine(
      deps.stdout,
      `${f.id.padEnd(22)} ${f.client_id.padEnd(22)} ${(f.preset ?? '-').padEnd(15)} ${f.issuer}`,
    );
  }
}

export async function runFederationsShow(options: FederationOptions, deps: Deps): Promise<void> {
  const federation = await withAdmin(options, deps, (ops) => ops.showFederation(options.id));
  if (options.json) writeJson(deps, federation);
  else printFederation(deps.stdout, federation);
}

export async function runFederationsDelete(
  options: ConfirmedFederationOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  await confirm(
    deps,
    { action: `delete federation ${options.id}`, consequence: 'Exchanges under it stop at once.' },
    options.yes,
  );
  await withAdmin(options, deps, (ops) => ops.deleteFederation(options.id));
  if (options.json) writeJson(deps, { id: options.id, deleted: true });
  else writeLine(deps.stderr, `Deleted federation ${options.id}.`);
}

export async function runFederationsUpdate(options: FederationsUpdateOptions, deps: Deps): Promise<void> {
  const sources = [options.jwksFile, options.jwksUri, options.discovery].filter(
    (v) => v !== undefined && v !== false,
  );
  if (sources.length > 1) throw new CliError('give one of --jwks-file, --jwks-uri, --discovery');
  const conditions = options.claim?.map(parseClaim);
  const jwks = options.jwksFile ? await readJwksFile(options.jwksFile) : undefined;
  const federation = await withAdmin(options, deps, (ops) =>
    ops.updateFederation(options.id, {
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
      ...(conditions !== undefined ? { conditions } : {}),
      ...(jwks !== undefined ? { jwks } : {}),
      ...(options.jwksUri !== undefined ? { jwksUri: options.jwksUri } : {}),
      ...(options.discovery ? { discovery: true } : {}),
      ...(options.scope !== undefined ? { scopes: options.scope } : {}),
      ...(options.maxTtl !== undefined ? { maxTtlSeconds: options.maxTtl } : {}),
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.allowOrgWide ? { allowOrgWide: true } : {}),
    }),
  );
  showWithWarnings(deps, federation, options.json);
}

export async function runFederationsDisable(
  options: ConfirmedFederationOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  await confirm(
    deps,
    { action: `disable federation ${options.id}`, consequence: 'Exchanges under it stop at once.' },
    options.yes,
  );
  const federation = await withAdmin(options, deps, (ops) => ops.disableFederation(options.id));
  if (options.json) writeJson(deps, federation);
  else writeLine(deps.stderr, `Disabled federation ${federation.id}.`);
}

export async function runFederationsEnable(options: FederationOptions, deps: Deps): Promise<void> {
  const federation = await withAdmin(options, deps, (ops) => ops.enableFederation(options.id));
  if (options.json) writeJson(deps, federation);
  else writeLine(deps.stderr, `Enabled federation ${federation.id}.`);
}

/** A workload token is a JWT of a few KiB; more than this on stdin is not one. */
const MAX_TOKEN_STDIN_BYTES = 64 * 1024;

async function readTokenFromStdin(io: Pick<Io, 'stdin'>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > MAX_TOKEN_STDIN_BYTES) throw new CliError('the token on stdin is too large');
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') throw new CliError('--token-stdin: no token on stdin');
  return text;
}

/**
 * Evaluates a workload token against the federation and prints every condition with PASS or FAIL;
 * exit 1 (one line on stderr) when any fails. Nothing is issued or recorded; the token is not printed.
 */
export async function runFederationsTest(
  options: FederationsTestOptions,
  deps: Deps & Pick<AdminRunDeps, 'stdin'>,
): Promise<void> {
  if (options.token !== undefined && options.tokenStdin)
    throw new CliError('give the token as an argument or with --token-stdin, not both');
  const token = options.tokenStdin ? await readTokenFromStdin(deps) : options.token;
  if (token === undefined || token === '') throw new CliError('give a workload token (or --token-stdin)');
  const result = await withAdmin(options, deps, (ops) => ops.testFederation(options.id, token));
  if (options.json) writeJson(deps, result);
  else {
    const width = Math.max(...result.conditions.map((r) => r.name.length));
    for (const r of result.conditions)
      writeLine(deps.stdout, `${r.pass ? 'PASS' : 'FAIL'}  ${r.name.padEnd(width)}  ${r.detail}`);
  }
  const outcome = result.conditions.filter((r) => !r.pass).map((r) => r.name);
  if (outcome.length > 0)
    throw new CliError(`the token does not pass federation ${options.id}: ${outcome.join(', ')}`);
}
