/**
 * What `clavis serve` runs serves the admin API: over real HTTP, the document without a token, a call
 * with a service principal's token, and `audit/verify` checking the server's own anchor file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../../test/support/listening_server.js';
import { basic } from '../../../../test/support/oauth.js';

describe('the admin API of a listening server', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    const { clientId, secret } = await server.createClient({
      name: 'ops-bot',
      kind: 'confidential',
      grants: ['client_credentials'],
      scopes: ['admin'],
    });
    const res = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: basic(clientId, secret ?? ''),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=admin',
    });
    expect(res.status).toBe(200);
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  afterAll(() => server.close());

  it('serves the document without a token, naming itself as the server', async () => {
    const res = await fetch(`${server.issuer}/admin/v1/openapi.json`);
    expect(res.status).toBe(200);
    const document = (await res.json()) as { servers: Array<{ url: string }> };
    expect(document.servers[0]?.url).toBe(`${server.issuer}/admin/v1`);
  });

  it('answers a service principal granted admin, and verifies the audit log against its anchor', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const clients = await fetch(`${server.issuer}/admin/v1/clients`, { headers });
    expect(clients.status).toBe(200);
    expect(((await clients.json()) as { items: Array<{ name: string }> }).items.map((c) => c.name)).toContain(
      'ops-bot',
    );
    await server.running.services.audit.seal();
    const verified = await fetch(`${server.issuer}/admin/v1/audit/verify`, { method: 'POST', headers });
    expect(verified.status).toBe(200);
    const result = (await verified.json()) as { ok: boolean; anchored?: number };
    expect(result.ok).toBe(true);
    expect(server.running.auditAnchor).toEqual(expect.any(String));
    expect(result.anchored).toEqual(expect.any(Number));
  });
});
