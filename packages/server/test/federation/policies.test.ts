/**
 * Several policies for one issuer, the other platforms' token shapes (GitLab CI, Kubernetes), and the
 * RFC 7523 JWT bearer grant over the same verification — on SQLite and PostgreSQL.
 */
import type { Client } from '@clavis/server';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { expectOAuthError } from '../../../../test/support/oauth_answers.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { type FakeIssuer, startFakeIssuer } from './fake_issuer.js';
import { auditRows, createFederation, exchange, jwtBearer, lastDenial } from './support.js';

describe.each(dialects)('federation policies (%s)', (dialect) => {
  let server: TestServer;
  let a: Client;
  let b: Client;
  const issuers: FakeIssuer[] = [];

  beforeAll(async () => {
    server = await createTestServer(dialect);
    a = (await server.createClient({ name: 'a', scopes: ['read', 'write', 'deploy'] })).client;
    b = (await server.createClient({ name: 'b', scopes: ['read'] })).client;
  });
  afterAll(async () => {
    await Promise.all(issuers.map((i) => i.close()));
    await server?.close();
  });

  const now = () => server.clock.now;
  async function issuer(options: { alg?: 'RS256' | 'ES256' } = {}) {
    const i = await startFakeIssuer(options);
    issuers.push(i);
    return i;
  }

  describe('several matching policies', () => {
    it('matching policies of different principals: 400 invalid_grant, audited with both ids', async () => {
      const gh = await issuer();
      const fa = await createFederation(server, {
        clientId: a.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: ISSUER,
        conditions: [{ claim: 'repository', pattern: 'acme/*' }],
        allowOrgWide: true,
      });
      const fb = await createFederation(server, {
        clientId: b.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: ISSUER,
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      });
      const token = await gh.mint(gh.github(now()));
      expectOAuthError(
        await exchange(server, token),
        400,
        'invalid_grant',
        'subject_token refused: the token matches federations of different principals',
      );
      const denial = await lastDenial(server, token);
      expect(denial.detail.reason).toBe('ambiguous_policy');
      expect([...(denial.detail.federation_ids as string[])].sort()).toEqual([fa.id, fb.id].sort());
      // A repository only the first policy matches is fine.
      const other = await gh.mint(gh.github(now(), { repository: 'acme/tools' }));
      const res = await exchange(server, other);
      expect(res.statusCode).toBe(200);
      expect(decodeJwt(res.json().access_token).sub).toBe(a.id);
    });

    it('matching policies of one principal: the narrowest scope and lifetime of them all', async () => {
      const gh = await issuer();
      await createFederation(server, {
        clientId: a.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: ISSUER,
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
        scopes: ['read', 'deploy'],
        maxTtlSeconds: 300,
      });
      await createFederation(server, {
        clientId: a.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: ISSUER,
        conditions: [
          { claim: 'repository', pattern: 'acme/app' },
          { claim: 'ref', pattern: 'refs/heads/*' },
        ],
        scopes: ['read', 'write'],
      });
      const res = await exchange(server, await gh.mint(gh.github(now())));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ scope: 'read', expires_in: 300 });
      const issued = (await auditRows(server, 'token.issue')).at(-1);
      expect(issued?.detail.federation_ids).toHaveLength(2);
      expect(
        (await exchange(server, await gh.mint(gh.github(now())), { scope: 'deploy' })).json().error,
      ).toBe('invalid_scope');
    });

    it('a policy whose audience the token lacks is not considered', async () => {
      const gh = await issuer();
      await createFederation(server, {
        clientId: b.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: 'https://other-audience.test',
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      });
      await createFederation(server, {
        clientId: a.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: ISSUER,
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      });
      const res = await exchange(server, await gh.mint(gh.github(now())));
      expect(res.statusCode).toBe(200);
      expect(decodeJwt(res.json().access_token).sub).toBe(a.id);
    });

    it('a deleted policy stops at once', async () => {
      const gh = await issuer();
      const { adminFederations } = await import('@clavis/server');
      const f = await createFederation(server, {
        clientId: a.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: ISSUER,
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      });
      expect((await exchange(server, await gh.mint(gh.github(now())))).statusCode).toBe(200);
      await adminFederations.deleteFederation(
        {
          db: server.services.db,
          audit: server.services.audit,
          clock: server.clock.read,
          maxAccessTokenTtlSeconds: 3600,
        },
        f.id,
        { type: 'admin', id: 'test' },
      );
      expectOAuthError(
        await exchange(server, await gh.mint(gh.github(now()))),
        400,
        'invalid_request',
        'subject_token refused: the token issuer is not trusted',
      );
      expect((await auditRows(server, 'federation.delete')).at(-1)?.detail).toMatchObject({ id: f.id });
    });
  });

  describe('two instances on one database', () => {
    it('R-04: the same workload token at two instances at once is exchanged exactly once', async () => {
      const gh = await issuer();
      await createFederation(server, {
        clientId: a.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: ISSUER,
        conditions: [{ claim: 'repository', pattern: 'acme/raced' }],
      });
      const second = await createTestServer(dialect, { database: server.database, clock: server.clock });
      try {
        const token = await gh.mint(gh.github(now(), { repository: 'acme/raced' }));
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => exchange(i % 2 ? second : server, token)),
        );
        expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
        for (const r of results.filter((x) => x.statusCode !== 200)) {
          expect(r.json()).toEqual({
            error: 'invalid_request',
            error_description: 'subject_token refused: the token has already been used',
          });
        }
      } finally {
        await second.close();
      }
    });
  });

  it("a policy is considered only for its preset's algorithms", async () => {
    // One ES256 issuer; a GitHub-preset policy (RS256 only) for a, a preset-less exact-sub policy for b.
    const es = await issuer({ alg: 'ES256' });
    await createFederation(server, {
      clientId: a.id,
      preset: 'github-actions',
      issuer: es.issuer,
      audience: ISSUER,
      conditions: [{ claim: 'repository', pattern: 'acme/app' }],
    });
    await createFederation(server, {
      clientId: b.id,
      issuer: es.issuer,
      audience: ISSUER,
      conditions: [{ claim: 'sub', pattern: 'repo:acme/app:ref:refs/heads/main' }],
    });
    const res = await exchange(server, await es.mint(es.github(now())));
    expect(res.statusCode).toBe(200);
    expect(decodeJwt(res.json().access_token).sub).toBe(b.id);
  });

  describe('other platforms', () => {
    it('GitLab CI: project_path policy; pipeline and job ids in the token', async () => {
      const gl = await issuer();
      const f = await createFederation(server, {
        clientId: a.id,
        preset: 'gitlab-ci',
        issuer: gl.issuer,
        audience: ISSUER,
        conditions: [
          { claim: 'project_path', pattern: 'acme/platform/*' },
          { claim: 'ref_protected', pattern: 'true' },
        ],
        allowOrgWide: true,
      });
      const res = await exchange(server, await gl.mint(gl.gitlab(now())));
      expect(res.statusCode).toBe(200);
      expect(decodeJwt(res.json().access_token).federation).toEqual({
        id: f.id,
        iss: gl.issuer,
        sub: 'project_path:acme/platform/app:ref_type:branch:ref:main',
        pipeline_id: '1212',
        job_id: '3434',
        project_path: 'acme/platform/app',
        ref: 'main',
      });
      const unprotected = await gl.mint(gl.gitlab(now(), { ref_protected: 'false' }));
      expect((await exchange(server, unprotected)).json().error).toBe('invalid_grant');
    });

    it('Kubernetes (ES256): a projected token for one service account; nested claims by path', async () => {
      const k8s = await issuer({ alg: 'ES256' });
      const f = await createFederation(server, {
        clientId: a.id,
        preset: 'kubernetes',
        issuer: k8s.issuer,
        audience: ISSUER,
        conditions: [
          { claim: 'sub', pattern: 'system:serviceaccount:prod:deployer' },
          { claim: 'kubernetes.io/namespace', pattern: 'prod' },
        ],
      });
      const res = await exchange(server, await k8s.mint(k8s.kubernetes(now())));
      expect(res.statusCode).toBe(200);
      expect(decodeJwt(res.json().access_token).federation).toEqual({
        id: f.id,
        iss: k8s.issuer,
        sub: 'system:serviceaccount:prod:deployer',
        namespace: 'prod',
        serviceaccount: 'deployer',
        pod: 'deployer-7d9f-abcde',
      });
      const otherSa = await k8s.mint(k8s.kubernetes(now(), { sub: 'system:serviceaccount:prod:intruder' }));
      expect((await exchange(server, otherSa)).json().error).toBe('invalid_grant');
      // TE-05: an expired projected token.
      const t = Math.floor(now() / 1000);
      const expired = await k8s.mint(k8s.kubernetes(now(), { iat: t - 7200, nbf: t - 7200, exp: t - 3600 }));
      expect((await exchange(server, expired)).json().error).toBe('invalid_request');
      // A Kubernetes policy refuses any wildcard in sub.
      await expect(
        createFederation(server, {
          clientId: a.id,
          preset: 'kubernetes',
          issuer: k8s.issuer,
          audience: ISSUER,
          conditions: [{ claim: 'sub', pattern: 'system:serviceaccount:prod:*' }],
        }),
      ).rejects.toMatchObject({ code: 'invalid_input' });
    });

    it('a preset forbids algorithms its platform does not use (GitHub signs RS256 only)', async () => {
      const gh = await issuer({ alg: 'ES256' });
      await createFederation(server, {
        clientId: a.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: ISSUER,
        conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      });
      const token = await gh.mint(gh.github(now()));
      expect((await exchange(server, token)).json().error).toBe('invalid_request');
      expect((await lastDenial(server, token)).detail.reason).toBe('algorithm_not_allowed');
      expect(gh.totalRequests()).toBe(0);
    });
  });

  describe('RFC 7523 jwt-bearer grant', () => {
    let gh: FakeIssuer;
    beforeAll(async () => {
      gh = await issuer();
      await createFederation(server, {
        clientId: b.id,
        preset: 'github-actions',
        issuer: gh.issuer,
        audience: ISSUER,
        conditions: [{ claim: 'repository', pattern: 'acme/bearer' }],
      });
    });

    it('issues the principal a token; no issued_token_type, no refresh token', async () => {
      const res = await jwtBearer(server, await gh.mint(gh.github(now(), { repository: 'acme/bearer' })));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 600,
        scope: 'read',
      });
      const claims = decodeJwt(res.json().access_token);
      expect(claims).toMatchObject({ sub: b.id, client_id: b.id, federation: { repository: 'acme/bearer' } });
      const issued = (await auditRows(server, 'token.issue')).at(-1);
      expect(issued?.detail.grant_type).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    });

    it('every assertion failure is invalid_grant (§3.1): foreign issuer, wrong aud, expired, replay, bad signature', async () => {
      const stranger = await issuer();
      const t = Math.floor(now() / 1000);
      const cases = [
        await stranger.mint(stranger.github(now(), { repository: 'acme/bearer' })),
        await gh.mint(gh.github(now(), { repository: 'acme/bearer', aud: 'https://elsewhere.test' })),
        await gh.mint(
          gh.github(now(), { repository: 'acme/bearer', iat: t - 900, nbf: t - 900, exp: t - 300 }),
        ),
        await gh.mint(gh.github(now(), { repository: 'acme/bearer' }), { key: await gh.unpublishedKey() }),
        'not-a-jwt',
      ];
      for (const assertion of cases) {
        const res = await jwtBearer(server, assertion);
        expect(res.statusCode).toBe(400);
        expect(res.json().error).toBe('invalid_grant');
      }
      expect(stranger.totalRequests()).toBe(0);
      const once = await gh.mint(gh.github(now(), { repository: 'acme/bearer' }));
      expect((await jwtBearer(server, once)).statusCode).toBe(200);
      expectOAuthError(
        await jwtBearer(server, once),
        400,
        'invalid_grant',
        'assertion refused: the token has already been used',
      );
      // The same token cannot be spent again through token exchange either.
      expect((await exchange(server, once)).json().error).toBe('invalid_request');
    });

    it('a missing, empty or oversized assertion is invalid_request', async () => {
      expectOAuthError(
        await post(server, TOKEN_PATH, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' }),
        400,
        'invalid_request',
        "missing parameter 'assertion'",
      );
      expectOAuthError(
        await jwtBearer(server, 'x'.repeat(17 * 1024)),
        400,
        'invalid_request',
        'assertion is too large',
      );
    });
  });
});
