/**
 * `/metrics`: off by default, on the main port with `CLAVIS_METRICS=1` (`metrics: 'main'`), on its own
 * listener with `CLAVIS_METRICS_LISTEN` (and then not on the main port); the series a token request and
 * a refusal produce, with bounded labels that carry no secret and no raw URL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { freePort } from '../../../../test/support/free_port.js';
import { basic, postForm, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';

let server: RealServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The sample lines of an exposition (no comments). */
function samples(body: string): string[] {
  return body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe.each(dialects)('/metrics on %s', (dialect) => {
  it('is not served unless asked for', async () => {
    server = await startRealServer(dialect);
    const res = await fetch(`${server.issuer}/metrics`);
    expect(res.status).toBe(404);
    expect(server.running.metricsUrl).toBeUndefined();
  });

  it('counts requests by route, tokens by grant and credential, refusals by reason', async () => {
    server = await startRealServer(dialect, { metrics: 'main' });
    const { client, secret } = await server.createClient({ grants: ['client_credentials'] });
    const ok = await postForm(
      server.issuer,
      `${TOKEN_PATH}?leak=query-secret-value`,
      { grant_type: 'client_credentials', scope: 'read' },
      { authorization: basic(client.id, secret ?? '') },
    );
    expect(ok.status).toBe(200);
    const wrongSecret = 'clvs_wrong-secret-never-in-a-label';
    const refused = await postForm(
      server.issuer,
      TOKEN_PATH,
      { grant_type: 'client_credentials' },
      { authorization: basic(client.id, wrongSecret) },
    );
    expect(refused.status).toBe(401);
    await fetch(`${server.issuer}/no/such/path?x=query-secret-value`);

    const res = await fetch(`${server.issuer}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    const lines = samples(body);
    expect(lines).toContain(
      'clavis_tokens_issued_total{grant="client_credentials",credential="client_secret_basic"} 1',
    );
    expect(
      lines.some((l) =>
        /^clavis_http_request_duration_seconds_count\{method="POST",route="\/oauth\/token",status="200"\} 1$/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(lines.some((l) => l.includes('route="/oauth/token",status="401"'))).toBe(true);
    expect(lines.some((l) => l.includes('route="unmatched",status="404"'))).toBe(true);
    expect(
      lines.some((l) => /^clavis_refusals_total\{event="client\.auth_failed",reason="[a-z_]+"\} 1$/.test(l)),
    ).toBe(true);
    expect(lines).toContain('clavis_oauth_errors_total{error="invalid_client",status="401"} 1');
    expect(lines.some((l) => /^clavis_audit_batch_size_count \d+$/.test(l) && !l.endsWith(' 0'))).toBe(true);
    expect(lines.some((l) => /^clavis_signing_key_age_seconds \d/.test(l))).toBe(true);
    expect(lines.some((l) => /^clavis_audit_seal_lag_seconds \d/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('clavis_cache_misses_total{cache="clients"}'))).toBe(true);
    if (dialect === 'postgres') {
      expect(lines.some((l) => /^clavis_db_pool_connections\{state="open"\} [1-9]/.test(l))).toBe(true);
    }
    // No secret, no query string, no raw path of an unknown route in any label.
    expect(body).not.toContain('query-secret-value');
    expect(body).not.toContain(wrongSecret);
    expect(body).not.toContain(secret ?? 'never');
    expect(body).not.toContain('/no/such/path');
    expect(body).not.toContain('?');
  });
});

describe('/metrics on its own listener', () => {
  it('serves /metrics there, and not on the main port', async () => {
    const port = await freePort();
    server = await startRealServer('sqlite', { metrics: { host: '127.0.0.1', port } });
    expect(server.running.metricsUrl).toBe(`http://127.0.0.1:${port}`);
    await fetch(`${server.issuer}/healthz`);
    const main = await fetch(`${server.issuer}/metrics`);
    expect(main.status).toBe(404);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(samples(body)).toContain(
      'clavis_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1',
    );
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(404);
  });

  it('keeps two apps in one process apart (a registry each)', async () => {
    server = await startRealServer('sqlite', { metrics: 'main' });
    const other = await startRealServer('sqlite', { metrics: 'main' });
    try {
      await fetch(`${other.issuer}/healthz`);
      await fetch(`${other.issuer}/healthz`);
      const body = await (await fetch(`${server.issuer}/metrics`)).text();
      expect(body).not.toContain('route="/healthz"');
    } finally {
      await other.close();
    }
  });
});
