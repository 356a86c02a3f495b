/**
 * Confirmation of a destructive command (delete, revoke, disable, …). With `--yes` it goes ahead. In a
 * terminal it asks `… [y/N]` on stderr and reads one line: only `y` or `yes` goes ahead; anything else
 * cancels (exit 2). Without a terminal on stdin (a script, a pipe) there is no one to ask: it refuses
 * with one line naming `--yes` (exit 1), rather than guessing.
 */
import { createInterface } from 'node:readline/promises';
import { CliError, exitCodes } from './errors.js';
import type { Io } from './io.js';

export interface ConfirmDeps {
  stdin: Io['stdin'] & { isTTY?: boolean };
  stderr: Io['stderr'];
}

/** What is about to happen: `action` in lower case ("delete client svc_x"), and what it means. */
export interface Confirmation {
  action: string;
  consequence?: string;
}

/** Goes ahead, or throws a `CliError` (cancelled: exit 2; no terminal and no --yes: exit 1). */
export async function confirm(
  deps: ConfirmDeps,
  what: Confirmation,
  yes: boolean | undefined,
): Promise<void> {
  if (yes === true) return;
  if (deps.stdin.isTTY !== true) {
    throw new CliError(`${what.action}: refused without --yes (stdin is not a terminal)`);
  }
  const question = `${what.action.charAt(0).toUpperCase()}${what.action.slice(1)}?${what.consequence ? ` ${what.consequence}` : ''}`;
  const rl = createInterface({ input: deps.stdin, output: deps.stderr, terminal: false });
  let answer = '';
  try {
    deps.stderr.write(`${question} [y/N] `);
    answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
  } finally {
    rl.close();
  }
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw new CliError('cancelled', exitCodes.cancelled);
}
