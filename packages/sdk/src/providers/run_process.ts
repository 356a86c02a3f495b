/**
 * Runs a credential process — a vault CLI printing an API key, `buildkite-agent oidc request-token` —
 * without a shell, bounded in time and output. Its stdout is the credential: it is returned trimmed and
 * never logged nor put in an error. Its stderr goes to ours, for the person to read. A non-zero exit, a
 * signal, a timeout or an empty answer is `credential_process_failed`, saying only which of these.
 *
 * @example
 * ```ts
 * const key = await runCredentialProcess(['vault', 'kv', 'get', '-field=key', 'ci/clavis'], {
 *   timeoutMs: 10_000,
 * });
 * ```
 */
import { spawn } from 'node:child_process';
import { ClavisError } from '../errors.js';

/** The largest stdout accepted; a credential is a line, not a file. */
const MAX_OUTPUT_BYTES = 64 * 1024;

/** How long the process may run, what errors call it, and its environment. */
export interface RunProcessOptions {
  timeoutMs: number;
  /** What the error calls the process (default: its program name). */
  label?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `argv` (no shell) and returns its trimmed stdout, or throws `credential_process_failed`.
 *
 * @example
 * ```ts
 * const key = await runCredentialProcess(['op', 'read', 'op://CI/clavis/key'], { timeoutMs: 10_000 });
 * ```
 */
export function runCredentialProcess(argv: readonly string[], options: RunProcessOptions): Promise<string> {
  const [program, ...args] = argv;
  const label = options.label ?? program ?? 'credential process';
  const fail = (why: string, cause?: unknown): ClavisError =>
    new ClavisError('credential_process_failed', `${label} ${why}`, { cause });
  return new Promise((resolve, reject) => {
    if (!program) {
      reject(fail('is empty'));
      return;
    }
    const child = spawn(program, args, {
      shell: false,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: options.env ?? process.env,
      windowsHide: true,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let why: string | undefined;
    const timer = setTimeout(() => {
      why = `did not finish within ${Math.round(options.timeoutMs / 1000)} s`;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_OUTPUT_BYTES) {
        why ??= 'printed too much';
        child.kill('SIGKILL');
        return;
      }
      chunks.push(chunk);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(fail(err.code === 'ENOENT' ? 'was not found' : 'could not be started', err));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (why) return reject(fail(why));
      if (signal) return reject(fail(`was killed by ${signal}`));
      if (code !== 0) return reject(fail(`exited with status ${code}`));
      const output = Buffer.concat(chunks).toString('utf8').trim();
      if (!output) return reject(fail('printed nothing'));
      resolve(output);
    });
  });
}
