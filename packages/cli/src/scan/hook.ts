/**
 * `clavis scan --install-hook`: a git pre-commit hook that runs `clavis scan --staged` (the blobs the
 * commit would record, not the working tree) and so blocks a commit holding a secret. An existing hook
 * that is not this one is kept unless `--force`.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { git, insideWorkTree } from './git.js';
import { ScanError } from './scan_error.js';

const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** The hook's text: `command` is how this clavis is started (node and its script, or the executable). */
export function hookScript(command: readonly string[]): string {
  return `#!/bin/sh
# Installed by \`clavis scan --install-hook\`: refuses a commit whose staged content holds a secret.
# A false positive: fix it, or commit once with \`git commit --no-verify\`.
exec ${command.map(quote).join(' ')} scan --staged
`;
}

/** Where git looks for hooks in the repository at `cwd` (core.hooksPath if set). */
async function hooksDir(cwd: string): Promise<string> {
  if (!(await insideWorkTree(cwd))) throw new ScanError('not inside a git work tree');
  const configured = await git(['config', '--get', 'core.hooksPath'], cwd).then(
    (out) => out.toString().trim(),
    () => '',
  );
  if (configured) {
    if (isAbsolute(configured)) return configured;
    const top = (await git(['rev-parse', '--show-toplevel'], cwd)).toString().trim();
    return join(top, configured);
  }
  const path = (await git(['rev-parse', '--git-path', 'hooks'], cwd)).toString().trim();
  return isAbsolute(path) ? path : join(cwd, path);
}

export type HookInstall = 'installed' | 'unchanged' | 'replaced';

export async function installHook(
  cwd: string,
  command: readonly string[],
  force: boolean,
): Promise<{ path: string; outcome: HookInstall }> {
  const dir = await hooksDir(cwd);
  const path = join(dir, 'pre-commit');
  const script = hookScript(command);
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing === script) return { path, outcome: 'unchanged' };
  if (existing !== null && !force)
    throw new ScanError(`${path} exists and is another hook: pass --force to replace it`);
  await mkdir(dir, { recursive: true });
  await writeFile(path, script, { mode: 0o755 });
  await chmod(path, 0o755);
  return { path, outcome: existing === null ? 'installed' : 'replaced' };
}
