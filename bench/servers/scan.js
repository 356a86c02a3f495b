// `clavis scan` over a generated tree of ~100 MB (many text files, a few secrets), beside the
// `secretlint` CLI with its recommended preset on the same tree (the engine alone: the peer) and
// `grep -rE` for the Clavis key pattern (one regular expression, no rules: the machine's limit).
// Not a server: each scenario times whole processes and reports MB/s in `rps` (and files/s in its
// note), so the ratio table compares them like the other targets.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, timedResult } from '../lib/timed.js';

export const TARGET = 'scan';
export const SCENARIOS = ['clavis_scan', 'secretlint', 'grep'];

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const CORE = new URL('../../packages/core/dist/index.js', import.meta.url).href;
const SECRETLINT = fileURLToPath(new URL('../../node_modules/secretlint/bin/secretlint.js', import.meta.url));
const TREE_MB = Number(process.env.CLAVIS_BENCH_SCAN_MB ?? 100);
const RUNS = Number(process.env.CLAVIS_BENCH_SCAN_RUNS ?? 2);
const FILE_BYTES = 20_000;
const KEYS = 5;

/** A small seeded generator: the same tree every run. */
function xorshift(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const WORDS =
  'const let return import export function value token config client server request response error index data user result list item name path file key hash count'.split(
    ' ',
  );

/** ~FILE_BYTES of source-like text: code lines, hex digests, base64 blobs, URLs. */
function fileText(rand, n) {
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const hex = (len) =>
    Array.from({ length: len }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');
  const b64 = (len) =>
    Array.from(
      { length: len },
      () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'[Math.floor(rand() * 64)],
    ).join('');
  const lines = [`// file ${n}`];
  let size = 0;
  while (size < FILE_BYTES) {
    const r = rand();
    const line =
      r < 0.6
        ? `  ${pick(WORDS)} ${pick(WORDS)}_${Math.floor(rand() * 1000)} = ${pick(WORDS)}(${pick(WORDS)}, '${pick(WORDS)} ${pick(WORDS)}');`
        : r < 0.75
          ? `  // sha256 ${hex(64)}`
          : r < 0.85
            ? `  "integrity": "sha512-${b64(86)}==",`
            : r < 0.95
              ? `  fetch('https://api.example.com/v1/${pick(WORDS)}/${Math.floor(rand() * 1e6)}?q=${pick(WORDS)}');`
              : `  id: '${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}',`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the tree; returns its size, file count and how many verified keys it holds. */
async function generateTree(root) {
  const { generateApiKey } = await import(CORE);
  const rand = xorshift(14);
  const files = Math.round((TREE_MB * 1e6) / FILE_BYTES);
  const dirs = Math.max(1, Math.round(files / 100));
  for (let d = 0; d < dirs; d++) await mkdir(join(root, `pkg${d % 10}`, `mod${d}`), { recursive: true });
  let bytes = 0;
  const secretAt = new Map([
    ...Array.from({ length: KEYS }, (_, i) => [Math.floor(((i + 0.5) * files) / KEYS), 'key']),
    [Math.floor(files / 3) + 1, 'github'],
  ]);
  for (let n = 0; n < files; n++) {
    let text = fileText(rand, n);
    const secret = secretAt.get(n);
    if (secret === 'key') text += `export const apiKey = '${generateApiKey()}';\n`;
    if (secret === 'github') text += `GITHUB_TOKEN=ghp_${'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7d'}\n`;
    const d = n % dirs;
    await writeFile(join(root, `pkg${d % 10}`, `mod${d}`, `file${n}.ts`), text);
    bytes += Buffer.byteLength(text);
  }
  return { bytes, files, keys: KEYS };
}

function time(command, args, cwd, okCodes) {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (!okCodes.includes(result.status))
    throw new Error(
      `${command} ${args.join(' ')}: exit ${result.status}: ${String(result.stderr).slice(0, 500)}`,
    );
  return { ms, stdout: result.stdout.toString() };
}

export async function launch() {
  const dir = await mkdtemp(join(tmpdir(), 'clavis-bench-scan-'));
  const root = join(dir, 'tree');
  await mkdir(root);
  const tree = await generateTree(root);
  const rc = join(dir, 'secretlintrc.json');
  await writeFile(rc, JSON.stringify({ rules: [{ id: '@secretlint/secretlint-rule-preset-recommend' }] }));

  const commands = {
    clavis_scan: () => time(process.execPath, [BIN, 'scan', '--json', '.'], root, [1]),
    secretlint: () =>
      time(process.execPath, [SECRETLINT, '--secretlintrc', rc, '--format', 'json', '**/*'], root, [1]),
    grep: () => time('grep', ['-rEo', '--binary-files=without-match', 'clv_[0-9A-Za-z]{36}', '.'], root, [0]),
  };
  // Each finds what the tree holds before it is timed.
  const found = {
    clavis_scan: JSON.parse(commands.clavis_scan().stdout).findings.filter((f) => f.verified).length,
    grep: commands.grep().stdout.trim().split('\n').length,
  };
  if (found.clavis_scan !== tree.keys || found.grep !== tree.keys)
    throw new Error(`expected ${tree.keys} keys; clavis scan found ${found.clavis_scan}, grep ${found.grep}`);

  // Interleaved runs, so load on the machine hits all three alike; the median run is reported.
  let measured;
  const measure = () => {
    if (measured) return measured;
    const samples = { clavis_scan: [], secretlint: [], grep: [] };
    for (let i = 0; i < RUNS; i++) for (const name of SCENARIOS) samples[name].push(commands[name]().ms);
    measured = samples;
    return samples;
  };
  const scenario = (name, label) => ({
    name,
    label,
    async run() {
      const ms = measure()[name];
      const p50 = median(ms);
      const mbps = tree.bytes / 1e6 / (p50 / 1000);
      const filesPerSecond = tree.files / (p50 / 1000);
      return timedResult(ms, {
        rps: mbps,
        digits: 0,
        extra: { mbps, filesPerSecond },
        describe: () =>
          `${RUNS} runs, median ${(p50 / 1000).toFixed(1)} s: ${mbps.toFixed(1)} MB/s, ${Math.round(filesPerSecond)} files/s (req/s = MB/s; p50/p99 = median/slowest run in ms)`,
      });
    },
  });
  return {
    name: TARGET,
    proc: { stop: async () => {}, exited: () => false, logs: () => '' },
    cleanup: () => rm(dir, { recursive: true, force: true }),
    notes: [
      `a generated tree of ${(tree.bytes / 1e6).toFixed(0)} MB in ${tree.files} files holding ${tree.keys} Clavis keys and a GitHub token; whole processes, one at a time`,
    ],
    scenarios: [
      scenario('clavis_scan', '`clavis scan --json .` (secretlint core + preset + the Clavis key rule)'),
      scenario('secretlint', '`secretlint "**/*"` with the recommended preset'),
      scenario('grep', "`grep -rEo 'clv_[0-9A-Za-z]{36}'` (one pattern: the machine's limit)"),
    ],
  };
}
