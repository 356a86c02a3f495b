/**
 * A fake Kubernetes API server for kubectl in tests, and a kubeconfig that reaches it through an exec
 * credential plugin. client-go runs exec plugins only for https clusters, so the server gets a
 * certificate made with openssl; it answers `kubectl version` when the bearer token is the expected one
 * and records every Authorization header it was sent.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface FakeKubeApi {
  /** Every Authorization header the server received, in order. */
  seen: (string | undefined)[];
  /** A kubeconfig (in `dir`) whose only context uses `exec` as its user's credential plugin. */
  kubeconfig: string;
  close(): Promise<void>;
}

/** Starts the server on loopback; `token()` is the bearer token it accepts, read at each request. */
export async function startFakeKubeApi(
  dir: string,
  options: { token: () => string; exec: Record<string, unknown> },
): Promise<FakeKubeApi> {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const seen: (string | undefined)[] = [];
  const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (request, response) => {
    seen.push(request.headers.authorization);
    const ok = request.headers.authorization === `Bearer ${options.token()}`;
    response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    response.end(ok ? '{"major":"1","minor":"32","gitVersion":"v1.32.0-fake"}' : '{}');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'c',
          cluster: {
            server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
            'certificate-authority-data': readFileSync(cert).toString('base64'),
          },
        },
      ],
      users: [{ name: 'u', user: { exec: options.exec } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return {
    seen,
    kubeconfig,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
