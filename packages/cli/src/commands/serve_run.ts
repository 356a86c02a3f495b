/** The work of `clavis serve`: run the authorization server until SIGINT/SIGTERM. */
import { dirname, join, resolve } from 'node:path';
import { isSea } from 'node:sea';
import { AUTHORIZATION_SERVER_METADATA_PATH } from '@clavis/core';
import {
  createLogger,
  isLoopbackHost as isLoopbackHostname,
  type RunningServer,
  type ServerConfig,
  startServer,
} from '@clavis/server';
import { type Io, writeLine } from '../io.js';
import { apiKeySettings } from '../settings.js';
import { pageBranding } from './serve_branding.js';
import { serveEnvSettings } from './serve_settings.js';

export interface ServeOptions {
  db?: string | undefined;
  port?: number | undefined;
  host?: string | undefined;
  issuer?: string | undefined;
  /** Proxies whose X-Forwarded-For is believed for API-key address allow-lists (AK-01). */
  trustedProxy?: string[] | undefined;
  /** CA-04: what a client assertion's `aud` may be; when given, replaces CLAVIS_ASSERTION_AUDIENCE. */
  assertionAudience?: ServerConfig['assertionAudience'] | undefined;
}

/** The environment supplies the defaults; the banner goes to stderr; the server runs until stopSignal. */
export type ServeDeps = Pick<Io, 'stderr' | 'env' | 'stopSignal'>;

/**
 * The `--db` to print in a command line, ready to paste into a shell: the SQLite file, or the PostgreSQL
 * URL single-quoted (its `?` and `&` are special to the shell) with a password in it replaced by the
 * placeholder `PASSWORD`, so the banner never prints a secret.
 */
export function dbArgument(dialect: string, description: string, dbUrl: string): string {
  if (dialect === 'sqlite') return description;
  let shown = dbUrl;
  try {
    const url = new URL(dbUrl);
    if (url.password) url.password = 'PASSWORD';
    shown = url.toString();
  } catch {
    // Not a URL the server could have opened; print it as given.
  }
  return `'${shown.replaceAll("'", "'\\''")}'`;
}

/**
 * The line that tells the admin commands of the next steps where this server's key file is, when they
 * would not find it by themselves: on PostgreSQL they look in the directory they run in, on SQLite beside
 * the database file. Nothing for a key given in CLAVIS_KEK (the shell that has it passes it on).
 */
export function kekFileStep(dialect: string, dbDescription: string, kekSource: string): string | undefined {
  if (kekSource === 'CLAVIS_KEK') return undefined;
  const file = resolve(kekSource);
  if (
    dialect === 'sqlite' &&
    file === join(dirname(resolve(dbDescription.replace(/^sqlite:/, ''))), 'clavis.kek')
  ) {
    return undefined;
  }
  return `  The admin commands need this server's key file: export CLAVIS_KEK_FILE='${file.replaceAll("'", "'\\''")}'`;
}

function dbArg(server: RunningServer, dbUrl: string): string {
  return dbArgument(server.services.dialect, server.services.dbDescription, dbUrl);
}

/**
 * How the banner's next steps run the CLI: the single executable itself, or from the repository through
 * npm with `--silent` (without it npm's own header lines would land in a `--json > file` redirect).
 */
function cliInvocation(): string {
  return isSea() ? process.execPath : 'npm run --silent clavis --';
}

/**
 * Whether a `--host` value (a name, an IPv4 address, an IPv6 address with or without brackets) is
 * reachable only from this machine, by the server's one loopback rule.
 */
