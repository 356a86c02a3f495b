/**
 * The wiring loads no run module: `clavis --help`, `--version`, a command's help and a flag error come
 * from commander and the CLI's own light modules, never from @clavis/server (fastify, kysely, pg, …),
 * which a command loads only when it runs. Checked on the built binary, with a module hook that records
 * every module the process resolves.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, initDatabase, type Scratch, scratch, spawnCli } from './support/cli.js';

/** What only running a command may load. */
const HEAVY = /\/packages\/server\/|\/node_modules\/(@clavis\/server|fastify|kysely|pg|jose|pino)\//;

const HOOK = `
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
const log = process.env.CLAVIS_TEST_IMPORT_LOG;
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    appendFileSync(log, result.url + '\\n');
    return result;
  },
});
`;

describe('what `clavis` loads', () => {
  let tmp: Scratch;
  let hook: string;
  let n = 0;

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    hook = join(tmp.dir, 'record_imports.mjs');
    writeFileSync(hook, HOOK);
  });
  afterAll(() => tmp.remove());

  /** Runs `clavis ARGV` with the hook; the exit code and every module URL it resolved. */
  async function loaded(argv: string[]): Promise<{ code: number; urls: string[] }> {
    const log = join(tmp.dir, `imports-${n++}.log`);
    writeFileSync(log, '');
    const res = await spawnCli(
      argv,
      childEnv({ NODE_OPTIONS: `--import ${pathToFileURL(hook).href}`, CLAVIS_TEST_IMPORT_LOG: log }),
    );
    return { code: res.code, urls: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  }

  it.each([
    { argv: ['--help'], code: 0 },
    { argv: ['--version'], code: 0 },
    { argv: ['admin', 'keys', 'create', '--help'], code: 0 },
    { argv: ['admin', 'federations', 'create', '--help'], code: 0 },
    { argv: ['serve', '--help'], code: 0 },
    { argv: ['help', 'environment'], code: 0 },
    { argv: ['admin', 'init', '--help'], code: 0 },
    { argv: ['admin', 'audit', 'list', '--help'], code: 0 },
    { argv: ['admin', 'audit', 'export', '--help'], code: 0 },
    { argv: ['admin', 'audit', 'list', '--since', 'yesterday'], code: 1 },
    { argv: ['admin', 'clients', 'craete'], code: 1 },
    { argv: ['admin', 'clients', 'create', '--name', 'x', '--kind', 'other'], code: 1 },
  ])('clavis $argv: exit $code without loading the server', async ({ argv, code }) => {
    const res = await loaded(argv);
    expect(res.code).toBe(code);
    expect(res.urls.some((url) => url.includes('/packages/cli/dist/main.js'))).toBe(true);
    expect(res.urls.filter((url) => HEAVY.test(url))).toEqual([]);
  });

  it('a command that runs loads its run module and the server (the check above can see them)', async () => {
    const res = await loaded(['admin', '--db', tmp.dbUrl, 'clients', 'list', '--json']);
    expect(res.code).toBe(0);
    expect(res.urls.some((url) => url.endsWith('/packages/cli/dist/commands/admin/clients_run.js'))).toBe(
      true,
    );
    expect(res.urls.some((url) => HEAVY.test(url))).toBe(true);
  });
});
