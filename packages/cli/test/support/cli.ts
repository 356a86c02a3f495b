/**
 * Running `clavis` in tests: in-process through `main(argv, io)` with streams that collect text, or as a
 * real process (`node packages/cli/dist/bin.js …`, built by `npm run build`) to see true exit codes,
 * signals and what reaches the terminal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../../../test/support/temp_dir.js';
import type { Io } from '../../src/io.js';
import { main } from '../../src/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A writable stream that keeps what is written to it as text. */
export class TextSink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

/** Runs `clavis ARGV` in this process. The environment is only what is passed: nothing leaks in. */
export async function runCli(
  argv: readonly string[],
  options: { env?: Record<string, string | undefined>; stdin?: string } = {},
): Promise<CliResult> {
  const stdout = new TextSink();
  const stderr = new TextSink();
  const io: Io = {
    stdout,
    stderr,
    stdin: Readable.from([options.stdin ?? '']),
    env: options.env ?? {},
    stopSignal: new Promise<string>(() => {}),
  };
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The lines of a stream's text, without the final newline's empty remainder. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line, i, all) => !(i === all.length - 1 && line === ''));
}

/** A scratch directory with an SQLite database URL in it; `remove()` deletes both. */
export interface Scratch {
  dir: string;
  dbPath: string;
  dbUrl: string;
  remove(): void;
}

export function scratch(): Scratch {
  const { path: dir, remove } = tempDir('clavis-cli-test-');
  const dbPath = join(dir, 'clavis.db');
  return { dir, dbPath, dbUrl: `sqlite:${dbPath}`, remove };
}

/** Reads an SQLite database file directly (not through our code), for checking what was persisted. */
export function withSqlite<T>(path: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function countRows(
  path: string,
  table: 'clients' | 'audit_events' | 'client_secrets' | 'users',
  where = '1=1',
): number {
  if (!existsSync(path)) return 0;
  return withSqlite(path, (db) => {
    const row = db.prepare(`select count(*) as n from ${table} where ${where}`).get() as { n: number };
    return Number(row.n);
  });
}

export const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
/** The repository's pinned Node 24 (the machine's default node is too old). */
export const NODE = ((): string => {
  const pinned = fileURLToPath(new URL('../../../../node_modules/.bin/node', import.meta.url));
  return existsSync(pinned) ? pinned : process.execPath;
})();

/** An environment for a child `clavis`: PATH and HOME only, plus what the test adds. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does)`);
}

/** Starts `node dist/bin.js ARGV` and collects its output as it arrives. */
export function startCli(argv: readonly string[], env: Record<string, string> = childEnv()) {
  assertBuilt();
  const child: ChildProcess = spawn(NODE, [BIN, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    out.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out.stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, out, exited };
}

/** Runs `node dist/bin.js ARGV` to completion. */
export async function spawnCli(
  argv: readonly string[],
  env: Record<string, string> = childEnv(),
): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  const { out, exited } = startCli(argv, env);
  const { code, signal } = await exited;
  return { code: code ?? -1, signal, stdout: out.stdout, stderr: out.stderr };
}

/**
 * Sets up a database the way `clavis admin init` does (the admin commands never create one), with the
 * environment the test's commands will use (its KEK).
 */
export async function initDatabase(
  dbUrl: string,
  env: Record<string, string | undefined> = {},
): Promise<void> {
  const res = await runCli(['admin', '--db', dbUrl, 'init'], { env });
  if (res.code !== 0) throw new Error(`clavis admin init failed: ${res.stderr}`);
}
