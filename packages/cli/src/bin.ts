#!/usr/bin/env node
/** Entry point of the `clavis` binary. */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(
    `clavis: Node.js ${process.versions.node} is too old; Clavis needs Node.js 22.13 or later (24 recommended)\n`,
  );
  process.exit(1);
}

const argv = process.argv.slice(2);
// `clavis serve` keeps V8's compiled code between starts (a restarted instance is back sooner), in the
// user's cache directory; NODE_COMPILE_CACHE, when set, is Node's own and wins.
if (argv[0] === 'serve' && !process.env.NODE_COMPILE_CACHE) {
  const [{ enableCompileCache }, { homedir }, { join }] = await Promise.all([
    import('node:module'),
    import('node:os'),
    import('node:path'),
  ]);
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  enableCompileCache?.(join(cache, 'clavis', 'compile-cache'));
}
// `clavis token` with a fresh stored login is answered before commander and the SDK load: it runs
// inside `$(…)` on every call of a script.
const fast =
  argv[0] === 'token' &&
  (await (
    await import('./commands/account/token_run.js')
  ).printTokenFast(argv.slice(1), {
    stdout: process.stdout,
    env: process.env,
  }));
if (!fast) {
  const { main } = await import('./main.js');
  const { processIo } = await import('./io.js');
  process.exitCode = await main(argv, processIo());
}
// A server's handles are closed by now, or its shutdown deadline has passed; anything left (a stray
// socket, a database connection that hangs) must not keep the CLI alive.
setTimeout(() => process.exit(), process.argv.includes('serve') ? 200 : 2000).unref();
