// `clavis token` with a cached login (the file store, a token valid for an hour) as a whole process,
// beside `node -e 0`: the CLI's start-up cost when a script runs it inside $(…) on every call.
// Not a server: its scenarios time processes (N runs each, interleaved, median) and report runs/s in
// `rps` so the ratio table compares them like the other targets.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timedResult } from '../lib/timed.js';

export const TARGET = 'cli-token';
export const SCENARIOS = ['clavis_token', 'node_e0'];

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const SDK = new URL('../../packages/sdk/dist/index.js', import.meta.url).href;
const ISSUER = 'https://clavis.bench.invalid';
const RUNS = Number(process.env.CLAVIS_BENCH_CLI_RUNS ?? 30);

function time(argv, env) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(' ')}: exit ${result.status}: ${result.stderr}`);
  return { ms, stdout: result.stdout.toString() };
}

export async function launch() {
  const dir = await mkdtemp(join(tmpdir(), 'clavis-bench-cli-'));
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    CLAVIS_SERVER: ISSUER,
  };
  // A stored login as `clavis login` leaves it where no keychain answers.
  const { LoginStore } = await import(SDK);
  const now = Date.now();
  const accessToken = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3JfYmVuY2gifQ.c2lnbmF0dXJl';
  await new LoginStore({ env, keychain: null, warn: () => {} }).save({
    issuer: ISSUER,
    clientId: 'clavis-cli',
    sub: 'usr_bench',
    username: 'bench',
    accessToken,
    obtainedAt: now,
    expiresAt: now + 3600_000,
    scopes: ['openid', 'profile'],
    refreshToken: 'clvr_bench',
  });
  if (time([BIN, 'token'], env).stdout !== `${accessToken}\n`)
    throw new Error('clavis token printed something else');

  // Both scenarios measure in one interleaved loop (the first one run), so load on the machine hits both.
  let measured;
  const measure = () => {
    if (measured) return measured;
    const samples = { clavis_token: [], node_e0: [] };
    for (let i = 0; i < RUNS; i++) {
      samples.clavis_token.push(time([BIN, 'token'], env).ms);
      samples.node_e0.push(time(['-e', '0'], env).ms);
    }
    measured = samples;
    return samples;
  };
  const scenario = (name, label) => ({
    name,
    label,
    async run() {
      return timedResult(measure()[name], {
        describe: (p50) => `${RUNS} runs, median ${p50.toFixed(1)} ms (req/s = runs/s of the median)`,
      });
    },
  });
  return {
    name: TARGET,
    proc: { stop: async () => {}, exited: () => false, logs: () => '' },
    cleanup: () => rm(dir, { recursive: true, force: true }),
    notes: [
      'whole processes, one at a time; ratio = median time of `clavis token` / median time of `node -e 0`',
    ],
    scenarios: [
      scenario('clavis_token', '`clavis token`, cached login in the file store'),
      scenario('node_e0', '`node -e 0`'),
    ],
  };
}
