#!/usr/bin/env node
// `npm run package`: the clavis CLI as one executable (Node's single executable applications, SEA).
// The built CLI (packages/cli/dist, by `npm run build`) is bundled with every dependency into one
// CommonJS file, which `node --experimental-sea-config` turns into a blob that postject injects into a
// copy of the running Node binary. The result, dist/clavis, needs no Node, no node_modules and no
// repository: node:sqlite is built into Node, and PostgreSQL's client (pg) is plain JavaScript.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist');
const work = join(out, 'sea');
const bundle = join(work, 'clavis.cjs');
const blob = join(work, 'clavis.blob');
const config = join(work, 'sea-config.json');
const executable = join(out, process.platform === 'win32' ? 'clavis.exe' : 'clavis');
// The fuse postject flips so that Node looks for the injected blob (Node's documented sentinel).
const fuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Runs Node with ARGS; its chatter is shown only when it fails. */
function quiet(args) {
  try {
    execFileSync(process.execPath, args, { stdio: 'pipe' });
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    throw err;
  }
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

await build({
  entryPoints: [join(root, 'packages/cli/dist/sea.js')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${process.versions.node.split('.')[0]}`,
  // pg loads its optional native binding only when asked for (`pg.native`); Clavis never asks.
  // The OS keychain binding is a native addon a single executable cannot carry: there the SDK finds no
  // keychain and keeps logins in its announced 0600 file instead.
  external: ['pg-native', '@napi-rs/keyring'],
  legalComments: 'none',
  minify: true,
  keepNames: true,
  logLevel: 'warning',
});

writeFileSync(
  config,
  `${JSON.stringify(
    { main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true },
    null,
    2,
  )}\n`,
);
quiet(['--experimental-sea-config', config]);

rmSync(executable, { force: true });
copyFileSync(process.execPath, executable);
chmodSync(executable, 0o755);
const postject = join(root, 'node_modules/postject/dist/cli.js');
const args = [postject, executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', fuse];
if (process.platform === 'darwin') args.push('--macho-segment-name', 'NODE_SEA');
// postject warns about every ELF note section it does not know; that noise is expected on Linux.
quiet(args);

const mib = (file) => (statSync(file).size / 1024 / 1024).toFixed(1);
process.stdout.write(
  `${executable}: ${mib(executable)} MiB (bundle ${mib(bundle)} MiB, Node ${process.version})\n`,
);
