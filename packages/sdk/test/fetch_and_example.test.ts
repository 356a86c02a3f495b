/**
 * `client.fetch` against a real resource server that verifies Clavis tokens (one retry after a new
 * token on 401; RFC 6750 errors thrown typed), and the example CLI (examples/invoices.mjs) run as a
 * process against a real server, as its README tells a CLI author to.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InsufficientScope } from '@clavis/core';
import { createClient } from '@clavis/sdk';
import { createRemoteJWKSet, exportJWK, exportPKCS8, generateKeyPair, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestServer, type TestServer } from '../../../test/support/listening_server.js';
import { headless, type Scratch, scratch } from './support/env.js';

const example = fileURLToPath(new URL('../examples/invoices.mjs', import.meta.url));

function runExample(args: string[], env: Record<string, string | undefined>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [example, ...args], {
      env: env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('client.fetch and the example CLI', () => {
  let server: TestServer;
  let s: Scratch;
  let api: Server;
  let apiUrl: string;
  let keyFile: string;
  let clientId: string;
  /** Tokens the API refuses once, as if revoked, to make the client get another. */
  const refuseOnce = new Set<string>();
  const seen: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    s = await scratch();
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    clientId = (
      await server.createClient({
        name: 'invoice reader',
        authMethod: 'private_key_jwt',
        scopes: ['invoices:read', 'invoices:list'],
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] },
      })
    ).clientId;
    keyFile = join(s.dir, 'reader.pem');
    await writeFile(keyFile, await exportPKCS8(privateKey), { mode: 0o600 });

    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/.well-known/jwks.json`));
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    api = createServer(async (req, res) => {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      seen.push(bearer);
      const deny = (status: number, error: string) => {
        res.writeHead(status, {
          'www-authenticate': `Bearer realm="invoices", error="${error}", error_description="${error} here"`,
        });
        res.end();
      };
      if (refuseOnce.delete(bearer)) return deny(401, 'invalid_token');
      let scope = '';
      try {
        ({
          payload: { scope = '' },
        } = (await jwtVerify(bearer, jwks, { issuer: server.issuer })) as { payload: { scope?: string } });
      } catch {
        return deny(401, 'invalid_token');
      }
      const needed = req.url === '/admin' ? 'invoices:admin' : 'invoices:read';
      if (!scope.split(' ').includes(needed)) return deny(403, 'insufficient_scope');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify([
          { id: 'INV-1', amount: '12.00' },
          { id: 'INV-2', amount: '40.50' },
        ]),
      );
    });
    await new Promise<void>((resolve) => api.listen(port, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => api?.close(resolve));
    await server?.close();
    await s?.cleanup();
  });

  const client = () =>
    createClient({
      issuer: server.issuer,
      clientId: 'clavis-cli',
      scopes: ['invoices:read'],
      env: { ...s.env, CLAVIS_CLIENT_ID: clientId, CLAVIS_PRIVATE_KEY_FILE: keyFile },
      context: headless,
      keychain: null,
    });

  it('adds the bearer; after a 401 gets a new token and retries once', async () => {
    const c = client();
    const first = await c.getToken();
    refuseOnce.add(first.accessToken);
    seen.length = 0;
    const res = await c.fetch(`${apiUrl}/invoices`);
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(first.accessToken);
    expect(seen[1]).not.toBe(first.accessToken);
  });

  it('an RFC 6750 error is thrown typed: insufficient_scope, invalid_token after the retry', async () => {
    const err = await client()
      .fetch(`${apiUrl}/admin`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsufficientScope);
    expect(err).toMatchObject({ code: 'insufficient_scope', description: 'insufficient_scope here' });
    const env = { ...s.env, CLAVIS_TOKEN: 'not-a-token' };
    const withBadToken = createClient({
      issuer: server.issuer,
      clientId: 'clavis-cli',
      env,
      context: headless,
    });
    seen.length = 0;
    await expect(withBadToken.fetch(`${apiUrl}/invoices`)).rejects.toMatchObject({ code: 'invalid_token' });
    expect(seen).toEqual(['not-a-token']);
  });

  it('the example CLI lists invoices as a service, says who it is, and fails clearly without credentials', async () => {
    const env = {
      ...s.env,
      CLAVIS_SERVER: server.issuer,
      INVOICES_API: apiUrl,
      CLAVIS_CLIENT_ID: clientId,
      CLAVIS_PRIVATE_KEY_FILE: keyFile,
    };
    const list = await runExample(['list'], env);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect(list.stdout).toBe('INV-1\t12.00\nINV-2\t40.50\n');

    const who = await runExample(['whoami'], env);
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({
      source: 'private_key',
      store: 'none',
      scopes: ['invoices:read'],
      principal: { sub: clientId },
    });

    const none = await runExample(['list'], { ...s.env, CLAVIS_SERVER: server.issuer, INVOICES_API: apiUrl });
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/^invoices: no credentials: run `clavis login`/);
  });
});
