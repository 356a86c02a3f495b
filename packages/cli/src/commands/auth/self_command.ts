/**
 * How another program (git, through a credential helper line) should run this CLI: `clavis` when that
 * name is on the PATH it will search, else this very program by its absolute path — a checkout run
 * through `npm run clavis` or a shell function has no `clavis` on PATH, and a helper line naming it
 * would fail with "clavis: command not found" at the first `git push`.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Env } from '../../io.js';

export interface RunningProgram {
  /** The executable running now (`process.execPath`): node, or the single executable itself. */
  execPath: string;
  /** The script node runs (`process.argv[1]`), if any. */
  script: string | undefined;
}

const running = (): RunningProgram => ({ execPath: process.execPath, script: process.argv[1] });

/** One shell word, single-quoted (git runs `!…` helper lines with the shell). */
export const shellQuote = (value: string): string => `'${value.replaceAll("'", "'\\''")}'`;

export function selfCommand(env: Env, program: RunningProgram = running()): string {
  if (onPath('clavis', env.PATH)) return 'clavis';
  const script = program.script;
  // node running a script (a checkout's dist/bin.js, an npm global's bin): both paths, absolute.
  if (script && /\.[cm]?js$/.test(script) && isFile(script)) {
    return `${shellQuote(program.execPath)} ${shellQuote(isAbsolute(script) ? script : resolve(script))}`;
  }
  // The single executable: it is the program.
  return shellQuote(program.execPath);
}

function onPath(name: string, path: string | undefined): boolean {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      if (isFile(join(dir, name))) return true;
    } catch {
      // Not there, or not executable.
    }
  }
  return false;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
