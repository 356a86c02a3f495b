/**
 * Where the code runs, read from the environment and the terminal: a person at an interactive
 * terminal (over SSH or not, with a browser to open or not), a CI job (which vendor), a Kubernetes pod.
 * Pure: everything it reads is passed in, so `clavis advise --detect`, `clavis login` and tests share it.
 *
 * @example
 * ```ts
 * const context = detectContext(process.env);
 * if (context.ci) console.error(`running in ${context.ci}`);
 * ```
 */
import { existsSync } from 'node:fs';

/** The CI systems the SDK recognises; `ci` when only the generic `CI=true` says so. */
export type CiVendor =
  | 'github-actions'
  | 'gitlab-ci'
  | 'buildkite'
  | 'circleci'
  | 'azure-pipelines'
  | 'jenkins'
  | 'ci';

/** What {@link detectContext} found. */
export interface DetectedContext {
  /** stdin and stderr are both terminals: a person can be shown a code and answer. */
  interactive: boolean;
  /** The session came in over SSH (`SSH_CONNECTION`, `SSH_CLIENT` or `SSH_TTY`). */
  ssh: boolean;
  /** A browser can be opened here (a desktop, or a display on Linux; not over SSH without one). */
  browser: boolean;
  /** The CI vendor, or `null` outside CI. */
  ci: CiVendor | null;
  /** Kubernetes: `KUBERNETES_SERVICE_HOST` and a service-account token file. */
  kubernetes: boolean;
  /** The service-account token file the pod would use (`CLAVIS_K8S_TOKEN_FILE` or the default). */
  kubernetesTokenFile: string;
}

/**
 * Where Kubernetes mounts a pod's service-account token.
 *
 * @example
 * ```ts
 * const file = env.CLAVIS_K8S_TOKEN_FILE || DEFAULT_K8S_TOKEN_FILE;
 * ```
 */
export const DEFAULT_K8S_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** What {@link detectContext} reads besides the environment; defaults read this process. */
export interface DetectOptions {
  stdinIsTTY?: boolean;
  stderrIsTTY?: boolean;
  platform?: NodeJS.Platform;
  fileExists?: (path: string) => boolean;
}

type Env = Record<string, string | undefined>;

const truthy = (value: string | undefined): boolean =>
  value !== undefined && value !== '' && value.toLowerCase() !== 'false' && value !== '0';

/**
 * The CI vendor named by the environment, or `null`.
 *
 * @example
 * ```ts
 * detectCiVendor({ GITHUB_ACTIONS: 'true' }); // 'github-actions'
 * ```
 */
export function detectCiVendor(env: Env): CiVendor | null {
  if (env.GITHUB_ACTIONS === 'true') return 'github-actions';
  if (truthy(env.GITLAB_CI)) return 'gitlab-ci';
  if (truthy(env.BUILDKITE)) return 'buildkite';
  if (truthy(env.CIRCLECI)) return 'circleci';
  if (truthy(env.TF_BUILD)) return 'azure-pipelines';
  if (env.JENKINS_URL) return 'jenkins';
  if (truthy(env.CI)) return 'ci';
  return null;
}

/**
 * Detects the context from `env` and the terminal.
 *
 * @example
 * ```ts
 * detectContext({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, { fileExists: () => true }).kubernetes; // true
 * ```
 */
export function detectContext(env: Env, options: DetectOptions = {}): DetectedContext {
  const stdinIsTTY = options.stdinIsTTY ?? process.stdin.isTTY === true;
  const stderrIsTTY = options.stderrIsTTY ?? process.stderr.isTTY === true;
  const platform = options.platform ?? process.platform;
  const fileExists = options.fileExists ?? existsSync;
  const ssh = Boolean(env.SSH_CONNECTION || env.SSH_CLIENT || env.SSH_TTY);
  const display = Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
  const desktop = platform === 'darwin' || platform === 'win32';
  const kubernetesTokenFile = env.CLAVIS_K8S_TOKEN_FILE || DEFAULT_K8S_TOKEN_FILE;
  const ci = detectCiVendor(env);
  return {
    interactive: stdinIsTTY && stderrIsTTY,
    ssh,
    browser: ci === null && (ssh ? display : desktop || display),
    ci,
    kubernetes: Boolean(env.KUBERNETES_SERVICE_HOST) && fileExists(kubernetesTokenFile),
    kubernetesTokenFile,
  };
}
