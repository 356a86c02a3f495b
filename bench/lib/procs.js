// Child processes: start them with the pinned node, keep a log tail, and kill them all on exit,
// on errors and on Ctrl-C.
import { fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';

const children = new Set();
let hooked = false;

function killAll(signal = 'SIGKILL') {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  }
}

function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => killAll('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping child processes\n`);
      killAll('SIGKILL');
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: uncaught ${err?.stack ?? err}\n`);
    killAll('SIGKILL');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: unhandled rejection ${err?.stack ?? err}\n`);
    killAll('SIGKILL');
    process.exit(1);
  });
}

/** Keeps the last `max` lines a child wrote, for error messages. */
function tail(child, max = 60) {
  const lines = [];
  const push = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > max) lines.shift();
    }
  };
  child.stdout?.on('data', push);
  child.stderr?.on('data', push);
  return () => lines.join('\n');
}

function track(child, name) {
  hookExit();
  children.add(child);
  child.on('exit', () => children.delete(child));
  const logs = tail(child);
  return {
    name,
    child,
    pid: child.pid,
    logs,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await done;
      clearTimeout(timer);
    },
  };
}

/**
 * Forks a bench-owned child script (servers/*.child.js). The child reports
 * `{ type: 'ready', port }` over IPC once listening.
 */
export async function forkServer(name, script, args = [], { timeoutMs = 30_000, env } = {}) {
  const child = fork(script, args, {
    execPath: process.execPath,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const proc = track(child, name);
  const msg = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name}: not ready after ${timeoutMs} ms\n${proc.logs()}`)),
      timeoutMs,
    );
    child.on('message', (m) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve(m);
      } else if (m?.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`${name}: ${m.message}\n${proc.logs()}`));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited early (code ${code}, signal ${signal})\n${proc.logs()}`));
    });
  });
  child.disconnect?.();
  return { ...proc, ready: msg };
}

/** Spawns `node <args>` with the pinned node. */
export function spawnNode(name, args, { env, cwd } = {}) {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child, name);
}

/** Runs `node <args>` to completion; resolves { code, stdout, stderr }. */
export function runNode(args, { env, cwd, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    hookExit();
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** A free TCP port on 127.0.0.1 (for servers that need their port on the command line). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200, the process exits, or the timeout passes. */
export async function waitForHttp(url, proc, { timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc.exited()) {
      throw new Error(`${proc.name}: exited before ready (code ${proc.child.exitCode})\n${proc.logs()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) {
        await res.arrayBuffer();
        return;
      }
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc.name}: ${url} not ready after ${timeoutMs} ms (last: ${last})\n${proc.logs()}`);
}
