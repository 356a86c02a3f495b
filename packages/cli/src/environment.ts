/**
 * `clavis help environment`: every environment variable the CLI, the server and the SDK's credential
 * chain read, one line each. `test/environment.test.ts` checks that no `CLAVIS_` variable read in the
 * sources is missing here.
 */
export interface EnvVariable {
  name: string;
  /** What it sets, and its default. */
  text: string;
}

export const environment: ReadonlyArray<{ title: string; variables: readonly EnvVariable[] }> = [
  {
    title: 'Server (clavis serve; the admin commands read the database and key settings too)',
    variables: [
      { name: 'CLAVIS_DB', text: 'the database: sqlite:PATH or postgres://… (default sqlite:./clavis.db)' },
      { name: 'CLAVIS_PORT', text: 'port to listen on, 0-65535 (default 8080)' },
      { name: 'CLAVIS_HOST', text: 'address to listen on (default 127.0.0.1)' },
      {
        name: 'CLAVIS_ISSUER',
        text: 'the issuer URL clients see, https unless loopback (default http://HOST:PORT)',
      },
      {
        name: 'CLAVIS_KEK',
        text: 'the key-encryption key itself, 32 bytes in base64 (instead of a key file)',
      },
      {
        name: 'CLAVIS_KEK_FILE',
        text: 'the key-encryption key file (default clavis.kek beside the SQLite file, else ./clavis.kek)',
      },
      {
        name: 'CLAVIS_KEK_PREVIOUS',
        text: 'earlier key-encryption keys, newest first, comma-separated: read until `admin kek rotate` moves the database',
      },
      {
        name: 'CLAVIS_ADMIN_PASSWORD',
        text: "the first start's admin password (default: a one-time password, printed once)",
      },
      {
        name: 'CLAVIS_LOG_LEVEL',
        text: 'fatal, error, warn, info, debug, trace or silent (default info; debug logs each request with its id)',
      },
      {
        name: 'CLAVIS_METRICS',
        text: '1: serve Prometheus metrics at /metrics on the main port (default 0: off)',
      },
      {
        name: 'CLAVIS_METRICS_LISTEN',
        text: 'HOST:PORT: serve /metrics on this separate listener instead, not on the main port',
      },
      {
        name: 'CLAVIS_SIGNING_ALG',
        text: 'access-token signing algorithm: EdDSA, ES256 or RS256 (default EdDSA)',
      },
      {
        name: 'CLAVIS_TRUSTED_PROXIES',
        text: 'reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed',
      },
      {
        name: 'CLAVIS_ASSERTION_AUDIENCE',
        text: "what a private_key_jwt assertion's aud may be: issuer or issuer-or-token-endpoint (default the latter)",
      },
      { name: 'CLAVIS_API_KEY_MAX_TTL', text: 'the longest API-key lifetime, a duration (default 90d)' },
      {
        name: 'CLAVIS_API_KEY_MINT_MAX_TTL',
        text: 'the longest lifetime of a per-job minted key (default 1h)',
      },
      { name: 'CLAVIS_API_KEY_IDLE_REVOKE', text: 'revoke an API key unused this long (default 30d)' },
      {
        name: 'CLAVIS_AUDIT_KEY',
        text: 'the audit seal signing key file (default clavis-audit.key beside the KEK file)',
      },
      {
        name: 'CLAVIS_AUDIT_ANCHOR',
        text: 'the audit anchor file (default DB_FILE.audit-anchor; for PostgreSQL beside the KEK file)',
      },
      {
        name: 'CLAVIS_SHUTDOWN_TIMEOUT',
        text: 'how long a shutdown waits for requests in flight and the final audit seal, e.g. 10s (default 10s)',
      },
      {
        name: 'CLAVIS_UPSTREAM_TIMEOUT',
        text: 'how long each request to an identity provider (discovery, keys, token) may take, 1s to 1m (default 5s)',
      },
      {
        name: 'CLAVIS_SHUTDOWN_DRAIN',
        text: 'on shutdown, keep serving this long while /readyz answers 503, for a load balancer to notice (default 0)',
      },
      {
        name: 'CLAVIS_AUDIT_ANCHOR_CHECK',
        text: 'when the anchor does not match the database: refuse to start, or warn (default refuse)',
      },
      { name: 'CLAVIS_ORG_NAME', text: 'the organisation or server name the verification pages show' },
      {
        name: 'CLAVIS_ORG_LOGO_FILE',
        text: 'a logo for those pages (.png, .svg, .jpg or .webp, at most 64 KiB), served by the server',
      },
      {
        name: 'CLAVIS_SCOPE_DESCRIPTIONS_FILE',
        text: 'a JSON object of scope → words, shown beside your own scopes on the consent page',
      },
    ],
  },
  {
    title: 'Credentials (the SDK and the CLI commands that call a server), first found wins',
    variables: [
      {
        name: 'CLAVIS_SERVER',
        text: 'the Clavis server (issuer URL) to get tokens from; `admin` works on it when CLAVIS_DB is unset',
      },
      { name: 'CLAVIS_TOKEN', text: 'an access token to use as it is' },
      {
        name: 'CLAVIS_DOCKER_REGISTRIES',
        text: 'registries the docker credential helper answers for, comma-separated (default: the server host)',
      },
      { name: 'CLAVIS_API_KEY', text: 'a scoped API key, exchanged for tokens' },
      { name: 'CLAVIS_API_KEY_COMMAND', text: 'a command that prints an API key (a secret manager)' },
      { name: 'CLAVIS_CLIENT_ID', text: 'the client id of a service principal (with a private key)' },
      { name: 'CLAVIS_PRIVATE_KEY', text: "the service principal's private key (JWK or PEM) itself" },
      { name: 'CLAVIS_PRIVATE_KEY_FILE', text: "a file holding the service principal's private key" },
      { name: 'CLAVIS_PRIVATE_KEY_ID', text: 'the kid to sign assertions with (default: the JWK kid)' },
      { name: 'CLAVIS_AUDIENCE', text: 'the audience of CI workload tokens (default: the issuer)' },
      { name: 'CLAVIS_ID_TOKEN', text: 'the GitLab CI variable holding the job ID token (id_tokens:)' },
      {
        name: 'CLAVIS_K8S_TOKEN_FILE',
        text: "in a Kubernetes pod, the projected token file (default the service account's token)",
      },
      {
        name: 'CLAVIS_AZURE_SERVICE_CONNECTION_ID',
        text: 'the Azure Pipelines service connection for OIDC tokens',
      },
      {
        name: 'CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI',
        text: "1: allow a person's stored login in CI (refused by default)",
      },
      {
        name: 'CLAVIS_REQUIRE_KEYCHAIN',
        text: '1: refuse to keep a login in a file when no OS keychain is there',
      },
    ],
  },
  {
    title: 'The CLI itself',
    variables: [
      { name: 'CLAVIS_NO_BROWSER', text: '1: never open a browser for a sign-in; print the link instead' },
      {
        name: 'BROWSER',
        text: "the command `clavis login` opens the link with (none: never open one); default the platform's own",
      },
      { name: 'CLAVIS_DEBUG', text: '1: after an error line, print its stack' },
    ],
  },
];

export function environmentHelp(): string {
  const width = Math.max(...environment.flatMap((s) => s.variables.map((v) => v.name.length)));
  const out: string[] = ['Environment variables read by clavis (a flag, when given, wins):'];
  for (const section of environment) {
    out.push('', `${section.title}:`);
    for (const v of section.variables) out.push(`  ${v.name.padEnd(width)}  ${v.text}`);
  }
  return `${out.join('\n')}\n`;
}
