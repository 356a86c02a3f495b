/**
 * The README runs as written. Its ```sh blocks run in order, in one bash session carried from block to
 * block (variables, functions, the working directory), from the repository root, against a fresh
 * server started the way `npm start` starts it, on a fresh temporary directory (new database, new KEK),
 * with CLAVIS_DB and CLAVIS_PORT set as a reader may set them. A block fails the test when it exits
 * non-zero or prints an OAuth error it does not itself show; the message holds the block and its
 * output. Running them must leave no new file in the working tree.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/free_port.js';
import { childEnv, type Scratch, scratch, startCli } from './support/cli.js';
import {
  type ShellBlock,
  shellBlocks,
  UnterminatedBlock,
  unexpectedErrors,
} from './support/readme_blocks.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const README = join(ROOT, 'README.md');

/** What the session keeps between blocks: exported variables (allexport), functions, the directory. */
const RUNNER = `
set -a
. "$README_STATE"
set -eo pipefail
. "$README_BLOCK"
set +e
{
  for name in $(compgen -e); do
    case "$name" in BASHOPTS|SHELLOPTS|BASH_*|EUID|PPID|UID|_|README_STATE|README_BLOCK) continue ;; esac
    declare -p "$name"
  done
  declare -f
  printf 'cd %q\\n' "$PWD"
} > "$README_STATE.next"
`;

function runBlock(dir: string, index: number, block: ShellBlock, env: Record<string, string>) {
  const file = join(dir, `block-${index}.sh`);
  writeFileSync(file, block.code);
  const state = join(dir, 'state.sh');
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-c', RUNNER], {
      cwd: ROOT,
      env: { ...env, README_STATE: state, README_BLOCK: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Files in the working tree, tracked or not, ignored or not (a directory git ignores is one entry). */
function workingTree(): Set<string> {
  const status = spawnSync('git', ['status', '--porcelain', '--ignored', '--untracked-files=normal'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return new Set(status.stdout.split('\n').filter((line) => line.startsWith('??') || line.startsWith('!!')));
}

describe('README blocks', () => {
  it('finds ```sh blocks only, with their line and heading; an unclosed fence is an error', () => {
    const md = '# A\n```sh\necho 1\n```\n## B\n```console\nnpm start\n```\n~~~sh\necho 2\n~~~\n';
    expect(shellBlocks(md)).toEqual([
      { line: 2, heading: 'A', code: 'echo 1\n' },
      { line: 9, heading: 'B', code: 'echo 2\n' },
    ]);
    expect(() => shellBlocks('```sh\necho never closed\n')).toThrow(UnterminatedBlock);
  });

  it('an OAuth error in the output is unexpected unless the block shows it', () => {
    const block = { line: 1, heading: 'h', code: 'curl …\n# {"error":"access_denied"}\n' };
    expect(unexpectedErrors(block, '{"error":"access_denied","error_description":"x"}')).toEqual([]);
    expect(unexpectedErrors(block, '{"error": "invalid_client"}')).toEqual(['invalid_client']);
  });
});

describe('the README, run as written against a fresh server', () => {
  let tmp: Scratch;
  let server: ReturnType<typeof startCli> | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    tmp = scratch();
    const port = await freePort();
    const home = join(tmp.dir, 'home');
    const temp = join(tmp.dir, 'tmp');
    mkdirSync(home);
    mkdirSync(temp);
    // The reader's shell: CLAVIS_DB and CLAVIS_PORT as `npm start` was given them, nothing else of ours.
    env = childEnv({ CLAVIS_DB: tmp.dbUrl, CLAVIS_PORT: String(port), HOME: home, TMPDIR: temp });
    writeFileSync(join(tmp.dir, 'state.sh'), '');
    server = startCli(['serve'], env);
    const deadline = Date.now() + 30_000;
    while (!server.out.stderr.includes('Next steps:')) {
      if (server.child.exitCode !== null) throw new Error(`serve exited:\n${server.out.stderr}`);
      if (Date.now() > deadline) throw new Error(`serve never started:\n${server.out.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    tmp?.remove();
  });

  it('every ```sh block succeeds, in order, and writes nothing into the working tree', async () => {
    const blocks = shellBlocks(readFileSync(README, 'utf8'));
    expect(blocks.length).toBeGreaterThan(0);
    const before = workingTree();
    for (const [index, block] of blocks.entries()) {
      const { code, output } = await runBlock(tmp.dir, index, block, env);
      const errors = unexpectedErrors(block, output);
      if (code !== 0 || errors.length > 0) {
        const why = code !== 0 ? `exited ${code}` : `printed the error(s) ${errors.join(', ')}`;
        throw new Error(
          `README line ${block.line} (under "${block.heading}") ${why}\n--- block\n${block.code}--- output\n${output}`,
        );
      }
      renameSync(join(tmp.dir, 'state.sh.next'), join(tmp.dir, 'state.sh'));
    }
    const created = [...workingTree()].filter((entry) => !before.has(entry));
    expect(created, 'files the README examples left in the working tree').toEqual([]);
  }, 900_000);
});
