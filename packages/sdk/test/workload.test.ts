/**
 * A service's and an automation's credentials against a real server: client credentials with a
 * private key (PKCS#8 PEM and JWK), an API key from the environment or from a credential process
 * (run without a shell; timeout; failure without its output), `CLAVIS_TOKEN`, and no credential at all.
 */

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidClient } from '@clavis/core';
import { ClavisError, createClient, detectContext } from '@clavis/sdk';
import { createRemoteJWKSet, exportJWK, exportPKCS8, generateKeyPair, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/support/listening_server.js';
import { headless, type Scratch, scratch } from './support/env.js';

const printKey = fileURLToPath(new URL('./fixtures/print_key.mjs', import.meta.url));

describe('workload credentials against a real server', () => {
  let server: TestServer;
  let s: Scratch;

  beforeAll(async () => {
    server = await startTestServer();
    s = await scratch();
  });

  afterAll(async () => {
    await server?.close();
    await s?.cleanup();
  });

  const client = (
    env: Record<string, string | undefined>,
    extra: Partial<Parameters<typeof createClient>[0]> = {},
  ) =>
    createClient({
      issuer: server.issuer,
      clientId: 'clavis-cli',
      env: { ...s.env, ...env },
      context: headless,
      keychain: null,
      ...extra,
    });

  describe('private key (client credentials with private_key_jwt)', () => {
    it('signs with an Ed25519 PKCS#8 PEM from a file', async () => {
      const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
      const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' }] };
      const { clientId } = await server.createClient({ authMethod: 'private_key_jwt', jwks });
      const file = join(s.dir, 'service.pem');
      await writeFile(file, await exportPKCS8(privateKey), { mode: 0o600 });
      const token = await client({ CLAVIS_CLIENT_ID: clientId, CLAVIS_PRIVATE_KEY_FILE: file }).getToken();
      expect(token).toMatchObject({
        source: 'private_key',
        store: 'none',
        scopes: ['invoices:read'],
        principal: { sub: clientId, clientId },
      });
      const { payload } = await jwtVerify(
        token.accessToken,
        createRemoteJWKSet(new URL(`${server.issuer}/.well-known/jwks.json`)),
        {
          issuer: server.issuer,
        },
      );
      expect(payload.sub).toBe(clientId);
    });

    it('signs with an ES256 private JWK given inline, its kid in the header', async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
      const pub = { ...(await exportJWK(publicKey)), kid: 'es-1', alg: 'ES256' };
      const other = {
        ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)),
        kid: 'es-2',
        alg: 'ES256',
      };
      const { clientId } = await server.createClient({
        authMethod: 'private_key_jwt',
        jwks: { keys: [other, pub] },
      });
      const jwk = JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'es-1' });
      const c = client({ CLAVIS_CLIENT_ID: clientId, CLAVIS_PRIVATE_KEY: jwk });
      expect(await c.getToken()).toMatchObject({ source: 'private_key', principal: { clientId } });
      // Held in memory: the second call makes no request.
      const first = await c.getToken();
      expect(await c.getToken()).toBe(first);
    });

    it('a key the server does not know is invalid_client; a malformed key is invalid_private_key', async () => {
      const { publicKey } = await generateKeyPair('EdDSA', { extractable: true });
      const { clientId } = await server.createClient({
        authMethod: 'private_key_jwt',
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] },
      });
      const stranger = await exportPKCS8((await generateKeyPair('EdDSA', { extractable: true })).privateKey);
      await expect(
        client({ CLAVIS_CLIENT_ID: clientId, CLAVIS_PRIVATE_KEY: stranger }).getToken(),
      ).rejects.toBeInstanceOf(InvalidClient);
      const bad = await client({ CLAVIS_CLIENT_ID: clientId, CLAVIS_PRIVATE_KEY: 'not a key' })
        .getToken()
        .catch((e: unknown) => e);
      expect(bad).toMatchObject({ code: 'invalid_private_key' });
      const publicOnly = JSON.stringify(await exportJWK(publicKey));
      await expect(
        client({ CLAVIS_CLIENT_ID: clientId, CLAVIS_PRIVATE_KEY: publicOnly }).getToken(),
      ).rejects.toMatchObject({
        code: 'invalid_private_key',
      });
    });
  });

  describe('API key', () => {
    let key: string;
    let owner: string;

    beforeAll(async () => {
      owner = (await server.createClient({ name: 'nightly export' })).clientId;
      key = await server.createApiKey(owner, ['invoices:read']);
    });

    it('CLAVIS_API_KEY is exchanged for a short-lived token', async () => {
      const token = await client({ CLAVIS_API_KEY: key }).getToken();
      expect(token).toMatchObject({
        source: 'api_key',
        store: 'none',
        scopes: ['invoices:read'],
        principal: { sub: owner },
      });
      expect(token.accessToken).not.toContain(key);
      expect((token.expiresAt ?? 0) - Date.now()).toBeLessThanOrEqual(3600_000);
    });

    it('CLAVIS_API_KEY_COMMAND runs without a shell, its argv split like a shell would', async () => {
      const command = `node '${printKey}' "print" ${key} ; echo $HOME`;
      // Without a shell, `;`, `echo` and `$HOME` are plain arguments the script ignores.
      const token = await client({ CLAVIS_API_KEY_COMMAND: command }).getToken();
      expect(token).toMatchObject({ source: 'api_key', principal: { sub: owner } });
    });

    it('a failing credential process is credential_process_failed, without its output', async () => {
      const err = await client({ CLAVIS_API_KEY_COMMAND: `node ${printKey} fail ${key}` })
        .getToken()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClavisError);
      expect(err).toMatchObject({ code: 'credential_process_failed' });
      expect((err as Error).message).toContain('exited with status 3');
      expect(JSON.stringify(err)).not.toContain(key);
      expect((err as Error).message).not.toContain(key);
    });

    it('a credential process that hangs is killed at the timeout', async () => {
      const started = Date.now();
      const err = await client(
        { CLAVIS_API_KEY_COMMAND: `node ${printKey} hang ${key}` },
        { credentialProcessTimeoutMs: 500 },
      )
        .getToken()
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'credential_process_failed' });
      expect((err as Error).message).toContain('did not finish');
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('a missing program and a malformed command line are typed errors', async () => {
      await expect(
        client({ CLAVIS_API_KEY_COMMAND: 'clavis-no-such-vault get key' }).getToken(),
      ).rejects.toMatchObject({
        code: 'credential_process_failed',
      });
      await expect(client({ CLAVIS_API_KEY_COMMAND: `node "${printKey}` }).getToken()).rejects.toMatchObject({
        code: 'invalid_configuration',
      });
    });

    it('something that is not a Clavis key is refused before it is sent', async () => {
      await expect(client({ CLAVIS_API_KEY: 'clv_notakey' }).getToken()).rejects.toMatchObject({
        code: 'invalid_configuration',
      });
    });

    it('a revoked or unknown key is the server error, typed', async () => {
      const unknown = `clv_${'A'.repeat(30)}`;
      const { apiKeyChecksum } = await import('@clavis/core');
      const err = await client({ CLAVIS_API_KEY: `${unknown}${apiKeyChecksum('A'.repeat(30))}` })
        .getToken()
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'invalid_request' });
    });
  });

  it('CLAVIS_TOKEN overrides every other credential, used as-is', async () => {
    const owner = (await server.createClient({ name: 'override' })).clientId;
    const key = await server.createApiKey(owner, ['invoices:read']);
    const given = (await client({ CLAVIS_API_KEY: key }).getToken()).accessToken;
    const token = await client({ CLAVIS_TOKEN: given, CLAVIS_API_KEY: 'clv_ignored' }).getToken();
    expect(token).toMatchObject({
      accessToken: given,
      source: 'env',
      store: 'none',
      principal: { sub: owner },
    });
    expect(token.expiresAt).toBeGreaterThan(Date.now());
    expect(await client({ CLAVIS_TOKEN: 'opaque-token' }).getToken()).toMatchObject({
      accessToken: 'opaque-token',
      expiresAt: null,
    });
  });

  it('no credential at all: no_credentials naming the ways, at once, without a prompt', async () => {
    const env = { ...s.env };
    const started = Date.now();
    const err = await createClient({
      issuer: server.issuer,
      clientId: 'clavis-cli',
      env,
      context: detectContext(env, { stdinIsTTY: false, stderrIsTTY: true }),
      keychain: null,
    })
      .getToken()
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toBeInstanceOf(ClavisError);
    expect(err).toMatchObject({ code: 'no_credentials' });
    for (const way of [
      'clavis login',
      'CLAVIS_CLIENT_ID',
      'CLAVIS_PRIVATE_KEY_FILE',
      'CLAVIS_API_KEY',
      'federation',
    ]) {
      expect((err as Error).message).toContain(way);
    }
    const jenkins = { ...env, JENKINS_URL: 'https://ci.example.com/' };
    const onJenkins = await createClient({
      issuer: server.issuer,
      clientId: 'clavis-cli',
      env: jenkins,
      context: detectContext(jenkins, { stdinIsTTY: true, stderrIsTTY: true }),
      keychain: null,
    })
      .getToken()
      .catch((e: unknown) => e);
    expect(onJenkins).toMatchObject({ code: 'no_credentials' });
    expect((onJenkins as Error).message).toContain('Jenkins has no standard OIDC');
  });
});
