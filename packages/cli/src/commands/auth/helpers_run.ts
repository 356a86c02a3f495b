/**
 * `clavis auth git-credential | docker-credential | kube-credential | setup-git`: the credential helper
 * protocols of git, docker and kubectl answered with the current Clavis token (the same one
 * `clavis token` prints). Which hosts and registries get it: those named with `--host` / `--registry`
 * (docker's bin: `CLAVIS_DOCKER_REGISTRIES`), else the host of the server (`--server`, `CLAVIS_SERVER`
 * or the last login's). A token is offered over https only; nothing git or docker hands back is kept.
 */
import { execFile } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { cachedLoginToken } from '@clavis/sdk/cached';
import { answerDockerCredential } from '../../credential_helpers/docker.js';
import { CredentialHelperError } from '../../credential_helpers/errors.js';
import { answerGitCredential } from '../../credential_helpers/git.js';
import { formatExecCredential, parseExecInfo } from '../../credential_helpers/kubectl.js';
import { readHelperInput } from '../../credential_helpers/read_input.js';
import { CliError, exitCodes } from '../../errors.js';
import { type Env, writeLine } from '../../io.js';
import { CLI_CLIENT_ID, resolveServer } from '../account/server.js';
import { selfCommand, shellQuote } from './self_command.js';

/** The username sent with the token where a protocol needs one (`--username`). */
export const DEFAULT_HELPER_USERNAME = 'clavis';

export interface HelperDeps {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Env;
}

export interface GitCredentialOptions {
  action: string;
  server?: string;
  host?: string[];
  username?: string;
}

export interface DockerCredentialOptions {
  action: string;
  server?: string;
  registry?: string[];
  username?: string;
}

export interface KubeCredentialOptions {
  server?: string;
}

export interface SetupGitOptions {
  server?: string;
  host?: string[];
  username?: string;
}

interface HelperToken {
  token: string;
  expiresAt?: Date;
}

/**
 * The token for ISSUER, as `clavis token` finds it (never a login); `undefined` when there is no
 * credential here (the helper then answers "nothing", and the tool goes on to its next way).
 */
async function helperToken(issuer: string, deps: HelperDeps): Promise<HelperToken | undefined> {
  const env = { ...deps.env };
  if (env.CLAVIS_TOKEN) return { token: env.CLAVIS_TOKEN }; // as `clavis token` does, overriding all
  const cached = await cachedLoginToken({ env, issuer, clientId: CLI_CLIENT_ID });
  if (cached) return { token: cached.accessToken, expiresAt: new Date(cached.expiresAt) };
  const { cliClient, cliFailure } = await import('../account/client.js');
  try {
    const token = await cliClient(issuer, deps).getToken({ login: false });
    return {
      token: token.accessToken,
      ...(token.expiresAt !== null ? { expiresAt: new Date(token.expiresAt) } : {}),
    };
  } catch (err) {
    const failure = cliFailure(err);
    if (failure instanceof CliError && failure.exitCode === exitCodes.auth) {
      writeLine(deps.stderr, `clavis: ${failure.message}`);
      return undefined;
    }
    throw failure;
  }
}

/** `host` or `host:port` of the server URL: the default host a helper answers for. */
const serverHost = (issuer: string): string => new URL(issuer).host.toLowerCase();

/**
 * The server, when one is named or remembered; otherwise `undefined`, and a git or docker helper answers
 * nothing, so the tool goes on to its next helper as it would without Clavis.
 */
async function helperServer(flag: string | undefined, env: Env): Promise<string | undefined> {
  try {
    return await resolveServer(flag, env);
  } catch (err) {
    if (err instanceof CliError) return undefined;
    throw err;
  }
}

