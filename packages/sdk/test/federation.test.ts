/**
 * CI and Kubernetes workload tokens exchanged (RFC 8693) through a federation on a real server. A local
 * OIDC issuer signs the workload tokens and answers the platforms' token requests in their shapes:
 * GitHub Actions (GET with the request token, `{value}`), Azure Pipelines (POST, `{oidcToken}`); GitLab,
 * CircleCI and Kubernetes hand the token over in a variable or a file; Buildkite through its agent.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { ClavisError, createClient, detectContext } from '@clavis/sdk';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestServer, type TestServer } from '../../../test/support/listening_server.js';
import { type Scratch, scratch } from './support/env.js';

const SUBJECT = 'repo:acme/app:ref:refs/heads/main';

describe('workload identity federation', () => {
  let server: TestServer;
  let s: Scratch;
  let oidc: Server;
  let oidcUrl: string;
  let sign: (audience: string) => Promise<string>;
  let serviceId: string;
  const seen: Array<{ method: string; url: string; authorization: string | undefined }> = [];

  beforeAll(async () => {
    server = await startTestServer();
    s = await scratch();
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const port = await freePort();
    oidcUrl = `http://127.0.0.1:${port}`;
    let n = 0;
    sign = (audience) =>
      new SignJWT({ repository: 'acme/app', ref: 'refs/heads/main', run_id: '42' })
        .setProtectedHeader({ alg: 'ES256', kid: 'ci-1', typ: 'JWT' })
        .setIssuer(oidcUrl)
        .setSubject(SUBJECT)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(`run-${++n}-${Date.now()}`)
        .sign(privateKey);
    oidc = createServer(async (req: IncomingMessage, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      const url = new URL(req.url ?? '/', oidcUrl);
      if (url.pathname === '/github' && req.headers.authorization === 'Bearer gh-request-token') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ value: await sign(url.searchParams.get('audience') ?? '') }));
      } else if (
        url.pathname === '/azure' &&
        req.method === 'POST' &&
        req.headers.authorization === 'Bearer azure-token'
      ) {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ oidcToken: await sign(server.issuer) }));
      } else {
        res.statusCode = 403;
        res.end('{}');
      }
    });
    await new Promise<void>((resolve) => oidc.listen(port, '127.0.0.1', resolve));
    serviceId = (await server.createClient({ name: 'deployer', scopes: ['deploy'] })).clientId;
    await server.createFederation({
      clientId: serviceId,
      issuer: oidcUrl,
      audience: server.issuer,
      conditions: [{ claim: 'sub', pattern: SUBJECT }],
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'ci-1', alg: 'ES256', use: 'sig' }] },
    });
  });

  afterAll(async () => {
    await new Promise((resolve) => oidc?.close(resolve));
    await server?.close();
    await s?.cleanup();
  });

  const client = (env: Record<string, string>) => {
    const full = { ...s.env, ...env };
    return createClient({
      issuer: server.issuer,
      clientId: 'clavis-cli',
      env: full,
      context: detectContext(full, { stdinIsTTY: false, stderrIsTTY: false, fileExists: () => true }),
      keychain: null,
    });
  };

  it('GitHub Actions: asks the ID-token URL for the issuer audience and exchanges the token', async () => {
    seen.length = 0;
    const token = await client({
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: `${oidcUrl}/github?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'gh-request-token',
    }).getToken();
    expect(token).toMatchObject({
      source: 'federation',
      store: 'none',
      scopes: ['deploy'],
      principal: { sub: serviceId },
    });
    expect(seen).toHaveLength(1);
    const asked = new URL(seen[0]?.url ?? '', oidcUrl);
    expect(asked.searchParams.get('audience')).toBe(server.issuer);
    expect(asked.searchParams.get('api-version')).toBe('2.0');
    expect(seen[0]?.authorization).toBe('Bearer gh-request-token');
  });

  it('GitHub Actions with CLAVIS_AUDIENCE asks for that audience (which this federation refuses)', async () => {
    seen.length = 0;
    const err = await client({
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: `${oidcUrl}/github`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'gh-request-token',
      CLAVIS_AUDIENCE: 'https://elsewhere.example.com',
    })
      .getToken()
      .catch((e: unknown) => e);
    expect(new URL(seen[0]?.url ?? '', oidcUrl).searchParams.get('audience')).toBe(
      'https://elsewhere.example.com',
    );
    expect(err).toMatchObject({ code: 'invalid_request' });
  });

  it('GitHub Actions without `id-token: write` says so', async () => {
    const err = await client({ GITHUB_ACTIONS: 'true' })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClavisError);
    expect(err).toMatchObject({ code: 'federation_unavailable' });
    expect((err as Error).message).toContain('id-token: write');
  });

  it('GitLab CI: the id_tokens variable (default CLAVIS_ID_TOKEN), or a clear error without it', async () => {
    const token = await client({ GITLAB_CI: 'true', CLAVIS_ID_TOKEN: await sign(server.issuer) }).getToken();
    expect(token).toMatchObject({ source: 'federation', principal: { sub: serviceId } });
    const err = await client({ GITLAB_CI: 'true' })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'federation_unavailable' });
    expect((err as Error).message).toContain('id_tokens');
  });

  it('CLAVIS_CLIENT_ID is sent along and must name the principal the federation maps to', async () => {
    const named = await client({
      GITLAB_CI: 'true',
      CLAVIS_ID_TOKEN: await sign(server.issuer),
      CLAVIS_CLIENT_ID: serviceId,
    }).getToken();
    expect(named).toMatchObject({ source: 'federation', principal: { sub: serviceId } });
    const other = (await server.createClient({ name: 'someone else' })).clientId;
    const err = await client({
      GITLAB_CI: 'true',
      CLAVIS_ID_TOKEN: await sign(server.issuer),
      CLAVIS_CLIENT_ID: other,
    })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'invalid_request', description: expect.stringContaining('client_id') });
  });

  it('CircleCI: CIRCLE_OIDC_TOKEN_V2, else CIRCLE_OIDC_TOKEN', async () => {
    const v2 = await client({
      CIRCLECI: 'true',
      CIRCLE_OIDC_TOKEN_V2: await sign(server.issuer),
      CIRCLE_OIDC_TOKEN: 'x',
    }).getToken();
    expect(v2.source).toBe('federation');
    const v1 = await client({ CIRCLECI: 'true', CIRCLE_OIDC_TOKEN: await sign(server.issuer) }).getToken();
    expect(v1.source).toBe('federation');
  });

  it('Azure Pipelines: POSTs to SYSTEM_OIDCREQUESTURI with SYSTEM_ACCESSTOKEN', async () => {
    seen.length = 0;
    const token = await client({
      TF_BUILD: 'True',
      SYSTEM_OIDCREQUESTURI: `${oidcUrl}/azure`,
      SYSTEM_ACCESSTOKEN: 'azure-token',
    }).getToken();
    expect(token.source).toBe('federation');
    expect(seen[0]?.method).toBe('POST');
    expect(new URL(seen[0]?.url ?? '', oidcUrl).searchParams.get('api-version')).toBe('7.1');
  });

  it('Buildkite: `buildkite-agent oidc request-token --audience AUD`, run without a shell', async () => {
    const bin = join(s.dir, 'bin');
    await mkdir(bin, { recursive: true });
    const agent = join(bin, 'buildkite-agent');
    await writeFile(
      agent,
      `#!/usr/bin/env node
const args = process.argv.slice(2);
if (args.join(' ') !== 'oidc request-token --audience ${server.issuer}') process.exit(9);
process.stdout.write(process.env.FAKE_BUILDKITE_TOKEN + '\\n');
`,
    );
    await chmod(agent, 0o755);
    const token = await client({
      BUILDKITE: 'true',
      PATH: `${bin}:${process.env.PATH}`,
      FAKE_BUILDKITE_TOKEN: await sign(server.issuer),
    }).getToken();
    expect(token).toMatchObject({ source: 'federation', principal: { sub: serviceId } });
  });

  it('Kubernetes: the projected token file named by CLAVIS_K8S_TOKEN_FILE', async () => {
    const file = join(s.dir, 'k8s-token');
    await writeFile(file, `${await sign(server.issuer)}\n`);
    const env = { ...s.env, KUBERNETES_SERVICE_HOST: '10.0.0.1', CLAVIS_K8S_TOKEN_FILE: file };
    expect(detectContext(env, { stdinIsTTY: false, stderrIsTTY: false }).kubernetes).toBe(true);
    const token = await createClient({
      issuer: server.issuer,
      clientId: 'clavis-cli',
      env,
      keychain: null,
    }).getToken();
    expect(token).toMatchObject({ source: 'federation', principal: { sub: serviceId } });
  });

  it('a workload token signed by a key the federation does not hold is refused', async () => {
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'ci-1' })
      .setIssuer(oidcUrl)
      .setSubject('repo:evil/app:ref:refs/heads/main')
      .setAudience(server.issuer)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign((await generateKeyPair('ES256')).privateKey);
    const err = await client({ GITLAB_CI: 'true', CLAVIS_ID_TOKEN: forged })
      .getToken()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'invalid_request' });
  });
});
