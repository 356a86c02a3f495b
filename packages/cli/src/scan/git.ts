/**
 * The little of git the scanner uses, through its plumbing as a child process: one command's whole
 * output, and `git cat-file --batch` streaming the contents of many blobs through one process.
 */
import { spawn } from 'node:child_process';
import { ScanError } from './scan_error.js';

/** Runs `git ARGS` in `cwd` and returns its stdout; a failure is a ScanError with git's first line. */
export function git(args: readonly string[], cwd: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < 4096) err += chunk.toString();
    });
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(new ScanError(e.code === 'ENOENT' ? 'git is not installed (or not on PATH)' : e.message)),
    );
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else
        reject(new ScanError(`git ${args[0]}: ${err.trim().split('\n')[0] || `exit ${code}`}`, code ?? -1));
    });
  });
}

/** Whether `dir` is inside a git work tree (false too when git is missing). */
export async function insideWorkTree(dir: string): Promise<boolean> {
  try {
    return (await git(['rev-parse', '--is-inside-work-tree'], dir)).toString().trim() === 'true';
  } catch {
    return false;
  }
}

export interface BlobContent {
  sha: string;
  size: number;
  /** Null when the blob is larger than the limit (its bytes are read and dropped) or missing. */
  content: Buffer | null;
}

/** Reads exact byte counts and lines from a stream of chunks without copying more than needed. */
class ByteReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private done = false;
  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else {
        this.chunks.push(next.value);
        this.length += next.value.length;
      }
    }
    return this.length >= n;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return head;
  }

  /** A line without its LF, or null at the end. */
  async line(): Promise<string | null> {
    for (;;) {
      const joined = this.chunks.length > 1 ? Buffer.concat(this.chunks) : this.chunks[0];
      if (joined) this.chunks = [joined];
      const at = joined ? joined.indexOf(10) : -1;
      if (at >= 0) {
        const text = this.take(at + 1);
        return text.subarray(0, at).toString();
      }
      if (this.done) return null;
      await this.fill(this.length + 1);
    }
  }

  /** N bytes (copied out of the shared chunk), or null when the stream ends first. */
  async bytes(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) return null;
    return Buffer.from(this.take(n));
  }

  /** Drops N bytes, reading them chunk by chunk. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.length === 0 && !(await this.fill(1))) return;
      const step = Math.min(left, this.length);
      this.take(step);
      left -= step;
    }
  }
}

/**
 * The contents of `shas`, in order, through one `git cat-file --batch`. A blob over `maxBytes` comes
 * back with `content: null` and its size (so it can be counted as skipped), without being kept.
 */
export async function* catFileBatch(
  cwd: string,
  shas: readonly string[],
  maxBytes: number,
): AsyncGenerator<BlobContent> {
  if (shas.length === 0) return;
  const child = spawn('git', ['cat-file', '--batch'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString();
  });
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (e) => reject(new ScanError(`git cat-file: ${e.message}`))),
  );
  failed.catch(() => {});
  child.stdin.on('error', () => {}); // git gone: the reader below reports it
  // Writes the requests as the pipe drains: git answers while it reads, so neither side blocks.
  void (async () => {
    for (const sha of shas) {
      if (!child.stdin.write(`${sha}\n`)) await new Promise((r) => child.stdin.once('drain', r));
    }
    child.stdin.end();
  })();
  const reader = new ByteReader(child.stdout[Symbol.asyncIterator]());
  try {
    for (const sha of shas) {
      const header = await Promise.race([reader.line(), failed]);
      if (header === null)
        throw new ScanError(`git cat-file stopped early: ${stderr.trim().split('\n')[0] ?? ''}`);
      const [name, type, sizeText] = header.split(' ');
      if (type === 'missing' || name !== sha || type === undefined) {
        yield { sha, size: 0, content: null };
        continue;
      }
      const size = Number(sizeText);
      if (size > maxBytes) {
        await reader.skip(size + 1);
        yield { sha, size, content: null };
        continue;
      }
      const content = await reader.bytes(size + 1);
      if (content === null) throw new ScanError('git cat-file stopped in the middle of a blob');
      yield { sha, size, content: content.subarray(0, size) };
    }
  } finally {
    if (child.exitCode === null) child.kill();
  }
}