export async function runGitCredential(options: GitCredentialOptions, deps: HelperDeps): Promise<void> {
  const input = await readHelperInput(deps.stdin).catch(helperInputError);
  if (options.action !== 'get') return; // store / erase: Clavis keeps its tokens itself
  const issuer = await helperServer(options.server, deps.env);
  const hosts = options.host?.length ? options.host : issuer ? [serverHost(issuer)] : [];
  const username = options.username ?? DEFAULT_HELPER_USERNAME;
  const answer = await answerGitCredential(options.action, input, {
    hosts: hosts.map((host) => ({ host, username })),
    getToken: async () => (issuer || deps.env.CLAVIS_TOKEN ? helperToken(issuer ?? '', deps) : undefined),
  }).catch(helperInputError);
  deps.stdout.write(answer);
}

/** Returns the exit code docker reads (1 with its message on stdout, as the protocol has it). */
export async function runDockerCredential(
  options: DockerCredentialOptions,
  deps: HelperDeps,
): Promise<number> {
  const input = await readHelperInput(deps.stdin).catch(helperInputError);
  const configured = options.registry?.length
    ? options.registry
    : (deps.env.CLAVIS_DOCKER_REGISTRIES ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
  const needsServer = options.action === 'get' || configured.length === 0;
  const issuer = needsServer ? await helperServer(options.server, deps.env) : undefined;
  const registries = configured.length ? configured : issuer ? [serverHost(issuer)] : [];
  const username = options.username ?? DEFAULT_HELPER_USERNAME;
  const result = await answerDockerCredential(options.action, input, {
    registries: registries.map((registry) => ({ registry, username })),
    getToken: async () => (issuer || deps.env.CLAVIS_TOKEN ? helperToken(issuer ?? '', deps) : undefined),
  });
  deps.stdout.write(result.stdout);
  return result.exitCode;
}

export async function runKubeCredential(options: KubeCredentialOptions, deps: HelperDeps): Promise<void> {
  let info: ReturnType<typeof parseExecInfo>;
  try {
    info = parseExecInfo(deps.env.KUBERNETES_EXEC_INFO);
  } catch (err) {
    throw err instanceof CredentialHelperError ? new CliError(err.message) : err;
  }
  const issuer = deps.env.CLAVIS_TOKEN
    ? await helperServer(options.server, deps.env)
    : await resolveServer(options.server, deps.env);
  const token = await helperToken(issuer ?? '', deps);
  if (!token) throw new CliError('no Clavis token for kubectl: run `clavis login`', exitCodes.auth);
  deps.stdout.write(
    formatExecCredential({
      apiVersion: info.apiVersion,
      token: token.token,
      ...(token.expiresAt ? { expiresAt: token.expiresAt } : {}),
    }),
  );
}

/**
 * Adds `clavis auth git-credential` as git's credential helper for each host (global config), after an
 * empty helper entry that clears helpers inherited for that URL, as `gh auth setup-git` does. The line
 * names `clavis` when git will find it on PATH, else this program by its absolute path.
 */
export async function runSetupGit(
  options: SetupGitOptions,
  deps: HelperDeps & { clavisCommand?: string },
): Promise<void> {
  const issuer = options.host?.length ? undefined : await resolveServer(options.server, deps.env);
  const hosts = options.host?.length ? options.host : [serverHost(issuer as string)];
  const command = deps.clavisCommand ?? selfCommand(deps.env);
  for (const host of hosts) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(host)) throw new CliError(`not a host: ${JSON.stringify(host)}`);
    const key = `credential.https://${host}.helper`;
    const flags = [
      ...(options.server ? [`--server ${shellQuote(options.server)}`] : []),
      `--host ${host}`,
      ...(options.username ? [`--username ${shellQuote(options.username)}`] : []),
    ].join(' ');
    await git(['config', '--global', '--replace-all', key, ''], deps.env);
    await git(['config', '--global', '--add', key, `!${command} auth git-credential ${flags}`], deps.env);
    writeLine(deps.stderr, `git now asks clavis for https://${host} (${key})`);
  }
}

function git(args: string[], env: Env): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { env: { ...env } }, (error, _stdout, stderr) => {
      if (error) reject(new CliError(`git ${args[0]} failed: ${stderr.trim().split('\n')[0] ?? ''}`));
      else resolve();
    });
  });
}

function helperInputError(err: unknown): never {
  throw err instanceof CredentialHelperError ? new CliError(err.message) : err;
}
