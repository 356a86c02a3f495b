/**
 * Token exchange (RFC 8693) of workload tokens from a real issuer on loopback: the TE-* cases of
 * docs/security-cases.md, each by name, and the bad workload tokens — wrong audience, wrong repository,
 * expired, not yet valid, wrong key, `alg: none`, HS256 with the public key, attacker `jku`, replayed,
 * oversized — on SQLite and PostgreSQL.
 */
import { createHmac } from 'node:crypto';
import type { Client, Federation } from '@clavis/server';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { b64url } from '../../../../test/support/jwt.js';
import { basic, form, post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { expectOAuthError } from '../../../../test/support/oauth_answers.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { expectClean } from '../token_endpoint/clean.js';
import { type FakeIssuer, startFakeIssuer } from './fake_issuer.js';
import {
  ACCESS_TOKEN_TYPE,
  auditRows,
  createFederation,
  exchange,
  ID_TOKEN_TYPE,
  lastDenial,
} from './support.js';

describe.each(dialects)('federated token exchange (%s)', (dialect) => {
  let server: TestServer;
  let github: FakeIssuer;
  /** An issuer no federation names. */
  let stranger: FakeIssuer;
  /** Where an attacker's `jku` points. */
  let attacker: FakeIssuer;
  let principal: Client;
  let principalSecret: string;
  let federation: Federation;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    [github, stranger, attacker] = await Promise.all([
      startFakeIssuer(),
      startFakeIssuer(),
      startFakeIssuer(),
    ]);
    const created = await server.createClient({
      name: 'deployer',
      grants: ['client_credentials', 'token-exchange'],
      scopes: ['read', 'write', 'deploy'],
      audiences: ['https://api.acme.test', 'https://registry.acme.test'],
    });
    principal = created.client;
    principalSecret = created.secret ?? '';
    federation = await createFederation(server, {
      clientId: principal.id,
      preset: 'github-actions',
      issuer: github.issuer,
      audience: ISSUER,
      conditions: [
        { claim: 'repository', pattern: 'acme/app' },
        { claim: 'ref', pattern: 'refs/heads/main' },
      ],
      scopes: ['read', 'deploy'],
    });
  });
  afterAll(async () => {
    await Promise.all([github?.close(), stranger?.close(), attacker?.close()]);
    await server?.close();
  });

  const now = () => server.clock.now;

  describe('200: a GitHub Actions job gets a token of its service principal', () => {
    it('the token names the principal and carries where it came from; no refresh token', async () => {
      const token = await github.mint(github.github(now()));
      const res = await exchange(server, token);
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json();
      expect(body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 600,
        scope: 'read deploy',
        issued_token_type: ACCESS_TOKEN_TYPE,
      });
      const claims = decodeJwt(body.access_token);
      expect(claims).toMatchObject({
        iss: ISSUER,
        sub: principal.id,
        client_id: principal.id,
        aud: 'https://api.acme.test',
        scope: 'read deploy',
        federation: {
          id: federation.id,
          iss: github.issuer,
          sub: 'repo:acme/app:ref:refs/heads/main',
          repository: 'acme/app',
          ref: 'refs/heads/main',
          run_id: '9876543210',
          run_attempt: '1',
          workflow: 'deploy',
        },
      });
      expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);

      const issued = (await auditRows(server, 'token.issue')).at(-1);
      expect(issued?.client_id).toBe(principal.id);
      expect(issued?.detail).toMatchObject({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        jti: claims.jti,
        sub: principal.id,
        federation: { id: federation.id, run_id: '9876543210', repository: 'acme/app' },
      });
      expect(issued?.raw).not.toContain(token.split('.')[2]);
    });

    it('subject_token_type id_token is accepted as well', async () => {
      const token = await github.mint(github.github(now()));
      const res = await exchange(server, token, { subject_token_type: ID_TOKEN_TYPE });
      expect(res.statusCode).toBe(200);
    });

    it('a client_id naming the principal is accepted; one naming another client is invalid_request', async () => {
      const ok = await exchange(server, await github.mint(github.github(now())), { client_id: principal.id });
      expect(ok.statusCode).toBe(200);
      const other = await server.createClient({ name: 'other' });
      const res = await exchange(server, await github.mint(github.github(now())), {
        client_id: other.client.id,
      });
      expectOAuthError(
        res,
        400,
        'invalid_request',
        'client_id does not name the principal the subject token maps to',
      );
    });
  });

  describe('TE-01: a subject_token from an issuer not on the allowlist', () => {
    it('is 400 invalid_request, and the issuer is never contacted', async () => {
      const token = await stranger.mint(stranger.github(now()));
      const res = expectClean(await exchange(server, token));
      expectOAuthError(res, 400, 'invalid_request', 'subject_token refused: the token issuer is not trusted');
      expect(stranger.totalRequests()).toBe(0);
      const denial = await lastDenial(server, token);
      expect(denial.detail).toMatchObject({ reason: 'unknown_issuer', iss: stranger.issuer });
    });

    it('an issuer differing only by a trailing slash or case is not the same issuer', async () => {
      for (const iss of [`${github.issuer}/`, github.issuer.toUpperCase()]) {
        const token = await github.mint(github.github(now(), { iss }));
        expectOAuthError(
          await exchange(server, token),
          400,
          'invalid_request',
          'subject_token refused: the token issuer is not trusted',
        );
      }
    });
  });

  describe('TE-02: a GitHub OIDC token with a foreign aud', () => {
    it.each([
      ['another audience', 'https://sts.amazonaws.com'],
      ['a list without ours', ['https://sts.amazonaws.com', 'https://as.clavis.test/']],
      ['no aud at all', undefined],
    ])('%s is 400 invalid_request', async (_label, aud) => {
      const claims = github.github(now(), { aud });
      if (aud === undefined) delete claims.aud;
      const token = await github.mint(claims);
      const res = expectClean(await exchange(server, token));
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_request');
      expect((await lastDenial(server, token)).detail.reason).toBe('wrong_audience');
    });

    it('a list that includes ours is accepted', async () => {
      const token = await github.mint(github.github(now(), { aud: ['https://sts.amazonaws.com', ISSUER] }));
      expect((await exchange(server, token)).statusCode).toBe(200);
    });
  });

  describe('TE-03: sub repo:acme/other against a policy', () => {
    it('a token of another repository matches no policy: 400 invalid_grant', async () => {
      const token = await github.mint(github.github(now(), { repository: 'acme/other' }));
      const res = expectClean(await exchange(server, token));
      expectOAuthError(
        res,
        400,
        'invalid_grant',
        'subject_token refused: no federation policy matches the token',
      );
      const denial = await lastDenial(server, token);
      expect(denial.detail).toMatchObject({
        reason: 'no_matching_policy',
        iss: github.issuer,
        sub: 'repo:acme/other:ref:refs/heads/main',
        federation_ids: [federation.id],
        // The failing condition by claim name, never the claim's value.
        failed_conditions: [`${federation.id}: claim repository`],
      });
    });

    it('another branch of the right repository matches no policy', async () => {
      const token = await github.mint(github.github(now(), { ref: 'refs/heads/feature' }));
      expectOAuthError(
        await exchange(server, token),
        400,
        'invalid_grant',
        'subject_token refused: no federation policy matches the token',
      );
    });

    it.each([['repo:acme/*'], ['repo:*'], ['*'], ['repo:acme/app*']])(
      'a policy with sub=%s is refused at creation',
      async (pattern) => {
        await expect(
          createFederation(server, {
            clientId: principal.id,
            preset: 'github-actions',
            issuer: github.issuer,
            audience: ISSUER,
            conditions: [{ claim: 'sub', pattern }],
          }),
        ).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/sub pattern/) });
      },
    );

    it('a policy that trusts a whole organisation without a sub or repository condition is refused', async () => {
      for (const conditions of [
        [{ claim: 'repository_owner', pattern: 'acme' }],
        [
          { claim: 'repository_owner', pattern: 'acme' },
          { claim: 'ref', pattern: 'refs/heads/main' },
        ],
        [{ claim: 'repository', pattern: '*' }],
        [{ claim: 'repository', pattern: 'acme*' }],
      ]) {
        await expect(
          createFederation(server, {
            clientId: principal.id,
            preset: 'github-actions',
            issuer: github.issuer,
            audience: ISSUER,
            conditions,
          }),
        ).rejects.toMatchObject({ code: 'invalid_input' });
      }
      const all = await server.services.db.selectFrom('federations').select('id').execute();
      expect(all.map((f) => f.id)).not.toContain(undefined);
      expect(
        (await auditRows(server, 'federation.create')).filter((r) => r.outcome === 'success').length,
      ).toBe(all.length);
    });
  });

  describe('TE-04: alg none, HS256 with the public key, attacker jku', () => {
    it('alg none is 400, and nothing is fetched', async () => {
      const before = github.totalRequests();
      const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(github.github(now()))}.`;
      const res = expectClean(await exchange(server, token));
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_request');
      expect(github.totalRequests()).toBe(before);
      expect((await lastDenial(server, token)).detail.reason).toBe('algorithm_not_allowed');
    });

    it('HS256 keyed with the issuer public key is 400, and nothing is fetched', async () => {
      const before = github.totalRequests();
      const publicJwk = JSON.stringify(github.current().publicJwk);
      const header = b64url({ alg: 'HS256', typ: 'JWT', kid: github.current().kid });
      const payload = b64url(github.github(now()));
      const mac = createHmac('sha256', publicJwk).update(`${header}.${payload}`).digest('base64url');
      const token = `${header}.${payload}.${mac}`;
      const res = expectClean(await exchange(server, token));
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_request');
      expect(github.totalRequests()).toBe(before);
    });

    it('a token signed by an attacker key with a jku pointing at the attacker is 400; the attacker is never contacted', async () => {
      const evil = await attacker.unpublishedKey();
      const token = await github.mint(github.github(now()), {
        key: evil,
        header: {
          kid: github.current().kid,
          jku: `${attacker.issuer}/.well-known/jwks`,
          x5u: `${attacker.issuer}/cert.pem`,
          jwk: evil.publicJwk,
        },
      });
      const res = expectClean(await exchange(server, token));
      expectOAuthError(
        res,
        400,
        'invalid_request',
        'subject_token refused: the token signature does not verify',
      );
      expect(attacker.totalRequests()).toBe(0);
      expect((await lastDenial(server, token)).detail.reason).toBe('bad_signature');
    });

    it('a token signed with a key the issuer does not publish (same kid) is 400', async () => {
      const wrong = await github.unpublishedKey();
      const token = await github.mint(github.github(now()), {
        key: wrong,
        header: { kid: github.current().kid },
      });
      expectOAuthError(
        await exchange(server, token),
        400,
        'invalid_request',
        'subject_token refused: the token signature does not verify',
      );
    });

    it('a tampered payload is 400', async () => {
      const token = await github.mint(github.github(now(), { repository: 'acme/other' }));
      const [h, , s] = token.split('.');
      const forged = `${h}.${b64url(github.github(now()))}.${s}`;
      expect((await exchange(server, forged)).json().error).toBe('invalid_request');
    });
  });

  describe('TE-05: Kubernetes legacy tokens and expired tokens', () => {
    it('a legacy Secret-based token (iss kubernetes/serviceaccount, no exp, no aud) is 400', async () => {
      const token = await github.mint({
        iss: 'kubernetes/serviceaccount',
        sub: 'system:serviceaccount:prod:deployer',
        'kubernetes.io/serviceaccount/namespace': 'prod',
        'kubernetes.io/serviceaccount/service-account.name': 'deployer',
      });
      const res = expectClean(await exchange(server, token));
      expect(res.json().error).toBe('invalid_request');
      expect((await lastDenial(server, token)).detail.reason).toBe('legacy_kubernetes_token');
    });

    it('a token of a trusted issuer without exp is 400', async () => {
      const claims = github.github(now());
      delete claims.exp;
      const token = await github.mint(claims);
      expect((await exchange(server, token)).json().error).toBe('invalid_request');
      expect((await lastDenial(server, token)).detail.reason).toBe('missing_exp');
    });

    it('an expired token is 400; one expired within the clock tolerance is accepted', async () => {
      const t = Math.floor(now() / 1000);
      const expired = await github.mint(github.github(now(), { iat: t - 400, nbf: t - 400, exp: t - 61 }));
      expectOAuthError(
        await exchange(server, expired),
        400,
        'invalid_request',
        'subject_token refused: the token has expired',
      );
      expect((await lastDenial(server, expired)).detail.reason).toBe('expired');
      const justExpired = await github.mint(
        github.github(now(), { iat: t - 400, nbf: t - 400, exp: t - 30 }),
      );
      expect((await exchange(server, justExpired)).statusCode).toBe(200);
    });
  });

  describe('not yet valid, issued in the future, too long-lived', () => {
    it('nbf beyond the tolerance is 400; within it, accepted', async () => {
      const t = Math.floor(now() / 1000);
      const early = await github.mint(github.github(now(), { nbf: t + 120 }));
      expectOAuthError(
        await exchange(server, early),
        400,
        'invalid_request',
        'subject_token refused: the token is not yet valid',
      );
      const slightly = await github.mint(github.github(now(), { nbf: t + 10, iat: t + 10 }));
      expect((await exchange(server, slightly)).statusCode).toBe(200);
    });

    it('iat beyond the tolerance is 400', async () => {
      const t = Math.floor(now() / 1000);
      const token = await github.mint(github.github(now(), { iat: t + 300, nbf: t - 5 }));
      expect((await exchange(server, token)).json().error).toBe('invalid_request');
      expect((await lastDenial(server, token)).detail.reason).toBe('issued_in_future');
    });

    it('an exp more than a day ahead is 400', async () => {
      const t = Math.floor(now() / 1000);
      const token = await github.mint(github.github(now(), { exp: t + 2 * 86_400 }));
      expect((await exchange(server, token)).json().error).toBe('invalid_request');
      expect((await lastDenial(server, token)).detail.reason).toBe('lifetime_too_long');
    });
  });

  describe('TE-06: audience/resource outside the policy', () => {
    it('is 400 invalid_target; an allowed one is used as aud', async () => {
      const outside = await github.mint(github.github(now()));
      expectOAuthError(
        await exchange(server, outside, { audience: 'https://evil.test' }),
        400,
        'invalid_target',
        'the requested audience is not allowed',
      );
      expect((await lastDenial(server, outside)).detail.reason).toBe('invalid_target');
      const viaResource = await github.mint(github.github(now()));
      expect((await exchange(server, viaResource, { resource: 'https://evil.test' })).json().error).toBe(
        'invalid_target',
      );
      const inside = await github.mint(github.github(now()));
      const res = await exchange(server, inside, { audience: 'https://registry.acme.test' });
      expect(res.statusCode).toBe(200);
      expect(decodeJwt(res.json().access_token).aud).toBe('https://registry.acme.test');
    });
  });

  describe('TE-07: scope wider than the policy ∩ the principal', () => {
    it('a scope the client has but the policy does not is 400 invalid_scope', async () => {
      const token = await github.mint(github.github(now()));
      expectOAuthError(
        await exchange(server, token, { scope: 'read write' }),
        400,
        'invalid_scope',
        'scope not allowed for this federation: write',
      );
    });

    it('a scope neither has is 400 invalid_scope; a narrower one is issued as asked', async () => {
      const token = await github.mint(github.github(now()));
      expect((await exchange(server, token, { scope: 'admin' })).json().error).toBe('invalid_scope');
      const narrow = await exchange(server, await github.mint(github.github(now())), { scope: 'deploy' });
      expect(narrow.statusCode).toBe(200);
      expect(narrow.json().scope).toBe('deploy');
      expect(decodeJwt(narrow.json().access_token).scope).toBe('deploy');
    });

    it('a refused request does not burn the token: it can be exchanged once it asks for less', async () => {
      const token = await github.mint(github.github(now()));
      expect((await exchange(server, token, { scope: 'write' })).json().error).toBe('invalid_scope');
      expect((await exchange(server, token, { scope: 'read' })).statusCode).toBe(200);
    });
  });

  describe('TE-08: actor_token pairing', () => {
    it('actor_token without its type, or a type without the token, is 400 invalid_request', async () => {
      const token = await github.mint(github.github(now()));
      expectOAuthError(
        await exchange(server, token, { actor_token: 'x' }),
        400,
        'invalid_request',
        'actor_token requires actor_token_type',
      );
      expectOAuthError(
        await exchange(server, token, { actor_token_type: ACCESS_TOKEN_TYPE }),
        400,
        'invalid_request',
        'actor_token_type without actor_token',
      );
      // Neither request consumed the token.
      expect((await exchange(server, token)).statusCode).toBe(200);
    });
  });

  describe('TE-09: subject_token omitted or empty', () => {
    it('is 400 invalid_request even when the principal authenticates: no fall-back to its identity', async () => {
      const auth = { authorization: basic(principal.id, principalSecret) };
      const base = {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      };
      expectOAuthError(
        await post(server, TOKEN_PATH, base, auth),
        400,
        'invalid_request',
        "missing parameter 'subject_token'",
      );
      expectOAuthError(
        await post(server, TOKEN_PATH, { ...base, subject_token: '' }, auth),
        400,
        'invalid_request',
        "missing parameter 'subject_token'",
      );
      expectOAuthError(
        await post(server, TOKEN_PATH, base),
        400,
        'invalid_request',
        "missing parameter 'subject_token'",
      );
    });
  });

  describe('replay, size, malformed input', () => {
    it('the same token (jti) is exchanged once; the second is 400 invalid_request', async () => {
      const token = await github.mint(github.github(now()));
      expect((await exchange(server, token)).statusCode).toBe(200);
      expectOAuthError(
        await exchange(server, token),
        400,
        'invalid_request',
        'subject_token refused: the token has already been used',
      );
      expect((await lastDenial(server, token)).detail.reason).toBe('replayed');
    });

    it('parallel exchanges of one token: exactly one succeeds', async () => {
      const token = await github.mint(github.github(now()));
      const results = await Promise.all(Array.from({ length: 8 }, () => exchange(server, token)));
      expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
      expect(results.filter((r) => r.statusCode === 400)).toHaveLength(7);
    });

    it('an oversized token is 400 before anything is decoded', async () => {
      const token = await github.mint(github.github(now(), { padding: 'x'.repeat(20_000) }));
      expectOAuthError(await exchange(server, token), 400, 'invalid_request', 'subject_token is too large');
    });

    it.each([
      ['not a JWT', 'garbage'],
      ['two parts', 'a.b'],
      ['bad base64', '!!!.???.***'],
      ['JSON array payload', `${b64url({ alg: 'RS256' })}.${b64url([1, 2])}.sig`],
      ['no iss', `${b64url({ alg: 'RS256' })}.${b64url({ sub: 'x' })}.sig`],
      ['numeric iss', `${b64url({ alg: 'RS256' })}.${b64url({ iss: 5 })}.sig`],
      ['a JWE (five parts)', 'a.b.c.d.e'],
      [
        'control characters in iss',
        `${b64url({ alg: 'RS256' })}.${b64url({ iss: 'https://x\r\n.test' })}.sig`,
      ],
    ])('%s is a clean 400 invalid_request', async (_label, token) => {
      const res = expectClean(await exchange(server, token));
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('invalid_request');
    });

    it('a duplicated subject_token is 400 invalid_request and spends nothing', async () => {
      const token = await github.mint(github.github(now()));
      const res = expectClean(
        await post(
          server,
          TOKEN_PATH,
          form([
            ['grant_type', 'urn:ietf:params:oauth:grant-type:token-exchange'],
            ['subject_token_type', 'urn:ietf:params:oauth:token-type:jwt'],
            ['subject_token', token],
            ['subject_token', token],
          ]),
        ),
      );
      expect(res.json().error).toBe('invalid_request');
      expect((await exchange(server, token)).statusCode).toBe(200);
    });

    it('a signed token without sub, or with a huge aud list, is 400 invalid_request', async () => {
      const claims = github.github(now());
      delete claims.sub;
      const noSub = await github.mint(claims);
      expect((await exchange(server, noSub)).json().error).toBe('invalid_request');
      const manyAud = await github.mint(
        github.github(now(), {
          aud: [...Array.from({ length: 40 }, (_, i) => `https://a${i}.test`), ISSUER],
        }),
      );
      expect((await exchange(server, manyAud)).json().error).toBe('invalid_request');
    });

    it('another client authenticating with its own secret cannot exchange the token', async () => {
      const other = await server.createClient({ name: 'other-te', grants: ['token-exchange'] });
      const token = await github.mint(github.github(now()));
      expectOAuthError(
        await exchange(server, token, {}, { authorization: basic(other.client.id, other.secret ?? '') }),
        400,
        'invalid_request',
        'client_id does not name the principal the subject token maps to',
      );
    });

    it('an unknown subject_token_type is 400 invalid_request', async () => {
      const token = await github.mint(github.github(now()));
      expectOAuthError(
        await exchange(server, token, { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }),
        400,
        'invalid_request',
        'unsupported subject_token_type',
      );
    });
  });

  describe('TE-10: after the principal is disabled or deleted', () => {
    it('an exchanged token cannot be refreshed, exchange stops, and issued tokens introspect inactive', async () => {
      // The resource server introspects tokens whose aud names it.
      const rs = await server.createClient({ name: 'resource server', id: 'rs-te10' });
      const created = await server.createClient({
        name: 'to-disable',
        scopes: ['read'],
        audiences: ['rs-te10'],
      });
      const fed = await createFederation(server, {
        clientId: created.client.id,
        preset: 'github-actions',
        issuer: github.issuer,
        audience: ISSUER,
        conditions: [{ claim: 'sub', pattern: 'repo:acme/disable-me:ref:refs/heads/main' }],
      });
      const mint = () => github.mint(github.github(now(), { repository: 'acme/disable-me' }));
      const res = await exchange(server, await mint());
      expect(res.statusCode).toBe(200);
      const accessToken = res.json().access_token as string;
      expect(res.json().refresh_token).toBeUndefined();

      // A refresh with the access token (there is no refresh token) is invalid_grant.
      const cli = await server.createClient({ name: 'cli', kind: 'public', scopes: ['read'] });
      expectOAuthError(
        await post(server, TOKEN_PATH, {
          grant_type: 'refresh_token',
          refresh_token: accessToken,
          client_id: cli.client.id,
        }),
        400,
        'invalid_grant',
        'refresh token is invalid',
      );

      const introspect = () =>
        post(
          server,
          '/oauth/introspect',
          { token: accessToken },
          { authorization: basic(rs.client.id, rs.secret ?? '') },
        );
      expect((await introspect()).json().active).toBe(true);

      await server.services.db
        .updateTable('clients')
        .set({ disabled_at: now() })
        .where('id', '=', created.client.id)
        .execute();
      server.clock.advanceSeconds(1);
      const after = await mint();
      expectOAuthError(
        await exchange(server, after),
        400,
        'invalid_grant',
        'subject_token refused: the service principal is not available',
      );
      expect((await lastDenial(server, after)).detail).toMatchObject({
        reason: 'principal_unavailable',
        federation_ids: [fed.id],
      });
      expect((await introspect()).json()).toEqual({ active: false });
      expectOAuthError(
        await post(server, TOKEN_PATH, {
          grant_type: 'refresh_token',
          refresh_token: accessToken,
          client_id: cli.client.id,
        }),
        400,
        'invalid_grant',
        'refresh token is invalid',
      );

      await server.services.db.deleteFrom('clients').where('id', '=', created.client.id).execute();
      expect((await exchange(server, await mint())).json().error).toBe('invalid_grant');
    });
  });
});
