#!/usr/bin/env node
/** Entry point of the `clavis` binary. */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(
    `clavis: Node.js ${process.versions.node} is too old; Clavis needs Node.js 22.13 or later (24 recommended)\n`,
  );
  process.exit(1);
}

const { main } = await import('./main.js');
const { processIo } = await import('./io.js');
const io = processIo();
process.exitCode = await main(process.argv.slice(2), io);
// A server's handles are closed by now; anything left (a stray socket) must not keep the CLI alive.
if (!process.argv.includes('serve')) setTimeout(() => process.exit(), 2000).unref();
