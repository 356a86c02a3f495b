/**
 * How the JWKS behind a private_key_jwt client's `jwks_uri` is fetched: by the server's one capped
 * fetcher (size cap, no redirects), and cached as before (one fetch for many assertions; an unknown
 * `kid` refetches, at most once per cooldown).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { jwksOf, newClientKey, signAssertion } from '../../../../test/support/jwt.js';
import { post, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { expectInvalidClient, expectToken } from '../../../../test/support/oauth_answers.js';
import { createTestServer, type TestServer } from '../../../../test/support/test_server.js';
import { assertionClaims, assertionRequest } from './assertion_kit.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface KeyHost {
  url: string;
  /** Requests received, by path. */
  requests: Map<string, number>;
  handle(path: string, handler: Handler): void;
  close(): Promise<void>;
}

async function startKeyHost(): Promise<KeyHost> {
  const requests = new Map<string, number>();
  const handlers = new Map<string, Handler>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const handler = handlers.get(path);
    if (handler) handler(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    handle: (path, handler) => handlers.set(path, handler),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

const json =
  (body: unknown): Handler =>
  (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));

describe.each(dialects)('client jwks_uri fetch (%s)', (dialect) => {
  let server: TestServer;
  let host: KeyHost;
  let elsewhere: KeyHost;
  let path = 0;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    host = await startKeyHost();
    elsewhere = await startKeyHost();
  });
  afterAll(async () => {
    await server.close();
    await host.close();
    await elsewhere.close();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A client whose jwks_uri is a fresh path on `host`, answered by `handler`. */
  async function clientAt(handler: Handler): Promise<{ id: string; path: string }> {
    const p = `/jwks-${++path}.json`;
    host.handle(p, handler);
    const { client } = await server.createClient({
      authMethod: 'private_key_jwt',
      jwksUri: `${host.url}${p}`,
    });
    return { id: client.id, path: p };
  }

  const send = (assertion: string) => post(server, TOKEN_PATH, assertionRequest(assertion));

  it('a JWKS over 512 KiB is refused (invalid_client), declared or not', async () => {
    const key = await newClientKey('EdDSA');
    const big = JSON.stringify({ ...jwksOf(key), pad: 'x'.repeat(600 * 1024) });
    const declared = await clientAt((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(big),
    );
    expectInvalidClient(
      await send(await signAssertion(key, assertionClaims(declared.id, server.clock.now))),
      'client_assertion signature is invalid',
    );
    const chunked = await clientAt((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      for (let i = 0; i < big.length; i += 64 * 1024) res.write(big.slice(i, i + 64 * 1024));
      res.end();
    });
    expectInvalidClient(
      await send(await signAssertion(key, assertionClaims(chunked.id, server.clock.now))),
      'client_assertion signature is invalid',
    );
  });

  it('a JWKS just under the cap is accepted', async () => {
    const key = await newClientKey('EdDSA');
    const body = { ...jwksOf(key), pad: 'x'.repeat(500 * 1024) };
    const { id } = await clientAt(json(body));
    expectToken(await send(await signAssertion(key, assertionClaims(id, server.clock.now))));
  });

  it('a redirect is refused, and its target never asked', async () => {
    const key = await newClientKey('EdDSA');
    elsewhere.handle('/moved.json', json(jwksOf(key)));
    const { id } = await clientAt((_req, res) =>
      res.writeHead(302, { location: `${elsewhere.url}/moved.json` }).end(),
    );
    expectInvalidClient(
      await send(await signAssertion(key, assertionClaims(id, server.clock.now))),
      'client_assertion signature is invalid',
    );
    expect(elsewhere.requests.get('/moved.json')).toBeUndefined();
  });

  it('the keys are cached; an unknown kid refetches only after the 30 s cooldown', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const first = await newClientKey('EdDSA');
    const second = await newClientKey('EdDSA');
    let published = jwksOf(first);
    const { id, path: p } = await clientAt((req, res) => json(published)(req, res));
    const sign = (key: typeof first) => signAssertion(key, assertionClaims(id, server.clock.now));

    expectToken(await send(await sign(first)));
    expectToken(await send(await sign(first)));
    expect(host.requests.get(p)).toBe(1);

    published = jwksOf(first, second);
    expectInvalidClient(await send(await sign(second)), 'client_assertion signature is invalid');
    expect(host.requests.get(p)).toBe(1);

    vi.setSystemTime(Date.now() + 31_000);
    expectToken(await send(await sign(second)));
    expect(host.requests.get(p)).toBe(2);
  });
});
