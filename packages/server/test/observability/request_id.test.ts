/**
 * The request id: a short, safe `X-Request-Id` is kept, anything else replaced; it is echoed in the
 * response, carried by the request's log lines (at debug level) and stored in its audit record, under
 * the chain's hash.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { auditRecords, verifyChain } from '../../../../test/support/audit.js';
import { dialects } from '../../../../test/support/dialects.js';
import { basic, postForm, TOKEN_PATH } from '../../../../test/support/oauth.js';
import { type RealServer, startRealServer } from '../../../../test/support/real_server.js';

let server: RealServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A debug-level logger whose lines are kept, parsed. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe.each(dialects)('request id on %s', (dialect) => {
  it('goes from the header to the response, the log line and the audit record', async () => {
    const { logger, lines } = capturingLogger();
    server = await startRealServer(dialect, { logger });
    const { client, secret } = await server.createClient({ grants: ['client_credentials'] });
    const id = 'lb-7f3a.2026:req_42';
    const res = await postForm(
      server.issuer,
      TOKEN_PATH,
      { grant_type: 'client_credentials', scope: 'read' },
      { authorization: basic(client.id, secret ?? ''), 'x-request-id': id },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);
    expect(lines.some((l) => l.reqId === id && l.msg === 'request completed')).toBe(true);
    const [issued] = await auditRecords(server.running, 'token.issue');
    expect(issued?.detail.request_id).toBe(id);

    // A refusal's record carries it too.
    const refused = await postForm(
      server.issuer,
      TOKEN_PATH,
      { grant_type: 'client_credentials' },
      { authorization: basic(client.id, 'clvs_wrong'), 'x-request-id': 'refused-1' },
    );
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toBe('refused-1');
    const [failed] = await auditRecords(server.running, 'client.auth_failed');
    expect(failed?.detail.request_id).toBe('refused-1');

    // The id is under the chain's hash: changing it breaks verification.
    expect((await verifyChain(server.running)).ok).toBe(true);
    const db = server.running.services.db;
    await db
      .updateTable('audit_events')
      .set({ detail: issued?.detail ? JSON.stringify({ ...issued.detail, request_id: 'forged' }) : '' })
      .where('segment', '=', issued?.segment ?? '')
      .where('seq', '=', issued?.seq ?? 0)
      .execute();
    expect((await verifyChain(server.running)).ok).toBe(false);
  });

  it('replaces an id that is too long, empty or carries control characters or spaces', async () => {
    server = await startRealServer(dialect);
    const generated = new Set<string>();
    for (const bad of ['a'.repeat(65), 'x\ty', 'has space', 'semi;colon', '{"json":1}', 'é']) {
      const res = await fetch(`${server.issuer}/healthz`, { headers: { 'x-request-id': bad } });
      const echoed = res.headers.get('x-request-id') ?? '';
      expect(echoed).toMatch(UUID);
      generated.add(echoed);
    }
    // No header at all: one is made, different every time.
    const res = await fetch(`${server.issuer}/healthz`);
    generated.add(res.headers.get('x-request-id') ?? '');
    expect(generated.size).toBe(7);
    // A 64-character id is kept.
    const ok = 'A'.repeat(64);
    const kept = await fetch(`${server.issuer}/healthz`, { headers: { 'x-request-id': ok } });
    expect(kept.headers.get('x-request-id')).toBe(ok);
  });
});
