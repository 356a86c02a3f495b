/**
 * The `clavis` program: argv → commands, and the one top-level handler that turns every failure into a
 * single stderr line and a stable exit code (0 ok, 1 error, 2 cancelled, 4 authentication). Loads only
 * commander and the commands' wiring: each command loads its run module (and the server) when it runs.
 */
import { Command, CommanderError, Help, type Option } from 'commander';
import { registerAccount } from './commands/account/index.js';
import { registerAdmin } from './commands/admin/index.js';
import { registerAdvise } from './commands/advise.js';
import { registerAuth } from './commands/auth/index.js';
import { registerScan } from './commands/scan.js';
import { registerServe } from './commands/serve.js';
import { environmentHelp } from './environment.js';
import { CliError, exitCodes, QuietExit } from './errors.js';
import type { Io } from './io.js';
import { scanExitCodes } from './scan/scan_error.js';

export const version = '0.1.0';

export function buildProgram(io: Io): Command {
  const program = new Command('clavis')
    .description('Identity and credentials for command-line tools')
    .version(version)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Commander puts "(Did you mean …?)" on a second line; an error is one line on stderr, and every
      // error of the CLI starts with the same prefix.
      outputError: (s, write) => write(`clavis: ${oneLine(s).replace(/^error: /, '')}\n`),
    })
    .configureHelp({ optionDescription })
    .addHelpText(
      'after',
      `
Topics:
  clavis help environment  every environment variable clavis reads

Exit codes: ${exitCodes.ok} ok, ${exitCodes.error} error, ${exitCodes.cancelled} cancelled, ${exitCodes.auth} authentication required or refused.
\`clavis scan\` alone: ${scanExitCodes.clean} nothing found, ${scanExitCodes.findings} findings, ${scanExitCodes.error} the scan failed.
Errors are one line on stderr, starting "clavis: ".`,
    );
  registerServe(program, io);
  registerAccount(program, io);
  registerAuth(program, io);
  registerAdvise(program, io);
  registerAdmin(program, io);
  registerScan(program, io);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/**
 * An option's help line: its description, "(required)" when it must be given, and its default unless
 * that is an empty list (a repeatable option given no value).
 */
function optionDescription(this: Help, option: Option): string {
  const base = Help.prototype.optionDescription.call(this, option).replace(/ \(default: \[\]\)/, '');
  return option.mandatory ? `${base} (required)` : base;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  if (argv[0] === 'help' && argv[1] === 'environment' && argv.length === 2) {
    io.stdout.write(environmentHelp());
    return exitCodes.ok;
  }
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCodes.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its one-line message (or the help / version text).
      if (err.exitCode === 0) return exitCodes.ok;
      // `scan` keeps 1 for "found something": its usage errors are 3, like its other failures.
      return argv[0] === 'scan' ? scanExitCodes.error : exitCodes.error;
    }
    if (err instanceof QuietExit) return err.exitCode;
    // A CliError needs nothing more; anything else may be the server's, whose classes load the server.
    const { message, exitCode } =
      err instanceof CliError
        ? { message: err.message, exitCode: err.exitCode }
        : (await import('./failure.js')).describeFailure(err);
    io.stderr.write(`clavis: ${oneLine(message)}\n`);
    if (io.env.CLAVIS_DEBUG) io.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    return exitCode;
  }
}
