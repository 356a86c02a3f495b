/**
 * Where a federation's issuer keys come from and how they are kept: discovery, a configured jwks_uri,
 * or an inline JWKS (air-gapped: no request at all); cached, refetched on an unknown `kid` at most once
 * a minute; kept through a failing issuer within their TTL, never skipping the signature check (F-05);
 * redirects, oversized answers and a discovery document naming another issuer refused.
 */
import type { Client } from '@clavis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { expectOAuthError } from '../../../../test/support/oauth_answers.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { IssuerKeys, IssuerKeysUnavailable } from '../../src/federation/issuer_keys.js';
import { type FakeIssuer, startFakeIssuer } from './fake_issuer.js';
import { createFederation, exchange, lastDenial } from './support.js';

const DISCOVERY = '/.well-known/openid-configuration';
const JWKS = '/.well-known/jwks';

describe.each(dialects)('federation issuer keys (%s)', (dialect) => {
  let server: TestServer;
  let principal: Client;
  const issuers: FakeIssuer[] = [];

  beforeAll(async () => {
    server = await createTestServer(dialect);
    principal = (await server.createClient({ name: 'ci', scopes: ['read', 'deploy'] })).client;
  });
  afterAll(async () => {
    await Promise.all(issuers.map((i) => i.close()));
    await server?.close();
  });

  const now = () => server.clock.now;

  /** A fresh issuer with a GitHub-style federation for acme/app. */
  async function trusted(options: { jwks?: unknown; jwksUri?: string; path?: string } = {}) {
    const issuer = await startFakeIssuer(options.path ? { path: options.path } : {});
    issuers.push(issuer);
    await createFederation(server, {
      clientId: principal.id,
      preset: 'github-actions',
      issuer: issuer.issuer,
      audience: ISSUER,
      conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      ...(options.jwks ? { jwks: options.jwks } : {}),
      ...(options.jwksUri ? { jwksUri: options.jwksUri } : {}),
    });
    return issuer;
  }

  const mint = (issuer: FakeIssuer) => issuer.mint(issuer.github(now()));

  it('discovery, then the JWKS, once; later exchanges use the cache', async () => {
    const issuer = await trusted();
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    expect(issuer.requests.get(DISCOVERY)).toBe(1);
    expect(issuer.requests.get(JWKS)).toBe(1);
    for (let i = 0; i < 3; i++) expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    expect(issuer.totalRequests()).toBe(2);
  });

  it('an issuer with a path publishes discovery under it', async () => {
    const issuer = await trusted({ path: '/tenant/ci' });
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    expect(issuer.requests.get(`/tenant/ci${DISCOVERY}`)).toBe(1);
  });

  it('rotation: an unknown kid refetches once; a second unknown kid within a minute does not', async () => {
    const issuer = await trusted();
    const oldToken = await mint(issuer);
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    expect(issuer.requests.get(JWKS)).toBe(1);

    // The first fetch counts as the minute's fetch: rotation is seen once that minute is over.
    server.clock.advanceSeconds(61);
    await issuer.rotate();
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    expect(issuer.requests.get(JWKS)).toBe(2);

    // The old key is gone from the issuer's JWKS: a token it signed no longer verifies.
    expectOAuthError(
      await exchange(server, oldToken),
      400,
      'invalid_request',
      'subject_token refused: the token signature does not verify',
    );
    expect(issuer.requests.get(JWKS)).toBe(2);

    await issuer.rotate();
    const tooSoon = await mint(issuer);
    expect((await exchange(server, tooSoon)).json().error).toBe('invalid_request');
    expect(issuer.requests.get(JWKS)).toBe(2);
    expect((await lastDenial(server, tooSoon)).detail.reason).toBe('bad_signature');

    server.clock.advanceSeconds(61);
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    expect(issuer.requests.get(JWKS)).toBe(3);
  });

  it('a flood of unknown kids costs at most one fetch a minute', async () => {
    const issuer = await trusted();
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    server.clock.advanceSeconds(61);
    const before = issuer.totalRequests();
    for (let i = 0; i < 5; i++) {
      const token = await issuer.mint(issuer.github(now()), { header: { kid: `unknown-${i}` } });
      expect((await exchange(server, token)).json().error).toBe('invalid_request');
    }
    // One refetch (discovery + JWKS) for the first unknown kid, none for the rest.
    expect(issuer.totalRequests()).toBe(before + 2);
  });

  it('keys are refetched once their TTL (1 h) has passed', async () => {
    const issuer = await trusted();
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    server.clock.advanceSeconds(3601);
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    expect(issuer.requests.get(JWKS)).toBe(2);
  });

  it('F-05: a failing issuer: cached keys serve within their TTL; after it, 503 and never a skipped signature', async () => {
    const issuer = await trusted();
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    issuer.override(JWKS, { status: 500, body: 'down' });
    server.clock.advanceSeconds(61);
    // An unknown kid makes it try; the fetch fails; known keys keep working.
    const unknownKid = await issuer.mint(issuer.github(now()), { header: { kid: 'not-yet-published' } });
    expect((await exchange(server, unknownKid)).json().error).toBe('invalid_request');
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);

    server.clock.advanceSeconds(3600);
    const res = await exchange(server, await mint(issuer));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'subject_token refused: the issuer keys are unavailable',
    });
    expect(res.headers['retry-after']).toBe('60');
    // Even a token signed by an unpublished key is not let through while the keys are missing.
    const wrong = await issuer.mint(issuer.github(now()), { key: await issuer.unpublishedKey() });
    expect((await exchange(server, wrong)).statusCode).not.toBe(200);

    issuer.override(JWKS, null);
    server.clock.advanceSeconds(61);
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
  });

  it('a discovery document naming another issuer is refused (503), and no JWKS is fetched', async () => {
    const issuer = await trusted();
    issuer.override(DISCOVERY, {
      status: 200,
      body: JSON.stringify({ issuer: 'https://evil.test', jwks_uri: `${issuer.issuer}${JWKS}` }),
    });
    const token = await mint(issuer);
    expect((await exchange(server, token)).statusCode).toBe(503);
    expect(issuer.requests.get(JWKS)).toBeUndefined();
    expect((await lastDenial(server, token)).detail.reason).toBe('issuer_keys_unavailable');
  });

  it.each([
    ['another port', (_issuer: string, other: string) => `${other}${JWKS}`],
    ['another host name', (issuer: string) => `${issuer.replace('127.0.0.1', 'localhost')}${JWKS}`],
    ['another scheme', (issuer: string) => `${issuer.replace('http:', 'https:')}${JWKS}`],
  ])('a discovered jwks_uri on %s is refused (503) without a request to it', async (_name, where) => {
    const issuer = await trusted();
    const other = await startFakeIssuer();
    issuers.push(other);
    other.override(JWKS, { status: 200, body: JSON.stringify(issuer.jwks()) });
    issuer.override(DISCOVERY, {
      status: 200,
      body: JSON.stringify({ issuer: issuer.issuer, jwks_uri: where(issuer.issuer, other.issuer) }),
    });
    const token = await mint(issuer);
    expect((await exchange(server, token)).statusCode).toBe(503);
    expect((await lastDenial(server, token)).detail.reason).toBe('issuer_keys_unavailable');
    expect(other.totalRequests()).toBe(0);
    expect(issuer.requests.get(JWKS)).toBeUndefined();
  });

  it('a jwks_uri the operator pinned may be on another origin', async () => {
    const issuer = await startFakeIssuer();
    const keyHost = await startFakeIssuer();
    issuers.push(issuer, keyHost);
    keyHost.override('/keys', { status: 200, body: JSON.stringify(issuer.jwks()) });
    await createFederation(server, {
      clientId: principal.id,
      preset: 'github-actions',
      issuer: issuer.issuer,
      audience: ISSUER,
      conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      jwksUri: `${keyHost.issuer}/keys`,
    });
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(200);
    expect(keyHost.requests.get('/keys')).toBe(1);
    expect(issuer.totalRequests()).toBe(0);
  });

  it('an oversized JWKS sent without a length (chunked) is refused', async () => {
    const issuer = await trusted();
    issuer.override(JWKS, {
      status: 200,
      body: JSON.stringify({ keys: issuer.jwks().keys, pad: 'x'.repeat(600 * 1024) }),
      headers: { 'transfer-encoding': 'chunked' },
    });
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(503);
  });

  it('a redirect from the issuer is not followed', async () => {
    const issuer = await trusted();
    const elsewhere = await startFakeIssuer();
    issuers.push(elsewhere);
    issuer.override(DISCOVERY, {
      status: 302,
      body: '',
      headers: { location: `${elsewhere.issuer}${DISCOVERY}` },
    });
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(503);
    expect(elsewhere.totalRequests()).toBe(0);
  });

  it('an oversized JWKS (over 512 KiB) is refused', async () => {
    const issuer = await trusted();
    issuer.override(JWKS, { status: 200, body: JSON.stringify({ keys: [], pad: 'x'.repeat(600 * 1024) }) });
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(503);
  });

  it('a JWKS with a symmetric key is unusable', async () => {
    const issuer = await trusted();
    issuer.override(JWKS, {
      status: 200,
      body: JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: issuer.current().kid }] }),
    });
    expect((await exchange(server, await mint(issuer))).statusCode).toBe(503);
  });

  it('a configured jwks_uri is used directly: no discovery', async () => {
    const issuer = await trusted({ jwksUri: 'placeholder' }).catch(() => null);
    expect(issuer).toBeNull();
    const real = await startFakeIssuer();
    issuers.push(real);
    await createFederation(server, {
      clientId: principal.id,
      preset: 'github-actions',
      issuer: real.issuer,
      audience: ISSUER,
      conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      jwksUri: `${real.issuer}${JWKS}`,
    });
    expect((await exchange(server, await mint(real))).statusCode).toBe(200);
    expect(real.requests.get(DISCOVERY)).toBeUndefined();
    expect(real.requests.get(JWKS)).toBe(1);
  });

  it('an inline JWKS (air-gapped): exchanges with no request to the issuer at all', async () => {
    const issuer = await startFakeIssuer({ alg: 'ES256' });
    issuers.push(issuer);
    await createFederation(server, {
      clientId: principal.id,
      preset: 'kubernetes',
      issuer: issuer.issuer,
      audience: ISSUER,
      conditions: [{ claim: 'sub', pattern: 'system:serviceaccount:prod:deployer' }],
      jwks: issuer.jwks(),
    });
    const res = await exchange(server, await issuer.mint(issuer.kubernetes(now())));
    expect(res.statusCode).toBe(200);
    expect(issuer.totalRequests()).toBe(0);
    // A rotated key the inline JWKS does not hold is refused — still without a request.
    await issuer.rotate();
    expect((await exchange(server, await issuer.mint(issuer.kubernetes(now())))).json().error).toBe(
      'invalid_request',
    );
    expect(issuer.totalRequests()).toBe(0);
  });
  it('a token without kid is checked against each key of an inline JWKS of one type (a rotation)', async () => {
    // kid is optional (RFC 7515 §4.1.4); Python Authlib's AssertionSession never sends one.
    const issuer = await startFakeIssuer({ alg: 'ES256' });
    issuers.push(issuer);
    const outgoing = issuer.current();
    const incoming = await issuer.rotate({ keepOld: true });
    expect(issuer.jwks().keys).toHaveLength(2);
    await createFederation(server, {
      clientId: principal.id,
      preset: 'kubernetes',
      issuer: issuer.issuer,
      audience: ISSUER,
      conditions: [{ claim: 'sub', pattern: 'system:serviceaccount:prod:deployer' }],
      jwks: issuer.jwks(),
    });
    for (const key of [incoming, outgoing]) {
      const token = await issuer.mint(issuer.kubernetes(now()), { key, header: { kid: undefined } });
      expect((await exchange(server, token)).statusCode).toBe(200);
    }
    const forged = await issuer.mint(issuer.kubernetes(now()), {
      key: await issuer.unpublishedKey(),
      header: { kid: undefined },
    });
    expect((await exchange(server, forged)).json().error).toBe('invalid_request');
    expect(issuer.totalRequests()).toBe(0);
  });
});

describe('IssuerKeys failure reasons', () => {
  it('tells the operator why no keys were fetched (a discovered jwks_uri on another origin)', async () => {
    const issuer = await startFakeIssuer();
    try {
      issuer.override(DISCOVERY, {
        status: 200,
        body: JSON.stringify({ issuer: issuer.issuer, jwks_uri: 'http://127.0.0.2:9/internal/flush' }),
      });
      const failures: Array<[string, string]> = [];
      const keys = new IssuerKeys({
        clock: () => 0,
        onFetchFailure: (iss, err) => failures.push([iss, err.message]),
      });
      await expect(
        keys.keysFor({ issuer: issuer.issuer, jwks: null, jwksUri: null }, 'k1'),
      ).rejects.toBeInstanceOf(IssuerKeysUnavailable);
      expect(failures).toEqual([[issuer.issuer, expect.stringMatching(/jwks_uri on another origin/)]]);
    } finally {
      await issuer.close();
    }
  });
});
