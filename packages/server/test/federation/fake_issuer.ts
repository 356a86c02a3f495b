/**
 * A real workload-token issuer for the federation tests: an HTTP server on 127.0.0.1 that publishes
 * OIDC discovery and a JWKS, and mints tokens shaped like GitHub Actions', GitLab CI's and Kubernetes'
 * with jose. It rotates its key on demand and counts every request, so a test can prove that a refused
 * token caused no outbound request at all (TE-01, TE-04).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type JWK, type JWTPayload, SignJWT } from 'jose';
import { type AssertionAlg, type ClientKey, newClientKey } from '../../../../test/support/jwt.js';

export interface MintOptions {
  /** Protected-header parameters to add or override (`jku`, `kid`, `typ` …). */
  header?: Record<string, unknown>;
  /** Sign with this key instead of the published one. */
  key?: ClientKey;
}

export interface FakeIssuer {
  issuer: string;
  /** Requests received, by path. */
  requests: Map<string, number>;
  totalRequests(): number;
  /** The key currently signing (and published). */
  current(): ClientKey;
  /** A fresh key that is NOT published (a wrong key). */
  unpublishedKey(alg?: AssertionAlg): Promise<ClientKey>;
  /** Generates a new key, publishes it, and signs with it from now on; `keepOld` keeps the old one published. */
  rotate(options?: { keepOld?: boolean }): Promise<ClientKey>;
  /** The JWKS as published right now. */
  jwks(): { keys: JWK[] };
  /** Replaces what a path answers (status and body), for fault tests. */
  override(
    path: string,
    answer: { status: number; body: string; headers?: Record<string, string> } | null,
  ): void;
  mint(claims: JWTPayload & Record<string, unknown>, options?: MintOptions): Promise<string>;
  /** Claims of a GitHub Actions job token for `repository` (default acme/app), at `nowMs`. */
  github(nowMs: number, overrides?: Record<string, unknown>): JWTPayload & Record<string, unknown>;
  gitlab(nowMs: number, overrides?: Record<string, unknown>): JWTPayload & Record<string, unknown>;
  kubernetes(nowMs: number, overrides?: Record<string, unknown>): JWTPayload & Record<string, unknown>;
  close(): Promise<void>;
}

/** A fresh key whose kid says its algorithm. */
function newKey(alg: AssertionAlg): Promise<ClientKey> {
  return newClientKey(alg, `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`);
}

export async function startFakeIssuer(
  options: { alg?: AssertionAlg; path?: string } = {},
): Promise<FakeIssuer> {
  const alg = options.alg ?? 'RS256';
  let signing = await newKey(alg);
  let published: ClientKey[] = [signing];
  const requests = new Map<string, number>();
  const overrides = new Map<string, { status: number; body: string; headers?: Record<string, string> }>();
  let issuer = '';

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const override = overrides.get(path);
    if (override) {
      res.writeHead(override.status, { 'content-type': 'application/json', ...override.headers });
      res.end(override.body);
      return;
    }
    if (path === `${options.path ?? ''}/.well-known/openid-configuration`) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          issuer,
          jwks_uri: `${issuer}/.well-known/jwks`,
          subject_types_supported: ['public'],
          response_types_supported: ['id_token'],
          id_token_signing_alg_values_supported: [alg],
        }),
      );
      return;
    }
    if (path === `${options.path ?? ''}/.well-known/jwks`) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  issuer = `http://127.0.0.1:${port}${options.path ?? ''}`;

  const times = (nowMs: number, lifetime = 300) => {
    const iat = Math.floor(nowMs / 1000);
    return { iat, nbf: iat - 5, exp: iat + lifetime };
  };

  return {
    issuer,
    requests,
    totalRequests: () => [...requests.values()].reduce((a, b) => a + b, 0),
    current: () => signing,
    unpublishedKey: (a = alg) => newKey(a),
    async rotate({ keepOld = false } = {}) {
      signing = await newKey(alg);
      published = keepOld ? [...published, signing] : [signing];
      return signing;
    },
    jwks: () => ({ keys: published.map((k) => k.publicJwk) }),
    override(path, answer) {
      if (answer) overrides.set(path, answer);
      else overrides.delete(path);
    },
    async mint(claims, { header = {}, key = signing } = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header } as { alg: string })
        .sign(key.privateKey);
    },
    github(nowMs, overrides = {}) {
      const repository = (overrides.repository as string | undefined) ?? 'acme/app';
      const ref = (overrides.ref as string | undefined) ?? 'refs/heads/main';
      return {
        jti: randomUUID(),
        sub: `repo:${repository}:ref:${ref}`,
        aud: 'https://as.clavis.test',
        ref,
        sha: 'a'.repeat(40),
        repository,
        repository_owner: repository.split('/')[0],
        repository_owner_id: '1001',
        run_id: '9876543210',
        run_number: '42',
        run_attempt: '1',
        repository_visibility: 'private',
        repository_id: '2002',
        actor: 'octocat',
        workflow: 'deploy',
        head_ref: '',
        base_ref: '',
        event_name: 'push',
        ref_type: 'branch',
        job_workflow_ref: `${repository}/.github/workflows/deploy.yml@${ref}`,
        runner_environment: 'github-hosted',
        iss: issuer,
        ...times(nowMs),
        ...overrides,
      };
    },
    gitlab(nowMs, overrides = {}) {
      const projectPath = (overrides.project_path as string | undefined) ?? 'acme/platform/app';
      return {
        jti: randomUUID(),
        sub: `project_path:${projectPath}:ref_type:branch:ref:main`,
        aud: 'https://as.clavis.test',
        namespace_id: '72',
        namespace_path: projectPath.split('/').slice(0, -1).join('/'),
        project_id: '20',
        project_path: projectPath,
        user_login: 'deployer',
        pipeline_id: '1212',
        pipeline_source: 'push',
        job_id: '3434',
        ref: 'main',
        ref_type: 'branch',
        ref_protected: 'true',
        iss: issuer,
        ...times(nowMs),
        ...overrides,
      };
    },
    kubernetes(nowMs, overrides = {}) {
      return {
        iss: issuer,
        sub: 'system:serviceaccount:prod:deployer',
        aud: ['https://as.clavis.test'],
        jti: randomUUID(),
        'kubernetes.io': {
          namespace: 'prod',
          pod: { name: 'deployer-7d9f-abcde', uid: randomUUID() },
          serviceaccount: { name: 'deployer', uid: randomUUID() },
        },
        ...times(nowMs, 3600),
        ...overrides,
      };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
