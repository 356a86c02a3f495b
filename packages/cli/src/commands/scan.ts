/** `clavis scan`: the flags; the work is in scan_run.ts (which loads secretlint only when it scans). */
import { fstatSync } from 'node:fs';
import type { Command } from 'commander';
import type { Io } from '../io.js';
import type { ScanDeps, ScanOptions } from './scan_run.js';

/**
 * Whether fd 0 is a pipe, a socket or a file (`… | clavis scan`, `clavis scan < FILE`; Node's own child
 * pipes are sockets), not a terminal or /dev/null.
 */
function stdinPiped(io: Io): boolean {
  if (io.stdin !== process.stdin) return false;
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isSocket() || stat.isFile();
  } catch {
    return false;
  }
}

/** How a git hook starts this clavis again: the single executable alone, or node and its script. */
async function selfCommand(): Promise<string[]> {
  const sea = await import('node:sea').catch(() => null);
  if (sea?.isSea()) return [process.execPath];
  return [process.execPath, process.argv[1] ?? 'clavis'];
}

async function scanDeps(io: Io): Promise<ScanDeps> {
  return {
    stdout: io.stdout,
    stderr: io.stderr,
    stdin: io.stdin,
    stdinPiped: stdinPiped(io),
    cwd: process.cwd(),
    fetch: globalThis.fetch,
    selfCommand: await selfCommand(),
  };
}

export function registerScan(program: Command, io: Io): void {
  program
    .command('scan')
    .description(
      'find secrets (Clavis API keys with a verified checksum, other vendors’ tokens, private keys)',
    )
    .argument(
      '[paths...]',
      'files and folders (default: . , or standard input when piped); - reads standard input',
    )
    .option(
      '--git',
      "the repository's history: every blob reachable from any ref, with the commit that added it",
    )
    .option('--staged', 'the staged content of the next commit (what the pre-commit hook runs)')
    .option('--report <url>', 'send the verified Clavis keys found to this server, which revokes them')
    .option('--json', 'print {findings, scanned, skipped, report} as JSON')
    .option('--install-hook', 'write a git pre-commit hook that runs `clavis scan --staged`')
    .option('--force', 'with --install-hook: replace an existing, different pre-commit hook')
    .addHelpText(
      'after',
      `
In a git work tree a folder gives the files git would commit (.gitignore respected); elsewhere every
file except under node_modules and .git. Binary files and files over 10 MiB are skipped and counted.
Secrets are never printed in full. Exit codes: 0 nothing found, 1 findings, 3 the scan failed
(2 cancelled).

Examples:
  clavis scan .                          the working tree
  git diff | clavis scan -               standard input
  clavis scan --git --report https://clavis.example.com
  clavis scan --install-hook`,
    )
    .action(
      async (
        paths: string[],
        flags: Omit<ScanOptions, 'paths'> & { installHook?: boolean; force?: boolean },
      ) => {
        const run = await import('./scan_run.js');
        const deps = await scanDeps(io);
        if (flags.installHook) {
          if (paths.length || flags.git || flags.staged || flags.report || flags.json)
            throw new (await import('../scan/scan_error.js')).ScanError(
              '--install-hook takes no other flag but --force',
            );
          await run.runScanInstallHook({ force: flags.force === true }, deps);
          return;
        }
        const { installHook: _installHook, force: _force, ...options } = flags;
        await run.runScan({ ...options, paths }, deps);
      },
    );
}