export function isLoopbackHost(host: string): boolean {
  return isLoopbackHostname(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
}

/**
 * Listening beyond loopback without CLAVIS_ISSUER: the issuer then defaults to http://localhost:PORT,
 * which every remote client rejects (metadata, `iss`, `aud`) — almost certainly a mistake.
 */
export function issuerWarning(host: string, issuer: string | undefined): string | undefined {
  if (issuer || isLoopbackHost(host)) return undefined;
  return `warning: listening on ${host} without CLAVIS_ISSUER (or --issuer): the issuer defaults to a localhost URL that clients elsewhere will not accept; set CLAVIS_ISSUER to the public https URL (see docs/operations/reverse-proxy.md)`;
}

function banner(err: Io['stderr'], server: RunningServer, dbUrl: string): void {
  const { issuer } = server.config;
  writeLine(err);
  writeLine(err, `Clavis is running at ${server.url}`);
  writeLine(err, `  issuer     ${issuer}`);
  writeLine(err, `  discovery  ${issuer}${AUTHORIZATION_SERVER_METADATA_PATH}`);
  writeLine(err, `  database   ${server.services.dbDescription}`);
  writeLine(err, `  key file   ${server.services.kekSource}`);
  writeLine(err, `  assertion  aud = ${server.config.assertionAudience}`);
  if (server.auditAnchor) writeLine(err, `  audit      anchor ${server.auditAnchor}`);
  if (server.metricsUrl) writeLine(err, `  metrics    ${server.metricsUrl}/metrics`);
  if (server.services.kekRotationPending) {
    writeLine(
      err,
      'warning: the database is still sealed under a previous key-encryption key: run clavis admin kek rotate',
    );
  }
  if (server.bootstrap.created) {
    writeLine(err);
    writeLine(err, 'First start: created the admin user and the built-in public client "clavis-cli".');
    if (server.bootstrap.oneTimePassword) {
      writeLine(err, `  admin one-time password: ${server.bootstrap.oneTimePassword}`);
      writeLine(err, '  (shown once; set CLAVIS_ADMIN_PASSWORD to choose it instead)');
    }
  } else if (server.bootstrap.adminPasswordPending) {
    writeLine(err);
    writeLine(err, 'The admin has not yet changed the password printed at the first start; if it is lost,');
    writeLine(
      err,
      `set a new one: ${cliInvocation()} admin --db ${dbArg(server, dbUrl)} users set-password ${server.bootstrap.adminUsername}`,
    );
  }
  writeLine(err);
  const db = dbArg(server, dbUrl);
  const clavis = cliInvocation();
  const kekStep = kekFileStep(
    server.services.dialect,
    server.services.dbDescription,
    server.services.kekSource,
  );
  const steps = [
    'Next steps:',
    ...(kekStep ? [kekStep] : []),
    '  1. Create a service principal (the secret is printed once):',
    `     ${clavis} admin --db ${db} clients create --name my-service --kind confidential --scope read`,
    '  2. Get a token with its client_id and client_secret:',
    `     curl -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials ${issuer}/oauth/token`,
    '  3. Or sign a person in from a terminal (device flow): create them, then log in as them',
    `     ${clavis} admin --db ${db} users create ada --totp`,
    `     ${clavis} login --server ${issuer}`,
    '     and approve the code it shows in a browser, signed in as ada.',
    '  4. Let a CI job exchange its own OIDC token instead of holding a secret (see README):',
    `     ${clavis} admin --db ${db} federations create --client "$CLIENT_ID" --preset github-actions \\`,
    `       --audience ${issuer} --claim repository=OWNER/REPO --claim ref=refs/heads/main --scope read`,
    '  5. Only for automation that can do neither, a scoped key with an expiry (shown once):',
    `     ${clavis} admin --db ${db} keys create --owner "$CLIENT_ID" --scope read --ttl 30d`,
    '',
  ];
  for (const line of steps) writeLine(err, line);
}

export async function runServe(options: ServeOptions, deps: ServeDeps): Promise<void> {
  const d = serveEnvSettings(deps.env);
  const branding = pageBranding(deps.env);
  const audience = options.assertionAudience ?? d.assertionAudience;
  const host = options.host ?? d.host;
  const issuer = options.issuer ?? d.issuer;
  const warning = issuerWarning(host, issuer);
  if (warning) writeLine(deps.stderr, warning);
  const dbUrl = options.db ?? d.db;
  const server = await startServer({
    logger: createLogger(d.logLevel),
    dbUrl,
    port: options.port ?? d.port,
    host,
    issuer,
    kek: deps.env.CLAVIS_KEK,
    kekPrevious: deps.env.CLAVIS_KEK_PREVIOUS || undefined,
    kekFile: deps.env.CLAVIS_KEK_FILE,
    auditKeyFile: deps.env.CLAVIS_AUDIT_KEY || undefined,
    auditAnchorFile: deps.env.CLAVIS_AUDIT_ANCHOR || undefined,
    auditAnchorCheck: d.auditAnchorCheck,
    shutdownTimeoutMs: d.shutdownTimeoutMs,
    shutdownDrainMs: d.shutdownDrainMs,
    metrics: d.metrics,
    adminPassword: deps.env.CLAVIS_ADMIN_PASSWORD,
    config: {
      ...(d.signingAlg ? { signingAlg: d.signingAlg } : {}),
      ...(d.trustedProxies ? { trustedProxies: d.trustedProxies } : {}),
      ...(d.upstreamTimeoutMs !== undefined ? { upstreamTimeoutMs: d.upstreamTimeoutMs } : {}),
      // CLAVIS_API_KEY_MAX_TTL, _MINT_MAX_TTL, _IDLE_REVOKE.
      ...apiKeySettings(deps.env),
      // --trusted-proxy, when given, replaces CLAVIS_TRUSTED_PROXIES.
      ...(options.trustedProxy?.length ? { trustedProxies: options.trustedProxy } : {}),
      ...(audience ? { assertionAudience: audience } : {}),
      // CLAVIS_ORG_NAME, CLAVIS_ORG_LOGO_FILE, CLAVIS_SCOPE_DESCRIPTIONS_FILE.
      ...branding,
    },
  });
  banner(deps.stderr, server, dbUrl);
  const signal = await deps.stopSignal;
  server.app.log.info({ signal }, 'shutting down');
  await server.close();
}
