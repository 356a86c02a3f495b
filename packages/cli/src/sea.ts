/**
 * Entry point of the single executable (`npm run package`, Node's single executable applications): the
 * same program as bin.ts, without its Node version check (the executable carries its own Node) and
 * without top-level await, so that it bundles to the one CommonJS file a single executable runs.
 */
import { processIo } from './io.js';
import { main } from './main.js';

const argv = process.argv.slice(2);
void main(argv, processIo()).then((code) => {
  process.exitCode = code;
  // A server's handles are closed by now; anything left (a stray socket) must not keep the CLI alive.
  if (!argv.includes('serve')) setTimeout(() => process.exit(), 2000).unref();
});
