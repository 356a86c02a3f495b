/**
 * The docker-credential-helpers protocol, as `docker-credential-clavis ACTION` speaks it: `get` reads a
 * server URL on stdin and writes `{"ServerURL","Username","Secret"}`; `store` reads that JSON; `erase`
 * reads a server URL; `list` writes `{serverURL: username}`. A failure is one message on stdout and exit
 * status 1, with the library's fixed messages where docker matches on them (not found, missing URL or
 * username). Clavis answers `get` for registries the user configured; it stores and erases nothing: its
 * tokens live in its own store, and `clavis logout` is how they go.
 */
import { CredentialHelperError } from './errors.js';

/** The exact messages docker's client recognises. */
export const dockerMessages = {
  notFound: 'credentials not found in native keychain',
  missingServerUrl: 'no credentials server URL',
  missingUsername: 'no credentials username',
} as const;

export interface DockerCredentials {
  ServerURL: string;
  Username: string;
  Secret: string;
}

/** A registry the user configured for Clavis (`registry.example.com` or with `:port`), and its username. */
export interface DockerRegistryConfig {
  registry: string;
  username: string;
}

export interface DockerHelperResult {
  stdout: string;
  exitCode: 0 | 1;
}

/** The server URL on stdin: its lines joined (as the Go library reads them) and trimmed. */
export function parseDockerServerUrl(input: string): string {
  const serverUrl = input.replace(/\r?\n/g, '').trim();
  if (serverUrl === '')
    throw new CredentialHelperError('missing_server_url', dockerMessages.missingServerUrl);
  return serverUrl;
}

/** What `store` gets: the credentials JSON, with a server URL and a username, as the library checks. */
export function parseDockerStoreInput(input: string): DockerCredentials {
  let value: unknown;
  try {
    value = JSON.parse(input);
  } catch (cause) {
    throw new CredentialHelperError('malformed_json', 'store input is not JSON', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CredentialHelperError('malformed_json', 'store input is not a JSON object');
  }
  const field = (name: keyof DockerCredentials): string => {
    const found = (value as Record<string, unknown>)[name];
    if (found === undefined || found === null) return '';
    if (typeof found !== 'string')
      throw new CredentialHelperError('malformed_json', `${name} is not a string`);
    return found;
  };
  const credentials = { ServerURL: field('ServerURL'), Username: field('Username'), Secret: field('Secret') };
  if (credentials.ServerURL === '') {
    throw new CredentialHelperError('missing_server_url', dockerMessages.missingServerUrl);
  }
  if (credentials.Username === '')
    throw new CredentialHelperError('missing_username', dockerMessages.missingUsername);
  return credentials;
}

/**
 * The registry a server URL names, `host` or `host:port` in lower case, as docker's `registryurl.Parse`
 * reads it: a URL without a scheme is a host; a scheme other than http(s), or no host, is refused.
 */
export function dockerRegistryHost(serverUrl: string): string {
  const withScheme =
    /^[a-z][a-z0-9+.-]*:\/\//i.test(serverUrl) || serverUrl.startsWith('//') ? serverUrl : `//${serverUrl}`;
  let url: URL;
  try {
    url = new URL(withScheme.startsWith('//') ? `https:${withScheme}` : withScheme);
  } catch (cause) {
    throw new CredentialHelperError('invalid_url', 'server URL is not a URL', { cause });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new CredentialHelperError('invalid_url', 'server URL has a scheme other than http(s)');
  }
  if (url.hostname === '') throw new CredentialHelperError('invalid_url', 'server URL has no host');
  // `host` drops a default port (443 for https) so `r.test:443` and `r.test` are the same registry.
  return url.host.toLowerCase();
}

/** The answer to `get`: one JSON line. */
export function formatDockerCredentials(credentials: DockerCredentials): string {
  return `${JSON.stringify({ ServerURL: credentials.ServerURL, Username: credentials.Username, Secret: credentials.Secret })}\n`;
}

export interface DockerHelperDeps {
  registries: readonly DockerRegistryConfig[];
  /** The token for REGISTRY, or undefined when there is none (not logged in). */
  getToken(registry: DockerRegistryConfig): Promise<{ token: string } | undefined>;
}

const fail = (message: string): DockerHelperResult => ({ stdout: `${message}\n`, exitCode: 1 });

/** Runs one helper ACTION on INPUT: what to write to stdout, and the exit status. */
export async function answerDockerCredential(
  action: string,
  input: string,
  deps: DockerHelperDeps,
): Promise<DockerHelperResult> {
  try {
    switch (action) {
      case 'get': {
        const serverUrl = parseDockerServerUrl(input);
        const registry = findRegistry(serverUrl, deps.registries);
        const token = registry && (await deps.getToken(registry));
        if (!registry || !token) return fail(dockerMessages.notFound);
        return {
          stdout: formatDockerCredentials({
            ServerURL: serverUrl,
            Username: registry.username,
            Secret: token.token,
          }),
          exitCode: 0,
        };
      }
      case 'store':
        parseDockerStoreInput(input);
        return { stdout: '', exitCode: 0 };
      case 'erase':
        parseDockerServerUrl(input);
        return { stdout: '', exitCode: 0 };
      case 'list':
        return {
          stdout: `${JSON.stringify(Object.fromEntries(deps.registries.map((r) => [r.registry, r.username])))}\n`,
          exitCode: 0,
        };
      default:
        return fail(`docker-credential-clavis: unknown action: ${action}`);
    }
  } catch (error) {
    if (error instanceof CredentialHelperError) return fail(error.message);
    throw error;
  }
}

function findRegistry(
  serverUrl: string,
  registries: readonly DockerRegistryConfig[],
): DockerRegistryConfig | undefined {
  let host: string;
  try {
    host = dockerRegistryHost(serverUrl);
  } catch {
    return undefined; // a URL docker could not mean for us is simply not ours
  }
  if (/^http:/i.test(serverUrl)) return undefined; // a token is never offered over plain http
  return registries.find((registry) => dockerRegistryHost(registry.registry) === host);
}
