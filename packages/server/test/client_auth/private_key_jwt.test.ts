/**
 * private_key_jwt (RFC 7523) at the token endpoint: Ed25519, ES256 and RS256 keys registered inline or
 * behind a jwks_uri, and the assertion attacks of CA-03 … CA-06 and CA-08 … CA-11. Replay (CA-07, R-04)
 * has its own file.
 */
import { createPublicKey } from 'node:crypto';
import { exportSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import {
  type AssertionAlg,
  type ClientKey,
  hmacAssertion,
  jwksOf,
  jwtHeader as jwtHeaderOf,
  newClientKey,
  signAssertion,
  unsecuredAssertion,
} from '../../../../test/support/jwt.js';
import { basic, post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import {
  expectInvalidClient,
  expectOAuthError,
  expectToken,
} from '../../../../test/support/oauth_answers.js';
import {
  createTestServer,
  INTROSPECTION_ENDPOINT,
  ISSUER,
  type TestServer,
  TOKEN_ENDPOINT,
} from '../../../../test/support/test_server.js';
import {
  assertionClaims,
  assertionRequest,
  CLIENT_ASSERTION_TYPE,
  type RecordingServer,
  startRecordingServer,
} from './assertion_kit.js';

const algs: AssertionAlg[] = ['EdDSA', 'ES256', 'RS256'];

describe.each(dialects)('private_key_jwt (%s)', (dialect) => {
  let server: TestServer;
  const remotes: RecordingServer[] = [];

  beforeAll(async () => {
    server = await createTestServer(dialect);
  });
  afterAll(async () => {
    await server.close();
    for (const remote of remotes) await remote.close();
  });

  /** A client registered inline with one key of `alg`. */
  async function keyClient(alg: AssertionAlg = 'EdDSA'): Promise<{ id: string; key: ClientKey }> {
    const key = await newClientKey(alg);
    const { client } = await server.createClient({ authMethod: 'private_key_jwt', jwks: jwksOf(key) });
    expect(client.authMethod).toBe('private_key_jwt');
    return { id: client.id, key };
  }

  async function serve(body: unknown): Promise<RecordingServer> {
    const remote = await startRecordingServer(body);
    remotes.push(remote);
    return remote;
  }

  const now = () => server.clock.now;
  const sec = () => Math.floor(server.clock.now / 1000);

  async function send(assertion: string, extra: Record<string, string> = {}) {
    return post(server, TOKEN_PATH, assertionRequest(assertion, extra));
  }

  async function countRows() {
    const db = server.services.db;
    const count = async (table: 'clients' | 'client_secrets' | 'replay_guard' | 'signing_keys' | 'users') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      clients: await count('clients'),
      client_secrets: await count('client_secrets'),
      replay_guard: await count('replay_guard'),
      signing_keys: await count('signing_keys'),
      users: await count('users'),
    };
  }

  describe('200', () => {
    it.each(algs)('a %s key registered inline authenticates the client; sub is the client', async (alg) => {
      const { id, key } = await keyClient(alg);
      const claims = expectToken(await send(await signAssertion(key, assertionClaims(id, now()))));
      expect(claims).toMatchObject({ sub: id, client_id: id, iss: ISSUER });
    });

    it.each(algs)('a %s key published at a jwks_uri authenticates the client', async (alg) => {
      const key = await newClientKey(alg);
      const remote = await serve(jwksOf(key));
      const jwksUri = `${remote.url}/jwks.json`;
      const { client } = await server.createClient({ authMethod: 'private_key_jwt', jwksUri });
      expect(client.jwksUri).toBe(jwksUri);
      const claims = expectToken(await send(await signAssertion(key, assertionClaims(client.id, now()))));
      expect(claims.sub).toBe(client.id);
      expect(remote.requests.length).toBeGreaterThanOrEqual(1);
      expect(remote.requests.every((r) => r.method === 'GET' && r.url === '/jwks.json')).toBe(true);
    });

    it('the client picks one of several registered keys by kid', async () => {
      const [first, second] = [await newClientKey('ES256'), await newClientKey('EdDSA')];
      const { client } = await server.createClient({
        authMethod: 'private_key_jwt',
        jwks: jwksOf(first, second),
      });
      expectToken(await send(await signAssertion(second, assertionClaims(client.id, now()))));
      expectToken(await send(await signAssertion(first, assertionClaims(client.id, now()))));
    });

    it.each(algs)(
      'an assertion without kid is verified against each registered %s key (rotation overlap)',
      async (alg) => {
        // kid is optional (RFC 7515 §4.1.4) and some clients never send it (Authlib's PrivateKeyJWT).
        const [outgoing, incoming] = [await newClientKey(alg), await newClientKey(alg)];
        const { client } = await server.createClient({
          authMethod: 'private_key_jwt',
          jwks: jwksOf(outgoing, incoming),
        });
        for (const key of [incoming, outgoing]) {
          const assertion = await signAssertion(key, assertionClaims(client.id, now()), { kid: undefined });
          expect(jwtHeaderOf(assertion).kid).toBeUndefined();
          expect(expectToken(await send(assertion)).sub).toBe(client.id);
        }
      },
    );

    it('client_id may accompany the assertion when it names the same client', async () => {
      const { id, key } = await keyClient();
      expectToken(await send(await signAssertion(key, assertionClaims(id, now())), { client_id: id }));
    });

    it('CA-04: aud = the issuer identifier is accepted', async () => {
      const { id, key } = await keyClient();
      expectToken(await send(await signAssertion(key, assertionClaims(id, now(), { aud: ISSUER }))));
    });

    it("CA-04: aud = the token endpoint URL is accepted under the default assertionAudience 'issuer-or-token-endpoint'", async () => {
      expect(server.config.assertionAudience).toBe('issuer-or-token-endpoint');
      const { id, key } = await keyClient();
      expectToken(await send(await signAssertion(key, assertionClaims(id, now(), { aud: TOKEN_ENDPOINT }))));
    });

    it('CA-06: iat and nbf 8 s in the future (within the skew) are accepted', async () => {
      const { id, key } = await keyClient();
      const claims = assertionClaims(id, now(), { iat: sec() + 8, nbf: sec() + 8 });
      expectToken(await send(await signAssertion(key, claims)));
    });

    it('CA-11: jku / x5u / jwk headers on an assertion signed with the registered key are ignored, and never fetched', async () => {
      const { id, key } = await keyClient('ES256');
      const attacker = await newClientKey('ES256', key.kid);
      const remote = await serve(jwksOf(attacker));
      const assertion = await signAssertion(key, assertionClaims(id, now()), {
        jku: `${remote.url}/jwks.json`,
        x5u: `${remote.url}/cert.pem`,
        jwk: attacker.publicJwk,
      });
      expectToken(await send(assertion));
      expect(remote.requests).toEqual([]);
    });
  });

  describe('400', () => {
    it('CA-03: a Basic header and a client_assertion together are invalid_request', async () => {
      const { id, key } = await keyClient();
      const assertion = await signAssertion(key, assertionClaims(id, now()));
      const res = await post(server, TOKEN_PATH, assertionRequest(assertion), {
        authorization: basic(id, 'clvs_x'),
      });
      expectOAuthError(res, 400, 'invalid_request', 'use exactly one client authentication method');
    });

    it('CA-03: client_secret and client_assertion in one body are invalid_request', async () => {
      const { id, key } = await keyClient();
      const assertion = await signAssertion(key, assertionClaims(id, now()));
      const res = await send(assertion, { client_id: id, client_secret: 'clvs_x' });
      expectOAuthError(res, 400, 'invalid_request', 'use exactly one client authentication method');
    });

    it('CA-03: the assertion stays unspent after a rejected mixed request, so it was never verified', async () => {
      const { id, key } = await keyClient();
      const assertion = await signAssertion(key, assertionClaims(id, now()));
      const mixed = await post(server, TOKEN_PATH, assertionRequest(assertion), {
        authorization: basic(id, 'clvs_x'),
      });
      expect(mixed.statusCode).toBe(400);
      expectToken(await send(assertion));
    });

    it('client_assertion_type without a client_assertion is invalid_request', async () => {
      const res = await post(server, TOKEN_PATH, {
        grant_type: 'client_credentials',
        client_assertion_type: CLIENT_ASSERTION_TYPE,
      });
      // RFC 6749 §5.2 forbids '"' in error_description; the server blanks it out.
      expectOAuthError(res, 400, 'invalid_request', "missing parameter 'client_assertion'");
    });
  });

  describe('401', () => {
    it('a wrong or missing client_assertion_type is invalid_client', async () => {
      const { id, key } = await keyClient();
      const assertion = await signAssertion(key, assertionClaims(id, now()));
      const description = `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`;
      expectInvalidClient(
        await send(assertion, { client_assertion_type: 'urn:ietf:params:oauth:jwt' }),
        description,
      );
      const { client_assertion_type: _t, ...without } = assertionRequest(assertion);
      expectInvalidClient(await post(server, TOKEN_PATH, without), description);
    });

    it.each([
      ['not a JWT', 'not-a-jwt'],
      ['a JWT with a non-JSON payload', 'eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.c2ln'],
      ['an oversized JWT', `eyJhbGciOiJFZERTQSJ9.${'A'.repeat(9000)}.c2ln`],
    ])('a malformed assertion (%s) is invalid_client', async (_name, assertion) => {
      expectInvalidClient(await send(assertion), 'client_assertion is not a well-formed JWT');
    });

    it('an assertion without iss (and no client_id) is invalid_client', async () => {
      const { id, key } = await keyClient();
      const assertion = await signAssertion(key, assertionClaims(id, now(), { iss: undefined }));
      expectInvalidClient(await send(assertion), 'client_assertion has no iss');
    });

    it('an assertion for an unknown client gets the generic answer', async () => {
      const { key } = await keyClient();
      const assertion = await signAssertion(key, assertionClaims('svc_doesnotexist', now()));
      expectInvalidClient(await send(assertion), 'client authentication failed');
    });

    it('a client registered for client_secret_basic cannot authenticate with an assertion', async () => {
      const { client } = await server.createClient({});
      const key = await newClientKey('EdDSA');
      const assertion = await signAssertion(key, assertionClaims(client.id, now()));
      expectInvalidClient(await send(assertion), 'client authentication failed');
    });

    it('an assertion signed with a key the client never registered is invalid_client', async () => {
      const { id, key } = await keyClient('ES256');
      const other = await newClientKey('ES256', key.kid);
      const assertion = await signAssertion(other, assertionClaims(id, now()));
      expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
    });

    it.each([
      ['an array holding the issuer', [ISSUER]],
      ['an array holding another audience and the issuer', ['https://rs.example', ISSUER]],
      ['an array holding the token endpoint', [TOKEN_ENDPOINT]],
    ])('CA-04: aud = %s is invalid_client', async (_name, aud) => {
      const { id, key } = await keyClient();
      const assertion = await signAssertion(key, assertionClaims(id, now(), { aud }));
      expectInvalidClient(await send(assertion), 'client_assertion aud must be a single string');
    });

    it.each([
      ['another server', 'https://other.example'],
      ['the issuer with a trailing slash', `${ISSUER}/`],
      ['the introspection endpoint', INTROSPECTION_ENDPOINT],
      ['the token endpoint over http', TOKEN_ENDPOINT.replace('https:', 'http:')],
    ])('CA-04: aud = %s is invalid_client', async (_name, aud) => {
      const { id, key } = await keyClient();
      const assertion = await signAssertion(key, assertionClaims(id, now(), { aud }));
      expectInvalidClient(await send(assertion), 'client_assertion aud must identify this server');
    });

    it('an assertion without kid signed by none of several same-type registered keys is invalid_client', async () => {
      const { client } = await server.createClient({
        authMethod: 'private_key_jwt',
        jwks: jwksOf(await newClientKey('ES256'), await newClientKey('ES256')),
      });
      const stranger = await newClientKey('ES256');
      const assertion = await signAssertion(stranger, assertionClaims(client.id, now()), { kid: undefined });
      expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
    });

    it('CA-04: a missing aud is invalid_client', async () => {
      const { id, key } = await keyClient();
      const assertion = await signAssertion(key, assertionClaims(id, now(), { aud: undefined }));
      expectInvalidClient(await send(assertion), 'client_assertion aud must be a single string');
    });

    it('CA-05: exp 5 minutes in the past is invalid_client', async () => {
      const { id, key } = await keyClient();
      const claims = assertionClaims(id, now(), { iat: sec() - 360, exp: sec() - 300 });
      expectInvalidClient(await send(await signAssertion(key, claims)), 'client_assertion has expired');
    });

    it('CA-05: a missing (or non-numeric) exp is invalid_client', async () => {
      const { id, key } = await keyClient();
      const missing = assertionClaims(id, now(), { exp: undefined });
      expectInvalidClient(await send(await signAssertion(key, missing)), 'client_assertion exp is required');
      const text = assertionClaims(id, now(), { exp: String(sec() + 60) });
      expectInvalidClient(await send(await signAssertion(key, text)), 'client_assertion exp is required');
    });

    it('CA-05: exp one year ahead is invalid_client (the replay store stays bounded)', async () => {
      const { id, key } = await keyClient();
      const before = await countRows();
      const claims = assertionClaims(id, now(), { exp: sec() + 365 * 86_400 });
      expectInvalidClient(
        await send(await signAssertion(key, claims)),
        'client_assertion exp is too far ahead',
      );
      expect(await countRows()).toEqual(before);
    });

    it('CA-06: iat 61 s in the future is invalid_client', async () => {
      const { id, key } = await keyClient();
      const claims = assertionClaims(id, now(), { iat: sec() + 61 });
      expectInvalidClient(
        await send(await signAssertion(key, claims)),
        'client_assertion iat is in the future',
      );
    });

    it('CA-06: nbf 61 s in the future is invalid_client', async () => {
      const { id, key } = await keyClient();
      const claims = assertionClaims(id, now(), { nbf: sec() + 61 });
      expectInvalidClient(await send(await signAssertion(key, claims)), 'client_assertion is not yet valid');
    });

    it('CA-08: iss ≠ sub is invalid_client', async () => {
      const { id, key } = await keyClient();
      const claims = assertionClaims(id, now(), { sub: 'svc_someoneelse' });
      expectInvalidClient(
        await send(await signAssertion(key, claims)),
        'client_assertion sub must be the client_id',
      );
    });

    it('CA-08: a missing sub is invalid_client', async () => {
      const { id, key } = await keyClient();
      const claims = assertionClaims(id, now(), { sub: undefined });
      expectInvalidClient(
        await send(await signAssertion(key, claims)),
        'client_assertion sub must be the client_id',
      );
    });

    it('CA-08: iss = sub ≠ the client_id sent alongside is invalid_client', async () => {
      const { id, key } = await keyClient();
      const other = await keyClient();
      // Signed with the client's own key, but claiming to be another client.
      const claims = assertionClaims(other.id, now());
      const res = await send(await signAssertion(key, claims), { client_id: id });
      expectInvalidClient(res, 'client_assertion iss must be the client_id');
    });

    it("CA-08: an assertion naming another client, signed with one's own key, fails that client's signature check", async () => {
      const { key } = await keyClient();
      const victim = await keyClient();
      const assertion = await signAssertion(
        { ...key, kid: victim.key.kid },
        assertionClaims(victim.id, now()),
      );
      expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
    });

    it('CA-09: alg none is invalid_client', async () => {
      const { id, key } = await keyClient();
      const assertion = unsecuredAssertion(assertionClaims(id, now()), { kid: key.kid });
      expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
      const noKid = unsecuredAssertion(assertionClaims(id, now()));
      expectInvalidClient(await send(noKid), 'client_assertion signature is invalid');
    });

    it.each(algs)(
      "CA-09: HS256 keyed with a %s client's public key (PEM, JWK, raw) is invalid_client",
      async (alg) => {
        const { id, key } = await keyClient(alg);
        const publicKey = createPublicKey({ key: key.publicJwk, format: 'jwk' });
        const pem = await exportSPKI(publicKey);
        const secrets: Array<string | Uint8Array> = [
          pem,
          pem.trim(),
          JSON.stringify(key.publicJwk),
          JSON.stringify({ keys: [key.publicJwk] }),
          publicKey.export({ format: 'der', type: 'spki' }),
        ];
        for (const secret of secrets) {
          const assertion = hmacAssertion(secret, assertionClaims(id, now()), { kid: key.kid });
          expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
        }
      },
    );

    it.each([
      ['Ed25519', 'EdDSA'],
      ['ES256', 'ES256'],
    ] as const)(
      'CA-09: an RS256-signed assertion for a client that registered only an %s key is invalid_client',
      async (_n, alg) => {
        const { id, key } = await keyClient(alg);
        const rsa = await newClientKey('RS256');
        const withTheirKid = await signAssertion({ ...rsa, kid: key.kid }, assertionClaims(id, now()));
        expectInvalidClient(await send(withTheirKid), 'client_assertion signature is invalid');
        const withoutKid = await signAssertion(rsa, assertionClaims(id, now()), { kid: undefined });
        expectInvalidClient(await send(withoutKid), 'client_assertion signature is invalid');
      },
    );

    it('CA-09: an ES256-signed assertion for an Ed25519 client is invalid_client', async () => {
      const { id, key } = await keyClient('EdDSA');
      const ec = await newClientKey('ES256', key.kid);
      expectInvalidClient(
        await send(await signAssertion(ec, assertionClaims(id, now()))),
        'client_assertion signature is invalid',
      );
    });

    it.each(['../../dev/null', "' OR 1=1--", '/etc/passwd', "x'; DROP TABLE clients; --"])(
      'CA-10: kid = %s is invalid_client, with no file or SQL effect',
      async (kid) => {
        const { id, key } = await keyClient('EdDSA');
        const before = await countRows();
        // The classic exploits: an HMAC keyed with what the path or query would have produced ...
        for (const secret of ['', '1', '\n']) {
          const assertion = hmacAssertion(secret, assertionClaims(id, now()), { kid });
          expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
        }
        // ... and the client's own key with the injected kid, which names no registered key.
        const assertion = await signAssertion(key, assertionClaims(id, now()), { kid });
        expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
        expect(await countRows()).toEqual(before);
        expectToken(await send(await signAssertion(key, assertionClaims(id, now()))));
      },
    );

    it("CA-11: an embedded jwk header carrying the attacker's key is invalid_client", async () => {
      const { id } = await keyClient('ES256');
      const attacker = await newClientKey('ES256');
      const assertion = await signAssertion(attacker, assertionClaims(id, now()), {
        jwk: attacker.publicJwk,
      });
      expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
    });

    it.each(['jku', 'x5u'])(
      "CA-11: a %s header pointing at the attacker's keys is invalid_client and never fetched",
      async (header) => {
        const { id } = await keyClient('RS256');
        const attacker = await newClientKey('RS256');
        const remote = await serve(jwksOf(attacker));
        const assertion = await signAssertion(attacker, assertionClaims(id, now()), {
          [header]: `${remote.url}/keys`,
        });
        expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
        expect(remote.requests).toEqual([]);
      },
    );

    it('a jwks_uri that cannot be reached is invalid_client, not a server error', async () => {
      const key = await newClientKey('EdDSA');
      const remote = await startRecordingServer(jwksOf(key));
      const jwksUri = `${remote.url}/jwks.json`;
      await remote.close();
      const { client } = await server.createClient({ authMethod: 'private_key_jwt', jwksUri });
      const assertion = await signAssertion(key, assertionClaims(client.id, now()));
      expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
    });

    it.each([
      ['not a JWKS', { hello: 'world' }],
      ['an empty JWKS', { keys: [] }],
      ['a JSON string', 'keys'],
    ])('a jwks_uri serving %s is invalid_client, not a server error', async (_name, body) => {
      const remote = await serve(body);
      const { client } = await server.createClient({
        authMethod: 'private_key_jwt',
        jwksUri: `${remote.url}/j`,
      });
      const key = await newClientKey('EdDSA');
      const assertion = await signAssertion(key, assertionClaims(client.id, now()));
      expectInvalidClient(await send(assertion), 'client_assertion signature is invalid');
    });
  });
});

describe.each(dialects)("private_key_jwt with assertionAudience 'issuer' (%s)", (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await createTestServer(dialect, { config: { assertionAudience: 'issuer' } });
  });
  afterAll(() => server.close());

  it('CA-04: aud = the token endpoint URL is invalid_client', async () => {
    const key = await newClientKey('EdDSA');
    const { client } = await server.createClient({ authMethod: 'private_key_jwt', jwks: jwksOf(key) });
    const assertion = await signAssertion(
      key,
      assertionClaims(client.id, server.clock.now, { aud: TOKEN_ENDPOINT }),
    );
    expectInvalidClient(
      await post(server, TOKEN_PATH, assertionRequest(assertion)),
      'client_assertion aud must identify this server',
    );
  });

  it('CA-04: aud = the issuer identifier is accepted', async () => {
    const key = await newClientKey('ES256');
    const { client } = await server.createClient({ authMethod: 'private_key_jwt', jwks: jwksOf(key) });
    const assertion = await signAssertion(key, assertionClaims(client.id, server.clock.now, { aud: ISSUER }));
    expectToken(await post(server, TOKEN_PATH, assertionRequest(assertion)));
  });

  it('CA-04: aud = [issuer] is still invalid_client', async () => {
    const key = await newClientKey('ES256');
    const { client } = await server.createClient({ authMethod: 'private_key_jwt', jwks: jwksOf(key) });
    const assertion = await signAssertion(
      key,
      assertionClaims(client.id, server.clock.now, { aud: [ISSUER] }),
    );
    expectInvalidClient(
      await post(server, TOKEN_PATH, assertionRequest(assertion)),
      'client_assertion aud must be a single string',
    );
  });
});
