import { describe, expect, it } from 'vitest';
import { CredentialHelperError } from '../src/credential_helpers/errors.js';
import { formatExecCredential, parseExecInfo, rfc3339 } from '../src/credential_helpers/kubectl.js';

/** KUBERNETES_EXEC_INFO as client-go sets it: interactive, and with provideClusterInfo. */
const interactiveV1 =
  '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}';
const withClusterV1beta1 = JSON.stringify({
  kind: 'ExecCredential',
  apiVersion: 'client.authentication.k8s.io/v1beta1',
  spec: {
    cluster: {
      server: 'https://k8s.example.test:6443',
      'certificate-authority-data': 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t',
      config: { audience: 'clavis' },
    },
    interactive: false,
  },
});

function refusal(value: string): string | undefined {
  try {
    parseExecInfo(value);
    return undefined;
  } catch (error) {
    return error instanceof CredentialHelperError ? error.code : `unexpected ${String(error)}`;
  }
}

describe('parseExecInfo', () => {
  it('reads an interactive v1 request', () => {
    expect(parseExecInfo(interactiveV1)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      interactive: true,
    });
  });

  it('reads a v1beta1 request with its cluster', () => {
    expect(parseExecInfo(withClusterV1beta1)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      interactive: false,
      cluster: { server: 'https://k8s.example.test:6443', config: { audience: 'clavis' } },
    });
  });

  it('takes an absent or empty variable as v1, not interactive', () => {
    for (const value of [undefined, '', '  ']) {
      expect(parseExecInfo(value)).toEqual({
        apiVersion: 'client.authentication.k8s.io/v1',
        interactive: false,
      });
    }
  });

  it.each([
    ['not JSON', '{"kind":', 'malformed_exec_info'],
    ['an array', '[]', 'malformed_exec_info'],
    [
      'another kind',
      '{"kind":"Pod","apiVersion":"client.authentication.k8s.io/v1","spec":{}}',
      'malformed_exec_info',
    ],
    [
      'v1alpha1',
      '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{}}',
      'unsupported_api_version',
    ],
    ['no apiVersion', '{"kind":"ExecCredential","spec":{}}', 'unsupported_api_version'],
    [
      'no spec',
      '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1"}',
      'malformed_exec_info',
    ],
    [
      'interactive as a string',
      '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":"true"}}',
      'malformed_exec_info',
    ],
    [
      'a cluster without a server',
      '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{}}}',
      'malformed_exec_info',
    ],
    [
      'an oversized value',
      JSON.stringify({
        kind: 'ExecCredential',
        apiVersion: 'client.authentication.k8s.io/v1',
        spec: { pad: 'x'.repeat(300_000) },
      }),
      'malformed_exec_info',
    ],
  ])('refuses %s', (_name, value, code) => {
    expect(refusal(value)).toBe(code);
  });
});

describe('formatExecCredential', () => {
  it('writes the documented shape, in the apiVersion asked for', () => {
    const text = formatExecCredential({
      apiVersion: 'client.authentication.k8s.io/v1',
      token: 'clv_at_0123',
      expiresAt: new Date('2026-12-02T10:15:30.999Z'),
    });
    expect(text.endsWith('\n')).toBe(true);
    expect(JSON.parse(text)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {},
      status: { token: 'clv_at_0123', expirationTimestamp: '2026-12-02T10:15:30Z' },
    });
    const beta = JSON.parse(
      formatExecCredential({ apiVersion: 'client.authentication.k8s.io/v1beta1', token: 't' }),
    );
    expect(beta).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: {},
      status: { token: 't' },
    });
  });

  it('answers a request in its own apiVersion', () => {
    const info = parseExecInfo(withClusterV1beta1);
    expect(JSON.parse(formatExecCredential({ apiVersion: info.apiVersion, token: 't' })).apiVersion).toBe(
      'client.authentication.k8s.io/v1beta1',
    );
  });

  it('refuses an empty token and an invalid date', () => {
    expect(() => formatExecCredential({ apiVersion: 'client.authentication.k8s.io/v1', token: '' })).toThrow(
      expect.objectContaining({ code: 'invalid_value' }),
    );
    expect(() => rfc3339(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('writes RFC 3339 in UTC, rounded down to the second', () => {
    expect(rfc3339(new Date('2026-01-02T03:04:05.678+02:00'))).toBe('2026-01-02T01:04:05Z');
    expect(rfc3339(new Date(0))).toBe('1970-01-01T00:00:00Z');
  });
});
