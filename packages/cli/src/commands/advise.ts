/** `clavis advise`: the flags; the work (the questionnaire, detection, the advice) is in advise_run.ts. */
import { type Command, InvalidArgumentError } from 'commander';
import type { Io } from '../io.js';
import type { AdviseActor, AdviseOptions } from './advise_run.js';

const actorNames: readonly AdviseActor[] = ['human', 'service', 'automation'];

function actor(value: string): AdviseActor {
  const found = actorNames.find((a) => a === value);
  if (!found) throw new InvalidArgumentError(`must be ${actorNames.join(', ')}`);
  return found;
}

function yesNo(value: string): boolean {
  if (value === 'yes') return true;
  if (value === 'no') return false;
  throw new InvalidArgumentError('must be yes or no');
}

export function registerAdvise(program: Command, io: Io): void {
  program
    .command('advise')
    .description(
      'which credential a CLI should use: why, its controls, the commands that set it up, framework references',
    )
    .option('--actor <actor>', 'who uses it: human, service or automation (a job, a script)', actor)
    .option(
      '--browser <yes|no>',
      'a person can approve a sign-in in a browser, here or on another device',
      yesNo,
    )
    .option('--ci', 'it runs in a CI job')
    .option('--kubernetes', 'it runs in a Kubernetes pod')
    .option('--multi-user', 'the CLI acts for several people')
    .option('--static-only', 'the target accepts nothing but a static key (air-gapped or legacy)')
    .option(
      '--detect',
      'answer for where this runs (terminal, SSH, browser, CI vendor, Kubernetes); flags win',
    )
    .option(
      '--json',
      'print JSON: credential, reasons, controls, references, commands, aal, rule, summary, situation',
    )
    .addHelpText(
      'after',
      `
Examples:
  clavis advise --actor human                  a person at a terminal, over SSH too
  clavis advise --actor automation --ci        a CI job
  clavis advise --actor service --static-only  a legacy target that takes only a key
  clavis advise --detect --json                for where this runs`,
    )
    .action(async (options: AdviseOptions) => {
      const { runAdvise } = await import('./advise_run.js');
      await runAdvise(options, io);
    });
}
