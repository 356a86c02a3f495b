/**
 * A kubectl (client-go) exec credential plugin's input and output: client-go passes an `ExecCredential`
 * in `KUBERNETES_EXEC_INFO` (its `spec.interactive` says whether the plugin may prompt; `spec.cluster`
 * is there when the kubeconfig sets `provideClusterInfo`), and reads one back on stdout with
 * `status.token` and `status.expirationTimestamp` (RFC 3339), in the same apiVersion it sent.
 */
import { CredentialHelperError } from './errors.js';

export const execCredentialApiVersions = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
] as const;
export type ExecCredentialApiVersion = (typeof execCredentialApiVersions)[number];

/** Cluster information is a few kilobytes (a CA bundle); this bounds anything larger. */
export const maxExecInfoLength = 256 * 1024;

export interface ExecInfo {
  apiVersion: ExecCredentialApiVersion;
  /** Whether stdin is the user's terminal, so the plugin may ask them something (e.g. to log in). */
  interactive: boolean;
  /** The cluster being called, when the kubeconfig provides it. */
  cluster?: { server: string; config?: unknown };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads `KUBERNETES_EXEC_INFO`. Absent or empty (a plugin run by hand, or an old client) means v1 and
 * not interactive. Anything else must be an `ExecCredential` of a supported apiVersion with a `spec`.
 */
export function parseExecInfo(value: string | undefined): ExecInfo {
  if (value === undefined || value.trim() === '') {
    return { apiVersion: 'client.authentication.k8s.io/v1', interactive: false };
  }
  const malformed = (why: string, cause?: unknown) =>
    new CredentialHelperError('malformed_exec_info', `KUBERNETES_EXEC_INFO ${why}`, { cause });
  if (value.length > maxExecInfoLength) throw malformed(`is longer than ${maxExecInfoLength} characters`);
  let info: unknown;
  try {
    info = JSON.parse(value);
  } catch (cause) {
    throw malformed('is not JSON', cause);
  }
  if (!isObject(info)) throw malformed('is not a JSON object');
  if (info.kind !== 'ExecCredential') throw malformed('is not an ExecCredential');
  const apiVersion = execCredentialApiVersions.find((version) => version === info.apiVersion);
  if (!apiVersion) {
    throw new CredentialHelperError(
      'unsupported_api_version',
      `KUBERNETES_EXEC_INFO has apiVersion ${JSON.stringify(String(info.apiVersion)).slice(0, 80)}; supported: ${execCredentialApiVersions.join(', ')}`,
    );
  }
  const spec = info.spec;
  if (!isObject(spec)) throw malformed('has no spec');
  if (spec.interactive !== undefined && typeof spec.interactive !== 'boolean') {
    throw malformed('has a spec.interactive that is not a boolean');
  }
  const result: ExecInfo = { apiVersion, interactive: spec.interactive === true };
  if (spec.cluster !== undefined) {
    if (!isObject(spec.cluster) || typeof spec.cluster.server !== 'string' || spec.cluster.server === '') {
      throw malformed('has a spec.cluster without a server');
    }
    result.cluster = { server: spec.cluster.server };
    if (spec.cluster.config !== undefined) result.cluster.config = spec.cluster.config;
  }
  return result;
}

/** DATE in RFC 3339 at second precision, UTC, as Kubernetes writes `metav1.Time` (`2026-12-02T10:15:30Z`). */
export function rfc3339(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface ExecCredentialOutput {
  apiVersion: ExecCredentialApiVersion;
  token: string;
  /** When the token expires; client-go asks again after it. Without it, only a 401 makes it ask again. */
  expiresAt?: Date;
}

/**
 * The `ExecCredential` to write on stdout, one JSON line. The expiry is rounded down to the second, so
 * client-go never uses the token past its real end.
 */
export function formatExecCredential(output: ExecCredentialOutput): string {
  if (output.token === '') throw new CredentialHelperError('invalid_value', 'the token is empty');
  const status: { token: string; expirationTimestamp?: string } = { token: output.token };
  if (output.expiresAt) status.expirationTimestamp = rfc3339(output.expiresAt);
  return `${JSON.stringify({ apiVersion: output.apiVersion, kind: 'ExecCredential', spec: {}, status })}\n`;
}
