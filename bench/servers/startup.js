// `clavis serve` start-up on SQLite, as whole processes: from spawn to the port answering (`listening`)
// and to `/readyz` answering 200 (`ready`), over a database set up by a first start (a restarted
// instance, as after a crash). Not a server: like cli-token, its scenarios time processes (N runs,
// median) and report runs/s in `rps`.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/procs.js';
import { timedResult } from '../lib/timed.js';

export const TARGET = 'startup';
export const SCENARIOS = ['listening', 'ready'];

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const RUNS = Number(process.env.CLAVIS_BENCH_STARTUP_RUNS ?? 10);

/** The status of GET `url`, or undefined when nothing answers. */
function status(url) {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(1000, () => req.destroy());
    req.end();
  });
}

/** One start: ms to the first answer and to the first 200 of /readyz; then the process is stopped. */
async function startOnce(env, db) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/readyz`;
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', String(port)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e6;
  let listening;
  try {
    for (;;) {
      if (exited) throw new Error(`clavis serve exited: ${stderr.slice(0, 600)}`);
      if (elapsed() > 30_000) throw new Error('clavis serve did not become ready in 30 s');
      const code = await status(url);
      if (code !== undefined) listening ??= elapsed();
      if (code === 200) return { listening, ready: elapsed() };
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
  }
}

export async function launch() {
  const dir = await mkdtemp(join(tmpdir(), 'clavis-bench-startup-'));
  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    CLAVIS_KEK_FILE: join(dir, 'clavis.kek'),
    CLAVIS_ADMIN_PASSWORD: 'bench-startup-admin-password',
    CLAVIS_LOG_LEVEL: 'warn',
    // The compile cache (bin.ts) lives here: the unmeasured first start fills it, as a restart finds it.
    XDG_CACHE_HOME: join(dir, 'cache'),
  };
  const db = `sqlite:${join(dir, 'clavis.db')}`;
  // The first start sets the database up (migrations, keys, the admin); it is not measured.
  await startOnce(env, db);

  let measured;
  const measure = async () => {
    if (measured) return measured;
    const samples = { listening: [], ready: [] };
    for (let i = 0; i < RUNS; i++) {
      const run = await startOnce(env, db);
      samples.listening.push(run.listening);
      samples.ready.push(run.ready);
    }
    measured = samples;
    return samples;
  };
  const scenario = (name, label) => ({
    name,
    label,
    async run() {
      return timedResult((await measure())[name], {
        describe: (p50) => `${RUNS} starts, median ${p50.toFixed(1)} ms (req/s = starts/s of the median)`,
      });
    },
  });
  return {
    name: TARGET,
    proc: { stop: async () => {}, exited: () => false, logs: () => '' },
    cleanup: () => rm(dir, { recursive: true, force: true }),
    notes: [
      'whole `clavis serve` processes on SQLite, one at a time, over a database set up by a first start',
    ],
    scenarios: [
      scenario('listening', 'spawn to the port answering'),
      scenario('ready', 'spawn to /readyz 200'),
    ],
  };
}
