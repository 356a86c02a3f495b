/** `clavis login | logout | whoami | token`: the flags; the work is in the `*_run.ts` modules beside. */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { collect } from '../../options.js';
import type { LoginOptions } from './login_run.js';
import type { LogoutOptions, WhoamiOptions } from './session_run.js';
import type { TokenOptions } from './token_run.js';

const SERVER_HELP = 'the Clavis server (default: CLAVIS_SERVER, else the server of the last login)';

export function registerAccount(program: Command, io: Io): void {
  program
    .command('login')
    .description('log in as a person with the device flow (a code to approve in a browser)')
    .option('--server <url>', SERVER_HELP)
    .option('--no-browser', 'do not offer to open a browser (never opened over SSH or without a display)')
    .option('--scope <scope>', 'a scope to ask for (repeatable)', collect)
    .action(async (options: LoginOptions) => {
      const { runLogin } = await import('./login_run.js');
      await runLogin(options, io);
    });
  program
    .command('logout')
    .description("revoke the stored login at the server and forget it (default: the last login's server)")
    .option('--server <url>', SERVER_HELP)
    .action(async (options: LogoutOptions) => {
      const { runLogout } = await import('./session_run.js');
      await runLogout(options, io);
    });
  program
    .command('whoami')
    .description('who the current credential acts as, how it was obtained, its scopes and expiry')
    .option('--server <url>', SERVER_HELP)
    .option('--json', 'print JSON: sub, username | client_id, scopes, expires_at, source, store')
    .action(async (options: WhoamiOptions) => {
      const { runWhoami } = await import('./session_run.js');
      await runWhoami(options, io);
    });
  program
    .command('token')
    .description(
      'print only an access token on stdout (the first found of: CLAVIS_TOKEN, an API key, a private key, the ' +
        'stored login, CI or pod federation; refreshed when needed); never prompts',
    )
    .option('--server <url>', SERVER_HELP)
    .action(async (options: TokenOptions) => {
      const { runToken } = await import('./token_run.js');
      await runToken(options, io);
    });
}
