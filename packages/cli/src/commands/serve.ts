/** `clavis serve`: the flags; the work is in serve_run.ts. */
import type { Command } from 'commander';
import type { Io } from '../io.js';
import { assertionAudience, assertionAudiences, collect, port } from '../options.js';
import type { ServeOptions } from './serve_run.js';

export function registerServe(program: Command, io: Io): void {
  program
    .command('serve')
    .description('run the authorization server (env: CLAVIS_DB, CLAVIS_PORT, CLAVIS_HOST, CLAVIS_ISSUER)')
    .option('--db <url>', 'database: sqlite:PATH or postgres://… (default sqlite:./clavis.db)')
    .option('--port <n>', 'port to listen on (default 8080)', port)
    .option('--host <h>', 'address to listen on (default 127.0.0.1)')
    .option('--issuer <url>', 'issuer URL (default http://HOST:PORT)')
    .option(
      '--trusted-proxy <cidr>',
      'reverse proxy (IP or CIDR) whose X-Forwarded-For is believed (repeatable; env CLAVIS_TRUSTED_PROXIES, comma-separated)',
      collect,
    )
    .option(
      '--assertion-audience <mode>',
      `what a private_key_jwt assertion's aud may be: ${assertionAudiences.join(' | ')} (env CLAVIS_ASSERTION_AUDIENCE; default issuer-or-token-endpoint)`,
      assertionAudience,
    )
    .action(async (options: ServeOptions) => {
      const { runServe } = await import('./serve_run.js');
      await runServe(options, io);
    });
}
