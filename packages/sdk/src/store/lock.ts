/**
 * An inter-process lock around refreshing a stored login, so that two processes never present the
 * same refresh token (which the server treats as theft and answers by revoking the family). The lock
 * is a file created with O_EXCL beside the store, holding the holder's pid and the time; it is stale —
 * and taken over — when its holder is dead or it is older than `staleMs`.
 *
 * @example
 * ```ts
 * await withFileLock(join(dir, 'refresh.lock'), () => refreshOnce(), { staleMs: 30_000 });
 * ```
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import { ClavisError } from '../errors.js';

/** The lock's timings; the clock and sleep are injectable for tests. */
export interface LockOptions {
  /** A lock older than this is abandoned (default 30 s). */
  staleMs?: number;
  /** Gives up waiting after this long: `lock_timeout` (default 20 s). */
  timeoutMs?: number;
  /** How long to wait between attempts (default 50 ms). */
  pollMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isStale(path: string, now: number, staleMs: number): Promise<boolean> {
  let holder: { pid?: unknown; time?: unknown };
  try {
    holder = JSON.parse(await readFile(path, 'utf8')) as typeof holder;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // Being written this instant, or garbage: judged by the file's age alone.
    holder = {};
  }
  const pid = typeof holder.pid === 'number' ? holder.pid : undefined;
  if (pid !== undefined && pid !== process.pid && !alive(pid)) return true;
  let time = typeof holder.time === 'number' ? holder.time : undefined;
  if (time === undefined) {
    try {
      time = (await stat(path)).mtimeMs;
    } catch {
      return false;
    }
  }
  return now - time > staleMs;
}

/**
 * Runs `critical` holding the lock file at `path`, waiting for another holder, taking over a stale one.
 *
 * @example
 * ```ts
 * const token = await withFileLock(store.lockPath(issuer, clientId), () => refresh());
 * ```
 */
export async function withFileLock<T>(
  path: string,
  critical: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const staleMs = options.staleMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const pollMs = options.pollMs ?? 50;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify({ pid: process.pid, time: now() }));
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await isStale(path, now(), staleMs)) {
      await rm(path, { force: true });
      continue;
    }
    if (now() - started > timeoutMs) {
      throw new ClavisError('lock_timeout', `another process has held ${path} for too long`);
    }
    await sleep(pollMs);
  }
  try {
    return await critical();
  } finally {
    await rm(path, { force: true });
  }
}
