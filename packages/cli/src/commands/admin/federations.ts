/**
 * `clavis admin federations create|list|show|delete`: the trust policies under which a CI job or a
 * Kubernetes pod exchanges its platform's OIDC token for a service principal's short-lived token.
 */
import { readFile } from 'node:fs/promises';
import { adminFederations, type Federation, federationView, presetNames } from '@clavis/server';
import type { Command } from 'commander';
import { CliError } from '../../errors.js';
import { type Io, writeJson, writeLine } from '../../io.js';
import { collect, duration } from '../../options.js';
import { adminOptions, withAdmin } from './context.js';

interface CreateOptions {
  client: string;
  issuer?: string;
  audience: string;
  claim: string[];
  jwksFile?: string;
  jwksUri?: string;
  scope: string[];
  preset?: string;
  maxTtl?: number;
  name?: string;
  allowOrgWide?: boolean;
  json?: boolean;
}

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

function printFederation(io: Io, federation: Federation): void {
  for (const [key, value] of Object.entries(federationView(federation))) {
    const text =
      key === 'conditions'
        ? federation.conditions.map((c) => `${c.claim}=${c.pattern}`).join(' ')
        : Array.isArray(value)
          ? value.join(' ')
          : String(value ?? '-');
    writeLine(io.stdout, `${key.padEnd(12)} ${text}`);
  }
}

export function registerFederations(admin: Command, io: Io): void {
  const federations = admin
    .command('federations')
    .description('trust CI and Kubernetes workload tokens (workload identity federation)');

  federations
    .command('create')
    .description('trust an issuer’s workload tokens that meet the conditions, for one service principal')
    .requiredOption(
      '--client <client_id>',
      'the service principal (confidential client) tokens are issued to',
    )
    .option('--issuer <url>', 'the token issuer (iss); filled by --preset where the platform has one')
    .requiredOption(
      '--audience <aud>',
      'the aud the workload token must carry (e.g. this server’s issuer URL)',
    )
    .option('--claim <claim=pattern>', 'a condition (repeatable): exact, or a glob with *', collect, [])
    .option('--jwks-file <file>', 'the issuer’s public JWKS (air-gapped: no fetch at all)')
    .option('--jwks-uri <url>', 'where the issuer publishes its JWKS (default: OIDC discovery)')
    .option(
      '--scope <scope>',
      'scope ceiling (repeatable; default: the client’s, which it must lie within)',
      collect,
      [],
    )
    .option('--preset <preset>', `platform rules and issuer: ${presetNames.join(', ')}`)
    .option('--max-ttl <duration>', 'longest access-token lifetime (default 15m)', duration)
    .option('--name <name>', 'display name')
    .option(
      '--allow-org-wide',
      'accept a wildcard repository (repository=acme/*, project_path=group/*): trusts every repository it matches',
    )
    .option('--json', 'print JSON')
    .action(async (options: CreateOptions, command: Command) => {
      if (options.jwksFile && options.jwksUri)
        throw new CliError('give either --jwks-file or --jwks-uri, not both');
      const conditions = options.claim.map(parseClaim);
      const jwks = options.jwksFile ? await readJwks(options.jwksFile) : undefined;
      await withAdmin(io, adminOptions(command), async ({ deps, actor }) => {
        const federation = await adminFederations.createFederation(
          deps,
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
        if (options.json) writeJson(io, { ...federationView(federation), warnings });
        else printFederation(io, federation);
        for (const warning of warnings) writeLine(io.stderr, `Warning: ${warning}.`);
      });
    });

  federations
    .command('list')
    .description('list federations')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps }) => {
        const all = await adminFederations.listFederations(deps);
        if (options.json) return writeJson(io, all.map(federationView));
        writeLine(io.stdout, `${'ID'.padEnd(22)} ${'CLIENT_ID'.padEnd(22)} ${'PRESET'.padEnd(15)} ISSUER`);
        for (const f of all) {
          writeLine(
            io.stdout,
            `${f.id.padEnd(22)} ${f.clientId.padEnd(22)} ${(f.preset ?? '-').padEnd(15)} ${f.issuer}`,
          );
        }
      });
    });

  federations
    .command('show <id>')
    .description('show one federation')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps }) => {
        const federation = await adminFederations.showFederation(deps, id);
        if (options.json) writeJson(io, federationView(federation));
        else printFederation(io, federation);
      });
    });

  federations
    .command('delete <id>')
    .description('delete a federation: exchanges under it stop at once')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      await withAdmin(io, adminOptions(command), async ({ deps, actor }) => {
        await adminFederations.deleteFederation(deps, id, actor);
        if (options.json) writeJson(io, { id, deleted: true });
        else writeLine(io.stderr, `Deleted federation ${id}.`);
      });
    });
}
