/** `clavis auth …`: credential helpers for git, docker and kubectl; the work is in helpers_run.ts. */
import type { Command } from 'commander';
import { exitCodes, QuietExit } from '../../errors.js';
import type { Io } from '../../io.js';
import { collect } from '../../options.js';
import type {
  DockerCredentialOptions,
  GitCredentialOptions,
  KubeCredentialOptions,
  SetupGitOptions,
} from './helpers_run.js';

const SERVER_HELP = 'the Clavis server (default: CLAVIS_SERVER, else the server of the last login)';
const USERNAME_HELP = 'the username sent with the token (default: clavis)';

export function registerAuth(program: Command, io: Io): void {
  const auth = program
    .command('auth')
    .description('credential helpers: hand the current Clavis token to git, docker and kubectl');
  auth
    .command('git-credential')
    .description(
      "git's credential helper (credential.helper = !clavis auth git-credential --host H): answers `get` " +
        "for the hosts named, else the server's host, over https only; keeps nothing",
    )
    .argument('<action>', 'get | store | erase (from git)')
    .option('--server <url>', SERVER_HELP)
    .option('--host <host>', 'a git host (host or host:port) to give the token to (repeatable)', collect)
    .option('--username <name>', USERNAME_HELP)
    .action(async (action: string, options: Omit<GitCredentialOptions, 'action'>) => {
      const { runGitCredential } = await import('./helpers_run.js');
      await runGitCredential({ ...options, action }, io);
    });
  auth
    .command('setup-git')
    .description('configure git (global) to use `clavis auth git-credential` for the hosts')
    .option('--server <url>', SERVER_HELP)
    .option('--host <host>', "a git host (default: the server's host; repeatable)", collect)
    .option('--username <name>', USERNAME_HELP)
    .action(async (options: SetupGitOptions) => {
      const { runSetupGit } = await import('./helpers_run.js');
      await runSetupGit(options, io);
    });
  auth
    .command('docker-credential')
    .description(
      'docker credential helper (the bin docker-credential-clavis forwards here): answers `get` for the ' +
        "registries named (--registry or CLAVIS_DOCKER_REGISTRIES, comma-separated), else the server's host",
    )
    .argument('<action>', 'get | store | erase | list (from docker)')
    .option('--server <url>', SERVER_HELP)
    .option('--registry <host>', 'a registry (host or host:port) to give the token to (repeatable)', collect)
    .option('--username <name>', USERNAME_HELP)
    .action(async (action: string, options: Omit<DockerCredentialOptions, 'action'>) => {
      const { runDockerCredential } = await import('./helpers_run.js');
      const code = await runDockerCredential({ ...options, action }, io);
      if (code !== exitCodes.ok) throw new QuietExit(code);
    });
  auth
    .command('kube-credential')
    .description("kubectl's exec credential plugin: prints an ExecCredential with the current token")
    .option('--server <url>', SERVER_HELP)
    .action(async (options: KubeCredentialOptions) => {
      const { runKubeCredential } = await import('./helpers_run.js');
      await runKubeCredential(options, io);
    });
}
